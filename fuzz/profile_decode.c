/* profile_decode.c: libFuzzer target for the profile decoder and for what a user runs on
 * a profile it decoded: the report graph behind `top` (flat and cum order), focus/ignore
 * and the other name filters, a merge of the profile with itself, scaling, the compiler's
 * call edges with the preprofile text, hot call sites and compaction for PGO, label totals,
 * the edits (keep functions, rename, anonymize) and encode -> decode.
 *
 * Oracles; a violation prints what broke and aborts, so libFuzzer keeps the input:
 *   - a failure carries a code and a message, and the code is one the call documents;
 *   - every decoded or derived profile links only inside its own tables (check_model);
 *   - merge(p, p) has twice p's totals (modulo 2^64, as the library adds) and, when no
 *     value is large enough for doubling to wrap, as many samples as compact(p), twice its
 *     top rows and twice its call edges; scale(p, 2) then has merge(p, p)'s call edges;
 *   - focus=R and ignore=R split the samples that have a stack: their totals add up to p's;
 *   - renaming and anonymizing keep the totals; keeping the functions matching R keeps
 *     exactly the samples pgo_samples_with_functions names;
 *   - an untrimmed top shows every node, in order, and its flat sum is the sum over the
 *     samples that have a stack;
 *   - decode_flat (pgo.load's path) fails as decode does, or gives the same samples with
 *     flat stacks that link inside their tables, and a valid prefix tree from them; half
 *     the inputs (by their hash) run top and the filters on that flat profile, then the
 *     rest on the prefix tree built from it, as the Lua bindings do;
 *   - encode -> decode keeps the totals, the top rows, the call edges and the label totals
 *     (not the bytes: decoding numbers functions in order of first use, so a second
 *     encoding may number them differently).
 * Which granularity, sort order, regular expression or CDF is used is picked from a hash
 * of the input, so every input always runs the same way. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/aggregate.h"
#include "pgolua/edit.h"
#include "pgolua/filter.h"
#include "pgolua/merge.h"
#include "pgolua/pgograph.h"
#include "pgolua/profile.h"

enum {
  MAX_PATTERN = 48,                    /* longer profile strings are not used as regexes */
  DOUBLING_SAFE_BITS = 40,             /* |value| below 2^40: doubling sums cannot wrap */
  MAX_SAMPLES_FOR_DOUBLING = 1 << 20
};

static void finding(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void finding(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("profile_decode: FINDING: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* A failed call must say why, with one of the codes it documents ("nomem" always counts). */
static void expect_failure(const char *call, const pgo_error *err, const char *const *codes) {
  if (!err->code[0] || !err->message[0])
    finding("%s failed without a code or message (code '%s')", call, err->code);
  if (strcmp(err->code, "nomem") == 0) return;
  for (size_t i = 0; codes && codes[i]; i++)
    if (strcmp(err->code, codes[i]) == 0) return;
  finding("%s failed with the undocumented code '%s': %s", call, err->code, err->message);
}

static int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wtwice(int64_t a) { return (int64_t)((uint64_t)a * 2u); }
static uint64_t magnitude(int64_t v) { return v < 0 ? 0u - (uint64_t)v : (uint64_t)v; }

static uint64_t fnv1a(const unsigned char *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001b3u;
  return h;
}

/* ---- the model's own consistency ----------------------------------------------------- */

static void check_string(const pgo_profile *p, const char *which, const char *what, uint32_t id) {
  if (id >= p->strings.count)
    finding("%s: %s names string %" PRIu32 " of %zu", which, what, id, p->strings.count);
}

static void check_model(const pgo_profile *p, const char *which) {
  if (p->strings.count == 0 || pgo_strlen(&p->strings, 0) != 0)
    finding("%s: string 0 is not the empty string", which);
  for (size_t i = 0; i < p->nsample_types; i++) {
    check_string(p, which, "a sample type", p->sample_types[i].type);
    check_string(p, which, "a sample unit", p->sample_types[i].unit);
  }
  check_string(p, which, "default_sample_type", p->default_sample_type);
  check_string(p, which, "the period type", p->period_type.type);
  check_string(p, which, "the period unit", p->period_type.unit);
  check_string(p, which, "drop_frames", p->drop_frames);
  check_string(p, which, "keep_frames", p->keep_frames);
  check_string(p, which, "doc_url", p->doc_url);
  for (size_t i = 0; i < p->ncomments; i++) check_string(p, which, "a comment", p->comments[i]);
  for (size_t i = 0; i < p->nmappings; i++) {
    check_string(p, which, "a mapping file", p->mappings[i].file);
    check_string(p, which, "a mapping build id", p->mappings[i].build_id);
  }
  for (size_t i = 0; i < p->nfunctions; i++) {
    check_string(p, which, "a function name", p->functions[i].name);
    check_string(p, which, "a function system name", p->functions[i].system_name);
    check_string(p, which, "a function file", p->functions[i].filename);
  }
  for (size_t i = 0; i < p->nlines; i++)
    if (p->lines[i].function >= p->nfunctions)
      finding("%s: line %zu names function %" PRIu32 " of %zu", which, i, p->lines[i].function,
              p->nfunctions);
  for (size_t i = 0; i < p->nlocations; i++) {
    const pgo_location *l = &p->locations[i];
    if ((uint64_t)l->line_start + l->line_count > p->nlines)
      finding("%s: location %zu has lines %" PRIu32 "+%" PRIu32 " of %zu", which, i,
              l->line_start, l->line_count, p->nlines);
    if (l->mapping != PGO_NONE && l->mapping >= p->nmappings)
      finding("%s: location %zu names mapping %" PRIu32 " of %zu", which, i, l->mapping,
              p->nmappings);
  }
  if (p->nframes == 0 || p->frames[0].depth != 0) finding("%s: no root frame", which);
  for (size_t i = 1; i < p->nframes; i++) {
    const pgo_frame *f = &p->frames[i];
    if (f->parent >= i) finding("%s: frame %zu has the later parent %" PRIu32, which, i, f->parent);
    if (f->location >= p->nlocations)
      finding("%s: frame %zu names location %" PRIu32 " of %zu", which, i, f->location,
              p->nlocations);
    if (f->depth != p->frames[f->parent].depth + 1)
      finding("%s: frame %zu has depth %" PRIu32 " under a parent of depth %" PRIu32, which, i,
              f->depth, p->frames[f->parent].depth);
  }
  /* flat stacks (merge results, flat decodes): runs in order, of known locations */
  for (size_t k = 0; p->flat && k < p->nflat; k++)
    if (p->flat_start[k + 1] < p->flat_start[k] || p->flat_start[k + 1] > p->nflat_locs)
      finding("%s: flat stack %zu runs %" PRIu32 "..%" PRIu32 " of %zu", which, k,
              p->flat_start[k], p->flat_start[k + 1], p->nflat_locs);
  for (size_t k = 0; p->flat && k < p->nflat_locs; k++)
    if (p->flat_locs[k] >= p->nlocations)
      finding("%s: flat stacks name location %" PRIu32 " of %zu", which, p->flat_locs[k],
              p->nlocations);
  for (size_t i = 0; i < p->nlabels; i++) {
    check_string(p, which, "a label key", p->labels[i].key);
    check_string(p, which, "a label value", p->labels[i].str);
    check_string(p, which, "a label unit", p->labels[i].num_unit);
  }
  if (p->nlabelsets == 0 || p->labelsets[0].count != 0) finding("%s: label set 0 is not empty", which);
  for (size_t i = 0; i < p->nlabelsets; i++)
    if ((uint64_t)p->labelsets[i].start + p->labelsets[i].count > p->nlabels)
      finding("%s: label set %zu has labels %" PRIu32 "+%" PRIu32 " of %zu", which, i,
              p->labelsets[i].start, p->labelsets[i].count, p->nlabels);
  if (p->nsamples && p->nsample_types == 0) finding("%s: samples without sample types", which);
  if (p->nsamples && p->nsamples * p->nsample_types > p->cap_values)
    finding("%s: %zu samples of %zu values but room for %zu values", which, p->nsamples,
            p->nsample_types, p->cap_values);
  for (size_t i = 0; i < p->nsamples; i++) {
    if (p->samples[i].stack >= pgo_profile_nstacks(p))
      finding("%s: sample %zu names stack %" PRIu32 " of %zu", which, i, p->samples[i].stack,
              pgo_profile_nstacks(p));
    if (p->samples[i].labels >= p->nlabelsets)
      finding("%s: sample %zu names label set %" PRIu32 " of %zu", which, i,
              p->samples[i].labels, p->nlabelsets);
  }
}

/* ---- sums ------------------------------------------------------------------------------- */

/* Column totals (wrapping, as the library adds) into a malloc'd array of >= 1 entries. */
static int64_t *totals_of(const pgo_profile *p) {
  int64_t *t = calloc(p->nsample_types ? p->nsample_types : 1, sizeof *t);
  if (!t) finding("out of memory in the harness");
  pgo_profile_totals(p, t);
  return t;
}

/* Totals of the samples with an empty stack, which every name filter drops. */
static int64_t *stackless_totals(const pgo_profile *p) {
  int64_t *t = calloc(p->nsample_types ? p->nsample_types : 1, sizeof *t);
  if (!t) finding("out of memory in the harness");
  for (size_t i = 0; i < p->nsamples; i++) {
    if (p->samples[i].stack != 0) continue;
    const int64_t *v = pgo_sample_values(p, i);
    for (size_t c = 0; c < p->nsample_types; c++) t[c] = wadd(t[c], v[c]);
  }
  return t;
}

/* True when no value is large enough for a doubled sum over all samples to wrap. */
static bool doubling_is_exact(const pgo_profile *p) {
  if (p->nsamples > MAX_SAMPLES_FOR_DOUBLING) return false;
  for (size_t i = 0; i < p->nsamples * p->nsample_types; i++)
    if (magnitude(p->values[i]) >= (uint64_t)1 << DOUBLING_SAFE_BITS) return false;
  return true;
}

/* True when column col has no negative value and its sum of magnitudes cannot wrap. */
static bool column_is_plain(const pgo_profile *p, size_t col) {
  uint64_t sum = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    int64_t v = pgo_sample_values(p, i)[col];
    if (v < 0) return false;
    if (__builtin_add_overflow(sum, (uint64_t)v, &sum) || sum > (uint64_t)INT64_MAX) return false;
  }
  return true;
}

static void same_totals(const char *what, const int64_t *want, const int64_t *got, size_t n) {
  for (size_t c = 0; c < n; c++)
    if (want[c] != got[c])
      finding("%s: column %zu totals %" PRId64 ", expected %" PRId64, what, c, got[c], want[c]);
}

/* ---- top ------------------------------------------------------------------------------- */

static const char *const top_codes[] = {NULL};   /* only "nomem" on a valid column */

/* pprof -top with every node (no cutoffs) or with pprof's default trimming. */
static bool run_top(const pgo_profile *p, size_t col, pgo_granularity gran, bool noinlines,
                    bool cum, bool trim, size_t node_count, pgo_top_result *r) {
  pgo_top_options o;
  pgo_top_options_default(&o);
  o.sample_index = col;
  o.granularity = gran;
  o.noinlines = noinlines;
  o.cum_sort = cum;
  if (!trim) o.node_fraction = o.edge_fraction = 0;
  o.node_count = trim ? node_count : 0;
  pgo_error err;
  if (pgo_top(p, &o, r, &err)) return true;
  expect_failure("pgo_top", &err, top_codes);
  return false;
}

static void check_top(const pgo_profile *p, size_t col, bool cum, bool trimmed,
                      const pgo_top_result *r, const char *which) {
  if (r->total != pgo_report_total(p, col))
    finding("%s: top total %" PRId64 " is not the report total %" PRId64, which, r->total,
            pgo_report_total(p, col));
  int64_t shown = 0;
  for (size_t i = 0; i < r->nrows; i++) {
    const pgo_top_row *row = &r->rows[i];
    if (!row->name) finding("%s: row %zu has no name", which, i);
    shown = wadd(shown, row->flat);
    if (i == 0) continue;
    const pgo_top_row *prev = &r->rows[i - 1];
    uint64_t a = magnitude(cum ? prev->cum : prev->flat), b = magnitude(cum ? row->cum : row->flat);
    if (a < b) finding("%s: row %zu (%" PRIu64 ") sorts after a smaller row (%" PRIu64 ")", which, i, b, a);
  }
  if (shown != r->flat_shown) finding("%s: flat_shown is not the sum of the rows", which);
  if (trimmed) return;
  if (r->nrows != r->graph_nodes || r->flat_shown != r->flat_total || r->dropped_nodes)
    finding("%s: an untrimmed top shows %zu of %zu nodes (flat %" PRId64 " of %" PRId64 ")",
            which, r->nrows, r->graph_nodes, r->flat_shown, r->flat_total);
  /* every sample with a stack gives its value as flat to exactly one node */
  int64_t leaf_sum = 0;
  for (size_t i = 0; i < p->nsamples; i++)
    if (p->samples[i].stack) leaf_sum = wadd(leaf_sum, pgo_sample_values(p, i)[col]);
  if (leaf_sum != r->flat_total)
    finding("%s: flat total %" PRId64 " but the samples with a stack add up to %" PRId64, which,
            r->flat_total, leaf_sum);
  if (column_is_plain(p, col))
    for (size_t i = 0; i < r->nrows; i++)
      if (r->rows[i].flat < 0 || r->rows[i].flat > r->rows[i].cum || r->rows[i].cum > r->total)
        finding("%s: row %zu has flat %" PRId64 ", cum %" PRId64 " of total %" PRId64, which, i,
                r->rows[i].flat, r->rows[i].cum, r->total);
}

/* b's rows are a's with flat and cum times factor (1 or 2), same names and order. */
static void same_top(const pgo_top_result *a, const pgo_top_result *b, int factor,
                     const char *which) {
  if (a->nrows != b->nrows) finding("%s: %zu rows instead of %zu", which, b->nrows, a->nrows);
  for (size_t i = 0; i < a->nrows; i++) {
    const pgo_top_row *x = &a->rows[i], *y = &b->rows[i];
    int64_t flat = factor == 2 ? wtwice(x->flat) : x->flat, cum = factor == 2 ? wtwice(x->cum) : x->cum;
    if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) != 0 ||
        y->flat != flat || y->cum != cum || x->inline_kind != y->inline_kind)
      finding("%s: row %zu is '%.*s' %" PRId64 "/%" PRId64 ", expected '%.*s' %" PRId64 "/%" PRId64,
              which, i, (int)y->name_len, y->name, y->flat, y->cum, (int)x->name_len, x->name,
              flat, cum);
  }
}

/* ---- call edges -------------------------------------------------------------------------- */

static const char *const edge_codes[] = {"not_cpu", "missing_start_line", NULL};

static void check_edges(const pgo_profile *p, const pgo_call_edges *e, const char *which) {
  int64_t total = 0;
  for (size_t i = 0; i < e->n; i++) {
    check_string(p, which, "an edge caller", e->edges[i].caller);
    check_string(p, which, "an edge callee", e->edges[i].callee);
    total = wadd(total, e->edges[i].weight);
    if (i && e->edges[i - 1].weight < e->edges[i].weight)
      finding("%s: edge %zu is heavier than the one before it", which, i);
  }
  if (total != e->total) finding("%s: edge total %" PRId64 " but the edges add up to %" PRId64,
                                 which, e->total, total);
}

/* b's edges are a's with the weights doubled (names compared as bytes). */
static void doubled_edges(const pgo_profile *pa, const pgo_call_edges *a, const pgo_profile *pb,
                          const pgo_call_edges *b, const char *which) {
  if (a->n != b->n || wtwice(a->total) != b->total)
    finding("%s: %zu edges of total %" PRId64 ", expected %zu of %" PRId64, which, b->n, b->total,
            a->n, wtwice(a->total));
  for (size_t i = 0; i < a->n; i++) {
    const pgo_call_edge *x = &a->edges[i], *y = &b->edges[i];
    uint32_t lx = pgo_strlen(&pa->strings, x->caller), ly = pgo_strlen(&pb->strings, y->caller);
    uint32_t mx = pgo_strlen(&pa->strings, x->callee), my = pgo_strlen(&pb->strings, y->callee);
    if (lx != ly || mx != my || x->offset != y->offset || wtwice(x->weight) != y->weight ||
        memcmp(pgo_str(&pa->strings, x->caller), pgo_str(&pb->strings, y->caller), lx) != 0 ||
        memcmp(pgo_str(&pa->strings, x->callee), pgo_str(&pb->strings, y->callee), mx) != 0)
      finding("%s: edge %zu differs from twice the original's", which, i);
  }
}

/* Edges of p, or false (with an allowed code) when the compiler would reject p. */
static bool build_edges(const pgo_profile *p, pgo_call_edges *e, pgo_error *err, const char *which) {
  if (!pgo_call_edges_build(p, e, err)) {
    expect_failure("pgo_call_edges_build", err, edge_codes);
    return false;
  }
  check_edges(p, e, which);
  return true;
}

/* What a PGO build reads: preprofile text, hot call sites, call sites, compaction. */
static void exercise_pgo(const pgo_profile *p, const pgo_call_edges *e, uint64_t seed,
                         const pgo_limits *limits) {
  pgo_error err;
  char *text;
  size_t len;
  if (pgo_preprofile_text(p, e, &text, &len, &err)) {
    static const char header[] = "GO PREPROFILE V1\n";
    if (len < sizeof header - 1 || memcmp(text, header, sizeof header - 1) != 0)
      finding("preprofile text does not start with its header");
    free(text);
  } else {
    expect_failure("pgo_preprofile_text", &err, NULL);
  }
  static const double cdfs[] = {0, 50, 99, 99.9, 100};
  double threshold;
  size_t hot = pgo_hot_cdf(e, cdfs[seed % 5], &threshold);
  if (hot > e->n) finding("pgo_hot_cdf: %zu hot edges of %zu", hot, e->n);

  size_t min_callees = 1 + (seed >> 3) % 2;
  pgo_callsites sites;
  if (pgo_callsites_build(p, e, min_callees, &sites, &err)) {
    for (size_t i = 0; i < sites.n; i++) {
      const pgo_callsite *s = &sites.sites[i];
      if (s->count < min_callees || (uint64_t)s->first + s->count > e->n)
        finding("call site %zu: callees %" PRIu32 "+%" PRIu32 " of %zu edges", i, s->first,
                s->count, e->n);
      int64_t w = 0;
      for (uint32_t k = 0; k < s->count; k++) {
        uint32_t ei = sites.order[s->first + k];
        if (ei >= e->n) finding("call site %zu names edge %" PRIu32 " of %zu", i, ei, e->n);
        w = wadd(w, e->edges[ei].weight);
      }
      if (w != s->weight) finding("call site %zu weighs %" PRId64 " but its callees %" PRId64, i,
                                  s->weight, w);
    }
    pgo_callsites_free(&sites);
  } else {
    expect_failure("pgo_callsites_build", &err, NULL);
  }

  static const uint32_t frames[] = {0, 2, 3};
  pgo_compact_info info;
  pgo_profile *c = pgo_compact_for_pgo(p, frames[(seed >> 5) % 3], &info, &err);
  if (!c) {
    expect_failure("pgo_compact_for_pgo", &err, edge_codes);   /* "internal" is a finding */
    return;
  }
  check_model(c, "compact_for_pgo");
  /* what a user writes as default.pgo must read back with the same edges */
  unsigned char *out;
  size_t outlen;
  if (pgo_profile_encode(c, 1, &out, &outlen, &err)) {
    pgo_profile *back = pgo_profile_decode(out, outlen, limits, &err);
    if (!back) finding("the compacted profile does not decode again: %s: %s", err.code, err.message);
    pgo_call_edges eb;
    if (!pgo_call_edges_build(back, &eb, &err))
      finding("the compacted profile's copy has no call edges: %s: %s", err.code, err.message);
    if (!pgo_call_edges_equal(p, e, back, &eb))
      finding("the compacted profile's call edges differ from the original's after a round trip");
    pgo_call_edges_free(&eb);
    pgo_profile_free(back);
    free(out);
  } else {
    expect_failure("pgo_profile_encode (compacted)", &err, NULL);
  }
  pgo_profile_free(c);
}


/* ---- filters ------------------------------------------------------------------------- */

/* A regular expression that matches the function's name literally. */
static void quote_regex(const char *s, size_t n, char *out, size_t cap) {
  size_t w = 0;
  for (size_t i = 0; i < n && w + 3 < cap; i++) {
    if (s[i] == '\0') break;
    if (strchr(".[]()*+?{}|^$\\", s[i])) out[w++] = '\\';
    out[w++] = s[i];
  }
  out[w] = '\0';
}

/* A profile string as a pattern, unless it could make regexec slow rather than find a bug
 * in pgolua: back-references and bounded repeats are left out. */
static bool usable_pattern(const pgo_profile *p, uint32_t id, char *out, size_t cap) {
  uint32_t n = pgo_strlen(&p->strings, id);
  const char *s = pgo_str(&p->strings, id);
  if (n == 0 || n >= cap || n > MAX_PATTERN || memchr(s, '\0', n) || memchr(s, '{', n)) return false;
  for (uint32_t i = 0; i + 1 < n; i++)
    if (s[i] == '\\' && s[i + 1] >= '1' && s[i + 1] <= '9') return false;
  memcpy(out, s, n);
  out[n] = '\0';
  return true;
}

static void pick_pattern(const pgo_profile *p, uint64_t seed, char *out, size_t cap) {
  static const char *const fixed[] = {
    "main\\.", "(?i)RUNTIME\\.", "\\d", "^$", "[[:alpha:]]+\\.\\(\\*", "a|b", "\\w+\\s*$", "."
  };
  switch (seed % 4) {
    case 0:
      if (p->ncomments && usable_pattern(p, p->comments[0], out, cap)) return;
      /* fall through */
    case 1:
      if (p->doc_url && usable_pattern(p, p->doc_url, out, cap)) return;
      /* fall through */
    case 2:
      if (p->nfunctions) {
        const pgo_function *f = &p->functions[(seed >> 8) % p->nfunctions];
        quote_regex(pgo_str(&p->strings, f->name), pgo_strlen(&p->strings, f->name), out, cap);
        if (out[0]) return;
      }
      /* fall through */
    default:
      snprintf(out, cap, "%s", fixed[(seed >> 12) % (sizeof fixed / sizeof fixed[0])]);
  }
}

static const char *const filter_codes[] = {"bad_regex", "bad_tag_filter", NULL};

static pgo_profile *run_filter(const pgo_profile *p, const pgo_filter_options *o, const char *which) {
  pgo_filter_notes notes;
  pgo_error err;
  pgo_profile *q = pgo_profile_filter(p, o, &notes, &err);
  if (!q) {
    expect_failure("pgo_profile_filter", &err, filter_codes);
    return NULL;
  }
  for (size_t i = 0; i < notes.count; i++)
    if (!notes.text[i]) finding("%s: note %zu is NULL", which, i);
  pgo_filter_notes_free(&notes);
  check_model(q, which);
  return q;
}

static void exercise_filters(const pgo_profile *p, uint64_t seed) {
  char pattern[2 * MAX_PATTERN + 8];
  pick_pattern(p, seed, pattern, sizeof pattern);
  pgo_filter_options focus = {.focus = pattern}, ignore = {.ignore = pattern};
  pgo_profile *qf = run_filter(p, &focus, "focus");
  pgo_profile *qi = run_filter(p, &ignore, "ignore");
  if (!qf != !qi) finding("focus and ignore disagree about the pattern '%s'", pattern);
  if (qf && qi) {
    /* each sample with a stack either has a frame matching the pattern or none */
    int64_t *all = totals_of(p), *f = totals_of(qf), *i = totals_of(qi), *none = stackless_totals(p);
    for (size_t c = 0; c < p->nsample_types; c++)
      if (wadd(wadd(f[c], i[c]), none[c]) != all[c])
        finding("focus=%s (%" PRId64 ") + ignore (%" PRId64 ") + stackless (%" PRId64
                ") != total %" PRId64 " in column %zu", pattern, f[c], i[c], none[c], all[c], c);
    free(all); free(f); free(i); free(none);
  }
  pgo_profile_free(qf);
  pgo_profile_free(qi);

  /* the stack-editing filters and a tag filter, checked for consistency only */
  static const char *const tagfocus[] = {NULL, "worker", "bytes=1kb:", ":4kb", "x=1:2", "k=a,b"};
  pgo_filter_options edit = {
    .hide = (seed >> 16) % 2 ? pattern : NULL,
    .show = (seed >> 17) % 3 == 0 ? pattern : NULL,
    .show_from = (seed >> 19) % 2 ? "main\\." : NULL,
    .prune_from = (seed >> 20) % 2 ? pattern : NULL,
    .tagfocus = tagfocus[(seed >> 21) % 6],
    .tagshow = (seed >> 24) % 2 ? pattern : NULL,
  };
  pgo_profile_free(run_filter(p, &edit, "hide/show/prune/tag filter"));
}

/* ---- merge, compact, scale ----------------------------------------------------------------- */

static void exercise_merge(const pgo_profile *p, uint64_t seed) {
  pgo_error err;
  pgo_profile *c = pgo_profile_compact(p, &err);
  if (!c) { expect_failure("pgo_profile_compact", &err, NULL); return; }
  check_model(c, "compact");
  const pgo_profile *pair[2] = {p, p};
  pgo_profile *m = pgo_profile_merge(pair, 2, &err);
  if (!m) {
    expect_failure("pgo_profile_merge", &err, NULL);   /* a profile is compatible with itself */
    pgo_profile_free(c);
    return;
  }
  check_model(m, "merge(p, p)");
  int64_t *tp = totals_of(p), *tc = totals_of(c), *tm = totals_of(m);
  same_totals("compact(p)", tp, tc, p->nsample_types);
  for (size_t k = 0; k < p->nsample_types; k++) tp[k] = wtwice(tp[k]);
  same_totals("merge(p, p)", tp, tm, p->nsample_types);
  if (m->duration_nanos != wtwice(p->duration_nanos) || m->period != c->period)
    finding("merge(p, p): duration %" PRId64 " period %" PRId64 " from %" PRId64 "/%" PRId64,
            m->duration_nanos, m->period, p->duration_nanos, p->period);
  free(tp); free(tc); free(tm);

  if (doubling_is_exact(p)) {
    if (m->nsamples != c->nsamples)
      finding("merge(p, p) has %zu samples, compact(p) %zu", m->nsamples, c->nsamples);
    if (p->nsample_types) {
      size_t col = pgo_profile_default_index(p);
      pgo_top_result rc, rm;
      if (run_top(c, col, PGO_GRAN_FUNCTIONS, false, (seed >> 28) % 2, false, 0, &rc)) {
        if (run_top(m, col, PGO_GRAN_FUNCTIONS, false, (seed >> 28) % 2, false, 0, &rm)) {
          same_top(&rc, &rm, 2, "top of merge(p, p) vs twice top of compact(p)");
          pgo_top_result_free(&rm);
        }
        pgo_top_result_free(&rc);
      }
    }
    pgo_call_edges ec, em;
    pgo_error ecerr, emerr;
    bool okc = build_edges(c, &ec, &ecerr, "edges of compact(p)");
    bool okm = build_edges(m, &em, &emerr, "edges of merge(p, p)");
    if (okc != okm || (!okc && strcmp(ecerr.code, emerr.code) != 0))
      finding("call edges: compact(p) %s, merge(p, p) %s", okc ? "ok" : ecerr.code,
              okm ? "ok" : emerr.code);
    if (okc) doubled_edges(c, &ec, m, &em, "edges of merge(p, p)");
    pgo_profile *s = pgo_profile_scale(p, NULL, 2.0, &err);
    if (!s) finding("scale(p, 2) failed on small values: %s: %s", err.code, err.message);
    check_model(s, "scale(p, 2)");
    if (s->nsamples != m->nsamples)
      finding("scale(p, 2) has %zu samples, merge(p, p) %zu", s->nsamples, m->nsamples);
    pgo_call_edges es;
    pgo_error eserr;
    bool oks = build_edges(s, &es, &eserr, "edges of scale(p, 2)");
    if (oks != okm) finding("call edges: scale(p, 2) %s, merge(p, p) %s", oks ? "ok" : eserr.code,
                            okm ? "ok" : emerr.code);
    if (oks && !pgo_call_edges_equal(m, &em, s, &es))
      finding("scale(p, 2) and merge(p, p) have different call edges");
    if (oks) pgo_call_edges_free(&es);
    if (okc) pgo_call_edges_free(&ec);
    if (okm) pgo_call_edges_free(&em);
    pgo_profile_free(s);
  } else {
    static const char *const scale_codes[] = {"overflow", NULL};
    pgo_profile *s = pgo_profile_scale(p, NULL, 2.0, &err);
    if (s) check_model(s, "scale(p, 2)");
    else expect_failure("pgo_profile_scale", &err, scale_codes);
    pgo_profile_free(s);
  }
  pgo_profile_free(m);
  pgo_profile_free(c);
}

/* ---- edits ------------------------------------------------------------------------------ */

/* Totals of the samples marked in mask. */
static int64_t *masked_totals(const pgo_profile *p, const bool *mask) {
  int64_t *t = calloc(p->nsample_types ? p->nsample_types : 1, sizeof *t);
  if (!t) finding("out of memory in the harness");
  for (size_t i = 0; i < p->nsamples; i++) {
    if (!mask[i]) continue;
    const int64_t *v = pgo_sample_values(p, i);
    for (size_t c = 0; c < p->nsample_types; c++) t[c] = wadd(t[c], v[c]);
  }
  return t;
}

/* Edits keep every value (renaming, anonymizing) or exactly the samples they say they keep
 * (keep_functions keeps the samples with a frame of a kept function). */
static void exercise_edits(const pgo_profile *p, const char *pattern, uint64_t seed) {
  pgo_error err;
  int64_t *want = totals_of(p);
  size_t nf = p->nfunctions ? p->nfunctions : 1, ns = p->nsamples ? p->nsamples : 1;
  bool *fn_mask = calloc(nf, sizeof *fn_mask), *sample_mask = calloc(ns, sizeof *sample_mask);
  pgo_strref *names = calloc(nf, sizeof *names);
  if (!fn_mask || !sample_mask || !names) finding("out of memory in the harness");

  static const char *const edit_codes[] = {"bad_regex", NULL};
  if (pgo_functions_matching(p, pattern, fn_mask, &err)) {
    if (!pgo_samples_with_functions(p, fn_mask, sample_mask)) finding("out of memory in the harness");
    pgo_profile *k = pgo_profile_keep_functions(p, fn_mask, &err);
    if (k) {
      check_model(k, "keep_functions");
      int64_t *kept = masked_totals(p, sample_mask), *got = totals_of(k);
      same_totals("keep_functions vs the samples with a kept function", kept, got, p->nsample_types);
      free(kept);
      free(got);
      pgo_profile_free(k);
    } else {
      expect_failure("pgo_profile_keep_functions", &err, NULL);
    }
  } else {
    expect_failure("pgo_functions_matching", &err, edit_codes);
  }

  /* every function renamed to the same name: still valid, same values */
  static const char renamed[] = "fuzz.renamed";
  for (size_t i = 0; i < p->nfunctions; i++) names[i] = (pgo_strref){renamed, sizeof renamed - 1};
  pgo_name_edits edits = {.fn_name = names};
  pgo_profile *r = pgo_profile_edit_names(p, &edits, &err);
  if (r) {
    check_model(r, "edit_names");
    int64_t *got = totals_of(r);
    same_totals("edit_names", want, got, p->nsample_types);
    free(got);
    pgo_profile_free(r);
  } else {
    expect_failure("pgo_profile_edit_names", &err, NULL);
  }

  static const pgo_strref allow[] = {{"main.", 5}, {"runtime.", 8}};
  static const pgo_strref allow_files[] = {{"/usr/", 5}};
  pgo_anon_opts anon = {
    .allow = allow, .nallow = (seed >> 30) % 3,
    .allow_files = allow_files, .nallow_files = (seed >> 32) % 2,
    .salt = "fuzz", .saltlen = 4,
    .labels = (pgo_anon_labels)((seed >> 33) % 3),
    .drop_comments = (seed >> 35) % 2,
  };
  pgo_profile *a = pgo_profile_anonymize(p, &anon, &err);
  if (a) {
    check_model(a, "anonymize");
    int64_t *got = totals_of(a);
    same_totals("anonymize", want, got, p->nsample_types);
    free(got);
    pgo_profile_free(a);
  } else {
    expect_failure("pgo_profile_anonymize", &err, NULL);
  }
  free(want);
  free(fn_mask);
  free(sample_mask);
  free(names);
}

/* ---- label totals --------------------------------------------------------------------- */

static void same_tags(const pgo_profile *p, const pgo_profile *q, size_t col) {
  pgo_tags_result a, b;
  pgo_error err;
  if (!pgo_tags(p, col, &a, &err)) { expect_failure("pgo_tags", &err, NULL); return; }
  if (!pgo_tags(q, col, &b, &err)) {
    expect_failure("pgo_tags", &err, NULL);
    pgo_tags_result_free(&a);
    return;
  }
  if (a.count != b.count) finding("tags: %zu entries after a round trip, %zu before", b.count, a.count);
  for (size_t i = 0; i < a.count; i++) {
    const pgo_tag_entry *x = &a.entries[i], *y = &b.entries[i];
    uint32_t kx = pgo_strlen(&p->strings, x->key), ky = pgo_strlen(&q->strings, y->key);
    if (kx != ky || memcmp(pgo_str(&p->strings, x->key), pgo_str(&q->strings, y->key), kx) != 0 ||
        x->numeric != y->numeric || x->total != y->total || x->value_len != y->value_len ||
        memcmp(x->value, y->value, x->value_len) != 0)
      finding("tags: entry %zu differs after a round trip", i);
  }
  pgo_tags_result_free(&a);
  pgo_tags_result_free(&b);
}

/* ---- the flat load path (pgo_profile_decode_flat, what pgo.load uses) ------------------- */

/* decode_flat agrees with decode: the same failure, or the same samples (stacks, labels,
 * values, in order), and the prefix tree built from the flat stacks is a valid model. */
static void check_flat_decode(const unsigned char *data, size_t size, const pgo_limits *limits,
                              const pgo_profile *tree, const pgo_error *tree_err) {
  pgo_error err;
  pgo_profile *f = pgo_profile_decode_flat(data, size, limits, &err);
  if (!f != !tree) {
    /* a tree may need more memory than the flat form: the budget alone may tell them apart */
    const char *code = tree ? err.code : tree_err->code;
    if (strcmp(code, "too_large") != 0 && strcmp(code, "nomem") != 0)
      finding("decode %s, decode_flat %s (%s)", tree ? "succeeded" : "failed",
              f ? "succeeded" : "failed", code);
  } else if (!f && strcmp(err.code, tree_err->code) != 0) {
    finding("decode failed with %s, decode_flat with %s", tree_err->code, err.code);
  }
  if (!f || !tree) {
    pgo_profile_free(f);
    return;
  }
  /* the stacks are compared sample by sample below, then checked as a prefix tree */
  if (!f->flat || f->nflat == 0 || f->flat_start[0] != 0 || f->flat_start[1] != 0)
    finding("decode_flat: not flat, or stack 0 is not the empty stack");
  if (f->nsamples != tree->nsamples || f->nsample_types != tree->nsample_types)
    finding("decode_flat: %zu samples of %zu types, decode %zu of %zu", f->nsamples,
            f->nsample_types, tree->nsamples, tree->nsample_types);
  for (size_t i = 0; i < f->nsamples; i++) {
    if (f->samples[i].labels != tree->samples[i].labels ||
        memcmp(pgo_sample_values(f, i), pgo_sample_values(tree, i),
               f->nsample_types * sizeof(int64_t)) != 0)
      finding("decode_flat: sample %zu has other labels or values", i);
    for (uint32_t k = 0;; k++) {
      uint32_t a = pgo_sample_location(f, i, k), b = pgo_sample_location(tree, i, k);
      if (a != b) finding("decode_flat: sample %zu frame %" PRIu32 " is location %" PRIu32
                          ", decode says %" PRIu32, i, k, a, b);
      if (a == PGO_NONE) break;
    }
  }
  if (pgo_profile_frames(f)) check_model(f, "decode_flat, then its prefix tree");
  pgo_profile_free(f);
}

/* ---- the target ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  pgo_limits limits;
  pgo_limits_default(&limits);
  limits.max_decompressed = 16u << 20;    /* keep each input's memory and time bounded */
  limits.max_samples = 1u << 20;
  static const char *const decode_codes[] = {
    "empty", "not_pprof", "legacy_format", "bad_gzip", "truncated", "too_large", "invalid", NULL
  };
  pgo_error err;
  pgo_profile *p = pgo_profile_decode(data, size, &limits, &err);
  check_flat_decode(data, size, &limits, p, &err);
  if (!p) {
    expect_failure("pgo_profile_decode", &err, decode_codes);
    return 0;
  }
  check_model(p, "decoded");
  if (p->nsamples > p->sample_messages)
    finding("%zu samples from %" PRIu64 " Sample messages", p->nsamples, p->sample_messages);
  uint64_t seed = fnv1a(data, size);
  if ((seed >> 40) & 1) {
    /* half the inputs run everything below on the flat stacks pgo.load keeps */
    pgo_profile *f = pgo_profile_decode_flat(data, size, &limits, &err);
    if (f) {
      pgo_profile_free(p);
      p = f;
    }
  }
  size_t col = pgo_profile_default_index(p);

  /* top as a user runs it (trimmed, random options), then untrimmed with its checks */
  if (p->nsample_types) {
    pgo_granularity gran = (pgo_granularity)(seed % 5);
    bool noinlines = (seed >> 3) % 2;
    for (int cum = 0; cum <= 1; cum++) {
      pgo_top_result r;
      if (run_top(p, col, gran, noinlines, cum, true, (seed >> 4) % 20, &r)) {
        check_top(p, col, cum, true, &r, "top (trimmed)");
        pgo_top_result_free(&r);
      }
      if (run_top(p, col, gran, noinlines, cum, false, 0, &r)) {
        check_top(p, col, cum, false, &r, "top (untrimmed)");
        pgo_top_result_free(&r);
      }
    }
  }

  exercise_filters(p, seed);
  /* the rest reads the prefix tree, which the Lua bindings of these operations build
   * first on a flat profile (pgolua_check_profile) */
  if (!pgo_profile_frames(p)) {
    pgo_profile_free(p);
    return 0;
  }
  check_model(p, "the prefix tree of the decoded profile");
  char pattern[2 * MAX_PATTERN + 8];
  pick_pattern(p, seed, pattern, sizeof pattern);
  exercise_edits(p, pattern, seed);
  exercise_merge(p, seed);

  pgo_call_edges e;
  pgo_error eerr;
  bool have_edges = build_edges(p, &e, &eerr, "edges of p");
  if (have_edges) exercise_pgo(p, &e, seed, &limits);

  /* encode -> decode keeps what every report reads */
  unsigned char *out;
  size_t outlen;
  if (pgo_profile_encode(p, 1, &out, &outlen, &err)) {
    pgo_profile *q = pgo_profile_decode(out, outlen, &limits, &err);
    if (!q) finding("re-decode failed: %s: %s", err.code, err.message);
    check_model(q, "re-decoded");
    if (q->nsample_types != p->nsample_types || q->nsamples != p->nsamples)
      finding("re-decoded: %zu types, %zu samples instead of %zu, %zu", q->nsample_types,
              q->nsamples, p->nsample_types, p->nsamples);
    int64_t *a = totals_of(p), *b = totals_of(q);
    same_totals("re-decoded", a, b, p->nsample_types);
    free(a);
    free(b);
    if (p->nsample_types) {
      pgo_top_result rp, rq;
      if (run_top(p, col, PGO_GRAN_FUNCTIONS, false, false, false, 0, &rp)) {
        if (run_top(q, col, PGO_GRAN_FUNCTIONS, false, false, false, 0, &rq)) {
          same_top(&rp, &rq, 1, "top of the re-decoded profile");
          pgo_top_result_free(&rq);
        }
        pgo_top_result_free(&rp);
      }
      same_tags(p, q, col);
    }
    pgo_call_edges eq;
    pgo_error eqerr;
    bool have_q_edges = build_edges(q, &eq, &eqerr, "edges of the re-decoded profile");
    if (have_edges != have_q_edges || (!have_edges && strcmp(eerr.code, eqerr.code) != 0))
      finding("call edges: %s before the round trip, %s after", have_edges ? "ok" : eerr.code,
              have_q_edges ? "ok" : eqerr.code);
    if (have_edges && !pgo_call_edges_equal(p, &e, q, &eq))
      finding("the re-decoded profile has different call edges");
    if (have_q_edges) pgo_call_edges_free(&eq);
    pgo_profile_free(q);
    free(out);
  } else {
    expect_failure("pgo_profile_encode", &err, NULL);
  }
  if (have_edges) pgo_call_edges_free(&e);
  pgo_profile_free(p);
  return 0;
}
