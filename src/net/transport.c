/* transport.c: libcurl transfers for pgolua: the shared easy-handle setup, a multi-handle
 * driver with bounded concurrency, retries, progress and Ctrl-C, one-request helper,
 * and base64. The contract of every function is in include/pgolua/net.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "pgolua/fileio.h"
#include "pgolua/net.h"
#include "pgolua/version.h"

/* {==================================================================================
 * Ctrl-C
 * =================================================================================== */

/* The one mutable C global of src/net. A signal handler receives no user data, so the
 * SIGINT handler of a run can only reach the run through a global; it does nothing but
 * set this flag (async-signal-safe). The driver polls it at least every 100 ms and the
 * libcurl progress callback checks it during transfers. */
static volatile sig_atomic_t net_interrupted = 0;

static void net_on_sigint(int sig) {
  (void)sig;
  net_interrupted = 1;
}

/* Install the run's SIGINT handler unless SIGINT is ignored (a background job, nohup).
 * SA_RESETHAND: a second Ctrl-C gets the default action. True when installed; the
 * previous disposition is saved in *saved. */
static bool sigint_install(struct sigaction *saved) {
  struct sigaction cur, on;
  if (sigaction(SIGINT, NULL, &cur) != 0) return false;
  if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) return false;
  memset(&on, 0, sizeof on);
  on.sa_handler = net_on_sigint;
  on.sa_flags = SA_RESETHAND;
  sigemptyset(&on.sa_mask);
  return sigaction(SIGINT, &on, saved) == 0;
}

/* }================================================================================== */


/* {==================================================================================
 * Small helpers
 * =================================================================================== */

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pgo_http_user_agent(char *out, size_t cap) {
  snprintf(out, cap, "pgolua/%s", pgolua_version);
}

/* The start of a body as one printable line for a message: control bytes and runs of
 * white space become one space, at most max bytes, "..." when cut. */
static void body_excerpt(const unsigned char *b, size_t n, char *out, size_t cap, size_t max) {
  size_t o = 0;
  bool space = false;
  if (cap == 0) return;
  for (size_t i = 0; i < n && o + 4 < cap; i++) {
    unsigned char c = b[i];
    if (c < 0x20 || c == 0x7f || c == ' ') {
      if (o > 0) space = true;
      continue;
    }
    if (o >= max) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    if (space) { out[o++] = ' '; space = false; }
    out[o++] = (char)c;
  }
  out[o] = '\0';
}

/* }================================================================================== */


/* {==================================================================================
 * Easy-handle setup (shared with the load driver)
 * =================================================================================== */

bool pgo_http_check_url(const char *url, bool allow_file, pgo_error *err) {
  CURLU *u = curl_url();
  if (!u) return pgo_fail(err, "nomem", "out of memory parsing a URL");
  char *scheme = NULL, *host = NULL;
  bool ok = true;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc != CURLUE_OK) {
    ok = pgo_fail(err, "bad_url", "the URL does not parse (%s); write it as "
                  "http://host:port/path", curl_url_strerror(rc));
  } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme) {
    ok = pgo_fail(err, "bad_url", "the URL has no scheme; write it as http://host:port/path");
  } else if (strcasecmp(scheme, "file") == 0) {
    if (!allow_file)
      ok = pgo_fail(err, "bad_url", "file:// URLs are read only with allow_file=true "
                    "(or use pgo.load / pgo.backends.file for local files)");
  } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
    ok = pgo_fail(err, "bad_url", "the URL scheme %.32s is not supported; use http or https",
                  scheme);
  } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
    ok = pgo_fail(err, "bad_url", "the URL has no host; write it as http://host:port/path");
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return ok;
}

CURLcode pgo_http_set_method(CURL *h, const char *method, const char *body, size_t body_len) {
  CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
  if (body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    SET(CURLOPT_COPYPOSTFIELDS, body);
  }
  if (method && strcmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (method && strcmp(method, "POST") == 0 && !body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_COPYPOSTFIELDS, "");
  } else if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }
#undef SET
  return rc;
}

bool pgo_http_easy_setup(CURL *h, const pgo_http_opts *o, struct curl_slist **slist,
                         pgo_error *err) {
  char ua[128];
  pgo_http_user_agent(ua, sizeof ua);
  uint64_t max = o->max_bytes ? o->max_bytes : PGO_HTTP_DEFAULT_MAX_BYTES;
  CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
  SET(CURLOPT_USERAGENT, ua);                      /* libcurl copies strings */
  SET(CURLOPT_NOSIGNAL, 1L);                       /* no SIGALRM, no signal handlers */
  SET(CURLOPT_CONNECTTIMEOUT_MS,
      o->connect_timeout_ms > 0 ? o->connect_timeout_ms : PGO_HTTP_DEFAULT_CONNECT_MS);
  SET(CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 0L);
  SET(CURLOPT_PROTOCOLS_STR, o->allow_file ? "http,https,file" : "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  /* never a redirect to file:// */
  SET(CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L);
  SET(CURLOPT_MAXREDIRS, o->max_redirects > 0 ? o->max_redirects : 0L);
  SET(CURLOPT_UNRESTRICTED_AUTH, 0L);              /* no credentials to another host */
  SET(CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
  SET(CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
  if (o->ca_file) SET(CURLOPT_CAINFO, o->ca_file);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(max > (uint64_t)INT64_MAX ? INT64_MAX : max));
  if (o->accept_encoding) SET(CURLOPT_ACCEPT_ENCODING, "");   /* every built-in coding */
#undef SET
  if (rc != CURLE_OK)
    return pgo_fail(err, rc == CURLE_OUT_OF_MEMORY ? "nomem" : "network",
                    "cannot configure the transfer: %s", curl_easy_strerror(rc));
  struct curl_slist *list = NULL;
  for (size_t i = 0; i < o->nheaders; i++) {
    if (strpbrk(o->headers[i], "\r\n")) {
      curl_slist_free_all(list);
      return pgo_fail(err, "invalid", "request header #%zu contains a line break", i + 1);
    }
    struct curl_slist *next = curl_slist_append(list, o->headers[i]);
    if (!next) {
      curl_slist_free_all(list);
      return pgo_fail(err, "nomem", "out of memory building request headers");
    }
    list = next;
  }
  if (list && curl_easy_setopt(h, CURLOPT_HTTPHEADER, list) != CURLE_OK) {
    curl_slist_free_all(list);
    return pgo_fail(err, "network", "cannot set the request headers");
  }
  *slist = list;
  return true;
}

/* }================================================================================== */


/* {==================================================================================
 * One transfer: callbacks, start, classification
 * =================================================================================== */

enum { XFER_NEW, XFER_ACTIVE, XFER_WAIT, XFER_DONE };

void pgo_http_xfer_init(pgo_http_xfer *x, const char *url) {
  memset(x, 0, sizeof *x);
  x->url = url;
  x->fd = -1;
}

void pgo_http_xfer_free(pgo_http_xfer *x) {
  if (x->easy) { curl_easy_cleanup(x->easy); x->easy = NULL; }
  curl_slist_free_all(x->slist);
  x->slist = NULL;
  free(x->mem);
  x->mem = NULL;
  x->mem_len = x->mem_cap = 0;
  free(x->headers);
  x->headers = NULL;
  x->headers_len = x->headers_cap = 0;
}

/* Header callback: keeps the last response's status reason and header lines. */
static size_t xfer_on_header(char *buf, size_t size, size_t nitems, void *ud) {
  pgo_http_xfer *x = ud;
  size_t n = size * nitems, len = n;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {     /* a new response starts */
    x->headers_len = 0;
    if (x->headers) x->headers[0] = '\0';             /* not the 1xx/redirect's lines */
    x->go_pprof = false;
    x->reason[0] = '\0';
    const char *sp = memchr(buf, ' ', len);            /* "HTTP/1.1 404 Not Found" */
    if (sp) {
      const char *end = buf + len, *r = memchr(sp + 1, ' ', (size_t)(end - sp - 1));
      if (r && r + 1 < end)
        snprintf(x->reason, sizeof x->reason, "%.*s", (int)(end - r - 1), r + 1);
    }
    return n;
  }
  if (len == 0) return n;
  if (len >= 11 && strncasecmp(buf, "x-go-pprof:", 11) == 0) {
    const char *v = buf + 11, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    x->go_pprof = (end - v >= 1 && *v == '1');
  }
  if (x->headers_len + len + 2 > PGO_HTTP_HEADERS_CAP) return n;   /* keep what fits */
  if (x->headers_len + len + 2 > x->headers_cap &&
      !pgo_grow((void **)&x->headers, &x->headers_cap, x->headers_len + len + 2, 1))
    return n;                                          /* headers are a nicety */
  memcpy(x->headers + x->headers_len, buf, len);
  x->headers_len += len;
  x->headers[x->headers_len++] = '\n';
  x->headers[x->headers_len] = '\0';
  return n;
}

/* Body callback: the head for messages, the cap, then the sink (file or memory). Error
 * bodies (status >= 400) only fill the head. Returning less than n aborts the transfer
 * with CURLE_WRITE_ERROR; the flags say why. */
static size_t xfer_on_body(char *buf, size_t size, size_t nmemb, void *ud) {
  pgo_http_xfer *x = ud;
  size_t n = size * nmemb;
  if (x->head_len < PGO_HTTP_HEAD_CAP) {
    size_t k = PGO_HTTP_HEAD_CAP - x->head_len;
    if (k > n) k = n;
    memcpy(x->head + x->head_len, buf, k);
    x->head_len += k;
  }
  x->bytes += n;
  if (x->bytes > x->max_bytes) { x->over_cap = true; return 0; }
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) return n;
  if (x->fd >= 0) {
    const char *p = buf;
    size_t left = n;
    while (left > 0) {
      ssize_t w = write(x->fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        x->write_failed = true;
        x->write_errno = errno;
        return 0;
      }
      p += w;
      left -= (size_t)w;
    }
    return n;
  }
  if (x->mem_len + n > x->mem_cap &&
      !pgo_grow((void **)&x->mem, &x->mem_cap, x->mem_len + n, 1)) {
    x->out_of_memory = true;
    return 0;
  }
  memcpy(x->mem + x->mem_len, buf, n);
  x->mem_len += n;
  return n;
}

/* libcurl progress callback: aborts the transfer on Ctrl-C. */
static int xfer_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow) {
  (void)ud; (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
  return net_interrupted ? 1 : 0;
}

/* Create and configure x's easy handle (once; retries reuse it). */
static bool xfer_configure(pgo_http_xfer *x, const pgo_http_opts *o, pgo_error *err) {
  x->easy = curl_easy_init();
  if (!x->easy) return pgo_fail(err, "nomem", "out of memory starting a transfer");
  if (!pgo_http_easy_setup(x->easy, o, &x->slist, err)) return false;
  if (x->body) {                        /* a body: no "Expect: 100-continue" round trip */
    struct curl_slist *next = curl_slist_append(x->slist, "Expect:");
    if (!next) return pgo_fail(err, "nomem", "out of memory building request headers");
    x->slist = next;
  }
  CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, opt, val); } while (0)
  SET(CURLOPT_URL, x->url);
  SET(CURLOPT_PRIVATE, (void *)x);
  SET(CURLOPT_ERRORBUFFER, x->errbuf);
  SET(CURLOPT_WRITEFUNCTION, xfer_on_body);
  SET(CURLOPT_WRITEDATA, (void *)x);
  SET(CURLOPT_HEADERFUNCTION, xfer_on_header);
  SET(CURLOPT_HEADERDATA, (void *)x);
  SET(CURLOPT_XFERINFOFUNCTION, xfer_on_progress);
  SET(CURLOPT_NOPROGRESS, 0L);
  if (x->slist) SET(CURLOPT_HTTPHEADER, x->slist);
  if (rc == CURLE_OK) rc = pgo_http_set_method(x->easy, x->method, x->body, x->body_len);
#undef SET
  if (rc != CURLE_OK)
    return pgo_fail(err, rc == CURLE_OUT_OF_MEMORY ? "nomem" : "network",
                    "cannot configure the transfer: %s", curl_easy_strerror(rc));
  return true;
}

/* Forget the previous attempt's response and rewind the sink. */
static bool xfer_reset(pgo_http_xfer *x, pgo_error *err) {
  x->status = 0;
  x->reason[0] = '\0';
  x->bytes = 0;
  x->head_len = 0;
  x->headers_len = 0;
  if (x->headers) x->headers[0] = '\0';
  x->go_pprof = false;
  x->mem_len = 0;
  x->over_cap = x->write_failed = x->out_of_memory = false;
  x->errbuf[0] = '\0';
  x->window_end = 0;
  if (x->fd >= 0 && (lseek(x->fd, 0, SEEK_SET) < 0 || ftruncate(x->fd, 0) != 0))
    return pgo_fail(err, "io", "cannot rewind the temporary file: %s", strerror(errno));
  return true;
}

/* The scheme the attempt used ("http", "https", "file"; libcurl may say it in upper
 * case) is `name`. */
static bool transfer_scheme_is(pgo_http_xfer *x, const char *name) {
  char *scheme = NULL;
  return curl_easy_getinfo(x->easy, CURLINFO_SCHEME, &scheme) == CURLE_OK && scheme &&
         strcasecmp(scheme, name) == 0;
}

/* Turn a finished attempt into x->ok / x->err / x->retryable. */
static void xfer_classify(pgo_http_xfer *x, CURLcode rc, const pgo_http_opts *o) {
  long status = 0;
  curl_off_t t_first = 0, t_connect = 0;
  long redirects = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_STARTTRANSFER_TIME_T, &t_first);
  curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &t_connect);
  curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
  x->status = status;
  if (t_first > 0) x->window_end = x->window_start + (double)t_first / 1e6;
  x->ok = false;
  x->retryable = false;
  const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
  pgo_error *e = &x->err;

  if (rc == CURLE_OK) {
    if (status >= 400) {
      char excerpt[256];
      body_excerpt(x->head, x->head_len, excerpt, sizeof excerpt, 200);
      pgo_fail(e, "http_status", "HTTP %ld%s%s: %s", status, x->reason[0] ? " " : "",
               x->reason, excerpt[0] ? excerpt : "(empty body)");
      x->retryable = status >= 500;
    } else if (status == 304) {
      pgo_fail(e, "http_status", "HTTP 304%s%s: the server answered a request pgolua never "
               "makes (a conditional GET) with no body; is a cache or proxy in between?",
               x->reason[0] ? " " : "", x->reason);
    } else if (status >= 300) {
      pgo_fail(e, "redirect", "HTTP %ld%s%s: a redirect that was not followed (%s)", status,
               x->reason[0] ? " " : "", x->reason,
               o->max_redirects > 0 ? "it has no usable Location header"
                                    : "following redirects is off: max_redirects=0");
    } else if (status != 0 && status < 200) {
      pgo_fail(e, "network", "HTTP %ld: an informational status as the final answer", status);
    } else if (status == 0 && !transfer_scheme_is(x, "file")) {
      /* libcurl passes some malformed status lines ("HTTP/20 200") through with status
       * 0; only file:// has no status */
      pgo_fail(e, "network", "the server's answer has no valid HTTP status line; is the "
               "URL's host and port an HTTP server?");
    } else {
      x->ok = true;
    }
    return;
  }

  double timeout_s = (double)o->timeout_ms / 1000.0;
  double connect_s = (double)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                         : PGO_HTTP_DEFAULT_CONNECT_MS) / 1000.0;
  uint64_t max = o->max_bytes ? o->max_bytes : PGO_HTTP_DEFAULT_MAX_BYTES;
  switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
      pgo_fail(e, "interrupted", "interrupted (Ctrl-C); the transfer was aborted");
      break;
    case CURLE_WRITE_ERROR:
      if (x->over_cap)
        pgo_fail(e, "too_large", "the response is larger than %llu bytes (max_bytes); raise "
                 "max_bytes if the profile is genuine", (unsigned long long)max);
      else if (x->write_failed)
        pgo_fail(e, x->write_errno == ENOSPC || x->write_errno == EDQUOT ||
                    x->write_errno == EFBIG ? "no_space" : "io",
                 "cannot write the temporary file: %s%s", strerror(x->write_errno),
                 x->write_errno == EFBIG ? " (the file size limit, ulimit -f)" : "");
      else if (x->out_of_memory)
        pgo_fail(e, "nomem", "out of memory storing the response");
      else
        pgo_fail(e, "io", "cannot store the response: %s", detail);
      break;
    case CURLE_FILESIZE_EXCEEDED:
      pgo_fail(e, "too_large", "the response is larger than %llu bytes (max_bytes; the "
               "server announced its size); raise max_bytes if the profile is genuine",
               (unsigned long long)max);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      if (t_connect == 0 && x->bytes == 0 && status == 0) {
        pgo_fail(e, "timeout", "no connection within %.3g s (connect_timeout): %s",
                 connect_s < timeout_s || timeout_s <= 0 ? connect_s : timeout_s, detail);
        x->retryable = true;
      } else {
        pgo_fail(e, "timeout", "no complete answer within %.3g s (timeout; %llu body bytes "
                 "received): raise timeout, which must exceed the capture window",
                 timeout_s, (unsigned long long)x->bytes);
      }
      break;
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED)
        pgo_fail(e, "connect", "connection refused (%s): is the service running and "
                 "listening on that port?", detail);
      else
        pgo_fail(e, "connect", "cannot connect%s%s (%s): is the service running and reachable?",
                 os_errno ? ": " : "", os_errno ? strerror((int)os_errno) : "", detail);
      x->retryable = true;
      break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      pgo_fail(e, "dns", "cannot resolve the host name (%s)", detail);
      x->retryable = true;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      pgo_fail(e, "tls", "the server's TLS certificate did not verify (%s): it is not signed "
               "by a certificate authority this machine trusts; give pgolua the CA "
               "certificate that signed it, or fix the server's certificate chain", detail);
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
      pgo_fail(e, "tls", "TLS failed (%s)", detail);
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      if (redirects > 0 || status >= 300)
        pgo_fail(e, "redirect", "the server redirected to a URL that is not http or https; "
                 "pgolua follows redirects to http and https only (%s)", detail);
      else if (transfer_scheme_is(x, "http") || transfer_scheme_is(x, "https"))
        /* the URL was fine and libcurl spoke HTTP: the answer was not HTTP (an SSH or
         * database port, an HTTP/0.9 reply) */
        pgo_fail(e, "network", "the server's answer is not HTTP (%s); is the URL's host and "
                 "port an HTTP server?", detail);
      else
        pgo_fail(e, "bad_url", "the URL scheme is not allowed (%s)", detail);
      break;
    case CURLE_TOO_MANY_REDIRECTS:
      pgo_fail(e, "redirect", "more than %ld redirects (max_redirects); is there a loop?",
               o->max_redirects);
      break;
    case CURLE_URL_MALFORMAT:
      pgo_fail(e, "bad_url", "the URL is malformed (%s)", detail);
      break;
    case CURLE_PARTIAL_FILE:
      pgo_fail(e, "truncated", "the connection closed in the middle of the body after %llu "
               "bytes (%s)", (unsigned long long)x->bytes, detail);
      x->retryable = true;
      break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      if (x->bytes > 0)
        pgo_fail(e, "truncated", "the connection broke in the middle of the body after %llu "
                 "bytes (%s)", (unsigned long long)x->bytes, detail);
      else if (status != 0)     /* the status line and headers came, then the body broke */
        pgo_fail(e, "truncated", "the server answered HTTP %ld, then the body broke before "
                 "any of it arrived (%s); a proxy or the service failed mid-answer", status,
                 detail);
      else
        pgo_fail(e, "network", "the connection failed before an answer (%s)", detail);
      x->retryable = true;
      break;
    case CURLE_FILE_COULDNT_READ_FILE:
      pgo_fail(e, "not_found", "cannot read the file (%s)", detail);
      break;
    case CURLE_OUT_OF_MEMORY:
      pgo_fail(e, "nomem", "out of memory during the transfer");
      break;
    default:
      pgo_fail(e, "network", "the transfer failed (%s)", detail);
      x->retryable = true;
      break;
  }
}

/* }================================================================================== */


/* {==================================================================================
 * The driver
 * =================================================================================== */

typedef struct run_state {
  CURLM *multi;
  pgo_http_xfer *xs;
  size_t n, next_new, active, waiting, done, failed;
  uint64_t done_bytes;
  uint64_t rng;
  const pgo_http_opts *http;
  const pgo_http_run_opts *run;
} run_state;

/* Delay before retry number `attempt` (1 = first retry), in seconds, with +-20% jitter. */
static double backoff_delay(run_state *s, int attempt) {
  long base = s->run->backoff_ms;
  if (base <= 0) return 0;
  double d = (double)base;
  for (int i = 1; i < attempt && d < 30000; i++) d *= 2;
  if (d > 30000) d = 30000;
  s->rng ^= s->rng << 13; s->rng ^= s->rng >> 7; s->rng ^= s->rng << 17;
  double jitter = 0.8 + 0.4 * (double)(s->rng >> 11) / (double)(1ULL << 53);
  return d * jitter / 1000.0;
}

/* A transfer has ended for good: hand it to done() and free its handle. */
static void run_finish(run_state *s, pgo_http_xfer *x) {
  x->state = XFER_DONE;
  x->elapsed = mono_now() - x->t_first;
  s->done++;
  if (!x->ok) s->failed++;
  s->done_bytes += x->bytes;
  if (x->easy) { curl_easy_cleanup(x->easy); x->easy = NULL; }
  curl_slist_free_all(x->slist);
  x->slist = NULL;
  if (s->run->done) s->run->done(s->run->ud, x);
}

/* Start one attempt of x. A failure to start ends the transfer (not the run). */
static void run_begin(run_state *s, pgo_http_xfer *x) {
  pgo_error e;
  if (x->state == XFER_NEW) {
    x->t_first = mono_now();
    if (s->run->start && !s->run->start(s->run->ud, x, &e)) {
      x->err = e;
      x->ok = false;
      run_finish(s, x);
      return;
    }
  }
  if (x->state == XFER_WAIT) s->waiting--;
  if ((!x->easy && !xfer_configure(x, s->http, &e)) || !xfer_reset(x, &e)) {
    x->err = e;
    x->ok = false;
    run_finish(s, x);
    return;
  }
  x->max_bytes = s->http->max_bytes ? s->http->max_bytes : PGO_HTTP_DEFAULT_MAX_BYTES;
  x->attempts++;
  x->t_attempt = mono_now();
  x->window_start = wall_now();
  CURLMcode mc = curl_multi_add_handle(s->multi, x->easy);
  if (mc != CURLM_OK) {
    pgo_fail(&x->err, mc == CURLM_OUT_OF_MEMORY ? "nomem" : "network",
             "cannot start the transfer: %s", curl_multi_strerror(mc));
    x->ok = false;
    run_finish(s, x);
    return;
  }
  x->state = XFER_ACTIVE;
  s->active++;
}

/* The next transfer to start: a retry whose delay has passed, else a new one. */
static pgo_http_xfer *run_next(run_state *s, double now) {
  if (s->waiting > 0)
    for (size_t i = 0; i < s->n; i++)
      if (s->xs[i].state == XFER_WAIT && s->xs[i].not_before <= now) return &s->xs[i];
  if (s->next_new < s->n) return &s->xs[s->next_new++];
  return NULL;
}

/* Collect the finished attempts: retry, or finish. */
static void run_collect(run_state *s) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result;
    pgo_http_xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(s->multi, easy);
    s->active--;
    xfer_classify(x, rc, s->http);
    if (!x->ok && x->retryable && x->attempts <= s->run->retries && !net_interrupted) {
      x->state = XFER_WAIT;
      x->not_before = mono_now() + backoff_delay(s, x->attempts);
      s->waiting++;
    } else {
      run_finish(s, x);
    }
  }
}

static bool run_progress(run_state *s, double t0) {
  if (!s->run->progress) return true;
  pgo_http_progress pr;
  memset(&pr, 0, sizeof pr);
  pr.elapsed = mono_now() - t0;
  pr.bytes = s->done_bytes;
  for (size_t i = 0; i < s->n; i++)
    if (s->xs[i].state == XFER_ACTIVE) pr.bytes += s->xs[i].bytes;
  pr.total = s->n;
  pr.active = s->active;
  pr.done = s->done;
  pr.failed = s->failed;
  return s->run->progress(s->run->ud, &pr);
}

/* Transfers in flight when the caller leaves it to us: every one at once, so a fleet takes
 * one window whatever its size, as far as the open-file limit allows (each transfer holds a
 * socket and a temporary file; some descriptors stay for the rest of the process). */
static size_t auto_concurrency(size_t n) {
  size_t cap = 4096;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    cap = rl.rlim_cur > 96 ? (size_t)(rl.rlim_cur - 64) / 2 : 16;
  if (cap > 4096) cap = 4096;
  if (n == 0) return 1;
  return n < cap ? n : cap;
}

bool pgo_http_run(pgo_http_xfer *xs, size_t n, const pgo_http_opts *http,
                  const pgo_http_run_opts *run, pgo_error *err) {
  run_state s;
  memset(&s, 0, sizeof s);
  s.xs = xs;
  s.n = n;
  s.http = http;
  s.run = run;
  s.multi = curl_multi_init();
  if (!s.multi) return pgo_fail(err, "nomem", "out of memory starting transfers");
  size_t concurrency = run->concurrency ? run->concurrency : auto_concurrency(n);
  double interval = (run->progress_ms > 0 ? run->progress_ms : 250) / 1000.0;
  double t0 = mono_now(), next_progress = t0 + interval;
  s.rng = (uint64_t)(t0 * 1e9) | 1;
  for (size_t i = 0; i < n; i++) xs[i].state = XFER_NEW;

  struct sigaction saved;
  bool installed = run->catch_sigint && sigint_install(&saved);
  net_interrupted = 0;
  pgo_error stop;
  bool stopped = false;

  while (s.done < n) {
    if (net_interrupted) {
      stopped = !pgo_fail(&stop, "interrupted", "interrupted (Ctrl-C): the transfer was aborted");
      break;
    }
    double now = mono_now();
    pgo_http_xfer *x;
    while (s.active < concurrency && (x = run_next(&s, now)) != NULL) run_begin(&s, x);
    if (s.done == n) break;

    int running = 0;
    CURLMcode mc = curl_multi_perform(s.multi, &running);
    if (mc != CURLM_OK) {
      stopped = !pgo_fail(&stop, mc == CURLM_OUT_OF_MEMORY ? "nomem" : "network",
                          "libcurl: %s", curl_multi_strerror(mc));
      break;
    }
    run_collect(&s);

    now = mono_now();
    if (now >= next_progress) {
      next_progress = now + interval;
      if (!run_progress(&s, t0)) {
        stopped = !pgo_fail(&stop, "interrupted", "stopped by the progress callback");
        break;
      }
    }
    if (s.done == n) break;

    double wait = 0.1;                  /* the Ctrl-C check interval */
    if (s.waiting > 0 && s.active < concurrency)
      for (size_t i = 0; i < n; i++)
        if (xs[i].state == XFER_WAIT && xs[i].not_before - now < wait)
          wait = xs[i].not_before - now;
    if (s.next_new < n && s.active < concurrency) wait = 0;
    if (wait > 0) curl_multi_poll(s.multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
  }

  if (!stopped && n > 0) run_progress(&s, t0);   /* the final figures; cannot stop now */
  if (stopped) {                        /* end every unfinished transfer the same way */
    for (size_t i = 0; i < n; i++) {
      pgo_http_xfer *x = &xs[i];
      if (x->state == XFER_DONE) continue;
      if (x->state == XFER_ACTIVE) curl_multi_remove_handle(s.multi, x->easy);
      if (x->state == XFER_NEW) x->t_first = mono_now();
      x->ok = false;
      x->retryable = false;
      x->err = stop;
      run_finish(&s, x);
    }
  }
  curl_multi_cleanup(s.multi);
  if (installed) sigaction(SIGINT, &saved, NULL);
  net_interrupted = 0;
  if (stopped) {
    if (err) *err = stop;
    return false;
  }
  return true;
}

/* }================================================================================== */


/* {==================================================================================
 * One request
 * =================================================================================== */

bool pgo_http_request_run(const pgo_http_request *req, const pgo_http_opts *o,
                          const pgo_http_run_opts *run, pgo_http_xfer *x,
                          char *temp_path, size_t cap, pgo_error *err) {
  pgo_http_xfer_init(x, req->url);
  x->method = req->method;
  x->body = req->body;
  x->body_len = req->body_len;
  if (temp_path && cap) temp_path[0] = '\0';
  if (!pgo_http_check_url(req->url, o->allow_file, &x->err)) {
    if (err) *err = x->err;
    return false;
  }
  if (req->dir) {
    if (!temp_path || cap == 0) return pgo_fail(err, "invalid", "no room for the temp path");
    x->fd = pgo_tempfile(req->dir, req->prefix ? req->prefix : "pgolua-fetch", temp_path,
                         cap, &x->err);
    if (x->fd < 0) {
      temp_path[0] = '\0';
      if (err) *err = x->err;
      return false;
    }
  }
  pgo_http_run_opts r = *run;
  r.start = NULL;
  r.done = NULL;
  pgo_error e;
  bool ran = pgo_http_run(x, 1, o, &r, &e);
  bool ok = ran && x->ok;
  if (x->fd >= 0) {
    /* flushed before the caller may rename it into place (net.h promises it) */
    if (ok && fsync(x->fd) != 0 && errno != EINVAL)
      ok = pgo_fail_errno(&x->err, errno, "cannot flush the temporary file", temp_path);
    if (close(x->fd) != 0 && ok)
      ok = pgo_fail(&x->err, "io", "cannot close the temporary file: %s", strerror(errno));
    x->fd = -1;
    if (!ok) {
      unlink(temp_path);
      temp_path[0] = '\0';
    }
  }
  if (!ok && err) *err = x->err;
  return ok;
}

/* }================================================================================== */


/* {==================================================================================
 * base64
 * =================================================================================== */

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool pgo_base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen,
                       pgo_error *err) {
  size_t end = len;
  int pad = 0;
  while (end > 0 && in[end - 1] == '=' && pad < 2) { end--; pad++; }
  if (pad > 0 && len % 4 != 0)
    return pgo_fail(err, "invalid", "base64: padding at offset %zu, but the length %zu is "
                    "not a multiple of 4", end, len);
  if (end % 4 == 1)
    return pgo_fail(err, "invalid", "base64: the length %zu leaves one stray character "
                    "(cut data?)", end);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; i++) {
    int v = b64_value((unsigned char)in[i]);
    if (v < 0)
      return pgo_fail(err, "invalid", "base64: invalid character 0x%02x at offset %zu",
                      (unsigned char)in[i], i);
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *outlen = o;
  return true;
}

void pgo_base64_encode(const void *in, size_t len, char *out) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = in;
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
}

/* }================================================================================== */
