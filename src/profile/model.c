/* model.c: building and reading the profile model (see profile.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "pgolua/profile.h"

/* Page faults are dear here (a trap into the hypervisor on this kind of VM: a sixth of a
 * load went to first touches). The arrays that grow as the profile is read get their
 * pages a 2 MiB step ahead in one madvise call instead of one fault per page: called
 * when `add` more bytes are written at base + used, inside a block of cap bytes. A hint:
 * failure costs nothing. */
enum { POPULATE_STEP = 1 << 21 };
static void populate_ahead(void *base, size_t used, size_t add, size_t cap) {
#ifdef MADV_POPULATE_WRITE
  uintptr_t a = (uintptr_t)base + used, b = a + add, end = (uintptr_t)base + cap;
  if (a / POPULATE_STEP == b / POPULATE_STEP) return;
  uintptr_t from = b & ~(uintptr_t)(POPULATE_STEP - 1), to = from + POPULATE_STEP;
  if (to > end) to = end & ~(uintptr_t)4095;
  if (to > from) (void)madvise((void *)from, to - from, MADV_POPULATE_WRITE);
#else
  (void)base; (void)used; (void)add; (void)cap;
#endif
}

void pgo_limits_default(pgo_limits *l) {
  l->max_decompressed = (uint64_t)1 << 30;
  l->max_samples = 100000000;
  l->max_stack_depth = 100000;
  l->max_memory = (uint64_t)2 << 30;
  l->max_memory_ratio = 64;
}

uint64_t pgo_memory_budget(const pgo_limits *l, size_t len) {
  uint64_t ratio = l->max_memory_ratio, by_input;
  by_input = len && ratio > UINT64_MAX / len ? UINT64_MAX : ratio * len;
  if (by_input < PGO_MEMORY_FLOOR) by_input = PGO_MEMORY_FLOOR;
  return by_input < l->max_memory ? by_input : l->max_memory;
}

pgo_profile *pgo_profile_new(void) {
  pgo_profile *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (!pgo_strtab_init(&p->strings)) { free(p); return NULL; }
  /* frames[0]: the root (empty stack); labelsets[0]: no labels */
  if (!PGO_RESERVE(p->frames, p->cap_frames, 1) ||
      !PGO_RESERVE(p->labelsets, p->cap_labelsets, 1)) {
    pgo_profile_free(p);
    return NULL;
  }
  p->frames[0] = (pgo_frame){0, PGO_NONE, 0};
  p->nframes = 1;
  p->labelsets[0] = (pgo_labelset){0, 0};
  p->nlabelsets = 1;
  return p;
}

void pgo_profile_free(pgo_profile *p) {
  if (!p) return;
  pgo_strtab_free(&p->strings);
  free(p->sample_types);
  free(p->comments);
  free(p->mappings);
  free(p->functions);
  free(p->locations);
  free(p->lines);
  free(p->frames);
  free(p->labels);
  free(p->labelsets);
  free(p->samples);
  free(p->values);
  free(p->flat_locs);
  free(p->flat_start);
  free(p);
}

bool pgo_profile_intern(pgo_profile *p, const char *s, size_t len, uint32_t *id) {
  return pgo_strtab_intern(&p->strings, s, len, id);
}

bool pgo_profile_add_function(pgo_profile *p, const pgo_function *f, uint32_t *index) {
  if (p->nfunctions >= PGO_NONE - 1) return false;
  if (!PGO_RESERVE(p->functions, p->cap_functions, p->nfunctions + 1)) return false;
  p->functions[p->nfunctions] = *f;
  *index = (uint32_t)p->nfunctions++;
  return true;
}

bool pgo_profile_add_mapping(pgo_profile *p, const pgo_mapping *m, uint32_t *index) {
  if (p->nmappings >= PGO_NONE - 1) return false;
  if (!PGO_RESERVE(p->mappings, p->cap_mappings, p->nmappings + 1)) return false;
  p->mappings[p->nmappings] = *m;
  *index = (uint32_t)p->nmappings++;
  return true;
}

bool pgo_profile_add_location(pgo_profile *p, const pgo_location *loc, const pgo_line *lines,
                              uint32_t count, uint32_t *index) {
  if (p->nlocations >= PGO_NONE - 1 || p->nlines + count >= PGO_NONE) return false;
  if (!PGO_RESERVE(p->locations, p->cap_locations, p->nlocations + 1)) return false;
  if (!PGO_RESERVE(p->lines, p->cap_lines, p->nlines + count)) return false;
  pgo_location *l = &p->locations[p->nlocations];
  *l = *loc;
  l->line_start = (uint32_t)p->nlines;
  l->line_count = count;
  if (count) memcpy(p->lines + p->nlines, lines, count * sizeof *lines);
  p->nlines += count;
  *index = (uint32_t)p->nlocations++;
  return true;
}

bool pgo_profile_set_sample_types(pgo_profile *p, const pgo_value_type *types, size_t n) {
  if (!PGO_RESERVE(p->sample_types, p->cap_sample_types, n ? n : 1)) return false;
  if (n) memcpy(p->sample_types, types, n * sizeof *types);
  p->nsample_types = n;
  return true;
}

bool pgo_profile_add_comment(pgo_profile *p, const char *text, size_t len) {
  uint32_t id;
  if (!pgo_profile_intern(p, text, len, &id)) return false;
  if (!PGO_RESERVE(p->comments, p->cap_comments, p->ncomments + 1)) return false;
  p->comments[p->ncomments++] = id;
  return true;
}

/* ---- frames (the stack prefix tree) ---------------------------------------------- */

/* A full 64-bit finaliser (murmur3's fmix64): every input bit reaches the low bits that
 * pick the slot, so (parent, location) pairs do not cluster. */
static inline size_t pair_hash(uint32_t a, uint32_t b) {
  uint64_t h = (uint64_t)a << 32 | b;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return (size_t)(h ^ (h >> 33));
}

void pgo_stack_index_init(pgo_stack_index *s) { memset(s, 0, sizeof *s); }
void pgo_stack_index_free(pgo_stack_index *s) {
  free(s->slots);
  memset(s, 0, sizeof *s);
}

/* The slots hold only node ids; keys are read from frames[node]. A third of the memory
 * of storing the key in the slot, which matters for the peak while the table doubles. */
static bool stack_index_rehash(const pgo_profile *p, pgo_stack_index *s, size_t nslots) {
  uint32_t *slots = pgo_zeroed(nslots, sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < s->nslots; i++) {
    uint32_t node = s->slots[i];
    if (!node) continue;
    size_t j = pair_hash(p->frames[node].parent, p->frames[node].location) & (nslots - 1);
    while (slots[j]) j = (j + 1) & (nslots - 1);
    slots[j] = node;
  }
  free(s->slots);
  s->slots = slots;
  s->nslots = nslots;
  return true;
}

bool pgo_profile_frame(pgo_profile *p, pgo_stack_index *s, uint32_t parent, uint32_t location,
                       uint32_t *node) {
  if ((s->count + 1) * 2 > s->nslots &&
      !stack_index_rehash(p, s, s->nslots ? s->nslots * 2 : 1024))
    return false;
  size_t i = pair_hash(parent, location) & (s->nslots - 1);
  for (;;) {
    uint32_t n = s->slots[i];
    if (!n) break;
    if (p->frames[n].parent == parent && p->frames[n].location == location) {
      *node = n;
      return true;
    }
    i = (i + 1) & (s->nslots - 1);
  }
  if (p->nframes >= PGO_NONE - 1) return false;
  if (!PGO_RESERVE(p->frames, p->cap_frames, p->nframes + 1)) return false;
  p->frames[p->nframes] = (pgo_frame){parent, location, p->frames[parent].depth + 1};
  s->slots[i] = (uint32_t)p->nframes;
  s->count++;
  *node = (uint32_t)p->nframes++;
  return true;
}

bool pgo_profile_stack(pgo_profile *p, pgo_stack_index *s, const uint32_t *locs_leaf_first,
                       size_t n, uint32_t *node) {
  uint32_t cur = 0;
  for (size_t i = n; i-- > 0;)
    if (!pgo_profile_frame(p, s, cur, locs_leaf_first[i], &cur)) return false;
  *node = cur;
  return true;
}

/* Flat stacks are distinct and the tree gives distinct stacks distinct nodes, so samples
 * keep their rows: only the names of their stacks change. */
bool pgo_profile_frames(pgo_profile *p) {
  if (!p->flat) return true;
  uint32_t *node = malloc((p->nflat ? p->nflat : 1) * sizeof *node);
  pgo_stack_index s;
  pgo_stack_index_init(&s);
  if (!node) return false;
  node[0] = 0;
  size_t nframes = p->nframes;
  for (size_t k = 1; k < p->nflat; k++) {
    uint32_t start = p->flat_start[k];
    if (!pgo_profile_stack(p, &s, p->flat_locs + start, p->flat_start[k + 1] - start, &node[k])) {
      p->nframes = nframes;            /* drop the partial tree: p stays flat */
      pgo_stack_index_free(&s);
      free(node);
      return false;
    }
  }
  pgo_stack_index_free(&s);
  for (size_t i = 0; i < p->nsamples; i++) p->samples[i].stack = node[p->samples[i].stack];
  free(node);
  free(p->flat_locs);
  free(p->flat_start);
  p->flat_locs = p->flat_start = NULL;
  p->nflat = p->nflat_locs = p->cap_flat_locs = p->cap_flat_start = 0;
  p->flat = false;
  return true;
}

void pgo_flat_index_init(pgo_flat_index *x) { memset(x, 0, sizeof *x); }
void pgo_flat_index_free(pgo_flat_index *x) {
  free(x->slots);
  memset(x, 0, sizeof *x);
}

bool pgo_profile_make_flat(pgo_profile *p) {
  if (p->flat) return true;
  if (!PGO_RESERVE(p->flat_start, p->cap_flat_start, 2)) return false;
  p->flat_start[0] = p->flat_start[1] = 0;
  p->nflat = 1;
  p->nflat_locs = 0;
  p->flat = true;
  return true;
}

uint32_t *pgo_profile_flat_reserve(pgo_profile *p, size_t n) {
  if (p->nflat >= PGO_NONE - 1 || n >= PGO_NONE - p->nflat_locs ||
      !PGO_RESERVE(p->flat_locs, p->cap_flat_locs, p->nflat_locs + n + 1) ||
      !PGO_RESERVE(p->flat_start, p->cap_flat_start, p->nflat + 2))
    return NULL;
  populate_ahead(p->flat_locs, p->nflat_locs * sizeof *p->flat_locs,
                 (n + 1) * sizeof *p->flat_locs, p->cap_flat_locs * sizeof *p->flat_locs);
  return p->flat_locs + p->nflat_locs;
}

/* Room for one more entry (load at most 1/2). */
bool pgo_flat_index_reserve(pgo_flat_index *x) {
  if ((x->count + 1) * 2 <= x->nslots) return true;
  size_t nn = x->nslots ? x->nslots * 2 : 4096;
  pgo_flat_slot *s = pgo_zeroed(nn, sizeof *s);
  if (!s) return false;
  for (size_t i = 0; i < x->nslots; i++) {
    if (!x->slots[i].stack) continue;
    size_t j = x->slots[i].tag & (nn - 1);
    while (s[j].stack) j = (j + 1) & (nn - 1);
    s[j] = x->slots[i];
  }
  free(x->slots);
  x->slots = s;
  x->nslots = nn;
  return true;
}

bool pgo_profile_flat_stack(pgo_profile *p, pgo_flat_index *x, size_t n, uint32_t *stack) {
  const uint32_t *locs = p->flat_locs + p->nflat_locs;
  return pgo_profile_flat_stack_keyed(p, x, n, n ? pgo_hash_bytes(locs, n * sizeof *locs) : 0,
                                      stack);
}

bool pgo_profile_flat_stack_keyed(pgo_profile *p, pgo_flat_index *x, size_t n, uint64_t key,
                                  uint32_t *stack) {
  *stack = 0;
  if (n == 0) return true;
  if (!pgo_flat_index_reserve(x)) return false;
  const uint32_t *locs = p->flat_locs + p->nflat_locs;
  /* slot and tag come from the same bits: rehashing needs nothing but the stored tag */
  uint32_t tag = PGO_FLAT_TAG(key);
  size_t slot = tag & (x->nslots - 1);
  for (; x->slots[slot].stack; slot = (slot + 1) & (x->nslots - 1)) {
    const pgo_flat_slot *e = &x->slots[slot];
    if (e->tag != tag) continue;
    uint32_t start = p->flat_start[e->stack];
    if (p->flat_start[e->stack + 1] - start == n &&
        memcmp(p->flat_locs + start, locs, n * sizeof *locs) == 0) {
      *stack = e->stack;
      return true;
    }
  }
  p->nflat_locs += n;
  p->flat_start[p->nflat + 1] = (uint32_t)p->nflat_locs;
  *stack = (uint32_t)p->nflat++;
  x->slots[slot] = (pgo_flat_slot){tag, *stack};
  x->count++;
  return true;
}

const uint32_t *pgo_stack_locations(const pgo_profile *p, uint32_t s, uint32_t **buf,
                                    size_t *cap, size_t *n) {
  if (p->flat) {
    uint32_t start = p->flat_start[s];
    *n = p->flat_start[s + 1] - start;
    return p->flat_locs + start;
  }
  *n = 0;
  if (s == 0) return *buf ? *buf : (const uint32_t *)p->frames;   /* any non-NULL */
  if (!PGO_RESERVE(*buf, *cap, (size_t)p->frames[s].depth)) return NULL;
  for (; s; s = p->frames[s].parent) (*buf)[(*n)++] = p->frames[s].location;
  return *buf;
}

/* ---- samples ------------------------------------------------------------------------ */

void pgo_sample_index_init(pgo_sample_index *s) { memset(s, 0, sizeof *s); }
void pgo_sample_index_free(pgo_sample_index *s) {
  free(s->slots);
  free(s->unlabelled);
  memset(s, 0, sizeof *s);
}

static bool sample_index_rehash(pgo_sample_index *s, size_t nslots) {
  pgo_sample_slot *slots = pgo_zeroed(nslots, sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < s->nslots; i++) {
    const pgo_sample_slot *e = &s->slots[i];
    if (!e->index_plus1) continue;
    size_t j = pair_hash(e->stack, e->labels) & (nslots - 1);
    while (slots[j].index_plus1) j = (j + 1) & (nslots - 1);
    slots[j] = *e;
  }
  free(s->slots);
  s->slots = slots;
  s->nslots = nslots;
  return true;
}

bool pgo_profile_add_sample(pgo_profile *p, pgo_sample_index *s, uint32_t stack,
                            uint32_t labels, const int64_t *values) {
  size_t nt = p->nsample_types;
  uint32_t *found = NULL;             /* where the sample's index + 1 is (0 = new) */
  pgo_sample_slot *slot = NULL;       /* the empty hash slot a new labelled sample takes */
  if (labels == 0) {
    if (stack >= s->cap_unlabelled) {
      size_t old = s->cap_unlabelled;
      if (!PGO_RESERVE(s->unlabelled, s->cap_unlabelled, (size_t)stack + 1)) return false;
      memset(s->unlabelled + old, 0, (s->cap_unlabelled - old) * sizeof *s->unlabelled);
    }
    found = &s->unlabelled[stack];
  } else {
    if ((s->count + 1) * 2 > s->nslots && !sample_index_rehash(s, s->nslots ? s->nslots * 2 : 1024))
      return false;
    size_t i = pair_hash(stack, labels) & (s->nslots - 1);
    while (s->slots[i].index_plus1 &&
           (s->slots[i].stack != stack || s->slots[i].labels != labels))
      i = (i + 1) & (s->nslots - 1);
    slot = &s->slots[i];
    found = &slot->index_plus1;
    if (*found) slot = NULL;            /* a match: no slot to fill in */
  }
  if (*found) {
    if (nt == 0) return true;         /* no values to add; p->values may still be NULL */
    int64_t *row = p->values + (size_t)(*found - 1) * nt;
    /* wrapping add: values come from outside and may overflow; never UB */
    for (size_t c = 0; c < nt; c++) row[c] = (int64_t)((uint64_t)row[c] + (uint64_t)values[c]);
    return true;
  }
  if (p->nsamples >= PGO_NONE - 1) return false;
  if (!PGO_RESERVE(p->samples, p->cap_samples, p->nsamples + 1)) return false;
  if (nt && !PGO_RESERVE(p->values, p->cap_values, (p->nsamples + 1) * nt)) return false;
  populate_ahead(p->samples, p->nsamples * sizeof *p->samples, sizeof *p->samples,
                 p->cap_samples * sizeof *p->samples);
  populate_ahead(p->values, p->nsamples * nt * sizeof *p->values, nt * sizeof *p->values,
                 p->cap_values * sizeof *p->values);
  p->samples[p->nsamples] = (pgo_sample){stack, labels};
  if (nt) memcpy(p->values + p->nsamples * nt, values, nt * sizeof *values);
  if (slot) {
    *slot = (pgo_sample_slot){stack, labels, 0};
    s->count++;
  }
  *found = (uint32_t)p->nsamples + 1;
  p->nsamples++;
  return true;
}

/* ---- label sets ---------------------------------------------------------------------- */

void pgo_labelset_index_init(pgo_labelset_index *s) { memset(s, 0, sizeof *s); }
void pgo_labelset_index_free(pgo_labelset_index *s) {
  free(s->hashes);
  free(s->sets);
  memset(s, 0, sizeof *s);
}

static uint64_t labels_hash(const pgo_label *l, uint32_t n) {
  uint64_t h = n;
  for (uint32_t i = 0; i < n; i++) {
    h = pgo_hash_mix(h, ((uint64_t)l[i].key << 32) | l[i].str);
    h = pgo_hash_mix(h, (uint64_t)l[i].num);
    h = pgo_hash_mix(h, l[i].num_unit);
  }
  return h | 1;  /* never 0: 0 marks an empty slot */
}

static bool labels_equal(const pgo_label *a, const pgo_label *b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (a[i].key != b[i].key || a[i].str != b[i].str || a[i].num != b[i].num ||
        a[i].num_unit != b[i].num_unit)
      return false;
  return true;
}

static bool labelset_rehash(pgo_labelset_index *s, size_t nslots) {
  uint64_t *hashes = pgo_zeroed(nslots, sizeof *hashes);
  uint32_t *sets = malloc(nslots * sizeof *sets);
  if (!hashes || !sets) { free(hashes); free(sets); return false; }
  for (size_t i = 0; i < s->nslots; i++) {
    if (!s->hashes[i]) continue;
    size_t j = s->hashes[i] & (nslots - 1);
    while (hashes[j]) j = (j + 1) & (nslots - 1);
    hashes[j] = s->hashes[i];
    sets[j] = s->sets[i];
  }
  free(s->hashes);
  free(s->sets);
  s->hashes = hashes;
  s->sets = sets;
  s->nslots = nslots;
  return true;
}

bool pgo_profile_labelset(pgo_profile *p, pgo_labelset_index *s, const pgo_label *labels,
                          uint32_t count, uint32_t *set) {
  if (count == 0) { *set = 0; return true; }
  if ((s->count + 1) * 2 > s->nslots && !labelset_rehash(s, s->nslots ? s->nslots * 2 : 64))
    return false;
  uint64_t h = labels_hash(labels, count);
  size_t i = h & (s->nslots - 1);
  while (s->hashes[i]) {
    if (s->hashes[i] == h) {
      const pgo_labelset *ls = &p->labelsets[s->sets[i] - 1];
      if (ls->count == count && labels_equal(p->labels + ls->start, labels, count)) {
        *set = s->sets[i] - 1;
        return true;
      }
    }
    i = (i + 1) & (s->nslots - 1);
  }
  if (p->nlabels + count >= PGO_NONE || p->nlabelsets >= PGO_NONE - 1) return false;
  if (!PGO_RESERVE(p->labels, p->cap_labels, p->nlabels + count)) return false;
  if (!PGO_RESERVE(p->labelsets, p->cap_labelsets, p->nlabelsets + 1)) return false;
  memcpy(p->labels + p->nlabels, labels, count * sizeof *labels);
  p->labelsets[p->nlabelsets] = (pgo_labelset){(uint32_t)p->nlabels, count};
  p->nlabels += count;
  s->hashes[i] = h;
  s->sets[i] = (uint32_t)p->nlabelsets + 1;
  s->count++;
  *set = (uint32_t)p->nlabelsets++;
  return true;
}

/* ---- reading ------------------------------------------------------------------------- */

void pgo_profile_totals(const pgo_profile *p, int64_t *totals) {
  size_t nt = p->nsample_types;
  for (size_t c = 0; c < nt; c++) totals[c] = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    const int64_t *row = p->values + i * nt;
    for (size_t c = 0; c < nt; c++) totals[c] = (int64_t)((uint64_t)totals[c] + (uint64_t)row[c]);
  }
}

size_t pgo_profile_default_index(const pgo_profile *p) {
  if (p->nsample_types == 0) return 0;
  if (p->default_sample_type)
    for (size_t i = 0; i < p->nsample_types; i++)
      if (p->sample_types[i].type == p->default_sample_type) return i;
  return p->nsample_types - 1;
}

long pgo_profile_find_sample_type(const pgo_profile *p, const char *type, const char *unit) {
  for (size_t i = 0; i < p->nsample_types; i++) {
    if (strcmp(pgo_str(&p->strings, p->sample_types[i].type), type) != 0) continue;
    if (unit && strcmp(pgo_str(&p->strings, p->sample_types[i].unit), unit) != 0) continue;
    return (long)i;
  }
  return -1;
}
