/* loaddriver.h: a closed-loop HTTP load generator on one libcurl multi handle, and the
 * latency histogram it records into. No Lua here.
 *
 * pgo_load_run() keeps `connections` requests in flight on as many keep-alive
 * connections (one libcurl easy handle per connection, all on one multi handle), until `max_requests` have been sent or `duration` seconds
 * have passed, whichever comes first. Requests still in flight at the deadline are
 * abandoned and not counted, as wrk does. Every completed response (any status) is a
 * request; its latency (from the handle's submission to the end of the body) goes into
 * the histogram. Failures are counted by kind (PGO_LOAD_ERR_*), never fatal: a closed
 * port gives a run of connect errors, not a failed call.
 *
 * The histogram is log-linear, the idea of HdrHistogram: values in nanoseconds below
 * 2^PGO_HIST_SUB_BITS are exact; above, each power-of-two range [2^e, 2^(e+1)) is split
 * into 2^PGO_HIST_SUB_BITS equal buckets. A bucket's width is at most 2^-SUB_BITS of its
 * lower bound, and a quantile is reported as the bucket's midpoint (clamped to the exact
 * minimum and maximum), so every reported quantile is within 2^-(SUB_BITS+1) = 1/256
 * (0.39%) of a latency actually observed at that rank. Memory is fixed
 * (PGO_HIST_BUCKETS counters), whatever the number of requests. */
#ifndef PGOLUA_LOADDRIVER_H
#define PGOLUA_LOADDRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

/* ---- histogram --------------------------------------------------------------------------- */

#define PGO_HIST_SUB_BITS 7                     /* 128 buckets per power of two */
#define PGO_HIST_SUB (1u << PGO_HIST_SUB_BITS)
#define PGO_HIST_MAX_EXP 42                     /* values up to 2^42 ns (73 min) */
#define PGO_HIST_BUCKETS ((PGO_HIST_MAX_EXP - PGO_HIST_SUB_BITS + 1) * PGO_HIST_SUB)

typedef struct pgo_hist {
  uint64_t count;              /* values recorded */
  uint64_t min, max;           /* exact, ns (min = UINT64_MAX when empty) */
  double sum;                  /* exact sum in ns (for the mean) */
  uint64_t buckets[PGO_HIST_BUCKETS];
} pgo_hist;

void pgo_hist_init(pgo_hist *h);
/* Record one value in nanoseconds (values >= 2^PGO_HIST_MAX_EXP land in the last bucket;
 * min/max/sum stay exact). */
void pgo_hist_record(pgo_hist *h, uint64_t ns);
/* The value at quantile q (0..1) by nearest rank, in ns; 0 when empty. */
double pgo_hist_quantile(const pgo_hist *h, double q);
/* Add b's counts into a. */
void pgo_hist_merge(pgo_hist *a, const pgo_hist *b);

/* ---- the load run ------------------------------------------------------------------------ */

/* Kinds of failed requests. */
enum {
  PGO_LOAD_ERR_CONNECT,        /* connection refused / unreachable */
  PGO_LOAD_ERR_TIMEOUT,        /* connect or request timeout */
  PGO_LOAD_ERR_DNS,            /* the host name did not resolve */
  PGO_LOAD_ERR_HTTP_4XX,       /* a response with status 400-499 (counted as a request too) */
  PGO_LOAD_ERR_HTTP_5XX,       /* a response with status >= 500 (counted as a request too) */
  PGO_LOAD_ERR_TRUNCATED,      /* the connection closed in the middle of the body */
  PGO_LOAD_ERR_NETWORK,        /* reset, empty reply, send/receive failure */
  PGO_LOAD_ERR_TOO_LARGE,      /* body over the size cap */
  PGO_LOAD_ERR_OTHER,
  PGO_LOAD_NERR
};
/* "connect", "timeout", "dns", "http_4xx", "http_5xx", "truncated", "network",
 * "too_large", "other". */
const char *pgo_load_error_name(int kind);

/* How requests are made (see src/net/loaddriver.c). */
enum {
  PGO_LOAD_ENGINE_RAW,         /* libcurl opens the connections (CONNECT_ONLY on the multi
                                  handle); requests and responses go over them with
                                  curl_easy_send/recv, framed by src/net/http1.c: fast */
  PGO_LOAD_ENGINE_CURL         /* libcurl does every request (full HTTP semantics) */
};

typedef struct pgo_load_opts {
  const char *url;             /* http:// or https:// */
  int engine;                  /* PGO_LOAD_ENGINE_RAW (0, the default) or _CURL */
  const char *method;          /* NULL = GET (POST when body is set) */
  const void *body;            /* request body or NULL */
  size_t body_len;
  const char *const *headers;  /* "Name: value" lines (no CR/LF) */
  size_t nheaders;
  size_t connections;          /* concurrent connections, >= 1 */
  uint64_t max_requests;       /* stop after this many requests sent; 0 = no limit */
  double duration;             /* stop after this many seconds; 0 = no limit (then
                                  max_requests must be set) */
  double timeout;              /* per request, seconds; 0 = 30 */
  /* Polled about every 100 ms; true = stop now (in-flight requests are abandoned).
   * NULL = never. */
  bool (*should_stop)(void *ud);
  void *ud;
} pgo_load_opts;

typedef struct pgo_load_result {
  uint64_t requests;           /* completed responses, any status */
  uint64_t sent;               /* requests started (completed, failed or abandoned) */
  uint64_t abandoned;          /* in flight at the deadline, not counted */
  uint64_t bytes;              /* response body bytes */
  uint64_t header_bytes;       /* response header bytes */
  uint64_t errors[PGO_LOAD_NERR];
  uint64_t status[6];          /* responses by status class: [1] 1xx ... [5] 5xx, [0] other */
  double duration;             /* seconds from the first request to the end of the run */
  bool stopped;                /* should_stop() ended the run */
  pgo_hist latency;            /* of the completed responses */
} pgo_load_result;

/* Run the load (see the top of this file). False with err only when the run cannot start
 * or cannot go on: "bad_url", "invalid" (options), "nomem", "network" (libcurl failed). */
bool pgo_load_run(const pgo_load_opts *o, pgo_load_result *r, pgo_error *err);

#endif
