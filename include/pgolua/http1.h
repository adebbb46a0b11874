/* http1.h: a reader of one HTTP/1.1 response from raw bytes, with no socket, no
 * allocation and no libcurl. The load driver's raw engine (src/net/loaddriver.c) frames
 * its responses with it; fuzz/net_http1.c feeds it arbitrary bytes.
 *
 * What it understands (RFC 9112, the client side of one request at a time):
 *   - the head: "HTTP/1.<digit> <3 digits>" then header lines, ended by CRLF CRLF; kept
 *     in a buffer the caller owns (at most head_cap bytes, else the response is bad);
 *   - interim 1xx heads (100, 102, 103, ...), dropped and counted in interim_head_bytes,
 *     then the final head; 101 is bad (the load driver never asks for an Upgrade);
 *   - no body for a HEAD request, 204 and 304;
 *   - Transfer-Encoding with chunked last: chunk-size lines (hex, optional extensions
 *     after ';'), data, CRLF, then trailer lines until an empty one;
 *   - Transfer-Encoding without chunked last: the body runs to the end of the
 *     connection (it wins over Content-Length, RFC 9112 section 6.3);
 *   - Content-Length (decimal, at most 2^64-1);
 *   - neither: the body runs until the server closes the connection;
 *   - Connection: close (or HTTP/1.0 without keep-alive): close_after.
 * Body bytes are counted, not kept.
 *
 * Feeding: pgo_http1_feed() takes any split of the bytes (one at a time or all at once
 * give the same result) and says how many it used. It stops at the end of the response,
 * so bytes after it (the start of something else, or garbage a server sent) are left to
 * the caller. DONE and BAD are final: later calls use nothing and return the same. */
#ifndef PGOLUA_HTTP1_H
#define PGOLUA_HTTP1_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGO_HTTP1_HEAD_CAP 16384         /* the head buffer size the load driver uses */
#define PGO_HTTP1_HEAD_MIN 16            /* the smallest usable head buffer */
#define PGO_HTTP1_LINE_CAP 256           /* longest chunk-size or trailer line, CRLF included */

/* What pgo_http1_feed() returns. */
enum {
  PGO_HTTP1_MORE,                        /* the response is not complete yet */
  PGO_HTTP1_DONE,                        /* the response is complete */
  PGO_HTTP1_BAD                          /* the bytes are not an HTTP/1.x response (see why) */
};

typedef struct pgo_http1_response {
  /* the caller's head buffer (pgo_http1_init) */
  char *head;
  size_t head_cap;

  /* the outcome so far; valid to read at any time */
  int status;                            /* of the final head; 0 until it is read */
  bool close_after;                      /* the connection must not carry another request */
  uint64_t body_bytes;                   /* body bytes read (chunked: data only) */
  size_t head_len;                       /* bytes of the head in `head` (the final head,
                                            once read; CRLF CRLF included) */
  uint64_t interim_head_bytes;           /* bytes of the 1xx heads dropped */
  const char *why;                       /* after BAD: what was wrong (a string literal) */

  /* private */
  int state;
  bool head_request;
  uint64_t left;                         /* Content-Length / chunk bytes to go */
  size_t line_len;
  char line[PGO_HTTP1_LINE_CAP];
} pgo_http1_response;

/* Give r its head buffer (head_cap >= PGO_HTTP1_HEAD_MIN bytes, kept by the caller for
 * r's life) and begin a response to a GET. */
void pgo_http1_init(pgo_http1_response *r, char *head, size_t head_cap);

/* Forget the previous response and wait for the one to a new request; head_request: the
 * request was HEAD (the response has no body whatever its head says). */
void pgo_http1_begin(pgo_http1_response *r, bool head_request);

/* Read up to n bytes of p. *used receives how many belong to this response (all of them
 * with MORE; the response's end with DONE; up to and including the offending byte with
 * BAD). Returns PGO_HTTP1_MORE, _DONE or _BAD. */
int pgo_http1_feed(pgo_http1_response *r, const void *p, size_t n, size_t *used);

/* The server closed the connection. True when that completes the response (a body that
 * runs until close; the response is then DONE), or it was complete already; false when
 * the response is cut short or bad. */
bool pgo_http1_at_eof(pgo_http1_response *r);

/* True once the response is DONE or BAD (nothing more will be used). */
bool pgo_http1_finished(const pgo_http1_response *r);

#endif
