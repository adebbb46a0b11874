/* pgograph.c: pgo.profile methods for the compiler's view (edges, hot call sites, ...). */
#include "pgolua/lua_bind.h"
#include "pgolua/lua_profile.h"

const luaL_Reg pgolua_profile_pgo_methods[] = {
  {NULL, NULL}
};
