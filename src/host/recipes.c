/* recipes.c: where `pgolua NAME` finds recipe NAME (the rules are in recipes.h). On-disk
 * recipes beside the binary or under PGOLUA_RECIPE_DIR override the copies compiled into
 * the binary, so a copied or installed binary runs every recipe without any file. */
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/embedded.h"
#include "lua/lua_modules.h"
#include "recipes.h"

/* The installed recipe directory, derived from PREFIX by the Makefile. */
#ifndef PGOLUA_RECIPE_DIR
#define PGOLUA_RECIPE_DIR "/usr/local/share/pgolua/recipes"
#endif

/* Pushes "<directory of the executable>/recipes" (a source tree, or a binary copied with
 * its recipes beside it); nil when /proc/self/exe is not readable. */
static void push_exe_recipe_dir(lua_State *L) {
  const char *exe = pgolua_push_exe_dir(L);
  if (exe == NULL)
    return;                                /* the nil stays */
  lua_pushfstring(L, "%s/recipes", exe);
  lua_remove(L, -2);                       /* the directory */
}

static const struct pgolua_embedded_file *embedded_recipe(const char *name) {
  for (const struct pgolua_embedded_file *f = pgolua_embedded_recipes; f->module; f++)
    if (strcmp(f->module, name) == 0)
      return f;
  return NULL;
}

/* Pushes the readable file <dir>/<name>.lua of the first recipe directory that has one and
 * returns 1; returns 0 with nothing pushed when none has. */
static int push_recipe_file(lua_State *L, const char *name) {
  push_exe_recipe_dir(L);
  lua_pushstring(L, PGOLUA_RECIPE_DIR);
  for (int dir = -2; dir <= -1; dir++) {   /* the two directories just pushed */
    if (lua_isnil(L, dir))
      continue;
    const char *path = lua_pushfstring(L, "%s/%s.lua", lua_tostring(L, dir), name);
    if (access(path, R_OK) == 0) {
      lua_replace(L, -3);                  /* keep the path... */
      lua_pop(L, 1);                       /* ...drop the other directory */
      return 1;
    }
    lua_pop(L, 1);                         /* not there */
  }
  lua_pop(L, 2);                           /* the directories */
  return 0;
}

enum host_script_kind host_push_script(lua_State *L, const char *word) {
  size_t len = strlen(word);
  int has_ext = len > 4 && strcmp(word + len - 4, ".lua") == 0;
  if (len == 0 || strchr(word, '/') != NULL || (has_ext && access(word, F_OK) == 0)) {
    lua_pushstring(L, word);
    return HOST_SCRIPT_FILE;
  }
  lua_pushlstring(L, word, has_ext ? len - 4 : len);   /* the recipe's name */
  if (push_recipe_file(L, lua_tostring(L, -1))) {
    lua_remove(L, -2);                     /* the name */
    return HOST_SCRIPT_FILE;
  }
  int embedded = embedded_recipe(lua_tostring(L, -1)) != NULL;
  lua_pop(L, 1);
  lua_pushstring(L, word);
  if (embedded)
    return HOST_SCRIPT_EMBEDDED;
  return access(word, F_OK) == 0 ? HOST_SCRIPT_FILE : HOST_SCRIPT_MISSING;
}

const char *host_push_recipe_names(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const struct pgolua_embedded_file *f = pgolua_embedded_recipes; f->module; f++) {
    if (f != pgolua_embedded_recipes)
      luaL_addchar(&b, ' ');
    luaL_addstring(&b, f->module);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

int host_load_script(lua_State *L, const char *path, enum host_script_kind kind) {
  if (kind == HOST_SCRIPT_EMBEDDED) {
    size_t len = strlen(path);
    lua_pushlstring(L, path, len > 4 && strcmp(path + len - 4, ".lua") == 0 ? len - 4 : len);
    const struct pgolua_embedded_file *f = embedded_recipe(lua_tostring(L, -1));
    lua_pop(L, 1);
    const char *code = (const char *)f->data;
    size_t size = f->size;
    if (size > 0 && code[0] == '#') {      /* skip the #! line, as luaL_loadfile does, */
      const char *nl = memchr(code, '\n', size);
      size = nl != NULL ? size - (size_t)(nl - code) : 0;
      code = nl != NULL ? nl : code + f->size;   /* keeping its newline for line numbers */
    }
    return luaL_loadbufferx(L, code, size, f->chunkname, "t");
  }
  int status = luaL_loadfile(L, path);
  if (status == LUA_ERRFILE && kind == HOST_SCRIPT_MISSING) {
    push_exe_recipe_dir(L);
    host_push_recipe_names(L);
    lua_pushfstring(L, "%s (no recipe '%s' either: looked in %s%s%s and among the recipes "
                    "built in: %s; `pgolua --help` lists them)", lua_tostring(L, -3), path,
                    lua_isnil(L, -2) ? "" : lua_tostring(L, -2),
                    lua_isnil(L, -2) ? "" : ", ", PGOLUA_RECIPE_DIR, lua_tostring(L, -1));
    lua_replace(L, -4);                    /* replace the message */
    lua_pop(L, 2);                         /* the directory and the names */
  }
  return status;
}
