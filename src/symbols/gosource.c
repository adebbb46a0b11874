/* gosource.c: the Go source declaration scanner (include/pgolua/gosource.h).
 *
 * One file: a small Go lexer (comments, strings, runes, raw strings, semicolon
 * insertion) drives a loop that watches bracket depth and statement starts; a `func`
 * that starts a statement at depth 0 is a declaration, whose receiver and name are read
 * right there. Every read of the buffer is bounded by its length: the scanner takes
 * untrusted bytes (a fuzz target runs it).
 *
 * A tree: the directories of a module in byte order, each directory's .go files in byte
 * order, names built as the linker spells them. No Lua here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pgolua/gosource.h"

/* {====================================================================================
 * Build constraints: three-valued logic, `ignore` false, every other tag unknown
 * ===================================================================================== */

enum { TRI_FALSE = 0, TRI_TRUE = 1, TRI_UNKNOWN = 2 };

static int tri_and(int a, int b) {
  if (a == TRI_FALSE || b == TRI_FALSE) return TRI_FALSE;
  return (a == TRI_TRUE && b == TRI_TRUE) ? TRI_TRUE : TRI_UNKNOWN;
}
static int tri_or(int a, int b) {
  if (a == TRI_TRUE || b == TRI_TRUE) return TRI_TRUE;
  return (a == TRI_FALSE && b == TRI_FALSE) ? TRI_FALSE : TRI_UNKNOWN;
}
static int tri_not(int a) { return a == TRI_UNKNOWN ? a : !a; }

static bool is_tag_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.';
}

static int tag_value(const char *s, size_t len) {
  return (len == 6 && memcmp(s, "ignore", 6) == 0) ? TRI_FALSE : TRI_UNKNOWN;
}

/* Recursive descent over a //go:build expression in s[*i..n). Depth-limited so a line of
 * a million '(' cannot exhaust the stack; a malformed expression evaluates to unknown
 * (the file is kept: the go command would report it, we only must not drop code). */
typedef struct { const char *s; size_t n, i; bool bad; int depth; } bexpr;

static void bx_space(bexpr *b) {
  while (b->i < b->n && (b->s[b->i] == ' ' || b->s[b->i] == '\t' || b->s[b->i] == '\r')) b->i++;
}

static int bx_or(bexpr *b);

static int bx_unary(bexpr *b) {
  bx_space(b);
  if (b->i >= b->n || ++b->depth > 64) { b->bad = true; return TRI_UNKNOWN; }
  int v;
  char c = b->s[b->i];
  if (c == '!') {
    b->i++;
    v = tri_not(bx_unary(b));
  } else if (c == '(') {
    b->i++;
    v = bx_or(b);
    bx_space(b);
    if (b->i < b->n && b->s[b->i] == ')') b->i++;
    else b->bad = true;
  } else {
    size_t st = b->i;
    while (b->i < b->n && is_tag_char((unsigned char)b->s[b->i])) b->i++;
    if (b->i == st) { b->bad = true; v = TRI_UNKNOWN; }
    else v = tag_value(b->s + st, b->i - st);
  }
  b->depth--;
  return v;
}

static int bx_and(bexpr *b) {
  int v = bx_unary(b);
  for (;;) {
    bx_space(b);
    if (b->bad || b->i + 1 >= b->n || b->s[b->i] != '&' || b->s[b->i + 1] != '&') return v;
    b->i += 2;
    v = tri_and(v, bx_unary(b));
  }
}

static int bx_or(bexpr *b) {
  int v = bx_and(b);
  for (;;) {
    bx_space(b);
    if (b->bad || b->i + 1 >= b->n || b->s[b->i] != '|' || b->s[b->i + 1] != '|') return v;
    b->i += 2;
    v = tri_or(v, bx_and(b));
  }
}

static int eval_go_build(const char *s, size_t n) {
  bexpr b = { s, n, 0, false, 0 };
  int v = bx_or(&b);
  bx_space(&b);
  if (b.bad || b.i != b.n) return TRI_UNKNOWN;
  return v;
}

/* One "// +build" line: options separated by spaces are ORed, terms separated by commas
 * ANDed, "!" negates. */
static int eval_plus_build(const char *s, size_t n) {
  int line = TRI_FALSE;
  bool any = false;
  size_t i = 0;
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    if (i >= n) break;
    int opt = TRI_TRUE;
    while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
      bool neg = false;
      if (s[i] == '!') { neg = true; i++; }
      size_t st = i;
      while (i < n && is_tag_char((unsigned char)s[i])) i++;
      int t = (i == st) ? TRI_UNKNOWN : tag_value(s + st, i - st);
      opt = tri_and(opt, neg ? tri_not(t) : t);
      if (i < n && s[i] == ',') i++;
      else if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
        opt = TRI_UNKNOWN;                     /* junk: be conservative */
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') i++;
      }
    }
    line = tri_or(line, opt);
    any = true;
  }
  return any ? line : TRI_UNKNOWN;
}

/* }==================================================================================== */

/* {====================================================================================
 * The lexer
 * ===================================================================================== */

enum { T_EOF, T_IDENT, T_LIT, T_OP };

typedef struct gotok {
  int kind;
  const char *s;          /* token text */
  size_t len;
  uint32_t line;
  bool nl_before;         /* a newline (or a comment holding one) precedes the token */
} gotok;

typedef struct golex {
  const char *s;
  size_t n, i;
  uint32_t line;
  bool in_header;         /* before the package clause: look at build constraints */
  int go_build;           /* -1 none seen, else TRI_* */
  int plus_build;         /* -1 none seen, else the AND of the lines */
  pgo_godecl_fn on_decl;  /* told about //go:linkname directives too */
  void *ctx;
  pgo_error *err;
} golex;

static bool lex_fail(golex *L, uint32_t line, const char *what) {
  return pgo_fail(L->err, "go_syntax", "line %u: %s", (unsigned)line, what);
}

/* Character classes (a constant table: no mutable state). Bytes >= 0x80 count as
 * letters, so UTF-8 identifiers stay whole. */
enum { CC_LETTER = 1, CC_DIGIT = 2, CC_SPACE = 4 };
#define CC_L CC_LETTER
#define CC_ROW_HIGH CC_L, CC_L, CC_L, CC_L, CC_L, CC_L, CC_L, CC_L, \
                    CC_L, CC_L, CC_L, CC_L, CC_L, CC_L, CC_L, CC_L
static const unsigned char char_class[256] = {
  ['\t'] = CC_SPACE, ['\r'] = CC_SPACE, [' '] = CC_SPACE,
  ['0'] = CC_DIGIT, ['1'] = CC_DIGIT, ['2'] = CC_DIGIT, ['3'] = CC_DIGIT, ['4'] = CC_DIGIT,
  ['5'] = CC_DIGIT, ['6'] = CC_DIGIT, ['7'] = CC_DIGIT, ['8'] = CC_DIGIT, ['9'] = CC_DIGIT,
  ['A'] = CC_L, ['B'] = CC_L, ['C'] = CC_L, ['D'] = CC_L, ['E'] = CC_L, ['F'] = CC_L,
  ['G'] = CC_L, ['H'] = CC_L, ['I'] = CC_L, ['J'] = CC_L, ['K'] = CC_L, ['L'] = CC_L,
  ['M'] = CC_L, ['N'] = CC_L, ['O'] = CC_L, ['P'] = CC_L, ['Q'] = CC_L, ['R'] = CC_L,
  ['S'] = CC_L, ['T'] = CC_L, ['U'] = CC_L, ['V'] = CC_L, ['W'] = CC_L, ['X'] = CC_L,
  ['Y'] = CC_L, ['Z'] = CC_L, ['_'] = CC_L,
  ['a'] = CC_L, ['b'] = CC_L, ['c'] = CC_L, ['d'] = CC_L, ['e'] = CC_L, ['f'] = CC_L,
  ['g'] = CC_L, ['h'] = CC_L, ['i'] = CC_L, ['j'] = CC_L, ['k'] = CC_L, ['l'] = CC_L,
  ['m'] = CC_L, ['n'] = CC_L, ['o'] = CC_L, ['p'] = CC_L, ['q'] = CC_L, ['r'] = CC_L,
  ['s'] = CC_L, ['t'] = CC_L, ['u'] = CC_L, ['v'] = CC_L, ['w'] = CC_L, ['x'] = CC_L,
  ['y'] = CC_L, ['z'] = CC_L,
  [0x80] = CC_ROW_HIGH, [0x90] = CC_ROW_HIGH, [0xA0] = CC_ROW_HIGH, [0xB0] = CC_ROW_HIGH,
  [0xC0] = CC_ROW_HIGH, [0xD0] = CC_ROW_HIGH, [0xE0] = CC_ROW_HIGH, [0xF0] = CC_ROW_HIGH,
};
#undef CC_ROW_HIGH
#undef CC_L

static bool is_ident_start(unsigned char c) { return char_class[c] & CC_LETTER; }
static bool is_ident_char(unsigned char c) { return char_class[c] & (CC_LETTER | CC_DIGIT); }
static bool is_digit(unsigned char c) { return char_class[c] & CC_DIGIT; }

/* A line comment s[st..end) above the package clause: record a build constraint when it
 * is one (it must be the first thing on its line). */
static void header_comment(golex *L, size_t st, size_t end) {
  for (size_t k = st; k > 0; k--) {
    char c = L->s[k - 1];
    if (c == '\n') break;
    if (c != ' ' && c != '\t' && c != '\r') return;
  }
  const char *c = L->s + st + 2;               /* after "//" */
  size_t n = end - st - 2;
  if (n >= 8 && memcmp(c, "go:build", 8) == 0 && (n == 8 || c[8] == ' ' || c[8] == '\t')) {
    int v = eval_go_build(c + 8, n - 8);
    L->go_build = L->go_build < 0 ? v : tri_and(L->go_build, v);
    return;
  }
  size_t k = 0;
  while (k < n && (c[k] == ' ' || c[k] == '\t')) k++;
  if (n - k >= 6 && memcmp(c + k, "+build", 6) == 0 &&
      (n - k == 6 || c[k + 6] == ' ' || c[k + 6] == '\t')) {
    int v = eval_plus_build(c + k + 6, n - k - 6);
    L->plus_build = L->plus_build < 0 ? v : tri_and(L->plus_build, v);
  }
}

/* A line comment s[st..end) after the package clause: a //go:linkname directive with a
 * qualified target ("//go:linkname local pkg/path.name") is reported as a declaration of
 * the target name. The one-argument form (export of a local name) declares nothing new. */
static bool body_comment(golex *L, size_t st, size_t end) {
  static const char dir[] = "//go:linkname";
  size_t dl = sizeof dir - 1;
  if (!L->on_decl || end - st <= dl || memcmp(L->s + st, dir, dl) != 0) return true;
  const char *c = L->s + st + dl;
  size_t n = end - st - dl, k = 0;
  const char *word[2] = { NULL, NULL };
  size_t wlen[2] = { 0, 0 };
  for (int w = 0; w < 2; w++) {
    size_t sp = k;
    while (k < n && (c[k] == ' ' || c[k] == '\t')) k++;
    if (k == sp || k >= n) return true;
    word[w] = c + k;
    while (k < n && c[k] != ' ' && c[k] != '\t' && c[k] != '\r') k++;
    wlen[w] = (size_t)(c + k - word[w]);
  }
  if (!memchr(word[1], '.', wlen[1])) return true;
  /* Go names hold no control bytes: such a "name" is noise, never a declaration (a NUL
   * inside would cut the name short wherever it is spelled as a C string) */
  for (int w = 0; w < 2; w++)
    for (size_t j = 0; j < wlen[w]; j++)
      if ((unsigned char)word[w][j] < 0x20 || word[w][j] == 0x7f) return true;
  pgo_godecl d;
  memset(&d, 0, sizeof d);
  d.name = word[0];
  d.name_len = wlen[0];
  d.linkname = word[1];
  d.linkname_len = wlen[1];
  d.line = L->line;
  return L->on_decl(L->ctx, &d, L->err);
}

/* The next token into *t; false (err filled) on a lexical error. */
static bool lex_next(golex *L, gotok *t) {
  const char *s = L->s;
  size_t n = L->n, i = L->i;
  bool nl = false;
  for (;;) {
    if (i >= n) break;
    unsigned char c = (unsigned char)s[i];
    if (char_class[c] & CC_SPACE) { i++; continue; }
    if (c == '\n') { nl = true; L->line++; i++; continue; }
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      const char *e = memchr(s + i, '\n', n - i);
      size_t end = e ? (size_t)(e - s) : n;
      if (L->in_header) header_comment(L, i, end);
      else if (!body_comment(L, i, end)) { L->i = end; return false; }
      i = end;                                 /* the newline is counted next round */
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      uint32_t start_line = L->line;
      size_t j = i + 2;
      for (;;) {
        if (j + 1 >= n) { L->i = n; return lex_fail(L, start_line, "comment not terminated (a /* comment runs to the end of the file)"); }
        if (s[j] == '*' && s[j + 1] == '/') break;
        if (s[j] == '\n') { nl = true; L->line++; }
        j++;
      }
      i = j + 2;
      continue;
    }
    break;
  }
  t->nl_before = nl;
  t->line = L->line;
  t->s = s + i;
  if (i >= n) {
    t->kind = T_EOF;
    t->len = 0;
    L->i = n;
    return true;
  }
  unsigned char c = (unsigned char)s[i];
  size_t st = i;
  if (is_ident_start(c)) {
    i++;
    while (i < n && is_ident_char((unsigned char)s[i])) i++;
    t->kind = T_IDENT;
  } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
    i++;
    while (i < n) {
      unsigned char d = (unsigned char)s[i];
      if (is_ident_char(d) || d == '.') { i++; continue; }
      if ((d == '+' || d == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E' || s[i - 1] == 'p' ||
                                     s[i - 1] == 'P')) { i++; continue; }
      break;
    }
    t->kind = T_LIT;
  } else if (c == '"' || c == '\'') {
    i++;
    for (;;) {
      if (i >= n || s[i] == '\n') {
        L->i = i;
        return lex_fail(L, t->line, c == '"' ? "string literal not terminated"
                                             : "rune literal not terminated");
      }
      if (s[i] == '\\') { i += 2; continue; }
      if ((unsigned char)s[i] == c) { i++; break; }
      i++;
    }
    t->kind = T_LIT;
  } else if (c == '`') {
    const char *e = memchr(s + i + 1, '`', n - i - 1);
    if (!e) { L->i = n; return lex_fail(L, t->line, "raw string literal not terminated (a `...` string runs to the end of the file)"); }
    size_t end = (size_t)(e - s);
    for (size_t k = i + 1; k < end; k++)
      if (s[k] == '\n') L->line++;
    i = end + 1;
    t->kind = T_LIT;
  } else {
    i++;
    if ((c == '+' || c == '-') && i < n && (unsigned char)s[i] == c) i++;   /* ++ -- */
    t->kind = T_OP;
  }
  t->len = i - st;
  L->i = i;
  return true;
}

#define tok_is(t, word) ((t)->len == sizeof(word) - 1 && memcmp((t)->s, word, sizeof(word) - 1) == 0)
static bool tok_op(const gotok *t, char c) { return t->kind == T_OP && t->len == 1 && t->s[0] == c; }

/* A keyword after which a newline does NOT end the statement: every keyword except
 * break, continue, fallthrough and return. Dispatch on length so ordinary identifiers
 * cost one switch. */
static bool is_open_keyword(const char *s, size_t n) {
#define KW(w) (memcmp(s, w, n) == 0)
  switch (n) {
  case 2: return KW("go") || KW("if");
  case 3: return KW("for") || KW("map") || KW("var");
  case 4: return KW("case") || KW("chan") || KW("else") || KW("func") || KW("goto") || KW("type");
  case 5: return KW("const") || KW("defer") || KW("range");
  case 6: return KW("import") || KW("select") || KW("struct") || KW("switch");
  case 7: return KW("default") || KW("package");
  case 9: return KW("interface");
  default: return false;
  }
#undef KW
}

/* Whether a newline after this token ends the statement (the Go spec's rule). */
static bool ends_statement(const gotok *t) {
  switch (t->kind) {
  case T_IDENT: return !is_open_keyword(t->s, t->len);
  case T_LIT: return true;
  case T_OP:
    return (t->len == 2) || tok_op(t, ')') || tok_op(t, ']') || tok_op(t, '}');
  default: return false;
  }
}

/* }==================================================================================== */

/* {====================================================================================
 * One file
 * ===================================================================================== */

/* After `func` at the start of a top-level declaration: read the receiver (if any) and
 * the name into *d. Returns 1 when *d is a declaration, 0 when it is not (malformed);
 * the first token not consumed is left in *pending (kind T_EOF at the end). -1 on a
 * lexical error. */
static int read_decl(golex *L, pgo_godecl *d, gotok *pending) {
  gotok t;
  if (!lex_next(L, &t)) return -1;
  if (tok_op(&t, '(')) {
    int pd = 1, bd = 0;
    bool star = false, generic = false, have_base = false;
    gotok last = { 0 };
    bool have_last = false;
    while (pd > 0) {
      if (!lex_next(L, &t)) return -1;
      if (t.kind == T_EOF) { *pending = t; return 0; }
      if (tok_op(&t, '(')) pd++;
      else if (tok_op(&t, ')')) pd--;
      else if (tok_op(&t, '[')) {
        if (bd == 0 && !have_base && have_last) { have_base = true; generic = true; }
        bd++;
      } else if (tok_op(&t, ']')) {
        if (bd > 0) bd--;
      } else if (bd == 0 && !have_base && t.kind == T_IDENT) {
        last = t;
        have_last = true;
      } else if (bd == 0 && tok_op(&t, '*')) {
        star = true;
      }
    }
    if (!have_last) {                          /* "func () M" is not Go */
      if (!lex_next(L, pending)) return -1;
      return 0;
    }
    if (!lex_next(L, &t)) return -1;
    if (t.kind != T_IDENT) { *pending = t; return 0; }
    d->recv = last.s;
    d->recv_len = last.len;
    d->recv_pointer = star;
    d->generic = generic;
    d->name = t.s;
    d->name_len = t.len;
    if (!lex_next(L, pending)) return -1;
    return 1;
  }
  if (t.kind != T_IDENT) { *pending = t; return 0; }
  d->recv = NULL;
  d->recv_len = 0;
  d->recv_pointer = false;
  d->name = t.s;
  d->name_len = t.len;
  if (!lex_next(L, pending)) return -1;
  d->generic = tok_op(pending, '[');
  return 1;
}

static size_t count_lines(const char *s, size_t n) {
  size_t lines = 0;
  const char *p = s, *end = s + n;
  while (p < end) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e) { lines++; break; }
    lines++;
    p = e + 1;
  }
  return lines;
}

bool pgo_gosource_scan_buffer(const char *src, size_t len, pgo_godecl_fn on_decl, void *ctx,
                              pgo_gofile *file, pgo_error *err) {
  pgo_gofile dummy;
  if (!file) file = &dummy;
  memset(file, 0, sizeof *file);
  if (!src) len = 0;
  file->lines = count_lines(src, len);
  golex L = { src, len, 0, 1, true, -1, -1, on_decl, ctx, err };
  if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) L.i = 3;   /* byte order mark */

  bool have_package = false, stmt_start = true, semi = false, have_pending = false;
  size_t depth = 0;
  gotok t, pending = { 0 };
  for (;;) {
    if (have_pending) { t = pending; have_pending = false; }
    else if (!lex_next(&L, &t)) return false;
    if (t.nl_before && semi) {
      semi = false;
      if (depth == 0) stmt_start = true;
    }
    if (t.kind == T_EOF) break;
    if (!have_package) {
      gotok name;
      if (t.kind != T_IDENT || !tok_is(&t, "package"))
        return pgo_fail(err, "go_syntax", "line %u: expected 'package' clause, found '%.*s'",
                        (unsigned)t.line, (int)(t.len > 40 ? 40 : t.len), t.s);
      L.in_header = false;
      if (!lex_next(&L, &name)) return false;
      if (name.kind != T_IDENT)
        return pgo_fail(err, "go_syntax", "line %u: expected the package name after 'package'",
                        (unsigned)t.line);
      have_package = true;
      file->package = name.s;
      file->package_len = name.len;
      file->package_line = t.line;
      int c = L.go_build >= 0 ? L.go_build : L.plus_build;
      file->has_constraint = L.go_build >= 0 || L.plus_build >= 0;
      if (c == TRI_FALSE) { file->build_ignore = true; return true; }
      semi = true;
      stmt_start = false;
      continue;
    }
    if (t.kind == T_IDENT && depth == 0 && stmt_start && tok_is(&t, "func")) {
      pgo_godecl d;
      memset(&d, 0, sizeof d);
      d.line = t.line;
      int r = read_decl(&L, &d, &pending);
      if (r < 0) return false;
      have_pending = true;
      stmt_start = false;
      semi = true;                             /* the last token read was a name or ')' */
      if (r == 1) {
        file->decls++;
        if (on_decl && !on_decl(ctx, &d, err)) return false;
      }
      continue;
    }
    stmt_start = false;
    if (t.kind == T_OP && t.len == 1) {
      char c = t.s[0];
      if (c == '(' || c == '[' || c == '{') depth++;
      else if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
      else if (c == ';' && depth == 0) stmt_start = true;
    }
    semi = ends_statement(&t);
  }
  if (!have_package)
    return pgo_fail(err, "go_syntax", "line %u: expected 'package' clause, found end of file",
                    (unsigned)L.line);
  return true;
}

/* Append n bytes to out[0..cap) at *o, counting what does not fit. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n) {
  if (*o < cap) {
    size_t room = cap - *o;
    memcpy(out + *o, s, n < room ? n : room);
  }
  *o += n;
}

size_t pgo_godecl_spell(const pgo_godecl *d, char *out, size_t cap) {
  size_t o = 0;
  if (d->recv) {
    if (d->recv_pointer) put(out, cap, &o, "(*", 2);
    put(out, cap, &o, d->recv, d->recv_len);
    if (d->generic) put(out, cap, &o, "[...]", 5);
    if (d->recv_pointer) put(out, cap, &o, ")", 1);
    put(out, cap, &o, ".", 1);
    put(out, cap, &o, d->name, d->name_len);
  } else {
    put(out, cap, &o, d->name, d->name_len);
    if (d->generic) put(out, cap, &o, "[...]", 5);
  }
  if (cap) out[o < cap ? o : cap - 1] = '\0';
  return o;
}

size_t pgo_go_path_to_prefix(const char *path, size_t len, char *out, size_t cap) {
  size_t slash = 0;
  bool have_slash = false;
  for (size_t i = 0; i < len; i++)
    if (path[i] == '/') { slash = i; have_slash = true; }
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)path[i];
    bool esc = c <= ' ' || c == '%' || c == '"' || c >= 0x7F ||
               (c == '.' && (!have_slash || i > slash));
    if (esc) {
      if (o + 3 < cap) { out[o] = '%'; out[o + 1] = hex[c >> 4]; out[o + 2] = hex[c & 15]; }
      o += 3;
    } else {
      if (o + 1 < cap) out[o] = (char)c;
      o++;
    }
  }
  if (cap) out[o < cap ? o : cap - 1] = '\0';
  return o;
}

bool pgo_gomod_module(const char *src, size_t len, char *out, size_t cap, pgo_error *err) {
  size_t i = 0;
  while (i < len) {
    const char *e = memchr(src + i, '\n', len - i);
    size_t end = e ? (size_t)(e - src) : len;
    size_t k = i;
    while (k < end && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r')) k++;
    if (end - k > 7 && memcmp(src + k, "module", 6) == 0 &&
        (src[k + 6] == ' ' || src[k + 6] == '\t')) {
      k += 7;
      while (k < end && (src[k] == ' ' || src[k] == '\t')) k++;
      size_t st = k, stop;
      if (k < end && (src[k] == '"' || src[k] == '`')) {
        char q = src[k];
        st = ++k;
        while (k < end && src[k] != q) k++;
        stop = k;
      } else {
        while (k < end && src[k] != ' ' && src[k] != '\t' && src[k] != '\r' &&
               !(src[k] == '/' && k + 1 < end && src[k + 1] == '/'))
          k++;
        stop = k;
      }
      if (stop > st) {
        size_t n = stop - st;
        if (cap) {
          if (n >= cap) n = cap - 1;
          memcpy(out, src + st, n);
          out[n] = '\0';
        }
        return true;
      }
    }
    i = end + 1;
  }
  return pgo_fail(err, "bad_go_mod", "go.mod has no 'module' line: add 'module <path>' or pass the module path as an option");
}

/* }==================================================================================== */

/* {====================================================================================
 * Path buffer and directory listing (shared by the tree scan and pgo_find_files)
 * ===================================================================================== */

typedef struct pathbuf { char *s; size_t len, cap; } pathbuf;

static bool pb_set(pathbuf *p, size_t len, const char *add, bool slash) {
  size_t alen = strlen(add);
  size_t need = len + (slash ? 1 : 0) + alen + 1;
  if (need > p->cap && !PGO_RESERVE(p->s, p->cap, need)) return false;
  p->len = len;
  if (slash) p->s[p->len++] = '/';
  memcpy(p->s + p->len, add, alen);
  p->len += alen;
  p->s[p->len] = '\0';
  return true;
}

typedef struct dentry { char *name; unsigned char type; } dentry;
enum { DE_FILE = 1, DE_DIR = 2, DE_LINKDIR = 3, DE_OTHER = 4 };

static int dentry_cmp(const void *a, const void *b) {
  return strcmp(((const dentry *)a)->name, ((const dentry *)b)->name);
}

static void free_entries(dentry *e, size_t n) {
  for (size_t i = 0; i < n; i++) free(e[i].name);
  free(e);
}

/* Read the directory at path p->s (of length p->len) into a sorted array. The type of
 * each entry is resolved (following a symbolic link to tell a file from a directory).
 * false with errno set on failure. */
static bool list_dir(pathbuf *p, dentry **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  DIR *dir = opendir(p->s);
  if (!dir) return false;
  dentry *e = NULL;
  size_t n = 0, cap = 0;
  size_t base = p->len;
  struct dirent *de;
  bool ok = true;
  while ((de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    unsigned char type = DE_OTHER;
#ifdef DT_DIR
    if (de->d_type == DT_DIR) type = DE_DIR;
    else if (de->d_type == DT_REG) type = DE_FILE;
    else if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN)
#endif
    {
      if (!pb_set(p, base, de->d_name, true)) { ok = false; errno = ENOMEM; break; }
      struct stat st, lst;
      if (stat(p->s, &st) == 0) {
        bool link = lstat(p->s, &lst) == 0 && S_ISLNK(lst.st_mode);
        if (S_ISDIR(st.st_mode)) type = link ? DE_LINKDIR : DE_DIR;
        else if (S_ISREG(st.st_mode)) type = DE_FILE;
      }
      p->len = base;
      p->s[base] = '\0';
    }
    if (n == cap && !PGO_RESERVE(e, cap, n + 1)) { ok = false; errno = ENOMEM; break; }
    e[n].name = strdup(de->d_name);
    if (!e[n].name) { ok = false; errno = ENOMEM; break; }
    e[n].type = type;
    n++;
  }
  int saved = errno;
  closedir(dir);
  if (!ok) { free_entries(e, n); errno = saved; return false; }
  if (n > 1) qsort(e, n, sizeof *e, dentry_cmp);
  *out = e;
  *nout = n;
  return true;
}

static bool has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && memcmp(s + n - m, suf, m) == 0;
}

/* }==================================================================================== */

/* {====================================================================================
 * A module tree
 * ===================================================================================== */

void pgo_gosource_options_default(pgo_gosource_options *o) {
  memset(o, 0, sizeof *o);
  o->skip_nested = false;
  o->max_file_bytes = 256u << 20;
}

void pgo_gosource_free(pgo_gosource *g) {
  if (!g) return;
  pgo_strtab_free(&g->strings);
  pgo_u64map_free(&g->by_name);
  free(g->funcs);
  free(g->first);
  free(g->last);
  free(g->packages);
  free(g->skipped);
  free(g->modules);
  memset(g, 0, sizeof *g);
}

#define MAX_DIR_DEPTH 200

/* Where import paths come from inside the current subtree. */
typedef struct modctx {
  uint32_t module;          /* string id of the module path */
  size_t strip;             /* bytes of the relative dir to drop (the module's own dir) */
  bool std;                 /* module "std": import path = dir relative to the root */
  bool vendor;              /* under vendor/: the import path is what follows vendor/ */
  bool none;                /* outside every module (a go.work root without go.mod) */
} modctx;

typedef struct walker {
  const pgo_gosource_options *o;
  pgo_gosource *g;
  pgo_error *err;
  pathbuf abs;              /* root + "/" + rel */
  size_t root_len;
  char *buf;                /* file contents */
  size_t buf_cap;
  pgo_godecl *decls;        /* declarations of the file being scanned */
  size_t ndecls, cap_decls;
  char *name;               /* scratch for building names */
  size_t name_cap;
  uint32_t empty_id;        /* string id of "" */
} walker;

static bool oom(pgo_error *err) {
  return pgo_fail(err, "nomem", "out of memory while scanning Go source");
}

static bool intern(walker *w, const char *s, size_t n, uint32_t *id) {
  if (!pgo_strtab_intern(&w->g->strings, s, n, id)) return oom(w->err);
  return true;
}

/* Record a skipped file or directory; package is a string id (w->empty_id for none). */
static bool add_skip_as(walker *w, const char *rel, const char *reason, pgo_gosrc_skip_kind kind,
                        uint32_t package) {
  pgo_gosource *g = w->g;
  if (!PGO_RESERVE(g->skipped, g->cap_skipped, g->nskipped + 1)) return oom(w->err);
  pgo_gosrc_skip *s = &g->skipped[g->nskipped];
  if (!intern(w, rel, strlen(rel), &s->path) || !intern(w, reason, strlen(reason), &s->reason))
    return false;
  s->kind = kind;
  s->package = package;
  g->nskipped++;
  return true;
}

static bool add_skip(walker *w, const char *rel, const char *reason) {
  return add_skip_as(w, rel, reason, PGO_SKIP_EXCLUDED, w->empty_id);
}

static bool add_module(walker *w, uint32_t path, const char *dir, bool scanned) {
  pgo_gosource *g = w->g;
  if (!PGO_RESERVE(g->modules, g->cap_modules, g->nmodules + 1)) return oom(w->err);
  pgo_gosrc_module *m = &g->modules[g->nmodules];
  m->path = path;
  m->scanned = scanned;
  if (!intern(w, dir, strlen(dir), &m->dir)) return false;
  g->nmodules++;
  return true;
}

static const char *rel_of(const walker *w) {
  return w->abs.len > w->root_len ? w->abs.s + w->root_len + 1 : ".";
}

static bool collect_decl(void *ctx, const pgo_godecl *d, pgo_error *err) {
  walker *w = ctx;
  if (!PGO_RESERVE(w->decls, w->cap_decls, w->ndecls + 1)) return oom(err);
  w->decls[w->ndecls++] = *d;
  return true;
}

/* Read the file at w->abs into w->buf; *len its size. false: errno set (EFBIG when over
 * the limit). */
static bool read_whole(walker *w, size_t *len) {
  int fd = open(w->abs.s, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return false; }
  if ((uint64_t)st.st_size > w->o->max_file_bytes) { close(fd); errno = EFBIG; return false; }
  size_t want = (size_t)st.st_size + 1, n = 0;
  if (want > w->buf_cap && !PGO_RESERVE(w->buf, w->buf_cap, want)) {
    close(fd);
    errno = ENOMEM;
    return false;
  }
  for (;;) {
    if (n == w->buf_cap && !PGO_RESERVE(w->buf, w->buf_cap, n + 4096)) {
      close(fd); errno = ENOMEM; return false;
    }
    ssize_t r = read(fd, w->buf + n, w->buf_cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno; close(fd); errno = e; return false;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > w->o->max_file_bytes) { close(fd); errno = EFBIG; return false; }
    if (n == (size_t)st.st_size && st.st_size > 0) break;   /* all of it: skip the EOF read */
  }
  close(fd);
  *len = n;
  return true;
}

/* The import path of the package in directory dir_id (escaped as in symbol names), with
 * suffix appended ("_test" for an external test package): module [+ "/" + the dir below
 * the module], or the dir itself for std and vendor/. malloc'd; NULL (err set) when out
 * of memory. */
static char *dir_import_path(walker *w, const modctx *m, uint32_t dir_id, const char *suffix,
                             size_t *esc_len) {
  pgo_gosource *g = w->g;
  const char *rel = pgo_str(&g->strings, dir_id);
  const char *below = rel;
  if (strcmp(rel, ".") == 0) below = "";
  else if (m->strip) below = strlen(rel) > m->strip ? rel + m->strip + 1 : "";
  const char *modpath = pgo_str(&g->strings, m->module);
  size_t need = strlen(modpath) + strlen(below) + strlen(suffix) + 16;
  char *path = malloc(need);
  if (!path) { oom(w->err); return NULL; }
  if (m->std || m->vendor) snprintf(path, need, "%s%s", *below ? below : modpath, suffix);
  else if (*below) snprintf(path, need, "%s/%s%s", modpath, below, suffix);
  else snprintf(path, need, "%s%s", modpath, suffix);
  size_t plen = strlen(path);
  *esc_len = pgo_go_path_to_prefix(path, plen, NULL, 0);
  char *esc = malloc(*esc_len + 1);
  if (!esc) { free(path); oom(w->err); return NULL; }
  pgo_go_path_to_prefix(path, plen, esc, *esc_len + 1);
  free(path);
  return esc;
}

/* The string id of dir_id's import path (for skip records); w->empty_id outside modules. */
static bool dir_package_id(walker *w, const modctx *m, uint32_t dir_id, uint32_t *id) {
  if (m->none) { *id = w->empty_id; return true; }
  size_t len;
  char *esc = dir_import_path(w, m, dir_id, "", &len);
  if (!esc) return false;
  bool ok = intern(w, esc, len, id);
  free(esc);
  return ok;
}

/* The package entry for (this directory, package clause); created when new. dir_first is
 * the index of this directory's first package. */
static bool find_package(walker *w, const modctx *m, size_t dir_first, uint32_t dir_id,
                         const char *pkg, size_t pkg_len, uint32_t *index) {
  pgo_gosource *g = w->g;
  for (size_t i = dir_first; i < g->npackages; i++) {
    uint32_t nm = g->packages[i].name;
    if (pgo_strlen(&g->strings, nm) == pkg_len &&
        memcmp(pgo_str(&g->strings, nm), pkg, pkg_len) == 0) {
      *index = (uint32_t)i;
      return true;
    }
  }
  bool external_test = pkg_len > 5 && memcmp(pkg + pkg_len - 5, "_test", 5) == 0;
  bool is_main = pkg_len == 4 && memcmp(pkg, "main", 4) == 0;
  size_t esc_len;
  char *esc = dir_import_path(w, m, dir_id, external_test ? "_test" : "", &esc_len);
  if (!esc) return false;
  if (!PGO_RESERVE(g->packages, g->cap_packages, g->npackages + 1)) { free(esc); return oom(w->err); }
  pgo_gosrc_package *p = &g->packages[g->npackages];
  memset(p, 0, sizeof *p);
  bool ok = intern(w, esc, esc_len, &p->path) &&
            intern(w, is_main ? "main" : esc, is_main ? 4 : esc_len, &p->prefix) &&
            intern(w, pkg, pkg_len, &p->name);
  free(esc);
  if (!ok) return false;
  p->dir = dir_id;
  p->module = m->module;
  p->main = is_main;
  *index = (uint32_t)g->npackages++;
  return true;
}

/* Add the declaration `name` (a full profile name) found at file_id:line. */
static bool add_func(walker *w, const char *name, size_t n, uint32_t pkg_index, uint32_t file_id,
                     uint32_t line, bool test) {
  pgo_gosource *g = w->g;
  uint32_t name_id;
  if (!intern(w, name, n, &name_id)) return false;
  if (!PGO_RESERVE(g->funcs, g->cap_funcs, g->nfuncs + 1)) return oom(w->err);
  uint32_t idx = (uint32_t)g->nfuncs;
  pgo_gosrc_func *f = &g->funcs[idx];
  f->name = name_id;
  f->file = file_id;
  f->line = line;
  f->package = pkg_index;
  f->next_same = 0;
  f->test = test;
  g->nfuncs++;
  g->packages[pkg_index].functions++;
  if (!PGO_RESERVE(g->first, g->cap_first, g->nfirst + 1) ||
      !PGO_RESERVE(g->last, g->cap_last, g->nfirst + 1))
    return oom(w->err);
  uint32_t slot = (uint32_t)g->nfirst;
  bool found;
  if (!pgo_u64map_upsert(&g->by_name, name_id, &slot, &found)) return oom(w->err);
  if (found) {
    g->funcs[g->last[slot]].next_same = idx + 1;
    g->last[slot] = idx;
  } else {
    g->first[slot] = idx;
    g->last[slot] = idx;
    g->nfirst++;
  }
  return true;
}

/* Record the declarations of the file just scanned (w->decls) under its package. A
 * //go:linkname target is recorded under its own (already qualified) name. */
static bool add_decls(walker *w, uint32_t pkg_index, uint32_t file_id, bool test) {
  pgo_gosource *g = w->g;
  for (size_t k = 0; k < w->ndecls; k++) {
    const pgo_godecl *d = &w->decls[k];
    if (d->linkname) {
      if (!add_func(w, d->linkname, d->linkname_len, pkg_index, file_id, d->line, test)) return false;
      continue;
    }
    pgo_gosrc_package *p = &g->packages[pkg_index];
    const char *prefix = pgo_str(&g->strings, p->prefix);
    size_t plen = pgo_strlen(&g->strings, p->prefix);
    size_t sp = pgo_godecl_spell(d, NULL, 0);
    size_t need = plen + sp + 24;
    if (need > w->name_cap && !PGO_RESERVE(w->name, w->name_cap, need)) return oom(w->err);
    memcpy(w->name, prefix, plen);
    w->name[plen] = '.';
    size_t n = plen + 1;
    if (!d->recv && d->name_len == 4 && memcmp(d->name, "init", 4) == 0 && !d->generic) {
      n += (size_t)snprintf(w->name + n, need - n, "init.%u", (unsigned)p->inits++);
    } else {
      n += pgo_godecl_spell(d, w->name + n, need - n);
    }
    if (!add_func(w, w->name, n, pkg_index, file_id, d->line, test)) return false;
  }
  return true;
}

/* The package assembly in directory dir_id belongs to: the first non-test package read
 * from the directory's .go files. False when there is none. */
static bool asm_package(const walker *w, size_t dir_first, uint32_t *index) {
  const pgo_gosource *g = w->g;
  for (size_t i = dir_first; i < g->npackages; i++) {
    const char *nm = pgo_str(&g->strings, g->packages[i].name);
    size_t n = pgo_strlen(&g->strings, g->packages[i].name);
    if (n > 5 && memcmp(nm + n - 5, "_test", 5) == 0) continue;
    *index = (uint32_t)i;
    return true;
  }
  return false;
}

/* From one line of assembly, the symbol a `TEXT sym(SB)` (or a macro call such as
 * `CALLFN(·call16, 16)`) defines: "[pkg]·name" with '∕' for '/' in pkg. Writes the
 * profile name into w->name ("<prefix>.name" for "·name", "<pkg>.name" otherwise) and
 * returns its length; 0 when the line defines nothing this way, SIZE_MAX when out of
 * memory. */
static size_t asm_symbol(walker *w, const char *prefix, size_t plen, const char *s, size_t n) {
  static const char mid[] = "\xC2\xB7", slash[] = "\xE2\x88\x95";
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
  if (n - i > 5 && memcmp(s + i, "TEXT", 4) == 0 && (s[i + 4] == ' ' || s[i + 4] == '\t')) {
    i += 5;
  } else {                                     /* MACRO(·name, ...) */
    size_t st = i;
    while (i < n && (is_ident_char((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)) i++;
    if (i == st || i >= n || s[i] != '(') return 0;
    i++;
  }
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
  size_t st = i;
  while (i < n && s[i] != '(' && s[i] != '<' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' &&
         s[i] != ')')
    i++;
  const char *sym = s + st;
  size_t sl = i - st;
  const char *dot = NULL;
  for (size_t k = 0; k + 1 < sl; k++)
    if (memcmp(sym + k, mid, 2) == 0) dot = sym + k;
  if (!dot || dot + 2 == sym + sl) return 0;
  size_t need = plen + sl + 8;
  if (need > w->name_cap && !PGO_RESERVE(w->name, w->name_cap, need)) return SIZE_MAX;
  size_t o = 0;
  if (dot == sym) {
    memcpy(w->name, prefix, plen);
    o = plen;
  } else {
    for (const char *c = sym; c < dot;) {      /* '∕' -> '/' */
      if (dot - c >= 3 && memcmp(c, slash, 3) == 0) { w->name[o++] = '/'; c += 3; }
      else w->name[o++] = *c++;
    }
  }
  w->name[o++] = '.';
  size_t rest = (size_t)(sym + sl - (dot + 2));
  memcpy(w->name + o, dot + 2, rest);
  return o + rest;
}

/* Read the functions a .s file at w->abs defines (see asm_symbol). Comments and
 * preprocessor lines are not parsed further: a symbol inside a comment only adds a name,
 * which can hide a stale function but never invent one. */
static bool scan_asm_file(walker *w, size_t dir_first) {
  pgo_gosource *g = w->g;
  uint32_t pkg;
  if (!asm_package(w, dir_first, &pkg)) return true;   /* no Go package: not linked in */
  char rel[4096];
  snprintf(rel, sizeof rel, "%s", rel_of(w));
  size_t len = 0;
  if (!read_whole(w, &len)) {
    if (errno == ENOMEM) return oom(w->err);
    char why[160];
    if (errno == EFBIG) snprintf(why, sizeof why, "larger than max_file_bytes (%llu)", (unsigned long long)w->o->max_file_bytes);
    else snprintf(why, sizeof why, "unreadable: %s", strerror(errno));
    return add_skip_as(w, rel, why, errno == EFBIG ? PGO_SKIP_TOO_LARGE : PGO_SKIP_UNREADABLE,
                       g->packages[pkg].path);
  }
  uint32_t file_id;
  if (!intern(w, rel, strlen(rel), &file_id)) return false;
  g->asm_files++;
  const char *prefix_s = pgo_str(&g->strings, g->packages[pkg].prefix);
  size_t plen = pgo_strlen(&g->strings, g->packages[pkg].prefix);
  /* the prefix lives in the string table, which add_func may grow: copy it */
  char *prefix = strndup(prefix_s, plen);
  if (!prefix) return oom(w->err);
  uint32_t line = 0;
  bool ok = true;
  for (size_t i = 0; ok && i < len; line++) {
    const char *e = memchr(w->buf + i, '\n', len - i);
    size_t end = e ? (size_t)(e - w->buf) : len;
    size_t n = asm_symbol(w, prefix, plen, w->buf + i, end - i);
    if (n == SIZE_MAX) ok = oom(w->err);
    else if (n) ok = add_func(w, w->name, n, pkg, file_id, line + 1, false);
    i = end + 1;
  }
  free(prefix);
  return ok;
}

/* Scan one .go file at w->abs (rel path rel). A file that cannot be read or parsed is
 * recorded with its directory's import path: an audit cannot tell what it declares. */
static bool scan_file(walker *w, const modctx *m, size_t dir_first, uint32_t dir_id, bool test) {
  pgo_gosource *g = w->g;
  char rel[4096];
  snprintf(rel, sizeof rel, "%s", rel_of(w));
  size_t len = 0;
  if (!read_whole(w, &len)) {
    char why[160];
    int e = errno;
    if (e == ENOMEM) return oom(w->err);
    if (e == EFBIG) snprintf(why, sizeof why, "larger than max_file_bytes (%llu)", (unsigned long long)w->o->max_file_bytes);
    else snprintf(why, sizeof why, "unreadable: %s", strerror(e));
    uint32_t pkg;
    return dir_package_id(w, m, dir_id, &pkg) &&
           add_skip_as(w, rel, why, e == EFBIG ? PGO_SKIP_TOO_LARGE : PGO_SKIP_UNREADABLE, pkg);
  }
  w->ndecls = 0;
  pgo_gofile fi;
  pgo_error ferr;
  if (!pgo_gosource_scan_buffer(w->buf, len, collect_decl, w, &fi, &ferr)) {
    if (strcmp(ferr.code, "nomem") == 0) { *w->err = ferr; return false; }
    if (!w->o->lenient) {
      /* what and where only: the fix (an option, a flag) is the caller's to name, by the
       * code go_syntax */
      pgo_fail(w->err, ferr.code, "%s: %s; the scan of the source tree stops at this file",
               w->abs.s, ferr.message);
      return false;
    }
    char why[900];
    snprintf(why, sizeof why, "syntax error: %s", ferr.message);
    uint32_t pkg;
    return dir_package_id(w, m, dir_id, &pkg) && add_skip_as(w, rel, why, PGO_SKIP_SYNTAX, pkg);
  }
  if (fi.build_ignore) return add_skip(w, rel, "build constraint excludes it (//go:build ignore)");
  g->files++;
  g->lines += fi.lines;
  g->bytes += len;
  uint32_t pkg = 0, file_id = 0;
  if (!find_package(w, m, dir_first, dir_id, fi.package, fi.package_len, &pkg)) return false;
  g->packages[pkg].files++;
  if (!intern(w, rel, strlen(rel), &file_id)) return false;
  return add_decls(w, pkg, file_id, test);
}

static bool read_module_path(walker *w, char *out, size_t cap) {
  size_t len;
  if (!read_whole(w, &len)) return false;
  return pgo_gomod_module(w->buf, len, out, cap, w->err);
}

static bool walk_dir(walker *w, modctx m, int depth);

static bool walk_entries(walker *w, const modctx *m, dentry *e, size_t n, int depth) {
  pgo_gosource *g = w->g;
  size_t base = w->abs.len;
  uint32_t dir_id;
  const char *rel = rel_of(w);
  if (!intern(w, rel, strlen(rel), &dir_id)) return false;
  size_t dir_first = g->npackages;
  /* .go files: the non-test ones, then the _test.go ones (cmd/go's order); then .s */
  for (int pass = 0; pass < 3; pass++) {
    for (size_t i = 0; i < n; i++) {
      const char *nm = e[i].name;
      if (e[i].type != DE_FILE || nm[0] == '.' || nm[0] == '_') continue;
      bool ok;
      if (pass == 2) {
        if (!has_suffix(nm, ".s") || m->none) continue;
        if (!pb_set(&w->abs, base, nm, true)) return oom(w->err);
        ok = scan_asm_file(w, dir_first);
      } else {
        if (!has_suffix(nm, ".go")) continue;
        bool test = has_suffix(nm, "_test.go");
        if (test != (pass == 1)) continue;
        if (test && !w->o->include_tests) { g->test_files_excluded++; continue; }
        if (!pb_set(&w->abs, base, nm, true)) return oom(w->err);
        ok = m->none ? add_skip(w, rel_of(w), "outside every module (no go.mod above it)")
                     : scan_file(w, m, dir_first, dir_id, test);
      }
      w->abs.len = base;
      w->abs.s[base] = '\0';
      if (!ok) return false;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *nm = e[i].name;
    if (e[i].type != DE_DIR && e[i].type != DE_LINKDIR) continue;
    if (!pb_set(&w->abs, base, nm, true)) return oom(w->err);
    const char *r = rel_of(w);
    bool ok = true;
    bool vendor = strcmp(nm, "vendor") == 0 && !m->vendor && !m->none;
    if (nm[0] == '.' || nm[0] == '_') ok = add_skip(w, r, nm[0] == '.' ? "hidden directory" : "directory name starts with '_'");
    else if (strcmp(nm, "testdata") == 0) ok = add_skip(w, r, "testdata");
    else if (e[i].type == DE_LINKDIR) ok = add_skip(w, r, "symbolic link to a directory (not followed)");
    else if (vendor && !m->std && !w->o->include_vendor) ok = add_skip(w, r, "vendor (include_vendor = true to scan it)");
    else if (depth + 1 > MAX_DIR_DEPTH) ok = add_skip(w, r, "too deeply nested");
    else {
      modctx sub = *m;
      if (vendor && !m->std) {                 /* std's vendor/ is std: "vendor/golang.org/..." */
        sub.vendor = true;
        sub.strip = strlen(r);
      }
      ok = walk_dir(w, sub, depth + 1);
    }
    w->abs.len = base;
    w->abs.s[base] = '\0';
    if (!ok) return false;
  }
  return true;
}

/* A go.mod in the directory at w->abs (depth > 0): the directory is a module of its own.
 * Scanned with *m switched to it, or skipped (*skip set) under skip_nested or when its
 * go.mod is unreadable. */
static bool enter_nested(walker *w, modctx *m, bool *skip) {
  size_t base = w->abs.len;
  char modpath[1024] = "";
  pgo_error merr;
  pgo_error *saved = w->err;
  w->err = &merr;
  bool have = pb_set(&w->abs, base, "go.mod", true) && read_module_path(w, modpath, sizeof modpath);
  w->err = saved;
  w->abs.len = base;
  w->abs.s[base] = '\0';
  const char *r = rel_of(w);
  uint32_t dir_id;
  if (!intern(w, r, strlen(r), &dir_id)) return false;
  if (!have) {
    *skip = true;
    uint32_t pkg;
    return dir_package_id(w, m, dir_id, &pkg) &&
           add_skip_as(w, r, "nested module with an unreadable go.mod", PGO_SKIP_UNREADABLE, pkg);
  }
  uint32_t mod_id;
  if (!intern(w, modpath, strlen(modpath), &mod_id)) return false;
  *skip = w->o->skip_nested;
  if (!add_module(w, mod_id, r, !*skip)) return false;
  if (*skip) {
    char why[1200];
    snprintf(why, sizeof why, "nested module %s (its own go.mod; include_nested = false left it out)", modpath);
    size_t elen = pgo_go_path_to_prefix(modpath, strlen(modpath), NULL, 0);
    char *esc = malloc(elen + 1);
    if (!esc) return oom(w->err);
    pgo_go_path_to_prefix(modpath, strlen(modpath), esc, elen + 1);
    uint32_t pkg;
    bool ok = intern(w, esc, elen, &pkg) && add_skip_as(w, r, why, PGO_SKIP_NESTED, pkg);
    free(esc);
    return ok;
  }
  m->module = mod_id;
  m->strip = strcmp(r, ".") == 0 ? 0 : strlen(r);
  m->std = strcmp(modpath, "std") == 0;
  m->vendor = false;
  m->none = false;
  return true;
}

/* Walk the directory at w->abs. */
static bool walk_dir(walker *w, modctx m, int depth) {
  dentry *e;
  size_t n;
  if (!list_dir(&w->abs, &e, &n)) {
    if (errno == ENOMEM) return oom(w->err);
    if (depth == 0)
      return pgo_fail(w->err, errno == ENOENT ? "not_found" : "io", "%s: %s", w->abs.s, strerror(errno));
    char why[160];
    snprintf(why, sizeof why, "unreadable: %s", strerror(errno));
    uint32_t dir_id, pkg;
    const char *r = rel_of(w);
    return intern(w, r, strlen(r), &dir_id) && dir_package_id(w, &m, dir_id, &pkg) &&
           add_skip_as(w, r, why, PGO_SKIP_UNREADABLE, pkg);
  }
  if (depth > 0 && !m.vendor) {
    for (size_t i = 0; i < n; i++) {
      if (e[i].type != DE_FILE || strcmp(e[i].name, "go.mod") != 0) continue;
      bool skip = false;
      if (!enter_nested(w, &m, &skip) || skip) {
        bool ok = skip;
        free_entries(e, n);
        return ok;
      }
      break;
    }
  }
  bool ok = walk_entries(w, &m, e, n, depth);
  free_entries(e, n);
  return ok;
}

static bool exists_in_root(walker *w, const char *name) {
  if (!pb_set(&w->abs, w->root_len, name, true)) return false;
  struct stat st;
  bool ok = stat(w->abs.s, &st) == 0 && S_ISREG(st.st_mode);
  w->abs.len = w->root_len;
  w->abs.s[w->root_len] = '\0';
  return ok;
}

bool pgo_gosource_scan_tree(const char *root, const pgo_gosource_options *opts,
                            pgo_gosource *out, pgo_error *err) {
  pgo_gosource_options defaults;
  if (!opts) { pgo_gosource_options_default(&defaults); opts = &defaults; }
  memset(out, 0, sizeof *out);
  if (!pgo_strtab_init(&out->strings)) return oom(err);
  pgo_u64map_init(&out->by_name);
  walker w;
  memset(&w, 0, sizeof w);
  w.o = opts;
  w.g = out;
  w.err = err;
  bool ok = false;
  size_t rl = strlen(root);
  while (rl > 1 && root[rl - 1] == '/') rl--;
  char *r = strndup(root, rl);
  if (!r || !pb_set(&w.abs, 0, r, false)) { free(r); oom(err); goto done; }
  free(r);
  w.root_len = w.abs.len;
  if (!intern(&w, "", 0, &w.empty_id)) goto done;
  struct stat st;
  if (stat(w.abs.s, &st) != 0) {
    pgo_fail(err, errno == ENOENT ? "not_found" : "io", "%s: %s", w.abs.s, strerror(errno));
    goto done;
  }
  if (!S_ISDIR(st.st_mode)) {
    pgo_fail(err, "not_dir", "%s: not a directory (pass the module root, the directory holding go.mod)", w.abs.s);
    goto done;
  }
  char modpath[1024] = "";
  bool workspace = false;
  if (opts->module && *opts->module) {
    snprintf(modpath, sizeof modpath, "%s", opts->module);
  } else {
    if (!pb_set(&w.abs, w.root_len, "go.mod", true)) { oom(err); goto done; }
    size_t len;
    if (!read_whole(&w, &len)) {
      int e = errno;
      w.abs.len = w.root_len;
      w.abs.s[w.root_len] = '\0';
      if (e == ENOENT && exists_in_root(&w, "go.work")) workspace = true;
      else if (e == ENOENT)
        pgo_fail(err, "no_go_mod", "%s/go.mod: no go.mod: pass the module root (the directory holding go.mod), or the module path as option 'module'", w.abs.s);
      else if (e == ENOMEM) oom(err);
      else pgo_fail(err, "io", "%s/go.mod: %s", w.abs.s, strerror(e));
      if (!workspace) goto done;
    } else if (!pgo_gomod_module(w.buf, len, modpath, sizeof modpath, err)) {
      pgo_error_prefix(err, w.abs.s);
      goto done;
    }
    w.abs.len = w.root_len;
    w.abs.s[w.root_len] = '\0';
  }
  modctx m = { 0, 0, strcmp(modpath, "std") == 0, false, workspace };
  if (!intern(&w, modpath, strlen(modpath), &m.module)) goto done;
  out->module = m.module;
  if (!workspace && !add_module(&w, m.module, ".", true)) goto done;
  ok = walk_dir(&w, m, 0);
done:
  free(w.abs.s);
  free(w.buf);
  free(w.decls);
  free(w.name);
  if (!ok) pgo_gosource_free(out);
  return ok;
}

typedef struct sort_ent { const char *s; uint32_t len, idx; } sort_ent;

static int sort_ent_cmp(const void *a, const void *b) {
  const sort_ent *x = a, *y = b;
  uint32_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

bool pgo_gosource_sorted(const pgo_gosource *g, uint32_t *order) {
  sort_ent *e = malloc((g->nfirst ? g->nfirst : 1) * sizeof *e);
  if (!e) return false;
  for (size_t i = 0; i < g->nfirst; i++) {
    uint32_t name = g->funcs[g->first[i]].name;
    e[i].s = pgo_str(&g->strings, name);
    e[i].len = pgo_strlen(&g->strings, name);
    e[i].idx = g->first[i];
  }
  if (g->nfirst > 1) qsort(e, g->nfirst, sizeof *e, sort_ent_cmp);
  for (size_t i = 0; i < g->nfirst; i++) order[i] = e[i].idx;
  free(e);
  return true;
}

/* }==================================================================================== */

/* {====================================================================================
 * Finding files
 * ===================================================================================== */

static bool in_list(const char *const *list, const char *s, int mode) {
  if (!list) return false;
  for (int i = 0; list[i]; i++) {
    size_t n = strlen(list[i]);
    if (mode == 0 && strcmp(s, list[i]) == 0) return true;
    if (mode == 1 && has_suffix(s, list[i])) return true;
    if (mode == 2 && strncmp(s, list[i], n) == 0) return true;
  }
  return false;
}

typedef struct finder {
  const pgo_find_spec *spec;
  pgo_found_fn fn;
  void *ctx;
  pgo_error *err;
  pathbuf abs;
  size_t root_len;
} finder;

static bool find_walk(finder *f, uint32_t depth) {
  dentry *e;
  size_t n;
  if (!list_dir(&f->abs, &e, &n)) {
    if (depth == 0)
      return pgo_fail(f->err, errno == ENOENT ? "not_found" : "io", "%s: %s", f->abs.s, strerror(errno));
    return errno == ENOMEM ? oom(f->err) : true;   /* an unreadable subdirectory: skip */
  }
  size_t base = f->abs.len;
  bool ok = true;
  for (size_t i = 0; ok && i < n; i++) {
    const char *nm = e[i].name;
    if (!pb_set(&f->abs, base, nm, true)) { ok = oom(f->err); break; }
    const char *rel = f->abs.s + f->root_len + 1;
    if (e[i].type == DE_FILE) {
      if (in_list(f->spec->names, nm, 0) || in_list(f->spec->suffixes, nm, 1) ||
          in_list(f->spec->prefixes, nm, 2))
        ok = f->fn(f->ctx, rel, f->err);
    } else if (e[i].type == DE_DIR) {
      bool enter = true;
      if (nm[0] == '.') enter = in_list(f->spec->hidden_dirs, nm, 0);
      else if (strcmp(nm, "node_modules") == 0 || strcmp(nm, "testdata") == 0) enter = false;
      else if (strcmp(nm, "vendor") == 0) enter = f->spec->include_vendor;
      if (f->spec->max_depth && depth + 1 >= f->spec->max_depth) enter = false;
      if (depth + 1 > MAX_DIR_DEPTH) enter = false;
      if (enter) ok = find_walk(f, depth + 1);
    }
    f->abs.len = base;
    f->abs.s[base] = '\0';
  }
  free_entries(e, n);
  return ok;
}

bool pgo_find_files(const char *root, const pgo_find_spec *spec, pgo_found_fn fn, void *ctx,
                    pgo_error *err) {
  finder f;
  memset(&f, 0, sizeof f);
  f.spec = spec;
  f.fn = fn;
  f.ctx = ctx;
  f.err = err;
  size_t rl = strlen(root);
  while (rl > 1 && root[rl - 1] == '/') rl--;
  char *r = strndup(root, rl);
  if (!r || !pb_set(&f.abs, 0, r, false)) { free(r); free(f.abs.s); return oom(err); }
  free(r);
  f.root_len = f.abs.len;
  bool ok = find_walk(&f, 0);
  free(f.abs.s);
  return ok;
}

/* }==================================================================================== */
