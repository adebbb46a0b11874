/* loadtest.c: the load driver's functions in pgo.core.net (luaopen_pgo_net in
 * src/lua/net.c adds pgolua_loadtest_funcs to the module). Thin: an options table becomes
 * pgo_load_opts, src/net/loaddriver.c runs, the result becomes a table. Policy (the
 * loopback-only rule, defaults, rps, ABBA rounds, statistics) is in lua/pgo/loadtest.lua.
 *
 *   load_run{url=, connections=, requests=, duration=, method=, body=, headers=,
 *            timeout=, engine="raw"|"curl", quantiles={0.5, 0.9, ...}}
 *       -> result | nil, message, code          (codes: bad_url, invalid, nomem, network)
 *     result = { requests=, sent=, abandoned=, bytes=, header_bytes=, duration= (s),
 *                stopped=, errors = {connect=n, timeout=n, http_5xx=n, ...} (kinds with
 *                n > 0 only), status = {["2xx"]=n, ...},
 *                latency = {count=, min=, max=, mean=, quantiles = {v...}} (seconds; the
 *                quantiles in the order asked, within 0.39% - see loaddriver.h) }
 *   url_host(url) -> host as libcurl parses it ("127.0.0.1", "[::1]", "localhost")
 *       | nil, message, "bad_url"
 */
#include <string.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include "pgolua/loaddriver.h"
#include "lua_bind.h"

extern const luaL_Reg pgolua_loadtest_funcs[];

#define LOADTEST_MAX_QUANTILES 64

/* Push the failure triple nil, message, code; returns 3. */
static int push_fail(lua_State *L, const pgo_error *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err->message);
  lua_pushstring(L, err->code);
  return 3;
}

/* opts[field] as a number >= 0, or def when absent. Raises on a bad value. */
static double opt_number(lua_State *L, int t, const char *field, double def) {
  double v = def;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    int isnum;
    v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || !(v >= 0) || v > 1e15)
      luaL_error(L, "option '%s' must be a number >= 0", field);
  }
  lua_pop(L, 1);
  return v;
}

/* opts[field] as a string (length in *len), or NULL when absent. The string stays
 * referenced by the options table. */
static const char *opt_string(lua_State *L, int t, const char *field, size_t *len) {
  const char *s = NULL;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", field);
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1);
  return s;
}

/* Collect opts.headers ({"Name: value", ...} or {Name = value}) as "Name: value" strings
 * into a new table left on the stack (it anchors the strings) and their pointers into a
 * userdata array, also left on the stack. Returns the array; *n = count. */
static const char **check_headers(lua_State *L, int t, size_t *n) {
  *n = 0;
  lua_getfield(L, t, "headers");                   /* headers | nil */
  lua_newtable(L);                                 /* anchor */
  if (lua_isnil(L, -2)) {
    lua_newuserdatauv(L, sizeof(char *), 0);
    return lua_touserdata(L, -1);
  }
  if (!lua_istable(L, -2)) luaL_error(L, "option 'headers' must be a table");
  lua_pushnil(L);
  while (lua_next(L, -3)) {                        /* key, value */
    if (lua_type(L, -2) == LUA_TNUMBER) {
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "headers: lines must be strings");
      lua_pushvalue(L, -1);
    } else if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
    } else {
      luaL_error(L, "headers: expected {\"Name: value\", ...} or {Name = \"value\"}");
    }
    const char *line = lua_tostring(L, -1);
    if (strpbrk(line, "\r\n")) luaL_error(L, "headers: a header contains a line break");
    lua_rawseti(L, -4, (lua_Integer)++*n);         /* anchor[n] = line */
    lua_pop(L, 1);                                 /* pop the value */
  }
  const char **arr = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof(char *), 0);
  for (size_t i = 0; i < *n; i++) {
    lua_rawgeti(L, -2, (lua_Integer)i + 1);
    arr[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  return arr;
}

/* Push a table {kind = n} of the error kinds with n > 0. */
static void push_errors(lua_State *L, const pgo_load_result *r) {
  lua_createtable(L, 0, 4);
  for (int k = 0; k < PGO_LOAD_NERR; k++) {
    if (r->errors[k] == 0) continue;
    lua_pushinteger(L, (lua_Integer)r->errors[k]);
    lua_setfield(L, -2, pgo_load_error_name(k));
  }
}

static void set_number(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* Ctrl-C during a run: the host's SIGINT handler (src/host/main.c, as lua.c does) only
 * installs a debug hook that raises "interrupted!" at the next Lua instruction. The run
 * polls for that hook (every 10 ms) and stops, so the error comes promptly. */
typedef struct loadtest_stop {
  lua_State *L;
  lua_Hook hook;               /* the hook when the run started (NULL, or a debugger's) */
} loadtest_stop;

static bool loadtest_should_stop(void *ud) {
  loadtest_stop *st = ud;
  return lua_gethook(st->L) != st->hook;
}

/* load_run(opts) -> result | nil, message, code */
static int loadtest_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  pgolua_curl_init(L);
  pgo_load_opts o;
  memset(&o, 0, sizeof o);
  o.url = opt_string(L, 1, "url", NULL);
  if (!o.url) return luaL_argerror(L, 1, "field 'url' (string) missing");
  const char *engine = opt_string(L, 1, "engine", NULL);
  if (!engine || strcmp(engine, "raw") == 0) o.engine = PGO_LOAD_ENGINE_RAW;
  else if (strcmp(engine, "curl") == 0) o.engine = PGO_LOAD_ENGINE_CURL;
  else return luaL_error(L, "option 'engine' must be \"raw\" or \"curl\"");
  o.method = opt_string(L, 1, "method", NULL);
  o.body = opt_string(L, 1, "body", &o.body_len);
  double conns = opt_number(L, 1, "connections", 1);
  if (conns < 1 || conns > 100000 || conns != (double)(size_t)conns)
    return luaL_error(L, "option 'connections' must be an integer between 1 and 100000");
  o.connections = (size_t)conns;
  double reqs = opt_number(L, 1, "requests", 0);
  if (reqs != (double)(uint64_t)reqs)
    return luaL_error(L, "option 'requests' must be an integer >= 0");
  o.max_requests = (uint64_t)reqs;
  o.duration = opt_number(L, 1, "duration", 0);
  o.timeout = opt_number(L, 1, "timeout", 0);
  double qs[LOADTEST_MAX_QUANTILES];
  size_t nq = 0;
  lua_getfield(L, 1, "quantiles");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) return luaL_error(L, "option 'quantiles' must be a list of numbers");
    size_t len = (size_t)luaL_len(L, -1);
    if (len > LOADTEST_MAX_QUANTILES)
      return luaL_error(L, "option 'quantiles': at most %d", LOADTEST_MAX_QUANTILES);
    for (size_t i = 0; i < len; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      int isnum;
      double q = lua_tonumberx(L, -1, &isnum);
      if (!isnum || !(q >= 0 && q <= 1))
        return luaL_error(L, "option 'quantiles': each must be a number in [0, 1]");
      qs[nq++] = q;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  o.headers = check_headers(L, 1, &o.nheaders);    /* leaves 3 values on the stack */

  /* Owned by Lua: the result (with its ~35 KB histogram) is a userdata, collected even
   * if building the table below raises. */
  pgo_load_result *r = lua_newuserdatauv(L, sizeof *r, 0);
  pgo_error err;
  memset(&err, 0, sizeof err);
  loadtest_stop stop = { L, lua_gethook(L) };
  o.should_stop = loadtest_should_stop;
  o.ud = &stop;
  if (!pgo_load_run(&o, r, &err)) return push_fail(L, &err);

  lua_createtable(L, 0, 12);
  set_integer(L, "requests", r->requests);
  set_integer(L, "sent", r->sent);
  set_integer(L, "abandoned", r->abandoned);
  set_integer(L, "bytes", r->bytes);
  set_integer(L, "header_bytes", r->header_bytes);
  set_number(L, "duration", r->duration);
  lua_pushboolean(L, r->stopped);
  lua_setfield(L, -2, "stopped");
  push_errors(L, r);
  lua_setfield(L, -2, "errors");
  lua_createtable(L, 0, 6);
  static const char *const classes[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
  for (int c = 0; c < 6; c++) {
    if (r->status[c] == 0) continue;
    lua_pushinteger(L, (lua_Integer)r->status[c]);
    lua_setfield(L, -2, classes[c]);
  }
  lua_setfield(L, -2, "status");
  const pgo_hist *h = &r->latency;
  lua_createtable(L, 0, 5);
  set_integer(L, "count", h->count);
  set_number(L, "min", h->count ? (double)h->min / 1e9 : 0);
  set_number(L, "max", h->count ? (double)h->max / 1e9 : 0);
  set_number(L, "mean", h->count ? h->sum / (double)h->count / 1e9 : 0);
  lua_createtable(L, (int)nq, 0);
  for (size_t i = 0; i < nq; i++) {
    lua_pushnumber(L, pgo_hist_quantile(h, qs[i]) / 1e9);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "quantiles");
  lua_setfield(L, -2, "latency");
  return 1;
}

/* url_host(url) -> host | nil, message, "bad_url": the host part as libcurl parses the
 * URL (userinfo, port and path removed; IPv6 in brackets). */
static int loadtest_url_host(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  CURLU *u = curl_url();
  if (!u) return luaL_error(L, "out of memory");
  char *host = NULL;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  if (rc != CURLUE_OK) {
    curl_url_cleanup(u);
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot parse the URL: %s", curl_url_strerror(rc));
    lua_pushliteral(L, "bad_url");
    return 3;
  }
  lua_pushstring(L, host);
  curl_free(host);
  curl_url_cleanup(u);
  return 1;
}

const luaL_Reg pgolua_loadtest_funcs[] = {
  {"load_run", loadtest_run},
  {"url_host", loadtest_url_host},
  {NULL, NULL}
};
