/* analysis.c: pgo.profile methods for analysis: top, tags, filter, total. Thin: check
 * the options, call src/profile/aggregate.c or filter.c, push the result. The text
 * layouts live in lua/pgo/report.lua. Results are plain Lua tables owned by Lua. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "pgolua/aggregate.h"
#include "pgolua/filter.h"
#include "lua_bind.h"
#include "lua_profile.h"

/* ---- option helpers ------------------------------------------------------------------ */

/* Raise on a key of the options table at index t that is not in `known` (catches typos
 * such as {nodecuont = 5}); string keys only. */
static void check_known_options(lua_State *L, int t, const char *fname,
                                const char *const known[]) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);                                   /* the value */
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_error(L, "bad argument #1 to '%s' (option names must be strings)", fname);
    }
    const char *k = lua_tostring(L, -1);
    bool ok = false;
    for (int i = 0; known[i]; i++)
      if (strcmp(known[i], k) == 0) ok = true;
    if (!ok) luaL_error(L, "bad argument #1 to '%s' (unknown option '%s')", fname, k);
  }
}

static bool opt_bool(lua_State *L, int t, const char *fname, const char *field, bool dflt) {
  bool v = dflt;
  if (lua_getfield(L, t, field) != LUA_TNIL) {
    if (!lua_isboolean(L, -1))
      luaL_error(L, "bad argument #1 to '%s' (option '%s' must be a boolean)", fname, field);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static double opt_number(lua_State *L, int t, const char *fname, const char *field,
                         double dflt) {
  double v = dflt;
  if (lua_getfield(L, t, field) != LUA_TNIL) {
    if (!lua_isnumber(L, -1))
      luaL_error(L, "bad argument #1 to '%s' (option '%s' must be a number)", fname, field);
    v = lua_tonumber(L, -1);
    if (!(v >= 0 && v <= 1))
      luaL_error(L, "bad argument #1 to '%s' (option '%s' must be between 0 and 1)", fname,
                 field);
  }
  lua_pop(L, 1);
  return v;
}

/* The value column from opts.sample_index: an integer is a 1-based column (Lua's
 * convention); a string is pprof's -sample_index (a type name such as "samples", or a
 * 0-based number); absent = the default sample type. Raises on a bad value. */
static size_t opt_sample_index(lua_State *L, int t, const pgo_profile *p, const char *fname) {
  size_t idx = 0;
  pgo_error err;
  int ty = t ? lua_getfield(L, t, "sample_index") : LUA_TNIL;
  if (ty == LUA_TNIL) {
    if (!pgo_sample_index_by_name(p, NULL, &idx, &err))
      luaL_error(L, "bad argument #1 to '%s' (%s)", fname, err.message);
  } else if (ty == LUA_TNUMBER) {
    if (!lua_isinteger(L, -1))
      luaL_error(L, "bad argument #1 to '%s' (sample_index must be an integer or a name)", fname);
    lua_Integer i = lua_tointeger(L, -1);
    if (i < 1 || (size_t)i > p->nsample_types)
      luaL_error(L, "bad argument #1 to '%s' (sample_index %d is outside the range [1..%d])",
                 fname, (int)i, (int)p->nsample_types);
    idx = (size_t)i - 1;
  } else if (ty == LUA_TSTRING) {
    if (!pgo_sample_index_by_name(p, lua_tostring(L, -1), &idx, &err))
      luaL_error(L, "bad argument #1 to '%s' (%s)", fname, err.message);
  } else {
    luaL_error(L, "bad argument #1 to '%s' (sample_index must be an integer or a name, got %s)",
               fname, luaL_typename(L, -1));
  }
  if (t) lua_pop(L, 1);
  return idx;
}

static double pct(int64_t v, int64_t total) {
  return total == 0 ? 0.0 : (double)v / (double)total * 100.0;
}

/* ---- p:top ------------------------------------------------------------------------------ */

static const char *const top_options[] = {
  "n", "nodecount", "cum", "sample_index", "granularity", "noinlines", "nodefraction",
  "edgefraction", "trim", "total", NULL
};

static const char *const granularities[] = {
  "functions", "filefunctions", "files", "lines", "addresses", NULL
};

/* p:top([opts]) -> rows, info
 * opts: n or nodecount (0 = all), cum, sample_index, granularity ("functions",
 * "filefunctions", "files", "lines", "addresses"), noinlines, nodefraction (0.005),
 * edgefraction (0.001), trim (false = no cutoffs), total (percentages relative to it).
 * rows[i] = {name, flat, flat_pct, sum_pct, cum, cum_pct, inline, partial_inline};
 * info = {total, flat_total, shown, node_cutoff, edge_cutoff, dropped_nodes, node_count,
 * graph_nodes, nodecount, sample_index, sample_type, sample_unit, file, build_id};
 * nil, message, "no_sample_types" for a profile without sample types. */
static int profile_top(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    t = 2;
    check_known_options(L, t, "top", top_options);
  }
  pgo_top_options o;
  pgo_top_options_default(&o);
  if (p->nsample_types == 0) {                 /* outside data, not a caller's mistake */
    lua_pushnil(L);
    lua_pushstring(L, "the profile has no sample types, so no samples to rank (an empty or "
                      "damaged profile): capture it again");
    lua_pushstring(L, "no_sample_types");
    return 3;
  }
  o.sample_index = opt_sample_index(L, t, p, "top");
  if (t) {
    o.cum_sort = opt_bool(L, t, "top", "cum", false);
    o.noinlines = opt_bool(L, t, "top", "noinlines", false);
    o.node_fraction = opt_number(L, t, "top", "nodefraction", o.node_fraction);
    o.edge_fraction = opt_number(L, t, "top", "edgefraction", o.edge_fraction);
    const char *nk = "nodecount";
    if (lua_getfield(L, t, "n") != LUA_TNIL) nk = "n";
    lua_pop(L, 1);
    if (lua_getfield(L, t, nk) != LUA_TNIL) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
        luaL_error(L, "bad argument #1 to 'top' (option '%s' must be a non-negative integer)", nk);
      o.node_count = (size_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, t, "granularity") != LUA_TNIL) {
      if (!lua_isstring(L, -1))
        luaL_error(L, "bad argument #1 to 'top' (option 'granularity' must be a string)");
      const char *gr = lua_tostring(L, -1);
      int i = 0;
      while (granularities[i] && strcmp(granularities[i], gr) != 0) i++;
      if (!granularities[i])
        luaL_error(L, "bad argument #1 to 'top' (option 'granularity' must be one of functions, "
                   "filefunctions, files, lines, addresses; got '%s')", gr);
      o.granularity = (pgo_granularity)i;
    }
    lua_pop(L, 1);
    if (!opt_bool(L, t, "top", "trim", true)) {
      o.node_fraction = o.edge_fraction = 0;
      o.node_count = 0;
    }
    if (lua_getfield(L, t, "total") != LUA_TNIL) {
      if (!lua_isinteger(L, -1))
        luaL_error(L, "bad argument #1 to 'top' (option 'total' must be an integer)");
      o.has_total = true;
      o.total = (int64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
  }
  pgo_top_result r;
  pgo_error err;
  if (!pgo_top(p, &o, &r, &err)) {
    if (strcmp(err.code, "nomem") == 0) return luaL_error(L, "%s", err.message);
    return luaL_error(L, "BUG: %s", err.message);
  }
  lua_createtable(L, (int)r.nrows, 0);
  int64_t sum = 0;
  for (size_t i = 0; i < r.nrows; i++) {
    const pgo_top_row *row = &r.rows[i];
    sum = (int64_t)((uint64_t)sum + (uint64_t)row->flat);
    lua_createtable(L, 0, 8);
    lua_pushlstring(L, row->name, row->name_len);
    lua_setfield(L, -2, "name");
    pgolua_set_int(L, "flat", row->flat);
    pgolua_set_num(L, "flat_pct", pct(row->flat, r.total));
    pgolua_set_num(L, "sum_pct", pct(sum, r.total));
    pgolua_set_int(L, "cum", row->cum);
    pgolua_set_num(L, "cum_pct", pct(row->cum, r.total));
    lua_pushboolean(L, row->inline_kind == PGO_INLINE_ALL);
    lua_setfield(L, -2, "inline");
    lua_pushboolean(L, row->inline_kind == PGO_INLINE_PARTIAL);
    lua_setfield(L, -2, "partial_inline");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_createtable(L, 0, 16);
  pgolua_set_int(L, "total", r.total);
  pgolua_set_int(L, "flat_total", r.flat_total);
  pgolua_set_int(L, "shown", r.flat_shown);
  pgolua_set_int(L, "node_cutoff", r.node_cutoff);
  pgolua_set_int(L, "edge_cutoff", r.edge_cutoff);
  pgolua_set_int(L, "dropped_nodes", (lua_Integer)r.dropped_nodes);
  pgolua_set_int(L, "node_count", (lua_Integer)r.node_count);
  pgolua_set_int(L, "graph_nodes", (lua_Integer)r.graph_nodes);
  pgolua_set_int(L, "nodecount", (lua_Integer)o.node_count);
  pgolua_set_num(L, "nodefraction", o.node_fraction);
  pgolua_set_int(L, "sample_index", (lua_Integer)o.sample_index + 1);
  pgolua_push_str(L, p, p->sample_types[o.sample_index].type);
  lua_setfield(L, -2, "sample_type");
  pgolua_push_str(L, p, p->sample_types[o.sample_index].unit);
  lua_setfield(L, -2, "sample_unit");
  lua_pushstring(L, granularities[o.granularity]);
  lua_setfield(L, -2, "granularity");
  lua_pushboolean(L, o.cum_sort);
  lua_setfield(L, -2, "cum");
  if (p->nmappings) {
    pgolua_push_str(L, p, p->mappings[0].file);
    lua_setfield(L, -2, "file");
    pgolua_push_str(L, p, p->mappings[0].build_id);
    lua_setfield(L, -2, "build_id");
  }
  pgo_top_result_free(&r);
  return 2;
}

/* ---- p:total, p:tags --------------------------------------------------------------------- */

/* p:total([opts]) -> the report total of the value column (sum of |value|; the base part
 * of a diff_base profile), and the column's type and unit. opts: sample_index. */
static int profile_total(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    t = 2;
    static const char *const known[] = { "sample_index", NULL };
    check_known_options(L, t, "total", known);
  }
  if (p->nsample_types == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  size_t idx = opt_sample_index(L, t, p, "total");
  lua_pushinteger(L, pgo_report_total(p, idx));
  pgolua_push_str(L, p, p->sample_types[idx].type);
  pgolua_push_str(L, p, p->sample_types[idx].unit);
  return 3;
}

/* p:tags([opts]) -> tags, keys
 * tags = {key = {{value = "a", total = n}, ...}} with values in pprof's order (|total|
 * descending, then value); keys = the keys in pprof's order (by name). Numeric labels
 * print with their key's unit ("1kB"). opts: sample_index. */
static int profile_tags(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    t = 2;
    static const char *const known[] = { "sample_index", NULL };
    check_known_options(L, t, "tags", known);
  }
  lua_newtable(L);                                   /* tags */
  lua_newtable(L);                                   /* keys */
  if (p->nsample_types == 0) return 2;
  size_t idx = opt_sample_index(L, t, p, "tags");
  pgo_tags_result r;
  pgo_error err;
  if (!pgo_tags(p, idx, &r, &err)) return luaL_error(L, "%s", err.message);
  lua_Integer nkeys = 0, nvals = 0;
  uint32_t cur = UINT32_MAX;
  for (size_t i = 0; i < r.count; i++) {
    const pgo_tag_entry *e = &r.entries[i];
    if (e->key != cur) {
      if (cur != UINT32_MAX) lua_pop(L, 1);          /* the previous key's list */
      cur = e->key;
      pgolua_push_str(L, p, e->key);
      lua_rawseti(L, -2, ++nkeys);                   /* keys[n] = key */
      lua_newtable(L);
      pgolua_push_str(L, p, e->key);
      lua_pushvalue(L, -2);
      lua_rawset(L, -5);                             /* tags[key] = list */
      nvals = 0;
    }
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, e->value, e->value_len);
    lua_setfield(L, -2, "value");
    pgolua_set_int(L, "total", e->total);
    lua_rawseti(L, -2, ++nvals);
  }
  if (cur != UINT32_MAX) lua_pop(L, 1);
  pgo_tags_result_free(&r);
  return 2;
}

/* ---- p:filter ---------------------------------------------------------------------------- */

static const char *const filter_options[] = {
  "focus", "ignore", "hide", "show", "show_from", "prune_from", "tagfocus", "tagignore",
  "tagshow", "taghide", NULL
};

/* p:filter(opts) -> new profile, warnings
 * opts: focus, ignore, hide, show, show_from, prune_from (POSIX extended regular
 * expressions over function names, file names and mapping files), tagfocus, tagignore
 * (pprof's tag filters: "key=regexp,regexp", "regexp", numeric ranges "key=1kb:4kb"),
 * tagshow, taghide (regexps over label keys). The profile itself is not changed.
 * warnings = the notes pprof prints on stderr ("TagFocus expression matched no
 * samples", ...). Raises on a bad regular expression. */
static int profile_filter(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  check_known_options(L, 2, "filter", filter_options);
  pgo_filter_options o;
  memset(&o, 0, sizeof o);
  const char **slots[] = { &o.focus, &o.ignore, &o.hide, &o.show, &o.show_from, &o.prune_from,
                           &o.tagfocus, &o.tagignore, &o.tagshow, &o.taghide };
  for (int i = 0; filter_options[i]; i++) {
    if (lua_getfield(L, 2, filter_options[i]) != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad argument #1 to 'filter' (option '%s' must be a string, got %s)",
                   filter_options[i], luaL_typename(L, -1));
      const char *s = lua_tostring(L, -1);
      *slots[i] = *s ? s : NULL;                     /* "" = not set, as pprof */
    }
    lua_pop(L, 1);                                   /* the string stays in the options table */
  }
  pgo_filter_notes notes;
  pgo_error err;
  pgo_profile *q = pgo_profile_filter(p, &o, &notes, &err);
  if (!q) {
    if (strcmp(err.code, "bad_regex") == 0 || strcmp(err.code, "bad_tag_filter") == 0)
      return luaL_error(L, "bad argument #1 to 'filter' (%s)", err.message);
    return luaL_error(L, "%s", err.message);
  }
  pgolua_push_profile(L, q);
  lua_createtable(L, (int)notes.count, 0);
  for (size_t i = 0; i < notes.count; i++) {
    lua_pushstring(L, notes.text[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  pgo_filter_notes_free(&notes);
  return 2;
}

const luaL_Reg pgolua_profile_analysis_methods[] = {
  {"top", profile_top},
  {"total", profile_total},
  {"tags", profile_tags},
  {"filter", profile_filter},
  {NULL, NULL}
};
