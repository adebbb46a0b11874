/* gosource_scan.c: libFuzzer target for the Go source scanner and go.mod reader: any
 * bytes give declarations whose pointers stay inside the input, or an error with a
 * message. */
#include <stdlib.h>
#include <string.h>
#include "pgolua/gosource.h"

typedef struct { const char *src; size_t len; } bounds;

static bool inside(const bounds *b, const char *p, size_t n) {
  return p >= b->src && n <= b->len && (size_t)(p - b->src) <= b->len - n;
}

static bool on_decl(void *ctx, const pgo_godecl *d, pgo_error *err) {
  const bounds *b = ctx;
  (void)err;
  if (!inside(b, d->name, d->name_len)) abort();
  if (d->recv && !inside(b, d->recv, d->recv_len)) abort();
  char spelled[512];
  size_t n = pgo_godecl_spell(d, spelled, sizeof spelled);
  if (n < sizeof spelled && strlen(spelled) != n) abort();
  return true;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  bounds b = {(const char *)data, size};
  pgo_gofile file;
  pgo_error err;
  if (!pgo_gosource_scan_buffer(b.src, size, on_decl, &b, &file, &err) &&
      (!err.code[0] || !err.message[0]))
    abort();
  char module[256];
  if (!pgo_gomod_module(b.src, size, module, sizeof module, &err) && !err.code[0]) abort();
  char prefix[1024];
  pgo_go_path_to_prefix(b.src, size < 200 ? size : 200, prefix, sizeof prefix);
  return 0;
}
