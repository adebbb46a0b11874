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
 *   dirname(path)  -> string */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include "pgolua/fileio.h"
#include "pgolua/lua_bind.h"
#include "pgolua/lua_profile.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Push nil, "<what> <path>: <strerror>", code for errno e; returns 3. The codes are those of
 * src/core/fileio.c. */
static int push_errno(lua_State *L, int e, const char *what, const char *path) {
  const char *code = "io";
  switch (e) {
    case ENOENT: case ENOTDIR: code = "not_found"; break;
    case EACCES: case EPERM: code = "permission"; break;
    case EISDIR: code = "is_directory"; break;
    case EROFS: code = "read_only"; break;
    case ENOSPC: case EDQUOT: case EFBIG: code = "no_space"; break;
    case EXDEV: code = "cross_device"; break;
    default: break;
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
  lua_pushstring(L, code);
  return 3;
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

/* tempfile(dir [, prefix]) -> path, file: a new file "<dir>/.<prefix>.XXXXXX" created with
 * O_EXCL and mode 0600, and a Lua file handle open on it for writing (close it; remove or
 * replace the path: nothing removes it for you). */
static int fsys_tempfile(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  const char *prefix = luaL_optstring(L, 2, "pgolua");
  if (strchr(prefix, '/')) return luaL_argerror(L, 2, "prefix must not contain '/'");
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

static const luaL_Reg fsys_funcs[] = {
  {"replace", fsys_replace},
  {"tempfile", fsys_tempfile},
  {"write_atomic", fsys_write_atomic},
  {"remove", fsys_remove},
  {"exists", fsys_exists},
  {"stat", fsys_stat},
  {"fsync", fsys_fsync},
  {"isatty", fsys_isatty},
  {"dirname", fsys_dirname},
  {NULL, NULL}
};

int luaopen_pgo_fsys(lua_State *L) {
  luaL_newlib(L, fsys_funcs);
  return 1;
}
