/* transform.c: pgo.profile methods and functions that build new profiles (merge, diff,
 * editing). */
#include "pgolua/lua_bind.h"
#include "pgolua/lua_profile.h"

const luaL_Reg pgolua_profile_transform_methods[] = {
  {NULL, NULL}
};

const luaL_Reg pgolua_profile_transform_funcs[] = {
  {NULL, NULL}
};
