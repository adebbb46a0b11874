/* gosource.c: the Go source functions of pgo.core.symbols (merged into that module by
 * src/lua/symbols.c): go_source, go_scan_file, go_find_files. Thin: check arguments,
 * call src/symbols/gosource.c, push plain Lua tables. The friendly API (option checks,
 * defaults) is lua/pgo/symbols.lua; the audits are lua/pgo/audit.lua.
 *
 * C-side results live in a "pgo.gosource.tmp" userdata while they are pushed, so a Lua
 * memory error half-way through never leaks them: its __gc frees what is left. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "pgolua/gosource.h"
#include "lua_profile.h"
#include "lua_bind.h"

#define GOSOURCE_TMP_META "pgo.gosource.tmp"

/* ---- helpers --------------------------------------------------------------------------- */

/* A C value owned by Lua for the duration of one call. */
typedef struct gosource_tmp {
  void (*release)(void *);
  void *p;
} gosource_tmp;

static int gosource_tmp_gc(lua_State *L) {
  gosource_tmp *t = luaL_checkudata(L, 1, GOSOURCE_TMP_META);
  if (t->release && t->p) t->release(t->p);
  t->p = NULL;
  return 0;
}

/* Push a userdata that will release p on collection (or on gosource_tmp_done). */
static gosource_tmp *push_tmp(lua_State *L, void (*release)(void *), void *p) {
  gosource_tmp *t = pgolua_push_scratch(L, sizeof *t, GOSOURCE_TMP_META, gosource_tmp_gc);
  t->release = release;
  t->p = p;
  return t;
}

/* Release the value now; the userdata stays on the stack (inert). */
static void tmp_done(gosource_tmp *t) {
  if (t->release && t->p) t->release(t->p);
  t->p = NULL;
}

static void push_id(lua_State *L, const pgo_gosource *g, uint32_t id) {
  lua_pushlstring(L, pgo_str(&g->strings, id), pgo_strlen(&g->strings, id));
}

static void set_str_id(lua_State *L, const pgo_gosource *g, const char *k, uint32_t id) {
  push_id(L, g, id);
  lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

/* Boolean field k of the table at t (absent = dflt); raises on another type. */
static bool opt_bool(lua_State *L, int t, const char *k, bool dflt) {
  bool v = dflt;
  int ty = lua_getfield(L, t, k);
  if (ty != LUA_TNIL) {
    if (ty != LUA_TBOOLEAN) luaL_error(L, "option '%s' must be a boolean, got %s", k, luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* ---- go_source ------------------------------------------------------------------------- */

static void release_gosource(void *p) {
  pgo_gosource_free(p);
  free(p);
}

/* Push {file=, line=, package=[, test=true]} for declaration i. */
static void push_decl(lua_State *L, const pgo_gosource *g, uint32_t i) {
  const pgo_gosrc_func *f = &g->funcs[i];
  lua_createtable(L, 0, 4);
  set_str_id(L, g, "file", f->file);
  pgolua_set_int(L, "line", f->line);
  set_str_id(L, g, "package", g->packages[f->package].path);
  if (f->test) set_bool(L, "test", true);
}

/* go_source(root [, opts]) -> table | nil, message, code
 * opts: include_tests, include_vendor, include_nested (default true), lenient, module
 * (string), max_file_bytes (integer). The table: module, root, functions (name ->
 * {file, line, package[, test][, also = {more declarations of the same name}]}), list
 * (the names, sorted), packages ({path, prefix, name, dir, module, main, files,
 * functions, inits}, in walk order), files, lines, bytes, declarations,
 * test_files_excluded, asm_files, skipped ({path, reason, kind[, package]}), modules
 * ({path, dir, scanned}). Leaves the result on the stack. */
static int gosource_go_source(lua_State *L) {
  const char *root = luaL_checkstring(L, 1);
  pgo_gosource_options o;
  pgo_gosource_options_default(&o);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    o.include_tests = opt_bool(L, 2, "include_tests", false);
    o.include_vendor = opt_bool(L, 2, "include_vendor", false);
    o.skip_nested = !opt_bool(L, 2, "include_nested", true);
    o.lenient = opt_bool(L, 2, "lenient", false);
    if (lua_getfield(L, 2, "module") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option 'module' must be a string");
      o.module = lua_tostring(L, -1);         /* stays referenced by the options table */
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "max_file_bytes") != LUA_TNIL) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0)
        luaL_error(L, "option 'max_file_bytes' must be a positive integer");
      o.max_file_bytes = (uint64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
  }
  pgo_gosource *g = calloc(1, sizeof *g);
  if (!g) luaL_error(L, "not enough memory");
  gosource_tmp *tmp = push_tmp(L, release_gosource, g);
  pgo_error err;
  if (!pgo_gosource_scan_tree(root, &o, g, &err)) {
    tmp_done(tmp);
    return pgolua_push_error(L, &err);
  }
  uint32_t *order = lua_newuserdatauv(L, (g->nfirst ? g->nfirst : 1) * sizeof *order, 0);
  if (!pgo_gosource_sorted(g, order)) luaL_error(L, "not enough memory");

  lua_createtable(L, 0, 14);
  if (pgo_strlen(&g->strings, g->module) > 0) set_str_id(L, g, "module", g->module);
  lua_pushstring(L, root);
  lua_setfield(L, -2, "root");
  pgolua_set_int(L, "files", (lua_Integer)g->files);
  pgolua_set_int(L, "lines", (lua_Integer)g->lines);
  pgolua_set_int(L, "bytes", (lua_Integer)g->bytes);
  pgolua_set_int(L, "declarations", (lua_Integer)g->nfuncs);
  pgolua_set_int(L, "test_files_excluded", (lua_Integer)g->test_files_excluded);

  lua_createtable(L, 0, (int)g->nfirst);                  /* functions */
  lua_createtable(L, (int)g->nfirst, 0);                  /* list */
  for (size_t k = 0; k < g->nfirst; k++) {
    uint32_t i = order[k];
    push_decl(L, g, i);
    if (g->funcs[i].next_same) {
      lua_newtable(L);
      lua_Integer n = 0;
      for (uint32_t j = g->funcs[i].next_same; j; j = g->funcs[j - 1].next_same) {
        push_decl(L, g, j - 1);
        lua_rawseti(L, -2, ++n);
      }
      lua_setfield(L, -2, "also");
    }
    push_id(L, g, g->funcs[i].name);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, (lua_Integer)k + 1);               /* list[k+1] = name */
    lua_insert(L, -2);                                    /* name, entry */
    lua_rawset(L, -4);                                    /* functions[name] = entry */
  }
  lua_setfield(L, -3, "list");
  lua_setfield(L, -2, "functions");

  lua_createtable(L, (int)g->npackages, 0);
  for (size_t i = 0; i < g->npackages; i++) {
    const pgo_gosrc_package *p = &g->packages[i];
    lua_createtable(L, 0, 9);
    set_str_id(L, g, "path", p->path);
    set_str_id(L, g, "prefix", p->prefix);
    set_str_id(L, g, "name", p->name);
    set_str_id(L, g, "dir", p->dir);
    set_str_id(L, g, "module", p->module);
    set_bool(L, "main", p->main);
    pgolua_set_int(L, "files", p->files);
    pgolua_set_int(L, "functions", p->functions);
    pgolua_set_int(L, "inits", p->inits);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "packages");

  static const char *const skip_kinds[] = {
    [PGO_SKIP_UNREADABLE] = "unreadable", [PGO_SKIP_TOO_LARGE] = "too_large",
    [PGO_SKIP_SYNTAX] = "syntax", [PGO_SKIP_EXCLUDED] = "excluded", [PGO_SKIP_NESTED] = "nested",
  };
  lua_createtable(L, (int)g->nskipped, 0);
  for (size_t i = 0; i < g->nskipped; i++) {
    const pgo_gosrc_skip *k = &g->skipped[i];
    lua_createtable(L, 0, 4);
    set_str_id(L, g, "path", k->path);
    set_str_id(L, g, "reason", k->reason);
    lua_pushstring(L, skip_kinds[k->kind]);
    lua_setfield(L, -2, "kind");
    if (pgo_strlen(&g->strings, k->package) > 0) set_str_id(L, g, "package", k->package);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "skipped");

  lua_createtable(L, (int)g->nmodules, 0);
  for (size_t i = 0; i < g->nmodules; i++) {
    lua_createtable(L, 0, 3);
    set_str_id(L, g, "path", g->modules[i].path);
    set_str_id(L, g, "dir", g->modules[i].dir);
    set_bool(L, "scanned", g->modules[i].scanned);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "modules");
  pgolua_set_int(L, "asm_files", (lua_Integer)g->asm_files);
  tmp_done(tmp);
  return 1;
}

/* ---- go_scan_file ----------------------------------------------------------------------- */

typedef struct scan_ctx { lua_State *L; lua_Integer n; } scan_ctx;

/* Append one declaration to the table on top of the stack. Lua errors here propagate
 * through the scanner, which holds no allocations. */
static bool push_scanned(void *ctx, const pgo_godecl *d, pgo_error *err) {
  scan_ctx *c = ctx;
  lua_State *L = c->L;
  luaL_checkstack(L, 4, "declarations");
  lua_createtable(L, 0, 7);
  luaL_Buffer b;
  size_t n = pgo_godecl_spell(d, NULL, 0);
  char *s = luaL_buffinitsize(L, &b, n + 1);
  pgo_godecl_spell(d, s, n + 1);
  luaL_pushresultsize(&b, n);
  lua_setfield(L, -2, "name");
  lua_pushlstring(L, d->name, d->name_len);
  lua_setfield(L, -2, "func");
  pgolua_set_int(L, "line", d->line);
  if (d->recv) {
    lua_pushlstring(L, d->recv, d->recv_len);
    lua_setfield(L, -2, "receiver");
    set_bool(L, "pointer", d->recv_pointer);
  }
  set_bool(L, "generic", d->generic);
  lua_rawseti(L, -2, ++c->n);
  return true;
}

/* go_scan_file(text) -> {package, package_line, build_ignore, has_constraint, lines,
 * decls = {{name, func, line[, receiver, pointer], generic}, ...}} | nil, message, code.
 * `name` is spelled the profile way without the package ("(*T).M", "F[...]", "init"). */
static int gosource_go_scan_file(lua_State *L) {
  size_t len;
  const char *src = luaL_checklstring(L, 1, &len);
  lua_createtable(L, 0, 6);
  lua_newtable(L);                                        /* decls */
  scan_ctx c = { L, 0 };
  pgo_gofile fi;
  pgo_error err;
  if (!pgo_gosource_scan_buffer(src, len, push_scanned, &c, &fi, &err))
    return pgolua_push_error(L, &err);
  lua_setfield(L, -2, "decls");
  if (fi.package) {
    lua_pushlstring(L, fi.package, fi.package_len);
    lua_setfield(L, -2, "package");
    pgolua_set_int(L, "package_line", fi.package_line);
  }
  set_bool(L, "build_ignore", fi.build_ignore);
  set_bool(L, "has_constraint", fi.has_constraint);
  pgolua_set_int(L, "lines", (lua_Integer)fi.lines);
  return 1;
}

/* ---- go_find_files ---------------------------------------------------------------------- */

typedef struct found_list {
  char **paths;             /* malloc'd relative paths */
  size_t n, cap;
} found_list;

static void release_found(void *p) {
  found_list *f = p;
  for (size_t i = 0; i < f->n; i++) free(f->paths[i]);
  free(f->paths);
  free(f);
}

static bool collect_found(void *ctx, const char *rel, pgo_error *err) {
  found_list *f = ctx;
  if (f->n == f->cap && !PGO_RESERVE(f->paths, f->cap, f->n + 1))
    return pgo_fail(err, "nomem", "out of memory while listing files");
  char *s = strdup(rel);
  if (!s) return pgo_fail(err, "nomem", "out of memory while listing files");
  f->paths[f->n++] = s;
  return true;
}

/* A NULL-terminated list from the array field k of the options table at t (absent =
 * NULL). The strings stay owned by the options table, which the caller keeps on the
 * stack; the array of pointers is put on the stack as a userdata (collected later). */
static const char *const *opt_list(lua_State *L, int t, const char *k) {
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNIL) { lua_pop(L, 1); return NULL; }
  if (ty != LUA_TTABLE) luaL_error(L, "option '%s' must be a list of strings", k);
  lua_Integer n = luaL_len(L, -1);
  if (n < 0 || n > 10000) luaL_error(L, "option '%s' has too many entries", k);
  const char **list = lua_newuserdatauv(L, ((size_t)n + 1) * sizeof *list, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, -2, i) != LUA_TSTRING) luaL_error(L, "option '%s' must be a list of strings", k);
    list[i - 1] = lua_tostring(L, -1);        /* anchored by the options table */
    lua_pop(L, 1);
  }
  list[n] = NULL;
  lua_remove(L, -2);                          /* keep the userdata, drop the list table */
  return list;
}

/* go_find_files(root, spec) -> {relative paths} | nil, message, code
 * spec: names, suffixes, prefixes, hidden_dirs (lists of strings), include_vendor
 * (boolean), max_depth (integer, 0 = unlimited). */
static int gosource_go_find_files(lua_State *L) {
  const char *root = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  pgo_find_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.names = opt_list(L, 2, "names");
  spec.suffixes = opt_list(L, 2, "suffixes");
  spec.prefixes = opt_list(L, 2, "prefixes");
  spec.hidden_dirs = opt_list(L, 2, "hidden_dirs");
  spec.include_vendor = opt_bool(L, 2, "include_vendor", false);
  if (lua_getfield(L, 2, "max_depth") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 100000)
      luaL_error(L, "option 'max_depth' must be a non-negative integer");
    spec.max_depth = (uint32_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  found_list *f = calloc(1, sizeof *f);
  if (!f) luaL_error(L, "not enough memory");
  gosource_tmp *tmp = push_tmp(L, release_found, f);
  pgo_error err;
  if (!pgo_find_files(root, &spec, collect_found, f, &err)) {
    tmp_done(tmp);
    return pgolua_push_error(L, &err);
  }
  lua_createtable(L, (int)f->n, 0);
  for (size_t i = 0; i < f->n; i++) {
    lua_pushstring(L, f->paths[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  tmp_done(tmp);
  return 1;
}

/* Merged into pgo.core.symbols by src/lua/symbols.c. */
const luaL_Reg pgolua_gosource_funcs[] = {
  {"go_source", gosource_go_source},
  {"go_scan_file", gosource_go_scan_file},
  {"go_find_files", gosource_go_find_files},
  {NULL, NULL}
};
