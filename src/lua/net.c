/* net.c: the pgo.core.net module: HTTP requests, fleet capture and base64 over src/net.
 *
 * Thin by design: an options table becomes pgo_http_opts / pgo_http_run_opts, the core
 * runs, and the outcome becomes a table. Defaults for people (retries, timeouts from the
 * capture window, the ?seconds= parameter, auth headers, redaction, wording of messages,
 * the minimum-success policy of a fleet) live in lua/pgo/fetch.lua and backends.lua.
 *
 *   request{url=, method=, headers=, body=, dir=, prefix=, <http>, <run>}
 *       -> response | nil, message, code, response
 *   requests(list, {concurrency=, <http>, <run>}, on_done) -> true | nil, message, code
 *       (list[i] = {url=, method=, body=}; on_done(i, response) as each finishes)
 *   fleet(urls, {dir=, keep_temp=, concurrency=, <http>, <run>, <limits>})
 *       -> profile | false, results        (false: no capture succeeded)
 *       |  nil, message, code, results     (the run stopped: interrupted, nomem)
 *   check_url(url [, allow_file]) -> true | nil, message, "bad_url"
 *   base64_decode(s) -> bytes | nil, message, "invalid";  base64_encode(bytes) -> s
 *   now() -> Unix time (float seconds);  version, user_agent (strings)
 *
 * <http>: timeout, connect_timeout (seconds), max_bytes, max_redirects (default 5),
 *   allow_file, insecure, accept_encoding, ca_file, headers ({"Name: value", ...} or
 *   {Name = value}). <run>: retries (default 0), backoff (seconds, default 1),
 *   progress (function(t) with t.elapsed, bytes, total, active, done, failed; return false
 *   to stop), catch_sigint (default true). The load driver adds its functions to this
 *   module from src/lua/loadtest.c (pgolua_loadtest_funcs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include "pgolua/version.h"
#include "lua_bind.h"
#include "lua_profile.h"
#include "pgolua/net.h"
#include "pgolua/fileio.h"
#include "pgolua/merge.h"

#define NET_XFER_META "pgo.net.xfer"
#define NET_RESULTS_META "pgo.net.fleet_results"

/* The results of a fleet capture, in a userdata so an error raised while they are turned
 * into tables still frees their temp_path strings (__gc). */
typedef struct fleet_box {
  size_t n;
  pgo_fleet_result r[];
} fleet_box;

extern const luaL_Reg pgolua_loadtest_funcs[];   /* src/lua/loadtest.c */

/* {==================================================================================
 * Options
 * =================================================================================== */

/* opts[field] in seconds as milliseconds; 0 when absent. Raises on a bad value. */
static long opt_ms(lua_State *L, int t, const char *field) {
  long ms = 0;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    int isnum;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || !(v > 0) || v > 1e7)
      luaL_error(L, "option '%s' must be a positive number of seconds", field);
    ms = (long)ceil(v * 1000.0);
  }
  lua_pop(L, 1);
  return ms;
}

/* opts[field] as an integer >= min, or dflt when absent. Raises on a bad value. */
static lua_Integer opt_int(lua_State *L, int t, const char *field, lua_Integer dflt,
                           lua_Integer min) {
  lua_Integer v = dflt;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < min)
      luaL_error(L, "option '%s' must be an integer >= %d", field, (int)min);
  }
  lua_pop(L, 1);
  return v;
}

static bool opt_bool(lua_State *L, int t, const char *field, bool dflt) {
  bool v = dflt;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "option '%s' must be a boolean", field);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* opts[field] as a string (kept alive by the options table), or NULL. */
static const char *opt_str(lua_State *L, int t, const char *field, size_t *len) {
  const char *s = NULL;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", field);
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1);                       /* the table still references the string */
  return s;
}

/* An HTTP header name: an RFC 9110 token. */
static bool header_name_ok(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          strchr("!#$%&'*+-.^_`|~", c)))
      return false;
  }
  return true;
}

/* Raise unless value is a safe header value. The value itself is never echoed: it may
 * hold a credential. */
static void check_header_value(lua_State *L, const char *name, size_t nlen, const char *v,
                               size_t vlen) {
  for (size_t i = 0; i < vlen; i++)
    if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
      luaL_error(L, "header '%s' contains a line break or NUL byte", lua_pushlstring(L, name, nlen));
}

/* Read opts.headers into o->headers / o->nheaders. Pushes one table that anchors the
 * header strings and the pointer array; it must stay on the stack during the call. */
static void check_headers(lua_State *L, int t, pgo_http_opts *o) {
  lua_getfield(L, t, "headers");
  int h = lua_gettop(L);
  lua_newtable(L);                     /* the anchor */
  int anchor = h + 1;
  lua_Integer count = 0;
  if (!lua_isnil(L, h)) {
    if (!lua_istable(L, h)) luaL_error(L, "option 'headers' must be a table");
    lua_pushnil(L);
    while (lua_next(L, h)) {
      size_t nlen, vlen;
      if (lua_type(L, -2) == LUA_TNUMBER) {            /* "Name: value" */
        if (lua_type(L, -1) != LUA_TSTRING)
          luaL_error(L, "option 'headers': entry %d must be a string \"Name: value\"",
                     (int)lua_tointeger(L, -2));
        const char *line = lua_tolstring(L, -1, &vlen);
        const char *colon = memchr(line, ':', vlen);
        if (!colon || !header_name_ok(line, (size_t)(colon - line)))
          luaL_error(L, "option 'headers': entry %d is not \"Name: value\"",
                     (int)lua_tointeger(L, -2));
        check_header_value(L, line, (size_t)(colon - line), colon + 1,
                           vlen - (size_t)(colon - line) - 1);
        lua_pushvalue(L, -1);
      } else if (lua_type(L, -2) == LUA_TSTRING) {     /* Name = value */
        const char *name = lua_tolstring(L, -2, &nlen);
        if (!header_name_ok(name, nlen))
          luaL_error(L, "option 'headers': '%s' is not a header name", name);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
          luaL_error(L, "option 'headers': the value of '%s' must be a string", name);
        const char *v = lua_tolstring(L, -1, &vlen);   /* a number becomes a string */
        check_header_value(L, name, nlen, v, vlen);
        lua_pushfstring(L, "%s: %s", name, v);
      } else {
        luaL_error(L, "option 'headers' must map names to values or list \"Name: value\"");
      }
      lua_rawseti(L, anchor, ++count);   /* pops the line */
      lua_pop(L, 1);                     /* pop the value, keep the key */
    }
  }
  const char **lines = lua_newuserdatauv(L, (size_t)(count ? count : 1) * sizeof *lines, 0);
  for (lua_Integer i = 1; i <= count; i++) {
    lua_rawgeti(L, anchor, i);
    lines[i - 1] = lua_tostring(L, -1); /* the anchor keeps the string */
    lua_pop(L, 1);
  }
  lua_setfield(L, anchor, "lines");    /* the anchor keeps the array */
  lua_remove(L, h);                    /* leave only the anchor */
  o->headers = lines;
  o->nheaders = (size_t)count;
}

/* The <http> options of the module comment. Pushes the header anchor (see above). */
static void check_http_opts(lua_State *L, int t, pgo_http_opts *o) {
  memset(o, 0, sizeof *o);
  o->connect_timeout_ms = opt_ms(L, t, "connect_timeout");
  o->timeout_ms = opt_ms(L, t, "timeout");
  o->max_bytes = (uint64_t)opt_int(L, t, "max_bytes", 0, 1);
  o->max_redirects = (long)opt_int(L, t, "max_redirects", 5, 0);
  o->allow_file = opt_bool(L, t, "allow_file", false);
  o->insecure = opt_bool(L, t, "insecure", false);
  o->accept_encoding = opt_bool(L, t, "accept_encoding", false);
  o->ca_file = opt_str(L, t, "ca_file", NULL);
  check_headers(L, t, o);
}

/* Progress calls from the driver into a Lua function. */
typedef struct net_progress {
  lua_State *L;
  int fn;                              /* stack index of the function */
  int errslot;                         /* stack index receiving an error it raised */
  bool raised;
} net_progress;

/* Called protected: (fn, elapsed, bytes, total, active, done, failed) -> fn's result. */
static int progress_call(lua_State *L) {
  static const char *const names[] = {"elapsed", "bytes", "total", "active", "done", "failed"};
  lua_createtable(L, 0, 6);
  for (int i = 0; i < 6; i++) {
    lua_pushvalue(L, i + 2);
    lua_setfield(L, -2, names[i]);
  }
  lua_pushvalue(L, 1);
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  return 1;
}

static bool net_on_progress(void *ud, const pgo_http_progress *pr) {
  net_progress *c = ud;
  lua_State *L = c->L;
  if (!lua_checkstack(L, 10)) return true;
  lua_pushcfunction(L, progress_call);
  lua_pushvalue(L, c->fn);
  lua_pushnumber(L, pr->elapsed);
  lua_pushinteger(L, (lua_Integer)pr->bytes);
  lua_pushinteger(L, (lua_Integer)pr->total);
  lua_pushinteger(L, (lua_Integer)pr->active);
  lua_pushinteger(L, (lua_Integer)pr->done);
  lua_pushinteger(L, (lua_Integer)pr->failed);
  if (lua_pcall(L, 7, 1, 0) != LUA_OK) {
    lua_replace(L, c->errslot);        /* keep the error to raise after cleanup */
    c->raised = true;
    return false;
  }
  bool stop = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  return !stop;
}

/* The <run> options. Pushes two values: the progress function (or nil) and an error slot. */
static void check_run_opts(lua_State *L, int t, pgo_http_run_opts *r, net_progress *c) {
  memset(r, 0, sizeof *r);
  memset(c, 0, sizeof *c);
  r->retries = (int)opt_int(L, t, "retries", 0, 0);
  if (r->retries > 100) luaL_error(L, "option 'retries' must be at most 100");
  lua_getfield(L, t, "backoff");
  r->backoff_ms = 1000;
  if (!lua_isnil(L, -1)) {
    int isnum;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || v < 0 || v > 3600) luaL_error(L, "option 'backoff' must be 0..3600 seconds");
    r->backoff_ms = (long)(v * 1000);
  }
  lua_pop(L, 1);
  r->concurrency = (size_t)opt_int(L, t, "concurrency", 0, 1);   /* 0: all at once */
  r->catch_sigint = opt_bool(L, t, "catch_sigint", true);
  lua_getfield(L, t, "progress");
  if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
    luaL_error(L, "option 'progress' must be a function");
  c->L = L;
  c->fn = lua_gettop(L);
  lua_pushnil(L);
  c->errslot = lua_gettop(L);
  if (lua_isfunction(L, c->fn)) {
    r->progress = net_on_progress;
    r->ud = c;
  }
}

/* }================================================================================== */


/* {==================================================================================
 * Results
 * =================================================================================== */

static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* Push the header lines "Name: value\n..." as {lowercase-name = value}; repeated names
 * are joined with ", ". */
static void push_headers(lua_State *L, const char *h, size_t len) {
  lua_newtable(L);
  const char *p = h, *end = h + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    const char *colon = memchr(p, ':', (size_t)(nl - p));
    if (colon && colon > p) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (const char *q = p; q < colon; q++)
        luaL_addchar(&b, (char)((*q >= 'A' && *q <= 'Z') ? *q - 'A' + 'a' : *q));
      luaL_pushresult(&b);
      const char *v = colon + 1, *ve = nl;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r')) ve--;
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TSTRING) {        /* [name, old] */
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_rawset(L, -3);
    }
    p = nl + 1;
  }
}

/* Push the response table of a request (see lua/pgo/fetch.lua for its use). */
static void push_response(lua_State *L, const pgo_http_xfer *x) {
  lua_createtable(L, 0, 14);
  pgolua_set_int(L, "status", x->status);
  lua_pushstring(L, x->reason);
  lua_setfield(L, -2, "reason");
  push_headers(L, x->headers ? x->headers : "", x->headers_len);
  lua_setfield(L, -2, "headers");
  lua_pushboolean(L, x->go_pprof);
  lua_setfield(L, -2, "go_pprof");
  pgolua_set_int(L, "bytes", (lua_Integer)x->bytes);
  set_num(L, "elapsed", x->elapsed);
  pgolua_set_int(L, "attempts", x->attempts);
  set_num(L, "window_start", x->window_start);
  if (x->window_end > 0) set_num(L, "window_end", x->window_end);
  lua_pushlstring(L, (const char *)x->head, x->head_len);
  lua_setfield(L, -2, "body_head");
  lua_pushboolean(L, x->head_len == sizeof x->head);   /* the body went on past it */
  lua_setfield(L, -2, "body_head_cut");
}

/* }================================================================================== */


/* {==================================================================================
 * Module functions
 * =================================================================================== */

/* __gc of the transfer box: frees what the core allocated (memory sink, headers). */
static int xfer_gc(lua_State *L) {
  pgo_http_xfer *x = luaL_checkudata(L, 1, NET_XFER_META);
  pgo_http_xfer_free(x);
  return 0;
}

/* __gc of the fleet results box: frees the temp_path strings (not the files). */
static int results_gc(lua_State *L) {
  fleet_box *box = luaL_checkudata(L, 1, NET_RESULTS_META);
  pgo_fleet_results_free(box->r, box->n);
  return 0;
}

/* Registry key of the state's one curl_global_init (reference counted by libcurl and
 * released at process exit). */
#define NET_CURL_READY "pgolua.curl"

void pgolua_curl_init(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, NET_CURL_READY) == LUA_TNIL) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      luaL_error(L, "libcurl failed to initialise");
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, NET_CURL_READY);
  }
  lua_pop(L, 1);
}

/* request{...} -> response | nil, message, code, response */
static int net_request(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  pgolua_curl_init(L);
  lua_settop(L, 1);
  pgo_http_request req;
  memset(&req, 0, sizeof req);
  req.url = opt_str(L, 1, "url", NULL);
  if (!req.url) return luaL_error(L, "option 'url' is required");
  req.method = opt_str(L, 1, "method", NULL);
  req.body = opt_str(L, 1, "body", &req.body_len);
  req.dir = opt_str(L, 1, "dir", NULL);
  req.prefix = opt_str(L, 1, "prefix", NULL);
  if (req.method && req.body && (strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0))
    return luaL_error(L, "a %s request cannot have a body", req.method);
  pgo_http_opts o;
  check_http_opts(L, 1, &o);           /* 2: header anchor */
  pgo_http_run_opts run;
  net_progress prog;
  check_run_opts(L, 1, &run, &prog);   /* 3: progress, 4: error slot */
  run.concurrency = 1;
  /* The transfer lives in a userdata so an error raised later still frees it (__gc). */
  pgo_http_xfer *x = lua_newuserdatauv(L, sizeof *x, 0);
  pgo_http_xfer_init(x, req.url);
  luaL_setmetatable(L, NET_XFER_META);
  char temp[4200];
  pgo_error err;
  bool ok = pgo_http_request_run(&req, &o, &run, x, temp, sizeof temp, &err);
  if (prog.raised) {
    if (temp[0]) unlink(temp);
    pgo_http_xfer_free(x);
    lua_pushvalue(L, prog.errslot);
    return lua_error(L);
  }
  push_response(L, x);
  if (ok && req.dir) {
    lua_pushstring(L, temp);
    lua_setfield(L, -2, "temp_path");
  } else if (ok) {
    lua_pushlstring(L, x->mem ? (const char *)x->mem : "", x->mem_len);
    lua_setfield(L, -2, "body");
  }
  pgo_http_xfer_free(x);
  if (ok) return 1;
  luaL_pushfail(L);
  lua_pushstring(L, err.message);
  lua_pushstring(L, err.code);
  lua_rotate(L, -4, -1);               /* response last */
  return 4;
}

/* requests(): the state the driver's callbacks share. */
typedef struct net_many {
  lua_State *L;
  int fn;                              /* stack index of on_done */
  net_progress *prog;                  /* the caller's progress function, if any */
  int errslot;                         /* stack index receiving an error on_done raised */
  bool raised;
} net_many;

/* Called protected: (on_done, i, xfer) -> on_done(i, response). The response of a
 * success carries the body; of a failure, error and code. */
static int many_call(lua_State *L) {
  pgo_http_xfer *x = lua_touserdata(L, 3);
  lua_settop(L, 2);
  push_response(L, x);
  if (x->ok) {
    lua_pushlstring(L, x->mem ? (const char *)x->mem : "", x->mem_len);
    lua_setfield(L, -2, "body");
  } else {
    lua_pushstring(L, x->err.message);
    lua_setfield(L, -2, "error");
    lua_pushstring(L, x->err.code);
    lua_setfield(L, -2, "code");
  }
  lua_call(L, 2, 0);
  return 0;
}

/* Each finished transfer goes to on_done at once and its body is freed, so memory holds
 * only the transfers in flight (and what on_done keeps). */
static void many_done(void *ud, pgo_http_xfer *x) {
  net_many *m = ud;
  lua_State *L = m->L;
  if (!m->raised && lua_checkstack(L, 10)) {
    lua_pushcfunction(L, many_call);
    lua_pushvalue(L, m->fn);
    lua_pushinteger(L, (lua_Integer)(intptr_t)x->user);
    lua_pushlightuserdata(L, x);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
      lua_replace(L, m->errslot);
      m->raised = true;
    }
  }
  free(x->mem);
  x->mem = NULL;
  x->mem_len = x->mem_cap = 0;
}

/* Stops the run once on_done has raised; otherwise the caller's progress function. */
static bool many_progress(void *ud, const pgo_http_progress *pr) {
  net_many *m = ud;
  if (m->raised) return false;
  return m->prog->fn && lua_isfunction(m->L, m->prog->fn) ? net_on_progress(m->prog, pr) : true;
}

/* __gc of the transfers of requests(): frees each one (an error may cut the run short). */
static int many_gc(lua_State *L) {
  size_t *n = lua_touserdata(L, 1);
  pgo_http_xfer *xs = (pgo_http_xfer *)(n + 1);
  for (size_t i = 0; i < *n; i++) pgo_http_xfer_free(&xs[i]);
  *n = 0;
  return 0;
}

/* requests(list, opts, on_done) -> true | nil, message, code: every {url=, method=, body=}
 * of list at once (opts: <http> and <run>, concurrency), bodies to memory; on_done(i,
 * response) as each finishes. An error raised by on_done stops the run and is raised
 * again here. */
static int net_requests(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  lua_Integer n = luaL_len(L, 1);
  if (n <= 0) return luaL_argerror(L, 1, "no requests");
  if (n > 10000) return luaL_argerror(L, 1, "more than 10000 requests");
  pgo_http_opts o;
  check_http_opts(L, 2, &o);           /* 4: header anchor */
  pgo_http_run_opts run;
  net_progress prog;
  check_run_opts(L, 2, &run, &prog);   /* 5: progress, 6: error slot */
  size_t *count = lua_newuserdatauv(L, sizeof(size_t) + (size_t)n * sizeof(pgo_http_xfer), 0);
  *count = 0;                          /* 7: nothing to free until each is initialised */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, many_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  pgo_http_xfer *xs = (pgo_http_xfer *)(count + 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
      return luaL_error(L, "bad argument #1 to 'requests' (entry %d is not a table)", (int)i);
    int t = lua_gettop(L);
    const char *url = opt_str(L, t, "url", NULL);
    if (!url) return luaL_error(L, "bad argument #1 to 'requests' (entry %d has no url)", (int)i);
    pgo_error uerr;
    if (!pgo_http_check_url(url, o.allow_file, &uerr))
      return luaL_error(L, "bad argument #1 to 'requests' (entry %d: %s)", (int)i, uerr.message);
    pgo_http_xfer *x = &xs[i - 1];
    pgo_http_xfer_init(x, url);        /* the list keeps its strings alive */
    x->method = opt_str(L, t, "method", NULL);
    size_t blen = 0;
    x->body = opt_str(L, t, "body", &blen);
    x->body_len = blen;
    x->user = (void *)(intptr_t)i;
    *count = (size_t)i;
    lua_pop(L, 1);
  }
  net_many m = {L, 3, &prog, 0, false};
  lua_pushnil(L);
  m.errslot = lua_gettop(L);           /* 8 */
  run.done = many_done;
  run.progress = many_progress;
  run.ud = &m;
  pgo_error err;
  bool ok = pgo_http_run(xs, (size_t)n, &o, &run, &err);
  lua_pushcfunction(L, many_gc);       /* the easy handles go now, not at the next GC */
  lua_pushvalue(L, 7);
  lua_call(L, 1, 0);
  if (prog.raised) {
    lua_pushvalue(L, prog.errslot);
    return lua_error(L);
  }
  if (m.raised) {
    lua_pushvalue(L, m.errslot);
    return lua_error(L);
  }
  if (!ok) return pgolua_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* Push the results list of a fleet capture. */
static void push_fleet_results(lua_State *L, const pgo_fleet_result *r, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 12);
    lua_pushboolean(L, r[i].ok);
    lua_setfield(L, -2, "ok");
    if (!r[i].ok) {
      lua_pushstring(L, r[i].err.message);
      lua_setfield(L, -2, "error");
      lua_pushstring(L, r[i].err.code);
      lua_setfield(L, -2, "code");
      lua_pushlstring(L, (const char *)r[i].head, r[i].head_len);
      lua_setfield(L, -2, "body_head");
      lua_pushboolean(L, r[i].head_len == sizeof r[i].head);
      lua_setfield(L, -2, "body_head_cut");
    }
    pgolua_set_int(L, "status", r[i].status);
    lua_pushboolean(L, r[i].go_pprof);
    lua_setfield(L, -2, "go_pprof");
    pgolua_set_int(L, "bytes", (lua_Integer)r[i].bytes);
    set_num(L, "elapsed", r[i].elapsed);
    pgolua_set_int(L, "attempts", r[i].attempts);
    if (r[i].window_start > 0) set_num(L, "window_start", r[i].window_start);
    if (r[i].window_end > 0) set_num(L, "window_end", r[i].window_end);
    if (r[i].temp_path) {
      lua_pushstring(L, r[i].temp_path);
      lua_setfield(L, -2, "temp_path");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* Merging a fleet's captures as they arrive: above the network layer, which only moves
 * bytes. Memory holds the merged result plus one decoded capture. */
typedef struct fleet_merge {
  pgo_merger *merger;
  pgo_limits limits;           /* for decoding each capture */
  uint64_t max_bytes;          /* what one capture's file may weigh */
  bool broken;                 /* out of memory inside the merger: it is unusable */
  pgo_error broken_err;
} fleet_merge;

/* pgo_fleet_opts.arrived: decode the capture in path and merge it; false with err. */
static bool fleet_merge_arrived(void *ud, const char *url, const char *path, pgo_error *err) {
  fleet_merge *m = ud;
  if (m->broken) {
    *err = m->broken_err;
    return false;
  }
  unsigned char *data = NULL;
  size_t len = 0;
  if (!pgo_read_file(path, m->max_bytes, "max_bytes", &data, &len, err)) return false;
  pgo_profile *p = pgo_profile_decode_flat(data, len, &m->limits, err);
  free(data);
  if (!p) return false;
  pgo_merge_opts mo;
  memset(&mo, 0, sizeof mo);
  mo.name = url;
  bool ok = pgo_merger_add(m->merger, p, &mo, err);
  pgo_profile_free(p);
  if (!ok && strcmp(err->code, "nomem") == 0) {
    m->broken = true;
    m->broken_err = *err;
  }
  return ok;
}

/* The merged profile of a fleet run that went through, or NULL with err: "empty" when no
 * capture succeeded (the results say why), "nomem" when the merger broke. */
static pgo_profile *fleet_merge_finish(fleet_merge *m, const pgo_fleet_result *r, size_t n,
                                       pgo_error *err) {
  if (m->broken) {
    *err = m->broken_err;
    return NULL;
  }
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) ok += r[i].ok;
  if (ok == 0) {
    pgo_fail(err, "empty", "none of the %zu captures succeeded", n);
    return NULL;
  }
  return pgo_merger_finish(m->merger, err);
}

/* fleet(urls [, opts]) -> profile | false, results | nil, message, code, results */
static int net_fleet(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  pgolua_curl_init(L);
  if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_Integer n = luaL_len(L, 1);
  if (n <= 0) return luaL_argerror(L, 1, "no URLs");
  if (n > 10000) return luaL_argerror(L, 1, "more than 10000 URLs");
  const char **urls = lua_newuserdatauv(L, (size_t)n * sizeof *urls, 0);   /* 3 */
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
      return luaL_error(L, "bad argument #1 to 'fleet' (URL #%d is not a string)", (int)i);
    urls[i - 1] = lua_tostring(L, -1); /* the urls table keeps the string */
    lua_pop(L, 1);
  }
  pgo_fleet_opts fo;
  memset(&fo, 0, sizeof fo);
  check_http_opts(L, 2, &fo.http);     /* 4: header anchor */
  net_progress prog;
  check_run_opts(L, 2, &fo.run, &prog);   /* 5: progress, 6: error slot */
  fo.dir = opt_str(L, 2, "dir", NULL);
  fo.keep_temp = opt_bool(L, 2, "keep_temp", false);
  fleet_merge fm;
  memset(&fm, 0, sizeof fm);
  pgolua_check_limits(L, 2, &fm.limits);
  fm.max_bytes = fo.http.max_bytes ? fo.http.max_bytes : PGO_HTTP_DEFAULT_MAX_BYTES;
  fleet_box *box = lua_newuserdatauv(L, sizeof *box + (size_t)n * sizeof box->r[0], 0); /* 7 */
  box->n = 0;                          /* nothing to free until the metatable is set */
  memset(box->r, 0, (size_t)n * sizeof box->r[0]);
  luaL_setmetatable(L, NET_RESULTS_META);
  box->n = (size_t)n;
  pgo_fleet_result *results = box->r;
  fm.merger = pgo_merger_new();
  if (!fm.merger) return luaL_error(L, "out of memory starting %d captures", (int)n);
  fo.arrived = fleet_merge_arrived;
  fo.arrived_ud = &fm;
  pgo_error err;
  pgo_profile *merged = NULL;
  if (pgo_fleet_capture(urls, (size_t)n, &fo, results, &err))
    merged = fleet_merge_finish(&fm, results, (size_t)n, &err);
  pgo_merger_free(fm.merger);
  if (prog.raised) {
    pgo_profile_free(merged);
    for (lua_Integer i = 0; i < n; i++)
      if (results[i].temp_path) unlink(results[i].temp_path);
    lua_pushvalue(L, prog.errslot);
    return lua_error(L);
  }
  if (merged) {
    pgolua_push_profile(L, merged);    /* owned by Lua from here on */
    push_fleet_results(L, results, (size_t)n);
    return 2;
  }
  if (strcmp(err.code, "empty") == 0) {
    lua_pushboolean(L, 0);
    push_fleet_results(L, results, (size_t)n);
    return 2;
  }
  luaL_pushfail(L);
  lua_pushstring(L, err.message);
  lua_pushstring(L, err.code);
  push_fleet_results(L, results, (size_t)n);
  return 4;
}

/* check_url(url [, allow_file]) -> true | nil, message, "bad_url" */
static int net_check_url(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  bool allow_file = lua_toboolean(L, 2);
  pgo_error err;
  if (!pgo_http_check_url(url, allow_file, &err)) return pgolua_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* base64_decode(s) -> bytes | nil, message, "invalid" */
static int net_base64_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, pgo_base64_decoded_cap(len));
  size_t n = 0;
  pgo_error err;
  if (!pgo_base64_decode(s, len, out, &n, &err)) return pgolua_push_error(L, &err);
  luaL_pushresultsize(&b, n);
  return 1;
}

/* base64_encode(bytes) -> string */
static int net_base64_encode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t n = pgo_base64_encoded_len(len);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, n);
  pgo_base64_encode(s, len, out);
  luaL_pushresultsize(&b, n);
  return 1;
}

/* now() -> the wall-clock time as Unix seconds with a fraction */
static int net_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static const luaL_Reg net_funcs[] = {
  {"request", net_request},
  {"fleet", net_fleet},
  {"requests", net_requests},
  {"check_url", net_check_url},
  {"base64_decode", net_base64_decode},
  {"base64_encode", net_base64_encode},
  {"now", net_now},
  {NULL, NULL}
};

/* }================================================================================== */

/* Build the metatables of the transfer and fleet-results boxes and return the module
 * table: net_funcs plus the load driver's functions (src/lua/loadtest.c), version and
 * user_agent. libcurl is initialised by the first transfer (pgolua_curl_init). */
int luaopen_pgo_net(lua_State *L) {
  if (luaL_newmetatable(L, NET_XFER_META)) {
    lua_pushcfunction(L, xfer_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);                       /* pop the metatable */
  if (luaL_newmetatable(L, NET_RESULTS_META)) {
    lua_pushcfunction(L, results_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, net_funcs);
  luaL_setfuncs(L, pgolua_loadtest_funcs, 0);
  lua_pushstring(L, pgolua_version);
  lua_setfield(L, -2, "version");
  char ua[128];
  pgo_http_user_agent(ua, sizeof ua);
  lua_pushstring(L, ua);
  lua_setfield(L, -2, "user_agent");
  return 1;
}
