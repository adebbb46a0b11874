/* symbols.c: the C module pgo.core.symbols: function tables and build info of Go ELF
 * binaries (src/symbols/elf.c, pclntab.c, buildinfo.c). The Go source scanner adds its
 * functions to the same module from src/lua/gosource.c.
 *
 *   binary(path [, opts])          -> table | nil, message, code
 *   decode_binary(bytes [, opts])  -> the same from the file's bytes
 *   buildinfo(path [, opts])       -> table | nil, message, code
 *   decode_buildinfo(bytes)        -> the same from the file's bytes
 *   parse_modinfo(text [, go_version]) -> the same from module-info text
 *
 * opts: source = "auto" (default: .symtab when present, else the pclntab) or "pclntab";
 * max_size = largest file read (bytes, default 1 GiB). The Lua side (lua/pgo/
 * symbols_binary.lua) documents the result shapes and adds bloat and formatting. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "pgolua/buildinfo.h"
#include "pgolua/elf.h"
#include "pgolua/fileio.h"
#include "lua_bind.h"
#include "lua_profile.h"
#include "pgolua/pclntab.h"

#define SCRATCH_META "pgo.core.symbols.scratch"

extern const luaL_Reg pgolua_gosource_funcs[];   /* src/lua/gosource.c */

/* {=====================================================================================
 * Scratch state of one call. Lua owns it (a userdata with __gc), so a memory error while
 * pushing results cannot leak the file buffer or the tables; the call frees it early. */

typedef struct {
  unsigned char *data;        /* malloc'd file contents, or NULL when borrowed */
  pgo_elf elf;
  pgo_funclist funcs;
  pgo_buildinfo bi;
  bool open;                  /* elf/funcs/bi initialised */
} symbols_scratch;

static int scratch_free(lua_State *L) {
  symbols_scratch *s = luaL_checkudata(L, 1, SCRATCH_META);
  if (s->open) {
    pgo_elf_close(&s->elf);
    pgo_funclist_free(&s->funcs);
    pgo_buildinfo_free(&s->bi);
    s->open = false;
  }
  free(s->data);
  s->data = NULL;
  return 0;
}

/* Push a new scratch userdata (empty, safe to free). */
static symbols_scratch *push_scratch(lua_State *L) {
  symbols_scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SCRATCH_META);
  memset(&s->elf, 0, sizeof s->elf);
  pgo_buildinfo_init(&s->bi);
  s->open = true;
  return s;
}

/* Free the scratch at stack index i now (its __gc then finds nothing to do). */
static void release_scratch(lua_State *L, int i) {
  lua_pushcfunction(L, scratch_free);
  lua_pushvalue(L, i);
  lua_call(L, 1, 0);
}

/* {=====================================================================================
 * Helpers */

typedef struct {
  bool prefer_pclntab;
  uint64_t max_size;
} symbols_opts;

static void check_opts(lua_State *L, int i, symbols_opts *o) {
  o->prefer_pclntab = false;
  o->max_size = (uint64_t)1 << 30;
  if (lua_isnoneornil(L, i)) return;
  luaL_checktype(L, i, LUA_TTABLE);
  lua_getfield(L, i, "source");
  if (!lua_isnil(L, -1)) {
    static const char *const sources[] = {"auto", "pclntab", NULL};
    const char *v = lua_tostring(L, -1);
    int k = -1;
    for (int j = 0; v && sources[j]; j++)
      if (strcmp(v, sources[j]) == 0) k = j;
    if (k < 0) luaL_error(L, "option 'source' must be \"auto\" or \"pclntab\"");
    o->prefer_pclntab = k == 1;
  }
  lua_pop(L, 1);
  lua_getfield(L, i, "max_size");
  if (!lua_isnil(L, -1)) {
    lua_Integer n = luaL_checkinteger(L, -1);
    if (n <= 0) luaL_error(L, "option 'max_size' must be a positive integer");
    o->max_size = (uint64_t)n;
  }
  lua_pop(L, 1);
}

/* Get the file's bytes: read path (arg 1) when from_file, else borrow the string. The
 * scratch userdata is pushed on the stack either way. */
static symbols_scratch *load_input(lua_State *L, bool from_file, uint64_t max,
                                   const uint8_t **data, size_t *len, pgo_error *err,
                                   bool *ok) {
  const char *arg = from_file ? luaL_checkstring(L, 1) : NULL;
  size_t slen = 0;
  const char *bytes = from_file ? NULL : luaL_checklstring(L, 1, &slen);
  symbols_scratch *s = push_scratch(L);
  *ok = true;
  if (from_file) {
    unsigned char *buf;
    size_t n;
    if (!pgo_read_file(arg, max, "max_size", &buf, &n, err)) { *ok = false; return s; }
    s->data = buf;
    *data = buf;
    *len = n;
  } else {
    *data = (const uint8_t *)bytes;
    *len = slen;
  }
  return s;
}

/* Push the failure triple; a parse failure's message starts with the file's name (read
 * failures already name it). */
static int push_fail(lua_State *L, bool from_file, bool read_failed, pgo_error *err) {
  if (from_file && !read_failed) pgo_error_prefix(err, lua_tostring(L, 1));
  return pgolua_push_error(L, err);
}

static void push_bistr(lua_State *L, pgo_bi_str s) { lua_pushlstring(L, s.s, s.len); }

static void set_str(lua_State *L, const char *field, pgo_bi_str s) {
  push_bistr(L, s);
  lua_setfield(L, -2, field);
}

/* Push {path=, version=, sum=, replace=} for m. */
static void push_module(lua_State *L, const pgo_bi_module *m) {
  lua_createtable(L, 0, 4);
  set_str(L, "path", m->path);
  set_str(L, "version", m->version);
  set_str(L, "sum", m->sum);
  if (m->replace) {
    push_module(L, m->replace);
    lua_setfield(L, -2, "replace");
  }
}

/* Push the table of a parsed build info. */
static void push_buildinfo(lua_State *L, const pgo_buildinfo *bi) {
  lua_createtable(L, 0, 8);
  set_str(L, "go_version", bi->go_version);
  set_str(L, "path", bi->path);
  if (bi->has_main) {
    push_module(L, &bi->main);
    lua_setfield(L, -2, "main");
  }
  lua_createtable(L, (int)bi->ndeps, 0);
  for (size_t i = 0; i < bi->ndeps; i++) {
    push_module(L, &bi->deps[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "deps");
  lua_createtable(L, (int)bi->nsettings, 0);         /* settings_list */
  lua_createtable(L, 0, (int)bi->nsettings);         /* settings */
  for (size_t i = 0; i < bi->nsettings; i++) {
    const pgo_bi_setting *st = &bi->settings[i];
    lua_createtable(L, 0, 2);
    set_str(L, "key", st->key);
    set_str(L, "value", st->value);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    push_bistr(L, st->key);
    push_bistr(L, st->value);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -3, "settings");
  lua_setfield(L, -2, "settings_list");
  set_str(L, "modinfo", bi->modinfo);
}

/* {=====================================================================================
 * Module functions */

/* binary / decode_binary: functions and facts of a Go ELF binary. Leaves one table (or
 * the failure triple). */
static int do_binary(lua_State *L, bool from_file) {
  symbols_opts o;
  check_opts(L, 2, &o);
  pgo_error err;
  const uint8_t *data = NULL;
  size_t len = 0;
  bool ok;
  symbols_scratch *s = load_input(L, from_file, o.max_size, &data, &len, &err, &ok);
  int si = lua_gettop(L);
  pgo_funcs_source source = PGO_FUNCS_SYMTAB;
  bool stripped = false;
  pgo_pclntab_header h = {0};
  bool read_failed = !ok;
  if (ok) ok = pgo_elf_open(&s->elf, data, len, &err);
  if (ok) ok = pgo_elf_go_functions(&s->elf, o.prefer_pclntab, &s->funcs, &source, &stripped,
                                    &h, &err);
  if (!ok) {
    release_scratch(L, si);
    return push_fail(L, from_file, read_failed, &err);
  }
  bool have_bi = pgo_buildinfo_from_elf(&s->elf, &s->bi, NULL);

  lua_createtable(L, 0, 12);
  lua_createtable(L, (int)s->funcs.count, 0);
  uint64_t total = 0;
  for (size_t i = 0; i < s->funcs.count; i++) {
    const pgo_func *f = &s->funcs.items[i];
    lua_createtable(L, 0, 3);
    lua_pushlstring(L, f->name, f->name_len);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)f->entry);
    lua_setfield(L, -2, "entry");
    lua_pushinteger(L, (lua_Integer)f->size);
    lua_setfield(L, -2, "size");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    total += f->size;
  }
  lua_setfield(L, -2, "functions");
  lua_pushstring(L, source == PGO_FUNCS_SYMTAB ? "symtab" : "pclntab");
  lua_setfield(L, -2, "source");
  if (have_bi) {
    push_bistr(L, s->bi.go_version);
    lua_setfield(L, -2, "go_version");
  }
  char arch[32];
  lua_pushstring(L, pgo_elf_arch(&s->elf, arch, sizeof arch));
  lua_setfield(L, -2, "arch");
  lua_pushboolean(L, stripped);
  lua_setfield(L, -2, "stripped");
  lua_pushstring(L, h.layout);
  lua_setfield(L, -2, "pclntab");
  lua_pushinteger(L, (lua_Integer)len);
  lua_setfield(L, -2, "file_size");
  lua_pushinteger(L, (lua_Integer)pgo_elf_text_size(&s->elf));
  lua_setfield(L, -2, "text_size");
  lua_pushinteger(L, (lua_Integer)total);
  lua_setfield(L, -2, "func_bytes");
  lua_pushboolean(L, s->elf.type == 3);                /* ET_DYN: PIE */
  lua_setfield(L, -2, "pie");
  lua_createtable(L, (int)s->elf.nsections, 0);
  lua_Integer k = 0;
  for (size_t i = 0; i < s->elf.nsections; i++) {
    const pgo_elf_section *sec = &s->elf.sections[i];
    if (!*sec->name) continue;
    lua_createtable(L, 0, 5);
    lua_pushstring(L, sec->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)sec->size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)sec->addr);
    lua_setfield(L, -2, "addr");
    lua_pushinteger(L, (lua_Integer)sec->offset);
    lua_setfield(L, -2, "offset");
    /* bytes the section occupies in the file (none for .bss-like sections) */
    lua_pushinteger(L, sec->type == PGO_SHT_NOBITS ? 0 : (lua_Integer)sec->size);
    lua_setfield(L, -2, "file_size");
    lua_rawseti(L, -2, ++k);
  }
  lua_setfield(L, -2, "sections");
  release_scratch(L, si);
  return 1;
}

static int symbols_binary(lua_State *L) { return do_binary(L, true); }
static int symbols_decode_binary(lua_State *L) { return do_binary(L, false); }

/* buildinfo / decode_buildinfo: what `go version -m` prints, as a table. */
static int do_buildinfo(lua_State *L, bool from_file) {
  symbols_opts o;
  check_opts(L, 2, &o);
  pgo_error err;
  const uint8_t *data = NULL;
  size_t len = 0;
  bool ok;
  symbols_scratch *s = load_input(L, from_file, o.max_size, &data, &len, &err, &ok);
  int si = lua_gettop(L);
  bool read_failed = !ok;
  if (ok) ok = pgo_elf_open(&s->elf, data, len, &err);
  if (ok) {
    ok = pgo_buildinfo_from_elf(&s->elf, &s->bi, &err);
    if (!ok && strcmp(err.code, "not_go") == 0) {
      /* say whether it is a Go binary without build info or not Go at all */
      const uint8_t *tab;
      size_t tlen;
      uint64_t va;
      bool found = false;
      pgo_elf_pclntab(&s->elf, &tab, &tlen, &va, &found, NULL);
      if (found)
        pgo_fail(&err, "not_go", "a Go binary without build info (it has a Go function table "
                 "but no \"\\xff Go buildinf:\" blob); it was built before Go 1.13 or the blob"
                 " was removed");
    }
  }
  if (!ok) {
    release_scratch(L, si);
    return push_fail(L, from_file, read_failed, &err);
  }
  push_buildinfo(L, &s->bi);
  release_scratch(L, si);
  return 1;
}

static int symbols_buildinfo(lua_State *L) { return do_buildinfo(L, true); }
static int symbols_decode_buildinfo(lua_State *L) { return do_buildinfo(L, false); }

/* parse_modinfo(text [, go_version]): the module-info lines (as `go version -m` prints
 * them without the leading tabs) to the same table as buildinfo(). */
static int symbols_parse_modinfo(lua_State *L) {
  size_t len, vlen = 0;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *vers = luaL_optlstring(L, 2, "", &vlen);
  symbols_scratch *s = push_scratch(L);
  int si = lua_gettop(L);
  pgo_error err;
  bool ok = pgo_buildinfo_parse_modinfo(text, len, &s->bi, &err);
  if (!ok) {
    release_scratch(L, si);
    return pgolua_push_error(L, &err);
  }
  s->bi.go_version = (pgo_bi_str){vers, vlen};     /* borrowed from the argument */
  s->bi.modinfo = (pgo_bi_str){text, len};
  push_buildinfo(L, &s->bi);
  release_scratch(L, si);
  return 1;
}

/* {=====================================================================================
 * Registration */

static const luaL_Reg symbols_funcs[] = {
  {"binary", symbols_binary},
  {"decode_binary", symbols_decode_binary},
  {"buildinfo", symbols_buildinfo},
  {"decode_buildinfo", symbols_decode_buildinfo},
  {"parse_modinfo", symbols_parse_modinfo},
  {NULL, NULL}
};

static const luaL_Reg scratch_meta[] = {
  {"__gc", scratch_free},
  {"__close", scratch_free},
  {NULL, NULL}
};

int luaopen_pgo_symbols(lua_State *L) {
  if (luaL_newmetatable(L, SCRATCH_META)) luaL_setfuncs(L, scratch_meta, 0);
  lua_pop(L, 1);                       /* pop the metatable */
  luaL_newlib(L, symbols_funcs);
  luaL_setfuncs(L, pgolua_gosource_funcs, 0);
  luaL_setfuncs(L, pgolua_callsite_funcs, 0);
  return 1;
}
