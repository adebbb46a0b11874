/* regex.c: RE2-syntax regular expressions over PCRE2 (include/pgolua/regex.h).
 *
 * Two steps: re2_check() walks the pattern once and rejects what Go's regexp/syntax
 * rejects but PCRE2 would accept (so a pattern means the same thing, or fails, in pgolua
 * and in pprof); PCRE2 then compiles it with the options that give RE2's meanings. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/regex.h"

#define DEFAULT_MATCH_LIMIT 1000000u
#define MAX_REPEAT 1000                 /* Go's regexp/syntax limit on {n,m} */

struct pgo_regex {
  pcre2_code *code;
  pcre2_match_data *md;
  pcre2_match_context *mctx;
  bool failed;
  char failed_on[81];
};

static bool bad(pgo_error *err, size_t at, const char *what) {
  return pgo_fail(err, "bad_regex", "%s at offset %zu (Go's RE2 syntax)", what, at);
}

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* An escape at p[i] == '\\' (in or out of a class). Returns the index after it, or 0
 * with err filled. */
static size_t check_escape(const char *p, size_t n, size_t i, bool in_class, pgo_error *err) {
  if (i + 1 >= n) { bad(err, i, "trailing backslash"); return 0; }
  char c = p[i + 1];
  if (c >= '1' && c <= '9') {
    bad(err, i, "backreference \\N: Go's regexp has no backreferences");
    return 0;
  }
  if (!is_letter(c)) return i + 2;             /* \0 (octal), punctuation */
  /* the letters RE2 knows: \a \f \t \n \r \v \x \p \P \d \D \s \S \w \W, and outside a
   * class \b \B \A \z \Q \E \C */
  const char *ok = in_class ? "aftnrvxpPdDsSwW" : "aftnrvxpPdDsSwWbBAzQEC";
  if (!strchr(ok, c)) {
    char what[96];
    snprintf(what, sizeof what, "invalid escape sequence \\%c", c);
    bad(err, i, what);
    return 0;
  }
  if (c == 'Q') {                              /* literal text up to \E */
    const char *e = NULL;
    for (size_t k = i + 2; k + 1 < n; k++)
      if (p[k] == '\\' && p[k + 1] == 'E') { e = p + k; break; }
    return e ? (size_t)(e - p) + 2 : n;
  }
  return i + 2;
}

/* A `(?` construct at p[i]. Returns the index after the part checked, or 0 (err). */
static size_t check_group(const char *p, size_t n, size_t i, pgo_error *err) {
  size_t k = i + 2;
  if (k >= n) { bad(err, i, "missing argument to (?"); return 0; }
  char c = p[k];
  if (c == ':') return k + 1;
  if (c == 'P' && k + 1 < n && p[k + 1] == '<') return k + 2;          /* (?P<name> */
  if (c == '<' && k + 1 < n && (p[k + 1] == '=' || p[k + 1] == '!')) {
    bad(err, i, "lookbehind (?<= (?<! : Go's regexp has no lookaround");
    return 0;
  }
  if (c == '<') return k + 1;                                           /* (?<name> */
  if (c == '=' || c == '!') { bad(err, i, "lookahead (?= (?! : Go's regexp has no lookaround"); return 0; }
  if (c == '>') { bad(err, i, "atomic group (?> : not RE2 syntax"); return 0; }
  if (c == '#') { bad(err, i, "comment (?# : not RE2 syntax"); return 0; }
  if (c == '(') { bad(err, i, "conditional (?( : not RE2 syntax"); return 0; }
  if (c == '|') { bad(err, i, "branch reset (?| : not RE2 syntax"); return 0; }
  /* flags: (?imsU-imsU) or (?imsU-imsU:...) */
  size_t st = k;
  bool neg = false;
  while (k < n && (strchr("imsU", p[k]) || (p[k] == '-' && !neg))) {
    if (p[k] == '-') neg = true;
    k++;
  }
  if (k < n && k > st && (p[k] == ')' || p[k] == ':')) return k + 1;
  bad(err, i, "invalid or unsupported Perl syntax after (? (recursion, callouts and verbs are not RE2)");
  return 0;
}

/* {n}, {n,}, {n,m} at p[i] == '{': the counts must be <= 1000. Returns the index of the
 * closing brace + 1, or i + 1 when this is not a repeat (a literal '{' in RE2), 0 on
 * error. */
static size_t check_repeat(const char *p, size_t n, size_t i, pgo_error *err) {
  size_t k = i + 1;
  long v[2] = { -1, -1 };
  for (int part = 0; part < 2; part++) {
    size_t st = k;
    long x = 0;
    while (k < n && p[k] >= '0' && p[k] <= '9') {
      if (x <= 100000) x = x * 10 + (p[k] - '0');
      k++;
    }
    if (k > st) v[part] = x;
    else if (part == 0) return i + 1;
    if (k < n && p[k] == ',' && part == 0) { k++; continue; }
    break;
  }
  if (k >= n || p[k] != '}') return i + 1;
  if (v[0] > MAX_REPEAT || v[1] > MAX_REPEAT) { bad(err, i, "invalid repeat count (over 1000)"); return 0; }
  return k + 1;
}

static bool re2_check(const char *p, pgo_error *err) {
  size_t n = strlen(p), i = 0;
  enum { PLAIN, QUANT, LAZY } state = PLAIN;   /* what the previous item was */
  while (i < n) {
    char c = p[i];
    if (c == '*' || c == '+' || c == '?') {
      if (state == QUANT && c == '?') { state = LAZY; i++; continue; }
      if (state != PLAIN)
        return bad(err, i, "invalid nested repetition operator (possessive quantifiers are not RE2)");
      state = QUANT;
      i++;
      continue;
    }
    if (c == '{') {
      size_t k = check_repeat(p, n, i, err);
      if (!k) return false;
      if (k > i + 1) {
        if (state != PLAIN) return bad(err, i, "invalid nested repetition operator");
        state = QUANT;
        i = k;
        continue;
      }
    }
    state = PLAIN;
    if (c == '\\') {
      i = check_escape(p, n, i, false, err);
      if (!i) return false;
    } else if (c == '[') {
      size_t k = i + 1;
      if (k < n && p[k] == '^') k++;
      if (k < n && p[k] == ']') k++;
      while (k < n && p[k] != ']') {
        if (p[k] == '[' && k + 1 < n && p[k + 1] == ':') {
          const char *e = strstr(p + k + 2, ":]");
          k = e ? (size_t)(e - p) + 2 : n;
        } else if (p[k] == '\\') {
          k = check_escape(p, n, k, true, err);
          if (!k) return false;
        } else {
          k++;
        }
      }
      if (k >= n) return bad(err, i, "missing closing ]");
      i = k + 1;
    } else if (c == '(' && i + 1 < n && p[i + 1] == '?') {
      i = check_group(p, n, i, err);
      if (!i) return false;
    } else {
      i++;
    }
  }
  return true;
}

pgo_regex *pgo_regex_compile(const char *pattern, uint32_t match_limit, pgo_error *err) {
  if (!re2_check(pattern, err)) return NULL;
  pgo_regex *re = calloc(1, sizeof *re);
  pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
  if (!re || !cctx) goto nomem;
  pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
  int code;
  PCRE2_SIZE off;
  re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                           PCRE2_NO_AUTO_CAPTURE, &code, &off, cctx);
  pcre2_compile_context_free(cctx);
  cctx = NULL;
  if (!re->code) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(code, msg, sizeof msg);
    pgo_fail(err, "bad_regex", "%s at offset %zu", (const char *)msg, (size_t)off);
    free(re);
    return NULL;
  }
  re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
  re->mctx = pcre2_match_context_create(NULL);
  if (!re->md || !re->mctx) goto nomem;
  pcre2_set_match_limit(re->mctx, match_limit ? match_limit : DEFAULT_MATCH_LIMIT);
  pcre2_set_depth_limit(re->mctx, 10000);
  return re;
nomem:
  pcre2_compile_context_free(cctx);
  pgo_regex_free(re);
  pgo_fail(err, "nomem", "out of memory compiling a regular expression");
  return NULL;
}

int pgo_regex_match(pgo_regex *re, const char *s, size_t len) {
  int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mctx);
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (!re->failed) {                           /* limits, or anything else: not "no match" */
    re->failed = true;
    size_t n = len < sizeof re->failed_on - 1 ? len : sizeof re->failed_on - 1;
    memcpy(re->failed_on, s, n);
    re->failed_on[n] = '\0';
  }
  return -1;
}

bool pgo_regex_failed(const pgo_regex *re, const char **subject) {
  if (subject) *subject = re->failed ? re->failed_on : NULL;
  return re->failed;
}

void pgo_regex_free(pgo_regex *re) {
  if (!re) return;
  pcre2_match_data_free(re->md);
  pcre2_match_context_free(re->mctx);
  pcre2_code_free(re->code);
  free(re);
}
