/* pclntab.c: the Go runtime's function table (pclntab) and the function list of a Go
 * ELF binary.
 *
 * Layouts (header magic -> Go versions), as the reference (section g) describes them:
 *   0xfffffffb  1.2-1.15   nfunc; functab of word pairs (entry PC, func offset) + end PC,
 *                          offsets from the table start, names from the table start
 *   0xfffffffa  1.16-1.17  7 header words; word-pair functab at pclnOffset, func offsets
 *                          from pclnOffset, names from funcnameOffset
 *   0xfffffff0  1.18-1.19  8 header words (textStart third); functab of uint32 pairs
 *   0xfffffff1  1.20+      (entry offset from textStart, func offset) + end offset
 * Every offset and count is checked against the table before it is read. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "pgolua/pclntab.h"

enum {
  MAGIC_12 = 0xfffffffbu, MAGIC_116 = 0xfffffffau, MAGIC_118 = 0xfffffff0u,
  MAGIC_120 = 0xfffffff1u,
};

static bool known_magic(uint32_t m) {
  return m == MAGIC_12 || m == MAGIC_116 || m == MAGIC_118 || m == MAGIC_120;
}

/* {=====================================================================================
 * The table */

bool pgo_pclntab_header_read(const uint8_t *tab, size_t len, pgo_pclntab_header *h,
                             pgo_error *err) {
  memset(h, 0, sizeof *h);
  if (len < 8)
    return pgo_fail(err, "invalid", "the pclntab has %zu bytes, fewer than its 8-byte header",
                    len);
  uint32_t m = pgo_rd32(tab, false);
  bool be = false;
  if (!known_magic(m)) {
    m = pgo_rd32(tab, true);
    be = true;
    if (!known_magic(m))
      return pgo_fail(err, "not_go", "no pclntab magic at offset 0 (found %02x %02x %02x %02x);"
                      " not a Go function table", tab[0], tab[1], tab[2], tab[3]);
  }
  h->magic = m;
  h->big_endian = be;
  h->quantum = tab[6];
  h->ptrsize = tab[7];
  if (tab[4] != 0 || tab[5] != 0)
    return pgo_fail(err, "invalid", "pclntab header bytes 4 and 5 are %u and %u, not 0; the "
                    "table is damaged", tab[4], tab[5]);
  if (h->quantum != 1 && h->quantum != 2 && h->quantum != 4)
    return pgo_fail(err, "invalid", "pclntab instruction size (offset 6) is %u, not 1, 2 or 4;"
                    " the table is damaged", h->quantum);
  if (h->ptrsize != 4 && h->ptrsize != 8)
    return pgo_fail(err, "invalid", "pclntab pointer size (offset 7) is %u, not 4 or 8; the "
                    "table is damaged", h->ptrsize);
  unsigned words;
  switch (m) {
    case MAGIC_12: h->layout = "go1.2"; words = 1; break;
    case MAGIC_116: h->layout = "go1.16"; words = 7; break;
    case MAGIC_118: h->layout = "go1.18"; words = 8; break;
    default: h->layout = "go1.20"; words = 8; break;
  }
  if ((uint64_t)8 + (uint64_t)words * h->ptrsize > len)
    return pgo_fail(err, "invalid", "the %s pclntab header needs %u bytes but the table has "
                    "%zu; the table is cut short", h->layout, 8 + words * h->ptrsize, len);
  h->nfunc = pgo_rdword(tab + 8, h->ptrsize, be);
  if (words == 8) h->text_start = pgo_rdword(tab + 8 + 2 * h->ptrsize, h->ptrsize, be);
  return true;
}

/* How to walk one layout. */
typedef struct {
  uint64_t ftab;              /* offset of the function table */
  unsigned fsize;             /* size of one functab field: 4 or the pointer size */
  uint64_t func_base;         /* func offsets are relative to this */
  uint64_t name_base;         /* name offsets are relative to this */
  unsigned rec_entry;         /* size of the entry field that starts a _func record */
  uint64_t pc_base;           /* added to functab entries to get the PC */
} walk_plan;

/* Header word i (after the 8 fixed bytes). */
static uint64_t hword(const uint8_t *tab, const pgo_pclntab_header *h, unsigned i) {
  return pgo_rdword(tab + 8 + (size_t)i * h->ptrsize, h->ptrsize, h->big_endian);
}

bool pgo_pclntab_functions(const uint8_t *tab, size_t len, uint64_t text_start,
                           pgo_pclntab_header *h, pgo_funclist *out, pgo_error *err) {
  if (!pgo_pclntab_header_read(tab, len, h, err)) return false;
  bool be = h->big_endian;
  unsigned ps = h->ptrsize;
  walk_plan w;
  switch (h->magic) {
    case MAGIC_12:
      w = (walk_plan){8 + (uint64_t)ps, ps, 0, 0, ps, 0};
      break;
    case MAGIC_116: {
      uint64_t pcln = hword(tab, h, 6);
      w = (walk_plan){pcln, ps, pcln, hword(tab, h, 2), ps, 0};
      break;
    }
    default: {
      uint64_t pcln = hword(tab, h, 7);
      if (text_start == 0) text_start = h->text_start;
      w = (walk_plan){pcln, 4, pcln, hword(tab, h, 3), 4, text_start};
      break;
    }
  }
  if (w.ftab > len || w.name_base > len || w.func_base > len)
    return pgo_fail(err, "invalid", "the %s pclntab header points past the end of the table "
                    "(function table at 0x%" PRIx64 ", names at 0x%" PRIx64 ", table size 0x%zx);"
                    " the table is damaged or cut short", h->layout, w.ftab, w.name_base, len);
  uint64_t pair = 2 * (uint64_t)w.fsize;
  if (len - w.ftab < w.fsize || h->nfunc > (len - w.ftab - w.fsize) / pair)
    return pgo_fail(err, "invalid", "the pclntab function table at offset 0x%" PRIx64 " has "
                    "%" PRIu64 " entries, more than fit in the table (0x%zx bytes); the table "
                    "is damaged or cut short", w.ftab, h->nfunc, len);
  if (!PGO_RESERVE(out->items, out->cap, out->count + (size_t)h->nfunc))
    return pgo_fail(err, "nomem", "out of memory reading %" PRIu64 " functions", h->nfunc);
  const uint8_t *ft = tab + w.ftab;
  for (uint64_t i = 0; i < h->nfunc; i++) {
    const uint8_t *p = ft + i * pair;
    uint64_t entry = pgo_rdword(p, w.fsize, be);
    uint64_t foff = pgo_rdword(p + w.fsize, w.fsize, be);
    uint64_t next = pgo_rdword(p + pair, w.fsize, be);   /* next entry, or the end */
    uint64_t at = w.ftab + i * pair;
    if (next < entry)
      return pgo_fail(err, "invalid", "pclntab function %" PRIu64 " (functab offset 0x%" PRIx64
                      ") starts at 0x%" PRIx64 ", after the next one (0x%" PRIx64 "); the table "
                      "is damaged", i, at, entry, next);
    if (foff > len || w.func_base > len - foff ||
        !pgo_in_bounds(w.func_base + foff, (uint64_t)w.rec_entry + 4, len))
      return pgo_fail(err, "invalid", "pclntab function %" PRIu64 " (functab offset 0x%" PRIx64
                      ") has its record at 0x%" PRIx64 "+0x%" PRIx64 ", outside the table "
                      "(0x%zx bytes); the table is damaged", i, at, w.func_base, foff, len);
    const uint8_t *rec = tab + w.func_base + foff;
    uint64_t rentry = pgo_rdword(rec, w.rec_entry, be);
    if (rentry != entry)
      return pgo_fail(err, "invalid", "pclntab function %" PRIu64 " (record at offset 0x%" PRIx64
                      ") says it starts at 0x%" PRIx64 " but the function table says 0x%" PRIx64
                      "; the table is damaged", i, w.func_base + foff, rentry, entry);
    int32_t noff = (int32_t)pgo_rd32(rec + w.rec_entry, be);
    uint64_t nat = w.name_base + (uint64_t)(uint32_t)noff;
    if (noff < 0 || nat >= len)
      return pgo_fail(err, "invalid", "pclntab function %" PRIu64 " (record at offset 0x%" PRIx64
                      ") has name offset %" PRId32 ", outside the table (0x%zx bytes); the "
                      "table is damaged", i, w.func_base + foff, noff, len);
    const char *name = (const char *)tab + nat;
    const char *nul = memchr(name, '\0', len - (size_t)nat);
    if (!nul)
      return pgo_fail(err, "invalid", "pclntab function %" PRIu64 " has a name at offset 0x%"
                      PRIx64 " that runs past the end of the table; the table is damaged", i, nat);
    pgo_funclist_add(out, name, (size_t)(nul - name), w.pc_base + entry, next - entry);
  }
  return true;
}

/* {=====================================================================================
 * In an ELF binary */

/* Try a candidate table found by scanning; true when it parses with at least one function. */
static bool plausible_table(const uint8_t *p, size_t avail) {
  pgo_pclntab_header h;
  if (!pgo_pclntab_header_read(p, avail, &h, NULL) || h.nfunc == 0) return false;
  pgo_funclist tmp = {0};
  bool ok = pgo_pclntab_functions(p, avail, 0, &h, &tmp, NULL);
  pgo_funclist_free(&tmp);
  return ok;
}

/* Scan p[0..n) (at address addr) for a table, 8-aligned; counts candidates in *tries. */
static bool scan_region(const uint8_t *p, uint64_t n, uint64_t addr, int *tries,
                        const uint8_t **tab, size_t *len, uint64_t *vaddr) {
  for (uint64_t off = (8 - (addr & 7)) & 7; off + 8 <= n && *tries < 16; off += 8) {
    const uint8_t *q = p + off;
    if (q[4] != 0 || q[5] != 0 || !(known_magic(pgo_rd32(q, false)) ||
                                    known_magic(pgo_rd32(q, true))))
      continue;
    ++*tries;
    if (!plausible_table(q, (size_t)(n - off))) continue;
    *tab = q;
    *len = (size_t)(n - off);
    *vaddr = addr + off;
    return true;
  }
  return false;
}

bool pgo_elf_pclntab(const pgo_elf *e, const uint8_t **tab, size_t *len, uint64_t *vaddr,
                     bool *found, pgo_error *err) {
  *found = false;
  const pgo_elf_section *s = pgo_elf_section_by_name(e, ".gopclntab");
  if (!s) s = pgo_elf_section_by_name(e, ".data.rel.ro.gopclntab");
  if (s) {
    if (!pgo_elf_section_data(e, s, tab, len, err)) return false;
    *vaddr = s->addr;
    *found = true;
    return true;
  }
  /* Externally linked binaries merge the table into .data.rel.ro or .rodata; the symbol
   * runtime.pclntab marks it while there is a symbol table. */
  uint64_t at, end;
  const uint8_t *p;
  size_t avail;
  if (pgo_elf_symbol_value(e, "runtime.pclntab", &at) && pgo_elf_vaddr(e, at, &p, &avail)) {
    if (pgo_elf_symbol_value(e, "runtime.epclntab", &end) && end > at && end - at < avail)
      avail = (size_t)(end - at);
    if (plausible_table(p, avail)) {
      *tab = p;
      *len = avail;
      *vaddr = at;
      *found = true;
      return true;
    }
  }
  /* Otherwise scan the read-only data (sections, or segments when there are no section
   * headers), trying at most a few candidates so hostile input cannot make this slow. */
  int tries = 0;
  for (size_t i = 0; i < e->nsections && tries < 16; i++) {
    const pgo_elf_section *c = &e->sections[i];
    if (c->type != PGO_SHT_PROGBITS || !(c->flags & PGO_SHF_ALLOC) ||
        (c->flags & PGO_SHF_EXECINSTR) || (c->flags & PGO_SHF_COMPRESSED) ||
        !pgo_in_bounds(c->offset, c->size, e->len))
      continue;
    if (scan_region(e->data + c->offset, c->size, c->addr, &tries, tab, len, vaddr)) {
      *found = true;
      return true;
    }
  }
  if (e->nsections > 0) return true;
  for (size_t i = 0; i < e->nsegments && tries < 16; i++) {
    const pgo_elf_segment *g = &e->segments[i];
    if (g->type != PGO_PT_LOAD || (g->flags & PGO_PF_X) || g->offset > e->len) continue;
    uint64_t filesz = g->filesz < e->len - g->offset ? g->filesz : e->len - g->offset;
    if (scan_region(e->data + g->offset, filesz, g->vaddr, &tries, tab, len, vaddr)) {
      *found = true;
      return true;
    }
  }
  return true;
}

/* The addend of a RELA relocation of the word at addr (dynamic relocation of the pclntab
 * header's textStart in externally linked PIE builds). */
static bool rela_addend(const pgo_elf *e, uint64_t addr, uint64_t *addend) {
  size_t esz = e->is64 ? 24 : 12;
  for (size_t i = 0; i < e->nsections; i++) {
    const pgo_elf_section *s = &e->sections[i];
    if (s->type != PGO_SHT_RELA) continue;
    const uint8_t *p;
    size_t n;
    if (!pgo_elf_section_data(e, s, &p, &n, NULL)) continue;
    for (size_t k = 0; k + esz <= n; k += esz) {
      uint64_t off = e->is64 ? pgo_rd64(p + k, e->big_endian) : pgo_rd32(p + k, e->big_endian);
      if (off != addr) continue;
      *addend = e->is64 ? pgo_rd64(p + k + 16, e->big_endian)
                        : pgo_rd32(p + k + 8, e->big_endian);
      return true;
    }
  }
  return false;
}

/* Does the pclntab name p equal the .symtab name s? The linker writes "·" (U+00B7, as
 * in local type names like "T·1") as "." in .symtab, and Go 1.18-1.20 put "[...]" for
 * type arguments in the pclntab but not in .symtab. */
static bool same_symbol(const pgo_func *p, const pgo_func *s) {
  size_t i = 0, j = 0;
  while (i < p->name_len && j < s->name_len) {
    if (s->name[j] == '[' && p->name_len - i >= 5 && memcmp(p->name + i, "[...]", 5) == 0) {
      size_t depth = 0, k = j;           /* Go 1.18-1.20 elide type arguments as [...] */
      for (; k < s->name_len; k++) {
        if (s->name[k] == '[') depth++;
        else if (s->name[k] == ']' && --depth == 0) break;
      }
      if (k < s->name_len) {
        i += 5;
        j = k + 1;
        continue;
      }
    }
    if (p->name[i] == s->name[j]) { i++; j++; continue; }
    if (s->name[j] == '.' && i + 1 < p->name_len && (uint8_t)p->name[i] == 0xc2 &&
        (uint8_t)p->name[i + 1] == 0xb7) {
      i += 2;
      j++;
      continue;
    }
    return false;
  }
  return i == p->name_len && j == s->name_len;
}

/* A symbol the Go linker makes for a whole section of a host (C) object, such as
 * "runtime/cgo(.text)": it overlaps the C functions of that section. */
static bool host_section_symbol(const pgo_func *f) {
  if (f->name_len < 4 || f->name[f->name_len - 1] != ')') return false;
  for (size_t i = f->name_len - 1; i-- > 0;)
    if (f->name[i] == '(') return i + 1 < f->name_len && f->name[i + 1] == '.';
  return false;
}

/* Spell .symtab names as profiles do. The linker marks assembly (ABI0) bodies and ABI
 * wrappers with ".abi0" and writes "·" as "."; the pclntab (and so every profile) has
 * neither. Where the pclntab has the same function at the same address, take its name.
 * Host-object section symbols are dropped. */
static void respell_symtab(pgo_funclist *sym, const pgo_funclist *pcln) {
  size_t keep = 0;
  for (size_t i = 0; i < sym->count; i++) {
    if (host_section_symbol(&sym->items[i])) continue;
    sym->items[keep++] = sym->items[i];
  }
  sym->count = keep;
  for (size_t i = 0; i < sym->count; i++) {
    pgo_func *f = &sym->items[i];
    if (f->name_len > 5 && memcmp(f->name + f->name_len - 5, ".abi0", 5) == 0)
      f->name_len -= 5;
    if (!pcln || pcln->count == 0) continue;
    size_t lo = 0, hi = pcln->count;          /* first pclntab function at >= entry */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (pcln->items[mid].entry < f->entry) lo = mid + 1;
      else hi = mid;
    }
    for (; lo < pcln->count && pcln->items[lo].entry == f->entry; lo++) {
      if (!same_symbol(&pcln->items[lo], f)) continue;
      f->name = pcln->items[lo].name;
      f->name_len = pcln->items[lo].name_len;
      break;
    }
  }
}

bool pgo_elf_go_functions(const pgo_elf *e, bool prefer_pclntab, pgo_funclist *out,
                          pgo_funcs_source *source, bool *stripped, pgo_pclntab_header *hdr,
                          pgo_error *err) {
  const uint8_t *tab;
  size_t len;
  uint64_t vaddr = 0;
  bool found, have_symtab;
  if (!pgo_elf_pclntab(e, &tab, &len, &vaddr, &found, err)) return false;
  if (!found) {
    bool any_symtab = false;
    for (size_t i = 0; i < e->nsections; i++)
      if (e->sections[i].type == PGO_SHT_SYMTAB) any_symtab = true;
    if (e->nsections == 0)
      return pgo_fail(err, "not_go", "no Go function table: the ELF file has no section "
                      "headers and no pclntab was found in its segments; not a Go binary?");
    return pgo_fail(err, "not_go", "not a Go binary: the ELF file has no .gopclntab section%s",
                    any_symtab ? " (it has a symbol table, so it was probably built by a C "
                    "toolchain)" : "");
  }
  char where[96];
  snprintf(where, sizeof where, "pclntab at file offset 0x%" PRIx64,
           (uint64_t)(tab - e->data));
  pgo_pclntab_header h;
  if (!pgo_pclntab_header_read(tab, len, &h, err)) {
    pgo_error_prefix(err, where);
    if (err && strcmp(err->code, "not_go") == 0) snprintf(err->code, sizeof err->code, "invalid");
    return false;
  }
  if (hdr) *hdr = h;
  if (!pgo_elf_symtab_funcs(e, out, &have_symtab, err)) return false;
  *stripped = !have_symtab;
  bool use_symtab = have_symtab && !prefer_pclntab;
  pgo_funclist symtab = {0};
  if (use_symtab) {                    /* keep the symbols; the pclntab gives the spelling */
    symtab = *out;
    *out = (pgo_funclist){0};
  } else {
    out->count = 0;
  }
  uint64_t text = 0;
  if (h.magic == MAGIC_118 || h.magic == MAGIC_120) {
    text = h.text_start;
    if (text == 0 && !rela_addend(e, vaddr + 8 + 2 * (uint64_t)h.ptrsize, &text) &&
        !pgo_elf_symbol_value(e, "runtime.text", &text)) {
      const pgo_elf_section *t = pgo_elf_section_by_name(e, ".text");
      if (t) text = t->addr;
    }
  }
  bool parsed = pgo_pclntab_functions(tab, len, text, &h, out, err);
  if (use_symtab) {
    if (parsed) respell_symtab(&symtab, out);
    else respell_symtab(&symtab, NULL);
    pgo_funclist_free(out);
    *out = symtab;
    *source = PGO_FUNCS_SYMTAB;
    pgo_funclist_sort(out);
    return true;
  }
  if (!parsed) {
    pgo_error_prefix(err, where);
    return false;
  }
  *source = PGO_FUNCS_PCLNTAB;
  pgo_funclist_sort(out);
  return true;
}
