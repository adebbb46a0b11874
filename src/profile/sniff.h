/* sniff.h: recognising what a non-profile file is (internal to src/profile). */
#ifndef PGOLUA_PROFILE_SNIFF_H
#define PGOLUA_PROFILE_SNIFF_H
#include <stdbool.h>
#include <stddef.h>
#include "pgolua/core.h"

/* True (with err filled, code legacy_format) when the bytes are a legacy profile format. */
bool pgo_sniff_legacy(const unsigned char *d, size_t n, pgo_error *err);
/* One sentence describing what the bytes look like (HTML, JSON, text, binary). */
void pgo_sniff_describe(const unsigned char *d, size_t n, char *out, size_t cap);

#endif
