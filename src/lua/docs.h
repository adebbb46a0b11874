/* Documentation compiled into the binary (scripts/embed-docs.sh), for pgo.help. */
#ifndef PGOLUA_DOCS_H
#define PGOLUA_DOCS_H
#include <stddef.h>

struct pgolua_doc {
  const char *name;          /* "api" for docs/api.md */
  const char *text;          /* NUL-terminated */
  size_t size;               /* without the NUL */
};

/* Terminated by an entry whose name is NULL. */
extern const struct pgolua_doc pgolua_docs[];

#endif
