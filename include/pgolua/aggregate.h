/* aggregate.h: flat/cum aggregation of a profile into pprof's report graph (the numbers
 * of `pprof -top`), report totals, the value column chooser and label (tag) totals.
 *
 * The graph follows google/pprof's internal/graph and internal/report as vendored in
 * Go 1.23 (shared/docs/pprof-pgo-reference.md, section c): nodes are identified by what
 * the granularity keeps of each line (function name, file, line, address), a node's cum
 * counts each sample once however often the node occurs in its stack, the flat goes to
 * the innermost frame of the leaf location, and trimming rebuilds the graph from the
 * samples with only the kept nodes, exactly as pprof does. No Lua here. */
#ifndef PGOLUA_AGGREGATE_H
#define PGOLUA_AGGREGATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"
#include "pgolua/profile.h"

/* ---- choosing the value column --------------------------------------------------------- */

/* pprof's -sample_index: NULL or "" = the default sample type (else the last column);
 * a decimal number = that 0-based column; otherwise a sample type name (an "inuse_"
 * prefix is tolerated, as pprof does). False with err code "bad_sample_index" when the
 * profile has no such column (the message lists the available types). */
bool pgo_sample_index_by_name(const pgo_profile *p, const char *name, size_t *index,
                              pgo_error *err);

/* The report total of column `index`: the sum of |value| over all samples, or over the
 * samples labelled pprof::base=true when there are any (a -diff_base profile). */
int64_t pgo_report_total(const pgo_profile *p, size_t index);

/* ---- the top table ---------------------------------------------------------------------- */

typedef enum {
  PGO_GRAN_FUNCTIONS = 0,       /* pprof's default: one node per function name */
  PGO_GRAN_FILEFUNCTIONS,       /* function name and file */
  PGO_GRAN_FILES,               /* file (pprof keys these by function start line too) */
  PGO_GRAN_LINES,               /* function, file and line */
  PGO_GRAN_ADDRESSES            /* address, function, file and line */
} pgo_granularity;

typedef struct pgo_top_options {
  size_t sample_index;          /* value column */
  pgo_granularity granularity;
  bool noinlines;               /* keep only the physical (last) line of each location */
  bool cum_sort;                /* sort by cum instead of flat */
  double node_fraction;         /* pprof default 0.005; 0 = no node cutoff */
  double edge_fraction;         /* pprof default 0.001 (only changes "(inline)" marks) */
  size_t node_count;            /* 0 = every node (pprof -top on the command line) */
  bool has_total;               /* use `total` (e.g. the total before filters) */
  int64_t total;
} pgo_top_options;

void pgo_top_options_default(pgo_top_options *o);

enum { PGO_INLINE_NONE = 0, PGO_INLINE_ALL = 1, PGO_INLINE_PARTIAL = 2 };

typedef struct pgo_top_row {
  const char *name;             /* pprof's printable name; owned by the result */
  size_t name_len;
  int64_t flat, cum;
  int inline_kind;              /* PGO_INLINE_*: every / some incoming edges inlined */
} pgo_top_row;

typedef struct pgo_top_result {
  pgo_top_row *rows;            /* the nodes of the trimmed graph, in pprof's order */
  size_t nrows;
  int64_t total;                /* report total (percentages are relative to it) */
  int64_t flat_total;           /* sum of flat over the untrimmed graph (cutoff base) */
  int64_t flat_shown;           /* sum of flat over the rows */
  int64_t node_cutoff, edge_cutoff;
  size_t dropped_nodes;         /* nodes under the node cutoff */
  size_t node_count;            /* nodes left after the cutoff, before node_count */
  size_t graph_nodes;           /* nodes of the untrimmed graph */
  char *names;                  /* storage of the row names */
} pgo_top_result;

/* Aggregate p into pprof's trimmed graph. On failure (out of memory, a bad column)
 * returns false and fills err; r is then empty. Free r with pgo_top_result_free. */
bool pgo_top(const pgo_profile *p, const pgo_top_options *o, pgo_top_result *r,
             pgo_error *err);
void pgo_top_result_free(pgo_top_result *r);

/* ---- units (pprof's internal/measurement) -------------------------------------------- */

/* Convert value from unit `from` to unit `to` ("minimum"/"auto" pick the largest unit not
 * above the value) as pprof's measurement.Scale: units are lower-cased and lose one
 * trailing "s" when longer than 2 characters; memory (B..PB, powers of 1024), time
 * (ns..hrs) and GCU families. *unit gets the canonical name ("ms", "kB"), or "" for
 * count-like units, or `to` itself for unknown units. */
void pgo_unit_scale(int64_t value, const char *from, const char *to, double *v,
                    const char **unit);
/* measurement.ScaledLabel: "%.2f" of the scaled value without a trailing ".00", plus the
 * unit; "0" (no unit) when that prints as 0. Writes at most n bytes (NUL included). */
void pgo_scaled_label(int64_t value, const char *from, const char *to, char *buf, size_t n);

/* ---- label totals (pprof -tags) -------------------------------------------------------- */

/* The unit of each numeric label key, as pprof decides it: the first non-empty
 * num_unit met in sample order, else "bytes" for the keys "alignment" and "request",
 * else the key itself. */
typedef struct pgo_num_units {
  uint32_t *keys;               /* string ids of numeric label keys */
  const char **units;           /* NUL-terminated unit per key (borrowed strings) */
  size_t count;
} pgo_num_units;

bool pgo_num_label_units(const pgo_profile *p, pgo_num_units *u);
/* The unit of key (a string id), or NULL when the key has no numeric values. */
const char *pgo_num_units_get(const pgo_num_units *u, uint32_t key);
void pgo_num_units_free(pgo_num_units *u);

typedef struct pgo_tag_entry {
  uint32_t key;                 /* string id */
  bool numeric;
  const char *value;            /* the value as pprof prints it: the string, or the
                                   number scaled with the key's unit ("1kB") */
  size_t value_len;
  int64_t total;                /* sum of the chosen column over samples carrying it */
} pgo_tag_entry;

typedef struct pgo_tags_result {
  pgo_tag_entry *entries;       /* in pprof's order: keys by name, then values by
                                   |total| descending, then by value */
  size_t count;
  char *labels;                 /* storage of the formatted numeric values */
} pgo_tags_result;

/* Sum column `index` per (label key, value) over all samples; a sample carrying a value
 * twice counts twice (as pprof does). Numeric values that print the same are one entry.
 * The entries borrow strings from p: keep p alive while using them. */
bool pgo_tags(const pgo_profile *p, size_t index, pgo_tags_result *r, pgo_error *err);
void pgo_tags_result_free(pgo_tags_result *r);

#endif
