/* placeholder until the binding lands */
#include <lauxlib.h>
#include "pgolua/lua_bind.h"
int luaopen_pgo_net(lua_State *L) { lua_newtable(L); return 1; }
