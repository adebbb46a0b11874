/* inflate.c: the in-process decompression floor for `make bench`.
 *
 *   inflate FILE [REPEATS]
 *
 * Reads a gzip file into memory, then gunzips it whole REPEATS times (default 5) into a
 * buffer sized from the gzip trailer, with zlib (streaming inflate, as pgolua's decoder
 * uses it) and, when built with -DHAVE_LIBDEFLATE, with libdeflate's whole-buffer gzip
 * decompressor. Prints one line per decompressor: name, median seconds, MB/s of output.
 * Time excludes reading the file. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp);
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void die(const char *what) { fprintf(stderr, "inflate: %s\n", what); exit(1); }

/* One pass of zlib over the whole input, in 1 MiB chunks of output like a streaming
 * decoder would; the data lands in out (cap bytes). Returns bytes produced. */
static size_t zlib_pass(const unsigned char *in, size_t len, unsigned char *out, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) die("inflateInit2 failed");
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  size_t total = 0;
  int rc;
  do {
    size_t room = cap - total;
    z.next_out = out + total;
    z.avail_out = (uInt)(room < (1u << 20) ? room : (1u << 20));
    rc = inflate(&z, Z_NO_FLUSH);
    total = (size_t)(z.next_out - out);
    if (rc == Z_STREAM_END && z.avail_in > 0) {       /* another gzip member */
      if (inflateReset(&z) != Z_OK) die("inflateReset failed");
      rc = Z_OK;
    }
  } while (rc == Z_OK && total < cap);
  if (rc != Z_STREAM_END && rc != Z_OK) die("zlib: bad gzip data");
  inflateEnd(&z);
  return total;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: inflate FILE [REPEATS]\n"); return 2; }
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (reps < 1) reps = 1;
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  fseek(f, 0, SEEK_END);
  long flen = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (flen < 18) die("not a gzip file");
  unsigned char *in = malloc((size_t)flen);
  if (!in || fread(in, 1, (size_t)flen, f) != (size_t)flen) die("read failed");
  fclose(f);
  if (in[0] != 0x1f || in[1] != 0x8b) die("not a gzip file");
  /* ISIZE (mod 2^32) of the last member; good enough for single-member files < 4 GiB */
  size_t size = (size_t)in[flen - 4] | (size_t)in[flen - 3] << 8 | (size_t)in[flen - 2] << 16 |
                (size_t)in[flen - 1] << 24;
  unsigned char *out = malloc(size + 1);
  if (!out) die("out of memory");
  double *t = malloc((size_t)reps * sizeof *t);

  size_t got = 0;
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    got = zlib_pass(in, (size_t)flen, out, size + 1);
    t[i] = now() - t0;
  }
  double m = median(t, reps);
  printf("zlib %.4f %.1f %zu\n", m, (double)got / m / 1e6, got);

#ifdef HAVE_LIBDEFLATE
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!d) die("libdeflate: out of memory");
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    size_t in_used = 0, out_used = 0;
    enum libdeflate_result r =
        libdeflate_gzip_decompress_ex(d, in, (size_t)flen, out, size + 1, &in_used, &out_used);
    t[i] = now() - t0;
    if (r != LIBDEFLATE_SUCCESS) die("libdeflate: bad gzip data");
    got = out_used;
  }
  libdeflate_free_decompressor(d);
  m = median(t, reps);
  printf("libdeflate %.4f %.1f %zu\n", m, (double)got / m / 1e6, got);
#endif
  free(t);
  free(out);
  free(in);
  return 0;
}
