/* buildinfo.h: the build information the Go linker embeds in every module-aware
 * executable (what `go version -m` prints): the Go version, the main package and module,
 * the dependencies with their replacements, and the build settings (-pgo, GOARCH, ...).
 * Untrusted input: every length and address is checked. No global state. */
#ifndef PGOLUA_BUILDINFO_H
#define PGOLUA_BUILDINFO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"
#include "pgolua/elf.h"

/* Bytes with a length (values may hold any byte once unquoted); NUL-terminated too. */
typedef struct pgo_bi_str {
  const char *s;
  size_t len;
} pgo_bi_str;

typedef struct pgo_bi_module {
  pgo_bi_str path, version, sum;
  struct pgo_bi_module *replace;   /* NULL when not replaced */
} pgo_bi_module;

typedef struct pgo_bi_setting {
  pgo_bi_str key, value;           /* unquoted */
} pgo_bi_setting;

typedef struct pgo_buildinfo {
  pgo_arena arena;                 /* owns every string and array below */
  pgo_bi_str go_version;           /* "go1.23.5" */
  pgo_bi_str modinfo;              /* the raw module-info text, sentinels removed */
  pgo_bi_str path;                 /* main package path ("" when absent) */
  bool has_main;
  pgo_bi_module main;
  pgo_bi_module *deps;
  size_t ndeps;
  pgo_bi_setting *settings;        /* in the order of the binary */
  size_t nsettings;
  uint8_t ptrsize;                 /* from the blob header */
  bool big_endian;
  bool inline_strings;             /* Go 1.18+ layout (strings after the header) */
} pgo_buildinfo;

/* Initialise bi (empty, nothing allocated). */
void pgo_buildinfo_init(pgo_buildinfo *bi);
void pgo_buildinfo_free(pgo_buildinfo *bi);

/* Read the build info of an ELF Go binary: the ".go.buildinfo" section, else the first
 * writable, non-executable PT_LOAD segment. Fails "not_go" when there is no build info
 * (not a Go binary, or one older than Go 1.13) and "invalid" for a damaged blob or
 * module-info text (the message gives the offset or line). bi must be initialised;
 * free it with pgo_buildinfo_free whatever the result. */
bool pgo_buildinfo_from_elf(const pgo_elf *elf, pgo_buildinfo *bi, pgo_error *err);

/* The same from a whole file in memory (opens the ELF headers itself). */
bool pgo_buildinfo_read(const uint8_t *data, size_t len, pgo_buildinfo *bi, pgo_error *err);

/* Parse module-info text (the lines "path\t...", "mod\t...", "dep\t...", "=>\t...",
 * "build\tkey=value") into bi, following Go's runtime/debug rules: unknown lines are
 * ignored, a last line without "\n" is ignored, keys and values in Go quoted syntax are
 * unquoted, malformed lines fail "invalid" with their line number. */
bool pgo_buildinfo_parse_modinfo(const char *text, size_t len, pgo_buildinfo *bi,
                                 pgo_error *err);

/* Unquote a Go string literal ("..." with escapes, or `...`) of exactly n bytes into
 * out, which needs room for 3 * n bytes (an invalid UTF-8 byte becomes U+FFFD, as in Go).
 * False when malformed. */
bool pgo_go_unquote(const char *s, size_t n, char *out, size_t *out_len);

#endif
