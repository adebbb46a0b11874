/* Registration of pgolua's Lua modules in a lua_State (used by the host only). */
#ifndef PGOLUA_LUA_MODULES_H
#define PGOLUA_LUA_MODULES_H
#include <lua.h>

/* Opens the standard libraries, registers every C module (pgo.profile, ...) in
 * package.preload and appends a searcher for the embedded copies of lua/pgo/<name>.lua after
 * the path searchers, so files on disk under package.path win over the embedded ones. */
void pgolua_openlibs(lua_State *L);

/* Pushes the directory of the running executable and returns it; pushes nil and returns
 * NULL when /proc/self/exe is not readable. */
const char *pgolua_push_exe_dir(lua_State *L);

/* A string naming the versions of pgolua and the libraries it links, one per line. */
const char *pgolua_versions(lua_State *L);

#endif
