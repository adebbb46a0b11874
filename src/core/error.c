/* error.c: filling pgo_error. */
#include <errno.h>
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

bool pgo_fail_errno(pgo_error *err, int e, const char *what, const char *path) {
  const char *code = "io", *hint = "";
  switch (e) {
    case ENOENT: case ENOTDIR: code = "not_found"; hint = "; check the path"; break;
    case EACCES: case EPERM: code = "permission"; hint = "; check the file's permissions"; break;
    case EISDIR: code = "is_directory"; hint = "; name a file, not a directory"; break;
    case EROFS: code = "read_only"; hint = "; the file system is mounted read-only"; break;
    case ENOSPC: case EDQUOT: code = "no_space"; hint = "; free some disk space"; break;
    case EFBIG: code = "no_space"; hint = "; the file size limit was reached"; break;
    case EXDEV:
      code = "cross_device";
      hint = "; a file can only be renamed within one file system: put the temporary file "
             "beside its target";
      break;
    case ENOMEM: code = "nomem"; break;
    default: break;
  }
  return pgo_fail(err, code, "%s %s: %s%s", what, path, strerror(e), hint);
}
