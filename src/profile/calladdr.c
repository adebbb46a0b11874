/* calladdr.c: call edges with the address of their call instruction (calladdr.h). */
#include <stdlib.h>
#include <string.h>
#include "pgolua/calladdr.h"
#include "pgolua/pgograph.h"

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }


static int rec_cmp(const void *x, const void *y) {
  const pgo_call_address *a = x, *b = y;
  int c;
  if ((c = cmp_u64(a->caller, b->caller))) return c;
  if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
  if ((c = cmp_u64(a->callee, b->callee))) return c;
  return cmp_u64(a->address, b->address);
}

bool pgo_call_addresses(const pgo_profile *p, pgo_call_address **out, size_t *n,
                        pgo_error *err) {
  *out = NULL;
  *n = 0;
  long vi = pgo_pgo_value_index(p);
  if (vi < 0)
    return pgo_fail(err, "not_cpu",
                    "no samples/count or cpu/nanoseconds column: not a CPU profile the compiler reads");
  pgo_call_address *recs = p->nsamples ? malloc(p->nsamples * sizeof *recs) : NULL;
  if (p->nsamples && !recs) return pgo_fail(err, "nomem", "out of memory listing call addresses");
  size_t k = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    uint32_t leaf = pgo_sample_location(p, i, 0), up = pgo_sample_location(p, i, 1);
    if (leaf == PGO_NONE || up == PGO_NONE) continue;
    const pgo_location *lc = &p->locations[up], *ll = &p->locations[leaf];
    if (!lc->line_count || !ll->line_count || !lc->address) continue;
    const pgo_line *caller = &p->lines[lc->line_start];                      /* innermost */
    const pgo_line *callee = &p->lines[ll->line_start + ll->line_count - 1];  /* physical */
    if (caller->function >= p->nfunctions || callee->function >= p->nfunctions) continue;
    const pgo_function *fc = &p->functions[caller->function];
    recs[k++] = (pgo_call_address){
      .caller = fc->name, .callee = p->functions[callee->function].name,
      .offset = caller->line - fc->start_line, .address = lc->address,
      .weight = pgo_sample_values(p, i)[vi]};
  }
  if (k) qsort(recs, k, sizeof *recs, rec_cmp);
  size_t m = 0;
  for (size_t i = 0; i < k; i++) {
    if (m && rec_cmp(&recs[m - 1], &recs[i]) == 0) recs[m - 1].weight += recs[i].weight;
    else recs[m++] = recs[i];
  }
  *out = recs;
  *n = m;
  return true;
}
