/* regex.h: Go's regular expressions (RE2 syntax), as pprof's filters take them, matched
 * by PCRE2 (Debian's libpcre2-8).
 *
 * A pattern is first checked against RE2's syntax: what Go's regexp rejects is rejected
 * here with a message that says why (backreferences, lookahead and lookbehind, atomic
 * groups, possessive quantifiers, recursion, conditionals, comments, escapes Go does not
 * know such as \e or \Z, repeat counts over 1000). What passes is compiled by PCRE2 in UTF
 * mode with RE2's meanings: \d \w \s \b ASCII-only (no UCP), \pL and \p{Greek} Unicode,
 * `$` only at the end of the text (DOLLAR_ENDONLY), `.` not matching "\n", invalid UTF-8
 * in a subject matched like Go (never an error). Matching is unanchored ("does the
 * pattern occur in s"), as pprof's.
 *
 * PCRE2 backtracks where RE2 does not: a match that exceeds the match limit (1,000,000
 * steps by default) returns -1 and marks the regex as having failed, so a caller can
 * report it instead of silently taking "no match". No global state: a pgo_regex holds
 * its own match data and is used by one thread at a time. */
#ifndef PGOLUA_REGEX_H
#define PGOLUA_REGEX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

typedef struct pgo_regex pgo_regex;

/* Compile pattern (NUL-terminated). NULL on failure with err code "bad_regex" (message:
 * what is wrong and where, without the pattern: the caller names the option and the
 * pattern) or "nomem". match_limit 0 = the default (1,000,000). */
pgo_regex *pgo_regex_compile(const char *pattern, uint32_t match_limit, pgo_error *err);

/* 1 when the pattern occurs in s[0..len), 0 when not, -1 when the match limit was hit
 * (the regex is then marked: pgo_regex_failed). */
int pgo_regex_match(pgo_regex *re, const char *s, size_t len);

/* Whether a match hit the limit; if so, the start of the first subject it failed on. */
bool pgo_regex_failed(const pgo_regex *re, const char **subject);

void pgo_regex_free(pgo_regex *re);

#endif
