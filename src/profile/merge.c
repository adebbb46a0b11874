/* merge.c: pprof's Merge over the pgo_profile model (see merge.h for the rules).
 *
 * The merger keeps the result and the identity tables of its entities; each input is
 * mapped into it through per-input memo arrays (input index -> result index), so the work
 * is linear in the input's size. Strings are re-interned into the result's table; all
 * keys below are over result string ids, so equal strings compare as equal ids. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/merge.h"

#define NONE PGO_NONE

/* {=====================================================================================
 * A hashed index of entity indices: the entity itself lives in the result profile; the
 * index stores its hash and position, and callers compare candidates field by field. */

typedef struct {
  uint64_t *hash;              /* 0 = empty slot */
  uint32_t *val;
  size_t count, nslots;
} ent_index;

typedef bool (*ent_eq)(const void *ctx, uint32_t val);

static void ent_free(ent_index *x) {
  free(x->hash);
  free(x->val);
  memset(x, 0, sizeof *x);
}

/* Make room for one more entry (load factor 1/2). */
static bool ent_reserve(ent_index *x) {
  if ((x->count + 1) * 2 <= x->nslots) return true;
  size_t n = x->nslots ? x->nslots * 2 : 256;
  uint64_t *h = calloc(n, sizeof *h);
  uint32_t *v = malloc(n * sizeof *v);
  if (!h || !v) { free(h); free(v); return false; }
  for (size_t i = 0; i < x->nslots; i++) {
    if (!x->hash[i]) continue;
    size_t j = x->hash[i] & (n - 1);
    while (h[j]) j = (j + 1) & (n - 1);
    h[j] = x->hash[i];
    v[j] = x->val[i];
  }
  free(x->hash);
  free(x->val);
  x->hash = h;
  x->val = v;
  x->nslots = n;
  return true;
}

/* Look h up; true with *val when eq accepts an entry, else false with *slot free.
 * Precondition: ent_reserve succeeded (so there is a free slot). */
static bool ent_find(const ent_index *x, uint64_t h, ent_eq eq, const void *ctx, size_t *slot,
                     uint32_t *val) {
  size_t i = h & (x->nslots - 1);
  while (x->hash[i]) {
    if (x->hash[i] == h && eq(ctx, x->val[i])) { *val = x->val[i]; return true; }
    i = (i + 1) & (x->nslots - 1);
  }
  *slot = i;
  return false;
}

static void ent_insert(ent_index *x, size_t slot, uint64_t h, uint32_t val) {
  x->hash[slot] = h;
  x->val[slot] = val;
  x->count++;
}

/* ===================================================================================} */

struct mapinfo { uint32_t idx; int64_t offset; bool done; };

struct pgo_merger {
  pgo_profile *out;            /* the accumulating result; NULL until the first input */
  size_t ninputs;
  bool broken;                 /* an allocation failed half-way: refuse further use */
  char first_name[256];

  pgo_flat_index stacks;       /* the result's stacks are flat */
  pgo_sample_index samples;
  pgo_labelset_index labelsets;
  ent_index mappings, functions, locations;
  pgo_u64map comments;         /* comment string id -> 0: the union seen so far */

  /* the input being added and its memo arrays (input index -> result index) */
  const pgo_profile *src;
  uint32_t *strmap;      size_t cap_strmap;
  struct mapinfo *mapmap; size_t cap_mapmap;
  uint32_t *fnmap;       size_t cap_fnmap;
  uint32_t *locmap;      size_t cap_locmap;
  uint32_t *stackmap;    size_t cap_stackmap;
  uint32_t *lsmap;       size_t cap_lsmap;
  /* scratch */
  uint32_t *fbuf;        size_t cap_fbuf;
  pgo_line *lbuf;        size_t cap_lbuf;
  pgo_label *labbuf;     size_t cap_labbuf;
  int64_t *vbuf;         size_t cap_vbuf;
  uint32_t label_key, label_value;   /* result string ids of the extra label, 0 = none */
};

pgo_merger *pgo_merger_new(void) { return calloc(1, sizeof(pgo_merger)); }

static void merger_reset(pgo_merger *m) {
  pgo_profile_free(m->out);
  m->out = NULL;
  m->ninputs = 0;
  m->broken = false;
  pgo_flat_index_free(&m->stacks);
  pgo_sample_index_free(&m->samples);
  pgo_labelset_index_free(&m->labelsets);
  ent_free(&m->mappings);
  ent_free(&m->functions);
  ent_free(&m->locations);
  pgo_u64map_free(&m->comments);
}

void pgo_merger_free(pgo_merger *m) {
  if (!m) return;
  merger_reset(m);
  free(m->strmap);
  free(m->mapmap);
  free(m->fnmap);
  free(m->locmap);
  free(m->stackmap);
  free(m->lsmap);
  free(m->fbuf);
  free(m->lbuf);
  free(m->labbuf);
  free(m->vbuf);
  free(m);
}

size_t pgo_merger_count(const pgo_merger *m) { return m->ninputs; }

/* {=====================================================================================
 * Compatibility (checked before anything changes) */

static bool str_equal(const pgo_profile *a, uint32_t ia, const pgo_profile *b, uint32_t ib) {
  uint32_t la = pgo_strlen(&a->strings, ia);
  return la == pgo_strlen(&b->strings, ib) &&
         memcmp(pgo_str(&a->strings, ia), pgo_str(&b->strings, ib), la) == 0;
}

static bool value_type_equal(const pgo_profile *a, pgo_value_type x, const pgo_profile *b,
                             pgo_value_type y) {
  return str_equal(a, x.type, b, y.type) && str_equal(a, x.unit, b, y.unit);
}

/* "type/unit" into buf at *n (bounded). */
static void describe_vt(char *buf, size_t cap, size_t *n, const pgo_profile *p, pgo_value_type vt) {
  if (*n >= cap) return;
  int w = snprintf(buf + *n, cap - *n, "%s/%s", pgo_str(&p->strings, vt.type),
                   pgo_str(&p->strings, vt.unit));
  if (w > 0) *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

static void describe_types(char *buf, size_t cap, const pgo_profile *p) {
  size_t n = 0;
  buf[n++] = '[';
  for (size_t i = 0; i < p->nsample_types && n < cap - 2; i++) {
    if (i) buf[n++] = ' ';
    describe_vt(buf, cap - 1, &n, p, p->sample_types[i]);
  }
  if (n < cap - 1) buf[n++] = ']';
  buf[n] = '\0';
}

static bool check_compatible(const pgo_merger *m, const pgo_profile *src, const char *name,
                             pgo_error *err) {
  const pgo_profile *first = m->out;
  char a[200], b[200];
  if (!value_type_equal(first, first->period_type, src, src->period_type)) {
    size_t na = 0, nb = 0;
    describe_vt(a, sizeof a, &na, first, first->period_type);
    describe_vt(b, sizeof b, &nb, src, src->period_type);
    a[na] = b[nb] = '\0';
    return pgo_fail(err, "incompatible",
                    "incompatible period types: %s has period type %s but %s has %s; merge"
                    " only profiles of the same kind (all CPU, or all heap, ...)",
                    name, b, m->first_name, a);
  }
  bool same = first->nsample_types == src->nsample_types;
  for (size_t i = 0; same && i < src->nsample_types; i++)
    same = value_type_equal(first, first->sample_types[i], src, src->sample_types[i]);
  if (!same) {
    describe_types(a, sizeof a, first);
    describe_types(b, sizeof b, src);
    return pgo_fail(err, "incompatible",
                    "incompatible sample types: %s has %s but %s has %s; merge only profiles"
                    " of the same kind with the same sample types, in the same order",
                    name, b, m->first_name, a);
  }
  return true;
}

/* ===================================================================================} */

#define NOMEM(m) (m->broken = true, pgo_fail(err, "nomem", "out of memory while merging profiles"))

static bool str_map(pgo_merger *m, uint32_t id, uint32_t *out) {
  if (m->strmap[id] == NONE) {
    const pgo_strtab *t = &m->src->strings;
    if (!pgo_profile_intern(m->out, pgo_str(t, id), pgo_strlen(t, id), &m->strmap[id]))
      return false;
  }
  *out = m->strmap[id];
  return true;
}

/* Fill an array of n uint32 with NONE after growing it. */
static bool memo_reset(uint32_t **arr, size_t *cap, size_t n) {
  if (!PGO_RESERVE(*arr, *cap, n ? n : 1)) return false;
  memset(*arr, 0xff, (n ? n : 1) * sizeof **arr);
  return true;
}

/* ---- mappings ----------------------------------------------------------------------- */

static uint64_t mapping_size(const pgo_mapping *mp) {
  uint64_t size = mp->limit - mp->start;     /* wraps like pprof's uint64 arithmetic */
  size = size + 0x1000 - 1;
  return size - size % 0x1000;
}

typedef struct { const pgo_profile *out; uint64_t size, offset; uint32_t key; } mapping_key;

static bool mapping_eq(const void *ctx, uint32_t v) {
  const mapping_key *k = ctx;
  const pgo_mapping *r = &k->out->mappings[v];
  return mapping_size(r) == k->size && r->offset == k->offset &&
         (r->build_id ? r->build_id : r->file) == k->key;
}

static bool map_mapping(pgo_merger *m, uint32_t i, struct mapinfo **mi) {
  struct mapinfo *info = &m->mapmap[i];
  *mi = info;
  if (info->done) return true;
  const pgo_mapping *s = &m->src->mappings[i];
  pgo_mapping c = *s;
  if (!str_map(m, s->file, &c.file) || !str_map(m, s->build_id, &c.build_id)) return false;
  mapping_key k = {m->out, mapping_size(s), s->offset, c.build_id ? c.build_id : c.file};
  uint64_t h = pgo_hash_mix(pgo_hash_mix(pgo_hash_mix(0x6d6170, k.size), k.offset), k.key) | 1;
  if (!ent_reserve(&m->mappings)) return false;
  size_t slot;
  uint32_t idx;
  if (ent_find(&m->mappings, h, mapping_eq, &k, &slot, &idx)) {
    *info = (struct mapinfo){idx, (int64_t)(m->out->mappings[idx].start - s->start), true};
    return true;
  }
  c.id = m->out->nmappings + 1;
  if (!pgo_profile_add_mapping(m->out, &c, &idx)) return false;
  ent_insert(&m->mappings, slot, h, idx);
  *info = (struct mapinfo){idx, 0, true};
  return true;
}

/* ---- functions ---------------------------------------------------------------------- */

typedef struct { const pgo_profile *out; const pgo_function *f; } function_key;

static bool function_eq(const void *ctx, uint32_t v) {
  const function_key *k = ctx;
  const pgo_function *r = &k->out->functions[v];
  return r->start_line == k->f->start_line && r->name == k->f->name &&
         r->system_name == k->f->system_name && r->filename == k->f->filename;
}

static bool map_function(pgo_merger *m, uint32_t i, uint32_t *out) {
  if (m->fnmap[i] != NONE) { *out = m->fnmap[i]; return true; }
  const pgo_function *s = &m->src->functions[i];
  pgo_function c = *s;
  if (!str_map(m, s->name, &c.name) || !str_map(m, s->system_name, &c.system_name) ||
      !str_map(m, s->filename, &c.filename))
    return false;
  uint64_t h = pgo_hash_mix(0x66756e, (uint64_t)c.start_line);
  h = pgo_hash_mix(h, ((uint64_t)c.name << 32) | c.system_name);
  h = pgo_hash_mix(h, c.filename) | 1;
  if (!ent_reserve(&m->functions)) return false;
  function_key k = {m->out, &c};
  size_t slot;
  uint32_t idx;
  if (!ent_find(&m->functions, h, function_eq, &k, &slot, &idx)) {
    c.id = m->out->nfunctions + 1;
    if (!pgo_profile_add_function(m->out, &c, &idx)) return false;
    ent_insert(&m->functions, slot, h, idx);
  }
  m->fnmap[i] = idx;
  *out = idx;
  return true;
}

/* ---- locations ---------------------------------------------------------------------- */

typedef struct {
  const pgo_profile *out;
  uint64_t addr_key;          /* address - mapping start */
  uint32_t mapping;
  bool is_folded;
  const pgo_line *lines;
  uint32_t nlines;
} location_key;

static uint64_t location_addr_key(const pgo_profile *out, uint64_t address, uint32_t mapping) {
  return mapping == NONE ? address : address - out->mappings[mapping].start;
}

static bool location_eq(const void *ctx, uint32_t v) {
  const location_key *k = ctx;
  const pgo_location *r = &k->out->locations[v];
  if (r->mapping != k->mapping || r->is_folded != k->is_folded || r->line_count != k->nlines ||
      location_addr_key(k->out, r->address, r->mapping) != k->addr_key)
    return false;
  /* out->lines is NULL while no location has lines, and NULL + 0 is undefined */
  const pgo_line *rl = r->line_count ? k->out->lines + r->line_start : NULL;
  for (uint32_t i = 0; i < k->nlines; i++)
    if (rl[i].function != k->lines[i].function || rl[i].line != k->lines[i].line) return false;
  /* pprof's key keeps only the last line's column */
  return k->nlines == 0 || rl[k->nlines - 1].column == k->lines[k->nlines - 1].column;
}

static bool map_location(pgo_merger *m, uint32_t i) {
  if (m->locmap[i] != NONE) return true;
  const pgo_profile *src = m->src;
  const pgo_location *s = &src->locations[i];
  uint32_t mapping = NONE;
  int64_t offset = 0;
  if (s->mapping != NONE) {
    struct mapinfo *mi;
    if (!map_mapping(m, s->mapping, &mi)) return false;
    mapping = mi->idx;
    offset = mi->offset;
  }
  if (!PGO_RESERVE(m->lbuf, m->cap_lbuf, s->line_count ? s->line_count : 1)) return false;
  for (uint32_t k = 0; k < s->line_count; k++) {
    const pgo_line *ln = &src->lines[s->line_start + k];
    m->lbuf[k] = *ln;
    if (!map_function(m, ln->function, &m->lbuf[k].function)) return false;
  }
  location_key key = {m->out, 0, mapping, s->is_folded, m->lbuf, s->line_count};
  uint64_t address = s->address + (uint64_t)offset;
  key.addr_key = location_addr_key(m->out, address, mapping);
  uint64_t h = pgo_hash_mix(0x6c6f63, key.addr_key);
  h = pgo_hash_mix(h, ((uint64_t)mapping << 32) | ((uint64_t)s->is_folded << 31) | s->line_count);
  for (uint32_t k = 0; k < s->line_count; k++)
    h = pgo_hash_mix(h, ((uint64_t)m->lbuf[k].function << 40) ^ (uint64_t)m->lbuf[k].line);
  h |= 1;
  if (!ent_reserve(&m->locations)) return false;
  size_t slot;
  uint32_t idx;
  if (!ent_find(&m->locations, h, location_eq, &key, &slot, &idx)) {
    pgo_location c = {.id = m->out->nlocations + 1, .address = address, .mapping = mapping,
                      .is_folded = s->is_folded};
    if (!pgo_profile_add_location(m->out, &c, m->lbuf, s->line_count, &idx)) return false;
    ent_insert(&m->locations, slot, h, idx);
  }
  m->locmap[i] = idx;
  return true;
}

/* ---- stacks, labels, samples -------------------------------------------------------- */

/* The result's flat stack for input stack s (a flat stack or a leaf frame node). Locations
 * are mapped leaf first (the order pprof assigns ids in); each input stack is mapped once. */
static bool map_stack(pgo_merger *m, uint32_t s, uint32_t *stack) {
  if (m->stackmap[s] != NONE) { *stack = m->stackmap[s]; return true; }
  size_t n;
  const uint32_t *locs = pgo_stack_locations(m->src, s, &m->fbuf, &m->cap_fbuf, &n);
  if (!locs) return false;
  for (size_t k = 0; k < n; k++)
    if (!map_location(m, locs[k])) return false;
  uint32_t *out = pgo_profile_flat_reserve(m->out, n);
  if (!out) return false;
  for (size_t k = 0; k < n; k++) out[k] = m->locmap[locs[k]];
  if (!pgo_profile_flat_stack(m->out, &m->stacks, n, stack)) return false;
  m->stackmap[s] = *stack;
  return true;
}

static int str_cmp(const pgo_profile *p, uint32_t a, uint32_t b) {
  if (a == b) return 0;
  uint32_t la = pgo_strlen(&p->strings, a), lb = pgo_strlen(&p->strings, b);
  int c = memcmp(pgo_str(&p->strings, a), pgo_str(&p->strings, b), la < lb ? la : lb);
  return c ? c : (la < lb ? -1 : la > lb);
}

/* Label order of the result: string labels, then numeric ones, keys sorted by bytes;
 * the values of one key keep their order (a stable sort). */
static int label_cmp(const pgo_profile *p, const pgo_label *a, const pgo_label *b) {
  int na = a->str == 0, nb = b->str == 0;
  if (na != nb) return na - nb;
  return str_cmp(p, a->key, b->key);
}

static bool map_labelset(pgo_merger *m, uint32_t i, uint32_t *set) {
  if (m->lsmap[i] != NONE) { *set = m->lsmap[i]; return true; }
  const pgo_labelset *ls = &m->src->labelsets[i];
  if (!PGO_RESERVE(m->labbuf, m->cap_labbuf, (size_t)ls->count + 1)) return false;
  uint32_t n = 0;
  for (uint32_t k = 0; k < ls->count; k++) {
    const pgo_label *l = &m->src->labels[ls->start + k];
    pgo_label c = *l;
    if (!str_map(m, l->key, &c.key) || !str_map(m, l->str, &c.str) ||
        !str_map(m, l->num_unit, &c.num_unit))
      return false;
    if (m->label_key && c.key == m->label_key) continue;   /* replaced below */
    m->labbuf[n++] = c;
  }
  if (m->label_key) m->labbuf[n++] = (pgo_label){m->label_key, m->label_value, 0, 0};
  for (uint32_t a = 1; a < n; a++) {                        /* stable insertion sort */
    pgo_label x = m->labbuf[a];
    uint32_t b = a;
    while (b > 0 && label_cmp(m->out, &m->labbuf[b - 1], &x) > 0) {
      m->labbuf[b] = m->labbuf[b - 1];
      b--;
    }
    m->labbuf[b] = x;
  }
  if (!pgo_profile_labelset(m->out, &m->labelsets, m->labbuf, n, set)) return false;
  m->lsmap[i] = *set;
  return true;
}

/* ---- header -------------------------------------------------------------------------- */

static bool intern_from(pgo_profile *dst, const pgo_profile *src, uint32_t id, uint32_t *out) {
  return pgo_profile_intern(dst, pgo_str(&src->strings, id), pgo_strlen(&src->strings, id), out);
}

/* The first input decides the types and frame filters; the rest follow b.2 rules. */
static bool combine_header(pgo_merger *m, const pgo_profile *src) {
  pgo_profile *out = m->out;
  if (m->ninputs == 0) {
    if (!PGO_RESERVE(m->vbuf, m->cap_vbuf, src->nsample_types ? src->nsample_types : 1) ||
        !pgo_profile_set_sample_types(out, src->sample_types, src->nsample_types))
      return false;
    for (size_t i = 0; i < src->nsample_types; i++)
      if (!intern_from(out, src, src->sample_types[i].type, &out->sample_types[i].type) ||
          !intern_from(out, src, src->sample_types[i].unit, &out->sample_types[i].unit))
        return false;
    if (!intern_from(out, src, src->period_type.type, &out->period_type.type) ||
        !intern_from(out, src, src->period_type.unit, &out->period_type.unit) ||
        !intern_from(out, src, src->drop_frames, &out->drop_frames) ||
        !intern_from(out, src, src->keep_frames, &out->keep_frames))
      return false;
  }
  if (out->time_nanos == 0 || src->time_nanos < out->time_nanos) out->time_nanos = src->time_nanos;
  out->duration_nanos = (int64_t)((uint64_t)out->duration_nanos + (uint64_t)src->duration_nanos);
  if (out->period == 0 || out->period < src->period) out->period = src->period;
  for (size_t i = 0; i < src->ncomments; i++) {
    uint32_t id, dummy = 0;
    bool found;
    if (!intern_from(out, src, src->comments[i], &id) ||
        !pgo_u64map_upsert(&m->comments, id, &dummy, &found))
      return false;
    if (found) continue;
    if (!PGO_RESERVE(out->comments, out->cap_comments, out->ncomments + 1)) return false;
    out->comments[out->ncomments++] = id;
  }
  if (!out->default_sample_type && src->default_sample_type &&
      !intern_from(out, src, src->default_sample_type, &out->default_sample_type))
    return false;
  if (!out->doc_url && src->doc_url && !intern_from(out, src, src->doc_url, &out->doc_url))
    return false;
  return true;
}

/* ===================================================================================} */

bool pgo_merger_add(pgo_merger *m, const pgo_profile *src, const pgo_merge_opts *opts,
                    pgo_error *err) {
  static const pgo_merge_opts plain = {0};
  if (!opts) opts = &plain;
  if (m->broken)
    return pgo_fail(err, "nomem", "the merge failed earlier (out of memory); start a new one");
  char namebuf[48];
  const char *name = opts->name;
  if (!name) {
    snprintf(namebuf, sizeof namebuf, "profile #%zu", m->ninputs + 1);
    name = namebuf;
  }
  if (m->ninputs > 0 && !check_compatible(m, src, name, err)) return false;
  if (!m->out) {
    m->out = pgo_profile_new();
    if (!m->out || !pgo_profile_make_flat(m->out)) return NOMEM(m);
  }
  if (m->ninputs == 0) snprintf(m->first_name, sizeof m->first_name, "%s", name);

  m->src = src;
  if (!memo_reset(&m->strmap, &m->cap_strmap, src->strings.count) ||
      !memo_reset(&m->fnmap, &m->cap_fnmap, src->nfunctions) ||
      !memo_reset(&m->locmap, &m->cap_locmap, src->nlocations) ||
      !memo_reset(&m->stackmap, &m->cap_stackmap, pgo_profile_nstacks(src)) ||
      !memo_reset(&m->lsmap, &m->cap_lsmap, src->nlabelsets) ||
      !PGO_RESERVE(m->mapmap, m->cap_mapmap, src->nmappings ? src->nmappings : 1))
    return NOMEM(m);
  m->strmap[0] = 0;
  m->stackmap[0] = 0;
  memset(m->mapmap, 0, (src->nmappings ? src->nmappings : 1) * sizeof *m->mapmap);
  m->label_key = m->label_value = 0;
  if (opts->label_key &&
      (!pgo_profile_intern(m->out, opts->label_key, strlen(opts->label_key), &m->label_key) ||
       !pgo_profile_intern(m->out, opts->label_value ? opts->label_value : "",
                           opts->label_value ? strlen(opts->label_value) : 0, &m->label_value)))
    return NOMEM(m);
  if (!combine_header(m, src)) return NOMEM(m);

  /* the first mapping stands for the main binary: register it first */
  if (m->out->nmappings == 0 && src->nmappings > 0) {
    struct mapinfo *mi;
    if (!map_mapping(m, 0, &mi)) return NOMEM(m);
  }
  size_t nt = src->nsample_types;
  for (size_t i = 0; i < src->nsamples; i++) {
    const int64_t *v = pgo_sample_values(src, i);
    bool zero = true;
    for (size_t c = 0; c < nt && zero; c++) zero = v[c] == 0;
    if (zero) continue;
    uint32_t node, set;
    if (!map_stack(m, src->samples[i].stack, &node) ||
        !map_labelset(m, src->samples[i].labels, &set))
      return NOMEM(m);
    if (opts->negate) {
      for (size_t c = 0; c < nt; c++) m->vbuf[c] = (int64_t)(0 - (uint64_t)v[c]);
      v = m->vbuf;
    }
    if (!pgo_profile_add_sample(m->out, &m->samples, node, set, v)) return NOMEM(m);
  }
  m->src = NULL;
  m->ninputs++;
  return true;
}

pgo_profile *pgo_merger_finish(pgo_merger *m, pgo_error *err) {
  if (m->broken) {
    merger_reset(m);
    pgo_fail(err, "nomem", "out of memory while merging profiles");
    return NULL;
  }
  if (m->ninputs == 0) {
    pgo_fail(err, "empty", "no profiles to merge");
    return NULL;
  }
  pgo_profile *out = m->out;
  m->out = NULL;
  merger_reset(m);
  out->sample_messages = out->nsamples;
  size_t nt = out->nsample_types;
  bool has_zero = false;
  for (size_t i = 0; i < out->nsamples && !has_zero; i++) {
    const int64_t *v = pgo_sample_values(out, i);
    bool zero = true;
    for (size_t c = 0; c < nt && zero; c++) zero = v[c] == 0;
    has_zero = zero;
  }
  if (has_zero) {                 /* pprof merges the result once more on its own */
    pgo_profile *compacted = pgo_profile_compact(out, err);
    pgo_profile_free(out);
    out = compacted;
  }
  return out;
}

pgo_profile *pgo_profile_merge(const pgo_profile *const *srcs, size_t n, pgo_error *err) {
  pgo_merger *m = pgo_merger_new();
  if (!m) { pgo_fail(err, "nomem", "out of memory while merging profiles"); return NULL; }
  pgo_profile *out = NULL;
  size_t i = 0;
  while (i < n && pgo_merger_add(m, srcs[i], NULL, err)) i++;
  if (i == n) out = pgo_merger_finish(m, err);
  pgo_merger_free(m);
  return out;
}

pgo_profile *pgo_profile_compact(const pgo_profile *p, pgo_error *err) {
  return pgo_profile_merge(&p, 1, err);
}

pgo_profile *pgo_profile_diff(const pgo_profile *p, const pgo_profile *base, bool diff_base,
                              pgo_error *err) {
  pgo_merger *m = pgo_merger_new();
  if (!m) { pgo_fail(err, "nomem", "out of memory while merging profiles"); return NULL; }
  pgo_merge_opts po = {.name = "the profile"};
  pgo_merge_opts bo = {.name = "the base profile", .negate = true};
  if (diff_base) {
    bo.label_key = PGO_BASE_LABEL_KEY;
    bo.label_value = PGO_BASE_LABEL_VALUE;
  }
  pgo_profile *out = NULL;
  if (pgo_merger_add(m, p, &po, err) && pgo_merger_add(m, base, &bo, err))
    out = pgo_merger_finish(m, err);
  pgo_merger_free(m);
  return out;
}

/* {=====================================================================================
 * Cloning */

static bool copy_array(void **dst, size_t *cap, const void *src, size_t n, size_t elem) {
  if (!pgo_grow(dst, cap, n ? n : 1, elem)) return false;
  if (n) memcpy(*dst, src, n * elem);
  return true;
}
#define COPY(q, p, field, count, capf) \
  (copy_array((void **)&(q)->field, &(q)->capf, (p)->field, (p)->count, sizeof *(p)->field) && \
   ((q)->count = (p)->count, true))

pgo_profile *pgo_profile_clone(const pgo_profile *p) {
  pgo_profile *q = pgo_profile_new();
  if (!q) return NULL;
  for (size_t id = 1; id < p->strings.count; id++) {
    uint32_t got;
    /* interning the strings in id order gives every one its old id */
    if (!pgo_profile_intern(q, pgo_str(&p->strings, (uint32_t)id),
                            pgo_strlen(&p->strings, (uint32_t)id), &got) || got != id)
      goto fail;
  }
  if (!COPY(q, p, sample_types, nsample_types, cap_sample_types) ||
      !COPY(q, p, comments, ncomments, cap_comments) ||
      !COPY(q, p, mappings, nmappings, cap_mappings) ||
      !COPY(q, p, functions, nfunctions, cap_functions) ||
      !COPY(q, p, locations, nlocations, cap_locations) ||
      !COPY(q, p, lines, nlines, cap_lines) ||
      !COPY(q, p, frames, nframes, cap_frames) ||
      !COPY(q, p, flat_locs, nflat_locs, cap_flat_locs) ||
      !copy_array((void **)&q->flat_start, &q->cap_flat_start, p->flat_start,
                  p->flat ? p->nflat + 1 : 0, sizeof *p->flat_start) ||
      !COPY(q, p, labels, nlabels, cap_labels) ||
      !COPY(q, p, labelsets, nlabelsets, cap_labelsets) ||
      !COPY(q, p, samples, nsamples, cap_samples) ||
      !copy_array((void **)&q->values, &q->cap_values, p->values, p->nsamples * p->nsample_types,
                  sizeof *p->values))
    goto fail;
  q->flat = p->flat;
  q->nflat = p->nflat;
  q->default_sample_type = p->default_sample_type;
  q->period_type = p->period_type;
  q->period = p->period;
  q->time_nanos = p->time_nanos;
  q->duration_nanos = p->duration_nanos;
  q->drop_frames = p->drop_frames;
  q->keep_frames = p->keep_frames;
  q->doc_url = p->doc_url;
  q->sample_messages = p->sample_messages;
  return q;
fail:
  pgo_profile_free(q);
  return NULL;
}
