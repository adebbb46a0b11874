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
--        or the stale check cannot tell (source files unreadable; the target is kept). On 1
--        and 2 the target is byte-identical and no temporary file is left; a killed run leaves
--        at most one hidden .pgolua-* file, swept by a refresh there once 10 minutes old.
-- Adapt: copy this file; change the values under "ADAPT" below (thresholds, which checks
--   run, where the PR body goes, how many frames --compact keeps, a check of your own in
--   accept()). The machinery is library code: pgo.refresh over pgo.capture (sources,
--   retries, limits, credentials), pgo.replace (the replace transaction) and pgo.audit.
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local SECONDS = 60                  -- capture window per instance (--seconds)
local RETRIES = 2                   -- extra attempts per capture on connection errors and 5xx
local FLEET_MIN_SUCCESS = 0.8       -- a fleet capture fails when fewer instances answer
local WINDOW_FROM = "now-1h"        -- Pyroscope/Parca: the merged window starts here (--from)
-- The library's one table of thresholds (pgo.checks: doctor's, runbook's, stale's too); a
-- long fleet capture may hold itself to pgo.checks.defaults("fleet") (30000 samples).
-- min_bytes: gzip-encoded size (10 KiB; a few KiB: idle, cut short, an error page).
local DEFAULTS = pgo.checks.defaults()
local MIN_BYTES, MIN_SAMPLES, MAX_STALE = DEFAULTS.min_bytes, DEFAULTS.min_samples, DEFAULTS.max_stale
local HEALTH = true                 -- run pgo.audit.health's checks (--health on|off)
local HEALTH_OPTS = {}              -- its thresholds, e.g. { min_duration = 30, max_gc = false }
local HEALTH_SKIP = {}              -- health checks off by default, e.g. { "max_syscall" }
local COMPACT_FRAMES = 8            -- --compact: leaf frames kept (the compiler reads 2)
local PR_BODY_NAME = "pr.md"        -- without --pr-body: in a new directory under $TMPDIR
local CONCURRENCY = nil             -- fleet: captures in flight at once; nil = all at once
local MAX_BYTES = 256 * 1024 * 1024 -- what a capture may weigh as received, and gunzipped:
local MAX_DECOMPRESSED = 1024 * 1024 * 1024   -- past either it fails (exit 1)
local STALE_TEMP_SECONDS = 600      -- a killed run's temporary file is swept past this age
local SOURCE_OPTS = { lenient = false }   -- pgo.symbols.go_source options (--lenient sets it)
local DRIFT_OPTS = nil              -- pgo.audit.drift options ({cdf = 99} by default)
-- What to do in this command's terms, by res.code and by each of res.hints (a note of its own).
local ADVICE = {
  timeout = "with refresh.lua: --timeout SECONDS (now %s)",
  too_large = "refresh.lua's limits are MAX_BYTES and MAX_DECOMPRESSED, in the ADAPT section of your copy",
  no_space = "free space in %s (captures are received there too) or raise the file size limit (ulimit -f), or choose another --out",
  permission = "fix the directory's permissions, run as its owner, or choose another --out",
  read_only = "choose an --out on a writable file system", go_syntax = "--lenient reads such files as far as they go",
  inconclusive = "--max-stale off skips the stale check", no_module = "--src DIR names the Go module to check against",
  module_unreadable = "--src DIR names another module, --max-stale off skips the stale check",
  blend_current = "without --merge-existing the current profile is replaced", symlink = "--follow-symlink writes through the link",
  pr_body = "--pr-body PATH puts it elsewhere, off skips it", credential = "put it in an environment variable: --auth-env VAR",
}

-- A check of your own on the new capture (p) before anything is written. facts: {samples,
-- bytes, duration_s, instances, top_function, sources}. Return nil to accept, or a failed
-- check {name = "...", figure = ..., threshold = ..., message = "..."} to reject (exit 2).
local function accept(p, facts) return nil end -- luacheck: no unused args
-- ---------------------------------------------------------------------------------------
local out = recipe.new("refresh")

local parser = argparse("pgolua refresh", "Capture CPU profiles, check them and atomically replace "
  .. "default.pgo (with provenance and a pull-request body). Thresholds take a number or \"off\".")
parser:option("--url", "net/http/pprof base URL of an instance (repeat: a fleet, captured at once)."):count("*"):argname("URL")
parser:option("--pyroscope", "Grafana Pyroscope base URL (SelectMergeProfile)."):argname("URL")
parser:option("--profile-type", "Pyroscope/Parca profile type (default: the backend's CPU type)."):argname("TYPE")
parser:option("--selector", "Pyroscope/Parca label selector, e.g. '{service_name=\"api\"}'."):argname("SELECTOR")
parser:option("--tenant", "Pyroscope tenant (X-Scope-OrgID)."):argname("TENANT")
parser:option("--parca", "Parca base URL (/api/profiles/query, merge mode)."):argname("URL")
parser:option("--query", "Parca query: profile type and matchers."):argname("QUERY")
parser:option("--from", "Start of the Pyroscope/Parca window (now-24h, RFC 3339, Unix seconds).", WINDOW_FROM):argname("TIME")
parser:option("--to", "End of the Pyroscope/Parca window.", "now"):argname("TIME")
parser:option("--file", "A profile file (repeat to merge several)."):count("*"):argname("FILE")
parser:option("--auth-env", "Environment variable holding the credential for HTTP sources."):argname("VAR")
parser:option("--auth-file", "File holding the credential instead (first line; mode 0600)."):argname("FILE")
parser:option("--auth-type", "How the credential is sent: bearer (a token) or basic (user:password, "
  .. "as Grafana Cloud wants).", "bearer"):choices { "bearer", "basic" }
parser:option("--ca-file", "CA certificate(s) that sign the servers' TLS certificates."):argname("FILE")
parser:option("--source-name", "Name recorded as the source in the provenance, the PR body and the "
  .. "output, instead of the URLs (keeps a URL with a secret out of files and logs)."):argname("NAME")
parser:option("--concurrency", "Fleet (several --url): captures in flight at once (default: every instance at once, "
  .. "so a fleet takes one window).", CONCURRENCY and tostring(CONCURRENCY)):convert(math.tointeger):argname("N")
parser:option("--seconds", "Capture window per instance (--url).", tostring(SECONDS)):convert(tonumber):argname("N")
parser:option("--retries", "Extra attempts per capture on connection errors and 5xx.",
  tostring(RETRIES)):convert(math.tointeger):argname("N")
parser:option("--timeout", "Most seconds one HTTP capture attempt may take, window included "
  .. "(default: 1.5 x --seconds + 10 for --url, 120 for Pyroscope and Parca)."):convert(tonumber):argname("S")
parser:option("--out", "The profile to replace (default: default.pgo beside the only package "
  .. "main of --src or ., else ./default.pgo)."):argname("FILE")
parser:option("--src", "Go module root for the stale audit (default: the go.mod found upward "
  .. "from --out's directory; none: the stale check is skipped)."):argname("DIR")
parser:option("--min-bytes", "Least size of the new capture, gzip-encoded (bytes; 0 or off: no check).", tostring(MIN_BYTES))
parser:flag("--no-min-bytes", "Same as --min-bytes off.")
parser:option("--min-samples", "Least samples of the new capture (0 or off: no check).", tostring(MIN_SAMPLES))
parser:flag("--no-min-samples", "Same as --min-samples off.")
parser:option("--max-stale", "Most stale cum share against --src (0..1; off: no check; 0: none at all).",
  tostring(MAX_STALE)):argname("F")
parser:flag("--no-max-stale", "Same as --max-stale off.")
parser:option("--health", "pgo.audit.health's checks: on or off.", HEALTH and "on" or "off"):choices { "on", "off" }
parser:flag("--no-health", "Same as --health off.")
parser:option("--health-skip", "Turn one health check off (repeatable), e.g. max_gc."):count("*"):argname("NAME")
parser:option("--merge-existing", "Blend with the current profile: W for the new one, 1-W for "
  .. "the current one, of the new total (0 < W <= 1)."):argname("W")
parser:flag("--skip-unchanged", "Exit 0 without replacing when the compiler's decisions would not change.")
parser:option("--compact", "Keep only what the compiler reads, FRAMES leaf frames per sample "
  .. "(default " .. COMPACT_FRAMES .. ")."):args("?"):argname("FRAMES")
parser:flag("--dry-run", "Do everything but the replace (and write no PR body).")
parser:option("--pr-body", "Pull-request body (markdown): a file, - (stdout) or off "
  .. "(default: " .. PR_BODY_NAME .. " in a new directory under $TMPDIR, printed at the end)."):argname("PATH")
parser:flag("--lenient", "Read Go source files that do not parse as far as they go (the stale check).")
parser:flag("--follow-symlink", "When --out is a symbolic link, write through it into the file it "
  .. "points to (default: replace the link by a regular file, and say so).")
parser:flag("--json", "Print JSON instead of text.")
parser:epilog("Exit: 0 replaced or unchanged, 1 error (capture, I/O, usage), 2 the new profile "
  .. "was rejected by a check. Sources may be combined; they are merged.")

-- A threshold option: false when off ("off", a --no-NAME flag, or 0 for a minimum).
local function threshold(o, key, valid, what, zero_is_off)
  if o["no_" .. key] or o[key] == "off" then return false end
  local n = tonumber(o[key])
  if not n or not valid(n) then
    error(("--%s must be %s, or off; got %s"):format(key:gsub("_", "-"), what, tostring(o[key])), 0)
  end
  return not (zero_is_off and n == 0) and n
end

local function check(cond, msg, ...) if not cond then error(msg:format(...), 0) end end
-- The pgo.refresh.run spec from the parsed options; raises a usage message.
local function spec_of(o)
  local function backend(url, t)    -- a Pyroscope or Parca source, with the window
    if not url then return nil end
    t.url, t.from, t.to, t.profile_type, t.selector = url, o.from, o.to, o.profile_type, o.selector
    return t
  end
  local sources = { files = o.file, urls = o.url, pyroscope = backend(o.pyroscope, { tenant = o.tenant }),
    parca = backend(o.parca, { query = o.query }) }
  check(pgo.capture.has_source(sources), "no source: give --url, --pyroscope, --parca or --file")
  check(o.seconds and o.seconds > 0, "--seconds must be a positive number")
  check(o.retries and o.retries >= 0, "--retries must be a non-negative integer")
  check(o.concurrency == nil or o.concurrency >= 1, "--concurrency must be a positive integer")
  check(o.timeout == nil or o.timeout > 0, "--timeout must be a positive number of seconds")
  check(not (o.timeout and #o.url > 0 and o.timeout <= o.seconds), "--timeout %g must be longer than "
    .. "--seconds %g: the answer starts when the capture window ends", o.timeout or 0, o.seconds)
  check(not (o.auth_env and o.auth_file), "give --auth-env or --auth-file, not both")
  check(not o.auth_env or (os.getenv(o.auth_env) or "") ~= "",
    "--auth-env %s: the environment variable is not set or empty", tostring(o.auth_env))
  local names, skippable = {}, {}       -- health checks with a threshold, but this recipe's own
  for _, k in ipairs(pgo.checks.names("health")) do
    if k ~= "min_samples" and DEFAULTS[k] then names[#names + 1], skippable[k] = k, true end
  end
  for _, list in ipairs { HEALTH_SKIP, o.health_skip } do
    for _, name in ipairs(list) do
      check(name ~= "min_samples", "--health-skip min_samples: that is this recipe's own check; use --min-samples off")
      check(skippable[name], "--health-skip %s: no such health check (%s)", name, table.concat(names, ", "))
      HEALTH_OPTS[name] = false
    end
  end
  local w = o.merge_existing and (tonumber(o.merge_existing) or 0)    -- 0: not a number, refused
  check(not w or (w > 0 and w <= 1), "--merge-existing must be a weight W with 0 < W <= 1 (the new profile's share)")
  local compact = o.compact and (o.compact[1] and math.tointeger(tonumber(o.compact[1])) or COMPACT_FRAMES)
  check(not o.compact or (compact and compact >= 2), "--compact FRAMES must be an integer of at least 2")
  SOURCE_OPTS.lenient = o.lenient or SOURCE_OPTS.lenient
  if o.pr_body == "off" then o.pr_body = false end
  return { sources = sources, out = o.out, src = o.src, dry_run = o.dry_run, skip_unchanged = o.skip_unchanged,
    capture = { seconds = o.seconds, retries = o.retries, timeout = o.timeout, concurrency = o.concurrency,
      min_success = FLEET_MIN_SUCCESS, max_bytes = MAX_BYTES, max_decompressed = MAX_DECOMPRESSED,
      auth_env = o.auth_env, auth_file = o.auth_file, auth_type = o.auth_type, ca_file = o.ca_file,
      quiet = o.json, source_name = o.source_name },
    min_bytes = threshold(o, "min_bytes", function(n) return n >= 0 and math.tointeger(n) end, "a byte count", true),
    min_samples = threshold(o, "min_samples", function(n) return n >= 0 end, "a sample count", true),
    max_stale = threshold(o, "max_stale", function(n) return n >= 0 and n <= 1 end,
      "a fraction between 0 and 1 (0.10 = 10%)", false),
    health = o.health == "on" and not o.no_health, health_opts = HEALTH_OPTS, merge_existing = w,
    compact = compact, pr_body = o.pr_body, pr_body_name = PR_BODY_NAME, follow_symlink = o.follow_symlink,
    source_opts = SOURCE_OPTS, drift_opts = DRIFT_OPTS, accept = accept, stale_seconds = STALE_TEMP_SECONDS }
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  local ok, spec = pcall(spec_of, o)
  if not ok then
    if o.json then io.write(recipe.json { status = "error", error = spec, exit = recipe.EXIT.error }, "\n") end
    return out:fail(spec)
  end
  for _, t in ipairs(pgo.capture.typed_credentials(spec.sources)) do out:note("note: " .. t.message .. ": " .. ADVICE.credential) end
  local res, exit = pgo.refresh.run(spec)
  local now = res.code == "timeout" and (o.timeout and ("%g s"):format(o.timeout) or "the default")
  local function advice(code) return ADVICE[code] and ADVICE[code]:format(now or pgo.fs.dirname(res.out or ".")) end
  if res.error and advice(res.code) then res.error = res.error .. "; " .. advice(res.code) end
  for _, n in ipairs(res.notes) do out:note("note: " .. n) end
  for _, h in ipairs(res.hints) do if advice(h) then out:note("note: " .. advice(h)) end end
  if res.error then out:note(res.error) end
  io.write(o.json and (recipe.json(res) .. "\n") or pgo.refresh.text(res))
  if res.pr_body == "-" and not o.json then io.write("\n", res.pr_body_markdown) end
  return exit
end

os.exit(main(arg))
