/* regex_filter.c: libFuzzer target for Go-syntax regular expressions (src/core/regex.c:
 * the RE2 syntax check, then PCRE2) and for the name filters that take them (focus,
 * ignore, hide, show, show_from, prune_from, tagshow) on a profile built from the input.
 *
 * Input: a pattern, a NUL byte, then names separated by "\n" or NUL (at most MAX_NAMES of
 * at most MAX_NAME bytes). Each name becomes a function with one sample of its own (value
 * i + 1); one more sample has no stack.
 *
 * Oracles; a violation prints what broke and aborts, so libFuzzer keeps the input:
 *   - compiling succeeds, or fails with "bad_regex" (or "nomem") and a message;
 *   - a match answers 1, 0 or -1 (the match limit), the same twice, and -1 marks the regex;
 *   - a valid UTF-8 name, quoted as Go's regexp.QuoteMeta quotes, compiles and matches
 *     itself, alone and inside other text;
 *   - focus=R keeps exactly the samples whose name (or file name) R matches, as this
 *     target's own matches say, and ignore=R exactly the others with a stack; both fail
 *     with "bad_regex" when R does not compile or a match hit the limit;
 *   - the other name filters succeed or fail with "bad_regex" alike, and what they keep
 *     adds up to no more than the profile. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/filter.h"
#include "pgolua/profile.h"
#include "pgolua/regex.h"

enum { MAX_PATTERN = 256, MAX_NAMES = 16, MAX_NAME = 128, STACKLESS_VALUE = 1000 };

static void finding(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void finding(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("regex_filter: FINDING: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static void expect_bad_regex(const char *call, const pgo_error *err) {
  if (!err->code[0] || !err->message[0]) finding("%s failed without a code or message", call);
  if (strcmp(err->code, "bad_regex") != 0 && strcmp(err->code, "nomem") != 0)
    finding("%s failed with code '%s': %s", call, err->code, err->message);
}

/* Whether s[0..n) is valid UTF-8 as Go reads it (no surrogates, no overlong forms). */
static bool valid_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

/* Go's regexp.QuoteMeta: a backslash before each of \.+*?()|[]{}^$ */
static void quote_meta(const char *s, size_t n, char *out) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (strchr("\\.+*?()|[]{}^$", s[i])) out[w++] = '\\';
    out[w++] = s[i];
  }
  out[w] = '\0';
}

static void check_literal(const char *name, size_t n) {
  if (!valid_utf8((const unsigned char *)name, n)) return;
  char quoted[2 * MAX_NAME + 1], framed[MAX_NAME + 8];
  quote_meta(name, n, quoted);
  pgo_error err;
  pgo_regex *re = pgo_regex_compile(quoted, 0, &err);
  if (!re) {
    if (strcmp(err.code, "nomem") == 0) return;
    finding("the quoted literal '%s' does not compile: %s", quoted, err.message);
  }
  snprintf(framed, sizeof framed, "ab%.*scd", (int)n, name);
  if (pgo_regex_match(re, name, n) != 1 || pgo_regex_match(re, framed, n + 4) != 1)
    finding("the quoted literal '%s' does not match '%.*s'", quoted, (int)n, name);
  pgo_regex_free(re);
}

typedef struct {
  char text[MAX_NAME + 1];
  size_t len;
} name;

/* A profile with one function, location and sample (value i + 1) per name, and a sample
 * without a stack. NULL when out of memory. */
static pgo_profile *build_profile(const name *names, size_t n) {
  pgo_profile *p = pgo_profile_new();
  if (!p) return NULL;
  pgo_stack_index stacks;
  pgo_sample_index samples;
  pgo_stack_index_init(&stacks);
  pgo_sample_index_init(&samples);
  pgo_value_type vt;
  uint32_t empty;
  bool ok = pgo_profile_intern(p, "samples", 7, &vt.type) && pgo_profile_intern(p, "count", 5, &vt.unit) &&
            pgo_profile_intern(p, "", 0, &empty) && pgo_profile_set_sample_types(p, &vt, 1);
  for (size_t i = 0; ok && i < n; i++) {
    pgo_function f = {.id = i + 1, .filename = empty};
    uint32_t fi = 0, li = 0, node = 0;
    ok = pgo_profile_intern(p, names[i].text, names[i].len, &f.name);
    f.system_name = f.name;
    if (ok) ok = pgo_profile_add_function(p, &f, &fi);
    pgo_line line = {.function = fi, .line = 1};
    pgo_location loc = {.id = i + 1, .address = 0x1000 + i, .mapping = PGO_NONE};
    if (ok) ok = pgo_profile_add_location(p, &loc, &line, 1, &li);
    if (ok) ok = pgo_profile_stack(p, &stacks, &li, 1, &node);
    int64_t v = (int64_t)i + 1;
    if (ok) ok = pgo_profile_add_sample(p, &samples, node, 0, &v);
  }
  int64_t stackless = STACKLESS_VALUE;
  if (ok) ok = pgo_profile_add_sample(p, &samples, 0, 0, &stackless);
  pgo_stack_index_free(&stacks);
  pgo_sample_index_free(&samples);
  if (!ok) {
    pgo_profile_free(p);
    return NULL;
  }
  return p;
}

static int64_t total(const pgo_profile *p) {
  int64_t t = 0;
  for (size_t i = 0; i < p->nsamples; i++) t += pgo_sample_values(p, i)[0];
  return t;
}

/* Run filter o; *kept = the total it keeps. false when it failed (with bad_regex). */
static bool run(const pgo_profile *p, const pgo_filter_options *o, const char *which, int64_t *kept) {
  pgo_filter_notes notes;
  pgo_error err;
  pgo_profile *q = pgo_profile_filter(p, o, &notes, &err);
  if (!q) {
    expect_bad_regex(which, &err);
    return false;
  }
  for (size_t i = 0; i < notes.count; i++)
    if (!notes.text[i]) finding("%s: note %zu is NULL", which, i);
  pgo_filter_notes_free(&notes);
  *kept = total(q);
  pgo_profile_free(q);
  return true;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  const unsigned char *nul = memchr(data, '\0', size);
  size_t plen = nul ? (size_t)(nul - data) : size;
  if (plen == 0 || plen > MAX_PATTERN) return 0;
  char pattern[MAX_PATTERN + 1];
  memcpy(pattern, data, plen);
  pattern[plen] = '\0';

  name names[MAX_NAMES];
  size_t n = 0;
  for (size_t i = plen + 1, start = i; i <= size && n < MAX_NAMES; i++) {
    if (i < size && data[i] != '\n' && data[i] != '\0') continue;
    if (i > start && i - start <= MAX_NAME) {
      names[n].len = i - start;
      memcpy(names[n].text, data + start, names[n].len);
      names[n].text[names[n].len] = '\0';
      n++;
    }
    start = i + 1;
  }

  pgo_error err;
  pgo_regex *re = pgo_regex_compile(pattern, 0, &err);
  if (!re) expect_bad_regex("pgo_regex_compile", &err);
  int64_t want_focus = 0, want_ignore = 0;
  bool limit_hit = false, any_over = false;
  for (size_t i = 0; i < n; i++) {
    check_literal(names[i].text, names[i].len);
    if (!re) continue;
    int m = pgo_regex_match(re, names[i].text, names[i].len);
    if (m < -1 || m > 1) finding("match returned %d", m);
    if (pgo_regex_match(re, names[i].text, names[i].len) != m) finding("a second match differs");
    int empty = pgo_regex_match(re, "", 0);   /* the file name of every function */
    any_over = any_over || m == -1 || empty == -1;
    /* as the filter asks: the name, then (no match there) the file name */
    if (m == -1 || (m == 0 && empty == -1)) limit_hit = true;
    else if (m == 1 || empty == 1) want_focus += (int64_t)i + 1;
    else want_ignore += (int64_t)i + 1;
  }
  if (re && any_over != pgo_regex_failed(re, NULL))
    finding("a match %s the limit but the regex is %smarked", any_over ? "hit" : "did not hit",
            any_over ? "not " : "");
  if (re) pgo_regex_free(re);

  pgo_profile *p = build_profile(names, n);
  if (!p) return 0;
  int64_t all = total(p), kept;
  pgo_filter_options focus = {.focus = pattern}, ignore = {.ignore = pattern};
  bool should_fail = !re || limit_hit;
  if (run(p, &focus, "focus", &kept) == should_fail)
    finding("focus %s where the pattern %s", should_fail ? "succeeded" : "failed",
            should_fail ? "fails" : "compiles and matches");
  else if (!should_fail && kept != want_focus)
    finding("focus kept %" PRId64 ", the names it matches add up to %" PRId64, kept, want_focus);
  if (run(p, &ignore, "ignore", &kept) == should_fail)
    finding("ignore %s where the pattern %s", should_fail ? "succeeded" : "failed",
            should_fail ? "fails" : "compiles and matches");
  else if (!should_fail && kept != want_ignore)
    finding("ignore kept %" PRId64 ", the names it does not match add up to %" PRId64, kept,
            want_ignore);

  const pgo_filter_options others[] = {
    {.hide = pattern}, {.show = pattern}, {.show_from = pattern}, {.prune_from = pattern},
    {.tagshow = pattern}, {.focus = pattern, .ignore = pattern, .hide = pattern},
  };
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    if (run(p, &others[i], "name filter", &kept) && (kept < 0 || kept > all))
      finding("filter %zu kept %" PRId64 " of %" PRId64, i, kept, all);
  pgo_profile_free(p);
  return 0;
}
