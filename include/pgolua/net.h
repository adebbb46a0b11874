/* net.h: HTTP over libcurl for profile capture, fleet capture and the load driver.
 * No Lua here.
 *
 * Three layers, each usable on its own:
 *
 *   1. pgo_http_easy_setup(): the options every pgolua transfer shares: user agent
 *      "pgolua/<version>", connect and total timeouts, redirects limited in number and to
 *      http/https, TLS verification on, a body size cap, request headers. The load
 *      driver calls it on its own easy handles and installs its own callbacks.
 *   2. pgo_http_xfer + pgo_http_run(): one transfer's request, body sink (a file
 *      descriptor or memory), response head and outcome; and a driver that runs many on
 *      one curl multi handle with bounded concurrency, retries with backoff (connection
 *      failures and 5xx, never 4xx), a progress callback and Ctrl-C.
 *   3. pgo_http_request() (one request; body to memory or to a new temporary file) and
 *      pgo_fleet_capture() (src/net/fleet.c: many captures at once, each handed to the
 *      caller as it arrives, so a caller that merges as they come holds one at a time).
 *
 * Error codes (pgo_error.code) of a failed transfer:
 *   bad_url      the URL is malformed, has no host, or its scheme is not allowed
 *   redirect     too many redirects, or a redirect to a scheme other than http/https
 *   dns          the host name did not resolve                        (retried)
 *   connect      connection refused or unreachable                    (retried)
 *   timeout      connect timeout (retried) or total timeout (not retried)
 *   tls          certificate verification or TLS handshake failed
 *   http_status  the server answered with status >= 400 (5xx retried, 4xx not)
 *   too_large    the body is larger than max_bytes
 *   truncated    the connection closed in the middle of the body     (retried)
 *   network      any other transfer failure (reset, empty reply, ...) (retried)
 *   interrupted  Ctrl-C (SIGINT) or the progress callback stopped the run
 *   not_found, permission, no_space, io   the temporary file or a file:// source
 *   nomem        out of memory
 * Messages never contain the URL or any header (callers add a redacted URL). */
#ifndef PGOLUA_NET_H
#define PGOLUA_NET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "pgolua/core.h"

#define PGO_HTTP_DEFAULT_MAX_BYTES (256ull << 20)   /* 256 MiB */
#define PGO_HTTP_DEFAULT_CONNECT_MS 10000L
#define PGO_HTTP_HEAD_CAP 4096                       /* body bytes kept for messages */
#define PGO_HTTP_HEADERS_CAP 65536                   /* response header bytes kept */

/* ---- 1. easy-handle setup ------------------------------------------------------------- */

/* Zero-initialised = the defaults named on each field. */
typedef struct pgo_http_opts {
  long connect_timeout_ms;     /* 0 = PGO_HTTP_DEFAULT_CONNECT_MS */
  long timeout_ms;             /* whole transfer; 0 = no limit */
  uint64_t max_bytes;          /* body cap; 0 = PGO_HTTP_DEFAULT_MAX_BYTES */
  long max_redirects;          /* redirects followed (http/https only); 0 = none */
  bool allow_file;             /* file:// URLs allowed (never as a redirect target) */
  bool insecure;               /* TLS certificate and host name verification OFF */
  bool accept_encoding;        /* send Accept-Encoding (gzip, ...) and decode the body */
  const char *ca_file;         /* CA bundle to trust instead of the system's; NULL = system */
  const char *const *headers;  /* request header lines "Name: value" (checked by the caller:
                                  no CR, LF or NUL) */
  size_t nheaders;
} pgo_http_opts;

/* Set the request method and body on h: a body is posted; "HEAD" asks for no body;
 * "POST" without a body posts an empty one; other methods than GET/POST are sent as a
 * custom request. Returns the first libcurl error. */
CURLcode pgo_http_set_method(CURL *h, const char *method, const char *body, size_t body_len);

/* Apply o to h (see the list above); builds the header list into *slist, which the caller
 * frees with curl_slist_free_all() after the transfer. Sets neither the URL, the method,
 * nor write/header callbacks. False with err (nomem, or a libcurl without a needed
 * feature). */
bool pgo_http_easy_setup(CURL *h, const pgo_http_opts *o, struct curl_slist **slist,
                         pgo_error *err);

/* Check that url can be fetched: it parses, has a host (except file://), and its scheme
 * is http or https (or file with allow_file). False with err code bad_url. */
bool pgo_http_check_url(const char *url, bool allow_file, pgo_error *err);

/* "pgolua/<version>" into out. */
void pgo_http_user_agent(char *out, size_t cap);

/* ---- 2. transfers and the driver -------------------------------------------------------- */

typedef struct pgo_http_xfer {
  /* request: set by the caller (pgo_http_xfer_init sets the defaults) */
  const char *url;
  const char *method;          /* NULL = GET, or POST when body is set */
  const void *body;            /* request body (copied by libcurl), or NULL */
  size_t body_len;
  int fd;                      /* body sink: a file (>= 0; truncated before a retry) or
                                  -1 = memory (mem, mem_len) */
  void *user;                  /* the caller's per-transfer data */

  /* response, valid after the run */
  bool ok;                     /* 2xx (or a file:// read) and the whole body stored */
  pgo_error err;               /* when !ok */
  bool retryable;              /* the last failure was one that is retried */
  long status;                 /* HTTP status of the last response; 0 for file:// */
  char reason[64];             /* its reason phrase, when the server sent one */
  uint64_t bytes;              /* body bytes received (after content decoding) */
  unsigned char *mem;          /* memory sink (malloc'd; freed by pgo_http_xfer_free) */
  size_t mem_len, mem_cap;
  unsigned char head[PGO_HTTP_HEAD_CAP];   /* the start of the body, also for errors */
  size_t head_len;
  char *headers;               /* the last response's header lines, '\n'-separated */
  size_t headers_len, headers_cap;
  bool go_pprof;               /* the response carried X-Go-Pprof: 1 */
  int attempts;
  double elapsed;              /* seconds from the first attempt's start to the end */
  double window_start;         /* Unix time the last attempt was sent */
  double window_end;           /* Unix time its first response byte arrived */

  /* private to the driver */
  CURL *easy;
  struct curl_slist *slist;
  char errbuf[CURL_ERROR_SIZE];
  int state;
  double t_first, t_attempt, not_before;   /* monotonic seconds */
  uint64_t max_bytes;
  bool over_cap, write_failed, out_of_memory;
  int write_errno;
} pgo_http_xfer;

/* Reset x to a GET of url into memory, with no outcome yet. */
void pgo_http_xfer_init(pgo_http_xfer *x, const char *url);
/* Free what the run allocated (memory sink, header buffer, easy handle). Does not close
 * x->fd. Safe to call twice. */
void pgo_http_xfer_free(pgo_http_xfer *x);

/* Where a run stands, for progress reports. */
typedef struct pgo_http_progress {
  double elapsed;              /* seconds since the run started */
  uint64_t bytes;              /* body bytes received so far, all transfers */
  size_t total, active, done, failed;
} pgo_http_progress;

typedef struct pgo_http_run_opts {
  size_t concurrency;          /* transfers in flight at once; 0 = all, up to the open-file limit */
  int retries;                 /* extra attempts after a retryable failure */
  long backoff_ms;             /* delay before the first retry, doubled each retry
                                  (at most 30 s), with +-20% jitter */
  long progress_ms;            /* interval of progress calls; 0 = 250 ms */
  bool catch_sigint;           /* install a SIGINT handler for the run (see
                                  pgo_http_run); when the current disposition is
                                  SIG_IGN nothing is installed */
  /* Called before a transfer's first attempt (e.g. to create its sink). False = the
   * transfer fails with err and is not attempted. NULL = nothing to do. */
  bool (*start)(void *ud, pgo_http_xfer *x, pgo_error *err);
  /* Called once per transfer when it has finished for good (x->ok, x->err set). It may
   * turn a success into a failure (e.g. the body does not decode). NULL = none. */
  void (*done)(void *ud, pgo_http_xfer *x);
  /* Called every progress_ms; false = stop the whole run ("interrupted"). NULL = none. */
  bool (*progress)(void *ud, const pgo_http_progress *pr);
  void *ud;
} pgo_http_run_opts;

/* Run n transfers on one multi handle. Returns true when every transfer reached its end
 * (each x->ok tells how). Returns false with err when the run stopped early: code
 * "interrupted" (Ctrl-C, or progress returned false) or "nomem"; every transfer not yet
 * finished is then marked failed with the same error and passed to done().
 *
 * Ctrl-C: with catch_sigint, a SIGINT handler is installed for the run only and the
 * previous disposition restored afterwards. The handler sets one flag (the single C
 * global of src/net: a signal handler receives no user data); the driver checks it at
 * least every 100 ms and libcurl's progress callback checks it during transfers, so the
 * run aborts promptly. SA_RESETHAND: a second Ctrl-C during the run kills the process. */
bool pgo_http_run(pgo_http_xfer *xs, size_t n, const pgo_http_opts *http,
                  const pgo_http_run_opts *run, pgo_error *err);

/* ---- 3a. one request ------------------------------------------------------------------ */

typedef struct pgo_http_request {
  const char *url;
  const char *method;          /* NULL = GET (POST with a body) */
  const void *body;
  size_t body_len;
  const char *dir;             /* body to a new temporary file in dir; NULL = memory */
  const char *prefix;          /* temporary file name prefix; NULL = "pgolua-fetch" */
} pgo_http_request;

/* Perform one request (with the run's retries) into x (already initialised by the call;
 * free it with pgo_http_xfer_free). With req->dir, the body streams to a new file
 * "<dir>/.<prefix>.XXXXXX" (O_EXCL, 0600) whose path is written to temp_path; on success
 * the file is flushed (fsync), closed and left for the caller; on any failure it is
 * removed and temp_path set to "". True when x->ok; false with err otherwise (err is
 * also in x->err; for http_status x->status, x->head and x->headers describe the
 * response). */
bool pgo_http_request_run(const pgo_http_request *req, const pgo_http_opts *o,
                          const pgo_http_run_opts *run, pgo_http_xfer *x,
                          char *temp_path, size_t cap, pgo_error *err);

/* ---- 3b. fleet capture (src/net/fleet.c) ------------------------------------------------ */

typedef struct pgo_fleet_opts {
  pgo_http_opts http;
  pgo_http_run_opts run;       /* start/done are the fleet's own; progress and ud are used */
  const char *dir;             /* temporary files for the bodies; NULL = "." */
  bool keep_temp;              /* keep each capture's file (path in the result) */
  /* Called as each capture arrives whole, its body in path (still in place): the caller
   * decodes or merges it there, above this layer. False with err marks that capture
   * failed. NULL: the files are only kept (keep_temp) or removed. */
  bool (*arrived)(void *ud, const char *url, const char *path, pgo_error *err);
  void *arrived_ud;
} pgo_fleet_opts;

typedef struct pgo_fleet_result {
  bool ok;
  pgo_error err;               /* when !ok: the transfer's failure, or arrived()'s */
  long status;
  bool go_pprof;
  uint64_t bytes;
  double elapsed, window_start, window_end;
  int attempts;
  unsigned char head[256];     /* when !ok: the start of the response body (HTTP errors) */
  size_t head_len;
  char *temp_path;             /* with keep_temp and ok: the capture's file (malloc'd),
                                  else NULL; see pgo_fleet_results_free */
} pgo_fleet_result;

/* Capture every URL (bodies to temporary files in dir) and hand each capture that
 * arrives whole to o->arrived. results[n] receives one entry per URL. True when the run
 * went through (the results say which captures succeeded); false with err
 * "interrupted" or "nomem" when it stopped. Temporary files are always removed unless
 * keep_temp (and then only those of successful captures stay). */
bool pgo_fleet_capture(const char *const *urls, size_t n, const pgo_fleet_opts *o,
                       pgo_fleet_result *results, pgo_error *err);
/* Free the temp_path strings of results (the files themselves are left alone). */
void pgo_fleet_results_free(pgo_fleet_result *results, size_t n);

/* ---- base64 (Parca returns profiles as base64 inside JSON) ------------------------------- */

/* An upper bound of the bytes that len base64 characters decode to. */
static inline size_t pgo_base64_decoded_cap(size_t len) { return len / 4 * 3 + 3; }
/* Decode standard base64 (RFC 4648 '+' '/'; also the URL alphabet '-' '_'), padding
 * optional, into out (room for pgo_base64_decoded_cap(len) bytes). White space is
 * rejected. False with err code "invalid" naming the offset. */
bool pgo_base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen,
                       pgo_error *err);
/* The length of the base64 encoding of len bytes (with padding). */
static inline size_t pgo_base64_encoded_len(size_t len) { return (len + 2) / 3 * 4; }
/* Encode with '+' '/' and padding into out (pgo_base64_encoded_len(len) bytes, no NUL). */
void pgo_base64_encode(const void *in, size_t len, char *out);

#endif
