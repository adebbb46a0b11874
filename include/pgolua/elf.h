/* elf.h: a reader of ELF files held in memory (32/64-bit, either byte order): headers,
 * section and program headers, section and virtual-address lookups, and the function
 * symbols of .symtab. Untrusted input: every offset and length is checked against the
 * buffer; nothing is copied; the buffer must outlive the pgo_elf and every name handed
 * out (names point into it). No global state. */
#ifndef PGOLUA_ELF_H
#define PGOLUA_ELF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

/* ---- byte-order helpers (p must have n readable bytes; callers check) ---------------- */

static inline uint16_t pgo_rd16(const uint8_t *p, bool be) {
  return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}
static inline uint32_t pgo_rd32(const uint8_t *p, bool be) {
  return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
            : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint64_t pgo_rd64(const uint8_t *p, bool be) {
  uint64_t a = pgo_rd32(p, be), b = pgo_rd32(p + 4, be);
  return be ? a << 32 | b : b << 32 | a;
}
/* A 4- or 8-byte word. */
static inline uint64_t pgo_rdword(const uint8_t *p, unsigned size, bool be) {
  return size == 8 ? pgo_rd64(p, be) : pgo_rd32(p, be);
}
/* off + n <= len, without overflow. */
static inline bool pgo_in_bounds(uint64_t off, uint64_t n, uint64_t len) {
  return off <= len && n <= len - off;
}

/* ---- the file ---------------------------------------------------------------------------- */

enum {
  PGO_SHT_PROGBITS = 1, PGO_SHT_SYMTAB = 2, PGO_SHT_STRTAB = 3, PGO_SHT_RELA = 4,
  PGO_SHT_NOBITS = 8, PGO_SHT_REL = 9, PGO_SHT_DYNSYM = 11,
  PGO_SHF_WRITE = 0x1, PGO_SHF_ALLOC = 0x2, PGO_SHF_EXECINSTR = 0x4, PGO_SHF_COMPRESSED = 0x800,
  PGO_PT_LOAD = 1, PGO_PF_X = 0x1, PGO_PF_W = 0x2, PGO_PF_R = 0x4,
};

typedef struct pgo_elf_section {
  const char *name;           /* NUL-terminated, inside the section-name table; "" if none */
  uint32_t type, link, info;
  uint64_t flags, addr, offset, size, entsize;
} pgo_elf_section;

typedef struct pgo_elf_segment {
  uint32_t type, flags;
  uint64_t offset, vaddr, filesz, memsz;
} pgo_elf_segment;

typedef struct pgo_elf {
  const uint8_t *data;        /* borrowed: the whole file */
  size_t len;
  bool is64, big_endian;
  uint16_t type, machine;
  uint64_t entry;
  pgo_elf_section *sections;  /* malloc'd; index 0 is the null section when present */
  size_t nsections;
  pgo_elf_segment *segments;  /* malloc'd */
  size_t nsegments;
} pgo_elf;

/* Read the ELF headers of data[0..len). Fails with code "not_elf" (no ELF magic; the
 * message names Mach-O, PE and scripts when it recognises them) or "invalid" (a header,
 * table or name out of bounds; the message gives the file offset). On success the
 * caller owns elf and frees it with pgo_elf_close. */
bool pgo_elf_open(pgo_elf *elf, const uint8_t *data, size_t len, pgo_error *err);
void pgo_elf_close(pgo_elf *elf);

/* The first section with this name, or NULL. */
const pgo_elf_section *pgo_elf_section_by_name(const pgo_elf *elf, const char *name);
/* The bytes of a section inside the file; fails ("invalid") for a section extending past
 * the end of the file, a SHT_NOBITS section or a compressed one. */
bool pgo_elf_section_data(const pgo_elf *elf, const pgo_elf_section *s, const uint8_t **p,
                          size_t *n, pgo_error *err);
/* Map a virtual address to file bytes through the PT_LOAD segments: *p and the number of
 * bytes available up to the end of that segment's file image. False when unmapped. */
bool pgo_elf_vaddr(const pgo_elf *elf, uint64_t addr, const uint8_t **p, size_t *avail);
/* GOARCH-style name of the machine ("amd64", "arm64", "386", ...), written to buf. */
const char *pgo_elf_arch(const pgo_elf *elf, char *buf, size_t cap);
/* Size of the code: the .text section, else the executable PT_LOAD segments. */
uint64_t pgo_elf_text_size(const pgo_elf *elf);

/* ---- functions ------------------------------------------------------------------------- */

typedef struct pgo_func {
  const char *name;           /* borrowed from the file; not NUL-terminated in general */
  uint32_t name_len;
  uint64_t entry, size;
} pgo_func;

typedef struct pgo_funclist {
  pgo_func *items;            /* malloc'd */
  size_t count, cap;
} pgo_funclist;

void pgo_funclist_free(pgo_funclist *l);
/* Append one function; false when out of memory. */
bool pgo_funclist_add(pgo_funclist *l, const char *name, size_t name_len, uint64_t entry,
                      uint64_t size);
/* Sort by entry address, then by name. */
void pgo_funclist_sort(pgo_funclist *l);

/* The defined STT_FUNC symbols with a non-zero size from .symtab, appended to out (not
 * sorted). *present tells whether the file has a .symtab at all (false: stripped). */
bool pgo_elf_symtab_funcs(const pgo_elf *elf, pgo_funclist *out, bool *present, pgo_error *err);
/* The value of the first symbol with this name in .symtab (any type). */
bool pgo_elf_symbol_value(const pgo_elf *elf, const char *name, uint64_t *value);

#endif
