/* source.h: a byte window over raw or gzip-compressed input, inflated incrementally so
 * the decompressed profile is never held whole (internal to src/profile). */
#ifndef PGOLUA_PROFILE_SOURCE_H
#define PGOLUA_PROFILE_SOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "pgolua/core.h"

typedef struct {
  const unsigned char *in;      /* the input as given */
  size_t in_len;
  bool gz;
  z_stream z;
  bool z_live;                  /* inflateInit2 done, inflateEnd owed */
  bool done;                    /* no more bytes will come */
  unsigned char *buf;           /* window (== in for raw input) */
  size_t cap, pos, end;         /* unread bytes are buf[pos..end) */
  uint64_t base;                /* absolute offset of buf[0] in the decompressed data */
  uint64_t limit;               /* maximum decompressed size */
  int members;                  /* gzip members seen */
} pgo_source;

bool pgo_source_open(pgo_source *s, const void *data, size_t len, uint64_t limit, pgo_error *err);
void pgo_source_close(pgo_source *s);
/* Make at least n unread bytes available. Returns false with err set on a gzip error or
 * the size limit; returns true with fewer bytes only at the end of the data. */
bool pgo_source_fill(pgo_source *s, size_t n, pgo_error *err);
static inline size_t pgo_source_avail(const pgo_source *s) { return s->end - s->pos; }
static inline uint64_t pgo_source_offset(const pgo_source *s) { return s->base + s->pos; }

#endif
