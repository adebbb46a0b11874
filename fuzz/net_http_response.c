/* net_http_response.c: libFuzzer target for the capture transport's response handling
 * (src/net/transport.c: header callback, body callback with the max_bytes cap, the body
 * head kept for messages, status and error classification) through real libcurl, then
 * the profile decoder as pgo.fetch uses it. The input is the raw bytes a server sends.
 *
 * A loopback server (127.0.0.1, a port the kernel picks) runs in a thread: per
 * connection it reads the request head, writes the current input as the response and
 * closes. Each input is fetched once into memory with Accept-Encoding on (so gzip and
 * deflate bodies, and gzip bombs, go through libcurl's decoders and our cap), max_bytes
 * 1 MiB, no retries, no redirects (a Location must never send the fuzzer off the
 * machine), short timeouts.
 *
 * Oracle: either the transfer is ok, with a 2xx status, bytes == mem_len <= max_bytes
 * and the kept head equal to the start of the body; or it failed with a code and a
 * message that fits the answer: never bad_url (the URL is fine), redirect only for a
 * 3xx status other than 304, http_status only for 304 or >= 400 and with no body stored. Header and reason
 * buffers stay within their caps and NUL-terminated. A successful body is then decoded
 * with small limits: a profile, or a failure with a code and a message.
 *
 * Only LLVMFuzzerTestOneInput is defined (the server starts on its first call), so
 * fuzz/replay.c can drive it without libFuzzer. Needs POSIX threads (in glibc's libc
 * since 2.34; older systems need -lpthread). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <curl/curl.h>
#include "pgolua/net.h"
#include "pgolua/profile.h"

#define MAX_BYTES (1u << 20)
#define REQUEST_HEAD_CAP 16384

typedef struct fake_server {
  int listen_fd;
  char url[64];
  pthread_mutex_t mu;          /* guards response, response_len */
  unsigned char *response;     /* a copy of the current input */
  size_t response_len;
} fake_server;

/* The harness's one piece of static state. libFuzzer calls LLVMFuzzerTestOneInput many
 * times in one process and gives it no context pointer, while the server thread must
 * outlive every call (starting a server per input would cost more than the fetch): so it
 * is created on the first call and kept here for the life of the process. */
static fake_server *the_server;

static void die(const char *what) {
  fprintf(stderr, "net_http_response: %s: %s\n", what, strerror(errno));
  abort();
}

/* Read the request head (up to CRLF CRLF); false when the client went away first. */
static bool read_request_head(int fd) {
  char buf[REQUEST_HEAD_CAP];
  size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    size_t from = len > 3 ? len - 3 : 0;
    len += (size_t)n;
    for (size_t i = from; i + 4 <= len; i++)
      if (memcmp(buf + i, "\r\n\r\n", 4) == 0) return true;
  }
  return true;                 /* a head this long is not ours to judge: answer anyway */
}

/* Answer every connection with the input current when it is accepted, then close. */
static void *serve(void *arg) {
  fake_server *s = arg;
  unsigned char *copy = NULL;
  size_t cap = 0;
  for (;;) {
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    /* A client that stops reading or writing must not stall the fuzzer. */
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (read_request_head(fd)) {
      pthread_mutex_lock(&s->mu);
      size_t len = s->response_len;
      if (len > cap) {
        unsigned char *grown = realloc(copy, len);
        if (!grown) die("out of memory copying the response");
        copy = grown;
        cap = len;
      }
      if (len) memcpy(copy, s->response, len);
      pthread_mutex_unlock(&s->mu);
      size_t off = 0;
      while (off < len) {      /* the client may hang up early (too_large): fine */
        ssize_t n = send(fd, copy + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
      }
      shutdown(fd, SHUT_WR);
    }
    close(fd);
  }
  return NULL;
}

static fake_server *start_server(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init");
  fake_server *s = calloc(1, sizeof *s);
  if (!s) die("calloc");
  pthread_mutex_init(&s->mu, NULL);
  s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd < 0) die("socket");
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t alen = sizeof addr;
  if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind 127.0.0.1:0");
  if (listen(s->listen_fd, 64) != 0) die("listen");
  if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0) die("getsockname");
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/debug/pprof/profile",
           (unsigned)ntohs(addr.sin_port));
  pthread_t t;
  if (pthread_create(&t, NULL, serve, s) != 0) die("pthread_create");
  pthread_detach(t);
  return s;
}

static void set_response(fake_server *s, const unsigned char *data, size_t size) {
  pthread_mutex_lock(&s->mu);
  unsigned char *copy = malloc(size ? size : 1);
  if (!copy) die("out of memory");
  if (size) memcpy(copy, data, size);
  free(s->response);
  s->response = copy;
  s->response_len = size;
  pthread_mutex_unlock(&s->mu);
}

static void check(bool ok, const char *what, const pgo_http_xfer *x) {
  if (ok) return;
  fprintf(stderr, "net_http_response: %s (ok %d status %ld bytes %llu mem_len %zu head_len %zu "
          "code \"%s\" message \"%s\")\n", what, x->ok, x->status,
          (unsigned long long)x->bytes, x->mem_len, x->head_len, x->err.code, x->err.message);
  abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (!the_server) the_server = start_server();
  set_response(the_server, data, size);

  pgo_http_opts http;
  memset(&http, 0, sizeof http);
  http.connect_timeout_ms = 1000;
  http.timeout_ms = 3000;
  http.max_bytes = MAX_BYTES;
  http.max_redirects = 0;
  http.accept_encoding = true;
  pgo_http_run_opts run;
  memset(&run, 0, sizeof run);
  run.concurrency = 1;
  pgo_http_request req;
  memset(&req, 0, sizeof req);
  req.url = the_server->url;

  pgo_http_xfer x;
  pgo_error err;
  memset(&err, 0, sizeof err);
  bool ok = pgo_http_request_run(&req, &http, &run, &x, NULL, 0, &err);

  check(ok == x.ok, "the result and x->ok disagree", &x);
  check(x.head_len <= PGO_HTTP_HEAD_CAP, "the body head is over its cap", &x);
  check(x.headers_len <= PGO_HTTP_HEADERS_CAP, "the kept headers are over their cap", &x);
  check(!x.headers || x.headers[x.headers_len] == '\0', "the kept headers are not terminated",
        &x);
  check(memchr(x.reason, '\0', sizeof x.reason) != NULL, "the reason is not terminated", &x);
  if (ok) {
    check(x.status >= 200 && x.status <= 299, "ok without a 2xx status", &x);
    check(x.bytes == x.mem_len, "ok but bytes != mem_len", &x);
    check(x.mem_len <= MAX_BYTES, "ok with more than max_bytes", &x);
    size_t want_head = x.mem_len < PGO_HTTP_HEAD_CAP ? x.mem_len : PGO_HTTP_HEAD_CAP;
    check(x.head_len == want_head, "the body head is not the start of the body", &x);
    check(want_head == 0 || memcmp(x.head, x.mem, want_head) == 0,
          "the body head differs from the body", &x);
  } else {
    check(err.code[0] && err.message[0], "a failure without a code or a message", &x);
    check(strcmp(err.code, x.err.code) == 0, "err and x->err disagree", &x);
    check(memchr(err.message, '\0', sizeof err.message) != NULL, "unterminated message", &x);
    /* The URL is well formed and redirects are off: a failure is about the answer. */
    check(strcmp(err.code, "bad_url") != 0, "an answer blamed on the URL", &x);
    if (strcmp(err.code, "redirect") == 0)
      check(x.status >= 300 && x.status <= 399 && x.status != 304,
            "redirect without a 3xx status (304 is not one)", &x);
    if (strcmp(err.code, "http_status") == 0) {
      check(x.status >= 400 || x.status == 304, "http_status below 400 (other than 304)", &x);
      check(x.mem_len == 0, "an error response's body was stored", &x);
    }
  }

  if (ok) {                    /* as pgo.fetch does: the body must be a profile */
    pgo_limits limits;
    pgo_limits_default(&limits);
    limits.max_decompressed = 8u << 20;
    limits.max_samples = 100000;
    limits.max_stack_depth = 1000;
    pgo_error derr;
    memset(&derr, 0, sizeof derr);
    pgo_profile *p = pgo_profile_decode(x.mem, x.mem_len, &limits, &derr);
    if (p) pgo_profile_free(p);
    else check(derr.code[0] && derr.message[0], "a decode failure without a code or message",
               &x);
  }
  pgo_http_xfer_free(&x);
  return 0;
}
