/* gen.c: a deterministic synthetic Go CPU profile generator for benchmarks.
 *
 *   gen --samples N --functions F --depth D --seed S --out FILE
 *       [--labels K] [--share high|low] [--inline PCT] [--recursion PCT]
 *
 * Test data only, not part of pgolua: it writes profile.proto by hand (gzip, zlib level 1)
 * in the Go runtime's layout: sample types samples/count + cpu/nanoseconds, period type
 * cpu/nanoseconds, period 10ms, then one Sample message per sample (values (1, 1e7), now
 * and then (k, k*1e7)), then one mapping, the locations, the functions, and the string
 * table last. Ids are given in order of first use, as the runtime does.
 *
 * Shape: a synthetic call graph over F functions. A few roots (main.main, worker loops)
 * sit at index 0..ROOTS-1; each other function calls 2..8 functions with higher indexes
 * (mostly a DAG, so stacks reach depth D without recursion), and the last UTIL functions
 * are runtime/util leaves. A walk starts at a root and picks each callee with a Zipf skew.
 * A pool of base paths (walks of depth uniform in [D/2, D]) is drawn from with a Zipf
 * skew: 30% of the samples take the base path as it is (hot paths repeat), the rest keep
 * its prefix and walk a fresh suffix of 1..8 frames, so stacks share prefixes as in real
 * profiles (a few new frames per stack) and most of them are still unique.
 * A call site is one location (address + line); every 10th also has an inlined frame.
 *
 * Knobs for the other shapes `make bench` needs:
 *   --share low     no prefix sharing: every frame is a call site drawn uniformly from all
 *                   F functions, depth uniform in [3D/4, 5D/4] (nearly every stack unique)
 *   --labels K      K string labels per sample (0..3; a bare --labels means 2)
 *   --inline PCT    percent of call sites with an inlined frame (default 10)
 *   --recursion PCT percent of walk steps that call the function itself or an ancestor
 *                   (default 0), so stacks repeat functions as recursive code does */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <zlib.h>

enum { ROOTS = 4, MAXCALLEES = 8, LEAFPCS = 4, SLOTS = MAXCALLEES + LEAFPCS, POOL = 5000,
       FUNCS_PER_PKG = 25, FILES_PER_PKG = 5 };

static const char *root_names[ROOTS] = {
  "main.main", "example.com/svc/worker.(*Pool).loop", "net/http.(*conn).serve",
  "example.com/svc/queue.(*Consumer).run",
};
static const char *runtime_names[] = {
  "runtime.mallocgc", "runtime.memmove", "runtime.mapaccess2_faststr", "runtime.scanobject",
  "syscall.Syscall", "runtime.futex", "runtime.memclrNoHeapPointers", "runtime.findObject",
  "runtime.nanotime1", "runtime.usleep", "runtime.procyield", "aeshashbody",
};
#define NRUNTIME (int)(sizeof runtime_names / sizeof *runtime_names)

/* ---- random numbers: splitmix64, and Zipf(s=1.1) over 0..n-1 via harmonic sums ------- */
static uint64_t rng;
static uint64_t next64(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double unit(void) { return (double)(next64() >> 11) * 0x1.0p-53; }
static uint32_t below(uint32_t n) { return (uint32_t)(next64() % n); }

static double *harm;                   /* harm[i] = sum_{k=1..i} k^-s */
static uint32_t zipf(uint32_t n) {
  double u = unit() * harm[n];
  uint32_t lo = 0, hi = n - 1;         /* first i with harm[i+1] > u */
  while (lo < hi) { uint32_t mid = (lo + hi) / 2; if (harm[mid + 1] > u) hi = mid; else lo = mid + 1; }
  return lo;
}

/* ---- protobuf writing ---------------------------------------------------------------- */
typedef struct { unsigned char *p; size_t len, cap; } buf;
static void put(buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
    if (!(b->p = realloc(b->p, b->cap))) { perror("gen"); exit(1); }
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}
static void varint(buf *b, uint64_t v) {
  unsigned char t[10]; size_t n = 0;
  while (v >= 0x80) { t[n++] = (unsigned char)(v | 0x80); v >>= 7; }
  t[n++] = (unsigned char)v;
  put(b, t, n);
}
static void field_varint(buf *b, int f, uint64_t v) { varint(b, (uint64_t)f << 3); varint(b, v); }
static void field_bytes(buf *b, int f, const void *d, size_t n) {
  varint(b, (uint64_t)f << 3 | 2); varint(b, n); put(b, d, n);
}
static void field_msg(buf *b, int f, buf *m) { field_bytes(b, f, m->p, m->len); m->len = 0; }

static gzFile out;
static buf outbuf;                     /* the top-level message, flushed to gzip in chunks */
static void flush(int force) {
  if (outbuf.len && (force || outbuf.len >= (1u << 20))) {
    if (gzwrite(out, outbuf.p, (unsigned)outbuf.len) != (int)outbuf.len) {
      fprintf(stderr, "gen: write failed\n"); exit(1);
    }
    outbuf.len = 0;
  }
}

/* ---- strings: ids in order of first use; only dynamic names are formatted at the end - */
static char **strs; static size_t nstrs, capstrs;
static uint32_t intern(const char *s) {
  if (nstrs == capstrs) {
    capstrs = capstrs ? capstrs * 2 : 1024;
    if (!(strs = realloc(strs, capstrs * sizeof *strs))) { perror("gen"); exit(1); }
  }
  strs[nstrs] = strdup(s);
  return (uint32_t)nstrs++;
}
static uint32_t *label_str;            /* cache for repeated label strings */
static uint32_t intern_cached(uint32_t *slot, const char *s) {
  if (!*slot) *slot = intern(s);
  return *slot;
}

/* ---- the call graph --------------------------------------------------------------------- */
typedef struct {
  uint32_t ncallees, callees[MAXCALLEES];
  uint32_t start_line;
  uint32_t id;                         /* function id in the file, 0 = not used yet */
} func;
static func *fns;
static uint32_t F, UTIL, *loc_id, *loc_order, nlocs, *fn_order, nfns;
static double recursion;               /* --recursion, as a fraction */

static const char *fn_name(uint32_t i, char *tmp, size_t n) {
  if (i < ROOTS) return root_names[i];
  if (i >= F - UTIL) {
    uint32_t u = i - (F - UTIL);
    if (u < NRUNTIME) return runtime_names[u];
    snprintf(tmp, n, "example.com/svc/internal/util.Helper%u", u);
    return tmp;
  }
  snprintf(tmp, n, "example.com/svc/pkg%u.Func%u", i / FUNCS_PER_PKG, i % FUNCS_PER_PKG);
  return tmp;
}
static void fn_file(uint32_t i, char *tmp, size_t n) {
  if (i < ROOTS) snprintf(tmp, n, "/src/example.com/svc/cmd/svc/main.go");
  else if (i >= F - UTIL) snprintf(tmp, n, "/usr/local/go/src/runtime/proc%u.go", i % 7);
  else snprintf(tmp, n, "/src/example.com/svc/pkg%u/file%u.go", i / FUNCS_PER_PKG,
                i % FUNCS_PER_PKG % FILES_PER_PKG);
}

static uint32_t use_loc(uint32_t fn, uint32_t slot) {
  uint32_t key = fn * SLOTS + slot;
  if (!loc_id[key]) { loc_id[key] = ++nlocs; loc_order[nlocs - 1] = key; }
  return loc_id[key];
}
static uint32_t use_fn(uint32_t i) {
  if (!fns[i].id) { fns[i].id = ++nfns; fn_order[nfns - 1] = i; }
  return fns[i].id;
}

/* Extend a stack, root first, in fr[]/slot[]: fr[0..n-1] is a prefix to keep (n = 0:
 * start at a root). The walk goes on from the last kept frame until the stack has `depth`
 * frames or reaches a function without callees; returns the stack's length. */
static uint32_t walk(uint32_t n, uint32_t depth, uint32_t *fr, uint32_t *slot) {
  uint32_t f = n ? fr[--n] : zipf(ROOTS);
  for (;;) {
    fr[n] = f;
    if (n + 1 >= depth || fns[f].ncallees == 0) { slot[n++] = MAXCALLEES + zipf(LEAFPCS); break; }
    uint32_t s = zipf(fns[f].ncallees);
    slot[n++] = s;
    f = recursion > 0 && unit() < recursion ? fr[below(n)] : fns[f].callees[s];
  }
  /* 30% of stacks end in a runtime/util leaf called from the last frame */
  if (unit() < 0.3 && fns[fr[n - 1]].ncallees) {
    slot[n - 1] = zipf(fns[fr[n - 1]].ncallees);      /* the call site */
    fr[n] = F - UTIL + zipf(UTIL);
    slot[n++] = MAXCALLEES + zipf(LEAFPCS);
  }
  return n;
}

static void usage(void) {
  fprintf(stderr, "usage: gen --samples N --functions F --depth D --seed S --out FILE\n"
          "           [--labels K] [--share high|low] [--inline PCT] [--recursion PCT]\n");
  exit(2);
}

int main(int argc, char **argv) {
  unsigned long long nsamples = 0, seed = 1;
  unsigned long depth = 32, nfunc = 5000;
  const char *path = NULL;
  unsigned long labels = 0, inline_pct = 10, recursion_pct = 0;
  int low_share = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--labels") && (!v || v[0] < '0' || v[0] > '9')) { labels = 2; continue; }
    if (!v) usage();
    if (!strcmp(a, "--labels")) labels = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--share")) {
      if (strcmp(v, "high") && strcmp(v, "low")) usage();
      low_share = !strcmp(v, "low");
    }
    else if (!strcmp(a, "--inline")) inline_pct = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--recursion")) recursion_pct = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--samples")) nsamples = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--functions")) nfunc = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--depth")) depth = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--out")) path = v;
    else usage();
    i++;
  }
  if (!path || nfunc < 64 || depth < 1 || depth > 10000 || labels > 3 || inline_pct > 100 ||
      recursion_pct > 100)
    usage();
  recursion = (double)recursion_pct / 100;
  rng = seed * 0x2545f4914f6cdd1dull + 1;
  F = (uint32_t)nfunc;
  UTIL = F / 20;                       /* 5% runtime/util leaves */

  size_t nharm = MAXCALLEES > UTIL ? MAXCALLEES + 1 : UTIL + 1;
  if (nharm < POOL + 1) nharm = POOL + 1;
  harm = malloc(nharm * sizeof *harm);
  fns = calloc(F, sizeof *fns);
  loc_id = calloc((size_t)F * SLOTS, sizeof *loc_id);
  loc_order = malloc((size_t)F * SLOTS * sizeof *loc_order);
  fn_order = malloc(F * sizeof *fn_order);
  label_str = calloc(64, sizeof *label_str);   /* handler 0..16, tenant 17..57, phase 58..62 */
  if (!harm || !fns || !loc_id || !loc_order || !fn_order || !label_str) { perror("gen"); return 1; }
  harm[0] = 0;
  for (size_t i = 1; i < nharm; i++) harm[i] = harm[i - 1] + 1.0 / pow((double)i, 1.1);

  /* call graph: callees of i are at i+1 .. i+2*span (wrapping inside the non-util part) */
  uint32_t body = F - UTIL - ROOTS, span = body / (uint32_t)depth + 1;
  for (uint32_t i = 0; i < F; i++) {
    fns[i].start_line = 10 + below(400);
    if (i >= F - UTIL) continue;
    fns[i].ncallees = 2 + below(MAXCALLEES - 1);
    for (uint32_t c = 0; c < fns[i].ncallees; c++) {
      uint32_t base = i < ROOTS ? ROOTS : i + 1;
      fns[i].callees[c] = ROOTS + (base - ROOTS + below(2 * span)) % body;
    }
  }
  /* a pool of base paths, full walks of depth uniform in [D/2, D] */
  uint32_t stride = (uint32_t)depth + 2;
  uint32_t *pool = malloc((size_t)POOL * stride * 2 * sizeof *pool), *poollen = malloc(POOL * sizeof *poollen);
  uint32_t *fr = malloc(2 * stride * sizeof *fr), *sl = malloc(2 * stride * sizeof *sl);
  if (!pool || !poollen || !fr || !sl) { perror("gen"); return 1; }
  for (uint32_t h = 0; h < POOL; h++) {
    uint32_t d = (uint32_t)depth / 2 + below((uint32_t)(depth - depth / 2) + 1);
    poollen[h] = walk(0, d ? d : 1, pool + (size_t)h * stride * 2, pool + (size_t)h * stride * 2 + stride);
  }

  char mode[] = "wb1";
  if (!(out = gzopen(path, mode))) { perror(path); return 1; }
  intern("");
  buf m = {0}, sub = {0};
  /* header, as the runtime writes it: time, sample types, duration, period type, period */
  uint32_t s_samples = intern("samples"), s_count = intern("count"), s_cpu = intern("cpu"),
           s_ns = intern("nanoseconds");
  field_varint(&outbuf, 9, 1700000000000000000ull + seed * 1000000000ull);
  field_varint(&m, 1, s_samples); field_varint(&m, 2, s_count); field_msg(&outbuf, 1, &m);
  field_varint(&m, 1, s_cpu); field_varint(&m, 2, s_ns); field_msg(&outbuf, 1, &m);
  field_varint(&outbuf, 10, nsamples * 10000000ull / 4);   /* as if 4 busy CPUs */
  field_varint(&m, 1, s_cpu); field_varint(&m, 2, s_ns); field_msg(&outbuf, 11, &m);
  field_varint(&outbuf, 12, 10000000);
  unsigned long long total = 0;

  for (unsigned long long i = 0; i < nsamples; i++) {
    /* a base path by Zipf; 30% of the time as it is (a hot path), else its prefix with
     * a fresh random suffix of 1..8 frames (shared prefix, mostly unique stack) */
    uint32_t h = zipf(POOL), n = poollen[h], *f = pool + (size_t)h * stride * 2, *s = f + stride;
    if (low_share) {                   /* every frame at random: no shared prefixes */
      n = (uint32_t)(3 * depth / 4) + below((uint32_t)(depth / 2) + 1);
      if (!n) n = 1;
      for (uint32_t k = 0; k < n; k++) { fr[k] = below(F); sl[k] = below(SLOTS); }
      f = fr; s = sl;
    } else if (unit() >= 0.3 && n > 1) {
      uint32_t r = 1 + below(n - 1 < 8 ? n - 1 : 8), keep = n - r;
      memcpy(fr, f, keep * sizeof *fr);
      memcpy(sl, s, keep * sizeof *sl);
      n = walk(keep, keep + r, fr, sl); f = fr; s = sl;
    }
    for (uint32_t k = n; k-- > 0;) varint(&sub, use_loc(f[k], s[k]));   /* leaf first */
    field_msg(&m, 1, &sub);
    uint64_t k = below(50) == 0 ? 2 + below(4) : 1;
    total += k;
    varint(&sub, k); varint(&sub, k * 10000000ull);
    field_msg(&m, 2, &sub);
    if (labels) {
      static const char *keys[] = { "handler", "tenant", "phase" };
      char tmp[64];
      uint32_t which = zipf(16);
      snprintf(tmp, sizeof tmp, "/api/v1/endpoint%u", which);
      field_varint(&sub, 1, intern_cached(&label_str[0], keys[0]));
      field_varint(&sub, 2, intern_cached(&label_str[1 + which], tmp));
      field_msg(&m, 3, &sub);
      if (labels >= 3) {
        which = below(4);
        snprintf(tmp, sizeof tmp, "phase-%u", which);
        field_varint(&sub, 1, intern_cached(&label_str[58], keys[2]));
        field_varint(&sub, 2, intern_cached(&label_str[59 + which], tmp));
        field_msg(&m, 3, &sub);
      }
      if (labels >= 2 && below(2)) {
        which = zipf(32);
        snprintf(tmp, sizeof tmp, "tenant-%u", which);
        field_varint(&sub, 1, intern_cached(&label_str[17], keys[1]));
        field_varint(&sub, 2, intern_cached(&label_str[18 + which % 40], tmp));
        field_msg(&m, 3, &sub);
      }
    }
    field_msg(&outbuf, 2, &m);
    flush(0);
  }

  /* the mapping */
  uint64_t text = 0x401000, text_end = text + (uint64_t)F * 0x400;
  field_varint(&m, 1, 1); field_varint(&m, 2, 0x400000); field_varint(&m, 3, text_end);
  field_varint(&m, 4, 0); field_varint(&m, 5, intern("/usr/local/bin/svc"));
  field_varint(&m, 6, intern("3f2a9b7c1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f70"));
  field_varint(&m, 7, 1);
  field_msg(&outbuf, 3, &m);

  /* locations, in order of first use */
  for (uint32_t i = 0; i < nlocs; i++) {
    uint32_t key = loc_order[i], fn = key / SLOTS, slot = key % SLOTS;
    uint32_t h = key * 2654435761u;
    field_varint(&m, 1, i + 1);
    field_varint(&m, 2, 1);
    field_varint(&m, 3, text + (uint64_t)fn * 0x400 + slot * 0x40 + (h >> 28));
    if ((h >> 4) % 100 < inline_pct) {   /* an inlined helper inside this call site */
      uint32_t helper = (h >> 8) % F;
      field_varint(&sub, 1, use_fn(helper));
      field_varint(&sub, 2, fns[helper].start_line + 1 + h % 7);
      field_msg(&m, 4, &sub);
    }
    field_varint(&sub, 1, use_fn(fn));
    field_varint(&sub, 2, fns[fn].start_line + 2 + slot * 3);
    field_msg(&m, 4, &sub);
    field_msg(&outbuf, 4, &m);
    flush(0);
  }

  /* functions; file names are interned once per file */
  uint32_t *file_str = calloc(F, sizeof *file_str);
  char name[128], file[128];
  for (uint32_t i = 0; i < nfns; i++) {
    uint32_t fn = fn_order[i];
    uint32_t sn = intern(fn_name(fn, name, sizeof name));
    fn_file(fn, file, sizeof file);
    uint32_t fk = fn < ROOTS ? 7 : fn >= F - UTIL ? fn % 7
                  : 8 + fn / FUNCS_PER_PKG * FILES_PER_PKG + fn % FUNCS_PER_PKG % FILES_PER_PKG;
    if (!file_str[fk]) file_str[fk] = intern(file);
    field_varint(&m, 1, i + 1); field_varint(&m, 2, sn); field_varint(&m, 3, sn);
    field_varint(&m, 4, file_str[fk]); field_varint(&m, 5, fns[fn].start_line);
    field_msg(&outbuf, 5, &m);
    flush(0);
  }

  /* the string table last */
  for (size_t i = 0; i < nstrs; i++) { field_bytes(&outbuf, 6, strs[i], strlen(strs[i])); flush(0); }
  flush(1);
  if (gzclose(out) != Z_OK) { fprintf(stderr, "gen: %s: close failed\n", path); return 1; }
  fprintf(stderr, "gen: %s: %llu samples (%llu total count), %u locations, %u functions, %zu strings\n",
          path, nsamples, total, nlocs, nfns, nstrs);
  return 0;
}
