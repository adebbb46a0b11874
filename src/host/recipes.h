/* recipes.h: how the host turns the script word of `pgolua WORD args` into a chunk. */
#ifndef PGOLUA_HOST_RECIPES_H
#define PGOLUA_HOST_RECIPES_H
#include <lua.h>

/* What a script word names. */
enum host_script_kind {
  HOST_SCRIPT_FILE,        /* a file: a path, an existing NAME.lua, or a recipe on disk */
  HOST_SCRIPT_EMBEDDED,    /* a recipe compiled into the binary */
  HOST_SCRIPT_MISSING      /* neither a file nor a recipe */
};

/* Resolves 'word' and pushes what becomes arg[0]: the file to run, or 'word' itself for
 * an embedded or missing recipe. Rules, so that files in the working directory never
 * stand in for installed code:
 *   - a word with a '/' is a file (./top runs the file top);
 *   - NAME.lua is that file when it exists;
 *   - NAME (or NAME.lua that is not a file) is the recipe NAME, looked for in
 *     <directory of the binary>/recipes, then PGOLUA_RECIPE_DIR (set from PREFIX at build
 *     time), then among the recipes compiled into the binary;
 *   - a NAME that is no recipe is the file NAME when it exists (as lua(1) would run it). */
enum host_script_kind host_push_script(lua_State *L, const char *word);

/* Loads the script resolved above ('kind', 'path' = the pushed string) as a function on
 * the stack. On failure pushes the message instead, saying where recipes were looked for
 * when the word was missing; returns the luaL_load* status. */
int host_load_script(lua_State *L, const char *path, enum host_script_kind kind);

/* Pushes the names of the recipes compiled into the binary, separated by spaces. */
const char *host_push_recipe_names(lua_State *L);

#endif
