/* elf.c: ELF headers, sections, segments and .symtab functions from a memory buffer.
 *
 * Written from the ELF specification (System V ABI, "Object Files"). Every table the
 * headers point to is checked against the buffer before it is read; names must end in
 * a NUL inside their string table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/elf.h"

/* {=====================================================================================
 * Recognising the file */

/* Fill err for a file without the ELF magic, naming what it looks like. */
static bool fail_not_elf(const uint8_t *d, size_t len, pgo_error *err) {
  const char *what = NULL;
  if (len >= 4) {
    uint32_t be = pgo_rd32(d, true);
    if (be == 0xfeedfaceu || be == 0xfeedfacfu || be == 0xcefaedfeu || be == 0xcffaedfeu)
      what = "a Mach-O binary (macOS)";
    else if (be == 0xcafebabeu)
      what = "a universal Mach-O binary (macOS)";
  }
  if (!what && len >= 2 && d[0] == 'M' && d[1] == 'Z') what = "a PE binary (Windows)";
  if (!what && len >= 2 && d[0] == '#' && d[1] == '!') what = "a script";
  if (!what && len >= 4 && d[0] == 0x7f && d[1] == 'E' && d[2] == 'L') what = "a cut ELF file";
  if (what)
    return pgo_fail(err, "not_elf", "not an ELF file: it looks like %s; pgolua reads the "
                    "ELF binaries that Go builds for Linux and other Unix systems", what);
  if (len < 4)
    return pgo_fail(err, "not_elf", "not an ELF file: only %zu bytes; pass a Go executable",
                    len);
  return pgo_fail(err, "not_elf", "not an ELF file (first bytes %02x %02x %02x %02x); pass a "
                  "Go executable built for Linux", d[0], d[1], d[2], d[3]);
}

/* {=====================================================================================
 * Headers */

/* Read section header i (at off) into s; the name is resolved later. */
static void read_section(const pgo_elf *e, const uint8_t *p, pgo_elf_section *s,
                         uint32_t *name_off) {
  bool be = e->big_endian;
  *name_off = pgo_rd32(p, be);
  s->type = pgo_rd32(p + 4, be);
  if (e->is64) {
    s->flags = pgo_rd64(p + 8, be);
    s->addr = pgo_rd64(p + 16, be);
    s->offset = pgo_rd64(p + 24, be);
    s->size = pgo_rd64(p + 32, be);
    s->link = pgo_rd32(p + 40, be);
    s->info = pgo_rd32(p + 44, be);
    s->entsize = pgo_rd64(p + 56, be);
  } else {
    s->flags = pgo_rd32(p + 8, be);
    s->addr = pgo_rd32(p + 12, be);
    s->offset = pgo_rd32(p + 16, be);
    s->size = pgo_rd32(p + 20, be);
    s->link = pgo_rd32(p + 24, be);
    s->info = pgo_rd32(p + 28, be);
    s->entsize = pgo_rd32(p + 36, be);
  }
  s->name = "";
}

static void read_segment(const pgo_elf *e, const uint8_t *p, pgo_elf_segment *g) {
  bool be = e->big_endian;
  g->type = pgo_rd32(p, be);
  if (e->is64) {
    g->flags = pgo_rd32(p + 4, be);
    g->offset = pgo_rd64(p + 8, be);
    g->vaddr = pgo_rd64(p + 16, be);
    g->filesz = pgo_rd64(p + 32, be);
    g->memsz = pgo_rd64(p + 40, be);
  } else {
    g->offset = pgo_rd32(p + 4, be);
    g->vaddr = pgo_rd32(p + 8, be);
    g->filesz = pgo_rd32(p + 16, be);
    g->memsz = pgo_rd32(p + 20, be);
    g->flags = pgo_rd32(p + 24, be);
  }
}

/* Point every section's name into the section-name table strndx. */
static bool resolve_names(pgo_elf *e, const uint32_t *name_offs, uint32_t strndx,
                          uint64_t shoff, uint16_t shentsize, pgo_error *err) {
  if (e->nsections == 0 || strndx == 0) return true;
  if (strndx >= e->nsections)
    return pgo_fail(err, "invalid", "the ELF section-name table index %" PRIu32 " is out of "
                    "range (%zu sections); the file is damaged", strndx, e->nsections);
  const pgo_elf_section *st = &e->sections[strndx];
  if (st->type == PGO_SHT_NOBITS || !pgo_in_bounds(st->offset, st->size, e->len))
    return pgo_fail(err, "invalid", "the ELF section-name table (offset 0x%" PRIx64 ", %"
                    PRIu64 " bytes) lies outside the file (%zu bytes); the file is cut short",
                    st->offset, st->size, e->len);
  const char *names = (const char *)e->data + st->offset;
  for (size_t i = 0; i < e->nsections; i++) {
    uint32_t o = name_offs[i];
    if (o == 0) continue;              /* unnamed: keeps "" */
    if (o >= st->size || !memchr(names + o, '\0', (size_t)(st->size - o)))
      return pgo_fail(err, "invalid", "ELF section %zu (header at offset 0x%" PRIx64 ") has "
                      "name offset %" PRIu32 " outside the section-name table (%" PRIu64
                      " bytes); the file is damaged", i, shoff + i * shentsize, o, st->size);
    e->sections[i].name = names + o;
  }
  return true;
}

bool pgo_elf_open(pgo_elf *e, const uint8_t *d, size_t len, pgo_error *err) {
  memset(e, 0, sizeof *e);
  if (len < 16 || memcmp(d, "\x7f" "ELF", 4) != 0) return fail_not_elf(d, len, err);
  if (d[4] != 1 && d[4] != 2)
    return pgo_fail(err, "invalid", "ELF class byte %u at offset 4 is neither 1 (32-bit) nor "
                    "2 (64-bit); the file is damaged", d[4]);
  if (d[5] != 1 && d[5] != 2)
    return pgo_fail(err, "invalid", "ELF data byte %u at offset 5 is neither 1 (little-endian) "
                    "nor 2 (big-endian); the file is damaged", d[5]);
  e->data = d;
  e->len = len;
  e->is64 = d[4] == 2;
  e->big_endian = d[5] == 2;
  bool be = e->big_endian;
  size_t ehsize = e->is64 ? 64 : 52;
  if (len < ehsize)
    return pgo_fail(err, "invalid", "the ELF header needs %zu bytes but the file has %zu; the "
                    "file is cut short", ehsize, len);
  e->type = pgo_rd16(d + 16, be);
  e->machine = pgo_rd16(d + 18, be);
  uint64_t phoff, shoff;
  uint16_t phentsize, phnum, shentsize, shnum, shstrndx;
  if (e->is64) {
    e->entry = pgo_rd64(d + 24, be);
    phoff = pgo_rd64(d + 32, be);
    shoff = pgo_rd64(d + 40, be);
    phentsize = pgo_rd16(d + 54, be);
    phnum = pgo_rd16(d + 56, be);
    shentsize = pgo_rd16(d + 58, be);
    shnum = pgo_rd16(d + 60, be);
    shstrndx = pgo_rd16(d + 62, be);
  } else {
    e->entry = pgo_rd32(d + 24, be);
    phoff = pgo_rd32(d + 28, be);
    shoff = pgo_rd32(d + 32, be);
    phentsize = pgo_rd16(d + 42, be);
    phnum = pgo_rd16(d + 44, be);
    shentsize = pgo_rd16(d + 46, be);
    shnum = pgo_rd16(d + 48, be);
    shstrndx = pgo_rd16(d + 50, be);
  }
  size_t sh_min = e->is64 ? 64 : 40, ph_min = e->is64 ? 56 : 32;

  /* Section headers; section 0 carries the real counts when they overflow 16 bits. */
  uint64_t nsec = shnum;
  uint32_t strndx = shstrndx;
  uint64_t nseg = phnum;
  if (shoff != 0) {
    if (shentsize < sh_min)
      return pgo_fail(err, "invalid", "ELF section header size %u (offset %d) is below the "
                      "%zu bytes of a section header; the file is damaged", shentsize,
                      e->is64 ? 58 : 46, sh_min);
    if (!pgo_in_bounds(shoff, shentsize, len))
      return pgo_fail(err, "invalid", "the ELF section headers at offset 0x%" PRIx64 " lie "
                      "past the end of the file (%zu bytes); the file is cut short", shoff, len);
    if (nsec == 0 || strndx == 0xffff || phnum == 0xffff) {
      pgo_elf_section s0;
      uint32_t ignored;
      read_section(e, d + shoff, &s0, &ignored);
      if (nsec == 0) nsec = s0.size;
      if (strndx == 0xffff) strndx = s0.link;
      if (phnum == 0xffff) nseg = s0.info;
    }
    if (nsec > (len - shoff) / shentsize)
      return pgo_fail(err, "invalid", "%" PRIu64 " ELF section headers of %u bytes at offset "
                      "0x%" PRIx64 " do not fit in the file (%zu bytes); the file is cut short",
                      nsec, shentsize, shoff, len);
  } else {
    nsec = 0;
  }
  if (nseg > 0) {
    if (phentsize < ph_min)
      return pgo_fail(err, "invalid", "ELF program header size %u is below the %zu bytes of a "
                      "program header; the file is damaged", phentsize, ph_min);
    if (phoff > len || nseg > (len - phoff) / phentsize)
      return pgo_fail(err, "invalid", "%" PRIu64 " ELF program headers at offset 0x%" PRIx64
                      " do not fit in the file (%zu bytes); the file is cut short", nseg, phoff,
                      len);
  }

  if (nsec > 0) {
    e->sections = calloc((size_t)nsec, sizeof *e->sections);
    if (!e->sections) return pgo_fail(err, "nomem", "out of memory reading ELF sections");
  }
  uint32_t *name_offs = nsec ? calloc((size_t)nsec, sizeof *name_offs) : NULL;
  if (nsec && !name_offs) {
    pgo_elf_close(e);
    return pgo_fail(err, "nomem", "out of memory reading ELF sections");
  }
  e->nsections = (size_t)nsec;
  for (size_t i = 0; i < e->nsections; i++)
    read_section(e, d + shoff + i * shentsize, &e->sections[i], &name_offs[i]);

  /* Names, from the section-name string table. */
  bool named = resolve_names(e, name_offs, strndx, shoff, shentsize, err);
  free(name_offs);
  if (!named) {
    pgo_elf_close(e);
    return false;
  }

  if (nseg > 0) {
    e->segments = calloc((size_t)nseg, sizeof *e->segments);
    if (!e->segments) {
      pgo_elf_close(e);
      return pgo_fail(err, "nomem", "out of memory reading ELF segments");
    }
    e->nsegments = (size_t)nseg;
    for (size_t i = 0; i < e->nsegments; i++)
      read_segment(e, d + phoff + i * phentsize, &e->segments[i]);
  }
  return true;
}

void pgo_elf_close(pgo_elf *e) {
  if (!e) return;
  free(e->sections);
  free(e->segments);
  e->sections = NULL;
  e->segments = NULL;
  e->nsections = e->nsegments = 0;
}

/* {=====================================================================================
 * Lookups */

const pgo_elf_section *pgo_elf_section_by_name(const pgo_elf *e, const char *name) {
  for (size_t i = 0; i < e->nsections; i++)
    if (strcmp(e->sections[i].name, name) == 0) return &e->sections[i];
  return NULL;
}

bool pgo_elf_section_data(const pgo_elf *e, const pgo_elf_section *s, const uint8_t **p,
                          size_t *n, pgo_error *err) {
  const char *name = *s->name ? s->name : "(unnamed)";
  if (s->type == PGO_SHT_NOBITS)
    return pgo_fail(err, "invalid", "ELF section %s has no data in the file (SHT_NOBITS)", name);
  if (s->flags & PGO_SHF_COMPRESSED)
    return pgo_fail(err, "invalid", "ELF section %s is compressed; pgolua reads uncompressed "
                    "sections only", name);
  if (!pgo_in_bounds(s->offset, s->size, e->len))
    return pgo_fail(err, "invalid", "ELF section %s (offset 0x%" PRIx64 ", %" PRIu64 " bytes) "
                    "extends past the end of the file (%zu bytes); the file is cut short",
                    name, s->offset, s->size, e->len);
  *p = e->data + s->offset;
  *n = (size_t)s->size;
  return true;
}

bool pgo_elf_vaddr(const pgo_elf *e, uint64_t addr, const uint8_t **p, size_t *avail) {
  for (size_t i = 0; i < e->nsegments; i++) {
    const pgo_elf_segment *g = &e->segments[i];
    if (g->type != PGO_PT_LOAD || g->offset > e->len) continue;
    uint64_t filesz = g->filesz;
    if (filesz > e->len - g->offset) filesz = e->len - g->offset;
    if (addr < g->vaddr || addr - g->vaddr >= filesz) continue;
    uint64_t rel = addr - g->vaddr;
    *p = e->data + g->offset + rel;
    *avail = (size_t)(filesz - rel);
    return true;
  }
  return false;
}

const char *pgo_elf_arch(const pgo_elf *e, char *buf, size_t cap) {
  const char *a = NULL;
  bool be = e->big_endian;
  switch (e->machine) {
    case 62: a = "amd64"; break;
    case 3: a = "386"; break;
    case 183: a = "arm64"; break;
    case 40: a = "arm"; break;
    case 21: a = be ? "ppc64" : "ppc64le"; break;
    case 20: a = "ppc"; break;
    case 22: a = "s390x"; break;
    case 243: a = e->is64 ? "riscv64" : "riscv"; break;
    case 258: a = "loong64"; break;
    case 8: a = e->is64 ? (be ? "mips64" : "mips64le") : (be ? "mips" : "mipsle"); break;
    case 43: a = "sparc64"; break;
    default: break;
  }
  if (a) snprintf(buf, cap, "%s", a);
  else snprintf(buf, cap, "unknown(%u)", e->machine);
  return buf;
}

uint64_t pgo_elf_text_size(const pgo_elf *e) {
  const pgo_elf_section *t = pgo_elf_section_by_name(e, ".text");
  if (t) return t->size;
  uint64_t n = 0;
  for (size_t i = 0; i < e->nsegments; i++)
    if (e->segments[i].type == PGO_PT_LOAD && (e->segments[i].flags & PGO_PF_X))
      n += e->segments[i].filesz;
  return n;
}

/* {=====================================================================================
 * Function lists */

void pgo_funclist_free(pgo_funclist *l) {
  free(l->items);
  l->items = NULL;
  l->count = l->cap = 0;
}

bool pgo_funclist_add(pgo_funclist *l, const char *name, size_t name_len, uint64_t entry,
                      uint64_t size) {
  if (name_len > UINT32_MAX) return false;
  if (!PGO_RESERVE(l->items, l->cap, l->count + 1)) return false;
  l->items[l->count++] = (pgo_func){name, (uint32_t)name_len, entry, size};
  return true;
}

static int func_cmp(const void *pa, const void *pb) {
  const pgo_func *a = pa, *b = pb;
  if (a->entry != b->entry) return a->entry < b->entry ? -1 : 1;
  size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
  int c = memcmp(a->name, b->name, n);
  if (c != 0) return c;
  return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

void pgo_funclist_sort(pgo_funclist *l) {
  if (l->count > 1) qsort(l->items, l->count, sizeof *l->items, func_cmp);
}

/* {=====================================================================================
 * .symtab */

typedef struct {
  const uint8_t *syms, *strs;
  size_t nsyms, step, strsize;
} symtab_view;

/* Locate .symtab and its string table. *found = false when there is none. */
static bool symtab_open(const pgo_elf *e, symtab_view *v, bool *found, pgo_error *err) {
  *found = false;
  const pgo_elf_section *s = NULL;
  for (size_t i = 0; i < e->nsections; i++)
    if (e->sections[i].type == PGO_SHT_SYMTAB) { s = &e->sections[i]; break; }
  if (!s) return true;
  *found = true;
  size_t min = e->is64 ? 24 : 16;
  if (s->entsize != 0 && s->entsize < min)
    return pgo_fail(err, "invalid", "ELF .symtab entry size %" PRIu64 " is below %zu bytes; "
                    "the file is damaged", s->entsize, min);
  v->step = s->entsize ? (size_t)s->entsize : min;
  size_t n;
  if (!pgo_elf_section_data(e, s, &v->syms, &n, err)) return false;
  v->nsyms = n / v->step;
  if (s->link >= e->nsections)
    return pgo_fail(err, "invalid", "ELF .symtab links to string table section %" PRIu32
                    ", which does not exist; the file is damaged", s->link);
  const pgo_elf_section *st = &e->sections[s->link];
  if (!pgo_elf_section_data(e, st, &v->strs, &v->strsize, err)) return false;
  return true;
}

/* Name of symbol at p; false when its offset or terminator lies outside the table. */
static bool sym_name(const pgo_elf *e, const symtab_view *v, const uint8_t *p,
                     const char **name, size_t *len) {
  uint32_t o = pgo_rd32(p, e->big_endian);
  if (o >= v->strsize) return false;
  const char *s = (const char *)v->strs + o;
  const char *nul = memchr(s, '\0', v->strsize - o);
  if (!nul) return false;
  *name = s;
  *len = (size_t)(nul - s);
  return true;
}

/* The fields of the symbol at p. */
static void sym_fields(const pgo_elf *e, const uint8_t *p, uint8_t *info, uint16_t *shndx,
                       uint64_t *value, uint64_t *size) {
  bool be = e->big_endian;
  if (e->is64) {
    *info = p[4];
    *shndx = pgo_rd16(p + 6, be);
    *value = pgo_rd64(p + 8, be);
    *size = pgo_rd64(p + 16, be);
  } else {
    *value = pgo_rd32(p + 4, be);
    *size = pgo_rd32(p + 8, be);
    *info = p[12];
    *shndx = pgo_rd16(p + 14, be);
  }
}

bool pgo_elf_symtab_funcs(const pgo_elf *e, pgo_funclist *out, bool *present, pgo_error *err) {
  symtab_view v;
  if (!symtab_open(e, &v, present, err)) return false;
  if (!*present) return true;
  for (size_t i = 1; i < v.nsyms; i++) {     /* symbol 0 is the null symbol */
    const uint8_t *p = v.syms + i * v.step;
    uint8_t info;
    uint16_t shndx;
    uint64_t value, size;
    sym_fields(e, p, &info, &shndx, &value, &size);
    if ((info & 0xf) != 2 || shndx == 0 || size == 0) continue;   /* STT_FUNC, defined */
    const char *name;
    size_t nlen;
    if (!sym_name(e, &v, p, &name, &nlen)) {
      const pgo_elf_section *s = NULL;
      for (size_t k = 0; k < e->nsections && !s; k++)
        if (e->sections[k].type == PGO_SHT_SYMTAB) s = &e->sections[k];
      return pgo_fail(err, "invalid", "ELF .symtab symbol %zu (offset 0x%" PRIx64 ") has a name "
                      "outside its string table; the file is damaged", i,
                      (uint64_t)(s ? s->offset : 0) + (uint64_t)i * v.step);
    }
    if (nlen == 0) continue;
    if (!pgo_funclist_add(out, name, nlen, value, size))
      return pgo_fail(err, "nomem", "out of memory reading .symtab");
  }
  return true;
}

bool pgo_elf_symbol_value(const pgo_elf *e, const char *name, uint64_t *value) {
  symtab_view v;
  bool found;
  if (!symtab_open(e, &v, &found, NULL) || !found) return false;
  size_t want = strlen(name);
  for (size_t i = 1; i < v.nsyms; i++) {
    const uint8_t *p = v.syms + i * v.step;
    const char *s;
    size_t n;
    if (!sym_name(e, &v, p, &s, &n) || n != want || memcmp(s, name, n) != 0) continue;
    uint8_t info;
    uint16_t shndx;
    uint64_t size;
    sym_fields(e, p, &info, &shndx, value, &size);
    return true;
  }
  return false;
}
