/* lua_profile.h: the pgo.profile userdata, shared by the binding files in src/lua/. */
#ifndef PGOLUA_LUA_PROFILE_H
#define PGOLUA_LUA_PROFILE_H
#include <lua.h>
#include <lauxlib.h>
#include "pgolua/profile.h"

#define PGO_PROFILE_META "pgo.profile"

/* The profile at stack index i; raises on a wrong type or a closed profile. */
pgo_profile *pgolua_check_profile(lua_State *L, int i);
/* Push a new userdata owning p (p is freed by __gc/close). */
void pgolua_push_profile(lua_State *L, pgo_profile *p);
/* Push the failure triple nil, message, code; returns 3. */
int pgolua_push_error(lua_State *L, const pgo_error *err);
/* Read limits from an optional options table at index i (fields max_decompressed,
 * max_samples, max_stack_depth). */
void pgolua_check_limits(lua_State *L, int i, pgo_limits *limits);

#endif
