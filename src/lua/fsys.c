/* fsys.c: the pgo.fsys module: the file operations release engineering needs and Lua's
 * io/os libraries lack: atomic replace, exclusive temporary files, fsync, stat, isatty.
 * lua/pgo/fs.lua is the documented face of it (pgo.fs).
 *
 *   replace(tmp, target [, mode]) -> true | nil, message, code
 *   tempfile(dir [, prefix])      -> path, file | nil, message, code
 *   write_atomic(path, data [, mode]) -> true | nil, message, code
 *   remove(path)   -> true | nil, message, code
 *   exists(path)   -> boolean
 *   stat(path)     -> {type=, size=, mode=, mtime=} | nil, message, code
 *   fsync(path)    -> true | nil, message, code
 *   isatty(fd)     -> boolean
 *   dirname(path)  -> string
 *   mkdtemp(dir [, prefix])  -> path | nil, message, code
 *   realpath(path) -> path | nil, message, code
 *   run(argv [, opts]) -> {status=, signal=, output=, truncated=} | nil, message, code */
/* posix_spawn_file_actions_addchdir_np (glibc 2.29, musl 1.1.24, macOS 10.15) and
 * addclosefrom_np (glibc 2.34) are extensions: run() needs them to start a program in
 * another directory, and to keep pgolua's other descriptors out of it, without a shell. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include "pgolua/fileio.h"
#include "lua_bind.h"
#include "lua_profile.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Push nil, "<what> <path>: <strerror>", code for errno e (pgo_fail_errno's table, the
 * program's only one); returns 3. */
static int push_errno(lua_State *L, int e, const char *what, const char *path) {
  pgo_error err;
  pgo_fail_errno(&err, e, what, path);
  return pgolua_push_error(L, &err);
}

/* An optional file mode argument (e.g. 420 = 0644, or the string "644"); -1 when absent. */
static int opt_mode(lua_State *L, int i) {
  if (lua_isnoneornil(L, i)) return -1;
  lua_Integer m;
  if (lua_type(L, i) == LUA_TSTRING) {
    const char *s = lua_tostring(L, i);
    char *end;
    long v = strtol(s, &end, 8);
    if (*s == '\0' || *end != '\0') return luaL_argerror(L, i, "octal mode string expected");
    m = v;
  } else {
    m = luaL_checkinteger(L, i);
  }
  if (m < 0 || m > 07777) return luaL_argerror(L, i, "mode out of range (0 to 07777)");
  return (int)m;
}

static int fsync_path(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

/* ---- module functions ------------------------------------------------------------------- */

/* replace(tmp, target [, mode]): flush tmp to disk, give it mode (default: the target's
 * current mode, or 0666 minus the umask for a new file), rename it over target and fsync
 * the directory. On failure target is untouched (tmp is left for the caller). */
static int fsys_replace(lua_State *L) {
  const char *tmp = luaL_checkstring(L, 1);
  const char *target = luaL_checkstring(L, 2);
  int mode = opt_mode(L, 3);
  struct stat st;
  if (stat(tmp, &st) != 0) return push_errno(L, errno, "cannot replace with", tmp);
  if (!S_ISREG(st.st_mode)) return push_errno(L, EISDIR, "cannot replace with", tmp);
  if (mode < 0) {
    struct stat ts;
    if (stat(target, &ts) == 0 && S_ISREG(ts.st_mode)) {
      mode = (int)(ts.st_mode & 07777);
    } else {
      mode_t mask = umask(022);        /* read the umask (and put it back) */
      umask(mask);
      mode = (int)(0666 & ~mask);
    }
  }
  if (chmod(tmp, (mode_t)mode) != 0) return push_errno(L, errno, "cannot set the mode of", tmp);
  if (fsync_path(tmp) != 0) return push_errno(L, errno, "cannot flush", tmp);
  pgo_error err;
  if (!pgo_replace(tmp, target, &err)) return pgolua_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* The close function of the file handles tempfile() returns (io library protocol). */
static int fsys_fclose(lua_State *L) {
  luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  int ok = fclose(s->f) == 0;
  return luaL_fileresult(L, ok, NULL);
}

/* tempfile(dir [, prefix]) -> path, file: a new file "<dir>/.pgolua[-<prefix>].XXXXXX" (see
 * pgo_tempfile: one family, which sweep_temps knows) created with
 * O_EXCL and mode 0600, and a Lua file handle open on it for writing (close it; remove or
 * replace the path: nothing removes it for you). */
static int fsys_tempfile(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  const char *prefix = luaL_optstring(L, 2, "pgolua");
  if (!pgo_temp_prefix_valid(prefix))
    return luaL_argerror(L, 2, "a word of lower-case letters, digits and '-' expected");
  luaL_Stream *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->f = NULL;
  s->closef = NULL;                    /* a closed handle until the file is open */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  char path[4200];
  pgo_error err;
  int fd = pgo_tempfile(dir, prefix, path, sizeof path, &err);
  if (fd < 0) return pgolua_push_error(L, &err);
  s->f = fdopen(fd, "wb");
  if (!s->f) {
    int e = errno;
    close(fd);
    unlink(path);
    return push_errno(L, e, "cannot open", path);
  }
  s->closef = fsys_fclose;
  lua_pushstring(L, path);
  lua_insert(L, -2);                   /* path, file */
  return 2;
}

/* write_atomic(path, data [, mode]): temp file beside path, fsync, rename. */
static int fsys_write_atomic(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int mode = opt_mode(L, 3);
  if (mode < 0) {
    mode_t mask = umask(022);
    umask(mask);
    mode = (int)(0666 & ~mask);
  }
  pgo_error err;
  if (!pgo_write_atomic(path, data, len, (unsigned)mode, &err)) return pgolua_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int fsys_remove(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (unlink(path) != 0) return push_errno(L, errno, "cannot remove", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fsys_exists(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  lua_pushboolean(L, stat(path, &st) == 0);
  return 1;
}

static int fsys_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return push_errno(L, errno, "cannot stat", path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec / 1e9);
  lua_setfield(L, -2, "mtime");
  return 1;
}

/* fsync(path): flush a file's (or a directory's entries') data to disk. */
static int fsys_fsync(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (fsync_path(path) != 0) return push_errno(L, errno, "cannot flush", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fsys_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd));
  return 1;
}

static int fsys_dirname(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char dir[4096];
  pgo_dirname(path, dir, sizeof dir);
  lua_pushstring(L, dir);
  return 1;
}

/* mkdtemp(dir [, prefix]) -> path: a new directory "<dir>/<prefix>.XXXXXX" (default prefix
 * "pgolua"), mode 0700, created by mkdtemp(3): the name is random and creation exclusive,
 * so nobody else can own it or have planted it. The caller removes it. */
static int fsys_mkdtemp(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  const char *prefix = luaL_optstring(L, 2, "pgolua");
  if (strchr(prefix, '/')) return luaL_argerror(L, 2, "prefix must not contain '/'");
  char path[PATH_MAX];
  int w = snprintf(path, sizeof path, "%s/%s.XXXXXX", dir, prefix);
  if (w < 0 || (size_t)w >= sizeof path) {
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot create a temporary directory in %s: the name is too long", dir);
    lua_pushstring(L, "invalid");
    return 3;
  }
  if (!mkdtemp(path)) return push_errno(L, errno, "cannot create a temporary directory in", dir);
  lua_pushstring(L, path);
  return 1;
}

/* realpath(path) -> the absolute path with no symbolic link, "." or ".." in it. */
static int fsys_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *abs = realpath(path, NULL);
  if (!abs) return push_errno(L, errno, "cannot resolve", path);
  lua_pushstring(L, abs);
  free(abs);
  return 1;
}

/* {=====================================================================================
 * run: a program with an argument vector, no shell in between. Nothing in argv is ever
 * parsed again, so a file name holding ' ; $() ` or a newline stays one argument. */

#define RUN_MAX_ARGS 65536
#define RUN_DEFAULT_MAX_OUTPUT ((lua_Integer)1 << 20)

#define OUTPUT_BOX_META "pgo.fsys.output"

static int output_box_gc(lua_State *L) {
  char **box = luaL_checkudata(L, 1, OUTPUT_BOX_META);
  free(*box);
  *box = NULL;
  return 0;
}

/* Where a child's stdout or stderr goes. */
typedef struct {
  const char *path;           /* a file (created, or appended to with append) */
  bool discard;               /* false was given: /dev/null */
} run_stream;

typedef struct {
  const char *dir;            /* working directory of the child, or NULL */
  run_stream out, err;
  bool append, capture;
  size_t max_output;
} run_opts;

/* A string without NUL bytes (they would silently cut a path or an argument short). */
static const char *check_cstring(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (strlen(s) != len)
    luaL_error(L, "bad argument to 'run' (%s holds a NUL byte)", what);
  return s;
}

static void opt_stream(lua_State *L, const char *field, run_stream *st) {
  st->path = NULL;
  st->discard = false;
  int t = lua_getfield(L, 2, field);
  if (t == LUA_TSTRING) {
    st->path = check_cstring(L, -1, field);
  } else if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    st->discard = true;
  } else if (t != LUA_TNIL) {
    luaL_error(L, "bad option '%s' to 'run' (a path or false expected, got %s)", field,
               luaL_typename(L, -1));
  }
  lua_pop(L, 1);   /* a string stays alive: the options table holds it */
}

static void check_run_opts(lua_State *L, run_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_output = (size_t)RUN_DEFAULT_MAX_OUTPUT;
  if (lua_isnoneornil(L, 2)) return;
  luaL_checktype(L, 2, LUA_TTABLE);
  int t = lua_getfield(L, 2, "dir");
  if (t == LUA_TSTRING) o->dir = check_cstring(L, -1, "dir");
  else if (t != LUA_TNIL) luaL_error(L, "bad option 'dir' to 'run' (string expected, got %s)",
                                     luaL_typename(L, -1));
  lua_pop(L, 1);
  opt_stream(L, "stdout", &o->out);
  opt_stream(L, "stderr", &o->err);
  lua_getfield(L, 2, "append");
  o->append = lua_toboolean(L, -1);
  lua_getfield(L, 2, "capture");
  o->capture = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if (lua_getfield(L, 2, "max_output") != LUA_TNIL) {
    lua_Integer m = lua_tointeger(L, -1);
    if (!lua_isinteger(L, -1) || m < 1)
      luaL_error(L, "bad option 'max_output' to 'run' (a positive integer expected)");
    o->max_output = (size_t)m;
  }
  lua_pop(L, 1);
  if (o->capture && (o->out.path || o->out.discard))
    luaL_error(L, "bad options to 'run' (capture and stdout both given; choose one)");
}

/* Descriptors the parent opens for the child; closed by run_cleanup. */
typedef struct {
  int in, out, err;           /* /dev/null, stdout and stderr files; -1 = inherit */
  int pipe_r, pipe_w;         /* capture pipe */
  bool fa_live, attr_live;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
} run_fds;

static void run_cleanup(run_fds *f) {
  int *fds[] = {&f->in, &f->out, &f->err, &f->pipe_r, &f->pipe_w};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (*fds[i] >= 0) { close(*fds[i]); *fds[i] = -1; }
  if (f->fa_live) posix_spawn_file_actions_destroy(&f->fa);
  if (f->attr_live) posix_spawnattr_destroy(&f->attr);
  f->fa_live = f->attr_live = false;
}

/* Open a stream's target in the parent, so a bad path fails with its own message. */
static int open_stream(const run_stream *st, bool append) {
  if (st->discard) return open("/dev/null", O_WRONLY | O_CLOEXEC);
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (append ? O_APPEND : O_TRUNC);
  return open(st->path, flags, 0666);
}

/* Read the child's stdout until EOF or until max bytes are kept in *buf (malloc'd). At
 * the cap the caller closes the pipe, so a program that keeps writing ends with SIGPIPE
 * instead of blocking forever (or running forever, like yes(1)). */
static void drain(int fd, size_t max, char **buf, size_t *len, bool *truncated, bool *nomem) {
  size_t cap = 0;
  char scratch[8192];
  for (;;) {
    ssize_t r = read(fd, scratch, sizeof scratch);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    size_t keep = (size_t)r;
    if (keep > max - *len) { keep = max - *len; *truncated = true; }
    if (*len + keep > cap) {
      size_t want = cap ? cap * 2 : 16384;
      while (want < *len + keep) want *= 2;
      if (want > max) want = max;
      char *grown = realloc(*buf, want);
      if (!grown) { *nomem = true; return; }
      *buf = grown;
      cap = want;
    }
    memcpy(*buf + *len, scratch, keep);
    *len += keep;
    if (*truncated) return;
  }
}

static int push_run_error(lua_State *L, run_fds *f, int e, const char *fmt, const char *what) {
  run_cleanup(f);
  return push_errno(L, e, fmt, what);
}

/* Whether a program named without a "/" is an executable file in one of PATH's absolute
 * directories. POSIX lets posix_spawnp report a failed exec only as the child's exit
 * status 127 (glibc returns ENOENT, but not under every runtime, e.g. valgrind), so the
 * search is done here to say "not found" the same way everywhere. A PATH holding an
 * empty or relative entry is left to posix_spawnp (true), since the child resolves it
 * after its chdir. */
static bool in_path(const char *name) {
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  char buf[PATH_MAX];
  for (const char *p = path;; ) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 0 || p[0] != '/') return true;
    if (n + 1 + strlen(name) < sizeof buf) {
      snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
      struct stat st;
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return true;
    }
    if (!end) return false;
    p = end + 1;
  }
}

/* run(argv [, opts]): start argv[1] (searched in PATH when it holds no '/') with argv as
 * its argument vector, stdin on /dev/null, and wait for it. opts: dir (its working
 * directory; relative stdout/stderr paths are still relative to ours), stdout / stderr (a
 * file path, created with mode 0666 minus the umask and truncated, or appended to with
 * append = true; false = discarded; nil = ours), capture = true (stdout returned as
 * result.output, at most max_output bytes, default 1 MiB; past that the pipe is closed,
 * result.truncated is true and a program still writing gets SIGPIPE). The child gets the default SIGPIPE disposition, an empty signal mask and none
 * of our descriptors beyond 0-2. Returns {status = exit status | nil, signal = number |
 * nil, output =, truncated =}; nil, message, code when the program cannot be started. */
static int fsys_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n < 1) return luaL_argerror(L, 1, "a program and its arguments expected, got an empty table");
  if (n > RUN_MAX_ARGS) return luaL_argerror(L, 1, "more than 65536 arguments");
  run_opts o;
  check_run_opts(L, &o);
  /* argv points into the strings of table 1 (raw access: no metamethod can hand out a
   * string the table does not hold), which stays on the stack until we return */
  char **argv = lua_newuserdatauv(L, ((size_t)n + 1) * sizeof *argv, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
      return luaL_error(L, "bad argument #1 to 'run' (element %d is a %s, not a string)",
                        (int)i, luaL_typename(L, -1));
    size_t len;
    argv[i - 1] = (char *)lua_tolstring(L, -1, &len);
    if (strlen(argv[i - 1]) != len)   /* a NUL would silently cut the argument short */
      return luaL_error(L, "bad argument #1 to 'run' (element %d holds a NUL byte)", (int)i);
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  if (argv[0][0] == '\0') return luaL_argerror(L, 1, "the program name is empty");

  /* the captured output lives in a malloc'd buffer owned by a Lua box (freed by its
   * __gc), so a memory error after the child is reaped cannot leak it */
  char **output = lua_newuserdatauv(L, sizeof *output, 0);
  *output = NULL;
  luaL_setmetatable(L, OUTPUT_BOX_META);
  run_fds f = {.in = -1, .out = -1, .err = -1, .pipe_r = -1, .pipe_w = -1};
  if (o.dir) {
    struct stat st;
    if (stat(o.dir, &st) != 0) return push_errno(L, errno, "cannot run in the directory", o.dir);
    if (!S_ISDIR(st.st_mode)) return push_errno(L, ENOTDIR, "cannot run in", o.dir);
  }
  f.in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (f.in < 0) return push_run_error(L, &f, errno, "cannot open", "/dev/null");
  if ((o.out.path || o.out.discard) && (f.out = open_stream(&o.out, o.append)) < 0)
    return push_run_error(L, &f, errno, "cannot open the standard output file",
                          o.out.path ? o.out.path : "/dev/null");
  if ((o.err.path || o.err.discard) && (f.err = open_stream(&o.err, o.append)) < 0)
    return push_run_error(L, &f, errno, "cannot open the standard error file",
                          o.err.path ? o.err.path : "/dev/null");
  if (o.capture) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return push_run_error(L, &f, errno, "cannot run", argv[0]);
    f.pipe_r = p[0];
    f.pipe_w = p[1];
  }

  int rc = posix_spawn_file_actions_init(&f.fa);
  if (rc != 0) return push_run_error(L, &f, rc, "cannot run", argv[0]);
  f.fa_live = true;
  rc = posix_spawnattr_init(&f.attr);
  if (rc != 0) return push_run_error(L, &f, rc, "cannot run", argv[0]);
  f.attr_live = true;
  /* dup2 clears close-on-exec on the copies 0-2; the originals close at exec */
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&f.fa, f.in, 0);
  int out_fd = o.capture ? f.pipe_w : f.out;
  if (rc == 0 && out_fd >= 0) rc = posix_spawn_file_actions_adddup2(&f.fa, out_fd, 1);
  if (rc == 0 && f.err >= 0) rc = posix_spawn_file_actions_adddup2(&f.fa, f.err, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&f.fa, 3);
#endif
  if (rc == 0 && o.dir) rc = posix_spawn_file_actions_addchdir_np(&f.fa, o.dir);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&f.attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&f.attr, &pipe_only);
  if (rc == 0) rc = posix_spawnattr_setflags(&f.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc != 0) return push_run_error(L, &f, rc, "cannot run", argv[0]);

  pid_t pid;
  rc = strchr(argv[0], '/') || in_path(argv[0]) ? posix_spawnp(&pid, argv[0], &f.fa, &f.attr, argv,
                                                               environ)
                                                : ENOENT;
  if (rc != 0) {
    run_cleanup(&f);
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot run %s: %s%s", argv[0], strerror(rc),
                    rc == ENOENT && !strchr(argv[0], '/') ? " (not found in PATH)" : "");
    lua_pushstring(L, rc == ENOENT ? "not_found" : rc == EACCES ? "permission" : "io");
    return 3;
  }
  /* From here until waitpid nothing may raise a Lua error: the child must be reaped. */
  if (f.pipe_w >= 0) { close(f.pipe_w); f.pipe_w = -1; }
  size_t len = 0;
  bool truncated = false, nomem = false;
  if (o.capture) drain(f.pipe_r, o.max_output, output, &len, &truncated, &nomem);
  if (f.pipe_r >= 0) { close(f.pipe_r); f.pipe_r = -1; }
  int status = 0;
  pid_t w;
  do { w = waitpid(pid, &status, 0); } while (w < 0 && errno == EINTR);
  int wait_errno = errno;
  run_cleanup(&f);
  if (w < 0) return push_errno(L, wait_errno, "cannot wait for", argv[0]);
  if (nomem) {
    luaL_pushfail(L);
    lua_pushfstring(L, "out of memory collecting the output of %s", argv[0]);
    lua_pushstring(L, "nomem");
    return 3;
  }
  lua_createtable(L, 0, 4);
  if (WIFEXITED(status)) {
    lua_pushinteger(L, WEXITSTATUS(status));
    lua_setfield(L, -2, "status");
  } else if (WIFSIGNALED(status)) {
    lua_pushinteger(L, WTERMSIG(status));
    lua_setfield(L, -2, "signal");
  }
  if (o.capture) {
    lua_pushlstring(L, *output ? *output : "", len);
    lua_setfield(L, -2, "output");
    lua_pushboolean(L, truncated);
    lua_setfield(L, -2, "truncated");
  }
  return 1;
}

/* }===================================================================================== */

/* sweep_temps(dir, min_age_seconds) -> n: removes the stale ".pgolua*" temporary files of
 * killed runs in dir (pgo_temp_sweep: ours, unlocked, unchanged for min_age_seconds). */
static int fsys_sweep_temps(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  lua_Integer age = luaL_checkinteger(L, 2);
  luaL_argcheck(L, age >= 0, 2, "must not be negative");
  lua_pushinteger(L, (lua_Integer)pgo_temp_sweep(dir, PGO_TEMP_FAMILY, (long)age));
  return 1;
}

/* errno_failure(errno, what, path) -> nil, "<what> <path>: <strerror>", code: the failure a
 * Lua io call reported as an errno number (f:write's third result), through the program's
 * one errno table, so a caller chooses its advice by code as for every pgo.fs failure. */
static int fsys_errno_failure(lua_State *L) {
  lua_Integer e = luaL_checkinteger(L, 1);
  luaL_argcheck(L, e > 0 && e < 4096, 1, "an errno number expected");
  return push_errno(L, (int)e, luaL_checkstring(L, 2), luaL_checkstring(L, 3));
}

static const luaL_Reg fsys_funcs[] = {
  {"replace", fsys_replace},
  {"tempfile", fsys_tempfile},
  {"sweep_temps", fsys_sweep_temps},
  {"write_atomic", fsys_write_atomic},
  {"remove", fsys_remove},
  {"exists", fsys_exists},
  {"stat", fsys_stat},
  {"fsync", fsys_fsync},
  {"errno_failure", fsys_errno_failure},
  {"isatty", fsys_isatty},
  {"dirname", fsys_dirname},
  {"mkdtemp", fsys_mkdtemp},
  {"realpath", fsys_realpath},
  {"run", fsys_run},
  {NULL, NULL}
};

int luaopen_pgo_fsys(lua_State *L) {
  if (luaL_newmetatable(L, OUTPUT_BOX_META)) {
    lua_pushcfunction(L, output_box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fsys_funcs);
  return 1;
}
