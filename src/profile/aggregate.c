/* aggregate.c: pprof's report graph (flat/cum per node, trimming, order), report totals
 * and label totals. See aggregate.h and shared/docs/pprof-pgo-reference.md section c.
 *
 * Cost: one pass over the samples to weigh each distinct stack (flat stacks, or leaf
 * nodes of the prefix tree: the prefix tree is never built for this), then one pass over
 * the weighed stacks per graph build (two), O(frames x lines) with arrays indexed by
 * node; hashing only for the edges of kept nodes. A node's cum counts each stack once: a
 * node remembers the last stack that added to it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/aggregate.h"

#define NONE UINT32_MAX

static int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static uint64_t mag(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

/* ======================================================================================
 * value column and totals
 * ====================================================================================== */

bool pgo_sample_index_by_name(const pgo_profile *p, const char *name, size_t *index,
                              pgo_error *err) {
  size_t nt = p->nsample_types;
  if (nt == 0) return pgo_fail(err, "bad_sample_index", "profile has no samples (no sample types)");
  if (!name || !*name) {
    *index = pgo_profile_default_index(p);
    return true;
  }
  /* a number, as Go's strconv.Atoi reads it: optional sign, then digits only */
  const char *d = name + (name[0] == '+' || name[0] == '-');
  if (*d && strspn(d, "0123456789") == strlen(d)) {
    bool neg = name[0] == '-';
    unsigned long long v = strlen(d) > 18 ? ~0ULL : strtoull(d, NULL, 10);
    if (neg && v != 0) v = ~0ULL;
    if (v >= nt)
      return pgo_fail(err, "bad_sample_index", "sample_index %s is outside the range [0..%zu]",
                      name, nt - 1);
    *index = (size_t)v;
    return true;
  }
  const char *noinuse = strncmp(name, "inuse_", 6) == 0 ? name + 6 : name;
  for (size_t i = 0; i < nt; i++) {
    const char *t = pgo_str(&p->strings, p->sample_types[i].type);
    if (strcmp(t, name) == 0 || strcmp(t, noinuse) == 0) {
      *index = i;
      return true;
    }
  }
  char list[512];
  size_t used = 0;
  list[0] = 0;
  for (size_t i = 0; i < nt && used < sizeof list - 1; i++) {
    int n = snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "",
                     pgo_str(&p->strings, p->sample_types[i].type));
    if (n < 0) break;
    used += (size_t)n;
  }
  if (used >= sizeof list) used = sizeof list - 1;
  return pgo_fail(err, "bad_sample_index", "sample_index \"%s\" must be one of: [%s]", name, list);
}

/* Does label set ls carry pprof::base=true? (ids 0 = the strings are absent) */
static bool labelset_is_base(const pgo_profile *p, uint32_t ls, uint32_t kbase, uint32_t vtrue) {
  const pgo_labelset *s = &p->labelsets[ls];
  for (uint32_t k = 0; k < s->count; k++) {
    const pgo_label *l = &p->labels[s->start + k];
    if (l->key == kbase && l->str == vtrue) return true;
  }
  return false;
}

int64_t pgo_report_total(const pgo_profile *p, size_t index) {
  size_t nt = p->nsample_types;
  if (index >= nt) return 0;
  uint32_t kbase = 0, vtrue = 0;
  bool diff = pgo_strtab_find(&p->strings, "pprof::base", 11, &kbase) &&
              pgo_strtab_find(&p->strings, "true", 4, &vtrue);
  uint64_t total = 0, base = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    uint64_t v = mag(p->values[i * nt + index]);
    total += v;
    if (diff && p->samples[i].labels && labelset_is_base(p, p->samples[i].labels, kbase, vtrue))
      base += v;
  }
  if ((int64_t)base > 0) total = base;
  return (int64_t)total;
}

/* ======================================================================================
 * paths, as Go's path/filepath does them on Unix
 * ====================================================================================== */

/* filepath.Clean into out (at least len+2 bytes); returns the length. */
static size_t path_clean(const char *s, size_t len, char *out) {
  if (len == 0) { out[0] = '.'; out[1] = 0; return 1; }
  bool rooted = s[0] == '/';
  size_t w = 0, r = 0, dotdot = 0;
  if (rooted) { out[w++] = '/'; r = 1; dotdot = 1; }
  while (r < len) {
    if (s[r] == '/') { r++; continue; }
    if (s[r] == '.' && (r + 1 == len || s[r + 1] == '/')) { r++; continue; }
    if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == len || s[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) {                      /* back up over the last element */
        w--;
        while (w > dotdot && out[w] != '/') w--;
      } else if (!rooted) {                  /* leading ".." of a relative path stays */
        if (w > 0) out[w++] = '/';
        out[w++] = '.';
        out[w++] = '.';
        dotdot = w;
      }
      continue;
    }
    if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
    while (r < len && s[r] != '/') out[w++] = s[r++];
  }
  if (w == 0) out[w++] = '.';
  out[w] = 0;
  return w;
}

/* filepath.Base: the last element, trailing slashes removed ("" -> ".", "///" -> "/"). */
static void path_base(const char *s, size_t len, const char **b, size_t *blen) {
  if (len == 0) { *b = "."; *blen = 1; return; }
  while (len > 0 && s[len - 1] == '/') len--;
  if (len == 0) { *b = "/"; *blen = 1; return; }
  size_t i = len;
  while (i > 0 && s[i - 1] != '/') i--;
  *b = s + i;
  *blen = len - i;
}

/* ======================================================================================
 * the graph
 * ====================================================================================== */

typedef struct {
  uint32_t name, file, objfile;       /* ids in graph.strs */
  int64_t start_line, lineno, column;
  uint64_t address;
} node_key;

typedef struct {
  bool function, filename, linenumber, address, columns, inlines;
} gran_flags;

typedef struct graph {
  const pgo_profile *p;
  size_t col;
  pgo_strtab strs;                    /* key strings (names, cleaned files, objfiles) */
  node_key *keys;
  size_t nnodes, cap_nodes;
  uint32_t *slots;                    /* node index by key: node + 1, 0 = empty */
  size_t nslots;
  uint32_t *loc_start, *loc_count, *locnodes;   /* per location: its nodes, line order */
  size_t nlocnodes;
  uint8_t *inlinable;                 /* per node: is an inlined (non-last) line somewhere */
  /* the distinct stacks, weighed: the column summed over their samples, and whether
   * some sample there is nonzero (pprof skips zeros) */
  int64_t *sw;
  uint8_t *snz;
  uint32_t *locbuf;                   /* a stack of the tree, gathered */
  size_t cap_locbuf;
  /* per build; last: the last stack that added to a node's cum */
  int64_t *flat, *cum;
  uint32_t *last;
  /* edges (final build only); elast: the last stack that added to an edge */
  pgo_u64map emap;
  uint32_t *edst, *elast;
  int64_t *ew;
  uint8_t *einl;
  size_t nedges, cap_edges;
  /* printable names */
  size_t *name_off, *name_len;
  char *names;
  size_t names_len, names_cap;
} graph;

static void graph_free(graph *g) {
  pgo_strtab_free(&g->strs);
  free(g->keys); free(g->slots);
  free(g->loc_start); free(g->loc_count); free(g->locnodes); free(g->inlinable);
  free(g->sw); free(g->snz); free(g->locbuf);
  free(g->flat); free(g->cum); free(g->last);
  pgo_u64map_free(&g->emap);
  free(g->edst); free(g->elast); free(g->ew); free(g->einl);
  free(g->name_off); free(g->name_len); free(g->names);
  memset(g, 0, sizeof *g);
}

static uint64_t key_hash(const node_key *k) {
  uint64_t h = pgo_hash_mix(k->name, k->file);
  h = pgo_hash_mix(h, k->objfile);
  h = pgo_hash_mix(h, (uint64_t)k->start_line);
  h = pgo_hash_mix(h, (uint64_t)k->lineno);
  h = pgo_hash_mix(h, (uint64_t)k->column);
  return pgo_hash_mix(h, k->address);
}

static bool key_eq(const node_key *a, const node_key *b) {
  return a->name == b->name && a->file == b->file && a->objfile == b->objfile &&
         a->start_line == b->start_line && a->lineno == b->lineno && a->column == b->column &&
         a->address == b->address;
}

static bool node_slots_grow(graph *g) {
  size_t nslots = g->nslots ? g->nslots * 2 : 1024;
  uint32_t *slots = calloc(nslots, sizeof *slots);
  if (!slots) return false;
  for (size_t n = 0; n < g->nnodes; n++) {
    size_t i = key_hash(&g->keys[n]) & (nslots - 1);
    while (slots[i]) i = (i + 1) & (nslots - 1);
    slots[i] = (uint32_t)n + 1;
  }
  free(g->slots);
  g->slots = slots;
  g->nslots = nslots;
  return true;
}

/* The node for key k, created when new. */
static bool node_find_or_add(graph *g, const node_key *k, uint32_t *node) {
  if ((g->nnodes + 1) * 2 > g->nslots && !node_slots_grow(g)) return false;
  size_t i = key_hash(k) & (g->nslots - 1);
  while (g->slots[i]) {
    uint32_t n = g->slots[i] - 1;
    if (key_eq(&g->keys[n], k)) { *node = n; return true; }
    i = (i + 1) & (g->nslots - 1);
  }
  if (g->nnodes >= NONE / 2) return false;
  if (!PGO_RESERVE(g->keys, g->cap_nodes, g->nnodes + 1)) return false;
  g->keys[g->nnodes] = *k;
  g->slots[i] = (uint32_t)g->nnodes + 1;
  *node = (uint32_t)g->nnodes++;
  return true;
}

static void gran_flags_for(pgo_granularity gr, bool noinlines, gran_flags *f) {
  memset(f, 0, sizeof *f);
  f->inlines = !noinlines;
  switch (gr) {
  case PGO_GRAN_ADDRESSES:
    f->function = f->filename = f->linenumber = f->address = true;
    f->columns = f->inlines;        /* pprof leaves the profile untouched then */
    break;
  case PGO_GRAN_LINES: f->function = f->filename = f->linenumber = true; break;
  case PGO_GRAN_FILES: f->filename = true; break;
  case PGO_GRAN_FILEFUNCTIONS: f->function = f->filename = true; break;
  case PGO_GRAN_FUNCTIONS: default: f->function = true; break;
  }
}

/* Intern a function's file as the report shows it: "/proc/self/cwd/" prefixes trimmed
 * (pprof's trimPath without a source path), then filepath.Clean. */
static bool intern_file(graph *g, const char *s, size_t len, uint32_t *id) {
  if (len == 0) { *id = 0; return true; }
  static const char *const prefixes[] = { "/proc/self/cwd/./", "/proc/self/cwd/" };
  for (size_t i = 0; i < 2; i++) {
    size_t pl = strlen(prefixes[i]);
    if (len >= pl && memcmp(s, prefixes[i], pl) == 0) { s += pl; len -= pl; break; }
  }
  if (len == 0) { *id = 0; return true; }      /* Clean of "" would be "."; pprof keeps "" */
  char small[512], *buf = len + 2 <= sizeof small ? small : malloc(len + 2);
  if (!buf) return false;
  size_t n = path_clean(s, len, buf);
  bool ok = pgo_strtab_intern(&g->strs, buf, n, id);
  if (buf != small) free(buf);
  return ok;
}

/* Nodes of every location, in line order (line[0] innermost), for the granularity. */
static bool graph_nodes(graph *g, const gran_flags *fl) {
  const pgo_profile *p = g->p;
  uint32_t *fname = calloc(p->nfunctions ? p->nfunctions : 1, sizeof *fname);
  uint32_t *ffile = calloc(p->nfunctions ? p->nfunctions : 1, sizeof *ffile);
  uint32_t *mfile = calloc(p->nmappings ? p->nmappings : 1, sizeof *mfile);
  bool ok = fname && ffile && mfile;
  for (size_t i = 0; ok && i < p->nfunctions; i++) {
    const pgo_function *f = &p->functions[i];
    if (fl->function)
      ok = pgo_strtab_intern(&g->strs, pgo_str(&p->strings, f->name),
                             pgo_strlen(&p->strings, f->name), &fname[i]);
    if (ok && fl->filename)
      ok = intern_file(g, pgo_str(&p->strings, f->filename), pgo_strlen(&p->strings, f->filename),
                       &ffile[i]);
  }
  for (size_t i = 0; ok && i < p->nmappings; i++)
    ok = pgo_strtab_intern(&g->strs, pgo_str(&p->strings, p->mappings[i].file),
                           pgo_strlen(&p->strings, p->mappings[i].file), &mfile[i]);
  size_t nl = p->nlocations ? p->nlocations : 1;
  if (ok) {
    g->loc_start = malloc(nl * sizeof *g->loc_start);
    g->loc_count = malloc(nl * sizeof *g->loc_count);
    g->locnodes = malloc((p->nlines + p->nlocations + 1) * sizeof *g->locnodes);
    ok = g->loc_start && g->loc_count && g->locnodes;
  }
  for (size_t li = 0; ok && li < p->nlocations; li++) {
    const pgo_location *loc = &p->locations[li];
    uint32_t objfile = loc->mapping < p->nmappings ? mfile[loc->mapping] : 0;
    uint64_t address = fl->address ? loc->address : 0;
    uint32_t first = 0, count = loc->line_count;
    if (!fl->inlines && count > 1) { first = count - 1; count = 1; }
    g->loc_start[li] = (uint32_t)g->nlocnodes;
    g->loc_count[li] = count ? count : 1;
    if (count == 0) {                        /* no lines: the binary, or <unknown> */
      node_key k = { 0, 0, objfile, 0, 0, 0, address };
      ok = node_find_or_add(g, &k, &g->locnodes[g->nlocnodes++]);
      continue;
    }
    for (uint32_t j = first; ok && j < first + count; j++) {
      const pgo_line *ln = &p->lines[loc->line_start + j];
      node_key k = { 0, 0, 0, 0, 0, 0, address };
      if (ln->function >= p->nfunctions) {
        k.objfile = objfile;
      } else {
        const pgo_function *f = &p->functions[ln->function];
        k.name = fl->function ? fname[ln->function] : 0;
        k.file = fl->filename ? ffile[ln->function] : 0;
        k.lineno = fl->linenumber ? ln->line : 0;
        k.column = fl->columns ? ln->column : 0;
        if (k.name == 0) { k.objfile = objfile; k.start_line = f->start_line; }
      }
      ok = node_find_or_add(g, &k, &g->locnodes[g->nlocnodes++]);
    }
  }
  free(fname);
  free(ffile);
  free(mfile);
  /* Only a node met as an inlined line can get "(inline)": edges into other nodes are
   * never inline, so their label is empty whatever their edges; the walk skips them. */
  if (ok) g->inlinable = calloc(g->nnodes ? g->nnodes : 1, 1);
  ok = ok && g->inlinable;
  for (size_t li = 0; ok && li < p->nlocations; li++)
    for (uint32_t k = 0; k + 1 < g->loc_count[li]; k++)
      g->inlinable[g->locnodes[g->loc_start[li] + k]] = 1;
  return ok;
}

/* Weigh the distinct stacks: the column summed over the samples of each. */
static bool graph_weigh(graph *g, pgo_error *err) {
  const pgo_profile *p = g->p;
  size_t ns = pgo_profile_nstacks(p), nt = p->nsample_types;
  g->sw = calloc(ns ? ns : 1, sizeof *g->sw);
  g->snz = calloc(ns ? ns : 1, 1);
  if (!g->sw || !g->snz) return pgo_fail(err, "nomem", "out of memory aggregating the profile");
  for (size_t i = 0; i < p->nsamples; i++) {
    int64_t w = p->values[i * nt + g->col];
    uint32_t s = p->samples[i].stack;
    if (w == 0 || s == 0) continue;
    if (s >= ns) return pgo_fail(err, "invalid", "BUG: sample %zu names stack %u of %zu", i, s, ns);
    g->sw[s] = wadd(g->sw[s], w);
    g->snz[s] = 1;
  }
  return true;
}

static bool edges_reserve(graph *g, size_t need) {
  if (need <= g->cap_edges) return true;
  size_t cap = g->cap_edges ? g->cap_edges * 2 : 1024;
  while (cap < need) cap *= 2;
  void *a;
  if (!(a = realloc(g->edst, cap * sizeof *g->edst))) return false;
  g->edst = a;
  if (!(a = realloc(g->elast, cap * sizeof *g->elast))) return false;
  g->elast = a;
  if (!(a = realloc(g->ew, cap * sizeof *g->ew))) return false;
  g->ew = a;
  if (!(a = realloc(g->einl, cap))) return false;
  g->einl = a;
  g->cap_edges = cap;
  return true;
}

/* The edge src -> dst, created when new with its first inline flag. */
static bool edge_get(graph *g, uint32_t src, uint32_t dst, bool inl, uint32_t *e) {
  uint32_t val = (uint32_t)g->nedges;
  bool found;
  if (g->nedges >= NONE - 1 || !edges_reserve(g, g->nedges + 1)) return false;
  if (!pgo_u64map_upsert(&g->emap, ((uint64_t)src << 32) | dst, &val, &found)) return false;
  if (!found) {
    g->edst[g->nedges] = dst;
    g->elast[g->nedges] = 0;
    g->ew[g->nedges] = 0;
    g->einl[g->nedges] = inl;
    g->nedges++;
  }
  *e = val;
  return true;
}

/* Add stack s of weight w, root first: each location's nodes from the physical line to
 * the innermost inlined one. kept = NULL keeps every node. A node (an edge) adds w once
 * per stack; an edge's inline flag is cleared by its first non-inline occurrence on a
 * stack; the flat weight goes to the leaf node when it is kept. */
static bool graph_add_stack(graph *g, uint32_t s, const uint32_t *locs, size_t n, int64_t w,
                            const uint8_t *kept, bool edges) {
  uint32_t parent = NONE;
  bool residual = false;
  for (size_t i = n; i-- > 0;) {
    uint32_t loc = locs[i];
    uint32_t start = g->loc_start[loc], cnt = g->loc_count[loc];
    for (uint32_t k = cnt; k-- > 0;) {
      uint32_t nd = g->locnodes[start + k];
      if (kept && !kept[nd]) { residual = true; continue; }
      if (g->last[nd] != s) {
        g->last[nd] = s;
        g->cum[nd] = wadd(g->cum[nd], w);
      }
      if (edges && parent != NONE && nd != parent && g->inlinable[nd]) {
        bool inl = k != cnt - 1;        /* the child is an inlined line of its location */
        uint32_t e;
        if (!edge_get(g, parent, nd, inl, &e)) return false;
        if (g->elast[e] != s) {
          g->elast[e] = s;
          g->ew[e] = wadd(g->ew[e], w);
          if (!inl) g->einl[e] = 0;
        }
      }
      parent = nd;
      residual = false;
    }
  }
  if (parent != NONE && !residual) g->flat[parent] = wadd(g->flat[parent], w);
  return true;
}

/* One graph build over the weighed stacks (pprof's newGraph with KeptNodes). */
static bool graph_build(graph *g, const uint8_t *kept, bool edges) {
  const pgo_profile *p = g->p;
  size_t nn = g->nnodes ? g->nnodes : 1, ns = pgo_profile_nstacks(p);
  if (!g->flat) {
    g->flat = malloc(nn * sizeof *g->flat);
    g->cum = malloc(nn * sizeof *g->cum);
    g->last = malloc(nn * sizeof *g->last);
    if (!g->flat || !g->cum || !g->last) return false;
  }
  memset(g->flat, 0, nn * sizeof *g->flat);
  memset(g->cum, 0, nn * sizeof *g->cum);
  memset(g->last, 0, nn * sizeof *g->last);
  pgo_u64map_free(&g->emap);
  g->nedges = 0;
  for (size_t s = 1; s < ns; s++) {
    if (!g->snz[s]) continue;
    size_t n;
    const uint32_t *locs = pgo_stack_locations(p, (uint32_t)s, &g->locbuf, &g->cap_locbuf, &n);
    if (!locs || !graph_add_stack(g, (uint32_t)s, locs, n, g->sw[s], kept, edges)) return false;
  }
  return true;
}

/* ---- printable names ------------------------------------------------------------------ */

static bool names_put(graph *g, const char *s, size_t n) {
  if (!PGO_RESERVE(g->names, g->names_cap, g->names_len + n + 1)) return false;
  memcpy(g->names + g->names_len, s, n);
  g->names_len += n;
  g->names[g->names_len] = 0;
  return true;
}

/* pprof's NodeInfo.PrintableName: address, name, then file:line, file, [binary] or
 * <unknown>, joined by single spaces. */
static bool graph_names(graph *g) {
  size_t nn = g->nnodes ? g->nnodes : 1;
  g->name_off = malloc(nn * sizeof *g->name_off);
  g->name_len = malloc(nn * sizeof *g->name_len);
  if (!g->name_off || !g->name_len) return false;
  for (size_t n = 0; n < g->nnodes; n++) {
    const node_key *k = &g->keys[n];
    size_t start = g->names_len;
    bool sep = false, ok = true;
    char num[64];
    g->name_off[n] = start;
    if (k->address) {
      snprintf(num, sizeof num, "%016" PRIx64, k->address);
      ok = names_put(g, num, strlen(num));
      sep = true;
    }
    uint32_t nlen = pgo_strlen(&g->strs, k->name), flen = pgo_strlen(&g->strs, k->file);
    if (ok && nlen) {
      ok = (!sep || names_put(g, " ", 1)) && names_put(g, pgo_str(&g->strs, k->name), nlen);
      sep = true;
    }
    if (ok && k->lineno) {
      ok = (!sep || names_put(g, " ", 1)) && names_put(g, pgo_str(&g->strs, k->file), flen);
      if (k->column) snprintf(num, sizeof num, ":%" PRId64 ":%" PRId64, k->lineno, k->column);
      else snprintf(num, sizeof num, ":%" PRId64, k->lineno);
      ok = ok && names_put(g, num, strlen(num));
    } else if (ok && flen) {
      ok = (!sep || names_put(g, " ", 1)) && names_put(g, pgo_str(&g->strs, k->file), flen);
    } else if (ok && nlen) {
      /* the function name says it all */
    } else if (ok && pgo_strlen(&g->strs, k->objfile)) {
      const char *b;
      size_t blen;
      path_base(pgo_str(&g->strs, k->objfile), pgo_strlen(&g->strs, k->objfile), &b, &blen);
      ok = (!sep || names_put(g, " ", 1)) && names_put(g, "[", 1) && names_put(g, b, blen) &&
           names_put(g, "]", 1);
    } else if (ok) {
      ok = (!sep || names_put(g, " ", 1)) && names_put(g, "<unknown>", 9);
    }
    if (!ok || !names_put(g, "", 0)) return false;
    g->name_len[n] = g->names_len - start;
    g->names_len++;                         /* keep the terminating NUL */
  }
  return true;
}

/* ---- order -------------------------------------------------------------------------- */

typedef struct {
  const graph *g;
  uint32_t n;
  bool cum_sort;
} sort_rec;

static int name_cmp(const graph *g, uint32_t a, uint32_t b) {
  size_t la = g->name_len[a], lb = g->name_len[b];
  int c = memcmp(g->names + g->name_off[a], g->names + g->name_off[b], la < lb ? la : lb);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

/* fmt.Sprint of pprof's NodeInfo {Name OrigName Address File StartLine Lineno Columnno
 * Objfile}, malloc'd; the last tie-breaker of pprof's node order. */
static char *node_info_string(const graph *g, uint32_t n) {
  const node_key *k = &g->keys[n];
  const char *name = pgo_str(&g->strs, k->name), *file = pgo_str(&g->strs, k->file),
             *obj = pgo_str(&g->strs, k->objfile);
  size_t len = strlen(name) + strlen(file) + strlen(obj) + 128;
  char *s = malloc(len);
  if (s)
    snprintf(s, len, "{%s  %" PRIu64 " %s %" PRId64 " %" PRId64 " %" PRId64 " %s}", name,
             k->address, file, k->start_line, k->lineno, k->column, obj);
  return s;
}

static int info_cmp(const graph *g, uint32_t a, uint32_t b) {
  char *sa = node_info_string(g, a), *sb = node_info_string(g, b);
  int c = (sa && sb) ? strcmp(sa, sb) : (a < b ? -1 : a > b);
  free(sa);
  free(sb);
  return c;
}

/* pprof's FlatNameOrder / CumNameOrder: |flat| (|cum|) descending, printable name,
 * |cum| (|flat|) descending, then the NodeInfo string. */
static int sort_cmp(const void *va, const void *vb) {
  const sort_rec *ra = va, *rb = vb;
  const graph *g = ra->g;
  uint32_t a = ra->n, b = rb->n;
  uint64_t fa = mag(g->flat[a]), fb = mag(g->flat[b]), ca = mag(g->cum[a]), cb = mag(g->cum[b]);
  uint64_t k1a = ra->cum_sort ? ca : fa, k1b = ra->cum_sort ? cb : fb;
  uint64_t k2a = ra->cum_sort ? fa : ca, k2b = ra->cum_sort ? fb : cb;
  if (k1a != k1b) return k1a > k1b ? -1 : 1;
  int c = name_cmp(g, a, b);
  if (c) return c;
  if (k2a != k2b) return k2a > k2b ? -1 : 1;
  return info_cmp(g, a, b);
}

/* The nodes of the current build (flat or cum nonzero), sorted. */
static sort_rec *graph_sorted(graph *g, bool cum_sort, size_t *count) {
  sort_rec *recs = malloc((g->nnodes ? g->nnodes : 1) * sizeof *recs);
  if (!recs) return NULL;
  size_t c = 0;
  for (size_t n = 0; n < g->nnodes; n++)
    if (g->flat[n] || g->cum[n]) recs[c++] = (sort_rec){ g, (uint32_t)n, cum_sort };
  qsort(recs, c, sizeof *recs, sort_cmp);
  *count = c;
  return recs;
}

/* ======================================================================================
 * top
 * ====================================================================================== */

void pgo_top_options_default(pgo_top_options *o) {
  memset(o, 0, sizeof *o);
  o->granularity = PGO_GRAN_FUNCTIONS;
  o->node_fraction = 0.005;
  o->edge_fraction = 0.001;
}

void pgo_top_result_free(pgo_top_result *r) {
  free(r->rows);
  free(r->names);
  memset(r, 0, sizeof *r);
}

static int64_t cutoff(int64_t total, double fraction) {
  return (int64_t)mag((int64_t)((double)total * fraction));
}

bool pgo_top(const pgo_profile *p, const pgo_top_options *o, pgo_top_result *r,
             pgo_error *err) {
  memset(r, 0, sizeof *r);
  if (p->nsample_types == 0 || o->sample_index >= p->nsample_types)
    return pgo_fail(err, "bad_sample_index", "sample index %zu is outside the profile's %zu "
                    "sample types", o->sample_index, p->nsample_types);
  graph g;
  memset(&g, 0, sizeof g);
  g.p = p;
  g.col = o->sample_index;
  gran_flags fl;
  gran_flags_for(o->granularity, o->noinlines, &fl);
  uint8_t *kept = NULL;
  sort_rec *recs = NULL;
  bool ok = pgo_strtab_init(&g.strs);
  if (ok) ok = graph_nodes(&g, &fl);
  if (!ok) goto nomem;
  if (!graph_weigh(&g, err)) goto fail;
  if (!graph_names(&g)) goto nomem;

  r->total = o->has_total ? o->total : pgo_report_total(p, o->sample_index);

  /* 1. the full graph and its cutoffs (relative to the sum of flat, as pprof) */
  if (!graph_build(&g, NULL, false)) goto nomem;
  size_t present = 0;
  int64_t flat_total = 0;
  for (size_t n = 0; n < g.nnodes; n++) {
    if (g.flat[n] || g.cum[n]) present++;
    flat_total = wadd(flat_total, g.flat[n]);
  }
  r->graph_nodes = present;
  r->flat_total = flat_total;
  r->node_cutoff = cutoff(flat_total, o->node_fraction);
  r->edge_cutoff = cutoff(flat_total, o->edge_fraction);
  kept = calloc(g.nnodes ? g.nnodes : 1, 1);
  if (!kept) goto nomem;
  const uint8_t *use = NULL;

  /* 2. drop nodes whose |cum| is under the node cutoff. pprof rebuilds the graph with
   * the survivors; a kept node's flat and cum do not change in that rebuild (both only
   * depend on where the node itself occurs), so the full build's values serve for the
   * order below and only the final build (edges) needs the kept set. */
  size_t nk = 0;
  for (size_t n = 0; n < g.nnodes; n++) {
    kept[n] = (g.flat[n] || g.cum[n]) &&
              (r->node_cutoff <= 0 || mag(g.cum[n]) >= (uint64_t)r->node_cutoff);
    nk += kept[n];
  }
  if (nk != present) {
    r->dropped_nodes = present - nk;
    use = kept;
  }
  r->node_count = nk;

  /* 3. keep the first node_count nodes in report order */
  if (o->node_count > 0 && o->node_count < nk) {
    size_t c;
    recs = graph_sorted(&g, o->cum_sort, &c);
    if (!recs) goto nomem;
    size_t taken = 0;                        /* among the survivors of step 2 */
    for (size_t i = 0; i < c && taken < o->node_count; i++) {
      if (!kept[recs[i].n]) continue;
      kept[recs[i].n] = 2;
      taken++;
    }
    for (size_t n = 0; n < g.nnodes; n++) kept[n] = kept[n] == 2;
    use = kept;
    free(recs);
    recs = NULL;
  }

  /* 4. the final graph with its edges, sorted */
  if (!graph_build(&g, use, true)) goto nomem;
  size_t nrows;
  recs = graph_sorted(&g, o->cum_sort, &nrows);
  if (!recs) goto nomem;
  uint8_t *inl = kept;                       /* reuse: bit 1 inline edge in, bit 2 other */
  memset(inl, 0, g.nnodes ? g.nnodes : 1);
  for (size_t e = 0; e < g.nedges; e++) {
    if (mag(g.ew[e]) < (uint64_t)r->edge_cutoff) continue;   /* trimmed low edges */
    inl[g.edst[e]] |= g.einl[e] ? 1 : 2;
  }
  r->rows = malloc((nrows ? nrows : 1) * sizeof *r->rows);
  if (!r->rows) goto nomem;
  for (size_t i = 0; i < nrows; i++) {
    uint32_t n = recs[i].n;
    pgo_top_row *row = &r->rows[i];
    row->name_len = g.name_len[n];
    row->name = g.names + g.name_off[n];      /* the buffer moves to r below, unchanged */
    row->flat = g.flat[n];
    row->cum = g.cum[n];
    row->inline_kind = inl[n] == 1 ? PGO_INLINE_ALL : inl[n] == 3 ? PGO_INLINE_PARTIAL
                                                                  : PGO_INLINE_NONE;
    r->flat_shown = wadd(r->flat_shown, row->flat);
  }
  r->nrows = nrows;
  r->names = g.names;
  g.names = NULL;
  free(recs);
  free(kept);
  graph_free(&g);
  return true;

nomem:
  pgo_fail(err, "nomem", "out of memory aggregating the profile");
fail:
  free(recs);
  free(kept);
  graph_free(&g);
  pgo_top_result_free(r);
  return false;
}

/* ======================================================================================
 * labels
 * ====================================================================================== */

/* pprof ignores a label with neither a string value, a number nor a unit. */
static bool label_is_numeric(const pgo_label *l) { return l->str == 0 && (l->num || l->num_unit); }
static bool label_is_string(const pgo_label *l) { return l->str != 0; }

bool pgo_num_label_units(const pgo_profile *p, pgo_num_units *u) {
  memset(u, 0, sizeof *u);
  size_t cap = 0;
  /* keys in order of first appearance; unit = first non-empty unit in sample order */
  uint32_t *unit_ids = NULL;
  size_t cap_units = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    const pgo_labelset *s = &p->labelsets[p->samples[i].labels];
    for (uint32_t k = 0; k < s->count; k++) {
      const pgo_label *l = &p->labels[s->start + k];
      if (!label_is_numeric(l)) continue;
      size_t j = 0;
      while (j < u->count && u->keys[j] != l->key) j++;
      if (j == u->count) {
        if (!PGO_RESERVE(u->keys, cap, u->count + 1) ||
            !PGO_RESERVE(unit_ids, cap_units, u->count + 1)) {
          free(unit_ids);
          pgo_num_units_free(u);
          return false;
        }
        u->keys[u->count] = l->key;
        unit_ids[u->count] = 0;
        u->count++;
      }
      if (unit_ids[j] == 0 && l->num_unit) unit_ids[j] = l->num_unit;
    }
  }
  u->units = malloc((u->count ? u->count : 1) * sizeof *u->units);
  if (!u->units) {
    free(unit_ids);
    pgo_num_units_free(u);
    return false;
  }
  for (size_t j = 0; j < u->count; j++) {
    const char *key = pgo_str(&p->strings, u->keys[j]);
    if (unit_ids[j]) u->units[j] = pgo_str(&p->strings, unit_ids[j]);
    else if (strcmp(key, "alignment") == 0 || strcmp(key, "request") == 0) u->units[j] = "bytes";
    else u->units[j] = key;
  }
  free(unit_ids);
  return true;
}

const char *pgo_num_units_get(const pgo_num_units *u, uint32_t key) {
  for (size_t j = 0; j < u->count; j++)
    if (u->keys[j] == key) return u->units[j];
  return NULL;
}

void pgo_num_units_free(pgo_num_units *u) {
  free(u->keys);
  free((void *)u->units);
  memset(u, 0, sizeof *u);
}

/* ======================================================================================
 * units
 * ====================================================================================== */

typedef struct { const char *name; const char *aliases[4]; double factor; } unit_def;
typedef struct { const unit_def *units; size_t n; unit_def dflt; } unit_family;

static const unit_def memory_units[] = {
  { "B", { "b", "byte" }, 1 },
  { "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
  { "MB", { "mb", "mbyte", "megabyte" }, 1048576.0 },
  { "GB", { "gb", "gbyte", "gigabyte" }, 1073741824.0 },
  { "TB", { "tb", "tbyte", "terabyte" }, 1099511627776.0 },
  { "PB", { "pb", "pbyte", "petabyte" }, 1125899906842624.0 },
};
static const unit_def time_units[] = {
  { "ns", { "ns", "nanosecond" }, 1 },
  { "us", { "\xce\xbcs", "us", "microsecond" }, 1e3 },
  { "ms", { "ms", "millisecond" }, 1e6 },
  { "s", { "s", "sec", "second" }, 1e9 },
  { "hrs", { "hour", "hr" }, 3.6e12 },
};
static const unit_def gcu_units[] = {
  { "n*GCU", { "nanogcu" }, 1e-9 }, { "u*GCU", { "microgcu" }, 1e-6 },
  { "m*GCU", { "milligcu" }, 1e-3 }, { "GCU", { "gcu" }, 1 },
  { "k*GCU", { "kilogcu" }, 1e3 }, { "M*GCU", { "megagcu" }, 1e6 },
  { "G*GCU", { "gigagcu" }, 1e9 }, { "T*GCU", { "teragcu" }, 1e12 },
  { "P*GCU", { "petagcu" }, 1e15 },
};
static const unit_family unit_families[] = {
  { memory_units, sizeof memory_units / sizeof *memory_units, { "B", { "b", "byte" }, 1 } },
  { time_units, sizeof time_units / sizeof *time_units, { "s", { NULL }, 1e9 } },
  { gcu_units, sizeof gcu_units / sizeof *gcu_units, { "GCU", { NULL }, 1 } },
};

/* measurement's sniffUnit: lower-case, drop one trailing "s" when longer than 2 bytes. */
static const unit_def *unit_sniff(const unit_family *fam, const char *u) {
  char low[64];
  size_t n = strlen(u);
  if (n >= sizeof low) return NULL;
  for (size_t i = 0; i < n; i++) low[i] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
  low[n] = 0;
  if (n > 2 && low[n - 1] == 's') low[--n] = 0;
  for (size_t i = 0; i < fam->n; i++)
    for (size_t j = 0; j < 4 && fam->units[i].aliases[j]; j++)
      if (strcmp(fam->units[i].aliases[j], low) == 0) return &fam->units[i];
  return NULL;
}

void pgo_unit_scale(int64_t value, const char *from, const char *to, double *v,
                    const char **unit) {
  if (value < 0 && value != INT64_MIN) {
    pgo_unit_scale(-value, from, to, v, unit);
    *v = -*v;
    return;
  }
  bool autoscale = strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0;
  for (size_t i = 0; i < sizeof unit_families / sizeof *unit_families; i++) {
    const unit_family *fam = &unit_families[i];
    const unit_def *fu = unit_sniff(fam, from);
    if (!fu) continue;
    double x = (double)value * fu->factor;
    if (autoscale) {
      double f = 0;
      const char *name = NULL;
      for (size_t j = 0; j < fam->n; j++)
        if (fam->units[j].factor >= f && x / fam->units[j].factor >= 1.0) {
          f = fam->units[j].factor;
          name = fam->units[j].name;
        }
      if (name) { *v = x / f; *unit = name; return; }
      *v = x / fam->dflt.factor;
      *unit = fam->dflt.name;
      return;
    }
    const unit_def *tu = unit_sniff(fam, to);
    if (!tu) tu = &fam->dflt;
    *v = x / tu->factor;
    *unit = tu->name;
    return;
  }
  *v = (double)value;
  if (strcmp(to, "count") == 0 || strcmp(to, "sample") == 0 || strcmp(to, "unit") == 0 || autoscale)
    *unit = "";
  else
    *unit = to;
}

void pgo_scaled_label(int64_t value, const char *from, const char *to, char *buf, size_t n) {
  double v;
  const char *u;
  pgo_unit_scale(value, from, to, &v, &u);
  char num[400];
  snprintf(num, sizeof num, "%.2f", v);
  size_t len = strlen(num);
  if (len >= 3 && strcmp(num + len - 3, ".00") == 0) num[len -= 3] = 0;
  if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) snprintf(buf, n, "0");
  else snprintf(buf, n, "%s%s", num, u);
}

/* ======================================================================================
 * label totals
 * ====================================================================================== */

typedef struct {
  uint32_t key;
  bool numeric;
  uint32_t str;
  int64_t num;
  int64_t total;
} raw_tag;

static int raw_tag_cmp(const void *va, const void *vb) {
  const raw_tag *a = va, *b = vb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  if (a->numeric != b->numeric) return a->numeric ? 1 : -1;
  if (a->str != b->str) return a->str < b->str ? -1 : 1;
  if (a->num != b->num) return a->num < b->num ? -1 : 1;
  return 0;
}

static int bytes_cmp(const char *a, size_t la, const char *b, size_t lb) {
  int c = memcmp(a, b, la < lb ? la : lb);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

typedef struct { const pgo_profile *p; pgo_tag_entry e; } tag_rec;

/* by key name, then value (to merge numbers that print the same) */
static int tag_name_cmp(const void *va, const void *vb) {
  const tag_rec *a = va, *b = vb;
  const pgo_strtab *t = &a->p->strings;
  int c = bytes_cmp(pgo_str(t, a->e.key), pgo_strlen(t, a->e.key), pgo_str(t, b->e.key),
                    pgo_strlen(t, b->e.key));
  if (c) return c;
  return bytes_cmp(a->e.value, a->e.value_len, b->e.value, b->e.value_len);
}

/* pprof's order: key name, then |total| descending, then value */
static int tag_order_cmp(const void *va, const void *vb) {
  const tag_rec *a = va, *b = vb;
  const pgo_strtab *t = &a->p->strings;
  int c = bytes_cmp(pgo_str(t, a->e.key), pgo_strlen(t, a->e.key), pgo_str(t, b->e.key),
                    pgo_strlen(t, b->e.key));
  if (c) return c;
  uint64_t ma = mag(a->e.total), mb = mag(b->e.total);
  if (ma != mb) return ma > mb ? -1 : 1;
  return bytes_cmp(a->e.value, a->e.value_len, b->e.value, b->e.value_len);
}

void pgo_tags_result_free(pgo_tags_result *r) {
  free(r->entries);
  free(r->labels);
  memset(r, 0, sizeof *r);
}

bool pgo_tags(const pgo_profile *p, size_t index, pgo_tags_result *r, pgo_error *err) {
  memset(r, 0, sizeof *r);
  size_t nt = p->nsample_types;
  if (index >= nt)
    return pgo_fail(err, "bad_sample_index", "sample index %zu is outside the profile's %zu "
                    "sample types", index, nt);
  size_t nls = p->nlabelsets ? p->nlabelsets : 1;
  int64_t *lw = calloc(nls, sizeof *lw);
  uint8_t *used = calloc(nls, 1);
  raw_tag *raw = NULL;
  tag_rec *recs = NULL;
  size_t nraw = 0, cap = 0;
  pgo_num_units units;
  memset(&units, 0, sizeof units);
  if (!lw || !used || !pgo_num_label_units(p, &units)) goto nomem;
  for (size_t i = 0; i < p->nsamples; i++) {
    uint32_t ls = p->samples[i].labels;
    lw[ls] = wadd(lw[ls], p->values[i * nt + index]);
    used[ls] = 1;
  }
  /* per distinct (key, value): sum over the label sets carrying it */
  for (size_t ls = 1; ls < p->nlabelsets; ls++) {
    if (!used[ls]) continue;
    const pgo_labelset *s = &p->labelsets[ls];
    for (uint32_t k = 0; k < s->count; k++) {
      const pgo_label *l = &p->labels[s->start + k];
      bool num = label_is_numeric(l);
      if (!num && !label_is_string(l)) continue;
      if (!PGO_RESERVE(raw, cap, nraw + 1)) goto nomem;
      raw[nraw++] = (raw_tag){ l->key, num, num ? 0 : l->str, num ? l->num : 0, lw[ls] };
    }
  }
  if (nraw > 1) qsort(raw, nraw, sizeof *raw, raw_tag_cmp);
  size_t w = 0;
  for (size_t i = 0; i < nraw; i++) {
    if (w > 0 && raw_tag_cmp(&raw[w - 1], &raw[i]) == 0)
      raw[w - 1].total = wadd(raw[w - 1].total, raw[i].total);
    else
      raw[w++] = raw[i];
  }
  nraw = w;
  /* the printed values: numbers with their key's unit, auto-scaled */
  size_t nnum = 0;
  for (size_t i = 0; i < nraw; i++) nnum += raw[i].numeric;
  r->labels = malloc(nnum * 64 + 1);
  recs = malloc((nraw ? nraw : 1) * sizeof *recs);
  if (!r->labels || !recs) goto nomem;
  size_t off = 0;
  for (size_t i = 0; i < nraw; i++) {
    tag_rec *t = &recs[i];
    t->p = p;
    t->e.key = raw[i].key;
    t->e.numeric = raw[i].numeric;
    t->e.total = raw[i].total;
    if (raw[i].numeric) {
      const char *u = pgo_num_units_get(&units, raw[i].key);
      pgo_scaled_label(raw[i].num, u ? u : "", "minimum", r->labels + off, 64);
      t->e.value = r->labels + off;
      t->e.value_len = strlen(t->e.value);
      off += 64;
    } else {
      t->e.value = pgo_str(&p->strings, raw[i].str);
      t->e.value_len = pgo_strlen(&p->strings, raw[i].str);
    }
  }
  qsort(recs, nraw, sizeof *recs, tag_name_cmp);
  w = 0;
  for (size_t i = 0; i < nraw; i++) {
    if (w > 0 && tag_name_cmp(&recs[w - 1], &recs[i]) == 0)
      recs[w - 1].e.total = wadd(recs[w - 1].e.total, recs[i].e.total);
    else
      recs[w++] = recs[i];
  }
  qsort(recs, w, sizeof *recs, tag_order_cmp);
  r->entries = malloc((w ? w : 1) * sizeof *r->entries);
  if (!r->entries) goto nomem;
  for (size_t i = 0; i < w; i++) r->entries[i] = recs[i].e;
  r->count = w;
  free(recs);
  free(raw);
  free(lw);
  free(used);
  pgo_num_units_free(&units);
  return true;
nomem:
  free(recs);
  free(raw);
  free(lw);
  free(used);
  pgo_num_units_free(&units);
  pgo_tags_result_free(r);
  return pgo_fail(err, "nomem", "out of memory summing labels");
}
