/* modules.c: preload every C module and install the searcher of the library's own modules. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include <zlib.h>
#include <curl/curl.h>
#include <protobuf-c/protobuf-c.h>
#include "pgolua/version.h"
#include "embedded.h"
#include "lua_modules.h"
#include "lua_bind.h"

void *pgolua_push_scratch(lua_State *L, size_t size, const char *meta, lua_CFunction gc) {
  void *u = lua_newuserdatauv(L, size, 0);
  memset(u, 0, size);
  if (luaL_newmetatable(L, meta)) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return u;
}

static const luaL_Reg c_modules[] = {
  {"pgo.core.profile", luaopen_pgo_profile},   /* completed by lua/pgo/profile.lua */
  {"pgo.fsys", luaopen_pgo_fsys},
  {"pgo.core.symbols", luaopen_pgo_symbols},
  {"pgo.core.net", luaopen_pgo_net},
  {"pgo.core.docs", luaopen_pgo_docs},
  {NULL, NULL}
};

/* True for the library's own module names: "pgo" and "pgo.<anything>". */
static bool is_library_module(const char *name) {
  return strcmp(name, "pgo") == 0 || strncmp(name, "pgo.", 4) == 0;
}

/* Searcher for the library's own modules, placed right after package.preload so that no
 * file on package.path (a ./pgo.lua or ./pgo/fetch.lua in the working directory, LUA_PATH)
 * can stand in for them. Upvalue 1: the lua/ template of a source tree the binary sits
 * in ("<dir>/lua/?.lua;<dir>/lua/?/init.lua"), whose files win over the embedded copies
 * so that edits take effect without a rebuild; nil anywhere else. Other names are left
 * to the other searchers. Returns a loader and its file name, a message, or nothing. */
static int library_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (!is_library_module(name))
    return 0;                            /* not ours: no message in require's list */
  if (lua_isstring(L, lua_upvalueindex(1))) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 2, 1);
    if (lua_isstring(L, -1)) {
      const char *path = lua_tostring(L, -1);
      if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return lua_error(L);
      lua_insert(L, -2);                 /* loader below its file name */
      return 2;
    }
    lua_pop(L, 2);                       /* the nil and package */
  }
  for (const struct pgolua_embedded_file *f = pgolua_embedded_files; f->module; f++) {
    if (strcmp(f->module, name) != 0) continue;
    if (luaL_loadbufferx(L, (const char *)f->data, f->size, f->chunkname, "t") != LUA_OK)
      return lua_error(L);
    lua_pushstring(L, f->chunkname);   /* second argument to the loader */
    return 2;
  }
  lua_pushfstring(L, "no module '%s' in pgolua's library", name);
  return 1;
}

const char *pgolua_push_exe_dir(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  char *slash = NULL;
  if (n > 0) {
    exe[n] = '\0';
    slash = strrchr(exe, '/');
  }
  if (slash == NULL) {
    lua_pushnil(L);
    return NULL;
  }
  *slash = '\0';
  return lua_pushstring(L, exe);
}

/* Pushes the lua/ search template of the source tree the binary sits in (lua/pgo/init.lua
 * beside it), or nil. When there is one it also goes first on package.path, so that
 * package.searchpath finds the files a spec or an editor expects. */
static void push_source_tree(lua_State *L) {
  const char *exe = pgolua_push_exe_dir(L);
  if (exe == NULL)
    return;                            /* the nil stays */
  const char *probe = lua_pushfstring(L, "%s/lua/pgo/init.lua", exe);
  bool found = access(probe, R_OK) == 0;
  lua_pop(L, 1);
  if (!found) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return;
  }
  const char *tree = lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua", exe, exe);
  lua_remove(L, -2);                   /* the directory */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;%s", tree, lua_tostring(L, -1));
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
  for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i >= 2; i--) {
    lua_rawgeti(L, -1, i);             /* shift the path searchers up by one */
    lua_rawseti(L, -2, i + 1);
  }
  push_source_tree(L);
  lua_pushcclosure(L, library_searcher, 1);
  lua_rawseti(L, -2, 2);               /* right after the preload searcher */
  lua_pop(L, 2);                       /* pop searchers and package */
}

const char *pgolua_versions(lua_State *L) {
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  return lua_pushfstring(L,
      "pgolua %s\n%s\nprotobuf-c %s\nzlib %s\nlibcurl %s\n",
      pgolua_version, LUA_RELEASE, protobuf_c_version(), zlibVersion(),
      cv ? cv->version : "unknown");
}
