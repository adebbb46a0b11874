/* modules.c: preload every C module and install the embedded-Lua searcher. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include <zlib.h>
#include <curl/curl.h>
#include <protobuf-c/protobuf-c.h>
#include "pgolua/embedded.h"
#include "pgolua/lua_modules.h"
#include "pgolua/lua_bind.h"

static const luaL_Reg c_modules[] = {
  {"pgo.core.profile", luaopen_pgo_profile},   /* completed by lua/pgo/profile.lua */
  {"pgo.fsys", luaopen_pgo_fsys},
  {"pgo.core.symbols", luaopen_pgo_symbols},
  {"pgo.core.net", luaopen_pgo_net},
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

/* When the binary runs from a source tree (lua/pgo/init.lua beside it), put that lua/
 * directory first on package.path so the files on disk win over the embedded copies. */
static void prefer_source_tree(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = '\0';
  const char *probe = lua_pushfstring(L, "%s/lua/pgo/init.lua", exe);
  bool found = access(probe, R_OK) == 0;
  lua_pop(L, 1);
  if (!found) return;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", exe, exe, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);                       /* pop the old path and package */
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
  prefer_source_tree(L);
}

const char *pgolua_versions(lua_State *L) {
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  return lua_pushfstring(L,
      "pgolua %s\n%s\nprotobuf-c %s\nzlib %s\nlibcurl %s\n",
      pgolua_version, LUA_RELEASE, protobuf_c_version(), zlibVersion(),
      cv ? cv->version : "unknown");
}
