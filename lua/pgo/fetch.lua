-- pgo.fetch: capture CPU profiles over HTTP, from one instance or a whole fleet at once.
--
--   local p, meta = pgo.fetch.profile("http://127.0.0.1:6060", {seconds = 30})
--   local merged, results = pgo.fetch.fleet({url1, url2, url3}, {seconds = 30})
--
-- The transfers run in C (pgo.core.net over libcurl, src/net); this file holds the
-- policy: defaults, the ?seconds= parameter, authentication from the environment or a
-- file (never from argv), redaction, progress on a terminal, the wording of errors, and
-- the fleet's minimum-success rule. The full reference is docs/api.md ("Fetching").
--
-- Where bodies go: a capture streams into a new temporary file "<dir>/.pgolua-fetch.XXXXXX"
-- (O_EXCL, mode 0600) in opts.dir, else the directory of opts.dest, else ".". The file is
-- removed after decoding unless opts.keep_temp is true; then meta.temp_path names it and
-- the caller owns it (pgo.fs.replace(meta.temp_path, dest) installs the captured bytes
-- atomically, or os.remove it). On every failure it is removed. A fetch never opens,
-- writes or removes opts.dest itself.
local net = require "pgo.core.net"
local fsys = require "pgo.fsys"
local profile = require "pgo.profile"
local options = require "pgo.options"

local fetch = {}

--- Defaults; a script may change them for all later calls.
fetch.defaults = {
  seconds = 30,              -- capture window (?seconds=N)
  retries = 2,               -- extra attempts on connection failures and 5xx (never 4xx)
  backoff = 1,               -- seconds before the first retry, doubled each time
  connect_timeout = 10,      -- seconds
  max_bytes = 256 * 1024 * 1024,
  max_redirects = 5,         -- http/https only
  concurrency = nil,         -- fleet: captures in flight at once; nil = every instance at
                             -- once (up to half the open-file limit), so a fleet of any size
                             -- takes one window
  min_success = 0.8,         -- fleet: fraction (a float) or count (an integer)
}

--- The total timeout used when opts.timeout is not given: 1.5 x the window + 10 s
-- (go tool pprof uses 1.5 x + 5 s); the response of /debug/pprof/profile only starts
-- when the window ends.
function fetch.default_timeout(seconds)
  return math.ceil((seconds or 30) * 1.5) + 10
end

-- ---- argument checks (misuse raises, pointing at the caller's caller) ----------------

-- level: the error position, counted from bad_option (1) out to the caller of the
-- public function.
local function bad_option(fname, name, expected, v, level)
  error(("bad option '%s' to '%s' (%s expected, got %s)"):format(name, fname, expected,
    v == nil and "nil" or type(v) == "number" and tostring(v) or type(v)), level)
end

-- Every option of fetch.profile (fleet takes these and FLEET_OPTS); the values are
-- checked in detail below.
local PROFILE_OPTS = {}
for _, k in ipairs { "seconds", "timeout", "connect_timeout", "retries", "backoff", "max_bytes",
  "max_redirects", "dir", "dest", "auth_env", "auth_file", "headers_env", "ca_file", "auth_type",
  "insecure", "allow_file", "keep_temp", "quiet", "headers", "max_decompressed", "max_samples",
  "max_stack_depth" } do
  PROFILE_OPTS[k] = "any"
end
local FLEET_OPTS = setmetatable({ concurrency = "any", min_success = "any" }, { __index = PROFILE_OPTS })

local function check_opts(fname, opts, argn)
  -- an unknown option raises (level 4: options.check, check_opts, public, caller)
  opts = options.check(fname, argn, opts, fname == "fleet" and FLEET_OPTS or PROFILE_OPTS, 4)
  local function want(name, kind, test, expected)
    local v = opts[name]
    if v ~= nil and (type(v) ~= kind or (test and not test(v))) then
      bad_option(fname, name, expected or kind, v, 5)   -- want, check_opts, public, caller
    end
  end
  local pos = function(v) return v > 0 end
  if opts.seconds ~= false then
    want("seconds", "number", function(v) return v >= 1 and v == math.floor(v) end,
      "a whole number of seconds >= 1 (or false)")
  end
  want("timeout", "number", pos, "positive number")
  want("connect_timeout", "number", pos, "positive number")
  want("retries", "number", function(v) return v >= 0 and v == math.floor(v) end, "integer >= 0")
  want("backoff", "number", function(v) return v >= 0 end, "number >= 0")
  want("max_bytes", "number", function(v) return v >= 1 and v == math.floor(v) end, "integer >= 1")
  want("max_redirects", "number", function(v) return v >= 0 and v == math.floor(v) end,
    "integer >= 0")
  want("concurrency", "number", function(v) return v >= 1 and v == math.floor(v) end,
    "integer >= 1")
  for _, k in ipairs { "dir", "dest", "auth_env", "auth_file", "headers_env", "ca_file",
    "auth_type" } do
    want(k, "string")
  end
  for _, k in ipairs { "insecure", "allow_file", "keep_temp", "quiet" } do want(k, "boolean") end
  want("headers", "table")
  if opts.auth_env and opts.auth_file then
    error(("bad options to '%s' (auth_env and auth_file both given; choose one)"):format(fname), 3)
  end
  if opts.auth_type and opts.auth_type ~= "bearer" and opts.auth_type ~= "basic" then
    bad_option(fname, "auth_type", '"bearer" or "basic"', opts.auth_type, 4)
  end
  return opts
end

-- ---- URLs --------------------------------------------------------------------------------

-- Split "scheme://authority/path?query#fragment"; nil when there is no scheme.
local function split_url(url)
  local scheme, rest = url:match("^(%a[%w+.%-]*)://(.*)$")
  if not scheme then return nil end
  local authority, tail = rest:match("^([^/?#]*)(.*)$")
  local fragment = tail:match("#.*$") or ""
  tail = tail:sub(1, #tail - #fragment)
  local query = tail:match("%?.*$") or ""
  local path = tail:sub(1, #tail - #query)
  return { scheme = scheme:lower(), authority = authority, path = path,
    query = query:sub(2), has_query = query ~= "", fragment = fragment }
end
fetch._split_url = split_url

local function join_url(u)
  return u.scheme .. "://" .. u.authority .. u.path ..
    ((u.has_query or u.query ~= "") and ("?" .. u.query) or "") .. u.fragment
end

--- The URL a capture requests, as `go tool pprof` would build it: "host:port/..." gets
-- "http://"; an empty or "/" path becomes /debug/pprof/profile; with seconds, the query
-- parameter seconds=N replaces any existing one (http and https URLs only).
function fetch.url(url, seconds)
  if type(url) ~= "string" then
    error("bad argument #1 to 'url' (string expected, got " .. type(url) .. ")", 2)
  end
  if not url:find("://", 1, true) and (url:match("^[%w%.%-]+:%d+") or url:match("^%[[%x:.]+%]:%d+")) then
    url = "http://" .. url
  end
  local u = split_url(url)
  if not u or (u.scheme ~= "http" and u.scheme ~= "https") then return url end
  if u.path == "" or u.path == "/" then u.path = "/debug/pprof/profile" end
  if seconds then
    local kept = {}
    for part in u.query:gmatch("[^&]+") do
      if part:match("^([^=]*)") ~= "seconds" then kept[#kept + 1] = part end
    end
    kept[#kept + 1] = ("seconds=%d"):format(seconds)
    u.query = table.concat(kept, "&")
    u.has_query = true
  end
  return join_url(u)
end

-- Query parameter names whose values are credentials.
local SECRET_PARAM = { "token", "key", "secret", "pass", "pwd", "auth", "sig", "credential",
  "session", "jwt", "bearer", "code" }

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Whether a query parameter name (percent-decoded: %74oken is token) names a credential.
local function secret_param(name)
  local lk = unescape(name):lower()
  for _, s in ipairs(SECRET_PARAM) do
    if lk:find(s, 1, true) then return true end
  end
  return false
end

--- The URL for messages and metadata: a password (or a lone user token) in the
-- authority and the values of credential-like query parameters (token, api_key,
-- password, signature, ...) are replaced by REDACTED. A URL without a scheme
-- ("user:pw@host:6060") is redacted the same way.
function fetch.redact(url)
  if type(url) ~= "string" then return url end
  local u = split_url(url)
  if not u then
    if url:find("[@?]") then return (fetch.redact("x://" .. url):sub(5)) end
    return url
  end
  local userinfo, host = u.authority:match("^(.*)@([^@]*)$")
  if userinfo then
    local user = userinfo:match("^([^:]*):")
    u.authority = (user and (user .. ":REDACTED") or "REDACTED") .. "@" .. host
  end
  if u.query ~= "" then
    local parts = {}
    for part in u.query:gmatch("[^&]+") do
      local k = part:match("^([^=]*)")
      parts[#parts + 1] = secret_param(k) and part:find("=", 1, true) and (k .. "=REDACTED") or part
    end
    u.query = table.concat(parts, "&")
  end
  return join_url(u)
end

--- The credentials a URL carries (what redact hides: the password or lone user token of
-- the authority, the values of credential-like query parameters), as given and
-- percent-decoded, plus the Basic authorization libcurl builds from the user info, for
-- scrubbing from messages (a server may echo the URL or the header). An empty list when
-- there are none. Internal (pgo.backends uses it too).
function fetch._url_secrets(url)
  local found = {}
  if type(url) ~= "string" then return found end
  local u = split_url(url) or (url:find("[@?]") and split_url("x://" .. url))
  if not u then return found end
  local function add(v)
    if v and v ~= "" then
      found[#found + 1] = v
      local d = unescape(v)
      if d ~= v then found[#found + 1] = d end
    end
  end
  local userinfo = u.authority:match("^(.*)@[^@]*$")
  if userinfo then
    add(userinfo:match("^[^:]*:(.*)$") or userinfo)
    -- libcurl sends user:password as "Authorization: Basic <base64>", which a server may
    -- echo back: the encoded form is as secret as the password
    found[#found + 1] = net.base64_encode(unescape(userinfo))
  end
  for part in u.query:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if k and secret_param(k) then add(v) end
  end
  return found
end

--- Whether a URL carries a credential (see _url_secrets): a recipe given one on its
-- command line can warn that argv is visible to every user of the machine (ps).
function fetch.has_credentials(url)
  return #fetch._url_secrets(url) > 0
end
fetch._has_credentials = fetch.has_credentials   -- the name before it was public

-- Replace every occurrence of each secret (plain text) in s. Matching starts at the
-- secret's first 6 characters (all of a shorter one) and extends as far as the text
-- agrees with it, so a message cut inside a secret (a body excerpt stops at 200
-- characters, a page title at 80) loses the part it kept. Secrets under 4 characters are
-- left alone: replacing them would mangle ordinary words. With `cut` (s is the start of a
-- longer text), a tail of s that begins a secret is replaced too, however short.
local function scrub(s, secrets, cut)
  if type(s) ~= "string" or not secrets then return s end
  if cut then
    for _, secret in ipairs(secrets) do
      if #secret >= 4 then
        for k = math.min(#secret, #s), 1, -1 do
          if s:sub(-k) == secret:sub(1, k) then s = s:sub(1, -k - 1) .. "REDACTED"; break end
        end
      end
    end
  end
  for _, secret in ipairs(secrets) do
    if #secret >= 4 then
      local seed = secret:sub(1, 6)
      local out, i = {}, 1
      while true do
        local a = s:find(seed, i, true)
        if not a then break end
        local b, k = a + #seed - 1, #seed
        while k < #secret and s:byte(b + 1) == secret:byte(k + 1) do b, k = b + 1, k + 1 end
        out[#out + 1] = s:sub(i, a - 1) .. "REDACTED"
        i = b + 1
      end
      out[#out + 1] = s:sub(i)
      s = table.concat(out)
    end
  end
  return s
end
fetch._scrub = scrub

-- The start of a response body as one line for a message: secrets are removed from the
-- raw bytes first (`cut` when the body went on past them), then control bytes and runs of
-- white space fold to one space, then the line is cut at 200 bytes. Folding or cutting
-- first could split a secret so that scrub no longer recognises the part left.
local function excerpt(body, secrets, cut)
  local s = scrub(body or "", secrets, cut)
  s = s:gsub("[%c%s]+", " "):gsub("^ ", ""):gsub(" $", "")
  if #s > 200 then s = s:sub(1, 200) .. "..." end
  return s
end

-- ---- credentials -----------------------------------------------------------------------

local function read_secret_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a") or ""
  f:close()
  return s
end

-- Whether a request header's name says its value is a credential (Authorization,
-- X-Api-Key, X-Auth-Token, Cookie, ...).
local function secret_header(name)
  local n = name:lower()
  return n:find("auth", 1, true) or n:find("token", 1, true) or n:find("key", 1, true)
    or n:find("secret", 1, true) or n:find("pass", 1, true) or n == "cookie"
end

-- The name of each opts.headers entry ({Name = value} or {"Name: value"}).
local function header_names(headers)
  local names = {}
  for k, v in pairs(headers or {}) do
    names[#names + 1] = type(k) == "string" and k or tostring(v):match("^([^:]*):") or ""
  end
  return names
end

--- Request headers for opts.headers (a table: {Name = value} or {"Name: value"}),
-- opts.auth_env / opts.auth_file (a token: "Authorization: Bearer <token>"; with
-- auth_type = "basic", "user:password" sent as Basic; a value already starting with
-- "Bearer " or "Basic " is sent as it is) and opts.headers_env (an environment variable
-- holding "Name: value" lines). Returns headers, secrets (values to redact) or
-- nil, message, "auth". Credentials never come from the command line.
function fetch.auth_headers(opts)
  local headers, secrets = {}, {}
  if opts.headers then
    for k, v in pairs(opts.headers) do
      local line = type(k) == "string" and (k .. ": " .. tostring(v)) or v
      headers[#headers + 1] = line
      -- values of credential-like headers are redacted from messages too
      local name, value = tostring(line):match("^([^:]*):%s*(.-)%s*$")
      if name and secret_header(name) then
        secrets[#secrets + 1] = value
        secrets[#secrets + 1] = value:match("^%a+ +(.*)$")
      end
    end
  end
  local value, where
  if opts.auth_env then
    where = "environment variable " .. opts.auth_env .. " (auth_env)"
    value = os.getenv(opts.auth_env)
    if not value or value == "" then
      return nil, where .. " is not set or empty", "auth"
    end
  elseif opts.auth_file then
    where = "credentials file " .. opts.auth_file .. " (auth_file)"
    local err
    value, err = read_secret_file(opts.auth_file)
    if not value then return nil, "cannot read the " .. where .. ": " .. tostring(err), "auth" end
    value = value:gsub("[\r\n%s]+$", ""):gsub("^%s+", "")
    if value == "" then return nil, "the " .. where .. " is empty", "auth" end
  end
  if value then
    if value:find("%c") then
      -- a tab or line break would be sent raw, or split the header; and a message folds
      -- control characters, so the scrubber could no longer find the credential in it
      return nil, "the " .. where .. " holds a control character (line break, tab, NUL) " ..
        "inside the credential", "auth"
    end
    secrets[#secrets + 1] = value
    local header
    if value:match("^[Bb]earer ") or value:match("^[Bb]asic ") then
      header = "Authorization: " .. value
      secrets[#secrets + 1] = value:match("^%a+ +(.*)$")
    elseif opts.auth_type == "basic" then
      if not value:find(":", 1, true) then
        return nil, "the " .. where .. " must hold user:password for auth_type=\"basic\"", "auth"
      end
      local b64 = net.base64_encode(value)
      secrets[#secrets + 1] = b64
      header = "Authorization: Basic " .. b64
    else
      header = "Authorization: Bearer " .. value
    end
    headers[#headers + 1] = header
  end
  if opts.headers_env then
    local text = os.getenv(opts.headers_env)
    if not text or text == "" then
      return nil, "environment variable " .. opts.headers_env .. " (headers_env) is not set or empty",
        "auth"
    end
    local n = 0
    for line in (text .. "\n"):gmatch("(.-)\r?\n") do
      n = n + 1
      if line:match("%S") then
        local name, v = line:match("^%s*([!#$%%&'*+%-.^_`|~%w]+)%s*:%s*(.-)%s*$")
        if not name or v:find("%z") then
          return nil, ("environment variable %s (headers_env): line %d is not \"Name: value\"")
            :format(opts.headers_env, n), "auth"
        end
        headers[#headers + 1] = name .. ": " .. v
        secrets[#secrets + 1] = v
      end
    end
  end
  return headers, secrets
end

-- ---- progress on a terminal ---------------------------------------------------------------

local function human_bytes(n)
  if n >= 1024 * 1024 then return ("%.1f MiB"):format(n / 1048576) end
  if n >= 1024 then return ("%.1f KiB"):format(n / 1024) end
  return ("%d B"):format(n)
end

-- A progress function and a finish function, or nothing when stderr is not a terminal
-- or opts.quiet.
local function progress_printer(opts, label, seconds)
  if opts.quiet or not fsys.isatty(2) then return nil, function() end end
  local shown = false
  local function show(t)
    local line
    if t.total > 1 then
      line = ("%s: %d/%d done, %d failed, %s"):format(label, t.done, t.total, t.failed,
        human_bytes(t.bytes))
      if seconds and t.bytes == 0 then
        line = line .. (", window ends in %ds"):format(math.max(0, math.ceil(seconds - t.elapsed)))
      end
    elseif seconds and t.bytes == 0 then
      line = ("%s: capturing, %ds left"):format(label, math.max(0, math.ceil(seconds - t.elapsed)))
    else
      line = ("%s: %s received"):format(label, human_bytes(t.bytes))
    end
    if line ~= shown then
      io.stderr:write("\r", line, "\27[K")
      io.stderr:flush()
      shown = line
    end
  end
  local function finish()
    if shown then io.stderr:write("\r\27[K"); io.stderr:flush() end
  end
  return show, finish
end

local function warn_insecure(opts, shown)
  if opts.insecure then
    io.stderr:write(("pgolua: WARNING: TLS VERIFICATION IS OFF (insecure=true) for %s: " ..
      "anyone on the network path can read or replace this profile. Use ca_file instead.\n")
      :format(shown))
    io.stderr:flush()
  end
end

-- ---- messages --------------------------------------------------------------------------------

-- The message for a failed capture, plainer for Go's own pprof errors (X-Go-Pprof: 1).
local function explain(msg, code, go_pprof, status, body, seconds, content_type, secrets, cut)
  if code ~= "http_status" or not status or status < 400 then return msg end
  body = scrub(body or "", secrets, cut)
  local reason = msg:match("^HTTP %d+( [^:]*):") or ""
  if not go_pprof then
    if (content_type or ""):find("html", 1, true) or body:match("^%s*<") then
      local title = body:match("<[Tt][Ii][Tt][Ll][Ee][^>]*>%s*(.-)%s*</") or ""
      title = title:gsub("[%c]", " "):sub(1, 80)
      local advice = (status == 401 or status == 403)
        and "the server wants credentials this request did not carry, or refused them"
        or "is the path right? (net/http/pprof serves /debug/pprof/profile)"
      return ("HTTP %d%s: the server answered with an HTML page%s, not a profile; %s")
        :format(status, reason, title ~= "" and (' titled "' .. title .. '"') or "", advice)
    end
    local head = excerpt(body, nil, false)
    return ("HTTP %d%s: %s"):format(status, reason, head ~= "" and head or "(empty body)")
  end
  body = excerpt(body, nil, false)
  if status == 500 and body:find("Could not enable CPU profiling", 1, true) then
    return "profiling already in use: the process is already taking a CPU profile (another " ..
      "capture, or a continuous profiler such as pyroscope-go or Datadog inside the service); " ..
      "wait for it to finish or capture another instance (HTTP 500, server said: " .. body .. ")"
  end
  if status == 400 and body:find("WriteTimeout", 1, true) then
    return ("the capture window (seconds=%s) is not shorter than the server's WriteTimeout; " ..
      "lower seconds (HTTP 400, server said: %s)"):format(tostring(seconds), body)
  end
  return ("HTTP %d from the Go pprof handler: %s"):format(status, body)
end

-- libcurl drops Authorization (and Cookie) when a redirect changes host, but would send
-- the headers of headers_env, and credential-like headers of opts.headers (X-Api-Key, ...),
-- on to the new host; so with those redirects are off unless asked for.
function fetch._max_redirects(opts)
  if opts.max_redirects then return opts.max_redirects end
  if opts.headers_env then return 0 end
  for _, name in ipairs(header_names(opts.headers)) do
    if secret_header(name) and name:lower() ~= "authorization" and name:lower() ~= "cookie" then
      return 0
    end
  end
  return fetch.defaults.max_redirects
end

local function http_opts(opts, headers, timeout, dir)
  local d = fetch.defaults
  return {
    headers = headers, timeout = timeout, dir = dir,
    connect_timeout = opts.connect_timeout or d.connect_timeout,
    max_bytes = opts.max_bytes or d.max_bytes,
    max_redirects = fetch._max_redirects(opts),
    allow_file = opts.allow_file or false, insecure = opts.insecure or false,
    ca_file = opts.ca_file,
    retries = opts.retries or d.retries, backoff = opts.backoff or d.backoff,
  }
end

-- The capture window: opts.seconds, the default, or nil for seconds=false (the URL is
-- left alone, e.g. for /debug/pprof/heap).
local function window(opts)
  if opts.seconds == false then return nil end
  return opts.seconds or fetch.defaults.seconds
end

local function temp_dir(opts)
  return opts.dir or (opts.dest and fsys.dirname(opts.dest)) or "."
end

local function limits(opts)
  return { max_decompressed = opts.max_decompressed, max_samples = opts.max_samples,
    max_stack_depth = opts.max_stack_depth }
end

-- ---- one capture -------------------------------------------------------------------------------

--- Capture one profile. url: "http://host:port" (path filled as go tool pprof does) or a
-- full URL. Returns profile, meta; or nil, message, code, meta. See the module comment
-- for opts and docs/api.md for the codes.
function fetch.profile(url, opts)
  if type(url) ~= "string" then
    error("bad argument #1 to 'profile' (string expected, got " .. type(url) .. ")", 2)
  end
  opts = check_opts("profile", opts, 2)
  local seconds = window(opts)
  local full = fetch.url(url, seconds)
  local shown = fetch.redact(full)
  local headers, secrets, acode = fetch.auth_headers(opts)
  if not headers then return nil, shown .. ": " .. secrets, acode end
  for _, v in ipairs(fetch._url_secrets(full)) do secrets[#secrets + 1] = v end
  warn_insecure(opts, shown)
  local req = http_opts(opts, headers, opts.timeout or fetch.default_timeout(seconds or 40),
    temp_dir(opts))
  req.url, req.method, req.prefix = full, "GET", "pgolua-fetch"
  local show, finish = progress_printer(opts, shown, seconds)
  req.progress = show
  local ok, resp, msg, code, info = pcall(net.request, req)
  finish()
  if not ok then error(resp, 0) end
  local meta = { url = shown, seconds = seconds }
  local src = resp or info or {}
  meta.status, meta.bytes, meta.elapsed = src.status, src.bytes, src.elapsed
  meta.attempts, meta.window_start, meta.window_end = src.attempts, src.window_start, src.window_end
  meta.content_type = src.headers and src.headers["content-type"]
  if not resp then
    msg = explain(msg, code, info and info.go_pprof, info and info.status,
      info and info.body_head, seconds, meta.content_type, secrets, info and info.body_head_cut)
    return nil, scrub(shown .. ": " .. msg, secrets), code, meta
  end
  local tmp = resp.temp_path
  local p, dmsg, dcode = profile.load(tmp, limits(opts))
  if opts.keep_temp then meta.temp_path = tmp else os.remove(tmp) end
  if not p then
    if dmsg:sub(1, #tmp) == tmp then dmsg = dmsg:sub(#tmp + 1) else dmsg = ": " .. dmsg end
    return nil, scrub(shown .. dmsg, secrets), dcode, meta
  end
  return p, meta
end

-- ---- a fleet -----------------------------------------------------------------------------------

-- How many successes min_success asks for out of n; raises on a bad value.
local function needed(min_success, n)
  if math.type(min_success) == "integer" then
    if min_success < 0 then bad_option("fleet", "min_success", "count >= 0", min_success, 4) end
    if min_success > n then
      error(("bad option 'min_success' to 'fleet' (%d successes asked of %d targets)")
        :format(min_success, n), 3)
    end
    return min_success
  elseif math.type(min_success) == "float" then
    if not (min_success > 0 and min_success <= 1) then
      bad_option("fleet", "min_success", "a fraction in (0, 1] or an integer count", min_success, 4)
    end
    return math.ceil(min_success * n - 1e-9)
  end
  bad_option("fleet", "min_success", "a fraction in (0, 1] or an integer count", min_success, 4)
end

--- Capture from many instances at once and merge. Returns merged, results; or
-- nil, message, "fleet_failed" (too few successes) | "interrupted" | "nomem", results.
-- results[i] = {url=, ok=, error=, code=, status=, bytes=, elapsed=, attempts=,
-- window_start=, window_end=, temp_path= (keep_temp)}; results.succeeded, .failed,
-- .needed, .elapsed (wall seconds of the whole fleet), .span (seconds from the first
-- successful capture's window start to the last one's end: what the merge covers).
function fetch.fleet(urls, opts)
  if type(urls) ~= "table" then
    error("bad argument #1 to 'fleet' (table expected, got " .. type(urls) .. ")", 2)
  end
  if #urls == 0 then error("bad argument #1 to 'fleet' (no URLs)", 2) end
  for i, u in ipairs(urls) do
    if type(u) ~= "string" then
      error(("bad argument #1 to 'fleet' (URL #%d is a %s, not a string)"):format(i, type(u)), 2)
    end
  end
  opts = check_opts("fleet", opts, 2)
  local n = #urls
  local need = needed(opts.min_success == nil and fetch.defaults.min_success or opts.min_success, n)
  local seconds = window(opts)
  local full, shown = {}, {}
  for i, u in ipairs(urls) do
    full[i] = fetch.url(u, seconds)
    shown[i] = fetch.redact(full[i])
  end
  local headers, secrets, acode = fetch.auth_headers(opts)
  if not headers then return nil, secrets, acode, {} end
  for _, u in ipairs(full) do
    for _, v in ipairs(fetch._url_secrets(u)) do secrets[#secrets + 1] = v end
  end
  warn_insecure(opts, n == 1 and shown[1] or (n .. " targets"))
  local req = http_opts(opts, headers, opts.timeout or fetch.default_timeout(seconds or 40),
    temp_dir(opts))
  req.concurrency = opts.concurrency or fetch.defaults.concurrency
  req.keep_temp = opts.keep_temp or false
  req.max_decompressed, req.max_samples = opts.max_decompressed, opts.max_samples
  req.max_stack_depth = opts.max_stack_depth
  local show, finish = progress_printer(opts, "fleet", seconds)
  req.progress = show
  local t0 = net.now()
  local ok, p, a, b, c = pcall(net.fleet, full, req)
  finish()
  if not ok then error(p, 0) end
  local results = (p == nil) and c or a
  local succeeded = 0
  for i, r in ipairs(results) do
    r.url = shown[i]
    if r.ok then
      succeeded = succeeded + 1
    else
      r.error = scrub(shown[i] .. ": " ..
        explain(r.error, r.code, r.go_pprof, r.status, r.body_head, seconds, nil, secrets,
          r.body_head_cut), secrets)
    end
    r.body_head, r.body_head_cut = nil, nil
  end
  results.succeeded, results.failed, results.needed = succeeded, n - succeeded, need
  results.seconds = seconds
  results.elapsed = net.now() - t0
  local first, last
  for _, r in ipairs(results) do
    if r.ok and r.window_start and r.window_end then
      first = math.min(first or r.window_start, r.window_start)
      last = math.max(last or r.window_end, r.window_end)
    end
  end
  results.span = first and (last - first) or nil
  if p == nil then return nil, scrub(a, secrets), b, results end
  if succeeded < need or not p then
    if p then p:close() end
    local why = {}
    for _, r in ipairs(results) do
      if not r.ok and #why < 3 then why[#why + 1] = r.error end
    end
    return nil, ("fleet capture failed: %d of %d captures succeeded, %d needed (min_success=%s)%s")
      :format(succeeded, n, need, tostring(opts.min_success or fetch.defaults.min_success),
        #why > 0 and ("; " .. table.concat(why, "; ")) or ""), "fleet_failed", results
  end
  return p, results
end

return fetch
