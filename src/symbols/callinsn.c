/* callinsn.c: the kind of call instruction ending at a return address (callinsn.h). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "pgolua/callinsn.h"

enum { EM_X86_64 = 62, EM_AARCH64 = 183 };

/* Whether some function starts exactly at addr (funcs sorted by entry). */
static bool is_entry(const pgo_funclist *funcs, uint64_t addr) {
  size_t lo = 0, hi = funcs->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (funcs->items[mid].entry < addr) lo = mid + 1;
    else hi = mid;
  }
  return lo < funcs->count && funcs->items[lo].entry == addr;
}

/* n bytes ending at ret, or NULL when they are not all mapped in one segment. */
static const uint8_t *bytes_before(const pgo_elf *elf, uint64_t ret, size_t n) {
  if (ret < n) return NULL;
  const uint8_t *p;
  size_t avail;
  if (!pgo_elf_vaddr(elf, ret - n, &p, &avail) || avail < n) return NULL;
  return p;
}

enum { LOOKBACK = 48 };

/* Which indirect call a CALL reg is, from the load of reg before it (at most LOOKBACK
 * bytes back; following one register-to-register MOVQ). Go loads a function value's code
 * pointer with MOVQ 0(DX), R (DX holds the closure; or from 0(R') before R' moves to DX) and an interface method with MOVQ
 * disp8(itab), R, disp8 = 0x18 + 8 x the method's index. A byte pattern search, not a
 * decode: the nearest match that writes the register wins. */
static pgo_call_insn amd64_indirect_kind(const pgo_elf *elf, uint64_t call_at, unsigned reg) {
  const uint8_t *w = NULL;
  size_t n = LOOKBACK;
  while (n > 0 && !(w = bytes_before(elf, call_at, n))) n--;
  if (!w) return PGO_CALL_INDIRECT;
  unsigned want[2] = {reg, reg};
  for (size_t i = n >= 3 ? n - 3 : 0; i + 3 <= n; i--) {
    const uint8_t *q = w + i;
    unsigned rex = q[0];
    if ((rex & 0xF8) == 0x48 && q[1] == 0x8B) {                  /* MOVQ r/m, r */
      unsigned mod = q[2] >> 6, rm = (q[2] & 7) | (rex & 1) << 3;
      unsigned r = ((q[2] >> 3) & 7) | (rex & 4) << 1;
      if (r == want[0] || r == want[1]) {
        /* offset 0 of a closure is its code pointer; an itab's word 0 is never a method */
        if (mod == 0 && (rm & 7) != 4 && (rm & 7) != 5) return PGO_CALL_FUNC_VALUE;
        if (mod == 1 && (rm & 7) != 4 && i + 4 <= n && q[3] >= 0x18 && q[3] % 8 == 0)
          return PGO_CALL_INTERFACE;
      }
    } else if ((rex & 0xF8) == 0x48 && q[1] == 0x89 && q[2] >> 6 == 3) {   /* MOVQ r, r */
      unsigned dst = (q[2] & 7) | (rex & 1) << 3, src = ((q[2] >> 3) & 7) | (rex & 4) << 1;
      if (dst == want[0] && want[0] == want[1]) want[1] = src;
    }
    if (i == 0) break;
  }
  return PGO_CALL_INDIRECT;
}

/* amd64: CALL rel32 is E8 + 4 bytes; CALL r/m64 is FF /2, optionally after a REX prefix
 * (0x40-0x4F). Go emits the register form (FF D0+r, 41 FF D0+r); the memory forms with a
 * one-byte, four-byte or no displacement are accepted too (assembly, cgo). */
static pgo_call_insn amd64_kind(const pgo_elf *elf, const pgo_funclist *funcs, uint64_t ret) {
  const uint8_t *p = bytes_before(elf, ret, 5);
  if (p && p[0] == 0xE8) {
    int32_t rel = (int32_t)pgo_rd32(p + 1, false);
    if (is_entry(funcs, ret + (uint64_t)(int64_t)rel)) return PGO_CALL_DIRECT;
  }
  /* FF modrm [sib] [disp]: try each length the instruction could have, shortest first */
  for (size_t len = 2; len <= 7; len++) {
    const uint8_t *q = bytes_before(elf, ret, len);
    if (!q || q[0] != 0xFF || ((q[1] >> 3) & 7) != 2) continue;
    unsigned mod = q[1] >> 6, rm = q[1] & 7;
    size_t want = 2;
    if (mod != 3 && rm == 4) want++;                          /* SIB byte */
    if (mod == 1) want += 1;
    else if (mod == 2 || (mod == 0 && rm == 5)) want += 4;     /* disp32 / RIP-relative */
    else if (mod == 0 && rm == 4 && len > 2 && (q[2] & 7) == 5) want += 4;   /* SIB, no base */
    if (want != len) continue;
    if (mod == 3) {                                            /* CALL reg */
      const uint8_t *r = bytes_before(elf, ret, 3);
      bool rex_b = r && (r[0] & 0xF1) == 0x41;                 /* REX with B: R8-R15 */
      return amd64_indirect_kind(elf, ret - 2 - (rex_b ? 1 : 0), rm | (rex_b ? 8u : 0u));
    }
    return PGO_CALL_INDIRECT;
  }
  return PGO_CALL_UNKNOWN;
}

/* arm64: BL imm26 (100101 imm26), BLR Xn (1101011 0 0 01 11111 000000 n 00000). */
static pgo_call_insn arm64_kind(const pgo_elf *elf, const pgo_funclist *funcs, uint64_t ret) {
  const uint8_t *p = bytes_before(elf, ret, 4);
  if (!p) return PGO_CALL_UNKNOWN;
  uint32_t w = pgo_rd32(p, elf->big_endian);
  if ((w & 0xFFFFFC1Fu) == 0xD63F0000u) return PGO_CALL_INDIRECT;
  if ((w & 0xFC000000u) == 0x94000000u) {
    int64_t imm = (int64_t)(w & 0x03FFFFFFu);
    if (imm & 0x02000000) imm -= 0x04000000;
    if (is_entry(funcs, ret - 4 + (uint64_t)(imm * 4))) return PGO_CALL_DIRECT;
  }
  return PGO_CALL_UNKNOWN;
}

pgo_call_insn pgo_call_insn_before(const pgo_elf *elf, const pgo_funclist *funcs, uint64_t ret) {
  switch (elf->machine) {
  case EM_X86_64: return amd64_kind(elf, funcs, ret);
  case EM_AARCH64: return arm64_kind(elf, funcs, ret);
  default: return PGO_CALL_UNKNOWN;
  }
}

const char *pgo_call_insn_name(pgo_call_insn k) {
  switch (k) {
  case PGO_CALL_DIRECT: return "direct";
  case PGO_CALL_INDIRECT: return "indirect";
  case PGO_CALL_INTERFACE: return "interface";
  case PGO_CALL_FUNC_VALUE: return "func_value";
  default: return "unknown";
  }
}

/* Go 1.20+ _func record: entryOff, nameOff, args, deferreturn, pcsp, pcfile, pcln,
 * npcdata, cuOffset, startLine (4 bytes each), then funcID and flag (1 byte each). */
enum { MAGIC_120 = 0xfffffff1u, FUNC_FLAG_AT = 41, FUNC_FLAG_ASM = 1 << 2 };

bool pgo_pclntab_asm_funcs(const pgo_elf *elf, pgo_funclist *out, pgo_error *err) {
  const uint8_t *tab;
  size_t len;
  uint64_t vaddr;
  bool found;
  pgo_pclntab_header h;
  if (!pgo_elf_pclntab(elf, &tab, &len, &vaddr, &found, err)) return false;
  if (!found) return true;
  if (!pgo_pclntab_header_read(tab, len, &h, err)) return false;
  if (h.magic != MAGIC_120 || len < 8 + 8 * (size_t)h.ptrsize) return true;
  bool be = h.big_endian;
  uint64_t names = pgo_rdword(tab + 8 + 3 * (size_t)h.ptrsize, h.ptrsize, be);
  uint64_t pcln = pgo_rdword(tab + 8 + 7 * (size_t)h.ptrsize, h.ptrsize, be);
  if (pcln > len || names > len || h.nfunc > (len - pcln) / 8)
    return pgo_fail(err, "invalid", "the pclntab's function table (offset 0x%llx, %llu "
                    "functions) runs past the table's 0x%zx bytes; the table is damaged",
                    (unsigned long long)pcln, (unsigned long long)h.nfunc, len);
  for (uint64_t i = 0; i < h.nfunc; i++) {
    const uint8_t *e = tab + pcln + i * 8;
    uint64_t rec = pcln + pgo_rd32(e + 4, be);
    if (!pgo_in_bounds(rec, FUNC_FLAG_AT + 1, len) || !(tab[rec + FUNC_FLAG_AT] & FUNC_FLAG_ASM))
      continue;
    uint64_t name = names + pgo_rd32(tab + rec + 4, be);
    if (name >= len) continue;
    const char *s = (const char *)tab + name;
    const char *nul = memchr(s, '\0', len - (size_t)name);
    if (!nul) continue;
    if (!pgo_funclist_add(out, s, (size_t)(nul - s), pgo_rd32(e, be), 0))
      return pgo_fail(err, "nomem", "out of memory listing assembly functions");
  }
  return true;
}
