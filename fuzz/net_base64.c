/* net_base64.c: libFuzzer target for the base64 decoder (Parca's JSON carries profiles
 * as base64): decoding never writes past the advertised bound, and a decoded result
 * encodes and decodes back to the same bytes. */
#include <stdlib.h>
#include <string.h>
#include "pgolua/net.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  pgo_error err;
  size_t cap = pgo_base64_decoded_cap(size), n = 0;
  unsigned char *out = malloc(cap ? cap : 1);
  if (!out) return 0;
  if (!pgo_base64_decode((const char *)data, size, out, &n, &err)) {
    if (!err.code[0] || !err.message[0]) abort();
    free(out);
    return 0;
  }
  if (n > cap) abort();
  size_t elen = pgo_base64_encoded_len(n);
  char *enc = malloc(elen ? elen : 1);
  unsigned char *back = malloc(pgo_base64_decoded_cap(elen) + 1);
  if (enc && back) {
    pgo_base64_encode(out, n, enc);
    size_t m = 0;
    if (!pgo_base64_decode(enc, elen, back, &m, &err) || m != n || memcmp(back, out, n) != 0)
      abort();
  }
  free(enc);
  free(back);
  free(out);
  return 0;
}
