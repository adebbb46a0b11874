/* callsites.c: the call instructions behind a profile's edges, for pgo.compiler's exact
 * devirtualization candidates (lua/pgo/compiler.lua):
 *
 *   p:call_addresses() -> {{caller, callee, offset, file, line, address, weight, inlined,
 *     outer, outer_offset}...} | nil, message, code
 *     (a pgo.profile method; src/profile/calladdr.c)
 *   pgo.core.symbols.call_instructions(path, addresses [, {max_size=}])
 *     -> {[address] = "direct" | "interface" | "func_value" | "indirect" | "unknown"}, with
 *        fields arch and assembly ({name = true}: functions written in assembly)
 *        | nil, message, code
 *     (addresses: an array of profile addresses, each a return address - 1;
 *      src/symbols/callinsn.c) */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua_bind.h"
#include "lua_profile.h"
#include "pgolua/calladdr.h"
#include "pgolua/callinsn.h"
#include "pgolua/fileio.h"
#include "pgolua/pclntab.h"

#define BOX_META "pgo.callsites.box"

/* What one call holds outside Lua; freed by __gc when Lua raises while pushing. */
typedef struct {
  pgo_call_address *recs;
  unsigned char *file;
  pgo_elf elf;
  pgo_funclist funcs, asm_funcs;
  bool elf_open;
} box;

static int box_gc(lua_State *L) {
  box *b = luaL_checkudata(L, 1, BOX_META);
  free(b->recs);
  b->recs = NULL;
  if (b->elf_open) pgo_elf_close(&b->elf);
  b->elf_open = false;
  pgo_funclist_free(&b->funcs);
  pgo_funclist_free(&b->asm_funcs);
  free(b->file);
  b->file = NULL;
  return 0;
}

static box *push_box(lua_State *L) {
  return pgolua_push_scratch(L, sizeof(box), BOX_META, box_gc);
}

static int profile_call_addresses(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  box *b = push_box(L);
  size_t n;
  pgo_error err;
  if (!pgo_call_addresses(p, &b->recs, &n, &err)) return pgolua_push_error(L, &err);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    const pgo_call_address *r = &b->recs[i];
    lua_createtable(L, 0, 10);
    pgolua_push_str(L, p, r->caller);
    lua_setfield(L, -2, "caller");
    pgolua_push_str(L, p, r->callee);
    lua_setfield(L, -2, "callee");
    pgolua_set_int(L, "offset", r->offset);
    pgolua_push_str(L, p, r->file);
    lua_setfield(L, -2, "file");
    pgolua_set_int(L, "line", r->line);
    pgolua_set_int(L, "address", (lua_Integer)r->address);
    pgolua_set_int(L, "weight", r->weight);
    lua_pushboolean(L, r->inlined);
    lua_setfield(L, -2, "inlined");
    if (r->outer) {
      pgolua_push_str(L, p, r->outer);
      lua_setfield(L, -2, "outer");
      pgolua_set_int(L, "outer_offset", r->outer_offset);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int symbols_call_instructions(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  uint64_t max = (uint64_t)1 << 30;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "max_size") != 0)
        return luaL_argerror(L, 3, lua_pushfstring(L, "unknown option '%s'",
                                                   luaL_tolstring(L, -1, NULL)));
    }
    lua_getfield(L, 3, "max_size");
    lua_Integer m = luaL_checkinteger(L, -1);
    if (m <= 0) return luaL_argerror(L, 3, "option 'max_size' must be a positive integer");
    max = (uint64_t)m;
    lua_pop(L, 1);
  }
  lua_Integer naddr = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= naddr; i++)
    if (lua_geti(L, 2, i) != LUA_TNUMBER || !lua_isinteger(L, -1))
      return luaL_argerror(L, 2, "addresses must be an array of integers");
    else lua_pop(L, 1);
  box *b = push_box(L);
  pgo_error err;
  pgo_funcs_source source;
  bool stripped;
  pgo_pclntab_header h;
  size_t len;
  if (!pgo_read_file(path, max, "max_size", &b->file, &len, &err))
    return pgolua_push_error(L, &err);
  b->elf_open = pgo_elf_open(&b->elf, b->file, len, &err);
  if (!b->elf_open || !pgo_elf_go_functions(&b->elf, false, &b->funcs, &source, &stripped, &h,
                                           &err) ||
      !pgo_pclntab_asm_funcs(&b->elf, &b->asm_funcs, &err)) {
    pgo_error_prefix(&err, path);
    return pgolua_push_error(L, &err);
  }
  lua_createtable(L, 0, (int)naddr + 1);
  for (lua_Integer i = 1; i <= naddr; i++) {
    lua_geti(L, 2, i);
    lua_Integer a = lua_tointeger(L, -1);
    /* the instruction ends at the return address, one past the profile's address */
    pgo_call_insn k = a > 0 ? pgo_call_insn_before(&b->elf, &b->funcs, (uint64_t)a + 1)
                            : PGO_CALL_UNKNOWN;
    lua_pushstring(L, pgo_call_insn_name(k));
    lua_settable(L, -3);
  }
  char arch[32];
  lua_pushstring(L, pgo_elf_arch(&b->elf, arch, sizeof arch));
  lua_setfield(L, -2, "arch");
  lua_createtable(L, 0, (int)b->asm_funcs.count);
  for (size_t i = 0; i < b->asm_funcs.count; i++) {
    lua_pushlstring(L, b->asm_funcs.items[i].name, b->asm_funcs.items[i].name_len);
    lua_pushboolean(L, 1);
    lua_settable(L, -3);
  }
  lua_setfield(L, -2, "assembly");
  return 1;
}

const luaL_Reg pgolua_profile_callsite_methods[] = {
  {"call_addresses", profile_call_addresses},
  {NULL, NULL}
};

const luaL_Reg pgolua_callsite_funcs[] = {
  {"call_instructions", symbols_call_instructions},
  {NULL, NULL}
};
