#!/usr/bin/env pgolua
-- refresh.lua: capture CPU profiles from a service (net/http/pprof, a fleet of instances,
--   Grafana Pyroscope, Parca or files), check the result, and atomically replace
--   default.pgo only when every check passes; records provenance in the profile's
--   comments and writes a pull-request body. Never replaces first and checks after.
-- Run:   pgolua recipes/refresh.lua --url URL [--url URL ...] --out cmd/api/default.pgo [--json]
--        pgolua recipes/refresh.lua --pyroscope URL --selector '{service_name="api"}' --auth-env TOKEN
--        pgolua recipes/refresh.lua --file a.pgo --file b.pgo [--src .] [--dry-run]
-- Exit:  0 replaced or unchanged (the last line says which), 1 error (capture, I/O, usage),
--        2 new profile rejected by a check (stderr names the check, its figure and threshold)
--        or the stale check cannot tell (source files unreadable; the target is kept).
--        On exit 1 and 2 the target is byte-identical and no temporary file is left behind;
--        a run killed outright leaves at most one hidden .pgolua-* file, which a refresh
--        in that directory removes once it is 10 minutes old (docs/reliability.md).
-- Adapt: copy this file; change the values under "ADAPT" below (thresholds, which checks
--   run, where the PR body goes, how many frames --compact keeps,
--   a check of your own in accept()). Everything else is library code (pgo.fetch,
--   pgo.backends, pgo.audit, pgo.provenance, pgo.fs).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local units = require "pgo.units"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local SECONDS = 60                  -- capture window per instance (--seconds)
local RETRIES = 2                   -- extra attempts per capture on connection errors and 5xx
local FLEET_MIN_SUCCESS = 0.8       -- a fleet capture fails when fewer instances answer
local WINDOW_FROM = "now-1h"        -- Pyroscope/Parca: the merged window starts here (--from)
-- The new capture, gzip-encoded (p:encode(), before blending and compaction): a healthy
-- service's minute of CPU profile is tens of KiB; a few KiB means an idle process, a
-- proxy's error page that happened to parse, or a capture cut short.
local MIN_BYTES = 10 * 1024
-- Samples of the new capture: the library's one default (pgo.audit.health_defaults(), also
-- what doctor, runbook and pgo.audit.health use: 1000 = 10 s of CPU at Go's 100 Hz). A long
-- fleet capture may hold itself to pgo.audit.health_defaults("fleet").min_samples.
local MIN_SAMPLES = pgo.audit.health_defaults().min_samples
-- Stale cum share (samples with any function on the stack that is gone from --src, each
-- sample once; see recipes/stale.lua) of the profile about to be written.
local MAX_STALE = 0.10
local HEALTH = true                 -- run pgo.audit.health's checks (--health on|off)
-- Thresholds for pgo.audit.health (a number, or false = off; absent = the library default).
-- min_samples is this recipe's own check (MIN_SAMPLES above).
local HEALTH_OPTS = {}              -- e.g. { min_duration = 30, max_gc = false }
local HEALTH_SKIP = {}              -- health checks off by default, e.g. { "max_syscall" }
-- --compact without a value keeps this many leaf frames per sample. The compiler reads only
-- the two leaf frames (frames = 2 is ~4x smaller with identical `go tool preprofile`
-- output), but later stale audits and health checks see only what is kept: 8 frames keep
-- the stale share within a point or two of the full profile's.
local COMPACT_FRAMES = 8
-- Without --pr-body the PR body goes with the run's other outputs, in a new directory under
-- $TMPDIR (printed at the end), never into the source tree beside default.pgo.
local PR_BODY_NAME = "pr.md"
local CONCURRENCY = nil             -- fleet: captures in flight at once (--concurrency); nil =
                                    -- every instance at once (up to half the open-file limit)
-- What a capture may weigh: the response body as received, and the profile gunzipped.
-- Past either it fails (exit 1) before anything is decoded further, so a URL serving some
-- huge download or a gzip bomb never fills the disk or the memory. A real service's CPU
-- profile is a few MiB at most.
local MAX_BYTES = 256 * 1024 * 1024
local MAX_DECOMPRESSED = 1024 * 1024 * 1024
-- A temporary file a killed refresh left beside --out is removed by the next refresh once
-- it is this old and no live process holds it (pgo.fs.sweep_temps).
local STALE_TEMP_SECONDS = 600
local SOURCE_OPTS = { lenient = false }   -- pgo.symbols.go_source options for the stale audit
local DRIFT_OPTS = nil              -- pgo.audit.drift options ({cdf = 99} by default)

-- A check of your own on the new capture (p) before anything is written. facts: {samples,
-- bytes, duration_s, instances, top_function, sources}. Return nil to accept, or a failed
-- check {name = "...", figure = ..., threshold = ..., message = "..."} to reject (exit 2).
local function accept(p, facts) -- luacheck: no unused args
  return nil
end
-- ---------------------------------------------------------------------------------------

local out = recipe.new("refresh")

local parser = argparse("pgolua refresh",
  "Capture CPU profiles, check them and atomically replace default.pgo (with provenance "
  .. "and a pull-request body). Thresholds take a number or \"off\".")
parser:option("--url", "net/http/pprof base URL of an instance (repeat: a fleet, captured at once).")
  :count("*"):argname("URL")
parser:option("--pyroscope", "Grafana Pyroscope base URL (SelectMergeProfile)."):argname("URL")
parser:option("--profile-type", "Pyroscope/Parca profile type (default: the backend's CPU type)."):argname("TYPE")
parser:option("--selector", "Pyroscope/Parca label selector, e.g. '{service_name=\"api\"}'."):argname("SELECTOR")
parser:option("--tenant", "Pyroscope tenant (X-Scope-OrgID)."):argname("TENANT")
parser:option("--parca", "Parca base URL (/api/profiles/query, merge mode)."):argname("URL")
parser:option("--query", "Parca query: profile type and matchers."):argname("QUERY")
parser:option("--from", "Start of the Pyroscope/Parca window (now-24h, RFC 3339, Unix seconds).",
  WINDOW_FROM):argname("TIME")
parser:option("--to", "End of the Pyroscope/Parca window.", "now"):argname("TIME")
parser:option("--file", "A profile file (repeat to merge several).")
  :count("*"):argname("FILE")
parser:option("--auth-env", "Environment variable holding the credential for HTTP sources."):argname("VAR")
parser:option("--auth-file", "File holding the credential instead (first line; mode 0600)."):argname("FILE")
parser:option("--auth-type", "How the credential is sent: bearer (a token) or basic (user:password, "
  .. "as Grafana Cloud wants).", "bearer"):choices { "bearer", "basic" }
parser:option("--ca-file", "CA certificate(s) that sign the servers' TLS certificates."):argname("FILE")
parser:option("--source-name", "Name recorded as the source in the provenance, the PR body and the "
  .. "output, instead of the URLs (keeps a URL with a secret out of files and logs)."):argname("NAME")
parser:option("--concurrency", "Fleet (several --url): captures in flight at once (default: "
  .. "every instance at once, so a fleet takes one window).", CONCURRENCY and tostring(CONCURRENCY))
  :convert(math.tointeger):argname("N")
parser:option("--seconds", "Capture window per instance (--url).",
  tostring(SECONDS)):convert(tonumber):argname("N")
parser:option("--retries", "Extra attempts per capture on connection errors and 5xx.",
  tostring(RETRIES)):convert(math.tointeger):argname("N")
parser:option("--timeout", "Most seconds one HTTP capture attempt may take, window included "
  .. "(default: 1.5 x --seconds + 10 for --url, 120 for Pyroscope and Parca)."):convert(tonumber):argname("S")
parser:option("--out", "The profile to replace (default: default.pgo beside the only package "
  .. "main of --src or ., else ./default.pgo)."):argname("FILE")
parser:option("--src", "Go module root for the stale audit (default: the go.mod found upward "
  .. "from --out's directory; none: the stale check is skipped)."):argname("DIR")
parser:option("--min-bytes", "Least size of the new capture, gzip-encoded (bytes; 0 or off: no check).",
  tostring(MIN_BYTES)):argname("BYTES")
parser:flag("--no-min-bytes", "Same as --min-bytes off.")
parser:option("--min-samples", "Least samples/count of the new capture (0 or off: no check).",
  tostring(MIN_SAMPLES)):argname("N")
parser:flag("--no-min-samples", "Same as --min-samples off.")
parser:option("--max-stale", "Most stale cum share against --src (0..1; off: no check; 0: none at all).",
  tostring(MAX_STALE)):argname("F")
parser:flag("--no-max-stale", "Same as --max-stale off.")
parser:option("--health", "pgo.audit.health's checks: on or off.", HEALTH and "on" or "off")
  :choices { "on", "off" }
parser:flag("--no-health", "Same as --health off.")
parser:option("--health-skip", "Turn one health check off (repeatable), e.g. max_gc.")
  :count("*"):argname("NAME")
parser:option("--merge-existing", "Blend with the current profile: W for the new one, 1-W for "
  .. "the current one, of the new total (0 < W <= 1)."):argname("W")
parser:flag("--skip-unchanged", "Exit 0 without replacing when the compiler's decisions would not change.")
parser:option("--compact", "Keep only what the compiler reads, FRAMES leaf frames per sample "
  .. "(default " .. COMPACT_FRAMES .. ").")
  :args("?"):argname("FRAMES")
parser:flag("--dry-run", "Do everything but the replace (and write no PR body).")
parser:option("--pr-body", "Pull-request body (markdown): a file, - (stdout) or off "
  .. "(default: " .. PR_BODY_NAME .. " in a new directory under $TMPDIR, printed at the end)."):argname("PATH")
parser:flag("--json", "Print JSON instead of text.")
parser:epilog("Exit: 0 replaced or unchanged, 1 error (capture, I/O, usage), 2 the new profile "
  .. "was rejected by a check. Sources may be combined; they are merged.")

-- {=====================================================================================
-- Options

-- A threshold option: false when off ("off", a --no-NAME flag, or 0 for a minimum).
local function threshold(o, key, name, valid, what, zero_is_off)
  if o["no_" .. key] then return false end
  local v = o[key]
  if v == "off" then return false end
  local n = tonumber(v)
  if not n or not valid(n) then
    return nil, ("--%s must be %s, or off; got %s"):format(name, what, tostring(v))
  end
  if zero_is_off and n == 0 then return false end
  return n
end

local HEALTH_NAMES = pgo.audit.health_defaults()

-- What to do about a file system error, by the code pgo.fs returns, or by the errno number
-- Lua's io gives as its third result (27 EFBIG, 28 ENOSPC: the same on Linux, the BSDs and
-- macOS; 122 EDQUOT on Linux).
local FS_ADVICE = {
  permission = "this user may not write there: fix the directory's permissions, run as its owner, or choose another --out",
  read_only = "the file system is mounted read-only: choose an --out on a writable one",
  no_space = "the disk is full or the file size limit (ulimit -f) was reached: free space there or raise the limit",
  [27] = "the file size limit (ulimit -f) was reached: raise it, or choose an --out elsewhere",
  [28] = "the disk is full: free space there, or choose an --out elsewhere",
  [122] = "the disk quota is used up: free space there, or choose an --out elsewhere",
}

-- src/core/fileio.c's own short hints, replaced by FS_ADVICE's (which speak of --out)
local LIBRARY_HINTS = { "; check the file's permissions$", "; the file system is mounted read%-only$",
  "; free some disk space$", "; the file size limit was reached$" }

-- A file system error message (from pgo.fs or Lua's io) with what to do about it.
local function fs_error(msg, code)
  msg = tostring(msg)
  local advice = FS_ADVICE[code]
  if not advice then return msg end
  for _, hint in ipairs(LIBRARY_HINTS) do msg = msg:gsub(hint, "") end
  return msg .. "; " .. advice
end

-- Fails now, not after a minute of capturing, when dir (where target and the temporary
-- files beside it go; captures are received there too) takes no new file: creates a
-- temporary file there and removes it. First removes the stale temporary files that
-- killed pgolua runs left in dir.
local function probe_dir(dir, target)
  pgo.fs.sweep_temps(dir, STALE_TEMP_SECONDS)
  local path, f, code = pgo.fs.tempfile(dir, "pgolua-refresh")
  if not path then
    -- "cannot create a temporary file in DIR: REASON; HINT": ours already says DIR
    local msg = fs_error(f, code)
    return nil, ("cannot write in %s, where %s and its temporary files go: %s"):format(dir, target,
      msg:match("^cannot create a temporary file in .-: (.*)$") or msg)
  end
  f:close()
  os.remove(path)
  return true
end

-- Validated settings from the parsed options, or nil, message.
local function settings(o)
  local s = { urls = o.url or {}, files = o.file or {}, json = o.json, dry_run = o.dry_run,
    skip_unchanged = o.skip_unchanged, notes = {} }
  local err
  if #s.urls == 0 and #s.files == 0 and not o.pyroscope and not o.parca then
    return nil, "no source: give --url, --pyroscope, --parca or --file"
  end
  -- a credential typed on the command line is redacted in every output, but any user of
  -- the machine can read it in ps: say so, and name the safe way
  local typed = {}
  for _, u in ipairs(s.urls) do typed[#typed + 1] = { "--url", u } end
  if o.pyroscope then typed[#typed + 1] = { "--pyroscope", o.pyroscope } end
  if o.parca then typed[#typed + 1] = { "--parca", o.parca } end
  for _, t in ipairs(typed) do
    if pgo.fetch.has_credentials(t[2]) then
      s.notes[#s.notes + 1] = ("%s %s carries a credential on the command line, where other users "
        .. "can see it (ps); put the token in an environment variable and pass --auth-env VAR")
        :format(t[1], pgo.fetch.redact(t[2]))
    end
  end
  if not o.seconds or o.seconds <= 0 then return nil, "--seconds must be a positive number" end
  if not o.retries or o.retries < 0 then return nil, "--retries must be a non-negative integer" end
  if o.concurrency ~= nil and o.concurrency < 1 then
    return nil, "--concurrency must be a positive integer"
  end
  s.concurrency, s.source_name = o.concurrency, o.source_name
  s.seconds, s.retries = o.seconds, o.retries
  if o.timeout ~= nil and not (o.timeout > 0) then return nil, "--timeout must be a positive number of seconds" end
  if o.timeout and #s.urls > 0 and o.timeout <= s.seconds then
    return nil, ("--timeout %g must be longer than --seconds %g: the answer starts when the capture window ends")
      :format(o.timeout, s.seconds)
  end
  s.timeout = o.timeout
  s.min_bytes, err = threshold(o, "min_bytes", "min-bytes",
    function(n) return n >= 0 and math.tointeger(n) end, "a byte count", true)
  if s.min_bytes == nil then return nil, err end
  s.min_samples, err = threshold(o, "min_samples", "min-samples",
    function(n) return n >= 0 end, "a sample count", true)
  if s.min_samples == nil then return nil, err end
  s.max_stale, err = threshold(o, "max_stale", "max-stale",
    function(n) return n >= 0 and n <= 1 end, "a fraction between 0 and 1 (0.10 = 10%)", false)
  if s.max_stale == nil then return nil, err end
  s.health = o.health == "on" and not o.no_health
  s.health_opts = {}
  for k, v in pairs(HEALTH_OPTS) do s.health_opts[k] = v end
  local skips = {}
  for _, name in ipairs(HEALTH_SKIP) do skips[#skips + 1] = name end
  for _, name in ipairs(o.health_skip or {}) do skips[#skips + 1] = name end
  for _, name in ipairs(skips) do
    if name == "min_samples" then
      return nil, "--health-skip min_samples: that is this recipe's own check; use --min-samples off"
    end
    if HEALTH_NAMES[name] == nil then
      local names = {}
      for k in pairs(HEALTH_NAMES) do if k ~= "min_samples" then names[#names + 1] = k end end
      table.sort(names)
      return nil, ("--health-skip %s: no such health check (%s)"):format(name, table.concat(names, ", "))
    end
    s.health_opts[name] = false
  end
  -- the recipe checks these itself, before health
  s.health_opts.cpu_profile, s.health_opts.start_lines, s.health_opts.min_samples = false, false, false
  if o.merge_existing then
    local w = tonumber(o.merge_existing)
    if not w or not (w > 0 and w <= 1) then
      return nil, "--merge-existing must be a weight W with 0 < W <= 1 (the new profile's share)"
    end
    s.merge_existing = w
  end
  if o.compact then
    local n = o.compact[1] and math.tointeger(tonumber(o.compact[1])) or COMPACT_FRAMES
    if not n or n < 2 then return nil, "--compact FRAMES must be an integer of at least 2" end
    s.compact = n
  end
  s.pyroscope, s.parca = o.pyroscope, o.parca
  s.profile_type, s.selector, s.tenant, s.query = o.profile_type, o.selector, o.tenant, o.query
  s.from, s.to, s.auth_env = o.from, o.to, o.auth_env
  s.auth_file, s.auth_type, s.ca_file = o.auth_file, o.auth_type, o.ca_file
  if s.auth_env and s.auth_file then return nil, "give --auth-env or --auth-file, not both" end
  if s.auth_env and (os.getenv(s.auth_env) or "") == "" then
    return nil, ("--auth-env %s: the environment variable is not set or empty"):format(s.auth_env)
  end

  -- the source tree (scanned before any capture: a bad --src fails in a second, not after
  -- a minute of capturing)
  if o.src and s.max_stale ~= false then
    local syms, serr = pgo.symbols.go_source(o.src, SOURCE_OPTS)
    if not syms then return nil, serr end
    s.syms = syms
  end
  s.src = o.src
  if o.out then
    s.out = o.out
  else
    local note
    s.out, note = pgo.repo.default_profile(o.src or ".", { syms = s.syms })
    if note then s.notes[#s.notes + 1] = note end
  end
  local st = pgo.fs.stat(s.out)
  if st and st.type == "directory" then return nil, s.out .. ": is a directory (--out names the file)" end
  s.dir = pgo.fs.dirname(s.out)
  local dst = pgo.fs.stat(s.dir)
  if not dst or dst.type ~= "directory" then
    return nil, ("%s: the directory %s does not exist"):format(s.out, s.dir)
  end
  if s.max_stale ~= false and not s.src then
    s.src = pgo.repo.module_root(s.dir)
    if s.src then
      local syms, serr = pgo.symbols.go_source(s.src, SOURCE_OPTS)
      if not syms then return nil, serr .. " (the module above --out; --max-stale off skips the check)" end
      s.syms = syms
    else
      s.notes[#s.notes + 1] = ("no --src and no go.mod above %s: the stale check is skipped"):format(s.dir)
    end
  end
  if s.syms then
    -- the package main the profile sits beside: its main.* names match only its declarations
    s.main_package = pgo.repo.main_package(s.syms, s.src, s.dir)
  end
  if o.pr_body == "off" then
    s.pr_body = false
  elseif o.pr_body then
    s.pr_body = o.pr_body
  else
    s.pr_body_auto = true        -- made only when there is a body to write
  end
  if s.pr_body and s.pr_body ~= "-" then
    local pd = pgo.fs.stat(pgo.fs.dirname(s.pr_body))
    if not pd or pd.type ~= "directory" then
      return nil, ("--pr-body %s: the directory %s does not exist"):format(s.pr_body, pgo.fs.dirname(s.pr_body))
    end
  end
  local ok, perr = probe_dir(s.dir, s.out)
  if not ok then return nil, perr end
  if s.pr_body and s.pr_body ~= "-" and not s.dry_run and pgo.fs.dirname(s.pr_body) ~= s.dir then
    ok, perr = probe_dir(pgo.fs.dirname(s.pr_body), s.pr_body)
    if not ok then return nil, perr end
  end
  return s
end

-- }=====================================================================================

-- {=====================================================================================
-- Capture: every source into one profile, and the provenance fields that describe it

-- The column PGO weighs edges by: samples/count, else cpu/nanoseconds, else the first.
local function weight_column(p)
  local col
  for i, st in ipairs(p:info().sample_types) do
    if not col and (st.type == "samples" and st.unit == "count") then col = i end
  end
  for i, st in ipairs(p:info().sample_types) do
    if not col and (st.type == "cpu" and st.unit == "nanoseconds") then col = i end
  end
  return col or 1
end

-- acc merged with p (both consumed); returns the merge, or nil, message, code.
local function merge_into(acc, p)
  if not acc then return p end
  local m, err, code = pgo.merge { acc, p }
  acc:close()
  p:close()
  return m, err, code
end

-- "a", "a and 2 more"
local function some(list)
  if #list <= 1 then return list[1] end
  return ("%s and %d more"):format(list[1], #list - 1)
end

local function fetch_opts(s, extra)
  local t = { seconds = s.seconds, dir = s.dir, retries = s.retries, auth_env = s.auth_env,
    auth_file = s.auth_file, auth_type = (s.auth_env or s.auth_file) and s.auth_type or nil,
    ca_file = s.ca_file, quiet = s.json, timeout = s.timeout, max_bytes = MAX_BYTES, max_decompressed = MAX_DECOMPRESSED }
  for k, v in pairs(extra or {}) do t[k] = v end
  if t.seconds == false then t.seconds = nil end   -- the continuous profilers have no window
  return t
end

-- Each source as {p = profile, fields = provenance fields, label = text}; nil, message.
local function capture_sources(s, run)
  local parts = {}
  local function note(msg) run.notes[#run.notes + 1] = msg end
  if #s.files > 0 then
    local acc, first, last, paths = nil, math.huge, 0, {}
    for _, path in ipairs(s.files) do
      local p, err, code = pgo.backends.file { path = path, max_decompressed = MAX_DECOMPRESSED }
      if not p then
        if acc then acc:close() end
        return nil, err, code
      end
      local info = p:info()
      if info.time_ns > 0 then
        first = math.min(first, info.time_ns / 1e9)
        last = math.max(last, (info.time_ns + info.duration_ns) / 1e9)
      end
      paths[#paths + 1] = "file://" .. path
      local m, merr = merge_into(acc, p)
      if not m then return nil, ("--file %s: %s"):format(path, merr) end
      acc = m
    end
    parts[#parts + 1] = { p = acc, label = #s.files == 1 and s.files[1] or (#s.files .. " files"),
      fields = { source = some(paths), window = first < last and { first, last } or nil,
        instances = #s.files,
        aggregated_via = #s.files > 1 and ("pgo.merge of %d files"):format(#s.files) or "none (one file)" } }
  end
  if #s.urls == 1 then
    local p, meta, code, m2 = pgo.fetch.profile(s.urls[1], fetch_opts(s))
    if not p then return nil, meta, code, m2 end
    local fields = pgo.provenance.from_fetch(meta)
    fields.aggregated_via = fields.aggregated_via or "none (one instance)"
    parts[#parts + 1] = { p = p, fields = fields, label = meta.url }
  elseif #s.urls > 1 then
    local p, results, code, r2 = pgo.fetch.fleet(s.urls, fetch_opts(s, { min_success = FLEET_MIN_SUCCESS,
      concurrency = s.concurrency }))
    if not p then return nil, results, code, r2 end
    for _, r in ipairs(results) do
      if not r.ok then note("instance left out of the fleet capture: " .. tostring(r.error)) end
    end
    parts[#parts + 1] = { p = p, fields = pgo.provenance.from_fetch(results),
      label = ("%d of %d instances"):format(results.succeeded, #s.urls) }
  end
  -- Continuous profilers merge every instance the selector matches, without saying how
  -- many: instances stays unknown rather than 1.
  if s.pyroscope then
    local p, meta, code = pgo.backends.pyroscope(fetch_opts(s, { url = s.pyroscope,
      profile_type = s.profile_type, selector = s.selector, tenant = s.tenant,
      from = s.from, to = s.to, seconds = false }))
    if not p then return nil, meta, code end
    local fields = pgo.provenance.from_fetch(meta)
    fields.instances, fields.selector = nil, s.selector or "{}"
    parts[#parts + 1] = { p = p, fields = fields, label = meta.url }
  end
  if s.parca then
    local p, meta, code = pgo.backends.parca(fetch_opts(s, { url = s.parca, query = s.query,
      profile_type = s.profile_type, selector = s.selector, from = s.from, to = s.to,
      seconds = false }))
    if not p then return nil, meta, code end
    local fields = pgo.provenance.from_fetch(meta)
    fields.instances, fields.query = nil, s.query
    parts[#parts + 1] = { p = p, fields = fields, label = meta.url }
  end
  return parts
end

-- A capture's failure, with what to do in this recipe's terms where the library's
-- message names its own options (timeout, max_bytes, max_decompressed).
local function capture_error(s, msg, code, meta)
  msg = tostring(msg)
  if code == "timeout" then
    return msg .. ("; with refresh.lua: --timeout SECONDS (now %s)"):format(
      s.timeout and ("%g s"):format(s.timeout) or "the default")
  elseif code == "too_large" then
    return msg .. "; refresh.lua's limits are MAX_BYTES and MAX_DECOMPRESSED, in the ADAPT "
      .. "section of your copy"
  elseif code == "no_space" then
    return msg .. ("; captures are received in %s, beside --out: free space there or raise the "
      .. "file size limit (ulimit -f)"):format(s.dir)
  elseif code == "truncated" and type(meta) == "table" and math.type(meta.attempts) == "integer" then
    return msg .. ("; %d attempt%s broke off: check the server (or a proxy in between), then run again")
      :format(meta.attempts, meta.attempts == 1 and "" or "s")
  end
  return msg
end

-- One profile and its provenance fields from every source; nil, message.
local function capture(s, run)
  local parts, err, code, meta = capture_sources(s, run)
  if not parts then return nil, capture_error(s, err, code, meta) end
  if s.source_name then                 -- the name stands for every URL, in every output
    for _, part in ipairs(parts) do part.fields.source, part.label = s.source_name, s.source_name end
  end
  if #parts == 1 then return parts[1].p, parts[1].fields, { parts[1].label } end
  local acc, labels, sources, vias = nil, {}, {}, {}
  local first, last, instances = math.huge, 0, 0
  for _, part in ipairs(parts) do
    labels[#labels + 1] = part.label
    sources[#sources + 1] = part.fields.source
    vias[#vias + 1] = part.fields.aggregated_via or "?"
    local w = part.fields.window
    if type(w) == "table" then first, last = math.min(first, w[1]), math.max(last, w[2]) end
    instances = instances and part.fields.instances and instances + part.fields.instances or nil
    local m, merr = merge_into(acc, part.p)
    if not m then return nil, "cannot merge the sources: " .. merr end
    acc = m
  end
  return acc, { source = table.concat(sources, " + "), window = first < last and { first, last } or nil,
    instances = instances, seconds = (#s.urls > 0 and s.seconds) or nil,
    aggregated_via = ("pgo.merge of %d sources (%s)"):format(#parts, table.concat(vias, "; ")) },
    labels
end

-- }=====================================================================================

-- {=====================================================================================
-- Checks: each {name, ok, figure, threshold, message[, skipped]}

local function fmt_figure(name, v)
  if type(v) ~= "number" then return tostring(v) end
  if name == "min_duration" then return ("%.1f s"):format(v) end
  if name == "min_utilization" then return ("%.2f CPUs"):format(v) end
  if name:match("^max_") or name == "min_top10" then return recipe.pct(v) end
  if math.type(v) == "integer" or v == math.floor(v) then return ("%d"):format(v) end
  return ("%.4g"):format(v)
end

local function bound(name)
  return (name:match("^min_") or name == "call_edges") and ">=" or name:match("^max_") and "<=" or "="
end

-- The capture's checks, in order: cpu_profile and start_lines stop the rest (nothing else
-- means anything then); the others all run, so one rejection names every problem.
local function check_capture(s, p, facts)
  local checks = {}
  local function add(c) checks[#checks + 1] = c end
  local info = p:info()
  local kind_ok, kind_msg = p:require_cpu("go build -pgo")    -- the library's one message
  add { name = "cpu_profile", ok = kind_ok == true, figure = info.kind, threshold = "cpu",
    message = kind_ok and "a CPU profile" or kind_msg }
  if not kind_ok then return checks end
  local edges, emsg, ecode = p:edges()
  if not edges then
    add { name = "start_lines", ok = false, figure = ecode or "error", threshold = "start lines",
      message = "go build -pgo rejects it: " .. tostring(emsg) }
    return checks
  end
  facts.edges = #edges
  add { name = "start_lines", ok = true, figure = true, threshold = "start lines",
    message = "functions carry start lines (go build -pgo reads it)" }
  add { name = "call_edges", ok = #edges > 0, figure = #edges, threshold = 1,
    message = #edges > 0 and ("%d call edges"):format(#edges)
      or "no call edges: PGO has nothing to act on" }
  if s.min_samples then
    local ok = facts.samples >= s.min_samples
    add { name = "min_samples", ok = ok, figure = facts.samples, threshold = s.min_samples,
      message = ok and ("%d samples (at least %d)"):format(facts.samples, s.min_samples) or
        ("only %d samples, at least %d needed: capture longer or from more instances")
          :format(facts.samples, s.min_samples) }
  else
    add { name = "min_samples", ok = true, skipped = true, figure = facts.samples, threshold = false,
      message = "off" }
  end
  if s.min_bytes then
    local ok = facts.bytes >= s.min_bytes
    add { name = "min_bytes", ok = ok, figure = facts.bytes, threshold = s.min_bytes,
      message = ok and ("%d bytes encoded (at least %d)"):format(facts.bytes, s.min_bytes) or
        ("only %d bytes encoded, at least %d expected: an idle or cut-short capture")
          :format(facts.bytes, s.min_bytes) }
  else
    add { name = "min_bytes", ok = true, skipped = true, figure = facts.bytes, threshold = false,
      message = "off" }
  end
  if s.health then
    local h = pgo.audit.health(p, s.health_opts)
    for _, c in ipairs(h.checks) do
      add { name = c.name, ok = c.ok, figure = c.figure, threshold = c.threshold,
        message = c.message, skipped = c.skipped }
    end
  end
  local own = accept(p, facts)
  if own then
    own.ok = false
    add(own)
  end
  return checks
end

-- The stale check of the profile about to be written.
local function check_stale(s, p)
  if s.max_stale == false then
    return { name = "max_stale", ok = true, skipped = true, threshold = false, message = "off" }
  end
  if not s.syms then
    return { name = "max_stale", ok = true, skipped = true, threshold = s.max_stale,
      message = "skipped: no Go module (--src) to check against" }
  end
  local r = pgo.audit.stale(p, s.syms, { main_package = s.main_package })
  if r.verdict == "inconclusive" then           -- source files it could not read
    local files = r.inconclusive or {}
    return { name = "max_stale", ok = false, inconclusive = true, figure = r.cum_fraction,
      threshold = s.max_stale, message = ("cannot tell: %s under %s could not be read (%s)")
        :format(units.plural(#files, "source file"), s.src, table.concat(files, ", ")) }, r
  end
  local ok = r.cum_fraction <= s.max_stale
  local names = {}
  for i = 1, math.min(3, #r.functions) do names[i] = r.functions[i].name end
  return { name = "max_stale", ok = ok, figure = r.cum_fraction, threshold = s.max_stale,
    message = ok and ("%s of the samples (cum) run through functions gone from %s (at most %s)")
      :format(recipe.pct(r.cum_fraction), s.src, recipe.pct(s.max_stale)) or
      ("%s of the samples (cum) run through functions gone from %s (at most %s): %s%s; the "
        .. "service runs older code than the source: capture after the deploy")
        :format(recipe.pct(r.cum_fraction), s.src, recipe.pct(s.max_stale), table.concat(names, ", "),
          #r.functions > 3 and (" and %d more"):format(#r.functions - 3) or "") }, r
end

-- }=====================================================================================

-- {=====================================================================================
-- Blend, write

-- new and old scaled to W and 1-W of the new profile's total T (the weight column,
-- samples/count) with p:scale, then merged (pgo.merge). p:scale rounds every value half
-- away from zero, so each part's samples/count total is W*T and (1-W)*T only up to half a
-- sample per stack: one-sample stacks stay 1 at W = 0.5 (both parts come out above their
-- targets) and vanish below it. cpu/nanoseconds scales without visible rounding. The
-- result reports the targets, the actual parts and the share the new profile got.
local function blend(new, old, w)
  local tn = new:total { sample_index = weight_column(new) }
  local to = old:total { sample_index = weight_column(old) }
  if to == 0 then return nil, "the current profile holds no samples: nothing to blend with" end
  local f_old = (1 - w) * tn / to
  local a, err = new:scale(w)
  if not a then return nil, err end
  local b, err2 = old:scale(f_old)
  if not b then return nil, err2 end
  local m, merr, mcode = pgo.merge { a, b }
  local shape
  if not m and mcode == "incompatible" then
    -- e.g. the current profile was written with --compact (one weight column): bring both
    -- to the compiler's shape, every frame kept
    shape = "compact_for_pgo (sample types differed)"
    local ca, cerr = a:compact_for_pgo {}
    local cb, cerr2 = b:compact_for_pgo {}
    if not ca or not cb then return nil, "cannot blend with the current profile: " .. tostring(cerr or cerr2) end
    m, merr = pgo.merge { ca, cb }
    a, b = ca, cb
  end
  if not m then return nil, "cannot blend with the current profile: " .. merr end
  local info = {
    weight = w, new_total = tn, existing_total = to, existing_factor = f_old,
    target_new = w * tn, target_existing = (1 - w) * tn,
    new_part = a:total { sample_index = weight_column(a) },
    existing_part = b:total { sample_index = weight_column(b) },
    total = m:total { sample_index = weight_column(m) },
    converted = shape,
  }
  info.new_share = info.total > 0 and info.new_part / info.total or 0
  return m, info
end

-- Write bytes (what: "the new profile", ...) to a new temporary file in dir, flushed to the
-- disk when sync; returns its path, or nil, message. The file stays open, in run.temps,
-- until it is renamed (done_temp) or main removes it: its open descriptor holds the lock
-- that tells a concurrent refresh's sweep of stale temporary files that it is live.
local function write_temp(run, dir, bytes, prefix, what, sync)
  local path, f, code = pgo.fs.tempfile(dir, prefix)
  if not path then return nil, ("cannot write %s in %s: %s"):format(what, dir, fs_error(f, code)) end
  run.temps[path] = f
  local ok, err, errno = f:write(bytes)
  if ok then ok, err, errno = f:flush() end
  if not ok then
    return nil, ("cannot write %s (%d bytes) to %s: %s"):format(what, #bytes, path, fs_error(err, errno))
  end
  if sync then
    local synced, serr, scode = pgo.fs.fsync(path)
    if not synced then return nil, ("cannot write %s: %s"):format(what, fs_error(serr, scode)) end
  end
  return path
end

-- A temporary file of write_temp is in place (renamed): close it, forget it.
local function done_temp(run, path)
  local f = run.temps[path]
  if io.type(f) == "file" then f:close() end
  run.temps[path] = nil
end

-- The extra section of the PR body: the checks and the compiler drift (numbers and check
-- names only; every cell is a code span or a number).
local function pr_extra(res)
  local lines = { "", "#### Checks (`pgolua recipes/refresh.lua`)", "",
    "| check | result | figure | threshold |", "|---|---|---|---|" }
  for _, c in ipairs(res.checks) do
    local thr = c.threshold == false and "off" or
      (type(c.threshold) == "number" and (bound(c.name) .. " " .. fmt_figure(c.name, c.threshold)))
      or tostring(c.threshold)
    lines[#lines + 1] = ("| %s | %s | %s | %s |"):format(recipe.md_code(c.name, true),
      c.skipped and "skipped" or (c.ok and "pass" or "FAIL"),
      c.figure == nil and "" or recipe.md_code(fmt_figure(c.name, c.figure), true),
      recipe.md_code(thr, true))
  end
  if res.blend then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("Blended with the previous profile: %s new, %s previous (of %d samples)")
      :format(recipe.pct(res.blend.weight, 0), recipe.pct(1 - res.blend.weight, 0), res.blend.new_total)
  end
  if res.drift then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("Compiler drift: hot call sites Jaccard %.2f, edge overlap %.2f; %s.")
      :format(res.drift.hot_sites_jaccard, res.drift.edge_overlap,
        res.drift.changes_compiler_decisions and ("changes " .. table.concat(res.drift.reasons, ", "))
          or "no change in the compiler's decisions")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- }=====================================================================================

-- {=====================================================================================
-- The run

-- The facts people read about a profile: samples (the one figure, pgo.profile's), sample
-- records, duration and top function; nil, message, code for a profile with no samples.
local function fact_of(p)
  local rows, msg, code = p:top { n = 1 }
  if not rows then return nil, msg, code end
  local info = p:info()
  return { samples = info.samples or 0, sample_records = info.sample_records,
    duration_s = info.duration_ns / 1e9, top_function = rows[1] and rows[1].name or nil }
end

-- Everything from capture to replace. Fills run.res; returns the exit code.
local function refresh(s, run)
  local res = run.res
  local function fail(msg)
    res.status, res.error = "error", ("%s; %s not replaced"):format(recipe.clean_error(msg), s.out)
    return recipe.EXIT.error
  end

  -- the current profile (loaded first: a blend with an unreadable one fails before capturing)
  local before
  if pgo.fs.exists(s.out) then
    local p, err = pgo.load(s.out)
    local f, ferr
    if p then f, ferr = fact_of(p) end
    if p and not f then        -- it decodes but holds nothing: as broken as one that does not
      p:close()
      p, err = nil, ("%s: %s"):format(s.out, ferr)
    end
    if p and s.merge_existing and p:info().kind ~= "cpu" then
      return fail(("%s is a %s profile, not a CPU profile: --merge-existing cannot blend with it")
        :format(s.out, p:info().kind))
    elseif p then
      before = p
      res.previous = { exists = true, samples = f.samples, top_function = f.top_function }
    else
      res.previous = { exists = true, error = err }
      if s.merge_existing then return fail(err .. " (--merge-existing needs the current profile)") end
      run.notes[#run.notes + 1] = "the current profile does not load; it will be replaced: " .. err
    end
  else
    res.previous = { exists = false }
    if s.merge_existing then
      run.notes[#run.notes + 1] = s.out .. " does not exist yet: --merge-existing has nothing to blend with"
    end
  end

  -- capture and merge
  local p, fields, labels = capture(s, run)
  if not p then return fail(fields) end
  res.sources = recipe.array(labels)
  local facts, ferr = fact_of(p)
  if not facts then return fail(("%s: %s"):format(table.concat(labels, " + "), ferr)) end
  local encoded, eerr = p:encode()
  if not encoded then return fail(eerr) end
  facts.bytes = #encoded
  facts.instances = fields.instances
  facts.sources = labels
  res.capture = facts

  -- validate and health (the capture), stale (what will be written)
  res.checks = recipe.array(check_capture(s, p, facts))
  local final = p
  local passed, usable = true, false
  for _, c in ipairs(res.checks) do
    passed = passed and c.ok
    if c.name == "start_lines" then usable = c.ok end     -- a CPU profile the compiler reads
  end
  if passed and s.merge_existing and before then
    local m, info = blend(p, before, s.merge_existing)
    if not m then return fail(info) end
    final, res.blend = m, info
    local edges, emsg, ecode = final:edges()
    if not edges then
      res.checks[#res.checks + 1] = { name = "blend_start_lines", ok = false, figure = ecode,
        threshold = "start lines", message = "the blend with the current profile: go build -pgo rejects it: " .. emsg }
    end
  end
  if usable then
    local c, report = check_stale(s, final)
    res.checks[#res.checks + 1] = c
    if report then
      res.stale = { cum_fraction = report.cum_fraction, flat_fraction = report.flat_fraction,
        stale_cum = report.stale_cum, total = report.total, module = report.module,
        functions = recipe.array() }
      for i = 1, math.min(10, #report.functions) do
        local f = report.functions[i]
        res.stale.functions[i] = { name = f.name, flat = f.flat, cum = f.cum }
      end
    end
  end
  local failed = {}
  for _, c in ipairs(res.checks) do
    if not c.ok then failed[#failed + 1] = c end
  end
  if #failed == 1 and failed[1].inconclusive then   -- neither fresh nor stale: keep the target
    res.status = "inconclusive"
    res.error = ("%s; %s kept (fix the files, or --max-stale off)"):format(failed[1].message, s.out)
    return recipe.EXIT.failed
  end
  if #failed > 0 then
    res.status = "rejected"
    res.rejected_by = recipe.array()
    local why = {}
    for _, c in ipairs(failed) do
      res.rejected_by[#res.rejected_by + 1] = c.name
      if type(c.threshold) == "number" then
        why[#why + 1] = ("%s: %s, threshold %s %s: %s"):format(c.name, fmt_figure(c.name, c.figure),
          bound(c.name), fmt_figure(c.name, c.threshold), c.message)
      else
        why[#why + 1] = ("%s: %s, needs %s: %s"):format(c.name, fmt_figure(c.name, c.figure),
          tostring(c.threshold), c.message)
      end
    end
    res.error = ("new profile rejected by %s; %s not replaced"):format(table.concat(why, "; "), s.out)
    return recipe.EXIT.failed
  end

  -- the profile to write
  if s.compact then
    local cp, cinfo = final:compact_for_pgo { frames = s.compact }
    if not cp then return fail(cinfo) end
    final = cp
    res.compact = { frames = s.compact }
  end
  if before then
    local ok, d = pcall(pgo.audit.drift, before, final, DRIFT_OPTS)
    if ok and d then
      res.drift = { changes_compiler_decisions = d.changes_compiler_decisions,
        reasons = recipe.array(d.reasons), hot_sites_jaccard = d.hot_sites.jaccard,
        weighted_hot_edges = d.hot_edges.weighted, edge_overlap = d.edge_overlap,
        hot_functions_entered = #d.hot_functions.entered, hot_functions_left = #d.hot_functions.left,
        devirt_targets_changed = #d.devirt_targets }
    else
      run.notes[#run.notes + 1] = "cannot compare with the current profile: " .. recipe.clean_error(d)
    end
  end
  if s.skip_unchanged then
    if res.drift and not res.drift.changes_compiler_decisions then
      res.status = "unchanged"
      return recipe.EXIT.ok
    elseif not res.drift then
      run.notes[#run.notes + 1] = res.previous.exists
        and "--skip-unchanged: the current profile cannot be compared with; replacing it"
        or "--skip-unchanged: no current profile; writing the first one"
    end
  end

  -- provenance, in the profile before it is written
  local wf = assert(fact_of(final))   -- checked above: it has samples
  fields.top_function = wf.top_function
  fields.samples = math.tointeger(wf.samples) or wf.samples
  if s.merge_existing and res.blend then
    fields.blend = ("%g new + %g previous"):format(s.merge_existing, 1 - s.merge_existing)
  end
  if s.compact then fields.compact_frames = s.compact end
  res.provenance_line = pgo.provenance.record(final, fields)
  res.provenance = pgo.provenance.read(final)
  local bytes, berr = final:encode()
  if not bytes then return fail(berr) end
  res.written = { bytes = #bytes, samples = wf.samples, top_function = wf.top_function }
  local body = pgo.provenance.pr_body(before, final, res.provenance) .. pr_extra(res)
  res.pr_body_markdown = body

  -- Temporary files beside their targets, then the replace. Both are written before
  -- either is renamed, so a full disk fails the run with the target untouched; the
  -- profile is flushed to the disk first, which leaves only the small PR body's write and
  -- the rename between the body's temporary file appearing and the profile's going away
  -- (a kill -9 there leaves both; see docs/reliability.md).
  local tmp, terr = write_temp(run, s.dir, bytes, "pgolua-refresh", "the new profile", true)
  if not tmp then return fail(terr) end
  local check, cerr = pgo.load(tmp)           -- what is on disk is what was checked
  if not check then return fail("the written temporary file does not load back: " .. tostring(cerr)) end
  check:close()
  local body_tmp
  if s.pr_body_auto and not s.dry_run then
    local dir, derr = pgo.fs.mkdtemp(os.getenv("TMPDIR") or "/tmp", "pgolua-refresh")
    if not dir then return fail("cannot make a directory for the PR body: " .. tostring(derr) .. "; pass --pr-body PATH") end
    s.pr_body = dir .. "/" .. PR_BODY_NAME
  end
  if s.pr_body and s.pr_body ~= "-" and not s.dry_run then
    body_tmp, terr = write_temp(run, pgo.fs.dirname(s.pr_body), body, "pgolua-refresh-pr", "the PR body")
    if not body_tmp then return fail(terr) end
  end
  if s.pr_body == "-" then res.pr_body = "-" end
  if s.dry_run then
    res.status = "dry_run"
    return recipe.EXIT.ok
  end
  local ok, rerr, rcode = pgo.fs.replace(tmp, s.out)
  if not ok then return fail(("cannot replace %s: %s"):format(s.out, fs_error(rerr, rcode))) end
  done_temp(run, tmp)
  res.status = "replaced"
  if body_tmp then
    local bok, brerr, bcode = pgo.fs.replace(body_tmp, s.pr_body)
    if not bok then
      res.status = "error"
      res.error = ("%s was replaced, but the PR body was not written: %s: %s"):format(s.out,
        s.pr_body, fs_error(brerr, bcode))
      return recipe.EXIT.error
    end
    done_temp(run, body_tmp)
    res.pr_body = s.pr_body
  end
  return recipe.EXIT.ok
end

-- }=====================================================================================

-- {=====================================================================================
-- Output

local MARKS = { ok = "\u{2713}", fail = "\u{2717}", skip = "-" }

local function print_text(s, res)
  local w = function(...) io.write(...) io.write("\n") end
  if res.capture then
    local c = res.capture
    w(("refresh: %s -> %s"):format(table.concat(res.sources or {}, " + "), s.out))
    w(("  capture       %d samples over %.1f s%s, %d bytes encoded; top %s"):format(
      c.samples, c.duration_s, c.instances and (", " .. c.instances .. " instance"
        .. (c.instances == 1 and "" or "s")) or "", c.bytes, tostring(c.top_function)))
  end
  for _, c in ipairs(res.checks or {}) do
    local mark = c.skipped and MARKS.skip or c.inconclusive and "?" or (c.ok and MARKS.ok or MARKS.fail)
    w(("  %s %-14s %s"):format(mark, c.name, c.message or ""))
  end
  if res.blend then
    local b = res.blend
    w(("  blend         %g new (%d of %d target), %g current (%d of %d target): %d samples")
      :format(b.weight, b.new_part, math.floor(b.target_new + 0.5), 1 - b.weight, b.existing_part,
        math.floor(b.target_existing + 0.5), b.total))
  end
  if res.compact then w(("  compact       %d leaf frames per sample"):format(res.compact.frames)) end
  if res.drift then
    local d = res.drift
    w(("  drift         %s (hot call sites Jaccard %.2f, edge overlap %.2f)"):format(
      d.changes_compiler_decisions and ("changes " .. table.concat(d.reasons, ", "))
        or "same compiler decisions", d.hot_sites_jaccard, d.edge_overlap))
  end
  local wr = res.written
  if res.status == "replaced" then
    w(("replaced %s: %d samples, %d bytes, top %s%s"):format(s.out, wr.samples, wr.bytes,
      tostring(wr.top_function), res.pr_body and res.pr_body ~= "-" and ("; PR body " .. res.pr_body) or ""))
  elseif res.status == "unchanged" then
    w(("unchanged: %s kept: the new profile makes the same compiler decisions (hot call sites, "
      .. "hot callees, devirtualization targets)"):format(s.out))
  elseif res.status == "dry_run" then
    w(("dry run: would replace %s: %d samples, %d bytes, top %s (nothing written)")
      :format(s.out, wr.samples, wr.bytes, tostring(wr.top_function)))
  elseif res.status == "inconclusive" then
    w(("CANNOT TELL whether the new profile is stale: %s kept"):format(s.out))
  elseif res.status == "rejected" then
    w(("REJECTED by %s: %s not replaced"):format(table.concat(res.rejected_by, ", "), s.out))
  end
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  local s, err = settings(o)
  if not s then
    if o.json then
      io.write(recipe.json { status = "error", error = recipe.clean_error(err), exit = recipe.EXIT.error }, "\n")
    end
    return out:fail(err)
  end
  local run = { temps = {}, notes = s.notes, res = { out = s.out, src = s.src or false,
    dry_run = s.dry_run or false } }
  local done, exit = xpcall(refresh, debug.traceback, s, run)
  for path, f in pairs(run.temps) do                            -- every failure path
    if io.type(f) == "file" then f:close() end
    os.remove(path)
  end
  local res = run.res
  if not done then                                              -- Ctrl-C, or a bug
    local msg = tostring(exit)
    res.status, exit = "error", recipe.EXIT.error
    res.error = msg:find("interrupted!", 1, true) and "interrupted; nothing replaced" or ("BUG: " .. msg)
  end
  res.exit = exit
  res.notes = recipe.array(run.notes)
  for _, n in ipairs(run.notes) do out:note("note: " .. n) end
  if res.error then out:note(res.error) end
  if o.json then
    io.write(recipe.json(res), "\n")
  else
    print_text(s, res)
  end
  if res.pr_body == "-" and not o.json then io.write("\n", res.pr_body_markdown) end
  return exit
end

os.exit(main(arg))
