-- pgo.backends: where a merged CPU profile for default.pgo comes from.
--
--   pgo.backends.pprof{url=, seconds=}          a Go service's net/http/pprof
--   pgo.backends.pyroscope{url=, selector=, from=, to=, ...}   Grafana Pyroscope
--   pgo.backends.parca{url=, query=, from=, to=, ...}          Parca
--   pgo.backends.file{path=}                    a local file (or a file:// URL)
--   pgo.backends.fetch(source)                  any of them, from a string or a table
--
-- Every function returns profile, meta or nil, message, code, meta. meta: backend, url
-- (redacted), status, bytes, elapsed, attempts, window_start, window_end (Unix seconds).
-- The requests follow shared/docs/backends-reference.md (sections 1, 2.2 and 3.1); the
-- transport options of pgo.fetch (timeout, connect_timeout, retries, backoff, max_bytes,
-- insecure, ca_file, auth_env, auth_file, auth_type, headers, headers_env, quiet, dir)
-- apply to every HTTP backend.
local net = require "pgo.core.net"
local fsys = require "pgo.fsys"
local profile = require "pgo.profile"
local fetch = require "pgo.fetch"
local plan = require "pgo.fetch_plan"
local options = require "pgo.options"

local backends = {}

-- ---- time --------------------------------------------------------------------------------

local UNIT = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- Unix seconds (a float) for t: a number (Unix seconds), "now", "now-30m" / "now-2h" /
-- "now-1d" / "now-1w" / "now-90s", or an RFC 3339 time ("2026-01-02T03:04:05Z",
-- "...05.5+02:00"). nil, message for anything else.
function backends.parse_time(t, now)
  now = now or net.now()
  if type(t) == "number" then return t end
  if type(t) ~= "string" then return nil, "a time must be a number or a string" end
  if t == "now" then return now end
  local n, u = t:match("^now%-(%d+%.?%d*)([smhdw])$")
  if n then return now - tonumber(n) * UNIT[u] end
  local y, mo, d, h, mi, s, frac, zone = t:match(
    "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then
    return nil, ('cannot read the time "%s": use Unix seconds, "now", "now-1h" or RFC 3339'):format(t)
  end
  local off = 0
  if zone == "Z" or zone == "z" then
    off = 0
  else
    local sign, zh, zm = zone:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil, ('the time "%s" has no zone (end it with Z or +hh:mm)'):format(t) end
    off = (tonumber(zh) * 3600 + tonumber(zm) * 60) * (sign == "+" and 1 or -1)
  end
  local secs = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 +
    tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) - off
  if frac ~= "" and frac ~= "." then secs = secs + tonumber("0" .. frac) end
  return secs
end

--- RFC 3339 in UTC ("2026-01-02T03:04:05Z"; with milliseconds when t has a fraction).
-- t is rounded to the millisecond first, so 100.9996 is ...:41Z, not a second early.
function backends.rfc3339(t)
  local ms = math.floor(t * 1000 + 0.5)
  local s = os.date("!%Y-%m-%dT%H:%M:%S", ms // 1000)
  if ms % 1000 ~= 0 then s = s .. (".%03d"):format(ms % 1000) end
  return s .. "Z"
end

-- The [from, to] window of opts (defaults: the last hour).
local function window(opts, fname)
  local now = net.now()
  local from, err = backends.parse_time(opts.from or "now-1h", now)
  if not from then error(("bad option 'from' to '%s' (%s)"):format(fname, err), 3) end
  local to, err2 = backends.parse_time(opts.to or "now", now)
  if not to then error(("bad option 'to' to '%s' (%s)"):format(fname, err2), 3) end
  if to <= from then
    error(("bad options to '%s' (the window ends before it starts: from=%s, to=%s)")
      :format(fname, backends.rfc3339(from), backends.rfc3339(to)), 3)
  end
  return from, to
end

-- ---- helpers ---------------------------------------------------------------------------------

-- The options each entry point knows (pgo.options.check raises on any other): the
-- transport options of pgo.fetch, plus each backend's own. Values are checked where used.
local function known(...)
  local t = {}
  for _, names in ipairs { ... } do
    for _, k in ipairs(names) do t[k] = "any" end
  end
  return t
end
local TRANSPORT = { "timeout", "connect_timeout", "retries", "backoff", "max_bytes",
  "max_redirects", "insecure", "ca_file", "auth_env", "auth_file", "auth_type", "headers",
  "headers_env", "quiet", "dir", "dest", "keep_temp", "max_decompressed", "max_samples",
  "max_stack_depth" }
local KNOWN = {
  pprof = known(TRANSPORT, { "backend", "url", "seconds", "allow_file" }),
  fleet = known(TRANSPORT, { "backend", "urls", "seconds", "allow_file", "concurrency", "min_success" }),
  file = known({ "backend", "path", "url", "max_decompressed", "max_samples", "max_stack_depth" }),
  pyroscope = known(TRANSPORT, { "backend", "url", "profile_type", "selector", "from", "to",
    "max_nodes", "go_pgo", "tenant", "max_window", "min_window", "concurrency",
    "recent_half_life" }),
  parca = known(TRANSPORT, { "backend", "url", "query", "profile_type", "selector", "from", "to",
    "max_window", "min_window", "concurrency", "recent_half_life" }),
}

-- opts without the keys pgo.fetch does not take (backend, url, urls).
local function for_fetch(opts)
  local t = {}
  for k, v in pairs(opts) do
    if k ~= "backend" and k ~= "url" and k ~= "urls" then t[k] = v end
  end
  return t
end

local function check_table(fname, t)
  if type(t) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(t)), 3)
  end
  options.check(fname, 1, t, KNOWN[fname], 4)   -- options.check, check_table, public, caller
end

local function check_url(fname, url)
  if type(url) ~= "string" or url == "" then
    error(("bad option 'url' to '%s' (a base URL string expected, got %s)"):format(fname,
      type(url)), 3)
  end
end

-- Percent-encode for a query string (everything but RFC 3986 unreserved characters).
local function qenc(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end
backends._qenc = qenc

local function join(base, path)
  return (base:gsub("/+$", "")) .. path
end

-- The transport options shared by the HTTP backends (see pgo.fetch).
local function transport(opts, headers, dir)
  local d = fetch.defaults
  return {
    headers = headers, dir = dir,
    timeout = opts.timeout or 60, connect_timeout = opts.connect_timeout or d.connect_timeout,
    max_bytes = opts.max_bytes or d.max_bytes, max_redirects = fetch._max_redirects(opts),
    insecure = opts.insecure or false, ca_file = opts.ca_file,
    retries = opts.retries or d.retries, backoff = opts.backoff or d.backoff,
  }
end

-- The decoding limits of opts (pgo.load's max_decompressed, max_samples, max_stack_depth;
-- nil = the defaults): a backend's answer is as untrusted as any profile file.
local function limits(opts)
  return { max_decompressed = opts.max_decompressed, max_samples = opts.max_samples,
    max_stack_depth = opts.max_stack_depth }
end

local function warn_insecure(opts, shown)
  if opts.insecure then
    io.stderr:write(("pgolua: WARNING: TLS VERIFICATION IS OFF (insecure=true) for %s: " ..
      "anyone on the network path can read or replace this profile. Use ca_file instead.\n")
      :format(shown))
  end
end

-- ---- protobuf, just enough for the requests and the answers' envelopes ------------------------

local function varint(n)
  local out = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    if n ~= 0 then b = b | 0x80 end
    out[#out + 1] = string.char(b)
  until n == 0
  return table.concat(out)
end

local function pb_varint(field, v) return varint(field << 3) .. varint(v) end
local function pb_bytes(field, s) return varint(field << 3 | 2) .. varint(#s) .. s end

-- The value of the first length-delimited field `want` of the protobuf message s, or
-- false when s has none; nil, message when s is not a well-formed message.
local function pb_field(s, want)
  local pos, n = 1, #s
  local function read_varint()
    local v, shift = 0, 0
    while true do
      if pos > n or shift > 63 then return nil end
      local b = s:byte(pos)
      pos = pos + 1
      v = v | ((b & 0x7f) << shift)
      if b < 0x80 then return v end
      shift = shift + 7
    end
  end
  while pos <= n do
    local key = read_varint()
    if not key then return nil, "a truncated field key" end
    local field, wire = key >> 3, key & 7
    if wire == 0 then
      if not read_varint() then return nil, "a truncated varint" end
    elseif wire == 1 or wire == 5 then
      pos = pos + (wire == 1 and 8 or 4)
      if pos > n + 1 then return nil, "a truncated fixed-size field" end
    elseif wire == 2 then
      local len = read_varint()
      if not len or len < 0 or len > n - pos + 1 then return nil, "a truncated field" end
      if field == want then return s:sub(pos, pos + len - 1) end
      pos = pos + len
    else
      return nil, ("an unsupported wire type %d"):format(wire)
    end
  end
  return false
end
backends._pb_field = pb_field

local UINT32_MAX = 0xffffffff

-- go_pgo as {keep_locations=, aggregate_callees=} with the defaults filled in; raises on
-- anything the server would misread (a fraction is an internal error there; a negative
-- number becomes a 10-byte varint that wraps to "keep everything").
local function check_go_pgo(g, fname)
  if g == nil then return nil end
  if type(g) ~= "table" then
    error(("bad option 'go_pgo' to '%s' (a table {keep_locations=, aggregate_callees=} " ..
      "expected, got %s)"):format(fname, type(g)), 4)
  end
  for k in pairs(g) do
    if k ~= "keep_locations" and k ~= "aggregate_callees" then
      error(("bad option 'go_pgo' to '%s' (unknown field '%s': keep_locations or " ..
        "aggregate_callees)"):format(fname, tostring(k)), 4)
    end
  end
  local keep = g.keep_locations == nil and 5 or g.keep_locations
  if math.type(keep) ~= "integer" or keep < 0 or keep > UINT32_MAX then
    error(("bad option 'go_pgo.keep_locations' to '%s' (an integer from 0 to %d expected, " ..
      "got %s)"):format(fname, UINT32_MAX, tostring(keep)), 4)
  end
  local agg = g.aggregate_callees
  if agg == nil then agg = false end
  if type(agg) ~= "boolean" then
    error(("bad option 'go_pgo.aggregate_callees' to '%s' (boolean expected, got %s)")
      :format(fname, type(agg)), 4)
  end
  return { keep_locations = keep, aggregate_callees = agg }
end

local PYROSCOPE_RPCS = { SelectMergeStacktraces = true, SelectMergeProfile = true }

--- The binary request body of a Pyroscope merge (exposed for the specs). rpc:
-- "SelectMergeStacktraces" (the default: querier.v1.SelectMergeStacktracesRequest with
-- format = PROFILE_FORMAT_PPROF: 1 profile_typeID, 2 label_selector, 3 start (ms), 4 end
-- (ms), 5 max_nodes, 6 format, 7 stack_trace_selector) or "SelectMergeProfile" (the
-- deprecated call every server since 1.0 has: the same but 6 stack_trace_selector and no
-- format). stack_trace_selector = {2 go_pgo {1 keep_locations, 2 aggregate_callees}};
-- go_pgo is checked as pyroscope{} checks it (aggregate_callees defaults to false).
function backends.pyroscope_request(profile_type, selector, from, to, max_nodes, go_pgo, rpc)
  rpc = rpc or "SelectMergeStacktraces"
  if not PYROSCOPE_RPCS[rpc] then
    error(("bad argument #7 to 'pyroscope_request' (SelectMergeStacktraces or " ..
      "SelectMergeProfile expected, got %s)"):format(tostring(rpc)), 2)
  end
  go_pgo = check_go_pgo(go_pgo, "pyroscope_request")
  local parts = {
    pb_bytes(1, profile_type), pb_bytes(2, selector),
    pb_varint(3, math.floor(from * 1000 + 0.5)), pb_varint(4, math.floor(to * 1000 + 0.5)),
  }
  if max_nodes then parts[#parts + 1] = pb_varint(5, max_nodes) end
  local sel_field = 6
  if rpc == "SelectMergeStacktraces" then
    parts[#parts + 1] = pb_varint(6, 4)          -- PROFILE_FORMAT_PPROF
    sel_field = 7
  end
  if go_pgo then
    local g = pb_varint(1, go_pgo.keep_locations) .. pb_varint(2, go_pgo.aggregate_callees and 1 or 0)
    parts[#parts + 1] = pb_bytes(sel_field, pb_bytes(2, g))
  end
  return table.concat(parts)
end

--- Parca's binary parca.query.v1alpha1.QueryRequest for a merge (exposed for the specs):
-- 1 mode = MODE_MERGE (2), 3 merge {1 query, 2 start, 3 end (Timestamp {1 seconds,
-- 2 nanos})}, 5 report_type = REPORT_TYPE_PPROF (1). With open_end the end is 1 ns
-- before `to` (Parca's range is inclusive; the next slice starts at `to`).
function backends.parca_request(query, from, to, open_end)
  local function ts(t, before)
    local ms = math.floor(t * 1000 + 0.5)
    local nanos = (ms % 1000) * 1000000
    if before then ms, nanos = ms - 1, ((ms - 1) % 1000) * 1000000 + 999999 end
    return pb_varint(1, ms // 1000) .. (nanos > 0 and pb_varint(2, nanos) or "")
  end
  return pb_varint(1, 2) .. pb_bytes(3, pb_bytes(1, query) .. pb_bytes(2, ts(from)) ..
    pb_bytes(3, ts(to, open_end))) .. pb_varint(5, 1)
end

-- RFC 3339 of the nanosecond before t (t on a whole millisecond).
local function rfc3339_before(t)
  local ms = math.floor(t * 1000 + 0.5) - 1
  return os.date("!%Y-%m-%dT%H:%M:%S", ms // 1000) .. (".%03d999999Z"):format(ms % 1000)
end

-- ---- routes: how one slice of a window is asked for and read -----------------------------------
--
-- route.name, route.headers (added to the shared ones), route.request(from, to) ->
-- {url=, method=, body=}, route.read(body) -> profile | nil, message, code | false (the
-- server does not speak this route: use route.fallback), route.on_error(response) ->
-- "fallback" | "split" | nil (see pgo.fetch_plan).

-- A slower or cut-off answer for a long slice: ask for halves.
local function split_on_cut(resp)
  local c = resp.code
  if c == "timeout" or c == "network" or c == "truncated" or resp.status == 504 then
    return "split"
  end
end

local function pyroscope_routes(base, ptype, selector, max_nodes, go_pgo, limits_)
  local headers = { "Content-Type: application/proto", "Connect-Protocol-Version: 1" }
  local function on_error(resp)
    local body = resp.body_head or ""
    if body:find("exceeds the limit", 1, true) then return "split" end
    return split_on_cut(resp)
  end
  -- One Connect call as a route. Pyroscope's range is inclusive and in milliseconds: an
  -- open end stops 1 ms short.
  local function rpc_route(rpc)
    local r = { name = rpc, headers = headers, on_error = on_error,
      url = join(base, "/querier.v1.QuerierService/" .. rpc) }
    function r.request(from, to, open_end)
      if open_end then to = to - 0.001 end
      return { url = r.url, method = "POST", body = backends.pyroscope_request(ptype, selector,
        from, to, max_nodes, go_pgo, rpc) }
    end
    return r
  end
  local legacy = rpc_route("SelectMergeProfile")
  function legacy.read(body) return profile.decode(body, limits_) end
  local modern = rpc_route("SelectMergeStacktraces")
  modern.fallback = legacy
  function modern.read(body)
    if body == "" then return profile.decode(body, limits_) end   -- no data: "empty"
    local pprof, err = pb_field(body, 5)     -- SelectMergeStacktracesResponse.pprof
    if pprof == nil then return nil, "the answer is not a SelectMergeStacktracesResponse: " .. err, "invalid" end
    if pprof == false then return false end  -- a server before 2.2: no PPROF format
    local bytes, err2 = pb_field(pprof, 1)   -- PprofProfile.profile
    if bytes == nil then return nil, "the answer's pprof field: " .. err2, "invalid" end
    return profile.decode(bytes or "", limits_)
  end
  function modern.on_error(resp)
    -- a server without the call at all (404) or that refuses it as unimplemented
    if resp.status == 404 or resp.status == 501 or
      (resp.body_head or ""):find('"unimplemented"', 1, true) then
      return "fallback"
    end
    return on_error(resp)
  end
  return modern
end

-- grpc-web frames (flag byte, 4-byte big-endian length, payload): the QueryResponse's
-- pprof bytes, or nil, message, code from the trailer's grpc-status.
local GRPC_TOO_LARGE = 8   -- RESOURCE_EXHAUSTED
local function grpc_web_pprof(body, headers)
  local msg, status, message
  local pos = 1
  while pos <= #body do
    if pos + 4 > #body then return nil, "a truncated grpc-web frame header", "invalid" end
    local flag, len = string.unpack(">BI4", body, pos)
    pos = pos + 5
    if len > #body - pos + 1 then return nil, "a truncated grpc-web frame", "invalid" end
    local payload = body:sub(pos, pos + len - 1)
    pos = pos + len
    if flag & 0x80 ~= 0 then
      status = tonumber(payload:match("grpc%-status:%s*(%d+)"))
      message = payload:match("grpc%-message:%s*([^\r\n]*)")
    elseif not msg then
      msg = payload
    end
  end
  status = status or tonumber(headers["grpc-status"] or "")
  message = message or headers["grpc-message"]
  if status and status ~= 0 then
    message = (message or ""):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    return nil, ("grpc-status %d: %s"):format(status, message),
      status == GRPC_TOO_LARGE and "too_large" or "http_status"
  end
  if not msg then return nil, "a grpc-web answer without a message", "invalid" end
  local pprof, err = pb_field(msg, 6)        -- QueryResponse.pprof
  if pprof == nil then return nil, "the QueryResponse: " .. err, "invalid" end
  if pprof == false then return nil, "a QueryResponse without a pprof report", "invalid" end
  return pprof
end

local function parca_routes(base, query, limits_)
  local grpc_web = {
    name = "grpc-web", headers = { "Content-Type: application/grpc-web+proto", "X-Grpc-Web: 1" },
    url = join(base, "/parca.query.v1alpha1.QueryService/Query"), on_error = split_on_cut,
  }
  function grpc_web.request(from, to, open_end)
    local msg = backends.parca_request(query, from, to, open_end)
    return { url = grpc_web.url, method = "POST", body = string.pack(">BI4", 0, #msg) .. msg }
  end
  function grpc_web.read(body, headers)
    local bytes, msg, code = grpc_web_pprof(body, headers or {})
    if not bytes then
      if code == "too_large" then
        msg = msg .. " (the merged profile is larger than Parca's gRPC message limit even on " ..
          "the grpc-web route: narrow the query's label matchers, or a shorter max_window " ..
          "if the window spans many deployments)"
      end
      return nil, msg, code
    end
    return profile.decode(bytes, limits_)
  end
  local gateway = {
    name = "api", headers = { "Accept: application/json" }, fallback = grpc_web,
  }
  function gateway.request(from, to, open_end)
    return { url = join(base, "/api/profiles/query") ..
      "?mode=MODE_MERGE&reportType=REPORT_TYPE_PPROF" ..
      "&merge.query=" .. qenc(query) ..
      "&merge.start=" .. qenc(backends.rfc3339(from)) ..
      "&merge.end=" .. qenc(open_end and rfc3339_before(to) or backends.rfc3339(to)),
      method = "GET" }
  end
  gateway.url = join(base, "/api/profiles/query")
  function gateway.read(body)
    local cjson = require "cjson.safe"
    local doc, jerr = cjson.decode(body)
    if type(doc) ~= "table" then
      return nil, ("Parca's answer is not JSON (%s)"):format(tostring(jerr)), "invalid"
    end
    if type(doc.pprof) ~= "string" then
      return nil, 'Parca answered without a "pprof" field (is this a Parca query API?)', "invalid"
    end
    local bytes, berr = net.base64_decode(doc.pprof)
    if not bytes then return nil, 'the "pprof" field: ' .. berr, "invalid" end
    return profile.decode(bytes, limits_)
  end
  function gateway.on_error(resp)
    -- the gateway reaches Parca's gRPC server with gRPC's default 4 MiB receive limit: a
    -- bigger merge comes back as 429 (RESOURCE_EXHAUSTED); grpc-web allows more
    if resp.status == 429 or (resp.body_head or ""):find("larger than max", 1, true) then
      return "fallback"
    end
    return split_on_cut(resp)
  end
  return gateway
end

-- ---- backends -----------------------------------------------------------------------------------

--- A Go service's net/http/pprof: pgo.fetch.profile with the same options; an empty or
-- "/" path becomes /debug/pprof/profile (as go tool pprof does).
function backends.pprof(opts)
  check_table("pprof", opts)
  check_url("pprof", opts.url)
  local p, meta, code, m2 = fetch.profile(opts.url, for_fetch(opts))
  if p then meta.backend = "pprof" return p, meta end
  if m2 then m2.backend = "pprof" end
  return nil, meta, code, m2
end

--- A local profile: opts.path, or a file:// URL in opts.url.
function backends.file(opts)
  check_table("file", opts)
  local path = opts.path
  if not path and type(opts.url) == "string" then
    path = opts.url:match("^[Ff][Ii][Ll][Ee]://[^/]*(/.*)$")
    if path then path = path:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end) end
  end
  if type(path) ~= "string" then
    error("bad argument #1 to 'file' (path= a string, or url= a file:// URL, expected)", 2)
  end
  local st = fsys.stat(path)
  local p, msg, code = profile.load(path, limits(opts))
  local meta = { backend = "file", url = "file://" .. path, bytes = st and st.size }
  if not p then return nil, msg, code, meta end
  return p, meta
end

-- The options pyroscope{} and parca{} share: transport, auth, window and planning.
local function job_of(fname, name, opts, first_route)
  local from, to = window(opts, fname)
  local shown = fetch.redact(first_route.url)
  local headers, secrets, acode = fetch.auth_headers(opts)
  if not headers then return nil, shown .. ": " .. secrets, acode end
  for _, v in ipairs(fetch._url_secrets(first_route.url)) do secrets[#secrets + 1] = v end
  warn_insecure(opts, shown)
  local req = transport(opts, headers, nil)
  req.accept_encoding = true
  return {
    backend = fname, name = name, shown = shown, secrets = secrets, transport = req,
    route = first_route, from = from, to = to, plan = plan.options(opts, fname),
  }
end

--- Grafana Pyroscope: POST <url>/querier.v1.QuerierService/SelectMergeStacktraces with
-- format PROFILE_FORMAT_PPROF (binary protobuf, Connect), falling back to the deprecated
-- SelectMergeProfile on a server that lacks it (before 2.2). opts: url (base, may carry a
-- path prefix), profile_type (default "process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
-- selector (default "{}"), from / to (default now-1h / now), max_nodes, go_pgo =
-- {keep_locations = 5, aggregate_callees = false} (server-side trimming for PGO,
-- Pyroscope >= 1.7), tenant (X-Scope-OrgID, for a multi-tenant server), the planning
-- options of pgo.fetch_plan (max_window default 24 h: Pyroscope's max_query_length) and
-- the transport options (auth_type = "basic" with auth_env / auth_file holding
-- user:password for Grafana Cloud).
function backends.pyroscope(opts)
  check_table("pyroscope", opts)
  check_url("pyroscope", opts.url)
  local ptype = opts.profile_type or "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
  local selector = opts.selector or "{}"
  if type(ptype) ~= "string" or type(selector) ~= "string" then
    error("bad option to 'pyroscope' (profile_type and selector must be strings)", 2)
  end
  if opts.max_nodes ~= nil and (math.type(opts.max_nodes) ~= "integer" or opts.max_nodes < 0) then
    error("bad option 'max_nodes' to 'pyroscope' (a non-negative integer expected)", 2)
  end
  if opts.tenant ~= nil and (type(opts.tenant) ~= "string" or opts.tenant:find("[%c]")) then
    error("bad option 'tenant' to 'pyroscope' (a string without control characters expected)", 2)
  end
  local route = pyroscope_routes(opts.url, ptype, selector, opts.max_nodes,
    check_go_pgo(opts.go_pgo, "pyroscope"), limits(opts))
  local job, msg, code = job_of("pyroscope", "Pyroscope", opts, route)
  if not job then return nil, msg, code end
  if opts.tenant then job.transport.headers[#job.transport.headers + 1] = "X-Scope-OrgID: " .. opts.tenant end
  job.hint = function(je)
    if je:find("no org id", 1, true) then
      return " (multi-tenant Pyroscope: set tenant=, sent as X-Scope-OrgID)"
    end
    return ""
  end
  job.empty = function(from, to)
    return ("Pyroscope has no %s data for %s between %s and %s (an empty profile); " ..
      "check the selector, the profile type and the time range"):format(ptype, selector,
      backends.rfc3339(from), backends.rfc3339(to))
  end
  return plan.run(job)
end

--- Parca: GET <url>/api/profiles/query?mode=MODE_MERGE&reportType=REPORT_TYPE_PPROF&...
-- (grpc-gateway JSON; base64 of gzip pprof in "pprof"), and when the merge is too big for
-- the gateway (429: gRPC's 4 MiB limit) the grpc-web route POST
-- <url>/parca.query.v1alpha1.QueryService/Query. opts: url, query (a profile type with
-- matchers) or profile_type (default "process_cpu:samples:count:cpu:nanoseconds:delta")
-- plus selector (default "{}"), from / to, the planning options of pgo.fetch_plan and the
-- transport options (timeout default 60 s: Parca's write timeout; a slice cut off by it is
-- asked for in halves).
function backends.parca(opts)
  check_table("parca", opts)
  check_url("parca", opts.url)
  local query = opts.query or ((opts.profile_type or "process_cpu:samples:count:cpu:nanoseconds:delta")
    .. (opts.selector or "{}"))
  if type(query) ~= "string" then error("bad option 'query' to 'parca' (string expected)", 2) end
  local job, msg, code = job_of("parca", "Parca", opts, parca_routes(opts.url, query, limits(opts)))
  if not job then return nil, msg, code end
  job.empty = function(from, to)
    return ("Parca has no data for %s between %s and %s"):format(query,
      backends.rfc3339(from), backends.rfc3339(to))
  end
  return plan.run(job)
end

--- Any source: a string ("http(s)://..." or "host:port" -> pprof; "file://..." or a path ->
-- file) or a table with backend = "pprof" | "pyroscope" | "parca" | "file" (inferred:
-- urls -> a pprof fleet, path -> file, url -> pprof). Returns what the backend returns.
function backends.fetch(source)
  if type(source) == "string" then
    if source:match("^[Ff][Ii][Ll][Ee]://") then return backends.file { url = source } end
    if source:match("^[%a][%w+.%-]*://") or source:match("^[%w%.%-]+:%d+") then
      return backends.pprof { url = source }
    end
    return backends.file { path = source }
  end
  if type(source) ~= "table" then
    error("bad argument #1 to 'fetch' (string or table expected, got " .. type(source) .. ")", 2)
  end
  local kind = source.backend
  if not kind then
    if source.urls then kind = "fleet"
    elseif source.path then kind = "file"
    elseif type(source.url) == "string" and source.url:match("^[Ff][Ii][Ll][Ee]://") then kind = "file"
    else kind = "pprof" end
  end
  if kind == "fleet" or (kind == "pprof" and source.urls) then
    options.check("fetch", 1, source, KNOWN.fleet)
    local p, results, code, r2 = fetch.fleet(source.urls, for_fetch(source))
    if p then return p, { backend = "pprof", results = results } end
    return nil, results, code, { backend = "pprof", results = r2 }
  end
  local f = ({ pprof = backends.pprof, pyroscope = backends.pyroscope, parca = backends.parca,
    file = backends.file })[kind]
  if not f then
    error(("bad argument #1 to 'fetch' (unknown backend '%s': pprof, pyroscope, parca or file)")
      :format(tostring(kind)), 2)
  end
  return f(source)
end

return backends
