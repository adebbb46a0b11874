/* The host's two halves: the lua(1)-compatible command line (src/host/main.c) and the
 * interactive loop (src/host/repl.c). Only the host includes this header. */
#ifndef PGOLUA_REPL_H
#define PGOLUA_REPL_H
#include <lua.h>

/* src/host/main.c ------------------------------------------------------------------- */

/* Calls the function below its 'narg' arguments on the stack, like lua_pcall, with a
 * message handler that appends a traceback and with Ctrl-C turned into the Lua error
 * "interrupted!" while it runs. Leaves 'nres' results (or LUA_MULTRET) on success, the
 * error message (a string) on failure; returns the lua_pcall status. */
int pgolua_docall(lua_State *L, int narg, int nres);

/* The state the host created, for C callbacks that receive no user data (the SIGINT
 * handler, readline's completion function). NULL before it exists and after it closed. */
lua_State *pgolua_host_state(void);

/* src/host/repl.c ------------------------------------------------------------------- */

/* Runs the read-eval-print loop until end of input (Ctrl-D). Sets the global 'pgo' first
 * (a warning is printed when the library cannot be loaded). Leaves the stack as it found
 * it. Call it from inside a protected call. */
void pgolua_repl(lua_State *L);

#endif
