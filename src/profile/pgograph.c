/* pgograph.c: the Go compiler's view of a profile: named call edges exactly as
 * `go tool preprofile` computes them, the preprofile text, the hot call sites of the
 * inliner, call sites for devirtualization, and the compaction that keeps only what the
 * compiler reads. See pgograph.h for the rules and shared/docs/pprof-pgo-reference.md
 * section e for where they come from.
 *
 * Cost of the edge extraction: node ids are computed once per location line; then each
 * sample visits the lines of its two leaf locations (a handful of nodes) with one hash
 * lookup per consecutive node pair. Per-sample "seen" sets are stamps (the sample's
 * number stored on the node or edge), so nothing is cleared between samples. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/pgograph.h"

#define NONE UINT32_MAX

static int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

/* ======================================================================================
 * ktab: tuples of uint64 (any length) -> dense index, in order of first insertion
 * ====================================================================================== */

typedef struct ktab {
  uint64_t *data;               /* the tuples, concatenated */
  size_t ndata, cap_data;
  size_t *off;                  /* tuple i is data[off[i] .. off[i+1]) */
  size_t count, cap_off;
  uint32_t *slots;              /* index + 1; 0 = empty */
  size_t nslots;
} ktab;

static void ktab_init(ktab *t) { memset(t, 0, sizeof *t); }

static void ktab_free(ktab *t) {
  free(t->data);
  free(t->off);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static uint64_t tuple_hash(const uint64_t *k, size_t n) {
  uint64_t h = n;
  for (size_t i = 0; i < n; i++) h = pgo_hash_mix(h, k[i]);
  return h;
}

static const uint64_t *ktab_key(const ktab *t, uint32_t i, size_t *n) {
  *n = t->off[i + 1] - t->off[i];
  return t->data + t->off[i];
}

static bool ktab_rehash(ktab *t, size_t nslots) {
  uint32_t *slots = pgo_zeroed(nslots, sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < t->count; i++) {
    size_t n;
    const uint64_t *k = ktab_key(t, (uint32_t)i, &n);
    size_t j = tuple_hash(k, n) & (nslots - 1);
    while (slots[j]) j = (j + 1) & (nslots - 1);
    slots[j] = (uint32_t)i + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
  return true;
}

/* Room for count tuples of n values without growing (known sizes: no copies, no rehash). */
static bool ktab_reserve(ktab *t, size_t count, size_t n) {
  size_t nslots = 256;
  while (nslots < 2 * (count + 1)) nslots *= 2;
  return (nslots <= t->nslots || ktab_rehash(t, nslots)) &&
         PGO_RESERVE(t->off, t->cap_off, count + 2) &&
         PGO_RESERVE(t->data, t->cap_data, count * n + 1);
}

/* The index of tuple k[0..n) (added when new; *added tells which). False: out of memory. */
static bool ktab_put(ktab *t, const uint64_t *k, size_t n, uint32_t *index, bool *added) {
  if ((t->count + 1) * 2 > t->nslots && !ktab_rehash(t, t->nslots ? t->nslots * 2 : 256))
    return false;
  size_t i = tuple_hash(k, n) & (t->nslots - 1);
  for (uint32_t s; (s = t->slots[i]) != 0; i = (i + 1) & (t->nslots - 1)) {
    size_t m;
    const uint64_t *have = ktab_key(t, s - 1, &m);
    if (m == n && (n == 0 || memcmp(have, k, n * sizeof *k) == 0)) {
      *index = s - 1;
      *added = false;
      return true;
    }
  }
  if (t->count >= NONE - 2) return false;
  if (!PGO_RESERVE(t->off, t->cap_off, t->count + 2)) return false;
  if (!PGO_RESERVE(t->data, t->cap_data, t->ndata + n + 1)) return false;
  if (t->count == 0) t->off[0] = 0;
  if (n) memcpy(t->data + t->ndata, k, n * sizeof *k);
  t->ndata += n;
  t->off[t->count + 1] = t->ndata;
  t->slots[i] = (uint32_t)++t->count;
  *index = (uint32_t)t->count - 1;
  *added = true;
  return true;
}

/* ======================================================================================
 * call edges (internal/profile.NewGraph + cmd/internal/pgo createNamedEdgeMap)
 * ====================================================================================== */

long pgo_pgo_value_index(const pgo_profile *p) {
  for (size_t i = 0; i < p->nsample_types; i++) {
    const char *t = pgo_str(&p->strings, p->sample_types[i].type);
    const char *u = pgo_str(&p->strings, p->sample_types[i].unit);
    if ((strcmp(t, "samples") == 0 && strcmp(u, "count") == 0) ||
        (strcmp(t, "cpu") == 0 && strcmp(u, "nanoseconds") == 0))
      return (long)i;
  }
  return -1;
}

/* Node keys: (function name id, address, start line, line), as internal/profile's NodeInfo. */
enum { NK_NAME, NK_ADDR, NK_START, NK_LINE, NK_ARITY };

typedef struct graph {
  const pgo_profile *p;
  ktab nodes;
  uint32_t *line_node;          /* node of each entry of p->lines */
  uint32_t *bare_node;          /* node of each location without lines (else NONE) */
  int64_t *cum, *flat;          /* per node */
  uint32_t *node_stamp;         /* per node: last sample (+1) that counted it */
  pgo_u64map pairs;             /* parent << 32 | child -> node edge */
  struct node_edge { uint32_t parent, child, stamp; int64_t weight; } *edges;
  size_t ne, cap_e;
  uint32_t *seq;                /* the nodes of one sample */
  size_t maxseq;
} graph;

static void graph_free(graph *g) {
  ktab_free(&g->nodes);
  free(g->line_node);
  free(g->bare_node);
  free(g->cum);
  free(g->flat);
  free(g->node_stamp);
  pgo_u64map_free(&g->pairs);
  free(g->edges);
  free(g->seq);
}

static bool graph_node(graph *g, uint64_t name, uint64_t addr, int64_t start, int64_t line,
                       uint32_t *node) {
  uint64_t k[NK_ARITY] = {name, addr, (uint64_t)start, (uint64_t)line};
  bool added;
  return ktab_put(&g->nodes, k, NK_ARITY, node, &added);
}

/* Node ids for every location line (CreateNodes). */
static bool graph_nodes(graph *g) {
  const pgo_profile *p = g->p;
  g->line_node = malloc((p->nlines ? p->nlines : 1) * sizeof *g->line_node);
  g->bare_node = malloc((p->nlocations ? p->nlocations : 1) * sizeof *g->bare_node);
  if (!g->line_node || !g->bare_node ||
      !ktab_reserve(&g->nodes, p->nlines + p->nlocations, NK_ARITY))   /* at most */
    return false;
  size_t maxlines = 1;
  for (size_t l = 0; l < p->nlocations; l++) {
    const pgo_location *loc = &p->locations[l];
    g->bare_node[l] = NONE;
    if (loc->line_count > maxlines) maxlines = loc->line_count;
    if (loc->line_count == 0) {
      if (!graph_node(g, 0, loc->address, 0, 0, &g->bare_node[l])) return false;
      continue;
    }
    for (uint32_t k = 0; k < loc->line_count; k++) {
      const pgo_line *ln = &p->lines[loc->line_start + k];
      uint32_t *slot = &g->line_node[loc->line_start + k];
      bool ok = ln->function == PGO_NONE
          ? graph_node(g, 0, loc->address, 0, 0, slot)   /* a line without function */
          : graph_node(g, p->functions[ln->function].name, loc->address,
                       p->functions[ln->function].start_line, ln->line, slot);
      if (!ok) return false;
    }
  }
  size_t nn = g->nodes.count ? g->nodes.count : 1;
  g->cum = calloc(nn, sizeof *g->cum);
  g->flat = calloc(nn, sizeof *g->flat);
  g->node_stamp = calloc(nn, sizeof *g->node_stamp);
  g->maxseq = 2 * maxlines;
  g->seq = malloc(g->maxseq * sizeof *g->seq);
  return g->cum && g->flat && g->node_stamp && g->seq;
}

/* Append the nodes of location l, physical function first (the graph's walk order). */
static size_t push_location(const graph *g, uint32_t l, uint32_t *seq, size_t n) {
  const pgo_location *loc = &g->p->locations[l];
  if (loc->line_count == 0) {
    seq[n++] = g->bare_node[l];
    return n;
  }
  for (uint32_t k = loc->line_count; k-- > 0;) seq[n++] = g->line_node[loc->line_start + k];
  return n;
}

/* The node edge parent -> child (created with weight 0 when new). */
static bool graph_edge(graph *g, uint32_t parent, uint32_t child, uint32_t *e) {
  uint32_t v = (uint32_t)g->ne;
  bool found;
  if (!pgo_u64map_upsert(&g->pairs, (uint64_t)parent << 32 | child, &v, &found)) return false;
  if (!found) {
    if (g->ne >= NONE - 1 || !PGO_RESERVE(g->edges, g->cap_e, g->ne + 1)) return false;
    g->edges[g->ne++] = (struct node_edge){parent, child, 0, 0};
  }
  *e = v;
  return true;
}

/* One sample of weight w (NewGraph's loop body) on the two leaf frames of sample s, which
 * the compiler reads; stamp is unique per sample. Works on flat stacks too. */
static bool graph_sample(graph *g, size_t s, int64_t w, uint32_t stamp) {
  const pgo_profile *p = g->p;
  size_t n = 0;
  uint32_t caller = pgo_sample_location(p, s, 1);
  if (caller != PGO_NONE) n = push_location(g, caller, g->seq, n);
  n = push_location(g, pgo_sample_location(p, s, 0), g->seq, n);
  uint32_t parent = NONE;
  for (size_t i = 0; i < n; i++) {
    uint32_t node = g->seq[i];
    if (g->node_stamp[node] != stamp) {
      g->node_stamp[node] = stamp;
      g->cum[node] = wadd(g->cum[node], w);
    }
    if (parent != NONE && node != parent) {
      uint32_t e;
      if (!graph_edge(g, parent, node, &e)) return false;
      struct node_edge *ne = &g->edges[e];
      if (ne->stamp != stamp) {                   /* once per sample per node pair */
        ne->stamp = stamp;
        ne->weight = wadd(ne->weight, w);
      }
    }
    parent = node;
  }
  if (parent != NONE) g->flat[parent] = wadd(g->flat[parent], w);
  return true;
}

typedef struct {
  uint32_t caller_rank, callee_rank;    /* the names' places in byte order */
  pgo_call_edge e;
} edge_rec;

/* ByWeight: weight descending, then caller, callee (bytes), offset ascending. */
static int edge_rec_cmp(const void *pa, const void *pb) {
  const edge_rec *a = pa, *b = pb;
  if (a->e.weight != b->e.weight) return a->e.weight > b->e.weight ? -1 : 1;
  if (a->caller_rank != b->caller_rank) return a->caller_rank < b->caller_rank ? -1 : 1;
  if (a->callee_rank != b->callee_rank) return a->callee_rank < b->callee_rank ? -1 : 1;
  return a->e.offset < b->e.offset ? -1 : a->e.offset > b->e.offset;
}

typedef struct { const char *s; size_t len; uint32_t id; } name_rec;
static int name_rec_cmp(const void *pa, const void *pb) {
  const name_rec *a = pa, *b = pb;
  return bytes_cmp(a->s, a->len, b->s, b->len);
}

/* Rank the caller and callee names of recs[n] in byte order, so that sorting a million
 * edges compares integers, not strings (interned: distinct ids are distinct strings). */
static bool rank_names(const pgo_profile *p, edge_rec *recs, size_t n) {
  size_t ns = p->strings.count, used = 0;
  uint32_t *rank = pgo_zeroed(ns ? ns : 1, sizeof *rank);      /* rank + 1; 0 = unused */
  name_rec *names = NULL;
  if (!rank) return false;
  for (size_t i = 0; i < n; i++) {
    if (!rank[recs[i].e.caller]) { rank[recs[i].e.caller] = 1; used++; }
    if (!rank[recs[i].e.callee]) { rank[recs[i].e.callee] = 1; used++; }
  }
  names = malloc((used ? used : 1) * sizeof *names);
  if (!names) { free(rank); return false; }
  used = 0;
  for (size_t id = 0; id < ns; id++)
    if (rank[id]) names[used++] = (name_rec){pgo_str(&p->strings, (uint32_t)id),
                                             pgo_strlen(&p->strings, (uint32_t)id), (uint32_t)id};
  qsort(names, used, sizeof *names, name_rec_cmp);
  for (size_t i = 0; i < used; i++) rank[names[i].id] = (uint32_t)i;
  for (size_t i = 0; i < n; i++) {
    recs[i].caller_rank = rank[recs[i].e.caller];
    recs[i].callee_rank = rank[recs[i].e.callee];
  }
  free(names);
  free(rank);
  return true;
}

static bool nomem(pgo_error *err) {
  return pgo_fail(err, "nomem", "out of memory while building the PGO call graph");
}

void pgo_call_edges_free(pgo_call_edges *e) {
  if (!e) return;
  free(e->edges);
  memset(e, 0, sizeof *e);
}

bool pgo_call_edges_build(const pgo_profile *p, pgo_call_edges *out, pgo_error *err) {
  memset(out, 0, sizeof *out);
  out->value_index = -1;
  if (p->nsamples == 0) return true;            /* accepted, nothing to do */
  long vi = pgo_pgo_value_index(p);
  if (vi < 0)
    return pgo_fail(err, "not_cpu",
                    "profile does not contain a sample index with value/type \"samples/count\" "
                    "or cpu/nanoseconds\"");
  out->value_index = vi;

  graph g;
  memset(&g, 0, sizeof g);
  g.p = p;
  ktab_init(&g.nodes);
  pgo_u64map_init(&g.pairs);
  ktab named;
  ktab_init(&named);
  int64_t *nw = NULL;
  edge_rec *recs = NULL;
  bool ok = false;
  if (!graph_nodes(&g)) goto fail_nomem;

  size_t nt = p->nsample_types;
  uint32_t stamp = 0;
  for (size_t s = 0; s < p->nsamples; s++) {
    int64_t w = p->values[s * nt + (size_t)vi];
    if (w == 0 || p->samples[s].stack == 0) continue;
    if (!graph_sample(&g, s, w, ++stamp)) goto fail_nomem;
  }

  /* selectNodesForGraph keeps nodes with a nonzero cum or flat; createNamedEdgeMap */
  bool seen_start = false;
  size_t nnodes = g.nodes.count;
  for (size_t i = 0; i < nnodes; i++) {
    if (!g.cum[i] && !g.flat[i]) continue;
    size_t kn;
    if ((int64_t)ktab_key(&g.nodes, (uint32_t)i, &kn)[NK_START] != 0) seen_start = true;
  }
  nw = malloc((g.ne ? g.ne : 1) * sizeof *nw);
  if (!nw) goto fail_nomem;
  int64_t total = 0;
  for (size_t e = 0; e < g.ne; e++) {
    uint32_t par = g.edges[e].parent;
    if (!g.cum[par] && !g.flat[par]) continue;
    size_t kn;
    const uint64_t *pk = ktab_key(&g.nodes, par, &kn);
    const uint64_t *ck = ktab_key(&g.nodes, g.edges[e].child, &kn);
    uint64_t key[3] = {pk[NK_NAME], ck[NK_NAME],
                       (uint64_t)wsub((int64_t)pk[NK_LINE], (int64_t)pk[NK_START])};
    uint32_t idx;
    bool added;
    if (!ktab_put(&named, key, 3, &idx, &added)) goto fail_nomem;
    if (added) nw[idx] = 0;
    nw[idx] = wadd(nw[idx], g.edges[e].weight);
    total = wadd(total, g.edges[e].weight);
  }
  if (!seen_start) {
    pgo_fail(err, "missing_start_line",
             "profile missing Function.start_line data (Go version of profiled application "
             "too old? Go 1.20+ automatically adds this to profiles)");
    goto done;
  }
  if (total == 0) {                             /* accepted but ignored, as Go does */
    ok = true;
    goto done;
  }
  size_t n = named.count;
  recs = malloc((n ? n : 1) * sizeof *recs);
  out->edges = malloc((n ? n : 1) * sizeof *out->edges);
  if (!recs || !out->edges) goto fail_nomem;
  for (size_t i = 0; i < n; i++) {
    size_t kn;
    const uint64_t *k = ktab_key(&named, (uint32_t)i, &kn);
    recs[i].e = (pgo_call_edge){(uint32_t)k[0], (uint32_t)k[1], (int64_t)k[2], nw[i]};
  }
  if (!rank_names(p, recs, n)) goto fail_nomem;
  qsort(recs, n, sizeof *recs, edge_rec_cmp);
  for (size_t i = 0; i < n; i++) out->edges[i] = recs[i].e;
  out->n = n;
  out->total = total;
  ok = true;
  goto done;

fail_nomem:
  nomem(err);
done:
  if (!ok) {
    free(out->edges);
    out->edges = NULL;
    out->n = 0;
  }
  free(recs);
  free(nw);
  ktab_free(&named);
  graph_free(&g);
  return ok;
}

bool pgo_call_edges_equal(const pgo_profile *a, const pgo_call_edges *ea,
                          const pgo_profile *b, const pgo_call_edges *eb) {
  if (ea->n != eb->n || ea->total != eb->total) return false;
  for (size_t i = 0; i < ea->n; i++) {
    const pgo_call_edge *x = &ea->edges[i], *y = &eb->edges[i];
    if (x->offset != y->offset || x->weight != y->weight) return false;
    if (bytes_cmp(pgo_str(&a->strings, x->caller), pgo_strlen(&a->strings, x->caller),
                  pgo_str(&b->strings, y->caller), pgo_strlen(&b->strings, y->caller)) ||
        bytes_cmp(pgo_str(&a->strings, x->callee), pgo_strlen(&a->strings, x->callee),
                  pgo_str(&b->strings, y->callee), pgo_strlen(&b->strings, y->callee)))
      return false;
  }
  return true;
}

/* ======================================================================================
 * the preprofile text (cmd/internal/pgo serialize.go)
 * ====================================================================================== */

#define PREPROFILE_HEADER "GO PREPROFILE V1\n"

bool pgo_preprofile_text(const pgo_profile *p, const pgo_call_edges *e, char **text,
                         size_t *len, pgo_error *err) {
  size_t need = sizeof PREPROFILE_HEADER;
  for (size_t i = 0; i < e->n; i++)
    need += pgo_strlen(&p->strings, e->edges[i].caller) +
            pgo_strlen(&p->strings, e->edges[i].callee) + 2 + 2 * 21;
  char *buf = malloc(need);
  if (!buf) return nomem(err);
  size_t n = sizeof PREPROFILE_HEADER - 1;
  memcpy(buf, PREPROFILE_HEADER, n);
  for (size_t i = 0; i < e->n; i++) {
    const pgo_call_edge *x = &e->edges[i];
    size_t l = pgo_strlen(&p->strings, x->caller);
    memcpy(buf + n, pgo_str(&p->strings, x->caller), l);
    n += l;
    buf[n++] = '\n';
    l = pgo_strlen(&p->strings, x->callee);
    memcpy(buf + n, pgo_str(&p->strings, x->callee), l);
    n += l;
    buf[n++] = '\n';
    n += (size_t)snprintf(buf + n, need - n, "%" PRId64 " %" PRId64 "\n", x->offset, x->weight);
  }
  *text = buf;
  *len = n;
  return true;
}

/* ======================================================================================
 * hot call sites (cmd/compile/internal/inline hotNodesFromCDF) and Go's %v of a float64
 * ====================================================================================== */

/* pgo.WeightInPercentage: (float64(value) / float64(total)) * 100 */
static double weight_pct(int64_t value, int64_t total) {
  return ((double)value / (double)total) * 100.0;
}

size_t pgo_hot_cdf(const pgo_call_edges *e, double cdf, double *threshold_pct) {
  int64_t cum = 0;
  for (size_t i = 0; i < e->n; i++) {
    cum = wadd(cum, e->edges[i].weight);
    if (weight_pct(cum, e->total) > cdf) {
      *threshold_pct = weight_pct(e->edges[i].weight, e->total);
      return i + 1;
    }
  }
  *threshold_pct = 0;
  return e->n;
}

size_t pgo_format_go_float(double v, char buf[32]) {
  if (isnan(v)) return (size_t)snprintf(buf, 32, "NaN");
  if (isinf(v)) return (size_t)snprintf(buf, 32, v > 0 ? "+Inf" : "-Inf");
  if (v == 0) return (size_t)snprintf(buf, 32, signbit(v) ? "-0" : "0");
  /* the shortest %e rendering that reads back to v */
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    if (strtod(tmp, NULL) == v) break;
  }
  const char *s = tmp;
  bool neg = *s == '-';
  if (neg) s++;
  char digits[24];
  size_t nd = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9' && nd < sizeof digits - 1) digits[nd++] = *s;
  int exp = *s == 'e' ? atoi(s + 1) : 0;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  size_t n = 0;
  if (neg) buf[n++] = '-';
  if (exp < -4 || exp >= 6) {                   /* strconv 'g', shortest: eprec 6 */
    buf[n++] = digits[0];
    if (nd > 1) {
      buf[n++] = '.';
      memcpy(buf + n, digits + 1, nd - 1);
      n += nd - 1;
    }
    n += (size_t)snprintf(buf + n, 32 - n, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  } else if (exp < 0) {
    buf[n++] = '0';
    buf[n++] = '.';
    for (int z = -1; z > exp; z--) buf[n++] = '0';
    memcpy(buf + n, digits, nd);
    n += nd;
  } else {
    size_t ip = (size_t)exp + 1;                /* digits before the point */
    for (size_t i = 0; i < ip; i++) buf[n++] = i < nd ? digits[i] : '0';
    if (nd > ip) {
      buf[n++] = '.';
      memcpy(buf + n, digits + ip, nd - ip);
      n += nd - ip;
    }
  }
  buf[n] = '\0';
  return n;
}

/* ======================================================================================
 * call sites (devirtualize.findHotConcreteCallee groups edges by caller and offset)
 * ====================================================================================== */

static bool all_digits(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static bool has_numbered_prefix(const char *s, size_t n, const char *prefix) {
  size_t pl = strlen(prefix);
  return n > pl && memcmp(s, prefix, pl) == 0 && all_digits(s + pl, n - pl);
}

pgo_func_kind pgo_classify_func_name(const char *name, size_t len) {
  /* a skeleton without the [...] of generic instantiations (they hold dots and slashes) */
  char stackbuf[512];
  char *sk = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
  if (!sk) return PGO_FN_FUNCTION;
  size_t n = 0;
  int depth = 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (c == '[') depth++;
    else if (c == ']' && depth > 0) depth--;
    else if (depth == 0) sk[n++] = c;
  }
  sk[n] = '\0';
  pgo_func_kind kind = PGO_FN_FUNCTION;
  const char *slash = strrchr(sk, '/');
  const char *rest = strchr(slash ? slash + 1 : sk, '.');   /* after "pkg." */
  if (!rest) goto out;
  rest++;
  size_t rl = strlen(rest);
  if (rl >= 3 && strcmp(rest + rl - 3, "-fm") == 0) goto out;  /* method value wrapper */
  /* closures: -rangeN (range-over-func bodies), or a component funcN / gowrapN /
   * deferwrapN after the first (pkg.F.func1, pkg.F.func1.2, pkg.glob..func1) */
  for (const char *r = strstr(rest, "-range"); r; r = strstr(r + 1, "-range"))
    if (r[6] >= '0' && r[6] <= '9') {
      kind = PGO_FN_CLOSURE;
      goto out;
    }
  size_t ncomp = 0;
  for (const char *c = rest; c; ncomp++) {
    const char *dot = strchr(c, '.');
    size_t cl = dot ? (size_t)(dot - c) : strlen(c);
    if (ncomp > 0 && (has_numbered_prefix(c, cl, "func") || has_numbered_prefix(c, cl, "gowrap") ||
                      has_numbered_prefix(c, cl, "deferwrap"))) {
      kind = PGO_FN_CLOSURE;
      goto out;
    }
    c = dot ? dot + 1 : NULL;
  }
  if (rest[0] == '(' && rest[1] == '*') kind = PGO_FN_METHOD;
  else if (ncomp >= 2 && !(strncmp(rest, "init.", 5) == 0 && all_digits(rest + 5, rl - 5)))
    kind = PGO_FN_METHOD;
out:
  if (sk != stackbuf) free(sk);
  return kind;
}

typedef struct {
  const char *caller, *callee;
  size_t caller_len, callee_len;
  int64_t offset, weight;
  uint32_t edge;
} site_rec;

/* Group order: caller, offset; inside a group hottest first, then callee name. */
static int site_rec_cmp(const void *pa, const void *pb) {
  const site_rec *a = pa, *b = pb;
  int c = bytes_cmp(a->caller, a->caller_len, b->caller, b->caller_len);
  if (c) return c;
  if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
  if (a->weight != b->weight) return a->weight > b->weight ? -1 : 1;
  return bytes_cmp(a->callee, a->callee_len, b->callee, b->callee_len);
}

typedef struct {
  const char *caller;
  size_t caller_len;
  pgo_callsite site;
} callsite_rec;

static int callsite_rec_cmp(const void *pa, const void *pb) {
  const callsite_rec *a = pa, *b = pb;
  if (a->site.weight != b->site.weight) return a->site.weight > b->site.weight ? -1 : 1;
  int c = bytes_cmp(a->caller, a->caller_len, b->caller, b->caller_len);
  if (c) return c;
  return a->site.offset < b->site.offset ? -1 : a->site.offset > b->site.offset;
}

void pgo_callsites_free(pgo_callsites *c) {
  if (!c) return;
  free(c->sites);
  free(c->order);
  memset(c, 0, sizeof *c);
}

bool pgo_callsites_build(const pgo_profile *p, const pgo_call_edges *e, size_t min_callees,
                         pgo_callsites *out, pgo_error *err) {
  memset(out, 0, sizeof *out);
  size_t n = e->n;
  site_rec *recs = malloc((n ? n : 1) * sizeof *recs);
  callsite_rec *sites = malloc((n ? n : 1) * sizeof *sites);
  out->order = malloc((n ? n : 1) * sizeof *out->order);
  out->sites = malloc((n ? n : 1) * sizeof *out->sites);
  if (!recs || !sites || !out->order || !out->sites) {
    free(recs);
    free(sites);
    pgo_callsites_free(out);
    return nomem(err);
  }
  for (size_t i = 0; i < n; i++) {
    const pgo_call_edge *x = &e->edges[i];
    recs[i] = (site_rec){pgo_str(&p->strings, x->caller), pgo_str(&p->strings, x->callee),
                         pgo_strlen(&p->strings, x->caller), pgo_strlen(&p->strings, x->callee),
                         x->offset, x->weight, (uint32_t)i};
  }
  qsort(recs, n, sizeof *recs, site_rec_cmp);
  size_t ns = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    int64_t w = 0;
    while (j < n && recs[j].offset == recs[i].offset &&
           e->edges[recs[j].edge].caller == e->edges[recs[i].edge].caller) {
      w = wadd(w, recs[j].weight);
      j++;
    }
    if (j - i >= min_callees) {
      sites[ns].caller = recs[i].caller;
      sites[ns].caller_len = recs[i].caller_len;
      sites[ns].site = (pgo_callsite){e->edges[recs[i].edge].caller, recs[i].offset, w,
                                      (uint32_t)i, (uint32_t)(j - i)};
      ns++;
    }
    i = j;
  }
  for (size_t i = 0; i < n; i++) out->order[i] = recs[i].edge;
  qsort(sites, ns, sizeof *sites, callsite_rec_cmp);
  for (size_t i = 0; i < ns; i++) out->sites[i] = sites[i].site;
  out->n = ns;
  free(recs);
  free(sites);
  return true;
}

/* ======================================================================================
 * compaction: only what the compiler reads
 *
 * The compiler reads each sample's two leaf locations (L1 the caller, L0 the leaf) and
 * nothing else. What of them matters:
 *   - every line of L1 and every line of L0 but its innermost one: their functions
 *     (name, start line) and line numbers name the edges; the innermost line of L0 only
 *     names the callee of the last edge, its line number is never an offset;
 *   - addresses only tell graph nodes apart: two frames of one function on one line in one
 *     sample's two locations are two nodes (an edge between them) only because their
 *     addresses differ.
 *   - a sample of one location with one line gives no edge; its node only adds to a
 *     cum that the node's own edges already make nonzero (when values are positive).
 * So the compact form, level 0, writes line 0 for the innermost line of each location
 * that is never a caller (L1) in any sample (then every leaf PC of a function without
 * inlining becomes one location), drops the samples that give no edge, and writes an
 * address only on the locations of a sample whose L1 and L0 share a (function, start
 * line, line) after that rewrite; addresses are renumbered 1, 2, ... (equal stays equal,
 * different stays different). Levels 1 (original line numbers, every sample) and 2
 * (every address too) exist for what level 0 cannot keep apart (two locations at one
 * address, negative values, no start line left); the result of each level is checked by
 * recomputing its edges, and the first that matches wins.
 * ====================================================================================== */

typedef struct compactor {
  const pgo_profile *p;
  pgo_profile *q;
  int level;                    /* 0: leaf lines canonical, 1: lines kept, 2: all addresses */
  uint8_t *is_caller;           /* per location of p: an L1 of some sample */
  uint8_t *needs_address;       /* per location of p: shares a node key with its pair */
  uint32_t *str_map;            /* string id in p -> id in q (NONE = not yet) */
  uint32_t *loc_map;            /* location in p -> location in q */
  ktab functions;               /* (name id in q, start line) */
  ktab locations;               /* (address, then function and line per line) */
  pgo_u64map addresses;         /* address in p -> small address in q */
  uint64_t *key;                /* scratch key */
  pgo_line *lines;              /* scratch lines */
} compactor;

static bool compact_string(compactor *c, uint32_t id, uint32_t *out) {
  if (c->str_map[id] == NONE) {
    uint32_t nid;
    if (!pgo_profile_intern(c->q, pgo_str(&c->p->strings, id), pgo_strlen(&c->p->strings, id),
                            &nid))
      return false;
    c->str_map[id] = nid;
  }
  *out = c->str_map[id];
  return true;
}

/* The node key (without address) line k of location l gets in the compact profile:
 * function name (id in p), start line, line; a line without function is ("", 0, 0). */
static void compact_triple(const compactor *c, uint32_t l, uint32_t k, uint64_t t[3]) {
  const pgo_profile *p = c->p;
  const pgo_location *loc = &p->locations[l];
  t[0] = t[1] = t[2] = 0;
  if (loc->line_count == 0) return;
  const pgo_line *ln = &p->lines[loc->line_start + k];
  if (ln->function == PGO_NONE) return;
  t[0] = p->functions[ln->function].name;
  t[1] = (uint64_t)p->functions[ln->function].start_line;
  t[2] = c->level == 0 && k == 0 && !c->is_caller[l] ? 0 : (uint64_t)ln->line;
}

/* Do locations a and b have a node key in common (address aside)? */
static bool share_triple(const compactor *c, uint32_t a, uint32_t b) {
  uint32_t na = c->p->locations[a].line_count, nb = c->p->locations[b].line_count;
  for (uint32_t i = 0; i < (na ? na : 1); i++) {
    uint64_t ta[3];
    compact_triple(c, a, i, ta);
    for (uint32_t j = 0; j < (nb ? nb : 1); j++) {
      uint64_t tb[3];
      compact_triple(c, b, j, tb);
      if (memcmp(ta, tb, sizeof ta) == 0) return true;
    }
  }
  return false;
}

/* Which locations are callers, which need their address (two passes over the distinct
 * leaf frames of the samples the compiler reads). */
static bool compact_classify(compactor *c, long vi) {
  const pgo_profile *p = c->p;
  size_t ns = pgo_profile_nstacks(p);
  uint8_t *seen = calloc(ns ? ns : 1, 1);
  if (!seen) return false;
  size_t nt = p->nsample_types;
  for (int pass = 1; pass <= 2; pass++) {
    for (size_t s = 0; s < p->nsamples; s++) {
      uint32_t f = p->samples[s].stack;
      if (p->values[s * nt + (size_t)vi] == 0 || f == 0 || seen[f] == pass) continue;
      seen[f] = (uint8_t)pass;
      uint32_t l1 = pgo_sample_location(p, s, 1), l0 = pgo_sample_location(p, s, 0);
      if (l1 == PGO_NONE) continue;
      if (pass == 1) c->is_caller[l1] = 1;
      else if (c->level == 2 || (l1 != l0 && share_triple(c, l1, l0)))
        c->needs_address[l1] = c->needs_address[l0] = 1;
    }
  }
  free(seen);
  return true;
}

static bool compact_function(compactor *c, uint32_t name, int64_t start, uint32_t *index) {
  uint64_t k[2] = {name, (uint64_t)start};
  bool added;
  if (!ktab_put(&c->functions, k, 2, index, &added)) return false;
  if (!added) return true;
  pgo_function f = {.id = (uint64_t)*index + 1, .name = name, .start_line = start};
  uint32_t got;
  return pgo_profile_add_function(c->q, &f, &got) && got == *index;
}

/* The location of q for location l of p (created on first use). */
static bool compact_location(compactor *c, uint32_t l, uint32_t *out) {
  if (c->loc_map[l] != NONE) {
    *out = c->loc_map[l];
    return true;
  }
  const pgo_profile *p = c->p;
  const pgo_location *loc = &p->locations[l];
  uint64_t addr = 0;
  if ((c->needs_address[l] || c->level == 2) && loc->address) {
    uint32_t v = (uint32_t)c->addresses.count + 1;   /* 1, 2, ... in order of first use */
    bool found;
    if (!pgo_u64map_upsert(&c->addresses, loc->address, &v, &found)) return false;
    addr = v;
  }
  size_t nk = 0;
  c->key[nk++] = addr;
  for (uint32_t k = 0; k < loc->line_count; k++) {
    uint64_t t[3];
    compact_triple(c, l, k, t);
    uint32_t name = 0, fn;
    if (!compact_string(c, (uint32_t)t[0], &name) ||
        !compact_function(c, name, (int64_t)t[1], &fn))
      return false;
    c->lines[k] = (pgo_line){fn, (int64_t)t[2], 0};
    c->key[nk++] = fn;
    c->key[nk++] = t[2];
  }
  uint32_t idx;
  bool added;
  if (!ktab_put(&c->locations, c->key, nk, &idx, &added)) return false;
  if (added) {
    pgo_location nl = {.id = (uint64_t)idx + 1, .address = addr, .mapping = PGO_NONE};
    uint32_t got;
    if (!pgo_profile_add_location(c->q, &nl, c->lines, loc->line_count, &got) || got != idx)
      return false;
  }
  c->loc_map[l] = idx;
  *out = idx;
  return true;
}

static pgo_profile *compact_build(const pgo_profile *p, long vi, uint32_t frames, int level,
                                  pgo_error *err) {
  compactor c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.level = level;
  ktab_init(&c.functions);
  ktab_init(&c.locations);
  pgo_u64map_init(&c.addresses);
  pgo_flat_index stacks;
  pgo_flat_index_init(&stacks);
  pgo_sample_index positive, negative;
  pgo_sample_index_init(&positive);
  pgo_sample_index_init(&negative);
  uint32_t *memo = NULL, *buf = NULL;
  size_t cap_buf = 0;
  bool ok = false;

  c.q = pgo_profile_new();
  if (!c.q || !pgo_profile_make_flat(c.q)) goto out;
  pgo_profile *q = c.q;
  c.str_map = malloc(p->strings.count * sizeof *c.str_map);
  if (!c.str_map) goto out;
  for (size_t i = 0; i < p->strings.count; i++) c.str_map[i] = NONE;
  c.str_map[0] = 0;
  if (!compact_string(&c, p->period_type.type, &q->period_type.type) ||
      !compact_string(&c, p->period_type.unit, &q->period_type.unit))
    goto out;
  q->period = p->period;
  q->time_nanos = p->time_nanos;
  q->duration_nanos = p->duration_nanos;
  if (vi >= 0) {
    pgo_value_type vt;
    if (!compact_string(&c, p->sample_types[vi].type, &vt.type) ||
        !compact_string(&c, p->sample_types[vi].unit, &vt.unit) ||
        !pgo_profile_set_sample_types(q, &vt, 1))
      goto out;
  }
  if (vi < 0 || p->nsamples == 0) {
    ok = true;
    goto out;
  }

  size_t maxlines = 1, nloc = p->nlocations ? p->nlocations : 1;
  size_t nstacks = pgo_profile_nstacks(p);
  for (size_t i = 0; i < p->nlocations; i++)
    if (p->locations[i].line_count > maxlines) maxlines = p->locations[i].line_count;
  c.key = malloc((1 + 2 * maxlines) * sizeof *c.key);
  c.lines = malloc(maxlines * sizeof *c.lines);
  c.loc_map = malloc(nloc * sizeof *c.loc_map);
  c.is_caller = calloc(nloc, 1);
  c.needs_address = calloc(nloc, 1);
  memo = malloc((nstacks ? nstacks : 1) * sizeof *memo);
  if (!c.key || !c.lines || !c.loc_map || !c.is_caller || !c.needs_address || !memo)
    goto out;
  for (size_t i = 0; i < p->nlocations; i++) c.loc_map[i] = NONE;
  for (size_t i = 0; i < nstacks; i++) memo[i] = NONE;
  if (!compact_classify(&c, vi)) goto out;

  size_t nt = p->nsample_types;
  for (size_t s = 0; s < p->nsamples; s++) {
    int64_t w = p->values[s * nt + (size_t)vi];
    if (w == 0) continue;                      /* the compiler skips it */
    uint32_t f = p->samples[s].stack, node = memo[f];
    if (f == 0) continue;                      /* no frames, no nodes */
    /* level 0: a lone location with one line gives no edge (its node matters only for a
     * nonzero cum, which its edges' own samples give) */
    if (level == 0 && pgo_sample_location(p, s, 1) == PGO_NONE &&
        p->locations[pgo_sample_location(p, s, 0)].line_count <= 1)
      continue;
    if (node == NONE) {
      size_t n;
      const uint32_t *locs = pgo_stack_locations(p, f, &buf, &cap_buf, &n);
      if (!locs) goto out;
      if (frames && n > frames) n = frames;
      uint32_t *dst = pgo_profile_flat_reserve(q, n);
      if (!dst) goto out;
      for (size_t k = 0; k < n; k++)
        if (!compact_location(&c, locs[k], &dst[k])) goto out;
      if (!pgo_profile_flat_stack(q, &stacks, n, &node)) goto out;
      memo[f] = node;
    }
    /* merging a positive with a negative sample could cancel to 0 and lose an edge the
     * compiler creates (with weight 0): keep the signs apart */
    if (!pgo_profile_add_sample(q, w > 0 ? &positive : &negative, node, 0, &w)) goto out;
  }
  q->sample_messages = q->nsamples;
  ok = true;
out:
  free(memo);
  free(buf);
  free(c.str_map);
  free(c.loc_map);
  free(c.is_caller);
  free(c.needs_address);
  free(c.key);
  free(c.lines);
  ktab_free(&c.functions);
  ktab_free(&c.locations);
  pgo_u64map_free(&c.addresses);
  pgo_flat_index_free(&stacks);
  pgo_sample_index_free(&positive);
  pgo_sample_index_free(&negative);
  if (!ok) {
    pgo_profile_free(c.q);
    nomem(err);
    return NULL;
  }
  return c.q;
}

pgo_profile *pgo_compact_for_pgo(const pgo_profile *p, uint32_t frames, pgo_compact_info *info,
                                 pgo_error *err) {
  if (frames == 1) {
    pgo_fail(err, "bad_option",
             "frames must be at least 2: the compiler reads the two leaf frames of each sample");
    return NULL;
  }
  pgo_call_edges want;
  if (!pgo_call_edges_build(p, &want, err)) return NULL;
  long vi = pgo_pgo_value_index(p);
  for (int level = 0; level <= 2; level++) {
    pgo_profile *q = compact_build(p, vi, frames, level, err);
    if (!q) break;
    pgo_call_edges got;
    pgo_error e2;
    bool same = false;
    if (pgo_call_edges_build(q, &got, &e2)) {
      same = pgo_call_edges_equal(p, &want, q, &got);
      pgo_call_edges_free(&got);
    } else if (strcmp(e2.code, "nomem") == 0) {
      *err = e2;
      pgo_profile_free(q);
      break;
    }
    if (same) {
      pgo_call_edges_free(&want);
      if (info) {
        size_t with_address = 0;
        for (size_t i = 0; i < q->nlocations; i++) with_address += q->locations[i].address != 0;
        *info = (pgo_compact_info){level, with_address, frames};
      }
      return q;
    }
    pgo_profile_free(q);
    if (level == 2)
      pgo_fail(err, "internal", "BUG: the compacted profile's call edges differ from the "
                                "original's; please report this with the profile");
  }
  pgo_call_edges_free(&want);
  return NULL;
}
