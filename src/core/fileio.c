/* fileio.c: whole-file reads with a size cap; temp files, fsync and rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "pgolua/fileio.h"

/* Map errno to a stable code and a hint. */
static bool fail_errno(pgo_error *err, int e, const char *what, const char *path) {
  const char *code = "io", *hint = "";
  switch (e) {
    case ENOENT: code = "not_found"; hint = "; check the path"; break;
    case EACCES: case EPERM: code = "permission"; hint = "; check the file's permissions"; break;
    case EISDIR: code = "is_directory"; hint = "; name a file, not a directory"; break;
    case EROFS: code = "read_only"; hint = "; the file system is mounted read-only"; break;
    case ENOSPC: case EDQUOT: code = "no_space"; hint = "; free some disk space"; break;
    case EFBIG: code = "no_space"; hint = "; the file size limit was reached"; break;
    default: break;
  }
  return pgo_fail(err, code, "%s %s: %s%s", what, path, strerror(e), hint);
}

bool pgo_read_file(const char *path, uint64_t max, unsigned char **data, size_t *len,
                   pgo_error *err) {
  bool is_stdin = strcmp(path, "-") == 0;
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(err, errno, "cannot open", path);
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (!is_stdin) close(fd);
    return fail_errno(err, EISDIR, "cannot read", path);
  }
  size_t cap = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                   ? (size_t)st.st_size + 1 : 65536;
  if (cap > max + 1) cap = (size_t)max + 1;
  unsigned char *buf = malloc(cap ? cap : 1);
  size_t n = 0;
  bool ok = buf != NULL;
  if (!ok) pgo_fail(err, "nomem", "out of memory reading %s", path);
  while (ok) {
    if (n == cap && !pgo_grow((void **)&buf, &cap, cap + 1, 1)) {
      ok = pgo_fail(err, "nomem", "out of memory reading %s", path);
      break;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      ok = fail_errno(err, errno, "cannot read", path);
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > max) {
      ok = pgo_fail(err, "too_large", "%s is larger than %llu bytes, the size limit; raise the"
                    " limit (max_decompressed) if the file is genuine", path, (unsigned long long)max);
      break;
    }
  }
  if (!is_stdin) close(fd);
  if (!ok) { free(buf); return false; }
  *data = buf;
  *len = n;
  return true;
}

void pgo_dirname(const char *path, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) { snprintf(out, cap, "."); return; }
  if (slash == path) { snprintf(out, cap, "/"); return; }
  snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int pgo_tempfile(const char *dir, const char *prefix, char *out, size_t cap, pgo_error *err) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  /* the name only needs to be unlikely to collide; O_EXCL makes it safe */
  uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
  for (int attempt = 0; attempt < 100; attempt++) {
    char suffix[7];
    for (int i = 0; i < 6; i++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      suffix[i] = alphabet[(seed >> 33) % (sizeof alphabet - 1)];
    }
    suffix[6] = '\0';
    int w = snprintf(out, cap, "%s/.%s.%s", dir, prefix, suffix);
    if (w < 0 || (size_t)w >= cap) {
      pgo_fail(err, "invalid", "the directory name %s is too long", dir);
      return -1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    if (errno != EEXIST) {
      fail_errno(err, errno, "cannot create a temporary file in", dir);
      return -1;
    }
  }
  pgo_fail(err, "io", "cannot find a free temporary file name in %s", dir);
  return -1;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { fsync(fd); close(fd); }
}

bool pgo_replace(const char *tmp, const char *target, pgo_error *err) {
  if (rename(tmp, target) != 0) return fail_errno(err, errno, "cannot rename onto", target);
  char dir[4096];
  pgo_dirname(target, dir, sizeof dir);
  fsync_dir(dir);
  return true;
}

bool pgo_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      pgo_error *err) {
  char dir[4096], tmp[4200];
  pgo_dirname(path, dir, sizeof dir);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  int fd = pgo_tempfile(dir, base, tmp, sizeof tmp, err);
  if (fd < 0) return false;
  const unsigned char *p = data;
  size_t left = len;
  bool ok = true;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      ok = fail_errno(err, errno, "cannot write", tmp);
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  if (ok && fsync(fd) != 0) ok = fail_errno(err, errno, "cannot flush", tmp);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;  /* keep it */
  if (ok && fchmod(fd, (mode_t)mode) != 0) ok = fail_errno(err, errno, "cannot set the mode of", tmp);
  if (close(fd) != 0 && ok) ok = fail_errno(err, errno, "cannot close", tmp);
  if (ok) ok = pgo_replace(tmp, path, err);
  if (!ok) unlink(tmp);
  return ok;
}
