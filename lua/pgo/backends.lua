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

--- RFC 3339 in UTC ("2026-01-02T03:04:05Z"; with a fraction when t has one).
function backends.rfc3339(t)
  local whole = math.floor(t)
  local s = os.date("!%Y-%m-%dT%H:%M:%S", whole)
  local frac = t - whole
  if frac > 0.0005 then s = s .. ("%.3f"):format(frac):sub(2) end
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
    "max_nodes", "go_pgo", "tenant" }),
  parca = known(TRANSPORT, { "backend", "url", "query", "profile_type", "selector", "from", "to" }),
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
    timeout = opts.timeout or 120, connect_timeout = opts.connect_timeout or d.connect_timeout,
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

local function meta_of(name, shown, resp, from, to)
  resp = resp or {}
  return { backend = name, url = shown, status = resp.status, bytes = resp.bytes,
    elapsed = resp.elapsed, attempts = resp.attempts, window_start = from, window_end = to }
end

-- The JSON error body of Connect (Pyroscope: {"code":"unauthenticated","message":...}) or
-- grpc-gateway (Parca: {"code":3,"message":...}), as "code: message"; nil otherwise.
local function json_error(body)
  local ok, cjson = pcall(require, "cjson.safe")
  if not ok or type(body) ~= "string" or not body:match("^%s*{") then return nil end
  local t = cjson.decode(body)
  if type(t) ~= "table" or t.message == nil then return nil end
  local c = t.code
  if type(c) == "number" and c == math.floor(c) then c = ("%d"):format(c) end
  return tostring(c) .. ": " .. tostring(t.message)
end

local function http_failure(name, shown, msg, code, info, secrets, hint)
  if code == "http_status" and info then
    local je = json_error(info.body_head)
    if je then
      msg = ("HTTP %d from %s: %s"):format(info.status, name, je)
      if hint then msg = msg .. hint(info.status, je) end
    end
  end
  return nil, fetch._scrub(shown .. ": " .. msg, secrets), code
end

local function warn_insecure(opts, shown)
  if opts.insecure then
    io.stderr:write(("pgolua: WARNING: TLS VERIFICATION IS OFF (insecure=true) for %s: " ..
      "anyone on the network path can read or replace this profile. Use ca_file instead.\n")
      :format(shown))
  end
end

-- ---- protobuf for the Pyroscope request ------------------------------------------------------

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

--- The binary querier.v1.SelectMergeProfileRequest for opts (exposed for the specs):
-- 1 profile_typeID, 2 label_selector, 3 start (ms), 4 end (ms), 5 max_nodes,
-- 6 stack_trace_selector {2 go_pgo {1 keep_locations, 2 aggregate_callees}}.
function backends.pyroscope_request(profile_type, selector, from, to, max_nodes, go_pgo)
  local parts = {
    pb_bytes(1, profile_type), pb_bytes(2, selector),
    pb_varint(3, math.floor(from * 1000)), pb_varint(4, math.floor(to * 1000)),
  }
  if max_nodes then parts[#parts + 1] = pb_varint(5, max_nodes) end
  if go_pgo then
    local g = pb_varint(1, go_pgo.keep_locations or 5) ..
      pb_varint(2, go_pgo.aggregate_callees == false and 0 or 1)
    parts[#parts + 1] = pb_bytes(6, pb_bytes(2, g))
  end
  return table.concat(parts)
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

--- Grafana Pyroscope: POST <url>/querier.v1.QuerierService/SelectMergeProfile with a
-- binary protobuf body (Content-Type: application/proto; the answer is the merged
-- profile as plain pprof). opts: url (base, may carry a path prefix), profile_type
-- (default "process_cpu:cpu:nanoseconds:cpu:nanoseconds"), selector (default "{}"),
-- from / to (default now-1h / now; at most 24 h apart on a default server), max_nodes,
-- go_pgo = {keep_locations = 5, aggregate_callees = true} (Pyroscope >= 1.7 trims stacks
-- for PGO), tenant (X-Scope-OrgID), and the transport options.
function backends.pyroscope(opts)
  check_table("pyroscope", opts)
  check_url("pyroscope", opts.url)
  local from, to = window(opts, "pyroscope")
  local ptype = opts.profile_type or "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
  local selector = opts.selector or "{}"
  if type(ptype) ~= "string" or type(selector) ~= "string" then
    error("bad option to 'pyroscope' (profile_type and selector must be strings)", 2)
  end
  if opts.max_nodes ~= nil and math.type(opts.max_nodes) ~= "integer" then
    error("bad option 'max_nodes' to 'pyroscope' (integer expected)", 2)
  end
  local url = join(opts.url, "/querier.v1.QuerierService/SelectMergeProfile")
  local shown = fetch.redact(url)
  local headers, secrets, acode = fetch.auth_headers(opts)
  if not headers then return nil, shown .. ": " .. secrets, acode end
  for _, v in ipairs(fetch._url_secrets(url)) do secrets[#secrets + 1] = v end
  headers[#headers + 1] = "Content-Type: application/proto"
  headers[#headers + 1] = "Connect-Protocol-Version: 1"
  if opts.tenant then
    if type(opts.tenant) ~= "string" or opts.tenant:find("[%c]") then
      error("bad option 'tenant' to 'pyroscope' (a string without control characters expected)", 2)
    end
    headers[#headers + 1] = "X-Scope-OrgID: " .. opts.tenant
  end
  warn_insecure(opts, shown)
  local req = transport(opts, headers, opts.dir or (opts.dest and fsys.dirname(opts.dest)) or ".")
  req.url, req.method, req.prefix, req.accept_encoding = url, "POST", "pgolua-pyroscope", true
  req.body = backends.pyroscope_request(ptype, selector, from, to, opts.max_nodes, opts.go_pgo)
  local resp, msg, code, info = net.request(req)
  local meta = meta_of("pyroscope", shown, resp or info, from, to)
  if not resp then
    local _, m, c = http_failure("Pyroscope", shown, msg, code, info, secrets, function(_, je)
      if je:find("no org id", 1, true) then
        return " (multi-tenant Pyroscope: set tenant=, sent as X-Scope-OrgID)"
      end
      return ""
    end)
    return nil, m, c, meta
  end
  local tmp = resp.temp_path
  local p, dmsg, dcode = profile.load(tmp, limits(opts))
  if opts.keep_temp then meta.temp_path = tmp else os.remove(tmp) end
  if not p then
    if dcode == "empty" then
      return nil, ("%s: Pyroscope has no %s data for %s between %s and %s (an empty profile); " ..
        "check the selector, the profile type and the time range"):format(shown, ptype, selector,
        backends.rfc3339(from), backends.rfc3339(to)), "empty", meta
    end
    if dmsg:sub(1, #tmp) == tmp then dmsg = dmsg:sub(#tmp + 1) else dmsg = ": " .. dmsg end
    return nil, fetch._scrub(shown .. dmsg, secrets), dcode, meta
  end
  return p, meta
end

--- Parca: GET <url>/api/profiles/query?mode=MODE_MERGE&reportType=REPORT_TYPE_PPROF&
-- merge.query=...&merge.start=...&merge.end=... (grpc-gateway JSON; the profile comes
-- as base64 of gzip pprof in the "pprof" field). opts: url, query (a profile type with
-- matchers) or profile_type (default "process_cpu:samples:count:cpu:nanoseconds:delta")
-- plus selector (default "{}"), from / to, and the transport options.
function backends.parca(opts)
  check_table("parca", opts)
  check_url("parca", opts.url)
  local from, to = window(opts, "parca")
  local query = opts.query or ((opts.profile_type or "process_cpu:samples:count:cpu:nanoseconds:delta")
    .. (opts.selector or "{}"))
  if type(query) ~= "string" then error("bad option 'query' to 'parca' (string expected)", 2) end
  local url = join(opts.url, "/api/profiles/query") ..
    "?mode=MODE_MERGE&reportType=REPORT_TYPE_PPROF" ..
    "&merge.query=" .. qenc(query) ..
    "&merge.start=" .. qenc(backends.rfc3339(from)) ..
    "&merge.end=" .. qenc(backends.rfc3339(to))
  local shown = fetch.redact(url)
  local headers, secrets, acode = fetch.auth_headers(opts)
  if not headers then return nil, shown .. ": " .. secrets, acode end
  for _, v in ipairs(fetch._url_secrets(url)) do secrets[#secrets + 1] = v end
  headers[#headers + 1] = "Accept: application/json"
  warn_insecure(opts, shown)
  local req = transport(opts, headers, nil)
  req.url, req.method, req.accept_encoding = url, "GET", true
  local resp, msg, code, info = net.request(req)
  local meta = meta_of("parca", shown, resp or info, from, to)
  if not resp then
    local _, m, c = http_failure("Parca", shown, msg, code, info, secrets)
    return nil, m, c, meta
  end
  local cjson = require "cjson.safe"
  local doc, jerr = cjson.decode(resp.body)
  if type(doc) ~= "table" then
    return nil, ("%s: Parca's answer is not JSON (%s)"):format(shown, tostring(jerr)), "invalid", meta
  end
  if type(doc.pprof) ~= "string" then
    return nil, shown .. ": Parca answered without a \"pprof\" field (is this a Parca query API?)",
      "invalid", meta
  end
  local bytes, berr = net.base64_decode(doc.pprof)
  if not bytes then return nil, shown .. ": the \"pprof\" field: " .. berr, "invalid", meta end
  local p, dmsg, dcode = profile.decode(bytes, limits(opts))
  if not p then
    if dcode == "empty" then
      dmsg = ("Parca has no data for %s between %s and %s"):format(query,
        backends.rfc3339(from), backends.rfc3339(to))
    end
    return nil, fetch._scrub(shown .. ": " .. dmsg, secrets), dcode, meta
  end
  return p, meta
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
