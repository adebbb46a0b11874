/* strtab.c: interned strings (each distinct string stored once) and the u64 map. */
#include <stdlib.h>
#include <string.h>
#include "pgolua/core.h"

uint64_t pgo_hash_bytes(const void *data, size_t n) {
  /* FNV-1a over 8-byte words, then a final mix: fast and good enough for names. */
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  while (n--) h = (h ^ *p++) * 0x100000001b3ULL;
  return pgo_hash_mix(h, 0);
}

static bool strtab_rehash(pgo_strtab *t, size_t nslots) {
  uint32_t *slots = pgo_zeroed(nslots, sizeof *slots);
  if (!slots) return false;
  for (size_t id = 0; id < t->count; id++) {
    size_t i = pgo_hash_bytes(t->ent[id].s, t->ent[id].len) & (nslots - 1);
    while (slots[i]) i = (i + 1) & (nslots - 1);
    slots[i] = (uint32_t)id + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
  return true;
}

bool pgo_strtab_init(pgo_strtab *t) {
  memset(t, 0, sizeof *t);
  pgo_arena_init(&t->pool);
  uint32_t id;
  return pgo_strtab_intern(t, "", 0, &id);
}

void pgo_strtab_free(pgo_strtab *t) {
  pgo_arena_free(&t->pool);
  free(t->ent);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static bool strtab_lookup(const pgo_strtab *t, const char *s, size_t len, uint64_t h,
                          size_t *slot, uint32_t *id) {
  if (!t->nslots) { *slot = 0; return false; }
  size_t i = h & (t->nslots - 1);
  for (;;) {
    uint32_t v = t->slots[i];
    if (!v) { *slot = i; return false; }
    uint32_t cand = v - 1;
    if (t->ent[cand].len == len && memcmp(t->ent[cand].s, s, len) == 0) { *id = cand; return true; }
    i = (i + 1) & (t->nslots - 1);
  }
}

bool pgo_strtab_find(const pgo_strtab *t, const char *s, size_t len, uint32_t *id) {
  size_t slot;
  return strtab_lookup(t, s, len, pgo_hash_bytes(s, len), &slot, id);
}

bool pgo_strtab_intern(pgo_strtab *t, const char *s, size_t len, uint32_t *id) {
  if (len > UINT32_MAX - 1) return false;
  uint64_t h = pgo_hash_bytes(s, len);
  size_t slot;
  if (strtab_lookup(t, s, len, h, &slot, id)) return true;
  if (t->count >= UINT32_MAX - 1) return false;
  if ((t->count + 1) * 2 > t->nslots) {
    if (!strtab_rehash(t, t->nslots ? t->nslots * 2 : 1024)) return false;
    strtab_lookup(t, s, len, h, &slot, id);
  }
  if (!PGO_RESERVE(t->ent, t->cap, t->count + 1)) return false;
  char *copy = pgo_arena_alloc(&t->pool, len + 1);
  if (!copy) return false;
  if (len) memcpy(copy, s, len);
  copy[len] = '\0';
  t->ent[t->count].s = copy;
  t->ent[t->count].len = (uint32_t)len;
  t->slots[slot] = (uint32_t)t->count + 1;
  *id = (uint32_t)t->count++;
  return true;
}

/* ---- u64 map ---------------------------------------------------------------------- */

void pgo_u64map_init(pgo_u64map *m) { memset(m, 0, sizeof *m); }

void pgo_u64map_free(pgo_u64map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static bool u64map_rehash(pgo_u64map *m, size_t nslots) {
  uint64_t *keys = malloc(nslots * sizeof *keys);
  uint32_t *vals = pgo_zeroed(nslots, sizeof *vals);
  if (!keys || !vals) { free(keys); free(vals); return false; }
  for (size_t i = 0; i < m->nslots; i++) {
    if (!m->vals[i]) continue;
    size_t j = pgo_hash_mix(m->keys[i], 0) & (nslots - 1);
    while (vals[j]) j = (j + 1) & (nslots - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->nslots = nslots;
  return true;
}

bool pgo_u64map_get(const pgo_u64map *m, uint64_t key, uint32_t *val) {
  if (!m->nslots) return false;
  size_t i = pgo_hash_mix(key, 0) & (m->nslots - 1);
  while (m->vals[i]) {
    if (m->keys[i] == key) { *val = m->vals[i] - 1; return true; }
    i = (i + 1) & (m->nslots - 1);
  }
  return false;
}

bool pgo_u64map_upsert(pgo_u64map *m, uint64_t key, uint32_t *val, bool *found) {
  if ((m->count + 1) * 2 > m->nslots && !u64map_rehash(m, m->nslots ? m->nslots * 2 : 256))
    return false;
  size_t i = pgo_hash_mix(key, 0) & (m->nslots - 1);
  while (m->vals[i]) {
    if (m->keys[i] == key) { *val = m->vals[i] - 1; *found = true; return true; }
    i = (i + 1) & (m->nslots - 1);
  }
  m->keys[i] = key;
  m->vals[i] = *val + 1;
  m->count++;
  *found = false;
  return true;
}
