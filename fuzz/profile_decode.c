/* profile_decode.c: libFuzzer target for the profile decoder. Any input must either fail
 * with a code and message, or give a profile that encodes and decodes again to the same
 * totals (decode -> validate -> encode -> decode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/profile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  pgo_limits limits;
  pgo_limits_default(&limits);
  limits.max_decompressed = 64u << 20;    /* keep the fuzzer's memory bounded */
  pgo_error err;
  pgo_profile *p = pgo_profile_decode(data, size, &limits, &err);
  if (!p) {
    if (!err.code[0] || !err.message[0]) abort();   /* every failure says why */
    return 0;
  }
  unsigned char *out;
  size_t outlen;
  if (pgo_profile_encode(p, 1, &out, &outlen, &err)) {
    pgo_profile *q = pgo_profile_decode(out, outlen, &limits, &err);
    if (!q) {
      fprintf(stderr, "re-decode failed: %s: %s\n", err.code, err.message);
      abort();
    }
    if (q->nsample_types != p->nsample_types) abort();
    int64_t a[64], b[64];
    if (p->nsample_types <= 64) {
      pgo_profile_totals(p, a);
      pgo_profile_totals(q, b);
      if (memcmp(a, b, p->nsample_types * sizeof a[0]) != 0) abort();
    }
    pgo_profile_free(q);
    free(out);
  }
  pgo_profile_free(p);
  return 0;
}
