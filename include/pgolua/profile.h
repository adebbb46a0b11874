/* profile.h: the pprof profile model.
 *
 * A compact, index-linked model of a profile.proto message. Every string is interned
 * once (pgo_strtab, id 0 = ""); entities link by array index, never by pointer or file
 * id. Stacks are stored as a prefix tree of frames: a sample names its leaf frame node,
 * and following `parent` links walks the stack leaf first (pprof's order), ending at
 * node 0, the empty stack. Samples with the same stack and labels are combined on load
 * (values added), so `nsamples` can be smaller than the file's Sample message count,
 * which is kept in `sample_messages`.
 *
 * A decode may leave the stacks flat instead (pgo_profile_decode_flat): each distinct
 * stack once, as a run of location indices, found by one hash of the whole stack, and
 * samples[].stack naming the run. That costs a few bytes per frame and no lookup per frame;
 * the prefix tree is built from it by pgo_profile_frames the first time an operation
 * needs it. Operations that read only the leaf frames, labels and values (info, tags,
 * the compiler's edges) work on either form through pgo_sample_location. */
#ifndef PGOLUA_PROFILE_H
#define PGOLUA_PROFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

#define PGO_NONE UINT32_MAX          /* "no mapping", "no function", ... */

typedef struct { uint32_t type, unit; } pgo_value_type;   /* string ids */

typedef struct {
  uint64_t id;                        /* as in the file (kept for reports) */
  uint64_t start, limit, offset;
  uint32_t file, build_id;            /* string ids */
  bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
} pgo_mapping;

typedef struct {
  uint64_t id;
  uint32_t name, system_name, filename;   /* string ids */
  int64_t start_line;
} pgo_function;

typedef struct {
  uint32_t function;                  /* index into functions */
  int64_t line, column;
} pgo_line;

typedef struct {
  uint64_t id;
  uint64_t address;
  uint32_t mapping;                   /* index into mappings, or PGO_NONE */
  uint32_t line_start, line_count;    /* range of lines[]; line[0] innermost inlined */
  bool is_folded;
} pgo_location;

typedef struct {
  uint32_t key;                       /* string id */
  uint32_t str;                       /* string id; 0 for numeric labels */
  int64_t num;
  uint32_t num_unit;                  /* string id */
} pgo_label;

typedef struct {
  uint32_t parent;                    /* frame node of the caller; 0 = root (no frame) */
  uint32_t location;                  /* index into locations */
  uint32_t depth;                     /* frames from here to the root, this one included */
} pgo_frame;

typedef struct {
  uint32_t stack;                     /* leaf frame node, 0 = empty stack */
  uint32_t labels;                    /* label set index, 0 = no labels */
} pgo_sample;

typedef struct {
  uint32_t start, count;              /* range of labels[] */
} pgo_labelset;

typedef struct pgo_profile {
  pgo_strtab strings;

  pgo_value_type *sample_types;
  size_t nsample_types;
  uint32_t default_sample_type;       /* string id (a type name), 0 = unset */
  pgo_value_type period_type;
  int64_t period, time_nanos, duration_nanos;
  uint32_t drop_frames, keep_frames, doc_url;   /* string ids */
  uint32_t *comments;                 /* string ids */
  size_t ncomments;

  pgo_mapping *mappings;   size_t nmappings;
  pgo_function *functions; size_t nfunctions;
  pgo_location *locations; size_t nlocations;
  pgo_line *lines;         size_t nlines;
  pgo_frame *frames;       size_t nframes;        /* frames[0] is the root */
  pgo_label *labels;       size_t nlabels;
  pgo_labelset *labelsets; size_t nlabelsets;     /* labelsets[0] is empty */
  pgo_sample *samples;     size_t nsamples;
  int64_t *values;                    /* nsamples * nsample_types, row per sample */
  uint64_t sample_messages;           /* Sample messages in the file it came from */

  bool flat;                          /* samples[].stack names a flat stack, frames is
                                         only the root until pgo_profile_frames */
  uint32_t *flat_locs;                /* location indices, leaf first, stack after stack */
  uint32_t *flat_start;               /* stack k is flat_locs[flat_start[k] ..
                                         flat_start[k + 1]); stack 0 is empty */
  size_t nflat, nflat_locs, cap_flat_locs, cap_flat_start;   /* nflat: stacks */

  /* capacities for the growable arrays above */
  size_t cap_mappings, cap_functions, cap_locations, cap_lines, cap_frames, cap_labels,
         cap_labelsets, cap_samples, cap_values, cap_comments, cap_sample_types;
} pgo_profile;

/* ---- limits and options ------------------------------------------------------------ */

/* The memory budget of one decode: what the decoder holds (the model and its indexes, the
 * decompression window) stays under min(max_memory, max(PGO_MEMORY_FLOOR,
 * max_memory_ratio x the input's bytes)). The input multiple is what stops decompression
 * bombs (a 123 KB gzip expanding to 100 million frames) long before max_memory; the floor
 * keeps small genuine profiles out of its way. Past the budget: "too_large". */
#define PGO_MEMORY_FLOOR ((uint64_t)32 << 20)

typedef struct {
  uint64_t max_decompressed;          /* bytes after gunzip; default 1 GiB */
  uint64_t max_samples;               /* Sample messages; default 100 million */
  uint32_t max_stack_depth;           /* frames per sample; default 100000 */
  uint64_t max_memory;                /* bytes held while decoding; default 2 GiB */
  uint64_t max_memory_ratio;          /* bytes held per input byte; default 64 */
} pgo_limits;

void pgo_limits_default(pgo_limits *l);
/* The budget of a decode of len input bytes under l (see PGO_MEMORY_FLOOR). */
uint64_t pgo_memory_budget(const pgo_limits *l, size_t len);

/* ---- life cycle ---------------------------------------------------------------------- */

/* An empty profile (no samples, no types); NULL when out of memory. */
pgo_profile *pgo_profile_new(void);
void pgo_profile_free(pgo_profile *p);

/* Decode gzip or raw profile.proto bytes. On failure returns NULL and fills err with a
 * code: empty, not_pprof, legacy_format, bad_gzip, truncated, too_large, invalid, nomem.
 * Never returns a partial profile. */
pgo_profile *pgo_profile_decode(const void *data, size_t len, const pgo_limits *limits,
                                pgo_error *err);

/* The same, leaving the stacks flat (see the top of this file). */
pgo_profile *pgo_profile_decode_flat(const void *data, size_t len, const pgo_limits *limits,
                                     pgo_error *err);
/* Thread flat stacks into the prefix tree (nothing to do when p is not flat); false when
 * out of memory, p then unchanged. */
bool pgo_profile_frames(pgo_profile *p);

/* Encode as gzip-compressed profile.proto (level 1-9; 0 = default 6) into a malloc'd
 * buffer. Ids are renumbered densely from 1 and the string table holds only used strings. */
bool pgo_profile_encode(const pgo_profile *p, int level, unsigned char **out, size_t *outlen,
                        pgo_error *err);

/* ---- building (used by decode, merge, filters, edits) -------------------------------- */

bool pgo_profile_intern(pgo_profile *p, const char *s, size_t len, uint32_t *id);
/* Append entities; the index of the new element is returned through *index. */
bool pgo_profile_add_function(pgo_profile *p, const pgo_function *f, uint32_t *index);
bool pgo_profile_add_mapping(pgo_profile *p, const pgo_mapping *m, uint32_t *index);
/* lines: count entries copied into the line table */
bool pgo_profile_add_location(pgo_profile *p, const pgo_location *loc, const pgo_line *lines,
                              uint32_t count, uint32_t *index);

/* A stack builder: frame node for (parent, location), created when new. */
typedef struct pgo_stack_index {
  uint32_t *slots;                    /* frame nodes, keyed by their (parent, location);
                                         0 marks an empty slot (the root is no child) */
  size_t count, nslots;
} pgo_stack_index;
void pgo_stack_index_init(pgo_stack_index *s);
void pgo_stack_index_free(pgo_stack_index *s);
bool pgo_profile_frame(pgo_profile *p, pgo_stack_index *s, uint32_t parent, uint32_t location,
                       uint32_t *node);
/* Build the node for a stack given as location indices, leaf first. */
bool pgo_profile_stack(pgo_profile *p, pgo_stack_index *s, const uint32_t *locs_leaf_first,
                       size_t n, uint32_t *node);

/* A flat stack builder: each distinct stack once, found by one hash of the whole stack.
 * pgo_profile_make_flat turns an empty profile flat (stack 0 = the empty stack). To add a
 * stack, write its n location indices (leaf first) at pgo_profile_flat_reserve(p, n), then
 * pgo_profile_flat_stack(p, x, n, &stack) keeps them when the stack is new. */
typedef struct pgo_flat_slot { uint32_t tag, stack; } pgo_flat_slot;   /* stack 0 = empty */
typedef struct pgo_flat_index {
  pgo_flat_slot *slots;
  size_t count, nslots;
} pgo_flat_index;
void pgo_flat_index_init(pgo_flat_index *x);
void pgo_flat_index_free(pgo_flat_index *x);
/* Room for one more entry (the table doubles at half full); also the decoder's memo of
 * whole stacks in the tree form, whose slots name frame nodes. */
bool pgo_flat_index_reserve(pgo_flat_index *x);
bool pgo_profile_make_flat(pgo_profile *p);
uint32_t *pgo_profile_flat_reserve(pgo_profile *p, size_t n);
bool pgo_profile_flat_stack(pgo_profile *p, pgo_flat_index *x, size_t n, uint32_t *stack);
/* The same with the caller's 64-bit key for the stack: any key works if equal stacks get
 * equal keys in this index (the decoder hashes the file's location ids, before they are
 * mapped). The probe starts at pgo_flat_index_first, which a caller may prefetch. */
bool pgo_profile_flat_stack_keyed(pgo_profile *p, pgo_flat_index *x, size_t n, uint64_t key,
                                  uint32_t *stack);
#define PGO_FLAT_TAG(key) ((uint32_t)((key) >> 32))
static inline const pgo_flat_slot *pgo_flat_index_first(const pgo_flat_index *x, uint64_t key) {
  return x->nslots ? &x->slots[PGO_FLAT_TAG(key) & (x->nslots - 1)] : NULL;
}

/* Sample combiner: adds a sample, or adds its values into an existing one with the same
 * stack and label set. */
typedef struct pgo_sample_slot { uint32_t stack, labels, index_plus1; } pgo_sample_slot;
typedef struct pgo_sample_index {
  pgo_sample_slot *slots;             /* index_plus1 0 marks an empty slot */
  size_t count, nslots;
  uint32_t *unlabelled;               /* stack -> sample + 1 for samples without labels */
  size_t cap_unlabelled;              /* (most samples: an array, not a hash probe) */
} pgo_sample_index;
void pgo_sample_index_init(pgo_sample_index *s);
void pgo_sample_index_free(pgo_sample_index *s);
bool pgo_profile_add_sample(pgo_profile *p, pgo_sample_index *s, uint32_t stack,
                            uint32_t labels, const int64_t *values);

/* Label sets, deduplicated. labels: count entries. 0 = empty set. */
typedef struct pgo_labelset_index {
  uint64_t *hashes;
  uint32_t *sets;                     /* set index + 1 */
  size_t count, nslots;
} pgo_labelset_index;
void pgo_labelset_index_init(pgo_labelset_index *s);
void pgo_labelset_index_free(pgo_labelset_index *s);
bool pgo_profile_labelset(pgo_profile *p, pgo_labelset_index *s, const pgo_label *labels,
                          uint32_t count, uint32_t *set);

bool pgo_profile_set_sample_types(pgo_profile *p, const pgo_value_type *types, size_t n);
bool pgo_profile_add_comment(pgo_profile *p, const char *text, size_t len);

/* ---- reading ------------------------------------------------------------------------- */

static inline const int64_t *pgo_sample_values(const pgo_profile *p, size_t i) {
  return p->values + i * p->nsample_types;
}
/* The location of frame k (0 = the leaf) of sample i, or PGO_NONE past the root; on
 * either form of the stacks (cheap for small k). */
static inline uint32_t pgo_sample_location(const pgo_profile *p, size_t i, uint32_t k) {
  uint32_t s = p->samples[i].stack;
  if (p->flat) {
    uint32_t start = p->flat_start[s], n = p->flat_start[s + 1] - start;
    return k < n ? p->flat_locs[start + k] : PGO_NONE;
  }
  for (; s && k; k--) s = p->frames[s].parent;
  return s ? p->frames[s].location : PGO_NONE;
}
/* Stack ids run 1 .. pgo_profile_nstacks(p) - 1 (0 = the empty stack): the flat stacks,
 * or the frame nodes of the tree (a sample's stack is its leaf node). */
static inline size_t pgo_profile_nstacks(const pgo_profile *p) {
  return p->flat ? p->nflat : p->nframes;
}
/* The locations of stack s, leaf first, *n of them: a pointer into the flat store, or for
 * the tree into *buf (grown as needed, the caller frees it). NULL when out of memory. */
const uint32_t *pgo_stack_locations(const pgo_profile *p, uint32_t s, uint32_t **buf,
                                    size_t *cap, size_t *n);
/* Sum of each value column over all samples into totals[nsample_types]. */
void pgo_profile_totals(const pgo_profile *p, int64_t *totals);
/* The column index of the default sample type (the last one when unset). */
size_t pgo_profile_default_index(const pgo_profile *p);
/* Index of the sample type named `type` (and `unit`, unless NULL), or -1. */
long pgo_profile_find_sample_type(const pgo_profile *p, const char *type, const char *unit);

#endif
