/* profile.c: the pgo.profile module: decode/load, the profile userdata and its core
 * methods (info, samples, encode, write, close). Lua owns the pgo_profile: __gc frees it. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "pgolua/fileio.h"
#include "lua_bind.h"
#include "lua_profile.h"

typedef struct { pgo_profile *p; } profile_box;

/* ---- helpers --------------------------------------------------------------------------- */

pgo_profile *pgolua_check_profile_flat(lua_State *L, int i) {
  profile_box *b = luaL_checkudata(L, i, PGO_PROFILE_META);
  if (!b->p) luaL_error(L, "attempt to use a closed profile");
  return b->p;
}

pgo_profile *pgolua_check_profile(lua_State *L, int i) {
  pgo_profile *p = pgolua_check_profile_flat(L, i);
  if (!pgo_profile_frames(p)) luaL_error(L, "not enough memory");
  return p;
}

void pgolua_push_profile(lua_State *L, pgo_profile *p) {
  profile_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;                         /* closed until the metatable is set */
  luaL_setmetatable(L, PGO_PROFILE_META);
  b->p = p;
}

int pgolua_push_error(lua_State *L, const pgo_error *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err->message);
  lua_pushstring(L, err->code);
  return 3;
}

static uint64_t opt_limit(lua_State *L, int t, const char *field, uint64_t dflt) {
  lua_getfield(L, t, field);
  uint64_t v = dflt;
  if (!lua_isnil(L, -1)) {
    lua_Integer n = luaL_checkinteger(L, -1);
    if (n <= 0) luaL_error(L, "option '%s' must be a positive integer", field);
    v = (uint64_t)n;
  }
  lua_pop(L, 1);
  return v;
}

void pgolua_check_limits(lua_State *L, int i, pgo_limits *limits) {
  pgo_limits_default(limits);
  if (lua_isnoneornil(L, i)) return;
  luaL_checktype(L, i, LUA_TTABLE);
  limits->max_decompressed = opt_limit(L, i, "max_decompressed", limits->max_decompressed);
  limits->max_samples = opt_limit(L, i, "max_samples", limits->max_samples);
  uint64_t depth = opt_limit(L, i, "max_stack_depth", limits->max_stack_depth);
  limits->max_stack_depth = depth > UINT32_MAX ? UINT32_MAX : (uint32_t)depth;
  limits->max_memory = opt_limit(L, i, "max_memory", limits->max_memory);
  limits->max_memory_ratio = opt_limit(L, i, "max_memory_ratio", limits->max_memory_ratio);
}

static void push_value_type(lua_State *L, const pgo_profile *p, pgo_value_type vt) {
  lua_createtable(L, 0, 2);
  pgolua_push_str(L, p, vt.type);
  lua_setfield(L, -2, "type");
  pgolua_push_str(L, p, vt.unit);
  lua_setfield(L, -2, "unit");
}

/* ---- module functions -------------------------------------------------------------------- */

/* decode(bytes [, opts]) -> profile | nil, message, code */
static int profile_decode(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  pgo_limits limits;
  pgolua_check_limits(L, 2, &limits);
  pgo_error err;
  pgo_profile *p = pgo_profile_decode_flat(data, len, &limits, &err);
  if (!p) return pgolua_push_error(L, &err);
  pgolua_push_profile(L, p);
  return 1;
}

/* load(path [, opts]) -> profile | nil, message, code; "-" reads standard input */
static int profile_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  pgo_limits limits;
  pgolua_check_limits(L, 2, &limits);
  pgo_error err;
  unsigned char *data;
  size_t len;
  if (!pgo_read_file(path, limits.max_decompressed, "max_decompressed", &data, &len, &err)) {
    return pgolua_push_error(L, &err);
  }
  pgo_profile *p = pgo_profile_decode_flat(data, len, &limits, &err);
  free(data);
  if (!p) {
    pgo_error_prefix(&err, strcmp(path, "-") == 0 ? "<stdin>" : path);
    return pgolua_push_error(L, &err);
  }
  pgolua_push_profile(L, p);
  return 1;
}

/* ---- methods ----------------------------------------------------------------------------- */

/* p:_info() -> table of the header and counts (the Lua half adds `kind`) */
static int profile_info(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  lua_createtable(L, 0, 14);
  lua_createtable(L, (int)p->nsample_types, 0);
  for (size_t i = 0; i < p->nsample_types; i++) {
    push_value_type(L, p, p->sample_types[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "sample_types");
  if (p->nsample_types) pgolua_push_str(L, p, p->sample_types[pgo_profile_default_index(p)].type);
  else lua_pushliteral(L, "");
  lua_setfield(L, -2, "default_sample_type");
  push_value_type(L, p, p->period_type);
  lua_setfield(L, -2, "period_type");
  lua_pushinteger(L, p->period);
  lua_setfield(L, -2, "period");
  lua_pushinteger(L, p->duration_nanos);
  lua_setfield(L, -2, "duration_ns");
  lua_pushinteger(L, p->time_nanos);
  lua_setfield(L, -2, "time_ns");
  lua_createtable(L, (int)p->ncomments, 0);
  for (size_t i = 0; i < p->ncomments; i++) {
    pgolua_push_str(L, p, p->comments[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "comments");
  lua_pushinteger(L, (lua_Integer)p->sample_messages);
  lua_setfield(L, -2, "samples");
  lua_pushinteger(L, (lua_Integer)p->nlocations);
  lua_setfield(L, -2, "locations");
  lua_pushinteger(L, (lua_Integer)p->nfunctions);
  lua_setfield(L, -2, "functions");
  lua_pushinteger(L, (lua_Integer)p->nmappings);
  lua_setfield(L, -2, "mappings");
  int64_t totals[64], *t = totals;
  if (p->nsample_types > 64) t = lua_newuserdatauv(L, p->nsample_types * sizeof *t, 0);
  pgo_profile_totals(p, t);
  lua_createtable(L, (int)p->nsample_types, 0);
  for (size_t i = 0; i < p->nsample_types; i++) {
    lua_pushinteger(L, t[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "totals");
  if (t != totals) lua_remove(L, -2);
  return 1;
}

/* Iterator state for p:samples(): the profile stays referenced through upvalue 1. */
static int samples_next(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, lua_upvalueindex(1));
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
  if ((size_t)i >= p->nsamples) return 0;
  lua_pushinteger(L, i + 1);
  lua_replace(L, lua_upvalueindex(2));
  const pgo_sample *s = &p->samples[i];
  const int64_t *v = pgo_sample_values(p, (size_t)i);
  lua_createtable(L, (int)p->nsample_types, 0);
  for (size_t c = 0; c < p->nsample_types; c++) {
    lua_pushinteger(L, v[c]);
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
  lua_createtable(L, 0, 0);
  lua_Integer n = 0;
  /* leaf first: the flat run in order, or the tree's parent links */
  uint32_t at = s->stack, end = 0;
  if (p->flat) { end = p->flat_start[at + 1]; at = p->flat_start[at]; }
  while (p->flat ? at < end : at != 0) {
    const pgo_location *loc = &p->locations[p->flat ? p->flat_locs[at] : p->frames[at].location];
    at = p->flat ? at + 1 : p->frames[at].parent;
    for (uint32_t k = 0; k < loc->line_count; k++) {
      pgolua_push_str(L, p, p->functions[p->lines[loc->line_start + k].function].name);
      lua_rawseti(L, -2, ++n);
    }
  }
  const pgo_labelset *ls = &p->labelsets[s->labels];
  lua_createtable(L, 0, (int)ls->count);
  for (uint32_t k = 0; k < ls->count; k++) {
    const pgo_label *l = &p->labels[ls->start + k];
    pgolua_push_str(L, p, l->key);
    if (l->str || (!l->num && !l->num_unit)) pgolua_push_str(L, p, l->str);
    else lua_pushinteger(L, l->num);
    lua_rawset(L, -3);
  }
  return 3;
}

/* p:samples() -> iterator yielding values, stack (function names leaf first, inlined
 * frames expanded), labels ({key = value}) per sample */
static int profile_samples(lua_State *L) {
  pgolua_check_profile_flat(L, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, samples_next, 2);
  return 1;
}

/* p:encode([level]) -> gzip bytes */
static int profile_encode(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int level = (int)luaL_optinteger(L, 2, 6);
  luaL_argcheck(L, level >= 1 && level <= 9, 2, "compression level must be 1..9");
  unsigned char *out;
  size_t len;
  pgo_error err;
  if (!pgo_profile_encode(p, level, &out, &len, &err)) return pgolua_push_error(L, &err);
  lua_pushlstring(L, (const char *)out, len);
  free(out);
  return 1;
}

/* p:write(path [, level]) -> true | nil, message, code (atomic: temp file, fsync, rename) */
static int profile_write(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int level = (int)luaL_optinteger(L, 3, 6);
  luaL_argcheck(L, level >= 1 && level <= 9, 3, "compression level must be 1..9");
  unsigned char *out;
  size_t len;
  pgo_error err;
  if (!pgo_profile_encode(p, level, &out, &len, &err)) return pgolua_push_error(L, &err);
  bool ok = pgo_write_atomic(path, out, len, 0644, &err);
  free(out);
  if (!ok) return pgolua_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* p:stack_form() -> "flat" | "tree": how the stacks are held now (see pgo.decode in
 * docs/api.md); the tree is built by the first operation that needs it. */
static int profile_stack_form(lua_State *L) {
  lua_pushstring(L, pgolua_check_profile_flat(L, 1)->flat ? "flat" : "tree");
  return 1;
}

static int profile_close(lua_State *L) {
  profile_box *b = luaL_checkudata(L, 1, PGO_PROFILE_META);
  pgo_profile_free(b->p);
  b->p = NULL;
  return 0;
}

static int profile_is_closed(lua_State *L) {
  profile_box *b = luaL_checkudata(L, 1, PGO_PROFILE_META);
  lua_pushboolean(L, b->p == NULL);
  return 1;
}

static const luaL_Reg profile_funcs[] = {
  {"decode", profile_decode},
  {"load", profile_load},
  {NULL, NULL}
};

static const luaL_Reg profile_methods[] = {
  {"_info", profile_info},
  {"samples", profile_samples},
  {"encode", profile_encode},
  {"write", profile_write},
  {"stack_form", profile_stack_form},
  {"close", profile_close},
  {"is_closed", profile_is_closed},
  {NULL, NULL}
};

static const luaL_Reg profile_meta[] = {
  {"__gc", profile_close},
  {"__close", profile_close},
  {NULL, NULL}
};

/* Method tables contributed by other binding files (analysis, PGO, editing, ...). */
static const luaL_Reg *const extra_methods[] = {
  pgolua_profile_analysis_methods,
  pgolua_profile_transform_methods,
  pgolua_profile_pgo_methods,
  pgolua_profile_callsite_methods,
  NULL
};

int luaopen_pgo_profile(lua_State *L) {
  luaL_newmetatable(L, PGO_PROFILE_META);
  luaL_setfuncs(L, profile_meta, 0);
  luaL_newlib(L, profile_methods);
  for (int i = 0; extra_methods[i]; i++) luaL_setfuncs(L, extra_methods[i], 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");          /* metatable.__index = methods */
  luaL_newlib(L, profile_funcs);
  luaL_setfuncs(L, pgolua_profile_transform_funcs, 0);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "methods");          /* the Lua half adds methods here */
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "metatable");        /* ... and __tostring there */
  return 1;
}
