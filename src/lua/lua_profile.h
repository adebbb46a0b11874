/* lua_profile.h: the pgo.profile userdata, shared by the binding files in src/lua/. */
#ifndef PGOLUA_LUA_PROFILE_H
#define PGOLUA_LUA_PROFILE_H
#include <lua.h>
#include <lauxlib.h>
#include "pgolua/profile.h"

#define PGO_PROFILE_META "pgo.profile"

/* The profile at stack index i; raises on a wrong type or a closed profile. */
/* The profile at i, its stacks threaded into frames (raises when closed or out of memory). */
pgo_profile *pgolua_check_profile(lua_State *L, int i);
/* The same, stacks possibly flat: for operations that read only pgo_sample_location. */
pgo_profile *pgolua_check_profile_flat(lua_State *L, int i);
/* Push a new userdata owning p (p is freed by __gc/close). */
void pgolua_push_profile(lua_State *L, pgo_profile *p);
/* Push the failure triple nil, message, code; returns 3. */
int pgolua_push_error(lua_State *L, const pgo_error *err);
/* Read limits from an optional options table at index i (fields max_decompressed,
 * max_samples, max_stack_depth). */
void pgolua_check_limits(lua_State *L, int i, pgo_limits *limits);

/* Small push helpers shared by the binding files. */
static inline void pgolua_push_str(lua_State *L, const pgo_profile *p, uint32_t id) {
  lua_pushlstring(L, pgo_str(&p->strings, id), pgo_strlen(&p->strings, id));
}
/* t[k] = v for the table on top of the stack. */
static inline void pgolua_set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}
static inline void pgolua_set_num(lua_State *L, const char *k, lua_Number v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

#endif
