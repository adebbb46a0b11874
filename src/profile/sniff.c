/* sniff.c: say what non-profile bytes look like, so a user knows what they got. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "sniff.h"

static uint64_t word64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static uint32_t word32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool starts_with(const unsigned char *d, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(d, prefix, k) == 0;
}

/* Quote up to 40 bytes, escaping anything unprintable. */
static void quote_start(const unsigned char *d, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && i < 40 && o + 5 < cap; i++) {
    unsigned char c = d[i];
    if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
    else if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
    else if (isprint(c)) out[o++] = (char)c;
    else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
  }
  out[o] = '\0';
}

bool pgo_sniff_legacy(const unsigned char *d, size_t n, pgo_error *err) {
  static const char *const text_headers[] = {
    "heap profile:", "heap_v2/", "--- contention", "--- mutex", "goroutine profile:",
    "threadcreate profile:", "--- heapz", "--- threadz", NULL
  };
  bool legacy_cpu64 = n >= 40 && word64(d) == 0 && word64(d + 8) == 3 && word64(d + 16) <= 1;
  bool legacy_cpu32 = n >= 20 && word32(d) == 0 && word32(d + 4) == 3 && word32(d + 8) <= 1;
  if (legacy_cpu64 || legacy_cpu32) {
    pgo_fail(err, "legacy_format", "this is a legacy (pre-protobuf) %d-bit binary CPU profile,"
             " which Go PGO cannot read; convert it with `go tool pprof -proto FILE > new.pgo`"
             " (symbolizing it needs the binary that produced it)", legacy_cpu64 ? 64 : 32);
    return true;
  }
  for (int i = 0; text_headers[i]; i++) {
    if (starts_with(d, n, text_headers[i])) {
      pgo_fail(err, "legacy_format", "this is a legacy text profile (starts with \"%s\"), not"
               " profile.proto; convert it with `go tool pprof -proto FILE > new.pgo`",
               text_headers[i]);
      return true;
    }
  }
  return false;
}

void pgo_sniff_describe(const unsigned char *d, size_t n, char *out, size_t cap) {
  size_t i = 0;
  if (n >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf) i = 3;   /* UTF-8 BOM */
  while (i < n && isspace(d[i])) i++;
  char quoted[200];
  quote_start(d + i, n - i, quoted, sizeof quoted);
  size_t printable = 0, k;
  for (k = 0; k < n && k < 512; k++)
    if (isprint(d[k]) || isspace(d[k]) || d[k] >= 0x80) printable++;
  if (i < n && d[i] == '<')
    snprintf(out, cap, "it looks like HTML or XML (starts \"%s\"): probably an error page"
             " saved in place of the profile; check the URL and the server's response", quoted);
  else if (i < n && (d[i] == '{' || d[i] == '['))
    snprintf(out, cap, "it looks like JSON (starts \"%s\"): an API response rather than a"
             " profile; a continuous profiler's answer needs pgo.backends to extract it", quoted);
  else if (k > 0 && printable == k)
    snprintf(out, cap, "it looks like text (starts \"%s\"), not a binary profile", quoted);
  else {
    char hex[3 * 8 + 1] = "";
    for (size_t j = 0; j < n && j < 8; j++) snprintf(hex + 3 * j, 4, "%02x ", d[j]);
    snprintf(out, cap, "its bytes are neither gzip nor a profile.proto message (they start"
             " %.*s)", (int)(strlen(hex) ? strlen(hex) - 1 : 0), hex);
  }
}
