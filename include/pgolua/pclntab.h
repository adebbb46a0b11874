/* pclntab.h: function names and entry addresses from a Go pclntab (the runtime's own
 * function table, kept in stripped binaries), and the function list of a Go ELF binary
 * (its .symtab when present, else the pclntab). Untrusted input; no global state. */
#ifndef PGOLUA_PCLNTAB_H
#define PGOLUA_PCLNTAB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"
#include "pgolua/elf.h"

/* The header of a pclntab. */
typedef struct pgo_pclntab_header {
  uint32_t magic;             /* 0xfffffffb, 0xfffffffa, 0xfffffff0 or 0xfffffff1 */
  const char *layout;         /* "go1.2" (1.2-1.15), "go1.16" (1.16-1.17), "go1.18"
                                 (1.18-1.19), "go1.20" (1.20 and later) */
  bool big_endian;
  uint8_t quantum, ptrsize;
  uint64_t nfunc;
  uint64_t text_start;        /* go1.18+: the header word (0 when left for a relocation) */
} pgo_pclntab_header;

/* Check the header of the table at tab[0..len). Fails with code "not_go" when the magic
 * is not a pclntab's and "invalid" for a damaged header. */
bool pgo_pclntab_header_read(const uint8_t *tab, size_t len, pgo_pclntab_header *h,
                             pgo_error *err);

/* Every function of the table, appended to out in table (address) order, with size =
 * next entry - entry (the last one: the table's end address - entry). Names point into
 * tab. For go1.18+ layouts text_start replaces the header's word when non-zero (pass 0 to
 * use the header). Fails "not_go" / "invalid" (the message gives the table offset). */
bool pgo_pclntab_functions(const uint8_t *tab, size_t len, uint64_t text_start,
                           pgo_pclntab_header *h, pgo_funclist *out, pgo_error *err);

/* Where the functions of a binary came from. */
typedef enum { PGO_FUNCS_SYMTAB, PGO_FUNCS_PCLNTAB } pgo_funcs_source;

/* Find the pclntab of a Go ELF binary: section .gopclntab or .data.rel.ro.gopclntab; else
 * the runtime.pclntab symbol (externally linked builds merge the table into .rodata or
 * .data.rel.ro); else a scan of the read-only data sections (or, without section headers,
 * the non-executable PT_LOAD segments) for a table that parses, trying at most 16
 * candidates. *found = false (and true returned) when there is none. *vaddr: its address.
 * A go1.18+ textStart left 0 for a dynamic relocation is taken from the RELA addend, else
 * runtime.text, else .text (by pgo_elf_go_functions). */
bool pgo_elf_pclntab(const pgo_elf *elf, const uint8_t **tab, size_t *len, uint64_t *vaddr,
                     bool *found, pgo_error *err);

/* The functions of a Go ELF binary, sorted by entry, into out (empty on entry): from
 * .symtab (defined STT_FUNC symbols with a size; names respelled as the pclntab, so as
 * profiles, spell them: no ".abi0", "·" for "." where the pclntab has it, "[...]" on Go
 * 1.18-1.20; host-object section symbols like "runtime/cgo(.text)" dropped) when present
 * and prefer_pclntab is false, else from the pclntab.
 * Fails "not_go" when the ELF file has no pclntab (not built by Go), "invalid" for a
 * damaged table. *stripped = no .symtab; *hdr (may be NULL) gets the pclntab header. */
bool pgo_elf_go_functions(const pgo_elf *elf, bool prefer_pclntab, pgo_funclist *out,
                          pgo_funcs_source *source, bool *stripped, pgo_pclntab_header *hdr,
                          pgo_error *err);

#endif
