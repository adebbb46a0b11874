/* decode.c: profile.proto bytes -> pgo_profile.
 *
 * The top-level Profile message is walked field by field over a streaming source; each
 * submessage (Sample, Location, Function, Mapping, ValueType) is decoded by protobuf-c
 * into a scratch arena that is reset after every field, so the wire tree is never held.
 * File ids are mapped to dense indices on first sight (a sample may name a location
 * before the location arrives, and the string table usually comes last), and every
 * reference is resolved and checked once the whole message has been read. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/profile.h"
#include "profile.pb-c.h"
#include "source.h"
#include "sniff.h"

typedef struct {
  pgo_profile *p;
  const pgo_limits *limits;
  pgo_error *err;
  pgo_source src;
  pgo_arena scratch;
  ProtobufCAllocator alloc;

  /* file string table: file index -> interned id */
  uint32_t *strmap;
  size_t nstrings, cap_strmap;

  pgo_u64map loc_ids, fn_ids, map_ids;     /* file id -> index */
  uint32_t *loc_direct;                    /* small ids (the usual, dense case): index + 1 */
  size_t cap_loc_direct;
  pgo_flat_index memo;                     /* whole stacks (tree decode): hash bits, node */
  pgo_flat_index flats;                    /* the flat stacks (flat decode), keyed by
                                              the file's ids */
  uint8_t *loc_defined, *fn_defined;
  size_t cap_loc_defined, cap_fn_defined;
  uint64_t *loc_mapping_id;                /* raw mapping id per location */
  size_t cap_loc_mapping_id;

  pgo_stack_index stacks;
  pgo_sample_index sample_index;
  pgo_labelset_index labelsets;
  uint32_t *stack_buf;
  size_t cap_stack_buf;
  uint32_t *last_node;                     /* location index -> frame node last seen */
  size_t cap_last_node, nlast_node;
  pgo_label *label_buf;
  size_t cap_label_buf;

  /* raw header fields (string indexes resolved at the end) */
  pgo_value_type *types;
  size_t ntypes, cap_types;
  int64_t period_type_raw[2];
  int64_t default_type_raw, drop_raw, keep_raw, doc_raw;
  int64_t *comments_raw;
  size_t ncomments, cap_comments;

  size_t value_width;                      /* values per sample, from the first sample */
  bool have_width;
  uint64_t bad_width_sample;               /* first sample with another count, + 1 */
  size_t bad_width_count;
  uint64_t known_fields;                   /* fields of Profile decoded so far */
  uint64_t field_offset;                   /* where the current field starts */
  pgo_error deferred;                      /* a CheckValid-style failure, reported after */
  bool have_deferred;                      /* the whole message decoded, as pprof does */
  unsigned char head[64];                  /* the first bytes, to describe non-profiles */
  size_t head_len;
  uint64_t budget;                         /* bytes this decode may hold (pgo_memory_budget) */
  bool flat;                               /* leave stacks flat (pgo_profile_decode_flat) */
} decoder;

static void *scratch_alloc(void *data, size_t size) { return pgo_arena_alloc(data, size); }
static void scratch_free(void *data, void *ptr) { (void)data; (void)ptr; }

/* ---- small helpers ---------------------------------------------------------------- */

#define FAIL(code, ...) pgo_fail(d->err, code, __VA_ARGS__)
#define NOMEM() FAIL("nomem", "out of memory while decoding the profile")

/* A string index from the file, checked to fit; resolved later through strmap. */
static bool raw_string(decoder *d, int64_t idx, const char *what, uint64_t id, uint32_t *out) {
  if (idx < 0 || idx >= (int64_t)UINT32_MAX)
    return FAIL("invalid", "%s (id %" PRIu64 ") has string index %" PRId64 ", which cannot be"
                " in the string table; the profile is corrupt", what, id, idx);
  *out = (uint32_t)idx;
  return true;
}

static bool resolve_string(decoder *d, uint32_t *idx, const char *what, uint64_t id) {
  if (*idx >= d->nstrings)
    return FAIL("invalid", "%s (id %" PRIu64 ") refers to string %" PRIu32 " but the string"
                " table has only %zu entries; the profile is corrupt", what, id, *idx,
                d->nstrings);
  *idx = d->strmap[*idx];
  return true;
}

static bool resolve_raw(decoder *d, int64_t raw, uint32_t *out, const char *what) {
  uint32_t idx = 0;
  if (!raw_string(d, raw, what, 0, &idx)) return false;
  if (!resolve_string(d, &idx, what, 0)) return false;
  *out = idx;
  return true;
}

/* ---- the memory budget ------------------------------------------------------------------ */

/* Bytes held by the model under construction and the decoder's own tables; every table
 * is counted at its capacity, so the figure is what malloc was asked for. */
static uint64_t decoder_memory(const decoder *d) {
  const pgo_profile *p = d->p;
  uint64_t m = p->strings.pool.used_bytes + p->strings.cap * sizeof *p->strings.ent +
               p->strings.nslots * sizeof *p->strings.slots;
  m += p->cap_mappings * sizeof *p->mappings + p->cap_functions * sizeof *p->functions +
       p->cap_locations * sizeof *p->locations + p->cap_lines * sizeof *p->lines +
       p->cap_frames * sizeof *p->frames + p->cap_labels * sizeof *p->labels +
       p->cap_labelsets * sizeof *p->labelsets + p->cap_samples * sizeof *p->samples +
       p->cap_values * sizeof *p->values + p->cap_flat_locs * sizeof *p->flat_locs +
       p->cap_flat_start * sizeof *p->flat_start;
  m += d->cap_strmap * sizeof *d->strmap + d->cap_loc_direct * sizeof *d->loc_direct +
       d->memo.nslots * sizeof *d->memo.slots + d->cap_loc_defined + d->cap_fn_defined +
       d->cap_loc_mapping_id * sizeof *d->loc_mapping_id +
       d->stacks.nslots * sizeof *d->stacks.slots + d->flats.nslots * sizeof *d->flats.slots +
       d->sample_index.nslots * sizeof *d->sample_index.slots +
       d->sample_index.cap_unlabelled * sizeof *d->sample_index.unlabelled +
       d->labelsets.nslots * (sizeof *d->labelsets.hashes + sizeof *d->labelsets.sets) +
       d->cap_stack_buf * sizeof *d->stack_buf + d->cap_last_node * sizeof *d->last_node +
       d->cap_label_buf * sizeof *d->label_buf + d->cap_comments * sizeof *d->comments_raw +
       (d->loc_ids.nslots + d->fn_ids.nslots + d->map_ids.nslots) *
           (sizeof *d->loc_ids.keys + sizeof *d->loc_ids.vals);
  return m + (d->src.gz ? d->src.cap : 0) + d->scratch.used_bytes;
}

/* False (too_large) when holding `extra` more bytes would pass the budget. */
static bool within_budget(decoder *d, uint64_t extra) {
  uint64_t held = decoder_memory(d);
  if (extra <= d->budget && held <= d->budget - extra) return true;
  return FAIL("too_large", "decoding this profile needs more than %" PRIu64 " bytes of memory"
              " (%" PRIu64 " held at byte %" PRIu64 " of the%s data, %" PRIu64 " more asked"
              " for); the budget is min(max_memory, max_memory_ratio x %zu input bytes, at"
              " least %" PRIu64 "): raise max_memory or max_memory_ratio if the profile is"
              " genuine", d->budget, held, d->field_offset, d->src.gz ? " decompressed" : "",
              extra, d->src.in_len, (uint64_t)PGO_MEMORY_FLOOR);
}

/* Index of a location by file id, creating an undefined placeholder on first sight. */
enum { DIRECT_ID_LIMIT = 1 << 22 };   /* ids below this use a plain array, not a hash */

static bool location_index(decoder *d, uint64_t id, uint32_t *index) {
  pgo_profile *p = d->p;
  uint32_t v = (uint32_t)p->nlocations;
  bool found;
  if (id < DIRECT_ID_LIMIT) {
    if (id < d->cap_loc_direct && d->loc_direct[id]) { *index = d->loc_direct[id] - 1; return true; }
    if (id >= d->cap_loc_direct) {
      size_t old = d->cap_loc_direct, ncap = old ? old : 1024;
      while (ncap <= id) ncap *= 2;
      uint32_t *nd = realloc(d->loc_direct, ncap * sizeof *nd);
      if (!nd) return NOMEM();
      memset(nd + old, 0, (ncap - old) * sizeof *nd);
      d->loc_direct = nd;
      d->cap_loc_direct = ncap;
    }
    d->loc_direct[id] = v + 1;
    found = false;
  } else if (!pgo_u64map_upsert(&d->loc_ids, id, &v, &found)) {
    return NOMEM();
  }
  if (!found) {
    if (!PGO_RESERVE(p->locations, p->cap_locations, p->nlocations + 1) ||
        !PGO_RESERVE(d->loc_defined, d->cap_loc_defined, p->nlocations + 1) ||
        !PGO_RESERVE(d->loc_mapping_id, d->cap_loc_mapping_id, p->nlocations + 1))
      return NOMEM();
    p->locations[p->nlocations] = (pgo_location){.id = id, .mapping = PGO_NONE};
    d->loc_defined[p->nlocations] = 0;
    d->loc_mapping_id[p->nlocations] = 0;
    p->nlocations++;
  }
  *index = v;
  return true;
}

static bool function_index(decoder *d, uint64_t id, uint32_t *index) {
  pgo_profile *p = d->p;
  uint32_t v = (uint32_t)p->nfunctions;
  bool found;
  if (!pgo_u64map_upsert(&d->fn_ids, id, &v, &found)) return NOMEM();
  if (!found) {
    if (!PGO_RESERVE(p->functions, p->cap_functions, p->nfunctions + 1) ||
        !PGO_RESERVE(d->fn_defined, d->cap_fn_defined, p->nfunctions + 1))
      return NOMEM();
    p->functions[p->nfunctions] = (pgo_function){.id = id};
    d->fn_defined[p->nfunctions] = 0;
    p->nfunctions++;
  }
  *index = v;
  return true;
}

/* Remember the first validity failure found while decoding; it is reported once the
 * whole message is read, so decode-level errors (concatenation, truncation) win. */
__attribute__((format(printf, 2, 3)))
static bool defer(decoder *d, const char *fmt, ...) {
  if (!d->have_deferred) {
    va_list ap;
    va_start(ap, fmt);
    snprintf(d->deferred.code, sizeof d->deferred.code, "invalid");
    vsnprintf(d->deferred.message, sizeof d->deferred.message, fmt, ap);
    va_end(ap);
    d->have_deferred = true;
  }
  return true;
}

/* ---- submessages --------------------------------------------------------------------- */

static bool on_value_type(decoder *d, const uint8_t *data, size_t len, pgo_value_type *out,
                          const char *what) {
  Perftools__Profiles__ValueType *vt =
      perftools__profiles__value_type__unpack(&d->alloc, len, data);
  if (!vt) return FAIL("invalid", "the %s at byte %" PRIu64 " is not a valid ValueType message",
                       what, d->field_offset);
  return raw_string(d, vt->type, what, 0, &out->type) &&
         raw_string(d, vt->unit, what, 0, &out->unit);
}

/* The key of a stack by its file ids. Two ids per multiply: only the low 32 bits of each
 * are mixed in (larger ids are rare, and a collision only costs a compare). */
static uint64_t ids_key(const uint64_t *ids, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    h = (h ^ ((uint32_t)ids[i] | ids[i + 1] << 32)) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  if (i < n) h = (h ^ (uint32_t)ids[i]) * 0x100000001b3ULL;
  return pgo_hash_mix(h, 0);
}

/* Location indices of a stack given as file ids, into out[n]. */
static bool stack_indices(decoder *d, const uint64_t *ids, size_t n, uint64_t sample_no,
                          uint32_t *out) {
  for (size_t i = 0; i < n; i++) {
    if (ids[i] == 0)
      return FAIL("invalid", "sample #%" PRIu64 " refers to location id 0, which is reserved;"
                  " the profile is corrupt", sample_no);
    if (!location_index(d, ids[i], &out[i])) return false;
  }
  return true;
}

/* The flat stack of a sample (pgo_profile_flat_stack): one hash of the whole stack, no
 * per-frame lookup, a few bytes per frame. */
static bool flat_stack(decoder *d, const uint64_t *ids, size_t n, uint64_t sample_no,
                       uint32_t *stack) {
  *stack = 0;
  if (n == 0) return true;
  uint32_t *locs = pgo_profile_flat_reserve(d->p, n);
  if (!locs) return NOMEM();
  /* keyed by the file's ids: within one file an id names one location, so equal id lists
   * are equal stacks */
  uint64_t key = ids_key(ids, n);
  if (d->flats.nslots) __builtin_prefetch(pgo_flat_index_first(&d->flats, key));
  return stack_indices(d, ids, n, sample_no, locs) &&
         (pgo_profile_flat_stack_keyed(d->p, &d->flats, n, key, stack) || NOMEM());
}

/* The frame node of a stack given as file location ids (leaf first). Identical stacks
 * repeat a lot in real profiles, so whole stacks are remembered by a hash of their ids
 * (checked against the frames on a hit) before walking the prefix tree frame by frame. */
static bool sample_stack(decoder *d, const uint64_t *ids, size_t n, uint64_t sample_no,
                         uint32_t *stack) {
  if (d->flat) return flat_stack(d, ids, n, sample_no, stack);
  pgo_profile *p = d->p;
  uint64_t h = pgo_hash_bytes(ids, n * sizeof *ids);
  if (!pgo_flat_index_reserve(&d->memo)) return NOMEM();
  uint32_t tag = PGO_FLAT_TAG(h);       /* slot and tag come from the same bits: rehashing */
  size_t slot = tag & (d->memo.nslots - 1);  /* needs nothing but the stored tag */
  for (; d->memo.slots[slot].stack; slot = (slot + 1) & (d->memo.nslots - 1)) {
    const pgo_flat_slot *e = &d->memo.slots[slot];
    if (e->tag != tag || p->frames[e->stack].depth != n) continue;
    uint32_t f = e->stack;
    size_t i = 0;
    while (i < n && f && p->locations[p->frames[f].location].id == ids[i]) {
      f = p->frames[f].parent;
      i++;
    }
    if (i == n && f == 0) { *stack = e->stack; return true; }
  }
  if (!PGO_RESERVE(d->stack_buf, d->cap_stack_buf, n + 1)) return NOMEM();
  if (!stack_indices(d, ids, n, sample_no, d->stack_buf)) return false;
  /* Walk root first. Each location remembers the node it last resolved to: hot paths
   * share their root-side frames, so that node's parent usually matches and the hash
   * probe is skipped. */
  if (!PGO_RESERVE(d->last_node, d->cap_last_node, p->nlocations)) return NOMEM();
  for (size_t k = d->nlast_node; k < p->nlocations; k++) d->last_node[k] = 0;
  d->nlast_node = p->nlocations;
  uint32_t cur = 0;
  for (size_t i = n; i-- > 0;) {
    uint32_t loc = d->stack_buf[i], cand = d->last_node[loc];
    if (cand && p->frames[cand].parent == cur) { cur = cand; continue; }
    if (!pgo_profile_frame(p, &d->stacks, cur, loc, &cur)) return NOMEM();
    d->last_node[loc] = cur;
  }
  *stack = cur;
  if (*stack) {                          /* the empty stack (node 0) needs no memo */
    d->memo.slots[slot] = (pgo_flat_slot){tag, *stack};
    d->memo.count++;
  }
  return true;
}

static bool on_sample(decoder *d, const uint8_t *data, size_t len) {
  pgo_profile *p = d->p;
  uint64_t n = p->sample_messages;
  if (n >= d->limits->max_samples)
    return FAIL("too_large", "the profile has more than %" PRIu64 " samples (limit"
                " max_samples); raise the limit if the file is genuine", d->limits->max_samples);
  Perftools__Profiles__Sample *s = perftools__profiles__sample__unpack(&d->alloc, len, data);
  if (!s) return FAIL("invalid", "sample #%" PRIu64 " (at byte %" PRIu64 ") is not a valid"
                      " Sample message; the profile is corrupt", n + 1, d->field_offset);
  p->sample_messages++;
  if (!d->have_width) {
    d->value_width = s->n_value;
    d->have_width = true;
    p->nsample_types = s->n_value;    /* provisional: the real types usually come last */
  } else if (s->n_value != d->value_width) {
    if (!d->bad_width_sample) { d->bad_width_sample = n + 1; d->bad_width_count = s->n_value; }
    return true;
  }
  if (s->n_location_id > d->limits->max_stack_depth)
    return FAIL("too_large", "sample #%" PRIu64 " has a stack of %zu frames, over the limit of"
                " %" PRIu32 " (max_stack_depth)", n + 1, s->n_location_id,
                d->limits->max_stack_depth);
  uint32_t stack = 0;
  if (!sample_stack(d, s->location_id, s->n_location_id, n + 1, &stack)) return false;

  /* labels: pprof reads a label as a string label when str is set, as numeric when num or
   * num_unit is set, and drops it otherwise */
  uint32_t nl = 0;
  if (s->n_label) {
    if (!PGO_RESERVE(d->label_buf, d->cap_label_buf, s->n_label)) return NOMEM();
    for (size_t i = 0; i < s->n_label; i++) {
      const Perftools__Profiles__Label *l = s->label[i];
      pgo_label out = {0, 0, 0, 0};
      if (!raw_string(d, l->key, "sample label key", n + 1, &out.key)) return false;
      if (l->str != 0) {
        if (!raw_string(d, l->str, "sample label value", n + 1, &out.str)) return false;
      } else if (l->num != 0 || l->num_unit != 0) {
        out.num = l->num;
        if (!raw_string(d, l->num_unit, "sample label unit", n + 1, &out.num_unit)) return false;
      } else {
        continue;
      }
      d->label_buf[nl++] = out;
    }
  }
  uint32_t set;
  if (!pgo_profile_labelset(p, &d->labelsets, d->label_buf, nl, &set)) return NOMEM();
  if (!pgo_profile_add_sample(p, &d->sample_index, stack, set, s->value)) return NOMEM();
  return true;
}

static bool on_mapping(decoder *d, const uint8_t *data, size_t len) {
  Perftools__Profiles__Mapping *m = perftools__profiles__mapping__unpack(&d->alloc, len, data);
  if (!m) return FAIL("invalid", "the Mapping message at byte %" PRIu64 " is malformed",
                      d->field_offset);
  if (m->id == 0)
    return FAIL("invalid", "found a mapping with the reserved id 0; the profile is corrupt");
  pgo_mapping out = {.id = m->id, .start = m->memory_start, .limit = m->memory_limit,
                     .offset = m->file_offset, .has_functions = m->has_functions,
                     .has_filenames = m->has_filenames, .has_line_numbers = m->has_line_numbers,
                     .has_inline_frames = m->has_inline_frames};
  if (!raw_string(d, m->filename, "mapping filename", m->id, &out.file) ||
      !raw_string(d, m->build_id, "mapping build id", m->id, &out.build_id))
    return false;
  uint32_t index = (uint32_t)d->p->nmappings;
  bool found;
  if (!pgo_u64map_upsert(&d->map_ids, m->id, &index, &found)) return NOMEM();
  if (found) return defer(d, "multiple mappings have id %" PRIu64 "; the profile is corrupt", m->id);
  if (!pgo_profile_add_mapping(d->p, &out, &index)) return NOMEM();
  return true;
}

static bool on_location(decoder *d, const uint8_t *data, size_t len) {
  pgo_profile *p = d->p;
  Perftools__Profiles__Location *l = perftools__profiles__location__unpack(&d->alloc, len, data);
  if (!l) return FAIL("invalid", "the Location message at byte %" PRIu64 " is malformed",
                      d->field_offset);
  if (l->id == 0)
    return FAIL("invalid", "found a location with the reserved id 0; the profile is corrupt");
  uint32_t index;
  if (!location_index(d, l->id, &index)) return false;
  if (d->loc_defined[index])
    return defer(d, "multiple locations have id %" PRIu64 "; the profile is corrupt", l->id);
  if (l->n_line >= PGO_NONE - p->nlines ||
      !PGO_RESERVE(p->lines, p->cap_lines, p->nlines + l->n_line))
    return NOMEM();
  uint32_t start = (uint32_t)p->nlines;
  for (size_t i = 0; i < l->n_line; i++) {
    const Perftools__Profiles__Line *ln = l->line[i];
    if (ln->function_id == 0)
      return FAIL("invalid", "location id %" PRIu64 " has a line with no function (function"
                  " id 0); the profile is corrupt", l->id);
    uint32_t fn;
    if (!function_index(d, ln->function_id, &fn)) return false;
    p->lines[p->nlines++] = (pgo_line){fn, ln->line, ln->column};
  }
  pgo_location *loc = &p->locations[index];
  loc->address = l->address;
  loc->is_folded = l->is_folded;
  loc->line_start = start;
  loc->line_count = (uint32_t)l->n_line;
  d->loc_mapping_id[index] = l->mapping_id;
  d->loc_defined[index] = 1;
  return true;
}

static bool on_function(decoder *d, const uint8_t *data, size_t len) {
  Perftools__Profiles__Function *f = perftools__profiles__function__unpack(&d->alloc, len, data);
  if (!f) return FAIL("invalid", "the Function message at byte %" PRIu64 " is malformed",
                      d->field_offset);
  if (f->id == 0)
    return FAIL("invalid", "found a function with the reserved id 0; the profile is corrupt");
  uint32_t index;
  if (!function_index(d, f->id, &index)) return false;
  if (d->fn_defined[index])
    return defer(d, "multiple functions have id %" PRIu64 "; the profile is corrupt", f->id);
  pgo_function *fn = &d->p->functions[index];
  fn->start_line = f->start_line;
  if (!raw_string(d, f->name, "function name", f->id, &fn->name) ||
      !raw_string(d, f->system_name, "function system name", f->id, &fn->system_name) ||
      !raw_string(d, f->filename, "function filename", f->id, &fn->filename))
    return false;
  d->fn_defined[index] = 1;
  return true;
}

static bool on_string(decoder *d, const uint8_t *data, size_t len) {
  if (d->nstrings == 0 && len != 0)
    return FAIL("invalid", "the first entry of the string table must be empty but is %zu bytes"
                " long; the profile is corrupt", len);
  if (!PGO_RESERVE(d->strmap, d->cap_strmap, d->nstrings + 1)) return NOMEM();
  if (d->nstrings >= UINT32_MAX - 1) return FAIL("too_large", "the string table is too large");
  if (!pgo_profile_intern(d->p, (const char *)data, len, &d->strmap[d->nstrings])) return NOMEM();
  d->nstrings++;
  return true;
}

static bool push_comment(decoder *d, int64_t v) {
  if (!PGO_RESERVE(d->comments_raw, d->cap_comments, d->ncomments + 1)) return NOMEM();
  d->comments_raw[d->ncomments++] = v;
  return true;
}

/* ---- the top-level walk ------------------------------------------------------------ */

/* Read a varint at buf[*pos..end); false when it is cut off or longer than 10 bytes. */
static int read_varint(const uint8_t *buf, size_t end, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0, i = 0; i < 10; i++, shift += 7) {
    if (*pos >= end) return -1;                     /* cut off */
    uint8_t b = buf[(*pos)++];
    if (i == 9 && b > 1) return -2;                 /* overflows 64 bits */
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) { *out = v; return 0; }
  }
  return -2;
}

static const char *const field_names[16] = {
  NULL, "sample_type", "sample", "mapping", "location", "function", "string_table",
  "drop_frames", "keep_frames", "time_nanos", "duration_nanos", "period_type", "period",
  "comment", "default_sample_type", "doc_url"
};

/* Error for broken wire structure: not_pprof if nothing valid came before it. */
static bool wire_error(decoder *d, const char *what) {
  if (d->known_fields == 0) {
    char desc[400];
    pgo_sniff_describe(d->head, d->head_len, desc, sizeof desc);
    return FAIL("not_pprof", "not a pprof profile: %s%s", desc,
                d->src.gz ? " (the gzip layer was fine; its content is not a profile)" : "");
  }
  return FAIL("invalid", "corrupt profile: %s at byte %" PRIu64 " of the%s data; the file"
              " is damaged", what, d->field_offset, d->src.gz ? " decompressed" : "");
}

static bool walk(decoder *d) {
  pgo_source *src = &d->src;
  for (;;) {
    if (!pgo_source_fill(src, 20, d->err)) return false;
    size_t avail = pgo_source_avail(src);
    if (avail == 0) return true;
    d->field_offset = pgo_source_offset(src);
    const uint8_t *buf = src->buf;
    size_t pos = src->pos, end = src->end;
    uint64_t tag, v = 0;
    int rc = read_varint(buf, end, &pos, &tag);
    if (rc == -2) return wire_error(d, "an overlong field tag");
    if (rc == -1) goto cut;
    uint32_t field = (uint32_t)(tag >> 3), wt = (uint32_t)(tag & 7);
    if (field == 0 || (tag >> 3) > 0x1fffffff) return wire_error(d, "an invalid field number 0");
    size_t len = 0;
    const uint8_t *payload = NULL;
    switch (wt) {
      case 0:
        rc = read_varint(buf, end, &pos, &v);
        if (rc == -2) return wire_error(d, "an overlong varint");
        if (rc == -1) goto cut;
        break;
      case 1: case 5: {
        size_t w = wt == 1 ? 8 : 4;
        if (end - pos < w) {
          src->pos = pos;  /* fixed fields are small: refill and retry below */
          if (!pgo_source_fill(src, w, d->err)) return false;
          if (pgo_source_avail(src) < w) goto cut;
          buf = src->buf; pos = src->pos; end = src->end;
        }
        pos += w;
        break;
      }
      case 2: {
        rc = read_varint(buf, end, &pos, &v);
        if (rc == -2) return wire_error(d, "an overlong length");
        if (rc == -1) goto cut;
        if (v > d->limits->max_decompressed)
          return d->known_fields == 0 ? wire_error(d, "an impossible length")
                                      : FAIL("too_large", "field %s at byte %" PRIu64 " claims %"
                                             PRIu64 " bytes, more than max_decompressed (%" PRIu64
                                             "): raise the limit if the profile is genuine; "
                                             "otherwise the file is corrupt",
                                             field < 16 && field_names[field] ? field_names[field] : "?",
                                             d->field_offset, v, (uint64_t)d->limits->max_decompressed);
        len = (size_t)v;
        size_t header = pos - src->pos;
        if (end - pos < len) {
          /* the window grows to hold the field: refuse before allocating */
          if (len > src->cap && !within_budget(d, len)) return false;
          if (!pgo_source_fill(src, header + len, d->err)) return false;
          if (pgo_source_avail(src) < header + len) goto cut;
          buf = src->buf; end = src->end; pos = src->pos + header;
        }
        payload = buf + pos;
        pos += len;
        break;
      }
      default:
        return wire_error(d, wt == 3 || wt == 4 ? "a group (wire type 3/4), which profile.proto"
                                                  " never uses" : "an unknown wire type");
    }
    src->pos = pos;
    if (field > 15) continue;           /* unknown fields are skipped, as pprof does */
    bool want_len = field <= 6 || field == 11 || (field == 13 && wt == 2);
    bool want_var = !want_len || field == 13;
    if ((wt == 2 && !want_len) || (wt == 0 && !want_var) || wt == 1 || wt == 5) {
      char what[96];
      snprintf(what, sizeof what, "field %s with the wrong wire type %u", field_names[field], wt);
      return wire_error(d, what);
    }
    bool ok = true;
    switch (field) {
      case 1: {
        pgo_value_type vt;
        ok = on_value_type(d, payload, len, &vt, "sample type");
        if (ok && !PGO_RESERVE(d->types, d->cap_types, d->ntypes + 1)) return NOMEM();
        if (ok) d->types[d->ntypes++] = vt;
        break;
      }
      case 2: ok = on_sample(d, payload, len); break;
      case 3: ok = on_mapping(d, payload, len); break;
      case 4: ok = on_location(d, payload, len); break;
      case 5: ok = on_function(d, payload, len); break;
      case 6: ok = on_string(d, payload, len); break;
      case 7: d->drop_raw = (int64_t)v; break;
      case 8: d->keep_raw = (int64_t)v; break;
      case 9:
        if (d->p->time_nanos != 0 && v != 0)
          return FAIL("invalid", "two profiles are concatenated in this file (a second"
                      " time_nanos at byte %" PRIu64 "); merge them with pgo.merge instead",
                      d->field_offset);
        d->p->time_nanos = (int64_t)v;
        break;
      case 10: d->p->duration_nanos = (int64_t)v; break;
      case 11: {
        pgo_value_type vt;
        ok = on_value_type(d, payload, len, &vt, "period type");
        if (ok) { d->period_type_raw[0] = vt.type; d->period_type_raw[1] = vt.unit; }
        break;
      }
      case 12: d->p->period = (int64_t)v; break;
      case 13:
        if (wt == 0) ok = push_comment(d, (int64_t)v);
        else {
          size_t q = 0;
          while (ok && q < len) {
            uint64_t c;
            if (read_varint(payload, len, &q, &c) != 0) return wire_error(d, "a broken packed comment list");
            ok = push_comment(d, (int64_t)c);
          }
        }
        break;
      case 14: d->default_type_raw = (int64_t)v; break;
      case 15: d->doc_raw = (int64_t)v; break;
    }
    if (!ok) {
      /* a first field that does not decode means the bytes were never a profile */
      if (d->known_fields == 0 && strcmp(d->err->code, "invalid") == 0)
        return wire_error(d, d->err->message);
      return false;
    }
    d->known_fields++;
    if (!within_budget(d, 0)) return false;
    pgo_arena_reset(&d->scratch);
  }
cut:
  if (d->known_fields == 0) return wire_error(d, "a cut-off first field");
  if (src->gz)
    return FAIL("invalid", "corrupt profile: the gzip data is complete but the profile inside"
                " stops in the middle of a field at byte %" PRIu64, d->field_offset);
  return FAIL("truncated", "the profile stops in the middle of a field at byte %" PRIu64
              " of %zu: the file was cut off (an interrupted download or copy?); capture or"
              " copy it again", d->field_offset, src->in_len);
}

/* ---- after the walk: resolve and check every reference ---------------------------------- */

static bool finish(decoder *d) {
  pgo_profile *p = d->p;
  if (d->have_deferred) { *d->err = d->deferred; return false; }
  if (d->nstrings == 0)
    return FAIL("invalid", "the profile has no string table (even the empty first entry is"
                " missing); the file is not a complete profile");
  if (d->bad_width_sample)
    return FAIL("invalid", "sample #%" PRIu64 " has %zu values but sample #1 has %zu; every"
                " sample must have one value per sample type", d->bad_width_sample,
                d->bad_width_count, d->value_width);
  if (p->sample_messages > 0 && d->ntypes == 0)
    return FAIL("invalid", "the profile has samples but no sample types (missing sample type"
                " information)");
  if (p->sample_messages > 0 && d->value_width != d->ntypes)
    return FAIL("invalid", "samples have %zu values but the profile declares %zu sample types",
                d->value_width, d->ntypes);
  for (size_t i = 0; i < d->ntypes; i++) {
    if (!resolve_string(d, &d->types[i].type, "sample type", i + 1) ||
        !resolve_string(d, &d->types[i].unit, "sample type unit", i + 1))
      return false;
  }
  if (!pgo_profile_set_sample_types(p, d->types, d->ntypes)) return NOMEM();
  if (!resolve_raw(d, d->period_type_raw[0], &p->period_type.type, "period type") ||
      !resolve_raw(d, d->period_type_raw[1], &p->period_type.unit, "period unit") ||
      !resolve_raw(d, d->default_type_raw, &p->default_sample_type, "default sample type") ||
      !resolve_raw(d, d->drop_raw, &p->drop_frames, "drop_frames") ||
      !resolve_raw(d, d->keep_raw, &p->keep_frames, "keep_frames") ||
      !resolve_raw(d, d->doc_raw, &p->doc_url, "doc_url"))
    return false;
  for (size_t i = 0; i < d->ncomments; i++) {
    uint32_t id;
    if (!resolve_raw(d, d->comments_raw[i], &id, "comment")) return false;
    if (!PGO_RESERVE(p->comments, p->cap_comments, p->ncomments + 1)) return NOMEM();
    p->comments[p->ncomments++] = id;
  }
  for (size_t i = 0; i < p->nmappings; i++) {
    pgo_mapping *m = &p->mappings[i];
    if (!resolve_string(d, &m->file, "mapping filename", m->id) ||
        !resolve_string(d, &m->build_id, "mapping build id", m->id))
      return false;
  }
  for (size_t i = 0; i < p->nfunctions; i++) {
    pgo_function *f = &p->functions[i];
    if (!d->fn_defined[i])
      return FAIL("invalid", "a location line refers to function id %" PRIu64 ", which the"
                  " profile does not define; the profile is corrupt", f->id);
    if (!resolve_string(d, &f->name, "function name", f->id) ||
        !resolve_string(d, &f->system_name, "function system name", f->id) ||
        !resolve_string(d, &f->filename, "function filename", f->id))
      return false;
  }
  for (size_t i = 0; i < p->nlocations; i++) {
    pgo_location *l = &p->locations[i];
    if (!d->loc_defined[i])
      return FAIL("invalid", "a sample refers to location id %" PRIu64 ", which the profile"
                  " does not define (sample has nil location); the profile is corrupt", l->id);
    uint32_t m;
    /* pprof treats an unknown mapping id as "no mapping"; so do we */
    l->mapping = d->loc_mapping_id[i] && pgo_u64map_get(&d->map_ids, d->loc_mapping_id[i], &m)
                     ? m : PGO_NONE;
  }
  for (size_t i = 0; i < p->nlabels; i++) {
    pgo_label *l = &p->labels[i];
    if (!resolve_string(d, &l->key, "label key", 0) ||
        !resolve_string(d, &l->str, "label value", 0) ||
        !resolve_string(d, &l->num_unit, "label unit", 0))
      return false;
  }
  return true;
}

static pgo_profile *decode(const void *data, size_t len, const pgo_limits *limits, bool flat,
                           pgo_error *err) {
  pgo_limits defaults;
  if (!limits) { pgo_limits_default(&defaults); limits = &defaults; }
  if (len == 0) {
    pgo_fail(err, "empty", "empty input: 0 bytes, not a profile (a capture that wrote nothing?);"
             " never use it as default.pgo");
    return NULL;
  }
  decoder dd, *d = &dd;
  memset(d, 0, sizeof *d);
  d->limits = limits;
  d->err = err;
  d->budget = pgo_memory_budget(limits, len);
  d->flat = flat;
  pgo_arena_init(&d->scratch);
  d->alloc = (ProtobufCAllocator){scratch_alloc, scratch_free, &d->scratch};
  pgo_u64map_init(&d->loc_ids);
  pgo_u64map_init(&d->fn_ids);
  pgo_u64map_init(&d->map_ids);
  pgo_stack_index_init(&d->stacks);
  pgo_flat_index_init(&d->flats);
  pgo_flat_index_init(&d->memo);
  pgo_sample_index_init(&d->sample_index);
  pgo_labelset_index_init(&d->labelsets);

  bool ok = false;
  d->p = pgo_profile_new();
  if (!d->p) { pgo_fail(err, "nomem", "out of memory"); goto out; }
  if (flat && !pgo_profile_make_flat(d->p)) {
    pgo_fail(err, "nomem", "out of memory");
    goto out;
  }
  if (!pgo_source_open(&d->src, data, len, limits->max_decompressed, err)) goto out;
  if (!pgo_source_fill(&d->src, 64, err)) goto out;
  if (pgo_source_avail(&d->src) == 0) {
    pgo_fail(err, "empty", "empty input: the gzip data holds 0 bytes, not a profile");
    goto out;
  }
  d->head_len = pgo_source_avail(&d->src) < sizeof d->head ? pgo_source_avail(&d->src)
                                                            : sizeof d->head;
  memcpy(d->head, d->src.buf + d->src.pos, d->head_len);
  if (pgo_sniff_legacy(d->head, d->head_len, err)) goto out;
  ok = walk(d) && finish(d);
out:
  pgo_source_close(&d->src);
  pgo_arena_free(&d->scratch);
  pgo_u64map_free(&d->loc_ids);
  pgo_u64map_free(&d->fn_ids);
  pgo_u64map_free(&d->map_ids);
  pgo_stack_index_free(&d->stacks);
  pgo_flat_index_free(&d->flats);
  pgo_sample_index_free(&d->sample_index);
  pgo_labelset_index_free(&d->labelsets);
  free(d->strmap);
  free(d->loc_defined);
  free(d->fn_defined);
  free(d->loc_mapping_id);
  free(d->loc_direct);
  pgo_flat_index_free(&d->memo);
  free(d->stack_buf);
  free(d->last_node);
  free(d->label_buf);
  free(d->types);
  free(d->comments_raw);
  if (!ok) {
    pgo_profile_free(d->p);
    return NULL;
  }
  return d->p;
}

pgo_profile *pgo_profile_decode(const void *data, size_t len, const pgo_limits *limits,
                                pgo_error *err) {
  return decode(data, len, limits, false, err);
}

pgo_profile *pgo_profile_decode_flat(const void *data, size_t len, const pgo_limits *limits,
                                     pgo_error *err) {
  return decode(data, len, limits, true, err);
}
