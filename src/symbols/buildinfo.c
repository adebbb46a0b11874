/* buildinfo.c: Go build info (`go version -m`) from an ELF binary in memory.
 *
 * Written from the reference, section f: the 32-byte blob header ("\xff Go buildinf:",
 * pointer size, flags), the Go 1.18+ inline strings (LEB128 length + bytes) or the older
 * pointers to string headers, the 16-byte sentinels around the module info, and the
 * line format of the module info with Go-quoted keys and values. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/buildinfo.h"

static const uint8_t BI_MAGIC[14] = {0xff, ' ', 'G', 'o', ' ', 'b', 'u', 'i',
                                      'l', 'd', 'i', 'n', 'f', ':'};
enum { BI_HEADER = 32, BI_SEARCH = 64 * 1024, BI_MAX_STRING = 64 << 20 };

void pgo_buildinfo_init(pgo_buildinfo *bi) {
  memset(bi, 0, sizeof *bi);
  pgo_arena_init(&bi->arena);
  bi->go_version = bi->modinfo = bi->path = (pgo_bi_str){"", 0};
  bi->main.path = bi->main.version = bi->main.sum = (pgo_bi_str){"", 0};
}

void pgo_buildinfo_free(pgo_buildinfo *bi) {
  pgo_arena_free(&bi->arena);
  pgo_buildinfo_init(bi);
}

/* A NUL-terminated copy of s[0..n) in the arena. */
static bool bi_copy(pgo_buildinfo *bi, const char *s, size_t n, pgo_bi_str *out) {
  char *p = pgo_arena_alloc(&bi->arena, n + 1);
  if (!p) return false;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  *out = (pgo_bi_str){p, n};
  return true;
}

/* {=====================================================================================
 * Go string literals */

/* Length of the valid UTF-8 sequence at s (n bytes available) and its rune, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *r) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) { *r = c; return 1; }
  if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    v = v << 6 | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *r = v;
  return len;
}

static size_t utf8_encode(uint32_t r, char *out) {
  if (r < 0x80) { out[0] = (char)r; return 1; }
  if (r < 0x800) {
    out[0] = (char)(0xc0 | r >> 6);
    out[1] = (char)(0x80 | (r & 0x3f));
    return 2;
  }
  if (r < 0x10000) {
    out[0] = (char)(0xe0 | r >> 12);
    out[1] = (char)(0x80 | (r >> 6 & 0x3f));
    out[2] = (char)(0x80 | (r & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | r >> 18);
  out[1] = (char)(0x80 | (r >> 12 & 0x3f));
  out[2] = (char)(0x80 | (r >> 6 & 0x3f));
  out[3] = (char)(0x80 | (r & 0x3f));
  return 4;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool pgo_go_unquote(const char *s, size_t n, char *out, size_t *out_len) {
  if (n < 2 || s[0] != s[n - 1] || (s[0] != '"' && s[0] != '`')) return false;
  size_t o = 0;
  if (s[0] == '`') {             /* raw: anything but a backquote; carriage returns dropped */
    for (size_t i = 1; i + 1 < n; i++) {
      if (s[i] == '`') return false;
      if (s[i] != '\r') out[o++] = s[i];
    }
    *out_len = o;
    return true;
  }
  const unsigned char *u = (const unsigned char *)s;
  size_t end = n - 1;
  for (size_t i = 1; i < end;) {
    unsigned char c = u[i];
    if (c == '"' || c == '\n') return false;
    if (c >= 0x80) {
      uint32_t r;
      size_t k = utf8_decode(u + i, end - i, &r);
      if (k == 0) { o += utf8_encode(0xfffd, out + o); i++; }
      else { memcpy(out + o, s + i, k); o += k; i += k; }
      continue;
    }
    if (c != '\\') { out[o++] = (char)c; i++; continue; }
    if (i + 1 >= end) return false;
    char e = s[i + 1];
    i += 2;
    switch (e) {
      case 'a': out[o++] = '\a'; break;
      case 'b': out[o++] = '\b'; break;
      case 'f': out[o++] = '\f'; break;
      case 'n': out[o++] = '\n'; break;
      case 'r': out[o++] = '\r'; break;
      case 't': out[o++] = '\t'; break;
      case 'v': out[o++] = '\v'; break;
      case '\\': out[o++] = '\\'; break;
      case '"': out[o++] = '"'; break;
      case 'x': case 'u': case 'U': {
        size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (end - i < digits) return false;
        uint32_t v = 0;
        for (size_t k = 0; k < digits; k++) {
          int h = hexval(s[i + k]);
          if (h < 0) return false;
          v = v << 4 | (uint32_t)h;
        }
        i += digits;
        if (e == 'x') { out[o++] = (char)v; break; }
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return false;
        o += utf8_encode(v, out + o);
        break;
      }
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        if (end - i < 2) return false;
        uint32_t v = (uint32_t)(e - '0');
        for (size_t k = 0; k < 2; k++) {
          char d = s[i + k];
          if (d < '0' || d > '7') return false;
          v = v << 3 | (uint32_t)(d - '0');
        }
        if (v > 255) return false;
        i += 2;
        out[o++] = (char)v;
        break;
      }
      default:
        return false;
    }
  }
  *out_len = o;
  return true;
}

/* Length of the quoted literal that starts s[0..n), or 0 when it does not close. */
static size_t quoted_prefix(const char *s, size_t n) {
  if (n == 0) return 0;
  if (s[0] == '`') {
    const char *q = memchr(s + 1, '`', n - 1);
    return q ? (size_t)(q - s) + 1 : 0;
  }
  for (size_t i = 1; i < n; i++) {
    if (s[i] == '\n') return 0;
    if (s[i] == '\\') { i++; continue; }
    if (s[i] == '"') return i + 1;
  }
  return 0;
}

/* Would Go write this key / value quoted? (empty key, or one of = space \t \r \n " `) */
static bool needs_quote(const char *s, size_t n, bool key) {
  if (key && n == 0) return true;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '`') return true;
    if (key && c == '=') return true;
  }
  return false;
}

/* Unquote s[0..n) into the arena. */
static bool bi_unquote(pgo_buildinfo *bi, const char *s, size_t n, pgo_bi_str *out,
                       bool *nomem) {
  *nomem = false;
  if (n > SIZE_MAX / 3 - 1) return false;
  char *p = pgo_arena_alloc(&bi->arena, 3 * n + 1);
  if (!p) { *nomem = true; return false; }
  size_t len;
  if (!pgo_go_unquote(s, n, p, &len)) return false;
  p[len] = '\0';
  *out = (pgo_bi_str){p, len};
  return true;
}

/* {=====================================================================================
 * Module info text */

#define LINE_FAIL(...) \
  (pgo_fail(err, "invalid", "build info line %zu: " __VA_ARGS__), false)

/* Split s[0..n) at tabs into at most 4 fields; returns the number of fields (5 = more). */
static size_t split_tabs(const char *s, size_t n, pgo_bi_str f[4]) {
  size_t count = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '\t') continue;
    if (count == 4) return 5;
    f[count++] = (pgo_bi_str){s + start, i - start};
    start = i + 1;
  }
  return count;
}

static bool set_module(pgo_buildinfo *bi, pgo_bi_module *m, const pgo_bi_str *f, size_t nf) {
  pgo_bi_str empty = {"", 0};
  m->replace = NULL;
  return bi_copy(bi, f[0].s, f[0].len, &m->path) && bi_copy(bi, f[1].s, f[1].len, &m->version) &&
         (nf == 3 ? bi_copy(bi, f[2].s, f[2].len, &m->sum) : (m->sum = empty, true));
}

/* One "build\t" line's key=value (after the prefix). */
static bool parse_setting(pgo_buildinfo *bi, const char *kv, size_t n, size_t line,
                          pgo_bi_setting *out, pgo_error *err) {
  bool nomem;
  if (n == 0) return LINE_FAIL("build setting missing '='", line);
  size_t vstart;
  if (kv[0] == '=') return LINE_FAIL("build setting with an empty key", line);
  if (kv[0] == '"' || kv[0] == '`') {
    size_t q = quoted_prefix(kv, n);
    if (q == 0 || !bi_unquote(bi, kv, q, &out->key, &nomem)) {
      if (q && nomem) return pgo_fail(err, "nomem", "out of memory reading build info");
      return LINE_FAIL("invalid quoted key in build setting", line);
    }
    if (q == n) return LINE_FAIL("build setting missing '=' after its quoted key", line);
    if (kv[q] != '=')
      return LINE_FAIL("unexpected character 0x%02x after a quoted key", line,
                       (unsigned char)kv[q]);
    vstart = q + 1;
  } else {
    const char *eq = memchr(kv, '=', n);
    if (!eq) return LINE_FAIL("build setting missing '=' after its key", line);
    size_t klen = (size_t)(eq - kv);
    if (needs_quote(kv, klen, true))
      return LINE_FAIL("unquoted key \"%.*s\" must be quoted", line, (int)(klen > 80 ? 80 : klen),
                       kv);
    if (!bi_copy(bi, kv, klen, &out->key))
      return pgo_fail(err, "nomem", "out of memory reading build info");
    vstart = klen + 1;
  }
  const char *v = kv + vstart;
  size_t vlen = n - vstart;
  if (vlen > 0 && (v[0] == '"' || v[0] == '`')) {
    if (!bi_unquote(bi, v, vlen, &out->value, &nomem)) {
      if (nomem) return pgo_fail(err, "nomem", "out of memory reading build info");
      return LINE_FAIL("invalid quoted value in build setting", line);
    }
    return true;
  }
  if (needs_quote(v, vlen, false))
    return LINE_FAIL("unquoted value \"%.*s\" must be quoted", line,
                     (int)(vlen > 80 ? 80 : vlen), v);
  if (!bi_copy(bi, v, vlen, &out->value))
    return pgo_fail(err, "nomem", "out of memory reading build info");
  return true;
}

static bool has_prefix(const char *s, size_t n, const char *p, size_t pn) {
  return n >= pn && memcmp(s, p, pn) == 0;
}

bool pgo_buildinfo_parse_modinfo(const char *text, size_t len, pgo_buildinfo *bi,
                                 pgo_error *err) {
  /* First pass: how many deps and settings, to size the arrays. */
  size_t ndeps = 0, nset = 0;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    if (!nl) break;
    size_t n = (size_t)(nl - (text + i));
    if (has_prefix(text + i, n, "dep\t", 4)) ndeps++;
    else if (has_prefix(text + i, n, "build\t", 6)) nset++;
    i += n + 1;
  }
  bi->deps = ndeps ? pgo_arena_alloc(&bi->arena, ndeps * sizeof *bi->deps) : NULL;
  bi->settings = nset ? pgo_arena_alloc(&bi->arena, nset * sizeof *bi->settings) : NULL;
  if ((ndeps && !bi->deps) || (nset && !bi->settings))
    return pgo_fail(err, "nomem", "out of memory reading build info");
  bi->ndeps = bi->nsettings = 0;

  pgo_bi_module *last = NULL;        /* the module a "=>" line replaces */
  size_t line = 1;
  for (size_t i = 0; i < len; line++) {
    const char *s = text + i;
    const char *nl = memchr(s, '\n', len - i);
    if (!nl) break;                  /* an unterminated last line is ignored */
    size_t n = (size_t)(nl - s);
    i += n + 1;
    pgo_bi_str f[4];
    if (has_prefix(s, n, "path\t", 5)) {
      if (!bi_copy(bi, s + 5, n - 5, &bi->path))
        return pgo_fail(err, "nomem", "out of memory reading build info");
    } else if (has_prefix(s, n, "mod\t", 4) || has_prefix(s, n, "dep\t", 4)) {
      size_t nf = split_tabs(s + 4, n - 4, f);
      if (nf != 2 && nf != 3)
        return LINE_FAIL("expected 2 or 3 tab-separated columns after \"%.3s\"; got %s%zu", line,
                         s, nf > 4 ? "more than " : "", nf > 4 ? (size_t)4 : nf);
      last = s[0] == 'm' ? &bi->main : &bi->deps[bi->ndeps++];
      if (s[0] == 'm') bi->has_main = true;
      if (!set_module(bi, last, f, nf))
        return pgo_fail(err, "nomem", "out of memory reading build info");
    } else if (has_prefix(s, n, "=>\t", 3)) {
      size_t nf = split_tabs(s + 3, n - 3, f);
      if (nf != 3)
        return LINE_FAIL("expected 3 tab-separated columns for a replacement; got %s%zu", line,
                         nf > 4 ? "more than " : "", nf > 4 ? (size_t)4 : nf);
      if (!last) return LINE_FAIL("replacement (=>) with no module on the line before", line);
      pgo_bi_module *r = pgo_arena_alloc(&bi->arena, sizeof *r);
      if (!r || !set_module(bi, r, f, nf))
        return pgo_fail(err, "nomem", "out of memory reading build info");
      last->replace = r;
      last = NULL;
    } else if (has_prefix(s, n, "build\t", 6)) {
      if (!parse_setting(bi, s + 6, n - 6, line, &bi->settings[bi->nsettings], err))
        return false;
      bi->nsettings++;
    }
  }
  return true;
}

/* {=====================================================================================
 * The blob */

/* Unsigned LEB128 at p[0..n); *used bytes. False when cut or over 64 bits. */
static bool uvarint(const uint8_t *p, size_t n, uint64_t *v, size_t *used) {
  uint64_t x = 0;
  for (size_t i = 0; i < n && i < 10; i++) {
    if (i == 9 && p[i] > 1) return false;
    x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) { *v = x; *used = i + 1; return true; }
  }
  return false;
}

/* Old layout: follow a pointer to a Go string header (data, len) and read the bytes. */
static bool read_go_string(const pgo_elf *e, uint64_t addr, unsigned ps, bool be,
                           const uint8_t **s, size_t *n) {
  const uint8_t *h;
  size_t avail;
  if (!pgo_elf_vaddr(e, addr, &h, &avail) || avail < 2 * (size_t)ps) return false;
  uint64_t data = pgo_rdword(h, ps, be), len = pgo_rdword(h + ps, ps, be);
  if (len == 0) { *s = h; *n = 0; return true; }
  if (len > BI_MAX_STRING || !pgo_elf_vaddr(e, data, s, &avail) || avail < len) return false;
  *n = (size_t)len;
  return true;
}

/* Where the blob is searched: the section or the first writable data segment. */
static bool bi_region(const pgo_elf *e, const uint8_t **p, size_t *n, uint64_t *file_off,
                      const char **where, pgo_error *err) {
  const pgo_elf_section *s = pgo_elf_section_by_name(e, ".go.buildinfo");
  if (s) {
    *where = "section .go.buildinfo";
    if (!pgo_elf_section_data(e, s, p, n, err)) return false;
    *file_off = s->offset;
    return true;
  }
  for (size_t i = 0; i < e->nsegments; i++) {
    const pgo_elf_segment *g = &e->segments[i];
    if (g->type != PGO_PT_LOAD || !(g->flags & PGO_PF_W) || (g->flags & PGO_PF_X)) continue;
    if (g->offset > e->len) break;
    *where = "the first writable segment";
    *p = e->data + g->offset;
    *n = (size_t)(g->filesz < e->len - g->offset ? g->filesz : e->len - g->offset);
    *file_off = g->offset;
    return true;
  }
  return pgo_fail(err, "not_go", "not a Go executable: no .go.buildinfo section and no "
                  "writable segment to hold Go build info");
}

bool pgo_buildinfo_from_elf(const pgo_elf *e, pgo_buildinfo *bi, pgo_error *err) {
  const uint8_t *region = NULL;
  size_t rlen = 0;
  uint64_t roff = 0;
  const char *where = "";
  if (!bi_region(e, &region, &rlen, &roff, &where, err)) return false;
  size_t at = SIZE_MAX;
  size_t limit = rlen < BI_SEARCH ? rlen : BI_SEARCH;
  for (size_t off = 0; off < limit && rlen - off >= BI_HEADER; off += 16)
    if (memcmp(region + off, BI_MAGIC, sizeof BI_MAGIC) == 0) { at = off; break; }
  if (at == SIZE_MAX)
    return pgo_fail(err, "not_go", "not a Go executable: no Go build info (\"\\xff Go "
                    "buildinf:\") in %s; a Go binary older than Go 1.13 has none", where);
  const uint8_t *b = region + at;
  size_t avail = rlen - at;
  uint64_t boff = roff + at;
  bi->ptrsize = b[14];
  bi->big_endian = b[15] & 1;
  bi->inline_strings = (b[15] & 2) != 0;
  const uint8_t *vers = NULL, *mod = NULL;
  size_t vlen = 0, mlen = 0;
  if (bi->inline_strings) {
    size_t pos = BI_HEADER, used;
    uint64_t n;
    if (!uvarint(b + pos, avail - pos, &n, &used) || n > avail - pos - used)
      return pgo_fail(err, "invalid", "the Go version string of the build info at file offset "
                      "0x%" PRIx64 " runs past the end of %s; the file is damaged",
                      boff + pos, where);
    vers = b + pos + used;
    vlen = (size_t)n;
    pos += used + vlen;
    if (!uvarint(b + pos, avail - pos, &n, &used) || n > avail - pos - used)
      return pgo_fail(err, "invalid", "the module info of the build info at file offset 0x%"
                      PRIx64 " runs past the end of %s; the file is damaged", boff + pos, where);
    mod = b + pos + used;
    mlen = (size_t)n;
  } else {
    unsigned ps = bi->ptrsize;
    if (ps != 4 && ps != 8)
      return pgo_fail(err, "invalid", "the build info at file offset 0x%" PRIx64 " gives pointer"
                      " size %u, not 4 or 8; the file is damaged", boff, ps);
    uint64_t pv = pgo_rdword(b + 16, ps, bi->big_endian);
    uint64_t pm = pgo_rdword(b + 16 + ps, ps, bi->big_endian);
    if (!read_go_string(e, pv, ps, bi->big_endian, &vers, &vlen)) vlen = 0;
    if (!read_go_string(e, pm, ps, bi->big_endian, &mod, &mlen)) mlen = 0;
  }
  if (vlen == 0)
    return pgo_fail(err, "not_go", "not a Go executable: the build info at file offset 0x%"
                    PRIx64 " has no Go version", boff);
  if (!bi_copy(bi, (const char *)vers, vlen, &bi->go_version))
    return pgo_fail(err, "nomem", "out of memory reading build info");
  /* The module info sits between two 16-byte sentinels; anything else means none. */
  const char *m = "";
  size_t ml = 0;
  if (mlen >= 33 && mod[mlen - 17] == '\n') {
    m = (const char *)mod + 16;
    ml = mlen - 32;
  }
  if (!bi_copy(bi, m, ml, &bi->modinfo))
    return pgo_fail(err, "nomem", "out of memory reading build info");
  return pgo_buildinfo_parse_modinfo(bi->modinfo.s, bi->modinfo.len, bi, err);
}

bool pgo_buildinfo_read(const uint8_t *data, size_t len, pgo_buildinfo *bi, pgo_error *err) {
  pgo_elf e;
  if (!pgo_elf_open(&e, data, len, err)) return false;
  bool ok = pgo_buildinfo_from_elf(&e, bi, err);
  pgo_elf_close(&e);
  return ok;
}
