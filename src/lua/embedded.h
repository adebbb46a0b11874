/* Lua files compiled into the binary by the build (scripts/embed-lua.sh): the Lua half of
 * the library (lua/pgo/<name>.lua) and the recipes (recipes/<name>.lua). */
#ifndef PGOLUA_EMBEDDED_H
#define PGOLUA_EMBEDDED_H
#include <stddef.h>

struct pgolua_embedded_file {
  const char *module;        /* "pgo.report"; a recipe's name ("top") */
  const char *chunkname;     /* "@lua/pgo/report.lua", for tracebacks */
  const unsigned char *data;
  size_t size;
};

/* Terminated by an entry whose module is NULL. */
extern const struct pgolua_embedded_file pgolua_embedded_files[];
extern const struct pgolua_embedded_file pgolua_embedded_recipes[];

#endif
