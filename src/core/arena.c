/* arena.c: a bump allocator in chained blocks, and the growable-array helper. */
#include <stdlib.h>
#include <string.h>
#include "pgolua/core.h"

struct pgo_arena_block {
  pgo_arena_block *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

enum { ARENA_MIN_BLOCK = 64 * 1024 };

void pgo_arena_init(pgo_arena *a) { a->head = NULL; a->used_bytes = 0; }

void *pgo_arena_alloc(pgo_arena *a, size_t n) {
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + 15) & ~(size_t)15;
  pgo_arena_block *b = a->head;
  if (!b || b->size - b->used < n) {
    size_t size = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
    if (b && b->size * 2 > size && b->size < (64u << 20)) size = b->size * 2;
    b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  a->used_bytes += n;
  return p;
}

void pgo_arena_reset(pgo_arena *a) {
  if (!a->head) return;
  /* keep the newest (largest) block, free the rest */
  pgo_arena_block *keep = a->head, *b = keep->next;
  while (b) { pgo_arena_block *n = b->next; free(b); b = n; }
  keep->next = NULL;
  keep->used = 0;
  a->used_bytes = 0;
}

void pgo_arena_free(pgo_arena *a) {
  pgo_arena_block *b = a->head;
  while (b) { pgo_arena_block *n = b->next; free(b); b = n; }
  a->head = NULL;
  a->used_bytes = 0;
}

bool pgo_grow(void **data, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) return false;
    ncap *= 2;
  }
  if (ncap > SIZE_MAX / elem) return false;
  void *p = realloc(*data, ncap * elem);
  if (!p) return false;
  *data = p;
  *cap = ncap;
  return true;
}

void *pgo_zeroed(size_t n, size_t elem) {
  if (elem && n > SIZE_MAX / elem) return NULL;
  void *p = malloc(n * elem > 0 ? n * elem : 1);
  if (p) memset(p, 0, n * elem);
  return p;
}
