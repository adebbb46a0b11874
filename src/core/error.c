/* error.c: filling pgo_error. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "pgolua/core.h"

bool pgo_fail(pgo_error *err, const char *code, const char *fmt, ...) {
  if (!err) return false;
  snprintf(err->code, sizeof err->code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return false;
}

void pgo_error_prefix(pgo_error *err, const char *prefix) {
  if (!err || !prefix || !*prefix) return;
  size_t plen = strlen(prefix), cap = sizeof err->message;
  if (plen + 2 >= cap) return;
  size_t mlen = strnlen(err->message, cap - 1);
  if (mlen > cap - 1 - plen - 2) mlen = cap - 1 - plen - 2;
  memmove(err->message + plen + 2, err->message, mlen);
  memcpy(err->message, prefix, plen);
  err->message[plen] = ':';
  err->message[plen + 1] = ' ';
  err->message[plen + 2 + mlen] = '\0';
}
