/* fileio.c: whole-file reads with a size cap; temp files, fsync and rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "pgolua/fileio.h"

/* The random part of a temporary file's name: TEMP_SUFFIX_LEN characters of this set. */
static const char temp_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
enum { TEMP_SUFFIX_LEN = 6 };


bool pgo_read_file(const char *path, uint64_t max, const char *limit_name, unsigned char **data,
                   size_t *len, pgo_error *err) {
  bool is_stdin = strcmp(path, "-") == 0;
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever; nothing but a
   * regular file is read (a FIFO, a device such as /dev/zero or a socket is refused) */
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return pgo_fail_errno(err, errno, "cannot open", path);
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (!is_stdin) close(fd);
    return pgo_fail_errno(err, EISDIR, "cannot read", path);
  }
  if (!is_stdin) {
    if (fstat(fd, &st) != 0) {
      int e = errno;
      close(fd);
      return pgo_fail_errno(err, e, "cannot read", path);
    }
    if (!S_ISREG(st.st_mode)) {
      close(fd);
      return pgo_fail(err, "not_regular", "%s is %s, not a regular file; pgolua reads only "
                      "regular files (a symbolic link to one is fine)", path,
                      S_ISFIFO(st.st_mode) ? "a named pipe (FIFO)"
                      : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                      : S_ISSOCK(st.st_mode) ? "a socket" : "a special file");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  bool sized = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  if (sized && (uint64_t)st.st_size > max) {   /* decided by the size, before any read */
    if (!is_stdin) close(fd);
    return pgo_fail(err, "too_large", "%s is larger than %llu bytes (%lld bytes), the size"
                    " limit; raise the limit (%s) if the file is genuine", path,
                    (unsigned long long)max, (long long)st.st_size, limit_name);
  }
  size_t cap = sized ? (size_t)st.st_size + 1 : 65536;
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
      ok = pgo_fail_errno(err, errno, "cannot read", path);
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > max) {
      ok = pgo_fail(err, "too_large", "%s is larger than %llu bytes, the size limit; raise the"
                    " limit (%s) if the file is genuine", path, (unsigned long long)max, limit_name);
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

/* Whether name is a temporary file name of the family: "." family, then nothing or "-"
 * and a word of [a-z0-9-], then "." and TEMP_SUFFIX_LEN characters of temp_alphabet.
 * The family "pgolua" holds ".pgolua.x1y2z3", ".pgolua-fetch.x1y2z3" and
 * ".pgolua-refresh-pr.x1y2z3", not ".pgoluax.x1y2z3" nor ".pgolua-fetch.notes.txt". */
static bool is_temp_name(const char *name, const char *family) {
  size_t flen = strlen(family);
  if (name[0] != '.' || strncmp(name + 1, family, flen) != 0) return false;
  const char *word = name + 1 + flen, *dot = strrchr(word, '.');
  if (dot == NULL || (dot != word && word[0] != '-')) return false;
  for (const char *c = word; c < dot; c++) {
    if (*c != '-' && strchr(temp_alphabet, *c) == NULL) return false;
  }
  const char *suffix = dot + 1;
  for (int i = 0; i < TEMP_SUFFIX_LEN; i++) {
    if (suffix[i] == '\0' || strchr(temp_alphabet, suffix[i]) == NULL) return false;
  }
  return suffix[TEMP_SUFFIX_LEN] == '\0';
}

size_t pgo_temp_sweep(const char *dir, const char *family, long min_age_seconds) {
  DIR *d = opendir(dir);
  if (d == NULL) return 0;               /* best effort: the caller's own open reports */
  int dfd = dirfd(d);
  time_t now = time(NULL);
  uid_t me = geteuid();
  size_t removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_temp_name(e->d_name, family)) continue;
    struct stat named, opened;
    /* lstat first: a symbolic link, a FIFO or a device with our name is not ours, and
     * opening a device can have effects of its own */
    if (fstatat(dfd, e->d_name, &named, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(named.st_mode) ||
        named.st_uid != me || named.st_nlink != 1 || now - named.st_mtime < min_age_seconds)
      continue;
    int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    /* The lock is free only when no open descriptor of its creator is left: the kernel
     * drops it when the creator exits, SIGKILL included. Held, the file is live. */
    if (fstat(fd, &opened) == 0 && opened.st_dev == named.st_dev &&
        opened.st_ino == named.st_ino && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        unlinkat(dfd, e->d_name, 0) == 0)
      removed++;
    close(fd);
  }
  closedir(d);
  return removed;
}

/* The family's own part of a temporary file's name, from a caller's prefix: "pgolua" and
 * "pgolua-<word>" as they are, any other word w as "pgolua-w" (so "cpu" names
 * ".pgolua-cpu.XXXXXX"). NULL for a prefix that cannot be a word of the family. */
static const char *family_prefix(const char *prefix, char *buf, size_t cap) {
  size_t flen = strlen(PGO_TEMP_FAMILY);
  bool in_family = strncmp(prefix, PGO_TEMP_FAMILY, flen) == 0 &&
                   (prefix[flen] == '\0' || prefix[flen] == '-');
  int w = snprintf(buf, cap, "%s%s", in_family ? "" : PGO_TEMP_FAMILY "-", prefix);
  if (w < 0 || (size_t)w >= cap) return NULL;
  for (const char *c = buf + flen; *c; c++) {
    if (*c != '-' && strchr(temp_alphabet, *c) == NULL) return NULL;
  }
  return buf;
}

bool pgo_temp_prefix_valid(const char *prefix) {
  char buf[PGO_TEMP_PREFIX_MAX + 16];
  return prefix != NULL && strlen(prefix) <= PGO_TEMP_PREFIX_MAX &&
         family_prefix(prefix, buf, sizeof buf) != NULL;
}

int pgo_tempfile(const char *dir, const char *prefix, char *out, size_t cap, pgo_error *err) {
  char name[PGO_TEMP_PREFIX_MAX + 16];
  if (prefix == NULL) prefix = PGO_TEMP_FAMILY;
  if (!pgo_temp_prefix_valid(prefix)) {
    pgo_fail(err, "invalid", "the temporary file prefix \"%.64s\" is not a word of lower-case "
             "letters, digits and '-' (at most %d characters)", prefix, PGO_TEMP_PREFIX_MAX);
    return -1;
  }
  family_prefix(prefix, name, sizeof name);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  /* the name only needs to be unlikely to collide; O_EXCL makes it safe */
  uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
  for (int attempt = 0; attempt < 100; attempt++) {
    char suffix[TEMP_SUFFIX_LEN + 1];
    for (int i = 0; i < TEMP_SUFFIX_LEN; i++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      suffix[i] = temp_alphabet[(seed >> 33) % (sizeof temp_alphabet - 1)];
    }
    suffix[TEMP_SUFFIX_LEN] = '\0';
    int w = snprintf(out, cap, "%s/.%s.%s", dir, name, suffix);
    if (w < 0 || (size_t)w >= cap) {
      pgo_fail(err, "invalid", "the directory name %s is too long", dir);
      return -1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      /* Marks the file live for pgo_temp_sweep as long as a descriptor of this open
       * stays open. Advisory and best effort: where flock is unsupported (ENOLCK on
       * some network file systems) a sweeper cannot lock either, and keeps the file. */
      (void)flock(fd, LOCK_EX | LOCK_NB);
      return fd;
    }
    if (errno != EEXIST) {
      pgo_fail_errno(err, errno, "cannot create a temporary file in", dir);
      return -1;
    }
  }
  pgo_fail(err, "io", "cannot find a free temporary file name in %s", dir);
  return -1;
}

/* Flush a directory's entries so a rename in it survives a crash. Its failure is not
 * reported: it runs after the rename, when the target is already replaced and an error
 * would say otherwise, and some file systems refuse fsync on directories (EINVAL). */
static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { fsync(fd); close(fd); }
}

bool pgo_replace(const char *tmp, const char *target, pgo_error *err) {
  if (rename(tmp, target) != 0) return pgo_fail_errno(err, errno, "cannot rename onto", target);
  char dir[4096];
  pgo_dirname(target, dir, sizeof dir);
  fsync_dir(dir);
  return true;
}

bool pgo_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      pgo_error *err) {
  char dir[4096], tmp[4200];
  pgo_dirname(path, dir, sizeof dir);
  /* one family for every writer: named after the target, a killed run's file would
   * escape pgo_temp_sweep */
  int fd = pgo_tempfile(dir, PGO_TEMP_FAMILY "-write", tmp, sizeof tmp, err);
  if (fd < 0) return false;
  const unsigned char *p = data;
  size_t left = len;
  bool ok = true;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      ok = pgo_fail_errno(err, errno, "cannot write", tmp);
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  struct stat st;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;  /* keep it */
  /* the mode before the fsync, so a crash after the rename cannot leave the 0600 of a
   * temporary file on the target */
  if (ok && fchmod(fd, (mode_t)mode) != 0) ok = pgo_fail_errno(err, errno, "cannot set the mode of", tmp);
  if (ok && fsync(fd) != 0) ok = pgo_fail_errno(err, errno, "cannot flush", tmp);
  if (close(fd) != 0 && ok) ok = pgo_fail_errno(err, errno, "cannot close", tmp);
  if (ok) ok = pgo_replace(tmp, path, err);
  if (!ok) unlink(tmp);
  return ok;
}
