/* pgograph.h: the Go compiler's view of a profile (Go 1.21-1.23 PGO).
 *
 * Everything here follows shared/docs/pprof-pgo-reference.md section e and the Go 1.23
 * sources it names (cmd/internal/pgo/pprof.go, internal/profile/graph.go,
 * cmd/compile/internal/inline/inl.go, cmd/compile/internal/devirtualize/pgo.go):
 *
 *   - weights come from the first sample type that is exactly samples/count or
 *     cpu/nanoseconds;
 *   - a sample contributes only through its two leaf locations (location[1], the caller,
 *     then location[0], the leaf), each expanded into its lines from the physical
 *     function (last line) to the innermost inlined one; consecutive graph nodes form an
 *     edge, once per sample per node pair, never a node to itself;
 *   - a graph node is (function name, address, start line, line): two frames at different
 *     addresses are different nodes even on the same line;
 *   - a named edge is (caller name, callee name, caller line - caller start line), its
 *     weight the sum of the node edges that map to it; nodes whose cum and flat are both
 *     zero are dropped with their edges; TotalWeight is the sum of all named weights;
 *   - order (ByWeight): weight descending, caller, callee (byte order), offset ascending.
 *
 * No Lua here. */
#ifndef PGOLUA_PGOGRAPH_H
#define PGOLUA_PGOGRAPH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"
#include "pgolua/profile.h"

/* ---- call edges ----------------------------------------------------------------------- */

typedef struct pgo_call_edge {
  uint32_t caller, callee;      /* string ids in the profile ("" for a frame without function) */
  int64_t offset;               /* call line - caller's Function.start_line */
  int64_t weight;
} pgo_call_edge;

typedef struct pgo_call_edges {
  pgo_call_edge *edges;         /* ByWeight order */
  size_t n;
  int64_t total;                /* the compiler's TotalWeight: sum of all weights */
  long value_index;             /* sample column read; -1 when the profile had no samples */
} pgo_call_edges;

/* The column the compiler reads: the first sample type that is exactly samples/count or
 * cpu/nanoseconds, or -1. */
long pgo_pgo_value_index(const pgo_profile *p);

/* Extract the named call edges exactly as `go tool preprofile` does. A profile the
 * compiler treats as empty (no samples, or total weight 0) gives n = 0, total = 0.
 * Fails with code "not_cpu" (no usable sample type), "missing_start_line" (no node with a
 * start line; Go's message) or "nomem". Cost: one pass over the samples, then graph work
 * per distinct leaf frame. */
bool pgo_call_edges_build(const pgo_profile *p, pgo_call_edges *out, pgo_error *err);
void pgo_call_edges_free(pgo_call_edges *e);

/* True when both lists hold the same edges (names compared as bytes) in the same order
 * with the same total. */
bool pgo_call_edges_equal(const pgo_profile *a, const pgo_call_edges *ea,
                          const pgo_profile *b, const pgo_call_edges *eb);

/* The `GO PREPROFILE V1` text of the edges (malloc'd, not NUL-terminated). */
bool pgo_preprofile_text(const pgo_profile *p, const pgo_call_edges *e, char **text,
                         size_t *len, pgo_error *err);

/* ---- hot call sites (inline.hotNodesFromCDF) ---------------------------------------------- */

/* Number of hot edges (a prefix of e->edges) for a CDF threshold in percent: the walk stops
 * at the first edge whose running sum makes (cum / total) * 100 exceed cdf, that edge
 * included; every edge when it never does. *threshold_pct gets that last edge's
 * (weight / total) * 100, or 0 when the walk never stopped (as the compiler prints it). */
size_t pgo_hot_cdf(const pgo_call_edges *e, double cdf, double *threshold_pct);

/* Go's fmt %v of a float64: strconv 'g' with precision -1, i.e. the shortest digits that
 * read back to v, in exponent form (1e+06, 1.234e-05) when the decimal exponent is < -4
 * or >= 6. Writes a NUL-terminated string of at most 31 characters; returns its length. */
size_t pgo_format_go_float(double v, char buf[32]);

/* ---- call sites and devirtualization ------------------------------------------------------ */

typedef enum {
  PGO_FN_FUNCTION = 0,          /* pkg.F, pkg.F[...], pkg.init.0, pkg.T.M-fm */
  PGO_FN_METHOD,                /* pkg.(*T).M, pkg.T.M */
  PGO_FN_CLOSURE                /* pkg.F.func1, .func1.2, .gowrap1, .deferwrap1, -range1 */
} pgo_func_kind;

/* Classify a linker symbol name (reference e.9) by its spelling only. */
pgo_func_kind pgo_classify_func_name(const char *name, size_t len);

typedef struct pgo_callsite {
  uint32_t caller;              /* string id */
  int64_t offset;
  int64_t weight;               /* sum of the callees' weights */
  uint32_t first, count;        /* callees: edge indices order[first .. first + count) */
} pgo_callsite;

typedef struct pgo_callsites {
  pgo_callsite *sites;          /* weight descending, then caller, offset */
  size_t n;
  uint32_t *order;              /* indices into the edge list; per site hottest first
                                   (weight descending, then callee name) */
} pgo_callsites;

/* Group edges by call site (caller, offset); keep sites with at least min_callees callees. */
bool pgo_callsites_build(const pgo_profile *p, const pgo_call_edges *e, size_t min_callees,
                         pgo_callsites *out, pgo_error *err);
void pgo_callsites_free(pgo_callsites *c);

/* ---- compaction ----------------------------------------------------------------------------- */

typedef struct pgo_compact_info {
  int level;                    /* 0: innermost leaf lines rewritten to 0 and addresses only
                                   where needed; 1: line numbers kept; 2: every address kept */
  size_t addresses;             /* locations of the result that carry an address */
  uint32_t frames;              /* leaf frames kept per sample, 0 = all */
} pgo_compact_info;

/* A new profile holding only what the compiler reads: one sample type (the compiler's
 * column), samples with a nonzero value cut to their `frames` leaf locations (0 = all;
 * the compiler reads 2, so any frames >= 2 keeps every edge) and merged when equal (a
 * positive and a negative sample are never merged), function names and start lines, the
 * line numbers the compiler uses (the innermost line of a location that is only ever a
 * leaf becomes 0), addresses only where two graph nodes would otherwise merge; no
 * labels, mappings, columns, file names, system names, comments. The result is checked:
 * its call edges equal the original's (see the levels in pgograph.c), or this fails with
 * "internal". Fails like pgo_call_edges_build on profiles the compiler rejects;
 * frames == 1 fails with "bad_option". */
pgo_profile *pgo_compact_for_pgo(const pgo_profile *p, uint32_t frames, pgo_compact_info *info,
                                 pgo_error *err);

#endif
