/* transform.c: pgo.profile methods and functions that build new profiles (merge, diff,
 * editing). Every result is a new profile userdata that Lua owns (freed by __gc); inputs
 * are only read, except p:add_comment, which appends to p itself.
 *
 * Error convention: a caller's mistake (wrong type, missing option, bad regex) raises;
 * data that cannot be merged or a file that cannot be read returns nil, message, code.
 * Codes: incompatible, empty, overflow, nomem, plus pgo.load's codes for merge_files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/edit.h"
#include "pgolua/fileio.h"
#include "lua_bind.h"
#include "lua_profile.h"
#include "pgolua/merge.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Push the result of a core call: the profile, or the failure triple. */
static int push_result(lua_State *L, pgo_profile *r, const pgo_error *err) {
  if (!r) return pgolua_push_error(L, err);
  pgolua_push_profile(L, r);
  return 1;
}

/* Scratch memory owned by the Lua stack (freed by the GC even if a later check raises). */
static void *scratch(lua_State *L, size_t n) {
  return lua_newuserdatauv(L, n ? n : 1, 0);
}

/* The profile at t[i] (a table at stack index t), for function `fname`'s argument `arg`. */
static pgo_profile *check_profile_at(lua_State *L, int t, lua_Integer i, int arg) {
  lua_geti(L, t, i);
  if (!luaL_testudata(L, -1, PGO_PROFILE_META)) {
    const char *tname = luaL_typename(L, -1);
    const char *msg = lua_pushfstring(L, "pgo.profile expected at index %I, got %s", i, tname);
    luaL_argerror(L, arg, msg);
  }
  pgo_profile *p = pgolua_check_profile_flat(L, -1);   /* merge and diff read either form */
  lua_pop(L, 1);
  return p;
}

/* A list of strings at stack index t (field of an options table already pushed), as
 * pgo_strref borrowed from the Lua strings (anchored by the table). */
static pgo_strref *check_strings(lua_State *L, int t, const char *what, size_t *n) {
  if (!lua_istable(L, t))
    luaL_error(L, "option '%s' must be a list of strings, got %s", what, luaL_typename(L, t));
  *n = (size_t)luaL_len(L, t);
  pgo_strref *refs = scratch(L, *n * sizeof *refs);
  for (size_t i = 0; i < *n; i++) {
    if (lua_geti(L, t, (lua_Integer)i + 1) != LUA_TSTRING)
      luaL_error(L, "option '%s' must be a list of strings (item %d is a %s)", what,
                 (int)i + 1, luaL_typename(L, -1));
    refs[i].s = lua_tolstring(L, -1, &refs[i].len);
    lua_pop(L, 1);                     /* the table keeps the string alive */
  }
  return refs;
}

/* The index of the string option `field` (stack top) in modes; nil = 0. Raises naming
 * the option and the allowed values. Pops the value. */
static int check_mode(lua_State *L, const char *field, const char *const modes[]) {
  int found = lua_isnil(L, -1) ? 0 : -1;
  const char *v = lua_tostring(L, -1);
  for (int i = 0; v && modes[i] && found < 0; i++)
    if (strcmp(v, modes[i]) == 0) found = i;
  if (found < 0)
    luaL_error(L, "option '%s' must be \"%s\" or \"%s\"%s%s%s", field, modes[0], modes[1],
               modes[2] ? " or \"" : "", modes[2] ? modes[2] : "", modes[2] ? "\"" : "");
  lua_pop(L, 1);
  return found;
}

/* ---- merge --------------------------------------------------------------------------------- */

/* merge({p1, p2, ...}) or merge(p1, p2, ...) -> profile | nil, message, code.
 * One profile is passed through (a copy), as `pprof -proto` does with one input. */
static int transform_merge(lua_State *L) {
  int list = lua_istable(L, 1);
  lua_Integer n = list ? luaL_len(L, 1) : lua_gettop(L);
  if (n == 0) luaL_argerror(L, 1, "at least one profile expected");
  const pgo_profile **ps = scratch(L, (size_t)n * sizeof *ps);
  for (lua_Integer i = 1; i <= n; i++)
    ps[i - 1] = list ? check_profile_at(L, 1, i, 1) : pgolua_check_profile_flat(L, (int)i);
  pgo_error err;
  if (n == 1) {
    pgo_profile *c = pgo_profile_clone(ps[0]);
    if (!c) return luaL_error(L, "not enough memory");
    pgolua_push_profile(L, c);
    return 1;
  }
  return push_result(L, pgo_profile_merge(ps, (size_t)n, &err), &err);
}

/* Load and decode one file; NULL with err (prefixed by the path) on failure. */
static pgo_profile *load_file(const char *path, const pgo_limits *limits, pgo_error *err) {
  unsigned char *data;
  size_t len;
  if (!pgo_read_file(path, limits->max_decompressed, "max_decompressed", &data, &len, err)) return NULL;
  pgo_profile *p = pgo_profile_decode_flat(data, len, limits, err);
  free(data);
  if (!p) pgo_error_prefix(err, path);
  return p;
}

/* merge_files({path, ...} [, limits]) -> profile | nil, message, code.
 * Streams: one file is loaded, merged into the result and freed before the next. */
static int transform_merge_files(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  pgo_limits limits;
  pgolua_check_limits(L, 2, &limits);
  lua_Integer n = luaL_len(L, 1);
  if (n == 0) luaL_argerror(L, 1, "at least one path expected");
  const char **paths = scratch(L, (size_t)n * sizeof *paths);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, 1, i) != LUA_TSTRING) {
      const char *msg = lua_pushfstring(L, "string expected at index %I, got %s", i,
                                        luaL_typename(L, -1));
      luaL_argerror(L, 1, msg);
    }
    paths[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);                     /* the list keeps the string alive */
  }
  pgo_error err;
  if (n == 1) return push_result(L, load_file(paths[0], &limits, &err), &err);
  pgo_merger *m = pgo_merger_new();
  if (!m) return luaL_error(L, "not enough memory");
  pgo_profile *out = NULL;
  lua_Integer i = 0;
  for (; i < n; i++) {
    pgo_profile *p = load_file(paths[i], &limits, &err);
    if (!p) break;
    pgo_merge_opts o = {.name = paths[i]};
    bool ok = pgo_merger_add(m, p, &o, &err);
    pgo_profile_free(p);
    if (!ok) break;
  }
  if (i == n) out = pgo_merger_finish(m, &err);
  pgo_merger_free(m);
  return push_result(L, out, &err);
}

/* ---- diff, compact, clone ------------------------------------------------------------------ */

/* p:diff(base [, {diff_base = false}]) -> profile | nil, message, code.
 * base: a profile, or a list of profiles merged first. diff_base false = pprof -base (base
 * negated and merged in, equal samples cancel); true = pprof -diff_base (the negated base
 * samples also carry the label pprof::base=true, so they stay apart). */
static int transform_diff(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  bool diff_base = false;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "diff_base");
    diff_base = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  pgo_error err;
  const pgo_profile *base;
  pgo_profile *merged = NULL;
  if (lua_istable(L, 2)) {
    lua_Integer n = luaL_len(L, 2);
    if (n == 0) luaL_argerror(L, 2, "at least one base profile expected");
    const pgo_profile **ps = scratch(L, (size_t)n * sizeof *ps);
    for (lua_Integer i = 1; i <= n; i++) ps[i - 1] = check_profile_at(L, 2, i, 2);
    if (n == 1) {
      base = ps[0];
    } else {
      merged = pgo_profile_merge(ps, (size_t)n, &err);
      if (!merged) return pgolua_push_error(L, &err);
      base = merged;
    }
  } else {
    base = pgolua_check_profile_flat(L, 2);
  }
  pgo_profile *r = pgo_profile_diff(p, base, diff_base, &err);
  pgo_profile_free(merged);
  return push_result(L, r, &err);
}

/* p:compact() -> profile: pprof Compact (merge of p on its own) */
static int transform_compact(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  pgo_error err;
  return push_result(L, pgo_profile_compact(p, &err), &err);
}

/* p:clone() -> an exact copy */
static int transform_clone(lua_State *L) {
  pgo_profile *p = pgolua_check_profile_flat(L, 1);
  pgo_profile *c = pgo_profile_clone(p);
  if (!c) return luaL_error(L, "not enough memory");
  pgolua_push_profile(L, c);
  return 1;
}

/* ---- names ---------------------------------------------------------------------------------- */

/* The new name for `name` from the table or function at index how; leaves it (or nil) on
 * the stack top. Results are cached in the table at index cache. */
static void lookup_rename(lua_State *L, int how, int cache, const char *name, size_t len) {
  lua_pushlstring(L, name, len);
  if (lua_rawget(L, cache) != LUA_TNIL) return;       /* cached (false = unchanged) */
  lua_pop(L, 1);
  if (lua_istable(L, how)) {
    lua_pushlstring(L, name, len);
    lua_gettable(L, how);
  } else {
    lua_pushvalue(L, how);
    lua_pushlstring(L, name, len);
    lua_call(L, 1, 1);
  }
  int t = lua_type(L, -1);
  if (t != LUA_TNIL && t != LUA_TSTRING && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
    luaL_error(L, "rename: the new name for '%s' must be a string or nil, got %s", name,
               luaL_typename(L, -1));
  if (t != LUA_TSTRING) { lua_pop(L, 1); lua_pushboolean(L, 0); }
  lua_pushlstring(L, name, len);
  lua_pushvalue(L, -2);
  lua_rawset(L, cache);                                /* cache[name] = new or false */
}

/* p:rename(map_or_function [, {system_name = true}]) -> profile.
 * map: {["old.name"] = "new name"}; function: name -> new name or nil (unchanged).
 * The system name is renamed too when it equals the name, unless system_name = false. */
static int transform_rename(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  luaL_argexpected(L, lua_istable(L, 2) || lua_isfunction(L, 2), 2, "table or function");
  bool sysname = true;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "system_name");
    sysname = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_settop(L, 3);
  lua_newtable(L);                                     /* 4: cache, anchors the strings */
  int cache = 4;
  pgo_strref *names = scratch(L, p->nfunctions * sizeof *names);
  pgo_strref *sys = scratch(L, p->nfunctions * sizeof *sys);
  for (size_t i = 0; i < p->nfunctions; i++) {
    const pgo_function *f = &p->functions[i];
    names[i].s = sys[i].s = NULL;
    lookup_rename(L, 2, cache, pgo_str(&p->strings, f->name), pgo_strlen(&p->strings, f->name));
    if (lua_type(L, -1) == LUA_TSTRING) {
      names[i].s = lua_tolstring(L, -1, &names[i].len);   /* anchored by the cache */
      if (sysname && f->system_name == f->name) sys[i] = names[i];
    }
    lua_pop(L, 1);
  }
  pgo_name_edits e = {.fn_name = names, .fn_system_name = sys};
  pgo_error err;
  return push_result(L, pgo_profile_edit_names(p, &e, &err), &err);
}

/* p:anonymize{allow = {prefixes}, allow_files = {prefixes}, salt = "", labels = "keep",
 * comments = "keep"} -> profile */
static int transform_anonymize(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  pgo_anon_opts o = {0};
  static const char *const label_modes[] = {"keep", "drop", "hash", NULL};
  static const char *const comment_modes[] = {"keep", "drop", NULL};
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_getfield(L, 2, "allow") != LUA_TNIL) o.allow = check_strings(L, 3, "allow", &o.nallow);
    if (lua_getfield(L, 2, "allow_files") != LUA_TNIL)
      o.allow_files = check_strings(L, lua_gettop(L), "allow_files", &o.nallow_files);
    if (lua_getfield(L, 2, "salt") != LUA_TNIL) {
      if (!lua_isstring(L, -1)) luaL_error(L, "option 'salt' must be a string");
      o.salt = lua_tolstring(L, -1, &o.saltlen);
    }
    lua_getfield(L, 2, "labels");
    o.labels = (pgo_anon_labels)check_mode(L, "labels", label_modes);
    lua_getfield(L, 2, "comments");
    o.drop_comments = check_mode(L, "comments", comment_modes) == 1;
  }
  pgo_error err;
  return push_result(L, pgo_profile_anonymize(p, &o, &err), &err);
}

/* pseudonym(s [, salt]) -> the word pseudonym anonymize uses for s */
static int transform_pseudonym(lua_State *L) {
  size_t n, saltlen = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *salt = luaL_optlstring(L, 2, "", &saltlen);
  char buf[96];
  size_t len = pgo_pseudonym(s, n, salt, saltlen, buf, sizeof buf);
  lua_pushlstring(L, buf, len);
  return 1;
}

/* ---- samples and frames -------------------------------------------------------------------- */

/* p:scale(factor) -> profile | nil, message, "overflow": values x factor, rounded half away
 * from zero; samples that become all zero are dropped (pprof Scale, then Compact). */
static int transform_scale(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  double f = (double)luaL_checknumber(L, 2);
  luaL_argcheck(L, isfinite(f), 2, "finite number expected");
  pgo_error err;
  return push_result(L, pgo_profile_scale(p, NULL, f, &err), &err);
}

/* p:_scale_samples(factors) -> profile | nil, message, code. factors[i] for sample i (in
 * p:samples() order); a missing entry means 1, false means 0 (drop). */
static int transform_scale_samples(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  double *f = scratch(L, p->nsamples * sizeof *f);
  for (size_t i = 0; i < p->nsamples; i++) {
    int t = lua_geti(L, 2, (lua_Integer)i + 1);
    if (t == LUA_TNIL) f[i] = 1.0;
    else if (t == LUA_TBOOLEAN) f[i] = lua_toboolean(L, -1) ? 1.0 : 0.0;
    else if (t == LUA_TNUMBER && isfinite(lua_tonumber(L, -1))) f[i] = lua_tonumber(L, -1);
    else luaL_error(L, "factor for sample %d must be a finite number", (int)i + 1);
    lua_pop(L, 1);
  }
  pgo_error err;
  return push_result(L, pgo_profile_scale(p, f, 1.0, &err), &err);
}

/* p:_match_samples(regex) -> {bool, ...}: per sample, whether a frame's function name
 * matches the POSIX extended regex (unanchored). A bad regex raises. */
static int transform_match_samples(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  const char *re = luaL_checkstring(L, 2);
  bool *fn = scratch(L, p->nfunctions * sizeof *fn);
  bool *sm = scratch(L, p->nsamples * sizeof *sm);
  pgo_error err;
  if (!pgo_functions_matching(p, re, fn, &err)) return luaL_error(L, "%s", err.message);
  if (!pgo_samples_with_functions(p, fn, sm)) return luaL_error(L, "not enough memory");
  lua_createtable(L, (int)p->nsamples, 0);
  for (size_t i = 0; i < p->nsamples; i++) {
    lua_pushboolean(L, sm[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* p:_label_values(key) -> {value|false, ...}: per sample, the first string value of the
 * label `key`, or false. */
static int transform_label_values(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  size_t klen;
  const char *key = luaL_checklstring(L, 2, &klen);
  uint32_t kid;
  bool have = pgo_strtab_find(&p->strings, key, klen, &kid);
  lua_createtable(L, (int)p->nsamples, 0);
  for (size_t i = 0; i < p->nsamples; i++) {
    const pgo_labelset *ls = &p->labelsets[p->samples[i].labels];
    bool pushed = false;
    for (uint32_t k = 0; have && k < ls->count && !pushed; k++) {
      const pgo_label *l = &p->labels[ls->start + k];
      if (l->key != kid || l->str == 0) continue;
      lua_pushlstring(L, pgo_str(&p->strings, l->str), pgo_strlen(&p->strings, l->str));
      pushed = true;
    }
    if (!pushed) lua_pushboolean(L, 0);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* p:_column(i) -> {value, ...}: column i (1-based) of every sample */
static int transform_column(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  lua_Integer c = luaL_checkinteger(L, 2);
  luaL_argcheck(L, c >= 1 && (size_t)c <= p->nsample_types, 2, "no such sample type");
  lua_createtable(L, (int)p->nsamples, 0);
  for (size_t i = 0; i < p->nsamples; i++) {
    lua_pushinteger(L, pgo_sample_values(p, i)[c - 1]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* p:keep_frames{prefixes = {...}} -> profile: only frames of functions whose name starts
 * with one of the prefixes; samples left without frames are dropped (pprof -show). */
static int transform_keep_frames(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_getfield(L, 2, "prefixes") != LUA_TTABLE)
    return luaL_error(L, "keep_frames: option 'prefixes' (a list of strings) is required");
  size_t n;
  pgo_strref *prefixes = check_strings(L, 3, "prefixes", &n);
  bool *keep = scratch(L, p->nfunctions * sizeof *keep);
  pgo_functions_with_prefix(p, prefixes, n, keep);
  pgo_error err;
  return push_result(L, pgo_profile_keep_functions(p, keep, &err), &err);
}

/* p:add_comment(text) -> p: appends a comment to p itself (the one in-place edit) */
static int transform_add_comment(lua_State *L) {
  pgo_profile *p = pgolua_check_profile(L, 1);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  if (!pgo_profile_add_comment(p, text, len)) return luaL_error(L, "not enough memory");
  lua_settop(L, 1);
  return 1;
}

const luaL_Reg pgolua_profile_transform_methods[] = {
  {"diff", transform_diff},
  {"compact", transform_compact},
  {"clone", transform_clone},
  {"rename", transform_rename},
  {"anonymize", transform_anonymize},
  {"scale", transform_scale},
  {"keep_frames", transform_keep_frames},
  {"add_comment", transform_add_comment},
  {"_scale_samples", transform_scale_samples},
  {"_match_samples", transform_match_samples},
  {"_label_values", transform_label_values},
  {"_column", transform_column},
  {NULL, NULL}
};

const luaL_Reg pgolua_profile_transform_funcs[] = {
  {"merge", transform_merge},
  {"merge_files", transform_merge_files},
  {"pseudonym", transform_pseudonym},
  {NULL, NULL}
};
