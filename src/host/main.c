/* main.c: the pgolua command line, compatible with lua(1) of Lua 5.4.
 *
 *   pgolua [options] [script [args]]
 *   pgolua [options] RECIPE [args]        runs the recipe RECIPE (recipes.c)
 *
 * The shape is the one of lua.c: main() creates the state and runs host_main() in
 * protected mode; host_main() scans the options, opens the libraries, builds 'arg', runs
 * the init variable, the -e/-l/-W options in order, the script, then the REPL (repl.c).
 * Every chunk runs through pgolua_docall(), which adds a traceback to errors and turns
 * Ctrl-C into the Lua error "interrupted!".
 *
 * Ours on top of lua(1): a plain script name is looked up as a recipe first (recipes.c),
 * --version prints the versions of pgolua and of the libraries it links, -h/--help.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua/lua_modules.h"
#include "repl.h"
#include "recipes.h"

/* The name in messages ("pgolua: ..."); fixed rather than argv[0] so output is stable. */
#define HOST_NAME "pgolua"

/* Option flags collected by host_scan_args(). */
enum {
  HOST_OPT_EXEC = 1 << 0,      /* -e seen */
  HOST_OPT_INTERACTIVE = 1 << 1, /* -i */
  HOST_OPT_VERSION = 1 << 2,   /* -v */
  HOST_OPT_NOENV = 1 << 3,     /* -E */
  HOST_OPT_VERSION_EXIT = 1 << 4, /* --version */
  HOST_OPT_HELP = 1 << 5       /* -h, --help */
};

/* What the command line asks for, filled by host_scan_args(). */
struct host_args {
  int flags;                   /* HOST_OPT_* */
  int script;                  /* index of the script in argv; argc when there is none */
  int bad;                     /* index of the offending option when the scan fails */
};


/* {==================================================================================
 * Signals and protected calls
 * =================================================================================== */

/* The one mutable C global of the host. A signal handler receives no user data, so the
 * SIGINT handler finds the state here (lua.c keeps 'globalL' for the same reason).
 * readline's completion callback has no user data either and reads it through
 * pgolua_host_state(). Set in main() before any Lua code runs, cleared before lua_close. */
static lua_State *host_L = NULL;

lua_State *pgolua_host_state(void) {
  return host_L;
}

/* Debug hook set by the SIGINT handler: removes itself and raises "interrupted!" in the
 * running Lua code at its next call, return or instruction. */
static void host_stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* SIGINT handler while a chunk runs: only sets the hook (lua_sethook may be called from a
 * signal handler). SA_RESETHAND has already restored the default action, so a second
 * Ctrl-C kills the process when the hook cannot fire (a C function that never returns). */
static void host_on_sigint(int sig) {
  (void)sig;
  lua_sethook(host_L, host_stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Message handler of pgolua_docall: makes the error object a string (through __tostring
 * when it has one) and appends a traceback. Returns the message. */
static int host_msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {                       /* not a string nor a number */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);           /* the object's own text */
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int pgolua_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;         /* where the function is */
  struct sigaction on_int, saved;
  int status;
  lua_pushcfunction(L, host_msghandler);
  lua_insert(L, base);                     /* the handler goes below the function */
  memset(&on_int, 0, sizeof on_int);
  on_int.sa_handler = host_on_sigint;
  on_int.sa_flags = SA_RESETHAND;
  sigemptyset(&on_int.sa_mask);
  sigaction(SIGINT, &on_int, &saved);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &saved, NULL);         /* back to the caller's handling */
  lua_remove(L, base);                     /* drop the handler */
  return status;
}

/* }================================================================================== */


/* {==================================================================================
 * Messages
 * =================================================================================== */

/* Prints "pgolua: msg" on stderr. */
static void host_message(const char *msg) {
  fprintf(stderr, "%s: %s\n", HOST_NAME, msg);
  fflush(stderr);
}

/* When 'status' is an error, prints the message on top of the stack and pops it.
 * Returns 'status'. */
static int host_report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    host_message(msg != NULL ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Prints the usage text on 'out'; with 'L', the recipes built in too. */
static void host_usage(FILE *out, lua_State *L) {
  fprintf(out,
      "usage: %s [options] [script [args]]\n"
      "       %s [options] RECIPE [args]   (RECIPE --help: the recipe's own help)\n"
      "Options:\n"
      "  -e chunk  run the Lua code 'chunk'\n"
      "  -i        interactive mode after running 'script'\n"
      "  -l mod    require 'mod' and set it as global 'mod'\n"
      "  -l g=mod  require 'mod' and set it as global 'g'\n"
      "  -v        print version information, then go on (script, -e, prompt)\n"
      "  -E        ignore environment variables (PGOLUA_INIT, LUA_INIT, LUA_PATH, ...)\n"
      "  -W        turn warnings on\n"
      "  --        stop handling options\n"
      "  -         stop handling options and run the standard input\n"
      "  --version print version information and exit\n"
      "  -h        print this text and the recipes built in, and exit\n"
      "  --help    the same as -h\n"
      "Without a script: the interactive prompt when stdin is a terminal, else stdin runs.\n"
      "PGOLUA_INIT (else LUA_INIT_5_4, else LUA_INIT) runs first: code, or @file.\n",
      HOST_NAME, HOST_NAME);
  if (L != NULL) {
    fprintf(out, "Recipes: %s\n", host_push_recipe_names(L));
    lua_pop(L, 1);
  }
  fflush(out);
}

/* Reports the option at argv[bad] as wrong, then the usage, on stderr. */
static void host_bad_option(char **argv, int bad) {
  const char *opt = argv[bad];
  if ((opt[1] == 'e' || opt[1] == 'l') && opt[2] == '\0')
    fprintf(stderr, "%s: '%s' needs an argument\n", HOST_NAME, opt);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", HOST_NAME, opt);
  host_usage(stderr, NULL);
}

/* Prints the versions (several lines) on stdout. Leaves the stack as it was. */
static void host_print_versions(lua_State *L) {
  fputs(pgolua_versions(L), stdout);
  fflush(stdout);
  lua_pop(L, 1);
}

/* One line when the prompt starts: our version and Lua's. Leaves the stack as it was. */
static void host_print_banner(lua_State *L) {
  const char *v = pgolua_versions(L);
  printf("%.*s (%s); Ctrl-D exits, Ctrl-C interrupts\n", (int)strcspn(v, "\n"), v,
         LUA_RELEASE);
  fflush(stdout);
  lua_pop(L, 1);
}

/* }================================================================================== */


/* {==================================================================================
 * Command line
 * =================================================================================== */

/* Scans the options up to the script (lua(1) rules: the first word not starting with '-'
 * is the script, "-" is stdin, "--" ends the options). Fills 'a'; returns 0 on a bad
 * option (a->bad is its index), 1 otherwise. Runs nothing. */
static int host_scan_args(char **argv, int argc, struct host_args *a) {
  int i;
  a->flags = 0;
  a->bad = 0;
  for (i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (opt[0] != '-')
      break;                               /* the script */
    switch (opt[1]) {
      case '\0':                           /* "-": the script is stdin */
        a->script = i;
        return 1;
      case '-':
        if (opt[2] == '\0') {              /* "--": the script follows, if any */
          a->script = i + 1;
          return 1;
        }
        if (strcmp(opt, "--version") == 0)
          a->flags |= HOST_OPT_VERSION_EXIT;
        else if (strcmp(opt, "--help") == 0)
          a->flags |= HOST_OPT_HELP;
        else {
          a->bad = i;
          return 0;
        }
        break;
      case 'h':
        if (opt[2] != '\0') {
          a->bad = i;
          return 0;
        }
        a->flags |= HOST_OPT_HELP;
        break;
      case 'E': case 'W': case 'i': case 'v':
        if (opt[2] != '\0') {              /* no argument allowed */
          a->bad = i;
          return 0;
        }
        if (opt[1] == 'E') a->flags |= HOST_OPT_NOENV;
        else if (opt[1] == 'i') a->flags |= HOST_OPT_INTERACTIVE;
        else if (opt[1] == 'v') a->flags |= HOST_OPT_VERSION;
        break;                             /* -W acts in host_run_options */
      case 'e': case 'l':
        if (opt[1] == 'e')
          a->flags |= HOST_OPT_EXEC;
        if (opt[2] == '\0') {              /* the argument is the next word */
          if (i + 1 >= argc || argv[i + 1][0] == '-') {
            a->bad = i;
            return 0;
          }
          i++;
        }
        break;
      default:
        a->bad = i;
        return 0;
    }
  }
  a->script = i;
  return 1;
}

/* Creates the global 'arg': arg[0] is the script ('script0', its resolved path) or, with
 * no script, the interpreter; arg[1..] are the script's arguments; negative indices hold
 * the interpreter and the options. Leaves the stack as it was. */
static void host_create_arg(lua_State *L, char **argv, int argc, int script,
                            const char *script0) {
  int zero = script < argc ? script : 0;   /* the argv index that becomes arg[0] */
  lua_createtable(L, argc - zero - 1 > 0 ? argc - zero - 1 : 0, zero + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, (i == zero && script0 != NULL) ? script0 : argv[i]);
    lua_rawseti(L, -2, (lua_Integer)i - zero);
  }
  lua_setglobal(L, "arg");
}

/* Runs the code 's'. Errors are reported; returns the status. */
static int host_dostring(lua_State *L, const char *s, const char *chunkname) {
  int status = luaL_loadbuffer(L, s, strlen(s), chunkname);
  if (status == LUA_OK)
    status = pgolua_docall(L, 0, 0);
  return host_report(L, status);
}

/* Runs the file 'path' (stdin when NULL). Errors are reported; returns the status. */
static int host_dofile(lua_State *L, const char *path) {
  int status = luaL_loadfile(L, path);
  if (status == LUA_OK)
    status = pgolua_docall(L, 0, 0);
  return host_report(L, status);
}

/* -l [g=]mod: g = require(mod). Without "g=", the global is the module name up to the
 * first '-' (so "-l mod-2.1" sets 'mod'), as lua 5.4 does. Errors are reported; returns
 * the status. */
static int host_require(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq != NULL ? eq + 1 : spec;
  size_t glen = eq != NULL ? (size_t)(eq - spec) : strcspn(spec, "-");
  int status;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  status = pgolua_docall(L, 1, 1);
  if (status == LUA_OK) {
    lua_pushglobaltable(L);
    lua_pushlstring(L, spec, glen);
    lua_pushvalue(L, -3);                  /* the module */
    lua_settable(L, -3);                   /* _G[g] = module */
    lua_pop(L, 2);                         /* pop _G and the module */
  }
  return host_report(L, status);
}

/* Runs PGOLUA_INIT, else LUA_INIT_5_4, else LUA_INIT: code, or "@file" to run a file.
 * Errors are reported; returns the status. */
static int host_run_init(lua_State *L) {
  static const char *const chunknames[] = {"=PGOLUA_INIT", "=LUA_INIT_5_4", "=LUA_INIT"};
  for (size_t i = 0; i < sizeof chunknames / sizeof chunknames[0]; i++) {
    const char *init = getenv(chunknames[i] + 1);
    if (init == NULL)
      continue;
    if (init[0] == '@')
      return host_dofile(L, init + 1);
    return host_dostring(L, init, chunknames[i]);
  }
  return LUA_OK;
}

/* Runs -e, -l and -W in command-line order (the words before the script). Returns 1, or 0
 * after an error was reported. */
static int host_run_options(lua_State *L, char **argv, int script) {
  for (int i = 1; i < script; i++) {
    const char *opt = argv[i];
    int status = LUA_OK;
    if (opt[0] != '-')
      continue;
    switch (opt[1]) {
      case 'e': case 'l': {
        const char *value = opt[2] != '\0' ? opt + 2 : argv[++i];
        status = opt[1] == 'e' ? host_dostring(L, value, "=(command line)")
                               : host_require(L, value);
        break;
      }
      case 'W':
        lua_warning(L, "@on", 0);
        break;
      default:
        break;
    }
    if (status != LUA_OK)
      return 0;
  }
  return 1;
}

/* Pushes arg[1..#arg], the script's arguments. Returns how many. */
static int host_push_script_args(lua_State *L) {
  int n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);                   /* the arg table */
  return n;
}

/* Loads the script (stdin when 'path' is NULL; 'kind' as host_push_script returned) and
 * calls it with its arguments. Errors are reported; returns the status. */
static int host_run_script(lua_State *L, const char *path, enum host_script_kind kind) {
  int status = path == NULL ? luaL_loadfile(L, NULL) : host_load_script(L, path, kind);
  if (status == LUA_OK) {
    int n = host_push_script_args(L);
    status = pgolua_docall(L, n, 0);
  }
  return host_report(L, status);
}

/* The whole program, in protected mode. Arguments: argc (integer) and argv (light
 * userdata). Returns true on success, false after an error was reported. */
static int host_main(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  const char *path = NULL;                 /* the script to run; NULL for stdin */
  enum host_script_kind kind = HOST_SCRIPT_FILE;
  struct host_args a;

  luaL_checkversion(L);
  if (!host_scan_args(argv, argc, &a)) {
    host_bad_option(argv, a.bad);
    return 0;
  }
  if (a.flags & HOST_OPT_HELP) {
    host_usage(stdout, L);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (a.flags & HOST_OPT_NOENV) {          /* tell package not to read LUA_PATH etc. */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  pgolua_openlibs(L);
  if (a.flags & (HOST_OPT_VERSION | HOST_OPT_VERSION_EXIT))
    host_print_versions(L);
  if (a.flags & HOST_OPT_VERSION_EXIT) {
    lua_pushboolean(L, 1);
    return 1;
  }

  if (a.script < argc) {                   /* resolve the script; its path stays pushed */
    const char *name = argv[a.script];
    if (strcmp(name, "-") == 0 && strcmp(argv[a.script - 1], "--") != 0)
      lua_pushnil(L);                      /* "-": stdin */
    else
      kind = host_push_script(L, name);
    path = lua_tostring(L, -1);
  }
  host_create_arg(L, argv, argc, a.script, path);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);

  if (!(a.flags & HOST_OPT_NOENV) && host_run_init(L) != LUA_OK)
    return 0;
  if (!host_run_options(L, argv, a.script))
    return 0;
  if (a.script < argc && host_run_script(L, path, kind) != LUA_OK)
    return 0;

  if (a.flags & HOST_OPT_INTERACTIVE) {
    if (!(a.flags & HOST_OPT_VERSION))
      host_print_banner(L);
    pgolua_repl(L);
  } else if (a.script >= argc && !(a.flags & (HOST_OPT_EXEC | HOST_OPT_VERSION))) {
    if (isatty(STDIN_FILENO)) {            /* no script, no -e/-v: like lua(1) */
      host_print_banner(L);
      pgolua_repl(L);
    } else if (host_dofile(L, NULL) != LUA_OK) {
      return 0;                            /* stdin is the script */
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* }================================================================================== */


int main(int argc, char **argv) {
  char *no_args[] = {HOST_NAME, NULL};
  lua_State *L;
  int status, ok;
  if (argc < 1 || argv[0] == NULL) {       /* exec'd without argv[0] */
    argc = 1;
    argv = no_args;
  }
  /* Past the file size limit (ulimit -f, RLIMIT_FSIZE) the kernel sends SIGXFSZ, whose
   * default action kills the process on the spot: no message, and a half-written
   * temporary file left behind. Ignored, the write fails with EFBIG instead, which the
   * file code reports (code no_space, "the file size limit was reached") and cleans up
   * after. Programs pgolua starts inherit the ignored disposition (exec keeps SIG_IGN):
   * their writes past the limit fail with EFBIG too, which they report, rather than
   * dying silently (Go programs ignore SIGXFSZ on their own anyway). */
  signal(SIGXFSZ, SIG_IGN);
  L = luaL_newstate();
  if (L == NULL) {
    host_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  host_L = L;
  lua_gc(L, LUA_GCSTOP);                   /* until the arguments are in place */
  lua_pushcfunction(L, host_main);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = status == LUA_OK && lua_toboolean(L, -1);
  host_report(L, status);
  host_L = NULL;
  lua_close(L);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
