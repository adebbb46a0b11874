/* core.h: the small pieces every capability uses: errors, an arena, growable arrays,
 * interned strings and an integer hash map. No Lua here. */
#ifndef PGOLUA_CORE_H
#define PGOLUA_CORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ------------------------------------------------------------------------ */

/* A failure on outside data: a short stable code ("truncated", "not_pprof", ...) and a
 * message that says what was wrong, where, and what to do. */
typedef struct pgo_error {
  char code[32];
  char message[768];
} pgo_error;

/* Fill err (if not NULL) and return false, so callers can `return pgo_fail(...)`. */
bool pgo_fail(pgo_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The one errno table of the program: fill err with "<what> <path>: <strerror(e)><hint>"
 * and a stable code (not_found, permission, is_directory, read_only, no_space,
 * cross_device, nomem, io); returns false. */
bool pgo_fail_errno(pgo_error *err, int e, const char *what, const char *path);
/* Prefix an existing message with "<prefix>: ". */
void pgo_error_prefix(pgo_error *err, const char *prefix);

/* ---- arena: bump allocation, freed in one call ---------------------------------------- */

typedef struct pgo_arena_block pgo_arena_block;
typedef struct pgo_arena {
  pgo_arena_block *head;
  size_t used_bytes;          /* total handed out, for reports */
} pgo_arena;

void pgo_arena_init(pgo_arena *a);
/* 16-byte aligned memory, or NULL when out of memory (or n absurdly large). */
void *pgo_arena_alloc(pgo_arena *a, size_t n);
/* Forget every allocation but keep the first block for reuse. */
void pgo_arena_reset(pgo_arena *a);
void pgo_arena_free(pgo_arena *a);

/* ---- growable arrays (realloc, doubling) ---------------------------------------------- */

/* Grow *data (elements of size elem) so that at least need elements fit.
 * Returns false when out of memory or when the size would overflow. */
bool pgo_grow(void **data, size_t *cap, size_t need, size_t elem);
#define PGO_RESERVE(ptr, cap, need) pgo_grow((void **)&(ptr), &(cap), (need), sizeof *(ptr))

/* calloc for hash tables: the pages are written now. A large calloc maps the shared zero
 * page, so a table probed (read) before it is written faults twice per page, the second
 * time with a TLB flush on every CPU; on a VM that was a third of a profile load. */
void *pgo_zeroed(size_t n, size_t elem);

/* ---- interned strings --------------------------------------------------------------- */

/* Every distinct string is stored once; id 0 is always "". */
typedef struct pgo_strtab {
  pgo_arena pool;             /* the bytes, NUL-terminated */
  struct pgo_strent { const char *s; uint32_t len; } *ent;   /* id -> bytes, length */
  size_t count, cap;
  uint32_t *slots;            /* open addressing: id + 1, 0 = empty */
  size_t nslots;
} pgo_strtab;

bool pgo_strtab_init(pgo_strtab *t);
void pgo_strtab_free(pgo_strtab *t);
/* The id of the string (added if new); false when out of memory. */
bool pgo_strtab_intern(pgo_strtab *t, const char *s, size_t len, uint32_t *id);
/* The id of an existing string, or false. */
bool pgo_strtab_find(const pgo_strtab *t, const char *s, size_t len, uint32_t *id);
static inline const char *pgo_str(const pgo_strtab *t, uint32_t id) { return t->ent[id].s; }
static inline uint32_t pgo_strlen(const pgo_strtab *t, uint32_t id) { return t->ent[id].len; }

/* ---- integer hash map: uint64 key -> uint32 value ------------------------------------ */

typedef struct pgo_u64map {
  uint64_t *keys;
  uint32_t *vals;             /* value + 1, 0 = empty slot */
  size_t count, nslots;
} pgo_u64map;

void pgo_u64map_init(pgo_u64map *m);
void pgo_u64map_free(pgo_u64map *m);
/* Find key; when absent insert it with value *val. *found tells which happened and *val
 * holds the stored value afterwards. False when out of memory. */
bool pgo_u64map_upsert(pgo_u64map *m, uint64_t key, uint32_t *val, bool *found);
bool pgo_u64map_get(const pgo_u64map *m, uint64_t key, uint32_t *val);

/* ---- hashing ------------------------------------------------------------------------- */

/* Combine v into h; a full finaliser so every bit reaches the low (slot) bits. */
static inline uint64_t pgo_hash_mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}
uint64_t pgo_hash_bytes(const void *data, size_t n);

#endif
