/* analysis.c: pgo.profile methods for analysis (top, filters, diff, ...). */
#include "pgolua/lua_bind.h"
#include "pgolua/lua_profile.h"

const luaL_Reg pgolua_profile_analysis_methods[] = {
  {NULL, NULL}
};
