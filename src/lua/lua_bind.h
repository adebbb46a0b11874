/* Entry points of the binding files in src/lua/ (one per Lua module). */
#ifndef PGOLUA_LUA_BIND_H
#define PGOLUA_LUA_BIND_H
#include <lua.h>

int luaopen_pgo_profile(lua_State *L);   /* src/lua/profile.c */
int luaopen_pgo_fsys(lua_State *L);      /* src/lua/fsys.c    */
int luaopen_pgo_symbols(lua_State *L);   /* src/lua/symbols.c: ELF, pclntab, buildinfo, Go source */
int luaopen_pgo_net(lua_State *L);       /* src/lua/net.c: libcurl capture, fleet, load driver */
int luaopen_pgo_docs(lua_State *L);      /* src/lua/docs.c: docs/api.md, for pgo.help */

/* Initialises libcurl for this state before its first transfer (src/lua/net.c); loading
 * pgo.core.net (for pgo.version, the user agent, base64) does not. Raises when libcurl
 * cannot initialise. */
void pgolua_curl_init(lua_State *L);

#include <lauxlib.h>
/* Push a zeroed userdata of size bytes whose metatable meta (made on first use) has gc as
 * __gc: scratch memory a binding frees even when it raises (src/lua/modules.c). */
void *pgolua_push_scratch(lua_State *L, size_t size, const char *meta, lua_CFunction gc);

/* Extra pgo.profile methods, defined in other binding files and merged by profile.c. */
extern const luaL_Reg pgolua_profile_analysis_methods[];   /* src/lua/analysis.c */
extern const luaL_Reg pgolua_profile_transform_methods[];  /* src/lua/transform.c */
extern const luaL_Reg pgolua_profile_pgo_methods[];        /* src/lua/pgograph.c */
extern const luaL_Reg pgolua_profile_callsite_methods[];   /* src/lua/callsites.c */
/* Extra pgo.profile module functions (merge, ...). */
extern const luaL_Reg pgolua_profile_transform_funcs[];    /* src/lua/transform.c */
/* Extra pgo.core.symbols functions (call_instructions). */
extern const luaL_Reg pgolua_callsite_funcs[];             /* src/lua/callsites.c */

#endif
