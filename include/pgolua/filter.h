/* filter.h: pprof's sample filters (focus, ignore, hide, show, show_from, tagfocus,
 * tagignore, tagshow, taghide, prune_from), applied in pprof's order
 * (shared/docs/pprof-pgo-reference.md, section d) to build a NEW profile; the source
 * profile is never changed. No Lua here.
 *
 * Regular expressions are Go's (RE2 syntax), as pprof takes them: src/core/regex.c checks
 * the syntax and matches with PCRE2 (pgolua/regex.h). They match unanchored, like pprof's.
 * A construct Go's regexp rejects (backreferences, lookaround, possessive quantifiers,
 * ...) fails with "bad_regex"; so does a match that exceeds PCRE2's backtracking limit. */
#ifndef PGOLUA_FILTER_H
#define PGOLUA_FILTER_H
#include <stddef.h>
#include "pgolua/core.h"
#include "pgolua/profile.h"

typedef struct pgo_filter_options {
  /* NULL or "" = not set */
  const char *focus, *ignore, *hide, *show, *show_from, *prune_from;
  const char *tagfocus, *tagignore, *tagshow, *taghide;
} pgo_filter_options;

/* What pprof prints on stderr while filtering, in its order: "Focus expression matched
 * no samples", "tagfocus:Interpreted '4kb' as range, not regexp", ... */
typedef struct pgo_filter_notes {
  char **text;
  size_t count;
} pgo_filter_notes;

void pgo_filter_notes_free(pgo_filter_notes *n);

/* A new profile with the samples that pass the filters (their stacks and label sets
 * reduced as pprof reduces them). Strings, mappings, functions and locations keep their
 * indices (unused ones are kept, as pprof's -proto output keeps them); samples with the
 * same resulting stack and labels are combined. NULL on failure with err code
 * "bad_regex" or "bad_tag_filter" (the caller's mistake; the message names the option)
 * or "nomem". notes is filled on success (free with pgo_filter_notes_free). */
pgo_profile *pgo_profile_filter(const pgo_profile *p, const pgo_filter_options *o,
                                pgo_filter_notes *notes, pgo_error *err);

#endif
