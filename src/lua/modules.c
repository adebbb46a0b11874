/* modules.c: preload every C module and install the embedded-Lua searcher. */
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include <zlib.h>
#include <curl/curl.h>
#include <protobuf-c/protobuf-c.h>
#include "pgolua/embedded.h"
#include "pgolua/lua_modules.h"
#include "pgolua/lua_bind.h"

static const luaL_Reg c_modules[] = {
  {"pgo.profile", luaopen_pgo_profile},
  {"pgo.fsys", luaopen_pgo_fsys},
  {NULL, NULL}
};

/* Searcher for lua/pgo/<name>.lua compiled into the binary: returns a loader or a message. */
static int embedded_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const struct pgolua_embedded_file *f = pgolua_embedded_files; f->module; f++) {
    if (strcmp(f->module, name) != 0) continue;
    if (luaL_loadbufferx(L, (const char *)f->data, f->size, f->chunkname, "t") != LUA_OK)
      return lua_error(L);
    lua_pushstring(L, f->chunkname);   /* second argument to the loader */
    return 2;
  }
  lua_pushfstring(L, "no embedded module '%s'", name);
  return 1;
}

void pgolua_openlibs(lua_State *L) {
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const luaL_Reg *m = c_modules; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);                       /* pop the preload table */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushcfunction(L, embedded_searcher);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  lua_pop(L, 2);                       /* pop searchers and package */
}

const char *pgolua_versions(lua_State *L) {
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  return lua_pushfstring(L,
      "pgolua %s\n%s\nprotobuf-c %s\nzlib %s\nlibcurl %s\n",
      pgolua_version, LUA_RELEASE, protobuf_c_version(), zlibVersion(),
      cv ? cv->version : "unknown");
}
