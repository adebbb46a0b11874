/* calladdr.c: call edges with the address of their call instruction (calladdr.h). */
#include <stdlib.h>
#include <string.h>
#include "pgolua/calladdr.h"
#include "pgolua/pgograph.h"

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }
static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

/* line - start line, wrapping as the compiler's int arithmetic would on hostile input
 * (no signed overflow) */
static int64_t line_offset(int64_t line, int64_t start) {
  return (int64_t)((uint64_t)line - (uint64_t)start);
}

static int rec_cmp(const void *x, const void *y) {
  const pgo_call_address *a = x, *b = y;
  int c;
  if ((c = cmp_u64(a->caller, b->caller))) return c;
  if ((c = cmp_i64(a->offset, b->offset))) return c;
  if ((c = cmp_u64(a->callee, b->callee))) return c;
  if ((c = cmp_u64(a->address, b->address))) return c;
  if ((c = cmp_u64(a->outer, b->outer))) return c;
  if ((c = cmp_i64(a->outer_offset, b->outer_offset))) return c;
  return (int)a->inlined - (int)b->inlined;
}

typedef struct {
  const pgo_profile *p;
  pgo_call_address *recs;
  size_t n, cap;
} collector;

/* The edge from frame lines[at + 1] (the caller) to lines[at] (the callee) of location
 * loc, a call the binary inlined; or, when callee is not NULL, the call instruction from
 * its innermost frame (at = 0) to callee. */
static bool add_edge(collector *c, const pgo_location *loc, uint32_t at, const pgo_line *callee,
                     int64_t weight) {
  const pgo_profile *p = c->p;
  bool inlined = callee == NULL;
  uint32_t k = inlined ? at + 1 : at;                /* the caller's line in loc */
  const pgo_line *caller = &p->lines[loc->line_start + k];
  if (inlined) callee = &p->lines[loc->line_start + at];
  if (caller->function >= p->nfunctions || callee->function >= p->nfunctions) return true;
  const pgo_function *fc = &p->functions[caller->function];
  pgo_call_address r = {.caller = fc->name, .callee = p->functions[callee->function].name,
                        .offset = line_offset(caller->line, fc->start_line), .file = fc->filename,
                        .line = caller->line, .address = loc->address,
                        .weight = weight, .inlined = inlined};
  if (k + 1 < loc->line_count) {
    const pgo_line *out = &p->lines[loc->line_start + k + 1];
    if (out->function < p->nfunctions) {
      r.outer = p->functions[out->function].name;
      r.outer_offset = line_offset(out->line, p->functions[out->function].start_line);
    }
  }
  if (!PGO_RESERVE(c->recs, c->cap, c->n + 1)) return false;
  c->recs[c->n++] = r;
  return true;
}

/* The inlined calls inside one location. */
static bool add_inlined(collector *c, const pgo_location *loc, int64_t weight) {
  for (uint32_t j = 0; j + 1 < loc->line_count; j++)
    if (!add_edge(c, loc, j, NULL, weight)) return false;
  return true;
}

bool pgo_call_addresses(const pgo_profile *p, pgo_call_address **out, size_t *n,
                        pgo_error *err) {
  *out = NULL;
  *n = 0;
  long vi = pgo_pgo_value_index(p);
  if (vi < 0)
    return pgo_fail(err, "not_cpu",
                    "no samples/count or cpu/nanoseconds column: not a CPU profile the compiler reads");
  collector c = {.p = p};
  for (size_t i = 0; i < p->nsamples; i++) {
    uint32_t leaf = pgo_sample_location(p, i, 0), up = pgo_sample_location(p, i, 1);
    if (leaf == PGO_NONE) continue;
    int64_t w = pgo_sample_values(p, i)[vi];
    const pgo_location *ll = &p->locations[leaf];
    if (!add_inlined(&c, ll, w)) goto nomem;
    if (up == PGO_NONE) continue;
    const pgo_location *lc = &p->locations[up];
    if (!add_inlined(&c, lc, w)) goto nomem;
    if (!lc->line_count || !ll->line_count || !lc->address) continue;
    /* the call instruction: the upper location's innermost frame calls the leaf's
     * physical function */
    if (!add_edge(&c, lc, 0, &p->lines[ll->line_start + ll->line_count - 1], w)) goto nomem;
  }
  if (c.n) qsort(c.recs, c.n, sizeof *c.recs, rec_cmp);
  size_t m = 0;
  for (size_t i = 0; i < c.n; i++) {
    if (m && rec_cmp(&c.recs[m - 1], &c.recs[i]) == 0)   /* wraps, as pprof's int64 sums do */
      c.recs[m - 1].weight = (int64_t)((uint64_t)c.recs[m - 1].weight + (uint64_t)c.recs[i].weight);
    else c.recs[m++] = c.recs[i];
  }
  *out = c.recs;
  *n = m;
  return true;
nomem:
  free(c.recs);
  return pgo_fail(err, "nomem", "out of memory listing call addresses");
}
