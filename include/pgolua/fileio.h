/* fileio.h: reading inputs and replacing files atomically. */
#ifndef PGOLUA_FILEIO_H
#define PGOLUA_FILEIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

/* Read a whole file ("-" = standard input) into a malloc'd buffer. Fails with code
 * not_found, permission, is_directory, too_large (over max bytes: the message names
 * limit_name, the option the user raises) or io. */
bool pgo_read_file(const char *path, uint64_t max, const char *limit_name, unsigned char **data,
                   size_t *len, pgo_error *err);

/* pgolua's own temporary file names start with "." PGO_TEMP_FAMILY ("pgolua", e.g.
 * ".pgolua-refresh.k3x9q2"); a process killed (SIGKILL, OOM, power loss) between creating
 * one and renaming or removing it leaves it behind. pgo_temp_sweep removes such
 * leftovers; when, and after how long, is the caller's policy (recipes/refresh.lua). */
#define PGO_TEMP_FAMILY "pgolua"

/* The longest prefix pgo_tempfile takes. */
#define PGO_TEMP_PREFIX_MAX 48

/* Whether pgo_tempfile takes prefix: "pgolua", "pgolua-<word>" or a <word> (lower-case
 * letters, digits, '-'), at most PGO_TEMP_PREFIX_MAX characters. */
bool pgo_temp_prefix_valid(const char *prefix);

/* Create a new file in dir, O_EXCL and mode 0600, named "<dir>/.<prefix>.XXXXXX" when prefix
 * is "pgolua" or "pgolua-<word>" (NULL: "pgolua"), "<dir>/.pgolua-<prefix>.XXXXXX" for
 * any other word, so every temporary file is one pgo_temp_sweep knows; and take
 * an exclusive flock on it that lasts while this descriptor (or a dup, or a FILE over it)
 * stays open: keep it open until the file is renamed or removed. Returns the open
 * descriptor (>= 0) and the path in out, or -1 with err set. */
int pgo_tempfile(const char *dir, const char *prefix, char *out, size_t cap, pgo_error *err);

/* Remove the temporary files "<dir>/.<family>[-word].XXXXXX" that are regular files owned
 * by the effective uid with one link, unchanged for at least min_age_seconds, and not
 * locked (their creator exited or closed them). The age covers the moments a live owner
 * holds no descriptor (a capture decoded after its download closed the file). Best
 * effort: returns how many were removed; never fails. Two processes sweeping the same
 * directory never remove each other's live files: a live file is locked or young. */
size_t pgo_temp_sweep(const char *dir, const char *family, long min_age_seconds);

/* rename(tmp, target), then fsync target's directory so the rename survives a crash. */
bool pgo_replace(const char *tmp, const char *target, pgo_error *err);

/* Write data to a temporary file beside path (".pgolua-write.XXXXXX"), fsync it, give it
 * mode (e.g. 0644) and rename it over path. On any failure path is untouched and the
 * temporary file removed. */
bool pgo_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      pgo_error *err);

/* The directory part of path ("." when there is none), into out. */
void pgo_dirname(const char *path, char *out, size_t cap);

#endif
