/* fileio.h: reading inputs and replacing files atomically. */
#ifndef PGOLUA_FILEIO_H
#define PGOLUA_FILEIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

/* Read a whole file ("-" = standard input) into a malloc'd buffer. Fails with code
 * not_found, permission, is_directory, too_large (over max bytes) or io. */
bool pgo_read_file(const char *path, uint64_t max, unsigned char **data, size_t *len,
                   pgo_error *err);

/* Create a new file in dir, O_EXCL and mode 0600, named "<dir>/.<prefix>.XXXXXX".
 * Returns the open descriptor (>= 0) and the path in out, or -1 with err set. */
int pgo_tempfile(const char *dir, const char *prefix, char *out, size_t cap, pgo_error *err);

/* rename(tmp, target), then fsync target's directory so the rename survives a crash. */
bool pgo_replace(const char *tmp, const char *target, pgo_error *err);

/* Write data to a temporary file beside path, fsync it, give it mode (e.g. 0644) and
 * rename it over path. On any failure path is untouched and the temporary file removed. */
bool pgo_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      pgo_error *err);

/* The directory part of path ("." when there is none), into out. */
void pgo_dirname(const char *path, char *out, size_t cap);

#endif
