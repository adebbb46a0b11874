/* docs.c: pgo.core.docs, the documentation compiled into the binary as a table
 * { api = <text of docs/api.md> }, read by lua/pgo/help.lua. */
#include <lauxlib.h>
#include "docs.h"
#include "lua_bind.h"

int luaopen_pgo_docs(lua_State *L) {
  lua_newtable(L);
  for (const struct pgolua_doc *d = pgolua_docs; d->name != NULL; d++) {
    lua_pushlstring(L, d->text, d->size);
    lua_setfield(L, -2, d->name);
  }
  return 1;
}
