/* edit.h: edits for policy scripts. Every function returns a NEW profile (the input is
 * only read) or NULL with err filled ("nomem", "overflow", "bad_regex"). */
#ifndef PGOLUA_EDIT_H
#define PGOLUA_EDIT_H
#include <stdbool.h>
#include <stddef.h>
#include "pgolua/profile.h"

/* A borrowed string; s == NULL means "no change". */
typedef struct { const char *s; size_t len; } pgo_strref;

/* New names per function / per mapping; any array may be NULL (= no change at all). */
typedef struct {
  const pgo_strref *fn_name;          /* [nfunctions] */
  const pgo_strref *fn_system_name;   /* [nfunctions] */
  const pgo_strref *fn_filename;      /* [nfunctions] */
  const pgo_strref *mapping_file;     /* [nmappings] */
} pgo_name_edits;

/* A copy of p with the given names replaced. Ids, samples and order are unchanged (two
 * functions renamed to the same name stay two functions, which is valid). */
pgo_profile *pgo_profile_edit_names(const pgo_profile *p, const pgo_name_edits *e,
                                    pgo_error *err);

/* Values x factor, rounded half away from zero (pprof Scale). factors: one per sample, or
 * NULL to use `factor` for all; a factor of exactly 1 copies values exactly. Samples that
 * end up all zero are dropped and the result is compacted (pprof Compact). Fails with
 * "overflow" when a value leaves the int64 range. */
pgo_profile *pgo_profile_scale(const pgo_profile *p, const double *factors, double factor,
                               pgo_error *err);

/* Keep only the frames (location lines) whose function has keep_fn[function] set: other
 * lines are removed from their locations, locations left without lines leave the stacks,
 * and samples left without frames are dropped (pprof's -show). Compacted. */
pgo_profile *pgo_profile_keep_functions(const pgo_profile *p, const bool *keep_fn,
                                        pgo_error *err);

/* mask[i] = function i's name starts with one of the n prefixes. */
void pgo_functions_with_prefix(const pgo_profile *p, const pgo_strref *prefixes, size_t n,
                               bool *mask);
/* mask[i] = function i's name matches the POSIX extended regular expression (unanchored,
 * as pprof matches). Fails with "bad_regex" and the compiler's message. */
bool pgo_functions_matching(const pgo_profile *p, const char *regex, bool *mask,
                            pgo_error *err);
/* sample_mask[i] = sample i has a frame with a line whose function is in fn_mask. */
bool pgo_samples_with_functions(const pgo_profile *p, const bool *fn_mask, bool *sample_mask);

/* ---- anonymization ------------------------------------------------------------------ */

typedef enum { PGO_ANON_LABELS_KEEP, PGO_ANON_LABELS_DROP, PGO_ANON_LABELS_HASH } pgo_anon_labels;

typedef struct {
  const pgo_strref *allow; size_t nallow;              /* function-name prefixes kept */
  const pgo_strref *allow_files; size_t nallow_files;  /* file-path prefixes kept */
  const char *salt; size_t saltlen;                    /* mixed into every pseudonym */
  pgo_anon_labels labels;                              /* string label values */
  bool drop_comments;
} pgo_anon_opts;

/* Replace names with pseudonyms: function name and system name unless the name starts
 * with an allowed prefix; a function's file name unless every function using that file is
 * allowed or the path starts with an allowed file prefix; mapping file names unless they
 * start with an allowed file prefix. drop_frames/keep_frames (regexps over real names)
 * are cleared. Build ids, addresses, line numbers and doc_url are kept. */
pgo_profile *pgo_profile_anonymize(const pgo_profile *p, const pgo_anon_opts *o,
                                   pgo_error *err);

/* The pseudonym of s: "<adjective>_<noun>_<8 hex digits>" from a 64-bit FNV-1a hash of
 * salt and s, so equal inputs give equal pseudonyms in every profile and run. Writes at
 * most cap bytes including the NUL; returns the length. */
size_t pgo_pseudonym(const char *s, size_t n, const char *salt, size_t saltlen, char *out,
                     size_t cap);

#endif
