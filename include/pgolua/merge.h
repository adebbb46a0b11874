/* merge.h: pprof's Merge (profile/merge.go in google/pprof) over the pgo_profile model,
 * plus the operations built on it: compaction, cloning, -base / -diff_base.
 *
 * A merger accumulates profiles one at a time, so merging N files needs memory for the
 * result plus one input, never all N (pgo.merge_files streams through it). Adding the
 * inputs one by one gives exactly the result of merging them all at once:
 *
 *   - compatibility: every input must have the first one's period type and sample types
 *     (type and unit strings, same order), else code "incompatible";
 *   - header: period = running maximum, time_nanos = pprof's "0 or smaller" rule,
 *     duration summed, comments unioned (exact-string dedup, first-seen order),
 *     default_sample_type and doc_url first nonempty, drop/keep_frames of the first;
 *   - identity: mappings by (size rounded up to 4 KiB, file offset, build id or else file
 *     name), functions by (start line, name, system name, file name), locations by
 *     (address - mapping start, mapping, is_folded, each line's function and line, the last
 *     line's column), samples by (locations, labels with keys sorted, string labels first);
 *   - input samples whose values are all zero are skipped; equal samples are added;
 *     entities are numbered in order of first use; when the result holds an all-zero
 *     sample it is compacted once more (merged on its own). */
#ifndef PGOLUA_MERGE_H
#define PGOLUA_MERGE_H
#include <stdbool.h>
#include <stddef.h>
#include "pgolua/profile.h"

typedef struct pgo_merger pgo_merger;

/* How one input enters the merge. Zero-initialised = plain merge. */
typedef struct pgo_merge_opts {
  const char *name;          /* for messages ("cpu.pgo"); NULL = "profile #<n>" */
  bool negate;               /* values multiplied by -1 (pprof -base) */
  const char *label_key;     /* if set, every sample gets the string label */
  const char *label_value;   /*   label_key=label_value, replacing values of that key */
} pgo_merge_opts;

/* A new, empty merger; NULL when out of memory. */
pgo_merger *pgo_merger_new(void);
void pgo_merger_free(pgo_merger *m);
/* Merge src into the accumulating result. src is only read and may be freed right after.
 * Fails with "incompatible" (nothing changed) or "nomem" (the merger is then unusable). */
bool pgo_merger_add(pgo_merger *m, const pgo_profile *src, const pgo_merge_opts *opts,
                    pgo_error *err);
/* Number of profiles added so far. */
size_t pgo_merger_count(const pgo_merger *m);
/* The result (owned by the caller; sample_messages = nsamples). The merger is left empty
 * and may be freed or reused. Fails with "empty" when nothing was added, or "nomem". */
pgo_profile *pgo_merger_finish(pgo_merger *m, pgo_error *err);

/* Merge a list of profiles (pprof Merge: one input is compacted, not passed through). */
pgo_profile *pgo_profile_merge(const pgo_profile *const *srcs, size_t n, pgo_error *err);
/* pprof Compact = Merge of the profile on its own. */
pgo_profile *pgo_profile_compact(const pgo_profile *p, pgo_error *err);
/* An exact, independent copy (same string ids, indices and counts); NULL when out of memory. */
pgo_profile *pgo_profile_clone(const pgo_profile *p);
/* pprof -base (diff_base false) or -diff_base (true): base's samples negated (and labelled
 * pprof::base=true for diff_base), then Merge([p, base]). */
pgo_profile *pgo_profile_diff(const pgo_profile *p, const pgo_profile *base, bool diff_base,
                              pgo_error *err);

#define PGO_BASE_LABEL_KEY "pprof::base"
#define PGO_BASE_LABEL_VALUE "true"

#endif
