/* net_http1.c: libFuzzer target for the load driver's HTTP/1.1 response reader
 * (src/net/http1.c). The input is the bytes a server sends.
 *
 * Oracle: the reader is a pure function of the byte sequence, so feeding the input in
 * one piece, one byte at a time, and in pieces cut at positions taken from the input
 * itself must give the same outcome, status, body byte count, close flag, head lengths
 * and bytes used. Also: counted bytes never exceed the bytes used, which never exceed
 * the input; MORE uses every byte given; DONE and BAD are final (a later call uses
 * nothing and changes nothing); every BAD says why; a HEAD response never has a body;
 * a complete response framed by one Content-Length has exactly that many body bytes,
 * read independently with strtoull (so an overflowing length cannot pass as another).
 * Each input runs for a GET and a HEAD request, with the load driver's head buffer and
 * with a small one (so the head-too-large path is reached by short inputs).
 *
 * Only LLVMFuzzerTestOneInput is defined, so fuzz/replay.c can drive it without
 * libFuzzer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pgolua/http1.h"

/* Everything the reader tells about one response. */
typedef struct outcome {
  int rc;
  size_t used;
  int status;
  bool close_after;
  uint64_t body_bytes;
  size_t head_len;
  uint64_t interim_head_bytes;
  bool eof_completes;          /* pgo_http1_at_eof() after the last byte */
  int rc_after_eof;            /* a feed after at_eof */
} outcome;

/* How one run feeds the input, for failure messages. */
typedef struct run_ctx {
  const char *mode;
  bool head_request;
  size_t cap;
} run_ctx;

static void fail(const run_ctx *c, const char *what) {
  fprintf(stderr, "net_http1: %s (mode %s, %s request, head buffer %zu)\n", what, c->mode,
          c->head_request ? "HEAD" : "GET", c->cap);
  abort();
}

/* Feeding after DONE or BAD must use nothing and change nothing. */
static void check_final(const run_ctx *c, pgo_http1_response *r, int rc) {
  pgo_http1_response before;
  memcpy(&before, r, sizeof before);
  size_t used = 99;
  static const char more[] = "HTTP/1.1 200 OK\r\n\r\n";
  int again = pgo_http1_feed(r, more, sizeof more - 1, &used);
  if (again != rc || used != 0) fail(c, "a finished response used more bytes");
  if (memcmp(&before, r, sizeof before) != 0)
    fail(c, "a finished response changed when fed");
  if (!pgo_http1_finished(r)) fail(c, "DONE/BAD but not finished");
}

/* An independent reading of Content-Length framing, with the C library's number parser:
 * a complete response to a GET whose final head has no Transfer-Encoding and one
 * Content-Length line (and a status that allows a body) has a value strtoull reads
 * without overflow, and exactly that many body bytes. */
static void check_length_framing(const run_ctx *c, const pgo_http1_response *r) {
  if (r->status == 204 || r->status == 304) return;
  const char *h = r->head, *end = r->head + r->head_len;
  const char *value = NULL, *value_end = NULL;
  int lengths = 0;
  const char *line = memchr(h, '\n', r->head_len);
  while (line && ++line < end) {
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) break;
    size_t n = (size_t)(eol - line);
    if (n >= 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) return;
    if (n >= 15 && strncasecmp(line, "content-length:", 15) == 0) {
      lengths++;
      value = line + 15;
      value_end = eol;
    }
    line = eol;
  }
  if (lengths != 1) return;
  while (value < value_end && (*value == ' ' || *value == '\t')) value++;
  while (value_end > value && (value_end[-1] == '\r' || value_end[-1] == ' ' ||
                               value_end[-1] == '\t'))
    value_end--;
  size_t n = (size_t)(value_end - value);
  char *text = malloc(n + 1);
  if (!text) return;
  memcpy(text, value, n);
  text[n] = '\0';
  bool digits = n > 0 && strspn(text, "0123456789") == n;
  errno = 0;
  unsigned long long length = digits ? strtoull(text, NULL, 10) : 0;
  bool overflow = errno == ERANGE;
  free(text);
  if (!digits) fail(c, "DONE with a malformed Content-Length");
  if (overflow) fail(c, "DONE with a Content-Length above 2^64-1");
  if (r->body_bytes != length) fail(c, "DONE with a body not of Content-Length bytes");
}

/* Feed data in pieces whose lengths come from next_len (0 = the rest at once). */
static outcome run(const unsigned char *data, size_t size, bool head_request, char *head,
                   size_t cap, const char *mode, size_t (*next_len)(const unsigned char *,
                                                                   size_t, size_t, size_t)) {
  run_ctx ctx = {mode, head_request, cap}, *c = &ctx;
  pgo_http1_response r;
  pgo_http1_init(&r, head, cap);
  pgo_http1_begin(&r, head_request);
  outcome o;
  memset(&o, 0, sizeof o);
  o.rc = PGO_HTTP1_MORE;
  size_t pos = 0, call = 0;
  while (pos < size) {
    size_t len = next_len(data, size, pos, call++);
    if (len == 0 || len > size - pos) len = size - pos;
    size_t used = (size_t)-1;
    o.rc = pgo_http1_feed(&r, data + pos, len, &used);
    if (used > len) fail(c, "used more bytes than given");
    o.used += used;
    if (o.rc == PGO_HTTP1_MORE && used != len)
      fail(c, "MORE but not every byte used");
    if (o.rc != PGO_HTTP1_MORE) {
      check_final(c, &r, o.rc);
      break;
    }
    if (pgo_http1_finished(&r)) fail(c, "MORE but finished");
    pos += len;
  }
  if (o.used > size) fail(c, "used more bytes than the input");
  if (r.body_bytes + r.head_len + r.interim_head_bytes > o.used)
    fail(c, "counted more bytes than were used");
  if (r.head_len > cap) fail(c, "head longer than its buffer");
  if (o.rc == PGO_HTTP1_BAD && (!r.why || !r.why[0])) fail(c, "BAD without a reason");
  if (o.rc == PGO_HTTP1_DONE) {
    if (r.status < 200 || r.status > 999) fail(c, "DONE with a status out of range");
    if (head_request && r.body_bytes != 0) fail(c, "a body for a HEAD request");
    if (!head_request) check_length_framing(c, &r);
  }
  o.status = r.status;
  o.close_after = r.close_after;
  o.body_bytes = r.body_bytes;
  o.head_len = r.head_len;
  o.interim_head_bytes = r.interim_head_bytes;
  o.eof_completes = pgo_http1_at_eof(&r);
  if (o.eof_completes != (pgo_http1_finished(&r) && r.why == NULL))
    fail(c, "at_eof disagrees with the state");
  size_t used = 0;
  o.rc_after_eof = pgo_http1_feed(&r, "x", 1, &used);
  if (o.eof_completes && (o.rc_after_eof != PGO_HTTP1_DONE || used != 0))
    fail(c, "a response completed by EOF is not final");
  return o;
}

static size_t whole(const unsigned char *d, size_t n, size_t pos, size_t call) {
  (void)d; (void)n; (void)pos; (void)call;
  return 0;
}

static size_t bytewise(const unsigned char *d, size_t n, size_t pos, size_t call) {
  (void)d; (void)n; (void)pos; (void)call;
  return 1;
}

/* Piece lengths from the input: the byte at the cut (mixed with the call number), so
 * cuts land inside status lines, CRLFs, chunk-size lines and across the head's end. */
static size_t derived(const unsigned char *d, size_t n, size_t pos, size_t call) {
  (void)n;
  return 1 + (size_t)((d[pos] ^ (unsigned char)(call * 37u)) % 23u);
}

static bool same(const outcome *a, const outcome *b) {
  return a->rc == b->rc && a->used == b->used && a->status == b->status &&
         a->close_after == b->close_after && a->body_bytes == b->body_bytes &&
         a->head_len == b->head_len && a->interim_head_bytes == b->interim_head_bytes &&
         a->eof_completes == b->eof_completes && a->rc_after_eof == b->rc_after_eof;
}

static void report(const char *mode, const outcome *o) {
  fprintf(stderr, "  %-8s rc %d used %zu status %d close %d body %llu head %zu interim %llu "
          "eof %d after-eof %d\n", mode, o->rc, o->used, o->status, o->close_after,
          (unsigned long long)o->body_bytes, o->head_len,
          (unsigned long long)o->interim_head_bytes, o->eof_completes, o->rc_after_eof);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  /* The load driver's buffer, and a small one picked by the input. */
  size_t caps[2] = {PGO_HTTP1_HEAD_CAP, PGO_HTTP1_HEAD_MIN + (size ? data[0] % 112u : 0)};
  for (int i = 0; i < 2; i++) {
    /* Exactly cap bytes on the heap: ASan sees any write past the buffer. */
    char *head = malloc(caps[i]);
    if (!head) return 0;
    for (int hr = 0; hr <= 1; hr++) {
      bool head_request = hr == 1;
      outcome a = run(data, size, head_request, head, caps[i], "whole", whole);
      outcome b = run(data, size, head_request, head, caps[i], "bytewise", bytewise);
      outcome d = run(data, size, head_request, head, caps[i], "derived", derived);
      if (!same(&a, &b) || !same(&a, &d)) {
        report("whole", &a);
        report("bytewise", &b);
        report("derived", &d);
        run_ctx all = {"all", head_request, caps[i]};
        fail(&all, "the result depends on how the bytes were split");
      }
    }
    free(head);
  }
  return 0;
}
