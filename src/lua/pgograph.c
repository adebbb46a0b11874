/* pgograph.c: pgo.profile methods for the compiler's view: edges, preprofile, hot call
 * sites, call sites (devirtualization), compaction for PGO. Thin: check the options, call
 * src/profile/pgograph.c, push plain Lua tables (owned by Lua). The C results live in a
 * scratch userdata while the tables are built, so a memory error in Lua frees them. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua_bind.h"
#include "lua_profile.h"
#include "pgolua/pgograph.h"

#define SCRATCH_META "pgo.pgograph.scratch"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
  pgo_call_edges edges;
  pgo_callsites sites;
  char *text;
} scratch;

static int scratch_gc(lua_State *L) {
  scratch *s = luaL_checkudata(L, 1, SCRATCH_META);
  pgo_call_edges_free(&s->edges);
  pgo_callsites_free(&s->sites);
  free(s->text);
  s->text = NULL;
  return 0;
}

/* Push a scratch userdata (freed by __gc, or by scratch_gc at once). */
static scratch *push_scratch(lua_State *L) {
  return pgolua_push_scratch(L, sizeof(scratch), SCRATCH_META, scratch_gc);
}

/* Raise on a key of the options table at index t that is not in `known`. */
static void check_options(lua_State *L, int t, const char *const known[]) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);                                   /* the value */
    bool ok = false;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; known[i]; i++)
        if (strcmp(known[i], lua_tostring(L, -1)) == 0) ok = true;
    if (!ok) {
      lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL));
      luaL_argerror(L, t, lua_tostring(L, -1));
    }
  }
}

/* The options table at index 2 (or 0 when absent); raises on unknown keys. */
static int opt_table(lua_State *L, const char *const known[]) {
  if (lua_isnoneornil(L, 2)) return 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  check_options(L, 2, known);
  return 2;
}

static lua_Integer opt_int(lua_State *L, int t, const char *field, lua_Integer dflt,
                           lua_Integer min) {
  lua_Integer v = dflt;
  if (t && lua_getfield(L, t, field) != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < min) {
      lua_pushfstring(L, "option '%s' must be an integer >= %d", field, (int)min);
      luaL_argerror(L, t, lua_tostring(L, -1));
    }
    v = lua_tointeger(L, -1);
  }
  if (t) lua_pop(L, 1);
  return v;
}

static void set_str(lua_State *L, const pgo_profile *p, const char *k, uint32_t id) {
  pgolua_push_str(L, p, id);
  lua_setfield(L, -2, k);
}

static double share(int64_t v, int64_t total) {
  return total == 0 ? 0.0 : (double)v / (double)total;
}

static const char *const kind_names[] = {"function", "method", "closure"};

static pgo_func_kind kind_of(const pgo_profile *p, uint32_t id) {
  return pgo_classify_func_name(pgo_str(&p->strings, id), pgo_strlen(&p->strings, id));
}

/* Build the edges into s->edges; on a data failure push nil, message, code and return 3,
 * else 0. Raises on out of memory. */
static int build_edges(lua_State *L, const pgo_profile *p, scratch *s) {
  pgo_error err;
  if (pgo_call_edges_build(p, &s->edges, &err)) return 0;
  if (strcmp(err.code, "nomem") == 0) return luaL_error(L, "%s", err.message);
  return pgolua_push_error(L, &err);
}

/* Set the fields shared by edges() and hot_callsites() on the table on top. */
static void set_graph_fields(lua_State *L, const pgo_profile *p, const pgo_call_edges *e) {
  pgolua_set_int(L, "total_weight", e->total);
  if (e->value_index >= 0) {
    const pgo_value_type *vt = &p->sample_types[e->value_index];
    lua_pushfstring(L, "%s/%s", pgo_str(&p->strings, vt->type), pgo_str(&p->strings, vt->unit));
    lua_setfield(L, -2, "sample_type");
  }
}

/* ---- methods --------------------------------------------------------------------------------- */

/* p:edges() -> edges | nil, message, code
 * edges[i] = {caller, callee, offset, weight} in `go tool preprofile` order;
 * edges.total_weight (the compiler's TotalWeight), edges.sample_type ("samples/count").
 * Codes: "not_cpu", "missing_start_line". */
static int pgograph_edges(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  scratch *s = push_scratch(L);
  int r = build_edges(L, p, s);
  if (r) return r;
  lua_createtable(L, (int)s->edges.n, 2);
  for (size_t i = 0; i < s->edges.n; i++) {
    const pgo_call_edge *x = &s->edges.edges[i];
    lua_createtable(L, 0, 4);
    set_str(L, p, "caller", x->caller);
    set_str(L, p, "callee", x->callee);
    pgolua_set_int(L, "offset", x->offset);
    pgolua_set_int(L, "weight", x->weight);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  set_graph_fields(L, p, &s->edges);
  return 1;
}

/* p:preprofile() -> text | nil, message, code: `go tool preprofile` output, byte for byte. */
static int pgograph_preprofile(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  scratch *s = push_scratch(L);
  int r = build_edges(L, p, s);
  if (r) return r;
  size_t len;
  pgo_error err;
  if (!pgo_preprofile_text(p, &s->edges, &s->text, &len, &err))
    return luaL_error(L, "%s", err.message);
  lua_pushlstring(L, s->text, len);
  return 1;
}

static const char *const hot_options[] = {"cdf", NULL};

/* p:hot_callsites([{cdf = 99}]) -> hot | nil, message, code
 * hot[i] = {rank, caller, callee, offset, weight, share, cum_share} for the compiler's hot
 * edges (shares are fractions of the total edge weight); fields: cdf, total_weight,
 * sample_type, edges (number of edges in the profile), threshold_pct (the last hot edge's
 * weight in percent, 0 when every edge is hot), threshold (the same as Go prints it with
 * -d=pgodebug=1), callees (distinct hot callee names, in order of first appearance),
 * sites (number of distinct hot (caller, offset) call sites). */
static int pgograph_hot_callsites(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = opt_table(L, hot_options);
  double cdf = 99;
  if (t && lua_getfield(L, t, "cdf") != LUA_TNIL) {
    if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0 && lua_tonumber(L, -1) <= 100))
      luaL_argerror(L, t, "option 'cdf' must be a number between 0 and 100");
    cdf = lua_tonumber(L, -1);
  }
  if (t) lua_pop(L, 1);
  scratch *s = push_scratch(L);
  int r = build_edges(L, p, s);
  if (r) return r;
  const pgo_call_edges *e = &s->edges;
  double thr;
  size_t nhot = pgo_hot_cdf(e, cdf, &thr);
  lua_createtable(L, (int)nhot, 9);
  int hot = lua_gettop(L);
  lua_newtable(L);                                   /* seen callees */
  lua_newtable(L);                                   /* the callees list */
  lua_newtable(L);                                   /* seen sites */
  int seen_callee = hot + 1, callees = hot + 2, seen_site = hot + 3;
  lua_Integer ncallees = 0, nsites = 0;
  int64_t cum = 0;
  for (size_t i = 0; i < nhot; i++) {
    const pgo_call_edge *x = &e->edges[i];
    cum = (int64_t)((uint64_t)cum + (uint64_t)x->weight);
    lua_createtable(L, 0, 7);
    pgolua_set_int(L, "rank", (lua_Integer)i + 1);
    set_str(L, p, "caller", x->caller);
    set_str(L, p, "callee", x->callee);
    pgolua_set_int(L, "offset", x->offset);
    pgolua_set_int(L, "weight", x->weight);
    pgolua_set_num(L, "share", share(x->weight, e->total));
    pgolua_set_num(L, "cum_share", share(cum, e->total));
    lua_rawseti(L, hot, (lua_Integer)i + 1);
    pgolua_push_str(L, p, x->callee);
    if (lua_rawget(L, seen_callee) == LUA_TNIL) {
      pgolua_push_str(L, p, x->callee);
      lua_pushboolean(L, 1);
      lua_rawset(L, seen_callee);
      pgolua_push_str(L, p, x->callee);
      lua_rawseti(L, callees, ++ncallees);
    }
    lua_pop(L, 1);
    pgolua_push_str(L, p, x->caller);                       /* site key: caller "\n" offset */
    lua_pushfstring(L, "\n%I", (lua_Integer)x->offset);
    lua_concat(L, 2);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, seen_site) == LUA_TNIL) {
      lua_pop(L, 1);                                 /* the nil */
      lua_pushboolean(L, 1);
      lua_rawset(L, seen_site);                      /* seen[key] = true */
      nsites++;
    } else {
      lua_pop(L, 2);                                 /* the value and the key */
    }
  }
  lua_pop(L, 1);                                     /* seen sites */
  lua_setfield(L, hot, "callees");
  lua_pop(L, 1);                                     /* seen callees */
  pgolua_set_num(L, "cdf", cdf);
  set_graph_fields(L, p, e);
  pgolua_set_int(L, "edges", (lua_Integer)e->n);
  pgolua_set_int(L, "sites", nsites);
  pgolua_set_num(L, "threshold_pct", thr);
  char buf[32];
  size_t n = pgo_format_go_float(thr, buf);
  lua_pushlstring(L, buf, n);
  lua_setfield(L, -2, "threshold");
  return 1;
}

static const char *const callsite_options[] = {"min_callees", NULL};

/* Push the interface-call guesses of a site: for each method name among its callees, the
 * hottest method with that name, as {method, callee, weight}, hottest first. Calls of
 * different methods on one line share the site; the compiler keeps only callees whose
 * name ends in ".<method>" (devirtualize.findHotConcreteInterfaceCallee). */
static void push_interface_targets(lua_State *L, const pgo_profile *p, const pgo_call_edges *e,
                                   const pgo_callsites *c, const pgo_callsite *site) {
  lua_newtable(L);
  int list = lua_gettop(L);
  lua_newtable(L);                                   /* method names seen */
  lua_Integer n = 0;
  for (uint32_t k = 0; k < site->count; k++) {
    const pgo_call_edge *x = &e->edges[c->order[site->first + k]];
    if (kind_of(p, x->callee) != PGO_FN_METHOD) continue;
    const char *name = pgo_str(&p->strings, x->callee);
    const char *dot = strrchr(name, '.');
    const char *method = dot ? dot + 1 : name;
    if (lua_getfield(L, list + 1, method) != LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, list + 1, method);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    set_str(L, p, "callee", x->callee);
    pgolua_set_int(L, "weight", x->weight);
    lua_rawseti(L, list, ++n);
  }
  lua_pop(L, 1);                                     /* the names seen */
}

/* A callee the compiler has no IR for when it compiles a user package: the runtime's
 * unexported functions (compiler-inserted helpers such as runtime.mallocgc, and
 * runtime.asyncPreempt, entered by a signal), std's internal packages and assembly symbols
 * without a package (gcWriteBarrier). No user code can
 * make a function value of them, and findHotConcreteCallee gives up when one is hottest. */
static bool no_ir_callee(const char *name) {
  if (strncmp(name, "runtime.", 8) == 0) return (name[8] >= 'a' && name[8] <= 'z') || name[8] == '(';
  return strncmp(name, "internal/", 9) == 0 || !strchr(name, '.');   /* or an assembly symbol */
}

/* Push the call sites of the scratch's edges as a table (see p:callsites). */
static void push_callsites(lua_State *L, const pgo_profile *p, const scratch *s) {
  const pgo_call_edges *e = &s->edges;
  const pgo_callsites *c = &s->sites;
  lua_createtable(L, (int)c->n, 1);
  lua_Integer n = 0;
  for (size_t i = 0; i < c->n; i++) {
    const pgo_callsite *site = &c->sites[i];
    const pgo_call_edge *top = &e->edges[c->order[site->first]];
    pgo_func_kind top_kind = kind_of(p, top->callee);
    /* the compiler devirtualizes to the hottest callee; function-value calls never to a
     * closure (go.dev/issue/61577) nor runtime.memhash_varlen; an interface call's callees
     * are methods. When the hottest is a function the compiler has no IR for (the
     * runtime's unexported helpers, runtime.asyncPreempt, std internal packages), it gives
     * up at that site. */
    const char *top_name = pgo_str(&p->strings, top->callee);
    bool speculate = top_kind != PGO_FN_CLOSURE && !no_ir_callee(top_name) &&
                     strcmp(top_name, "runtime.memhash_varlen") != 0;
    lua_createtable(L, 0, 10);
    set_str(L, p, "caller", site->caller);
    pgolua_set_int(L, "offset", site->offset);
    pgolua_set_int(L, "weight", site->weight);
    lua_createtable(L, (int)site->count, 0);
    for (uint32_t k = 0; k < site->count; k++) {
      const pgo_call_edge *x = &e->edges[c->order[site->first + k]];
      lua_createtable(L, 0, 4);
      set_str(L, p, "callee", x->callee);
      pgolua_set_int(L, "weight", x->weight);
      pgolua_set_num(L, "share", share(x->weight, site->weight));
      lua_pushstring(L, kind_names[kind_of(p, x->callee)]);
      lua_setfield(L, -2, "kind");
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "callees");
    push_interface_targets(L, p, e, c, site);
    lua_setfield(L, -2, "interface_targets");
    set_str(L, p, "dominant", top->callee);
    pgolua_set_int(L, "dominant_weight", top->weight);
    pgolua_set_num(L, "dominant_share", share(top->weight, site->weight));
    lua_pushstring(L, kind_names[top_kind]);
    lua_setfield(L, -2, "dominant_kind");
    lua_pushboolean(L, speculate);
    lua_setfield(L, -2, "speculate");
    if (speculate) set_str(L, p, "target", top->callee);
    lua_rawseti(L, -2, ++n);
  }
  pgolua_set_int(L, "total_weight", e->total);
}

/* p:callsites([{min_callees = 2}]) -> sites | nil, message, code
 * Call sites (caller, offset) with at least min_callees callees, heaviest first:
 * {caller, offset, weight (sum over callees), callees = {{callee, weight, share, kind}...}
 * hottest first, dominant, dominant_weight, dominant_share, dominant_kind ("function",
 * "method", "closure" from the name), speculate, target}. `speculate` says whether the
 * compiler would devirtualize this site to `target` (its hottest callee) if the call is
 * an interface or function-value call: the profile cannot tell indirect calls from
 * several static calls on one line, so the rule is: the hottest callee is not a closure
 * (Go 1.22+ skips closures for function values; interface calls only reach methods) and
 * not runtime.memhash_varlen, nor a function the compiler has no IR for (the runtime's
 * unexported functions, runtime.asyncPreempt, std internal packages: it gives up).
 * The compiler's own list needs the binary: pgo.compiler.devirt_candidates.
 * interface_targets = {{method, callee, weight}...}: per method
 * name among the callees the hottest method of that name (what an interface call of that
 * method on this line is devirtualized to). */
static int pgograph_callsites(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = opt_table(L, callsite_options);
  lua_Integer min = opt_int(L, t, "min_callees", 2, 1);
  scratch *s = push_scratch(L);
  int r = build_edges(L, p, s);
  if (r) return r;
  pgo_error err;
  if (!pgo_callsites_build(p, &s->edges, (size_t)min, &s->sites, &err))
    return luaL_error(L, "%s", err.message);
  push_callsites(L, p, s);
  return 1;
}

static const char *const compact_options[] = {"frames", NULL};

/* p:compact_for_pgo([{frames = N}]) -> profile, info | nil, message, code
 * A new profile with only what the compiler reads (see pgograph.h); frames: leaf frames
 * kept per sample (nil = all, else >= 2). info = {frames (0 = all), level (0 = the most
 * compact form; 1, 2 when line numbers, all addresses had to be kept), addresses (how
 * many locations kept an address)}. */
static int pgograph_compact_for_pgo(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  int t = opt_table(L, compact_options);
  lua_Integer frames = 0;
  if (t && lua_getfield(L, t, "frames") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 2 ||
        lua_tointeger(L, -1) > (lua_Integer)UINT32_MAX)
      luaL_argerror(L, t, "option 'frames' must be an integer >= 2 (the compiler reads the "
                          "two leaf frames of each sample)");
    frames = lua_tointeger(L, -1);
  }
  if (t) lua_pop(L, 1);
  pgo_error err;
  pgo_compact_info info;
  pgo_profile *q = pgo_compact_for_pgo(p, (uint32_t)frames, &info, &err);
  if (!q) {
    if (strcmp(err.code, "nomem") == 0) return luaL_error(L, "%s", err.message);
    if (strcmp(err.code, "internal") == 0) return luaL_error(L, "%s", err.message);
    return pgolua_push_error(L, &err);
  }
  pgolua_push_profile(L, q);
  lua_createtable(L, 0, 3);
  pgolua_set_int(L, "frames", (lua_Integer)info.frames);
  pgolua_set_int(L, "level", info.level);
  pgolua_set_int(L, "addresses", (lua_Integer)info.addresses);
  return 2;
}

const luaL_Reg pgolua_profile_pgo_methods[] = {
  {"edges", pgograph_edges},
  {"preprofile", pgograph_preprofile},
  {"hot_callsites", pgograph_hot_callsites},
  {"callsites", pgograph_callsites},
  {"compact_for_pgo", pgograph_compact_for_pgo},
  {NULL, NULL}
};
