/* repl.c: pgolua's interactive prompt.
 *
 * The loop of lua.c (pushline, addreturn, multiline, l_print, doREPL), written for us:
 * a line is first tried as "return <line>;" so expressions print their values, then as
 * a statement; while the syntax error ends in "<eof>" more lines are read with the second
 * prompt. Values print through pgo.repl.format (lua/pgo/repl.lua) and the global print.
 *
 * Line editing, history (~/.pgolua_history, or $PGOLUA_HISTORY) and tab completion of
 * globals and fields come from libedit's readline-compatible API when stdin is a
 * terminal; otherwise lines are read with fgets, without editing.
 *
 * Ctrl-C while a chunk runs raises "interrupted!" in it (pgolua_docall); Ctrl-C at the
 * prompt drops the line being typed (and any unfinished chunk); Ctrl-D on an empty
 * line leaves.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <editline/readline.h>

#include <lua.h>
#include <lauxlib.h>

#include "repl.h"

#define REPL_PROMPT "pgo> "
#define REPL_PROMPT2 "pgo>> "
#define REPL_HISTORY_FILE ".pgolua_history"   /* under $HOME */
#define REPL_HISTORY_MAX 1000                 /* entries kept */
#define REPL_CHUNKNAME "=stdin"
#define REPL_EOFMARK "<eof>"                  /* ends a syntax error at end of input */

/* Results of repl_getline and repl_read_chunk besides the lua_load statuses. */
enum { REPL_EOF = -1, REPL_CANCEL = -2 };

/* Registry key (its address) of pgo.repl.results, when it loaded. */
static const char repl_results_key = 'f';

/* Per-loop settings, on the C stack of pgolua_repl. */
struct repl {
  int tty;                   /* stdin is a terminal: use libedit */
  const char *history;       /* history file (kept alive on the Lua stack) or NULL */
  int history_warned;        /* a failed history write was reported */
};


/* {==================================================================================
 * Reading lines
 * =================================================================================== */

/* Set by the SIGINT handler installed while waiting for a line: the line was cancelled.
 * Signal state is the only kind of mutable C global the host allows. */
static volatile sig_atomic_t repl_cancelled = 0;

static void repl_on_sigint(int sig) {
  (void)sig;
  repl_cancelled = 1;
}

/* Reads a line of any length from stdin without editing. Returns a malloc'ed string
 * without its newline, or NULL at end of input or on error. */
static char *repl_fgets(void) {
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  buf[0] = '\0';
  while (fgets(buf + len, (int)(cap - len), stdin) != NULL) {
    len += strlen(buf + len);
    if (len > 0 && buf[len - 1] == '\n') {
      buf[len - 1] = '\0';
      return buf;
    }
    if (cap - len < 2) {                   /* full: grow and keep reading */
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL)
        break;
      buf = bigger;
      cap *= 2;
    }
  }
  if (len > 0 && !ferror(stdin))           /* last line without a newline */
    return buf;
  free(buf);
  return NULL;
}

/* Shows 'prompt' and reads a line into *line (malloc'ed, the caller frees it).
 * Returns 1 for a line, REPL_EOF at end of input, REPL_CANCEL when Ctrl-C was pressed.
 * Precondition: repl_on_sigint handles SIGINT (pgolua_repl installs it). */
static int repl_getline(const struct repl *r, const char *prompt, char **line) {
  repl_cancelled = 0;                      /* forget a Ctrl-C from between two lines */
  if (r->tty) {
    *line = readline(prompt);
  } else {
    fputs(prompt, stdout);
    fflush(stdout);
    *line = repl_fgets();
    if (*line == NULL && repl_cancelled)
      clearerr(stdin);
  }
  if (repl_cancelled) {
    free(*line);
    *line = NULL;
    fputs(r->tty ? "^C\n" : "\n", stdout);
    fflush(stdout);
    return REPL_CANCEL;
  }
  return *line != NULL ? 1 : REPL_EOF;
}

/* Pushes the prompt: _PROMPT (or _PROMPT2 for continuation lines) when it is a string or
 * a number, else ours. */
static const char *repl_push_prompt(lua_State *L, int first) {
  const char *p;
  lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
  p = lua_tostring(L, -1);                 /* converts numbers; NULL for other types */
  if (p != NULL)
    return p;
  lua_pop(L, 1);
  return lua_pushstring(L, first ? REPL_PROMPT : REPL_PROMPT2);
}

/* Reads a line with the first or the second prompt and pushes it. Returns 1, REPL_EOF
 * (nothing pushed) or REPL_CANCEL (nothing pushed). */
static int repl_push_line(lua_State *L, const struct repl *r, int first) {
  char *line = NULL;
  const char *prompt = repl_push_prompt(L, first);
  int got = repl_getline(r, prompt, &line);
  lua_pop(L, 1);                           /* the prompt */
  if (got != 1)
    return got;
  lua_pushstring(L, line);
  free(line);
  return 1;
}

/* Records a chunk that compiled in the history and writes the history file at once, so
 * it survives the process being killed. */
static void repl_remember(struct repl *r, const char *chunk) {
  HIST_ENTRY *last;
  if (!r->tty || chunk[strspn(chunk, " \t\n")] == '\0')
    return;                                /* nothing worth recalling */
  last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
  if (last != NULL && last->line != NULL && strcmp(last->line, chunk) == 0)
    return;                                /* same as the previous entry */
  add_history(chunk);
  if (r->history != NULL && write_history(r->history) != 0 && !r->history_warned) {
    fprintf(stderr, "warning: cannot write history file %s\n", r->history);
    r->history_warned = 1;
  }
}

/* }================================================================================== */


/* {==================================================================================
 * Compiling what was typed
 * =================================================================================== */

/* Is the status a syntax error at the end of the input (the chunk is unfinished)? The
 * message is on top of the stack. */
static int repl_incomplete(lua_State *L, int status) {
  size_t len;
  const char *msg;
  if (status != LUA_ERRSYNTAX)
    return 0;
  msg = lua_tolstring(L, -1, &len);
  return len >= sizeof REPL_EOFMARK - 1 &&
         strcmp(msg + len - (sizeof REPL_EOFMARK - 1), REPL_EOFMARK) == 0;
}

/* Tries the source on top of the stack as an expression ("return <src>;"). On success
 * pushes the compiled function (above the source) and returns 1; otherwise leaves the
 * stack as it was and returns 0. */
static int repl_try_expression(lua_State *L) {
  const char *ret = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
  if (luaL_loadbuffer(L, ret, strlen(ret), REPL_CHUNKNAME) == LUA_OK) {
    lua_remove(L, -2);                     /* the "return" text */
    return 1;
  }
  lua_pop(L, 2);                           /* the error and the "return" text */
  return 0;
}

/* Compiles the source on top of the stack as a statement; a leading '=' stands for
 * "return ". Pushes the function or the error message; returns the lua_load status. */
static int repl_compile(lua_State *L) {
  const char *src = lua_tostring(L, -1);
  const char *text = src[0] == '=' ? lua_pushfstring(L, "return %s", src + 1)
                                   : lua_pushstring(L, src);
  int status = luaL_loadbuffer(L, text, strlen(text), REPL_CHUNKNAME);
  lua_remove(L, -2);                       /* the compiled text */
  return status;
}

/* Reads a chunk (one line, or several while it is unfinished) and compiles it. Pushes the
 * function (LUA_OK) or the error message (another status); pushes nothing for REPL_EOF
 * (end of input on the first line) and REPL_CANCEL (Ctrl-C). What was typed goes to the
 * history when it compiled. */
static int repl_read_chunk(lua_State *L, struct repl *r) {
  int status = repl_push_line(L, r, 1);
  if (status != 1)
    return status;
  if (lua_tostring(L, -1)[0] != '=' && repl_try_expression(L)) {
    repl_remember(r, lua_tostring(L, -2));
    lua_remove(L, -2);                     /* the source */
    return LUA_OK;
  }
  for (;;) {                               /* a statement, maybe on several lines */
    int more;
    status = repl_compile(L);
    if (!repl_incomplete(L, status))
      break;
    lua_pop(L, 1);                         /* the "<eof>" error */
    more = repl_push_line(L, r, 0);
    if (more == REPL_CANCEL) {
      lua_pop(L, 1);                       /* the unfinished source */
      return REPL_CANCEL;
    }
    if (more == REPL_EOF) {                /* report the unfinished chunk */
      status = repl_compile(L);
      break;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);                      /* source .. "\n" .. line */
  }
  if (status == LUA_OK)
    repl_remember(r, lua_tostring(L, -2));
  lua_remove(L, -2);                       /* the source */
  return status;
}

/* }================================================================================== */


/* {==================================================================================
 * Printing
 * =================================================================================== */

/* Prints its arguments as the prompt shows values: the text of pgo.repl.results when it
 * loaded (which leaves out what a printing function returns besides its text), else
 * all of them with the global print. */
static int repl_show(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &repl_results_key) == LUA_TFUNCTION) {
    size_t len;
    const char *text;
    lua_insert(L, 1);
    lua_call(L, n, 1);
    text = lua_tolstring(L, -1, &len);
    if (text != NULL) {
      fwrite(text, 1, len, stdout);
      fputs("\n", stdout);
      fflush(stdout);
    }
    return 0;
  }
  lua_pop(L, 1);                           /* not a function */
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  lua_call(L, n, 0);
  return 0;
}

/* Prints an error message (on top of the stack) on stderr, without the program name,
 * and pops it. */
static void repl_report(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "%s\n", msg != NULL ? msg : "(error object is not a string)");
  fflush(stderr);
  lua_pop(L, 1);
}

/* Runs the compiled chunk on top of the stack and prints its results or its error. */
static void repl_eval(lua_State *L) {
  int base = lua_gettop(L) - 1;            /* below the function */
  int n;
  if (pgolua_docall(L, 0, LUA_MULTRET) != LUA_OK) {
    repl_report(L);
    return;
  }
  n = lua_gettop(L) - base;
  if (n > 0) {
    lua_pushcfunction(L, repl_show);
    lua_insert(L, base + 1);
    if (pgolua_docall(L, n, 0) != LUA_OK) {
      lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1));
      lua_remove(L, -2);
      repl_report(L);
    }
  }
  lua_settop(L, base);
}

/* }================================================================================== */


/* {==================================================================================
 * Completion
 * =================================================================================== */

/* Searching runs no Lua code but require: fields are read raw, following __index only
 * through tables (method tables of userdata and classes, the string library for
 * strings); a field listed in the metatable's __lazy (pgo's modules) is loaded. */
#define REPL_INDEX_CHAIN 8                    /* __index tables followed at most */

static const char *const repl_keywords[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
  "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
  NULL
};

/* Is s[0..len) a name that can follow '.' or ':' (an identifier, not a keyword)? */
static int repl_is_name(const char *s, size_t len) {
  if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return 0;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
      return 0;
  for (const char *const *k = repl_keywords; *k != NULL; k++)
    if (strlen(*k) == len && memcmp(*k, s, len) == 0)
      return 0;
  return 1;
}

/* Replaces the value on top of the stack by its metatable's __index when that is a
 * table, and returns 1; otherwise pops it and returns 0. */
static int repl_follow_index(lua_State *L) {
  if (lua_getmetatable(L, -1)) {
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);                     /* the metatable */
    lua_remove(L, -2);                     /* the value */
    if (lua_type(L, -1) == LUA_TTABLE)
      return 1;
  }
  lua_pop(L, 1);
  return 0;
}

/* Pushes the __lazy table of the metatable of the value on top of the stack (modules
 * loaded on first use, by field name: see lua/pgo/init.lua) and returns 1, or pushes
 * nothing and returns 0. */
static int repl_push_lazy(lua_State *L) {
  if (!lua_getmetatable(L, -1))
    return 0;
  lua_pushliteral(L, "__lazy");
  lua_rawget(L, -2);
  lua_remove(L, -2);                       /* the metatable */
  if (lua_type(L, -1) == LUA_TTABLE)
    return 1;
  lua_pop(L, 1);
  return 0;
}

/* Replaces the value on top of the stack by its field name[0..len), read without
 * running code; nil when there is none. */
static void repl_field(lua_State *L, const char *name, size_t len) {
  for (int depth = 0; depth < REPL_INDEX_CHAIN; depth++) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_pushlstring(L, name, len);
      if (lua_rawget(L, -2) != LUA_TNIL) {
        lua_remove(L, -2);                 /* the table */
        return;
      }
      lua_pop(L, 1);
      if (repl_push_lazy(L)) {             /* a module loaded on first use: load it now */
        int lazy;
        lua_pushlstring(L, name, len);
        lazy = lua_rawget(L, -2) == LUA_TSTRING;
        lua_pop(L, 2);                     /* the module name, __lazy */
        if (lazy) {
          lua_pushlstring(L, name, len);
          lua_gettable(L, -2);             /* runs __index: require */
          lua_remove(L, -2);
          return;
        }
      }
    }
    if (!repl_follow_index(L)) {
      lua_pushnil(L);
      return;
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
}

/* Adds to the set at index 'set' every "<head><key>" where key is a string key of the
 * table on top of the stack that is a name starting with prefix[0..plen); with
 * 'methods', only keys holding functions. Names starting with '_' (internal) are left
 * out unless the prefix starts with '_'. The table stays. */
static void repl_add_keys(lua_State *L, int set, const char *head, size_t hlen,
                          const char *prefix, size_t plen, int methods) {
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {           /* key at -2, value at -1 */
    size_t klen;
    const char *key;
    if (lua_type(L, -2) == LUA_TSTRING && (!methods || lua_type(L, -1) == LUA_TFUNCTION)) {
      key = lua_tolstring(L, -2, &klen);
      if (klen >= plen && memcmp(key, prefix, plen) == 0 && repl_is_name(key, klen) &&
          (key[0] != '_' || (plen > 0 && prefix[0] == '_'))) {
        lua_pushlstring(L, head, hlen);
        lua_pushvalue(L, -3);              /* the key */
        lua_concat(L, 2);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);                /* set[head .. key] = true */
      }
    }
    lua_pop(L, 1);                         /* the value; keep the key for lua_next */
  }
}

/* Adds to the set at index 'set' every "<head><key>" where key is a name field of the
 * value on top of the stack (or of its __index tables, or a module it loads on first
 * use) starting with prefix[0..plen); with 'methods', only fields holding functions.
 * Pops the value. */
static void repl_add_fields(lua_State *L, int set, const char *head, size_t hlen,
                            const char *prefix, size_t plen, int methods) {
  for (int depth = 0; depth < REPL_INDEX_CHAIN; depth++) {
    if (lua_type(L, -1) == LUA_TTABLE)
      repl_add_keys(L, set, head, hlen, prefix, plen, methods);
    if (!methods && repl_push_lazy(L)) {
      repl_add_keys(L, set, head, hlen, prefix, plen, 0);
      lua_pop(L, 1);
    }
    if (!repl_follow_index(L))
      return;
  }
  lua_pop(L, 1);
}

/* The word being completed: text, at offset 'start' of the line; 'string' is the offset
 * just after the quote that opens the string the word is in, or -1. */
struct repl_word {
  const char *text;
  const char *line;
  int start;
  int string;
};

/* The offset just after the quote opening the string that contains offset 'start' of
 * line, or -1 when 'start' is not inside a '...' or "..." string (backslash escapes are
 * skipped; a "--" comment ends the search; long brackets are not strings here). */
static int repl_string_start(const char *line, int start) {
  char quote = 0;
  int open = -1;
  for (int i = 0; i < start && line[i] != '\0'; i++) {
    char c = line[i];
    if (quote != 0) {
      if (c == '\\' && i + 1 < start)
        i++;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
      open = i + 1;
    } else if (c == '-' && line[i + 1] == '-') {
      return -1;
    }
  }
  return quote != 0 ? open : -1;
}

/* Adds to the set at index 'set' the file names that complete the path typed inside a
 * string, path[0..plen) followed by text; each candidate replaces only text (the path
 * minus its first plen bytes), and a directory ends in '/'. */
static void repl_add_files(lua_State *L, int set, const char *path, size_t plen,
                           const char *text) {
  const char *full;
  char *m;
  lua_pushlstring(L, path, plen);
  lua_pushstring(L, text);
  lua_concat(L, 2);
  full = lua_tostring(L, -1);
  for (int state = 0; (m = rl_filename_completion_function(full, state)) != NULL; state++) {
    struct stat st;
    int dir = stat(m, &st) == 0 && S_ISDIR(st.st_mode) && m[strlen(m) - 1] != '/';
    if (strlen(m) >= plen && memcmp(m, path, plen) == 0) {
      lua_pushstring(L, m + plen);
      if (dir)
        lua_pushliteral(L, "/");
      lua_concat(L, dir ? 2 : 1);
      lua_pushboolean(L, 1);
      lua_rawset(L, set);
    }
    free(m);
  }
  lua_pop(L, 1);                           /* full */
}

/* Protected part of completion. Argument: the word being completed (light userdata, a
 * struct repl_word) such as "pri", "string.fo", "p:to", or a file name in a string.
 * Returns a set (table) of the complete words that can replace it. */
static int repl_collect(lua_State *L) {
  const struct repl_word *w = (const struct repl_word *)lua_touserdata(L, 1);
  const char *text = w->text;
  const char *sep = NULL, *name = text;
  int set;
  lua_newtable(L);
  set = lua_gettop(L);
  if (w->string >= 0) {                    /* inside a string: a file name */
    repl_add_files(L, set, w->line + w->string, (size_t)(w->start - w->string), text);
    return 1;
  }
  for (const char *c = text; *c != '\0'; c++)
    if (*c == '.' || *c == ':')
      sep = c;
  lua_pushglobaltable(L);
  if (sep == NULL) {                       /* a global, or a keyword */
    for (const char *const *k = repl_keywords; *k != NULL; k++)
      if (strncmp(*k, text, strlen(text)) == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, set, *k);
      }
    repl_add_fields(L, set, "", 0, text, strlen(text), 0);
    return 1;
  }
  if (sep == text)
    return 1;                              /* "(expr):m": no way to know the value */
  while (name < sep) {                     /* walk "a.b.c" up to the last separator */
    size_t len = strcspn(name, ".:");
    if (!repl_is_name(name, len) || (name[len] == ':' && name + len != sep))
      return 1;                            /* not a plain path: no candidates */
    repl_field(L, name, len);
    name += len + 1;
  }
  repl_add_fields(L, set, text, (size_t)(sep + 1 - text), sep + 1, strlen(sep + 1),
                  *sep == ':');
  return 1;
}

static int repl_compare(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* readline's attempted-completion function: the candidates for 'text' in the form
 * readline expects (a malloc'ed array: [0] the common prefix that replaces the word,
 * then the candidates, then NULL), or NULL when there is none. */
static char **repl_complete(const char *text, int start, int end) {
  lua_State *L = pgolua_host_state();
  char **matches = NULL;
  size_t n = 0, i;
  int top;
  struct repl_word word;
  (void)end;
  rl_attempted_completion_over = 1;        /* no default completion: ours only */
  if (L == NULL || !lua_checkstack(L, 4))
    return NULL;
  word.text = text;
  word.line = rl_line_buffer;
  word.start = start;
  word.string = repl_string_start(rl_line_buffer, start);
  top = lua_gettop(L);
  lua_pushcfunction(L, repl_collect);
  lua_pushlightuserdata(L, &word);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TTABLE)
    goto done;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {           /* count */
    n++;
    lua_pop(L, 1);
  }
  if (n == 0 || (matches = calloc(n + 2, sizeof *matches)) == NULL)
    goto done;
  i = 1;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {           /* copy out, outside Lua's memory */
    matches[i] = strdup(lua_tostring(L, -2));
    if (matches[i] == NULL) {
      lua_pop(L, 2);
      goto fail;
    }
    i++;
    lua_pop(L, 1);
  }
  qsort(matches + 1, n, sizeof *matches, repl_compare);
  if (n == 1) {                            /* a single candidate is the answer */
    matches[0] = matches[1];
    matches[1] = NULL;
  } else {                                 /* [0]: what all the candidates start with */
    size_t common = 0;
    while (matches[1][common] != '\0' && matches[1][common] == matches[n][common])
      common++;
    matches[0] = strndup(matches[1], common);
    if (matches[0] == NULL)
      goto fail;
  }
  goto done;
fail:
  for (i = 1; i <= n; i++)
    free(matches[i]);
  free(matches);
  matches = NULL;
done:
  lua_settop(L, top);
  return matches;
}

/* }================================================================================== */


/* {==================================================================================
 * The loop
 * =================================================================================== */

/* Pushes the history file's path ($PGOLUA_HISTORY, else ~/.pgolua_history), or nil when
 * there is none (no $HOME, or PGOLUA_HISTORY set to ""). */
static void repl_push_history_path(lua_State *L) {
  const char *env = getenv("PGOLUA_HISTORY");
  const char *home = getenv("HOME");
  if (env != NULL && env[0] != '\0')
    lua_pushstring(L, env);
  else if (env != NULL)
    lua_pushnil(L);                        /* PGOLUA_HISTORY="": no history file */
  else if (home != NULL && home[0] != '\0')
    lua_pushfstring(L, "%s/%s", home, REPL_HISTORY_FILE);
  else
    lua_pushnil(L);
}

/* Sets up libedit: completion, and the history read from its file. */
static void repl_init_readline(const struct repl *r) {
  rl_readline_name = "pgolua";             /* for "pgolua:" lines in ~/.editrc */
  rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{}()[],+-*/%^~#";
  rl_attempted_completion_function = repl_complete;
  rl_completion_append_character = '\0';
  rl_initialize();
  using_history();
  stifle_history(REPL_HISTORY_MAX);
  if (r->history != NULL)
    read_history(r->history);              /* a missing file is not an error */
}

/* Requires 'mod'; on success sets global 'global' (when not NULL) and returns 1 with the
 * module pushed, else prints a warning naming 'what' and returns 0 with nothing pushed. */
static int repl_require(lua_State *L, const char *mod, const char *global,
                        const char *what) {
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  if (pgolua_docall(L, 1, 1) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL)
      msg = "?";
    fprintf(stderr, "pgolua: warning: cannot load '%s' (%.*s); %s\n", mod,
            (int)strcspn(msg, "\n"), msg, what);
    fflush(stderr);
    lua_pop(L, 1);
    return 0;
  }
  if (global != NULL) {
    lua_pushvalue(L, -1);
    lua_setglobal(L, global);
  }
  return 1;
}

void pgolua_repl(lua_State *L) {
  int top = lua_gettop(L);
  struct repl r;
  struct sigaction on_int, saved;
  int status;

  /* While the loop runs, Ctrl-C outside a chunk only cancels the line being read (the
   * read returns EINTR: no SA_RESTART); pgolua_docall overrides this while code runs. */
  memset(&on_int, 0, sizeof on_int);
  on_int.sa_handler = repl_on_sigint;
  sigemptyset(&on_int.sa_mask);
  sigaction(SIGINT, &on_int, &saved);

  r.tty = isatty(STDIN_FILENO);
  r.history_warned = 0;
  repl_push_history_path(L);               /* stays here while the loop runs */
  r.history = lua_tostring(L, -1);
  if (r.tty)
    repl_init_readline(&r);

  if (repl_require(L, "pgo", "pgo", "the global 'pgo' is not set"))
    lua_pop(L, 1);
  if (repl_require(L, "pgo.repl", NULL, "values print plainly")) {
    lua_getfield(L, -1, "results");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &repl_results_key);
    lua_pop(L, 1);                         /* the module */
  }
  if (repl_require(L, "pgo.help", "help", "help() is not available"))
    lua_pop(L, 1);

  while ((status = repl_read_chunk(L, &r)) != REPL_EOF) {
    if (status == LUA_OK)
      repl_eval(L);
    else if (status != REPL_CANCEL)
      repl_report(L);                      /* a syntax error */
  }
  fputs("\n", stdout);                     /* leave the terminal on a fresh line */
  fflush(stdout);
  sigaction(SIGINT, &saved, NULL);
  lua_settop(L, top);
}

/* }================================================================================== */
