/* source.c: incremental gunzip (zlib) with a size limit, multi-member aware. */
#include <stdlib.h>
#include <string.h>
#include "source.h"

enum { WINDOW_INITIAL = 1 << 20 };

bool pgo_source_open(pgo_source *s, const void *data, size_t len, uint64_t limit, pgo_error *err) {
  memset(s, 0, sizeof *s);
  s->in = data;
  s->in_len = len;
  s->limit = limit;
  s->gz = len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
  if (!s->gz) {
    if (len > limit)
      return pgo_fail(err, "too_large", "the profile is %zu bytes, over the limit of %llu bytes;"
                      " raise the limit (max_decompressed) if the file is genuine", len,
                      (unsigned long long)limit);
    s->buf = (unsigned char *)data;
    s->cap = s->end = len;
    s->done = true;
    return true;
  }
  if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
    return pgo_fail(err, "nomem", "cannot start gzip decompression (zlib: out of memory)");
  s->z_live = true;
  s->z.next_in = (Bytef *)s->in;
  s->z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
  s->members = 1;
  s->buf = malloc(WINDOW_INITIAL);
  if (!s->buf) return pgo_fail(err, "nomem", "out of memory for the decompression window");
  s->cap = WINDOW_INITIAL;
  return true;
}

void pgo_source_close(pgo_source *s) {
  if (s->z_live) inflateEnd(&s->z);
  if (s->gz) free(s->buf);
  memset(s, 0, sizeof *s);
}

static size_t consumed_in(const pgo_source *s) {
  return (size_t)((const unsigned char *)s->z.next_in - s->in);
}

/* Keep avail_in topped up for inputs over 4 GiB (zlib counts in uInt). */
static void refill_in(pgo_source *s) {
  size_t left = s->in_len - consumed_in(s);
  s->z.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
}

bool pgo_source_fill(pgo_source *s, size_t n, pgo_error *err) {
  if (s->end - s->pos >= n || s->done) return true;
  /* make room: slide unread bytes to the front, then grow if one field needs more */
  if (s->cap - s->pos < n) {
    size_t unread = s->end - s->pos;
    memmove(s->buf, s->buf + s->pos, unread);
    s->base += s->pos;
    s->pos = 0;
    s->end = unread;
    if (s->cap < n) {
      /* a field longer than what the limit lets the data hold can never be complete */
      if (n > s->limit || s->base > s->limit - n)
        return pgo_fail(err, "too_large", "a field at byte %llu needs %zu bytes, past the"
                        " limit of %llu decompressed bytes (max_decompressed)",
                        (unsigned long long)s->base, n, (unsigned long long)s->limit);
      size_t ncap = s->cap;
      while (ncap < n) ncap = ncap > SIZE_MAX / 2 ? n : ncap * 2;
      unsigned char *nb = realloc(s->buf, ncap);
      if (!nb) return pgo_fail(err, "nomem", "out of memory for a %zu-byte field", n);
      s->buf = nb;
      s->cap = ncap;
    }
  }
  while (s->end - s->pos < n && !s->done) {
    refill_in(s);
    s->z.next_out = s->buf + s->end;
    s->z.avail_out = (uInt)(s->cap - s->end > UINT32_MAX ? UINT32_MAX : s->cap - s->end);
    int rc = inflate(&s->z, Z_NO_FLUSH);
    size_t produced = (size_t)(s->z.next_out - (s->buf + s->end));
    s->end += produced;
    if (s->base + s->end > s->limit)
      return pgo_fail(err, "too_large", "the profile decompresses to more than %llu bytes"
                      " (a gzip bomb, or a genuinely huge profile: raise max_decompressed)",
                      (unsigned long long)s->limit);
    if (rc == Z_STREAM_END) {
      size_t at = consumed_in(s);
      if (at == s->in_len) { s->done = true; break; }
      /* another gzip member follows: read it as part of the same stream */
      if (s->in_len - at < 2 || s->in[at] != 0x1f || s->in[at + 1] != 0x8b)
        return pgo_fail(err, "bad_gzip", "%zu bytes of garbage follow the gzip data at"
                        " compressed byte %zu; the file was corrupted or appended to",
                        s->in_len - at, at);
      inflateReset(&s->z);
      s->members++;
      continue;
    }
    if (rc == Z_BUF_ERROR && s->z.avail_in == 0 && consumed_in(s) == s->in_len)
      return pgo_fail(err, "truncated", "the gzip stream ends early: %zu compressed bytes gave"
                      " %llu bytes before the data stopped (an interrupted download or copy?);"
                      " capture or copy the profile again",
                      s->in_len, (unsigned long long)(s->base + s->end));
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR)
      return pgo_fail(err, "bad_gzip", "corrupt gzip data at compressed byte %zu (zlib: %s);"
                      " the file is damaged: capture or copy it again",
                      consumed_in(s), s->z.msg ? s->z.msg : "data error");
    if (rc == Z_MEM_ERROR)
      return pgo_fail(err, "nomem", "out of memory while decompressing");
  }
  return true;
}
