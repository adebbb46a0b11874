/* loaddriver.c: closed-loop HTTP load on one libcurl multi handle, latency into a
 * log-linear histogram. See include/pgolua/loaddriver.h for the contract.
 *
 * One libcurl easy handle per connection ("slot"), set up once with
 * pgo_http_easy_setup() (the options every pgolua transfer shares), all on one multi
 * handle driven by curl_multi_socket_action() and epoll. Two engines:
 *
 *   curl  libcurl does everything: when a response is complete the handle is removed
 *         and re-added at once, and libcurl takes the same keep-alive connection from the
 *         multi handle's pool (CURLMOPT_MAX_HOST_CONNECTIONS caps it at `connections`).
 *         Simple and general, but libcurl's per-transfer set-up costs ~30 us of CPU per
 *         request, which on a small machine takes CPU from the server under test.
 *   raw   libcurl opens each connection (CURLOPT_CONNECT_ONLY on the same multi handle:
 *         DNS, TCP, TLS, timeouts), then requests go over it with curl_easy_send() and
 *         responses come back with curl_easy_recv(), framed by the HTTP/1.1 reader of
 *         src/net/http1.c (status line, Content-Length, chunked, Connection: close, 1xx,
 *         HEAD, 204/304, read-until-close). A closed or failed connection is opened again
 *         through the multi handle. About wrk's cost per request (bench/loadtest.sh).
 *
 * No C globals: the run's state lives in a struct on the stack. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <curl/curl.h>
#include "pgolua/http1.h"
#include "pgolua/loaddriver.h"
#include "pgolua/net.h"

/* {==================================================================================
 * Histogram
 * =================================================================================== */

void pgo_hist_init(pgo_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

/* Bucket index of a value: exact below 2^SUB_BITS, then SUB buckets per power of two. */
static size_t hist_index(uint64_t v) {
  if (v < PGO_HIST_SUB) return (size_t)v;
  int e = 63 - __builtin_clzll(v);                    /* 2^e <= v < 2^(e+1), e >= SUB_BITS */
  if (e >= PGO_HIST_MAX_EXP) return PGO_HIST_BUCKETS - 1;
  size_t sub = (size_t)(v >> (e - PGO_HIST_SUB_BITS)) - PGO_HIST_SUB;   /* 0 .. SUB-1 */
  return (size_t)(e - PGO_HIST_SUB_BITS + 1) * PGO_HIST_SUB + sub;
}

/* The lowest value of bucket i and its width. */
static void hist_bucket(size_t i, uint64_t *lo, uint64_t *width) {
  if (i < PGO_HIST_SUB) { *lo = i; *width = 1; return; }
  size_t octave = i / PGO_HIST_SUB;                    /* >= 1 */
  size_t sub = i % PGO_HIST_SUB;
  int shift = (int)octave - 1;                         /* e - SUB_BITS */
  *lo = (uint64_t)(PGO_HIST_SUB + sub) << shift;
  *width = (uint64_t)1 << shift;
}

void pgo_hist_record(pgo_hist *h, uint64_t ns) {
  h->buckets[hist_index(ns)]++;
  h->count++;
  h->sum += (double)ns;
  if (ns < h->min) h->min = ns;
  if (ns > h->max) h->max = ns;
}

double pgo_hist_quantile(const pgo_hist *h, double q) {
  if (h->count == 0) return 0;
  if (!(q > 0)) return (double)h->min;
  if (q >= 1) return (double)h->max;
  uint64_t rank = (uint64_t)ceil(q * (double)h->count);   /* nearest rank, 1-based */
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < PGO_HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t lo, width;
      hist_bucket(i, &lo, &width);
      double mid = (double)lo + (double)(width - 1) / 2.0;
      if (mid < (double)h->min) mid = (double)h->min;
      if (mid > (double)h->max) mid = (double)h->max;
      return mid;
    }
  }
  return (double)h->max;
}

void pgo_hist_merge(pgo_hist *a, const pgo_hist *b) {
  for (size_t i = 0; i < PGO_HIST_BUCKETS; i++) a->buckets[i] += b->buckets[i];
  a->count += b->count;
  a->sum += b->sum;
  if (b->min < a->min) a->min = b->min;
  if (b->max > a->max) a->max = b->max;
}

/* }================================================================================== */


/* {==================================================================================
 * Shared pieces: slots, errors, the event loop's callbacks
 * =================================================================================== */

static const char *const error_names[PGO_LOAD_NERR] = {
  "connect", "timeout", "dns", "http_4xx", "http_5xx", "truncated", "network", "too_large",
  "other",
};

const char *pgo_load_error_name(int kind) {
  return kind >= 0 && kind < PGO_LOAD_NERR ? error_names[kind] : "other";
}

/* Where a raw-engine connection stands. */
enum {
  RAW_CONNECTING,              /* libcurl (multi) is opening the connection */
  RAW_SEND,                    /* the request is (partly) sent; rest waits for EPOLLOUT */
  RAW_RECV,                    /* reading the response (slot.resp frames it) */
  RAW_IDLE                     /* nothing in flight (run over) */
};

typedef struct load_slot {
  CURL *easy;
  struct curl_slist *slist;
  uint64_t t0;                 /* the current request's start, monotonic ns */
  uint64_t deadline;           /* raw engine: its timeout, monotonic ns */
  uint64_t bytes;              /* body bytes of the current response */
  bool active;                 /* a request is in flight */
  /* raw engine */
  int state;
  curl_socket_t fd;            /* the connection's socket once open, else CURL_SOCKET_BAD */
  bool in_epoll;               /* fd registered with our tag */
  bool want_out;               /* registered for EPOLLOUT too */
  bool reused;                 /* the current request went over an already used connection */
  bool close_after;            /* the connection must be reopened after this response */
  bool got_bytes;              /* some of the current response arrived */
  bool retried;                /* the current request was retried once on a fresh connection */
  size_t sent;                 /* request bytes sent so far */
  char *head;                  /* PGO_HTTP1_HEAD_CAP bytes, resp's head buffer */
  pgo_http1_response resp;     /* the current response, as far as it has arrived */
} load_slot;

/* The event loop: libcurl's socket and timer callbacks feed an epoll set. Raw-engine
 * connections share the set; their epoll data carries RAW_TAG | slot index. */
#define RAW_TAG (1ull << 63)

typedef struct load_loop {
  CURLM *multi;
  int epfd;
  bool failed;                 /* epoll_ctl failed in a callback */
  int failed_errno;
  uint64_t due;                /* when libcurl wants CURL_SOCKET_TIMEOUT; UINT64_MAX = never */
  bool raw;                    /* the raw engine runs */
} load_loop;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Body sink of the curl engine: count and discard. */
static size_t load_on_body(char *buf, size_t size, size_t nitems, void *ud) {
  (void)buf;
  load_slot *s = ud;
  s->bytes += (uint64_t)size * nitems;
  return size * nitems;
}

/* The error kind of a finished transfer that did not deliver a response. */
static int classify(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT: return PGO_LOAD_ERR_CONNECT;
  case CURLE_OPERATION_TIMEDOUT: return PGO_LOAD_ERR_TIMEOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return PGO_LOAD_ERR_DNS;
  case CURLE_PARTIAL_FILE: return PGO_LOAD_ERR_TRUNCATED;
  case CURLE_FILESIZE_EXCEEDED: return PGO_LOAD_ERR_TOO_LARGE;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_WEIRD_SERVER_REPLY: return PGO_LOAD_ERR_NETWORK;
  default: return PGO_LOAD_ERR_OTHER;
  }
}

/* CURLMOPT_SOCKETFUNCTION: keep the epoll set in step with what libcurl waits for. Sockets
 * of raw-engine connections that are open belong to us: libcurl's calls are ignored. */
static int loop_on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  load_loop *lp = userp;
  if (lp->raw && e) {
    load_slot *slot = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&slot);
    if (slot && slot->state != RAW_CONNECTING) return 0;
  }
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);       /* may already be closed: ignore */
    curl_multi_assign(lp->multi, s, NULL);
    return 0;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  ev.data.u64 = (uint64_t)s;
  int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(lp->epfd, op, s, &ev) != 0) {
    int e2 = errno;
    /* a recycled descriptor number: try the other operation */
    op = (e2 == EEXIST) ? EPOLL_CTL_MOD : (e2 == ENOENT ? EPOLL_CTL_ADD : -1);
    if (op < 0 || epoll_ctl(lp->epfd, op, s, &ev) != 0) {
      lp->failed = true;
      lp->failed_errno = errno;
      return -1;
    }
  }
  if (!socketp) curl_multi_assign(lp->multi, s, lp);   /* mark: in the set */
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: remember when libcurl wants to be called with a timeout. */
static int loop_on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  load_loop *lp = userp;
  lp->due = timeout_ms < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ms * 1000000ull;
  return 0;
}

/* Configure one slot's easy handle for the whole run. */
static bool slot_setup(load_slot *s, const pgo_load_opts *o, const pgo_http_opts *http,
                       bool raw, pgo_error *err) {
  s->fd = CURL_SOCKET_BAD;
  s->easy = curl_easy_init();
  if (!s->easy) return pgo_fail(err, "nomem", "cannot create a libcurl handle");
  if (!pgo_http_easy_setup(s->easy, http, &s->slist, err)) return false;
  CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(s->easy, opt, val); } while (0)
  SET(CURLOPT_URL, o->url);
  SET(CURLOPT_PRIVATE, (void *)s);
  SET(CURLOPT_TCP_NODELAY, 1L);
  /* No proxy: the load goes straight to the (loopback) server, and libcurl does not read
   * the *_proxy environment variables for every request. */
  SET(CURLOPT_PROXY, "");
  SET(CURLOPT_NOPROXY, "*");
  if (raw) {
    SET(CURLOPT_CONNECT_ONLY, 1L);
    /* the total timeout would also limit the connection's life: requests time out in
     * the raw loop instead */
    SET(CURLOPT_TIMEOUT_MS, 0L);
    s->head = malloc(PGO_HTTP1_HEAD_CAP);
    if (!s->head) return pgo_fail(err, "nomem", "out of memory for a connection buffer");
    pgo_http1_init(&s->resp, s->head, PGO_HTTP1_HEAD_CAP);
  } else {
    if (o->body) {                      /* no "Expect: 100-continue" round trip */
      struct curl_slist *next = curl_slist_append(s->slist, "Expect:");
      if (!next) return pgo_fail(err, "nomem", "out of memory building request headers");
      s->slist = next;
    }
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_WRITEFUNCTION, load_on_body);
    SET(CURLOPT_WRITEDATA, (void *)s);
    if (s->slist) SET(CURLOPT_HTTPHEADER, s->slist);
    if (rc == CURLE_OK) rc = pgo_http_set_method(s->easy, o->method, o->body, o->body_len);
  }
#undef SET
  if (rc != CURLE_OK)
    return pgo_fail(err, rc == CURLE_OUT_OF_MEMORY ? "nomem" : "network",
                    "cannot configure the load transfer: %s", curl_easy_strerror(rc));
  return true;
}

/* Account for a response with this status (both engines). */
static void count_response(pgo_load_result *r, long status, uint64_t body, uint64_t head,
                           uint64_t latency) {
  r->requests++;
  r->bytes += body;
  r->header_bytes += head;
  pgo_hist_record(&r->latency, latency);
  int cls = (int)(status / 100);
  r->status[cls >= 1 && cls <= 5 ? cls : 0]++;
  if (status >= 500) r->errors[PGO_LOAD_ERR_HTTP_5XX]++;
  else if (status >= 400) r->errors[PGO_LOAD_ERR_HTTP_4XX]++;
}

/* Wait for events or libcurl's timer, at most until `until`; then let libcurl act on its
 * sockets and timers. Raw-engine events are handed to on_raw. False on failure. */
typedef struct load_run_state {
  const pgo_load_opts *o;
  pgo_load_result *r;
  load_loop lp;
  load_slot *slots;
  size_t nslots;
  size_t active;
  uint64_t start, deadline;
  bool stop;
  const char *req;             /* raw engine: the request bytes */
  size_t req_len;
  bool head_request;           /* raw engine: the method is HEAD (responses have no body) */
  pgo_error *err;
} load_run_state;

/* True when another request may start now. */
static bool may_send(const load_run_state *st, uint64_t t) {
  if (st->stop || t >= st->deadline) return false;
  return !(st->o->max_requests && st->r->sent >= st->o->max_requests);
}

/* }================================================================================== */


/* {==================================================================================
 * The raw engine: HTTP/1.1 framing over curl_easy_send / curl_easy_recv
 * =================================================================================== */

/* Build the request once: method, path, Host, User-Agent, Accept, the caller's headers,
 * Content-Length and the body. Caller frees *out. */
static bool raw_build_request(const pgo_load_opts *o, char **out, size_t *len, pgo_error *err) {
  CURLU *u = curl_url();
  if (!u) return pgo_fail(err, "nomem", "out of memory parsing the URL");
  char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
  bool ok = curl_url_set(u, CURLUPART_URL, o->url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK;
  if (ok) {
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);   /* absent: fine */
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
  }
  curl_url_cleanup(u);
  if (!ok) {
    curl_free(host); curl_free(path);
    return pgo_fail(err, "bad_url", "cannot parse the URL");
  }
  const char *method = o->method ? o->method : (o->body ? "POST" : "GET");
  bool has_host = false, has_ua = false, has_accept = false;
  size_t extra = 0;
  for (size_t i = 0; i < o->nheaders; i++) {
    const char *h = o->headers[i];
    if (strncasecmp(h, "Host:", 5) == 0) has_host = true;
    if (strncasecmp(h, "User-Agent:", 11) == 0) has_ua = true;
    if (strncasecmp(h, "Accept:", 7) == 0) has_accept = true;
    extra += strlen(h) + 2;
  }
  char ua[128];
  pgo_http_user_agent(ua, sizeof ua);
  size_t cap = strlen(method) + strlen(path) + (query ? strlen(query) + 1 : 0) + strlen(host) +
               (port ? strlen(port) + 1 : 0) + strlen(ua) + extra + o->body_len + 256;
  char *buf = malloc(cap);
  if (!buf) {
    curl_free(host); curl_free(port); curl_free(path); curl_free(query);
    return pgo_fail(err, "nomem", "out of memory building the request");
  }
  size_t n = (size_t)snprintf(buf, cap, "%s %s%s%s HTTP/1.1\r\n", method, path,
                              query ? "?" : "", query ? query : "");
  if (!has_host)
    n += (size_t)snprintf(buf + n, cap - n, "Host: %s%s%s\r\n", host, port ? ":" : "",
                          port ? port : "");
  if (!has_ua) n += (size_t)snprintf(buf + n, cap - n, "User-Agent: %s\r\n", ua);
  if (!has_accept) n += (size_t)snprintf(buf + n, cap - n, "Accept: */*\r\n");
  for (size_t i = 0; i < o->nheaders; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s\r\n", o->headers[i]);
  if (o->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
    n += (size_t)snprintf(buf + n, cap - n, "Content-Length: %zu\r\n", o->body_len);
  n += (size_t)snprintf(buf + n, cap - n, "\r\n");
  if (o->body_len) { memcpy(buf + n, o->body, o->body_len); n += o->body_len; }
  curl_free(host); curl_free(port); curl_free(path); curl_free(query);
  *out = buf;
  *len = n;
  return true;
}

/* Register (or update) a raw connection's socket in the epoll set. */
static bool raw_watch(load_run_state *st, load_slot *s, bool out) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
  ev.data.u64 = RAW_TAG | (uint64_t)(s - st->slots);
  int op = s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(st->lp.epfd, op, s->fd, &ev) != 0) {
    if (errno == EEXIST) op = EPOLL_CTL_MOD;
    else if (errno == ENOENT) op = EPOLL_CTL_ADD;
    else return pgo_fail(st->err, "network", "epoll_ctl: %s", strerror(errno));
    if (epoll_ctl(st->lp.epfd, op, s->fd, &ev) != 0)
      return pgo_fail(st->err, "network", "epoll_ctl: %s", strerror(errno));
  }
  s->in_epoll = true;
  s->want_out = out;
  return true;
}

/* (Re)open the slot's connection through the multi handle. */
static bool raw_connect(load_run_state *st, load_slot *s) {
  if (s->in_epoll && s->fd != CURL_SOCKET_BAD) epoll_ctl(st->lp.epfd, EPOLL_CTL_DEL, s->fd, NULL);
  s->in_epoll = false;
  s->want_out = false;
  s->fd = CURL_SOCKET_BAD;
  s->state = RAW_CONNECTING;
  curl_multi_remove_handle(st->lp.multi, s->easy);   /* closes the old connection */
  if (curl_multi_add_handle(st->lp.multi, s->easy) != CURLM_OK)
    return pgo_fail(st->err, "network", "cannot open a load connection");
  return true;
}

/* Start the next request on an open connection (or finish the slot when the run is
 * over). t0 is kept when `keep_t0` (a retry of the same request). */
static bool raw_next(load_run_state *st, load_slot *s, uint64_t t, bool keep_t0);

/* The current request failed with this kind: count it, drop the connection, go on. */
static bool raw_fail(load_run_state *st, load_slot *s, int kind, uint64_t t) {
  if (t > st->deadline) st->r->abandoned++;
  else st->r->errors[kind]++;
  s->active = false;
  st->active--;
  if (!may_send(st, t)) {
    s->state = RAW_IDLE;
    if (s->in_epoll) epoll_ctl(st->lp.epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->in_epoll = false;
    return true;
  }
  s->t0 = t;
  s->active = true;
  st->active++;
  st->r->sent++;
  s->reused = false;
  s->retried = false;
  return raw_connect(st, s);
}

/* The response is complete: count it, then the next request (or reconnect first). */
static bool raw_done(load_run_state *st, load_slot *s, uint64_t t) {
  if (t > st->deadline) st->r->abandoned++;
  else count_response(st->r, s->resp.status, s->bytes, s->resp.head_len, t - s->t0);
  s->active = false;
  st->active--;
  if (s->close_after) {
    if (!may_send(st, t)) {
      s->state = RAW_IDLE;
      return true;
    }
    s->t0 = t;
    s->active = true;
    st->active++;
    st->r->sent++;
    s->reused = false;
    s->retried = false;
    return raw_connect(st, s);
  }
  if (!may_send(st, t)) {
    s->state = RAW_IDLE;
    return true;
  }
  s->active = true;
  st->active++;
  st->r->sent++;
  s->retried = false;
  return raw_next(st, s, t, false);
}

/* Push out as much of the request as the socket takes. */
static bool raw_send(load_run_state *st, load_slot *s, uint64_t t) {
  while (s->sent < st->req_len) {
    size_t n = 0;
    CURLcode rc = curl_easy_send(s->easy, st->req + s->sent, st->req_len - s->sent, &n);
    if (rc == CURLE_AGAIN) {
      return s->want_out ? true : raw_watch(st, s, true);
    }
    if (rc != CURLE_OK) {
      if (s->reused && !s->retried) {            /* a stale keep-alive connection */
        s->retried = true;
        s->reused = false;
        return raw_connect(st, s);
      }
      return raw_fail(st, s, PGO_LOAD_ERR_NETWORK, t);
    }
    s->sent += n;
  }
  s->state = RAW_RECV;
  pgo_http1_begin(&s->resp, st->head_request);
  s->bytes = 0;
  s->got_bytes = false;
  s->close_after = false;
  return s->want_out ? raw_watch(st, s, false) : true;
}

static bool raw_next(load_run_state *st, load_slot *s, uint64_t t, bool keep_t0) {
  if (!keep_t0) s->t0 = t;
  s->deadline = t + (uint64_t)((st->o->timeout > 0 ? st->o->timeout : 30.0) * 1e9);
  s->sent = 0;
  s->state = RAW_SEND;
  return raw_send(st, s, t);
}

/* Feed received bytes to the slot's response. Returns PGO_HTTP1_MORE, _DONE or _BAD.
 * Bytes after a complete response cannot belong to the next one (it is not asked for
 * yet): the server sent more than it framed, so the connection is not reused. */
static int raw_feed(load_run_state *st, load_slot *s, const char *p, size_t n) {
  uint64_t interim = s->resp.interim_head_bytes;
  size_t used = 0;
  int rc = pgo_http1_feed(&s->resp, p, n, &used);
  st->r->header_bytes += s->resp.interim_head_bytes - interim;   /* 1xx heads, as read */
  s->bytes = s->resp.body_bytes;
  if (rc == PGO_HTTP1_DONE) s->close_after = s->resp.close_after || used < n;
  return rc;
}

/* The connection is readable: drain it (TLS may hold decrypted bytes, so always until
 * CURLE_AGAIN), parse, and act on the outcome. */
static bool raw_readable(load_run_state *st, load_slot *s, char *buf, size_t cap) {
  for (;;) {
    size_t n = 0;
    CURLcode rc = curl_easy_recv(s->easy, buf, cap, &n);
    uint64_t t = now_ns();
    if (rc == CURLE_AGAIN) return true;
    if (rc != CURLE_OK || n == 0) {                 /* error or end of stream */
      if (!s->active) {                             /* nothing in flight: just let go */
        if (s->in_epoll) epoll_ctl(st->lp.epfd, EPOLL_CTL_DEL, s->fd, NULL);
        s->in_epoll = false;
        return true;
      }
      if (rc == CURLE_OK && s->state == RAW_RECV && pgo_http1_at_eof(&s->resp)) {
        s->close_after = true;
        return raw_done(st, s, t);
      }
      if (!s->got_bytes && s->reused && !s->retried) {   /* closed while idle: retry once */
        s->retried = true;
        s->reused = false;
        return raw_connect(st, s);
      }
      return raw_fail(st, s, s->got_bytes ? PGO_LOAD_ERR_TRUNCATED : PGO_LOAD_ERR_NETWORK, t);
    }
    if (!s->active || s->state == RAW_SEND) continue;   /* stray bytes: ignore */
    s->got_bytes = true;
    int outcome = raw_feed(st, s, buf, n);
    if (outcome == PGO_HTTP1_BAD) return raw_fail(st, s, PGO_LOAD_ERR_NETWORK, t);
    if (outcome == PGO_HTTP1_DONE) {
      s->state = RAW_IDLE;
      s->reused = true;
      if (!raw_done(st, s, t)) return false;
      if (s->state == RAW_CONNECTING || s->state == RAW_IDLE) return true;
    }
  }
}

/* A connection opened (or failed to): start the request, or count the failure. */
static bool raw_connected(load_run_state *st, load_slot *s, CURLcode rc, uint64_t t) {
  if (rc != CURLE_OK) return raw_fail(st, s, classify(rc), t);
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(s->easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
    return raw_fail(st, s, PGO_LOAD_ERR_NETWORK, t);
  s->fd = fd;
  s->in_epoll = false;
  s->reused = false;
  if (!raw_watch(st, s, false)) return false;
  if (st->stop || t > st->deadline) {
    st->r->abandoned++;
    s->active = false;
    st->active--;
    s->state = RAW_IDLE;
    return true;
  }
  return raw_next(st, s, t, true);                  /* t0 includes the connect */
}

/* Time out requests past their deadline. */
static bool raw_timeouts(load_run_state *st, uint64_t t) {
  for (size_t i = 0; i < st->nslots; i++) {
    load_slot *s = &st->slots[i];
    if (s->active && s->state != RAW_CONNECTING && s->state != RAW_IDLE && t >= s->deadline)
      if (!raw_fail(st, s, PGO_LOAD_ERR_TIMEOUT, t)) return false;
  }
  return true;
}

/* }================================================================================== */


/* {==================================================================================
 * The run
 * =================================================================================== */

bool pgo_load_run(const pgo_load_opts *o, pgo_load_result *r, pgo_error *err) {
  memset(r, 0, sizeof *r);
  pgo_hist_init(&r->latency);
  if (!o->url) return pgo_fail(err, "bad_url", "no URL to load");
  if (!pgo_http_check_url(o->url, false, err)) return false;
  if (o->connections < 1 || o->connections > 100000)
    return pgo_fail(err, "invalid", "connections must be between 1 and 100000, got %zu",
                    o->connections);
  if (o->max_requests == 0 && !(o->duration > 0))
    return pgo_fail(err, "invalid", "give a number of requests or a duration");
  if (o->duration < 0 || o->duration > 1e7)
    return pgo_fail(err, "invalid", "duration must be between 0 and 1e7 seconds");
  bool raw = o->engine == PGO_LOAD_ENGINE_RAW;

  pgo_http_opts http;
  memset(&http, 0, sizeof http);
  double tmo = o->timeout > 0 ? o->timeout : 30.0;
  http.timeout_ms = (long)(tmo * 1000.0 + 0.5);
  if (http.timeout_ms < 1) http.timeout_ms = 1;
  http.connect_timeout_ms = http.timeout_ms;
  if (!raw) {                 /* the raw engine writes its own request headers */
    http.headers = o->headers;
    http.nheaders = o->nheaders;
  }

  load_run_state st;
  memset(&st, 0, sizeof st);
  st.o = o;
  st.r = r;
  st.err = err;
  st.lp.epfd = -1;
  st.lp.due = UINT64_MAX;
  st.lp.raw = raw;
  st.head_request = o->method && strcmp(o->method, "HEAD") == 0;
  st.nslots = o->connections;
  if (o->max_requests > 0 && o->max_requests < st.nslots) st.nslots = (size_t)o->max_requests;
  char *req = NULL;
  char *rbuf = NULL;
  bool ok = true;
  struct epoll_event evs[256];
  st.slots = calloc(st.nslots, sizeof *st.slots);
  if (!st.slots) return pgo_fail(err, "nomem", "out of memory for %zu connections", st.nslots);
  if (raw) {
    if (!raw_build_request(o, &req, &st.req_len, err)) { ok = false; goto out; }
    st.req = req;
    rbuf = malloc(65536);
    if (!rbuf) { ok = pgo_fail(err, "nomem", "out of memory for the receive buffer"); goto out; }
  }
  st.lp.multi = curl_multi_init();
  if (!st.lp.multi) { ok = pgo_fail(err, "nomem", "cannot create a libcurl multi handle"); goto out; }
  st.lp.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (st.lp.epfd < 0) { ok = pgo_fail(err, "network", "epoll_create1: %s", strerror(errno)); goto out; }
  curl_multi_setopt(st.lp.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)st.nslots);
  curl_multi_setopt(st.lp.multi, CURLMOPT_MAXCONNECTS, (long)st.nslots);
  curl_multi_setopt(st.lp.multi, CURLMOPT_SOCKETFUNCTION, loop_on_socket);
  curl_multi_setopt(st.lp.multi, CURLMOPT_SOCKETDATA, (void *)&st.lp);
  curl_multi_setopt(st.lp.multi, CURLMOPT_TIMERFUNCTION, loop_on_timer);
  curl_multi_setopt(st.lp.multi, CURLMOPT_TIMERDATA, (void *)&st.lp);
  for (size_t i = 0; i < st.nslots; i++)
    if (!slot_setup(&st.slots[i], o, &http, raw, err)) { ok = false; goto out; }

  st.start = now_ns();
  st.deadline = o->duration > 0 ? st.start + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
  uint64_t next_check = st.start + 10000000ull;       /* timeouts, should_stop: 10 ms */
  for (size_t i = 0; i < st.nslots; i++) {
    if (o->max_requests && r->sent >= o->max_requests) break;
    load_slot *s = &st.slots[i];
    s->t0 = now_ns();
    s->state = RAW_CONNECTING;
    if (curl_multi_add_handle(st.lp.multi, s->easy) != CURLM_OK) {
      ok = pgo_fail(err, "network", "cannot start a load transfer");
      goto out;
    }
    s->active = true;
    st.active++;
    r->sent++;
  }
  int running = 0;
  while (st.active > 0 && !st.stop) {
    CURLMcode mc = CURLM_OK;
    uint64_t t = now_ns();
    if (t >= st.lp.due) {
      /* libcurl's timers (new transfers and connections start this way) */
      st.lp.due = UINT64_MAX;
      mc = curl_multi_socket_action(st.lp.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    } else {
      /* wait for sockets, at most until libcurl's timer, the deadline and 10 ms */
      uint64_t until = st.lp.due;
      if (st.deadline < until) until = st.deadline;
      if (t + 10000000ull < until) until = t + 10000000ull;
      int wait_ms = until > t ? (int)((until - t + 999999ull) / 1000000ull) : 0;
      int n = epoll_wait(st.lp.epfd, evs, (int)(sizeof evs / sizeof evs[0]), wait_ms);
      if (n < 0 && errno != EINTR) {
        ok = pgo_fail(err, "network", "epoll_wait: %s", strerror(errno));
        goto out;
      }
      for (int i = 0; i < n && mc == CURLM_OK; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag & RAW_TAG) {
          load_slot *s = &st.slots[tag & ~RAW_TAG];
          if (s->state == RAW_CONNECTING || s->fd == CURL_SOCKET_BAD) continue;   /* stale */
          if ((evs[i].events & EPOLLOUT) && s->state == RAW_SEND) {
            if (!raw_send(&st, s, now_ns())) { ok = false; goto out; }
          }
          if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            if (s->state == RAW_CONNECTING || s->state == RAW_IDLE) continue;
            if (!raw_readable(&st, s, rbuf, 65536)) { ok = false; goto out; }
          }
          continue;
        }
        int flags = 0;
        if (evs[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
        mc = curl_multi_socket_action(st.lp.multi, (curl_socket_t)tag, flags, &running);
      }
    }
    if (mc != CURLM_OK || st.lp.failed) {
      ok = pgo_fail(err, mc == CURLM_OUT_OF_MEMORY ? "nomem" : "network", "the load run failed: %s",
                    st.lp.failed ? strerror(st.lp.failed_errno) : curl_multi_strerror(mc));
      goto out;
    }
    t = now_ns();
    if (t >= st.deadline) st.stop = true;
    if (t >= next_check) {
      next_check = t + 10000000ull;
      if (!st.stop && o->should_stop && o->should_stop(o->ud)) { st.stop = true; r->stopped = true; }
      if (raw && !st.stop && !raw_timeouts(&st, t)) { ok = false; goto out; }
    }
    /* finished transfers: account, and go on with the same handle */
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(st.lp.multi, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      load_slot *s = NULL;
      CURL *easy = msg->easy_handle;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
      CURLcode rc = msg->data.result;
      uint64_t t_end = now_ns();
      if (raw) {
        /* a connection is open (the handle stays in the multi handle, done) */
        if (!raw_connected(&st, s, rc, t_end)) { ok = false; goto out; }
        continue;
      }
      if (t_end > st.deadline) {
        r->abandoned++;                    /* late: like those still in flight */
      } else if (rc != CURLE_OK) {
        r->errors[classify(rc)]++;
      } else {
        long status = 0, hsize = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(easy, CURLINFO_HEADER_SIZE, &hsize);
        count_response(r, status, s->bytes, hsize > 0 ? (uint64_t)hsize : 0, t_end - s->t0);
      }
      curl_multi_remove_handle(st.lp.multi, easy);
      s->active = false;
      st.active--;
      if (may_send(&st, t_end)) {
        s->t0 = now_ns();
        s->bytes = 0;
        if (curl_multi_add_handle(st.lp.multi, easy) != CURLM_OK) {
          ok = pgo_fail(err, "network", "cannot restart a load transfer");
          goto out;
        }
        s->active = true;
        st.active++;
        r->sent++;
      }
    }
  }
  uint64_t end = now_ns();
  if (end > st.deadline) end = st.deadline;
  r->duration = (double)(end - st.start) / 1e9;
  for (size_t i = 0; i < st.nslots; i++)
    if (st.slots[i].active) r->abandoned++;

out:
  for (size_t i = 0; i < st.nslots; i++) {
    load_slot *s = &st.slots[i];
    if (s->easy) {
      if (st.lp.multi) curl_multi_remove_handle(st.lp.multi, s->easy);   /* harmless if not in */
      curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->slist);
    free(s->head);
  }
  if (st.lp.multi) curl_multi_cleanup(st.lp.multi);
  if (st.lp.epfd >= 0) close(st.lp.epfd);
  free(st.slots);
  free(req);
  free(rbuf);
  return ok;
}

/* }================================================================================== */
