/* http1.c: the HTTP/1.1 response reader of include/pgolua/http1.h.
 *
 * A byte-driven state machine. Everything that comes from the server is bounded before
 * it is used: the head never grows past the caller's buffer, a chunk-size or trailer
 * line past PGO_HTTP1_LINE_CAP, Content-Length and chunk sizes past 2^64-1 (checked
 * before each multiply-add, not after), and the body is only counted. */
#include <string.h>
#include <strings.h>
#include "pgolua/http1.h"

enum {
  ST_HEAD,                     /* reading a head (interim or final) */
  ST_BODY_LEN,                 /* Content-Length body: `left` bytes to go */
  ST_CHUNK_SIZE,               /* chunked: a chunk-size line */
  ST_CHUNK_DATA,               /* chunked: `left` bytes of chunk data */
  ST_CHUNK_CRLF,               /* chunked: the CRLF after chunk data (`left` bytes of it) */
  ST_TRAILER,                  /* chunked: trailer lines until an empty one */
  ST_BODY_EOF,                 /* no framing: the body ends when the server closes */
  ST_DONE,                     /* complete; final */
  ST_BAD                       /* not an HTTP/1.x response; final */
};

void pgo_http1_init(pgo_http1_response *r, char *head, size_t head_cap) {
  r->head = head;
  r->head_cap = head_cap;
  pgo_http1_begin(r, false);
}

void pgo_http1_begin(pgo_http1_response *r, bool head_request) {
  r->status = 0;
  r->close_after = false;
  r->body_bytes = 0;
  r->head_len = 0;
  r->interim_head_bytes = 0;
  r->why = NULL;
  r->state = ST_HEAD;
  r->head_request = head_request;
  r->left = 0;
  r->line_len = 0;
}

bool pgo_http1_finished(const pgo_http1_response *r) {
  return r->state == ST_DONE || r->state == ST_BAD;
}

static void fail(pgo_http1_response *r, const char *why) {
  r->state = ST_BAD;
  r->why = why;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The next element of a comma-separated header list in v[*pos..n), trimmed of white
 * space; false when none is left. Empty elements ("a, ,b") are skipped, as RFC 9110
 * section 5.6.1 asks of recipients. */
static bool next_list_item(const char *v, size_t n, size_t *pos, const char **item,
                           size_t *len) {
  while (*pos < n) {
    size_t start = *pos, end = start;
    while (end < n && v[end] != ',') end++;
    *pos = end < n ? end + 1 : n;
    while (start < end && is_ows(v[start])) start++;
    while (end > start && is_ows(v[end - 1])) end--;
    if (end > start) {
      *item = v + start;
      *len = end - start;
      return true;
    }
  }
  return false;
}

static bool token_is(const char *item, size_t len, const char *token) {
  return strlen(token) == len && strncasecmp(item, token, len) == 0;
}

/* True when the list v[0..n) has `token` as one of its elements. */
static bool list_has(const char *v, size_t n, const char *token) {
  size_t pos = 0, len;
  const char *item;
  while (next_list_item(v, n, &pos, &item, &len))
    if (token_is(item, len, token)) return true;
  return false;
}

/* A Content-Length value: decimal digits only, at most 2^64-1. */
static bool parse_length(const char *v, size_t n, uint64_t *out) {
  if (n == 0) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(v[i])) return false;
    uint64_t d = (uint64_t)(v[i] - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *out = x;
  return true;
}

/* What the header lines say about framing. */
typedef struct head_facts {
  bool conn_close, conn_keep_alive;
  bool has_te, te_chunked_last;
  bool has_length;
  uint64_t length;
} head_facts;

/* Read the header lines of head[0..len) (after the status line). False (with r->why)
 * when they contradict each other or a framing value is malformed. */
static bool read_headers(pgo_http1_response *r, const char *head, size_t len, head_facts *f) {
  memset(f, 0, sizeof *f);
  const char *end = head + len;
  const char *line = memchr(head, '\n', len);       /* skip the status line */
  while (line && line + 1 < end) {
    line++;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) break;
    const char *le = eol;
    if (le > line && le[-1] == '\r') le--;
    const char *colon = memchr(line, ':', (size_t)(le - line));
    if (colon) {
      /* Name and value; the value trimmed of surrounding white space. Lines without a
       * colon, or with white space before it, name nothing we read. */
      size_t nl = (size_t)(colon - line);
      const char *v = colon + 1, *ve = le;
      while (v < ve && is_ows(*v)) v++;
      while (ve > v && is_ows(ve[-1])) ve--;
      size_t vl = (size_t)(ve - v);
      if (nl == 10 && strncasecmp(line, "Connection", nl) == 0) {
        if (list_has(v, vl, "close")) f->conn_close = true;
        if (list_has(v, vl, "keep-alive")) f->conn_keep_alive = true;
      } else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", nl) == 0) {
        /* Several lines form one list: the last coding of the last line decides. */
        size_t pos = 0, il;
        const char *item, *last = NULL;
        size_t last_len = 0;
        while (next_list_item(v, vl, &pos, &item, &il)) { last = item; last_len = il; }
        if (!last) { fail(r, "Transfer-Encoding names no coding"); return false; }
        f->has_te = true;
        f->te_chunked_last = token_is(last, last_len, "chunked");
      } else if (nl == 14 && strncasecmp(line, "Content-Length", nl) == 0) {
        uint64_t n;
        if (!parse_length(v, vl, &n)) {
          fail(r, "Content-Length is not a decimal number below 2^64");
          return false;
        }
        if (f->has_length && n != f->length) {
          fail(r, "two Content-Length headers with different values");
          return false;
        }
        f->has_length = true;
        f->length = n;
      }
    }
    line = eol;
  }
  return true;
}

/* A complete head is in head[0..head_len): read the status and decide what follows. */
static void on_head(pgo_http1_response *r) {
  const char *h = r->head;
  size_t len = r->head_len;
  /* "HTTP/1.1 200" then a space (reason) or the end of the line; CRLF CRLF follows, so
   * 16 bytes is the shortest head. */
  if (len < 16 || memcmp(h, "HTTP/1.", 7) != 0 || !is_digit(h[7]) || h[8] != ' ' ||
      h[9] < '1' || h[9] > '9' || !is_digit(h[10]) || !is_digit(h[11]) ||
      (h[12] != ' ' && h[12] != '\r' && h[12] != '\n')) {
    fail(r, "the status line is not \"HTTP/1.x NNN reason\"");
    return;
  }
  int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  head_facts f;
  if (!read_headers(r, h, len, &f)) return;
  if (status == 101) {
    fail(r, "101 Switching Protocols to a request that asked for no upgrade");
    return;
  }
  if (status < 200) {                               /* interim: the final head follows */
    r->interim_head_bytes += len;
    r->head_len = 0;
    return;
  }
  r->status = status;
  r->close_after = h[7] == '0' ? !f.conn_keep_alive : f.conn_close;
  if (r->head_request || status == 204 || status == 304) {
    r->state = ST_DONE;
    return;
  }
  if (f.has_te) {
    /* RFC 9112 section 6.3: Transfer-Encoding wins over Content-Length; without chunked
     * last, a response's body runs until the connection closes. */
    if (f.te_chunked_last) {
      r->state = ST_CHUNK_SIZE;
      r->line_len = 0;
    } else {
      r->state = ST_BODY_EOF;
      r->close_after = true;
    }
    return;
  }
  if (f.has_length) {
    r->left = f.length;
    r->state = f.length ? ST_BODY_LEN : ST_DONE;
    return;
  }
  r->state = ST_BODY_EOF;
  r->close_after = true;
}

/* ST_HEAD: append to the head buffer until CRLF CRLF. Returns the bytes used. */
static size_t read_head(pgo_http1_response *r, const char *p, size_t n) {
  size_t room = r->head_cap > r->head_len ? r->head_cap - r->head_len : 0;
  size_t take = n < room ? n : room;
  /* The terminator may straddle the previous call: look back 3 bytes. */
  size_t from = r->head_len > 3 ? r->head_len - 3 : 0;
  memcpy(r->head + r->head_len, p, take);
  size_t filled = r->head_len + take;
  for (size_t i = from; i + 4 <= filled; i++) {
    if (memcmp(r->head + i, "\r\n\r\n", 4) == 0) {
      size_t used = i + 4 - r->head_len;
      r->head_len = i + 4;
      on_head(r);
      return used;
    }
  }
  r->head_len = filled;
  if (filled >= r->head_cap) fail(r, "the response head is larger than the head buffer");
  return take;
}

/* ST_CHUNK_SIZE and ST_TRAILER: one byte of a line; acts on the line at its LF. */
static void line_byte(pgo_http1_response *r, char c) {
  if (c != '\n') {
    if (r->line_len >= PGO_HTTP1_LINE_CAP - 1) {
      fail(r, r->state == ST_TRAILER ? "a trailer line is too long"
                                     : "a chunk-size line is too long");
      return;
    }
    r->line[r->line_len++] = c;
    return;
  }
  size_t l = r->line_len;
  if (l > 0 && r->line[l - 1] == '\r') l--;
  r->line_len = 0;
  if (r->state == ST_TRAILER) {
    if (l == 0) r->state = ST_DONE;                 /* the empty line ends the message */
    return;
  }
  uint64_t size = 0;
  size_t i = 0;
  for (; i < l; i++) {
    int d = hex_value(r->line[i]);
    if (d < 0) break;
    if (size > (UINT64_MAX >> 4)) { fail(r, "a chunk size is above 2^64"); return; }
    size = size * 16 + (uint64_t)d;
  }
  if (i == 0) { fail(r, "a chunk-size line does not start with a hex number"); return; }
  while (i < l && is_ows(r->line[i])) i++;
  if (i < l && r->line[i] != ';') {                 /* ';' starts chunk extensions */
    fail(r, "a chunk-size line has bytes after the size that are no extension");
    return;
  }
  if (size == 0) {
    r->state = ST_TRAILER;
  } else {
    r->state = ST_CHUNK_DATA;
    r->left = size;
  }
}

int pgo_http1_feed(pgo_http1_response *r, const void *data, size_t n, size_t *used) {
  const char *p = data;
  size_t i = 0;
  while (i < n && r->state != ST_DONE && r->state != ST_BAD) {
    switch (r->state) {
    case ST_HEAD:
      i += read_head(r, p + i, n - i);
      break;
    case ST_BODY_LEN:
    case ST_CHUNK_DATA: {
      uint64_t avail = (uint64_t)(n - i);
      uint64_t take = avail < r->left ? avail : r->left;
      r->body_bytes += take;
      r->left -= take;
      i += (size_t)take;                            /* take <= n - i */
      if (r->left == 0) {
        if (r->state == ST_BODY_LEN) {
          r->state = ST_DONE;
        } else {
          r->state = ST_CHUNK_CRLF;
          r->left = 2;
        }
      }
      break;
    }
    case ST_CHUNK_CRLF: {
      char c = p[i++];
      if (c != (r->left == 2 ? '\r' : '\n')) {
        fail(r, "chunk data is not followed by CRLF");
        break;
      }
      if (--r->left == 0) {
        r->state = ST_CHUNK_SIZE;
        r->line_len = 0;
      }
      break;
    }
    case ST_CHUNK_SIZE:
    case ST_TRAILER:
      line_byte(r, p[i++]);
      break;
    case ST_BODY_EOF:
      r->body_bytes += (uint64_t)(n - i);
      i = n;
      break;
    default:
      break;
    }
  }
  *used = i;
  if (r->state == ST_DONE) return PGO_HTTP1_DONE;
  if (r->state == ST_BAD) return PGO_HTTP1_BAD;
  return PGO_HTTP1_MORE;
}

bool pgo_http1_at_eof(pgo_http1_response *r) {
  if (r->state == ST_BODY_EOF) r->state = ST_DONE;
  return r->state == ST_DONE;
}
