-- pgo.diagnose: the facts doctor and runbook report about one Go repository, gathered once
-- and judged as pgo.checks, so the two commands give the same checks, figures and counts
-- on the same tree.
--
--   local ctx = diagnose.gather{ root = ".", binary = "bin/api", bench = {"x.test"} }
--   local list = diagnose.ladder(ctx, { thresholds = { max_gc = false } })
--   io.write(pgo.checks.render(list, "text", { numbered = true }))
--   local facts = diagnose.profiles(".")      -- each package main and its default.pgo
--   diagnose.health(p, thresholds)            -- THE health list (pgo.audit.health's checks)
--
-- The ladder's steps (lua/pgo/diagnose_steps.lua) are checks with a title and evidence.
local pgo = require "pgo"
local checks = require "pgo.checks"
local options = require "pgo.options"
local repo = require "pgo.repo"

local diagnose = {}

--- The health checks of p (a pgo.checks list; pgo.audit.health's), judged by
-- pgo.checks.thresholds(overrides): doctor, runbook and refresh all call this with their
-- ADAPT table, so one profile gets one list everywhere.
function diagnose.health(p, overrides)
  local t = checks.thresholds(overrides)
  local opts = {}
  for _, name in ipairs(checks.names("health")) do
    if t[name] == false or type(t[name]) == "number" then opts[name] = t[name] end
  end
  return pgo.audit.health(p, opts).checks
end

-- The packages a --bench value measures: a list of {pkg, from}, or nil, message.
local function bench_packages(value, syms)
  local f = io.open(value, "rb")
  if f then
    local head = f:read(4) or ""
    if head == "\127ELF" then
      f:close()
      local bi, err = pgo.buildinfo(value)
      if not bi then return nil, ("--bench %s: %s"):format(value, err) end
      local path = bi.path:gsub("%.test$", "")
      return { { pkg = path, from = ("%s (test binary of %s)"):format(value, bi.path) } }
    end
    local text = head .. (f:read("a") or "")
    f:close()
    local list, seen = {}, {}
    for pkg in text:gmatch("%f[^\n%z]pkg:%s+(%S+)") do     -- go test -bench's "pkg:" lines
      if not seen[pkg] then
        seen[pkg] = true
        list[#list + 1] = { pkg = pkg, from = ("%s (pkg: %s)"):format(value, pkg) }
      end
    end
    return list
  end
  local name = value:match("([^/]+)%.test$")
  if name then
    local list = {}
    for _, pkg in ipairs(syms and syms.packages or {}) do
      if pkg.main and (pkg.dir:match("([^/]+)$") == name or pkg.path:match("([^/]+)$") == name) then
        list[#list + 1] = { pkg = pkg.path, from = ("%s (go test's name for %s)"):format(value, pkg.path) }
      end
    end
    return list
  end
  if value:find("/", 1, true) or value:find(".", 1, true) then
    return { { pkg = value, from = value .. " (import path)" } }
  end
  return nil, ("--bench %s: no such file, and not NAME.test or an import path"):format(value)
end

local GATHER_OPTS = { root = "string", binary = "string", profile = "string", bench = "table",
  env = "boolean", ab = "table" }

--- Everything the ladder looks at, computed once: opts.root (the module, default "."),
-- binary, profile (default: default.pgo beside the package main the binary or the tree
-- names), bench (a list of benchmark output files, test binaries, NAME.test or import
-- paths), env (read GOFLAGS of this environment), ab (options of the benchmark A/B step:
-- {packages, count, benchtime, save_dir}). Returns ctx, or nil, message, code
-- ("not_found": no --binary; "nothing_to_check"; "bad_bench").
function diagnose.gather(opts)
  opts = options.check("gather", 1, opts, GATHER_OPTS)
  local root = opts.root or "."
  local ctx = { o = opts, root = root, bench = {} }
  local r, rerr = pgo.audit.repo(root, { env = not opts.env and {} or nil })
  ctx.repo, ctx.repo_err = r, rerr
  if r then ctx.syms = pgo.symbols.go_source(root, { lenient = true }) end
  if opts.binary then
    if not pgo.fs.exists(opts.binary) then
      return options.fail("not_found", "%s: no such file (--binary)", opts.binary)
    end
    ctx.bi, ctx.bi_err = pgo.buildinfo(opts.binary)
  end
  -- the package main the build is about: the binary's, else the only one, else the first
  -- with a default.pgo
  local mains = r and r.mains or {}
  for _, m in ipairs(mains) do
    if ctx.bi and m.path == ctx.bi.path then ctx.main = m end
  end
  if not ctx.main and not ctx.bi then
    if #mains == 1 then ctx.main = mains[1] end
    for _, m in ipairs(mains) do
      if not ctx.main and m.default_pgo then ctx.main = m end
    end
  end
  if opts.profile then
    ctx.profile_path, ctx.profile_from = opts.profile, "--profile"
  elseif ctx.main then
    ctx.profile_path = repo.profile_path(ctx.main.dir, root)
    ctx.profile_from = "default.pgo beside package main " .. ctx.main.path
  elseif r and #mains == 0 then
    ctx.profile_why = "no package main under " .. root
  elseif r and ctx.bi then
    ctx.profile_why = ("the binary's package main %s is not under %s; pass --profile"):format(ctx.bi.path, root)
  elseif r then
    ctx.profile_why = "several main packages under " .. root .. "; pass --binary or --profile"
  else
    ctx.profile_why = tostring(rerr)
  end
  if not opts.binary and not ctx.profile_path and not r then
    return options.fail("nothing_to_check", "nothing to check: no --binary, no --profile, and %s", tostring(rerr))
  end
  -- the default.pgo of a source tree (not one named by --profile) is read only when it is a
  -- regular file: opening a FIFO there would block forever, a link to /dev/zero read 1 GiB
  local st = ctx.profile_path and not opts.profile and pgo.fs.stat(ctx.profile_path)
  if st and st.type ~= "file" then
    ctx.p_err, ctx.p_code = ctx.profile_path .. ": not a regular file (a FIFO, a device or a "
      .. "link to one), so not read; default.pgo must be a profile file", "invalid"
  elseif ctx.profile_path and pgo.fs.exists(ctx.profile_path) then
    ctx.p, ctx.p_err, ctx.p_code = pgo.load(ctx.profile_path)
  elseif ctx.profile_path then
    ctx.p_err, ctx.p_code = ctx.profile_path .. ": no such file", "not_found"
  end
  for _, value in ipairs(opts.bench or {}) do
    local list, err = bench_packages(value, ctx.syms)
    if not list then return options.fail("bad_bench", err) end
    ctx.bench[#ctx.bench + 1] = { value = value, packages = list }
  end
  return ctx
end

local LADDER_OPTS = { thresholds = "table", steps = "table", extra = "table", health_fail = "table",
  workload = "table", hot_cdf = "number", progress = "function" }

--- The ladder: a pgo.checks list, one check per step (name = step id, title, verdict,
-- advice, evidence, code), in opts.steps order (default diagnose.STEPS), then opts.extra
-- (name -> function(ctx) returning verdict, advice, evidence) in name order. opts:
-- thresholds (pgo.checks.thresholds overrides), health_fail (health checks that fail the
-- health step instead of warning; default {has_samples = true}), workload (health checks
-- reported as the workload step; default max_cgo, max_syscall, max_gc), hot_cdf (99),
-- progress (a function(line) for the A/B step's progress). A step that raises is a
-- failed check saying so. ctx.health is the health list (diagnose.health).
function diagnose.ladder(ctx, opts)
  options.argument("ladder", 1, ctx, "table")
  opts = options.check("ladder", 2, opts, LADDER_OPTS)
  local steps = require "pgo.diagnose_steps"
  ctx.t = checks.thresholds(opts.thresholds)
  ctx.thresholds = opts.thresholds
  ctx.health_fail = opts.health_fail or { has_samples = true }
  ctx.workload = opts.workload or { max_cgo = true, max_syscall = true, max_gc = true }
  ctx.hot_cdf = opts.hot_cdf or 99
  ctx.progress = opts.progress
  local order = {}
  for _, name in ipairs(opts.steps or diagnose.STEPS) do
    if not steps[name] then error(("bad argument #2 to 'ladder' (no step named '%s')"):format(name), 2) end
    order[#order + 1] = { name = name, fn = steps[name], title = steps.TITLES[name] }
  end
  local extra = {}
  for name in pairs(opts.extra or {}) do extra[#extra + 1] = name end
  table.sort(extra)
  for _, name in ipairs(extra) do order[#order + 1] = { name = name, fn = opts.extra[name], title = name } end
  local list = {}
  for _, s in ipairs(order) do
    local done, verdict, advice, evidence, code = pcall(s.fn, ctx)
    if not done then
      verdict, advice, evidence, code = "fail", "the check raised an error: " .. tostring(verdict), {}, nil
    elseif not checks.MARKS[verdict] then
      verdict, advice, evidence = "fail", ("step %s gave verdict %s"):format(s.name, tostring(verdict)), {}
    end
    checks.add(list, { name = s.name, title = s.title, verdict = verdict, advice = advice or "",
      evidence = evidence or {}, code = code })
  end
  return list
end

-- The words of doctor's JSON steps (its contract before pgo.checks) for each verdict.
local STEP_WORDS = { pass = "ok", warn = "warn", fail = "fail", skipped = "skip" }

--- doctor's JSON document for a ladder (plain data): { root, binary, profile, steps =
-- [{n, id, title, verdict ("ok" | "warn" | "fail" | "skip"), summary, evidence, code}],
-- counts = {ok, warn, fail, skip}, ok, summary, checks (pgo.checks.to_json of the same
-- list), health (pgo.checks.to_json of the health list, when it ran), ab (the A/B step's
-- pgo.ab document, when it ran) }.
function diagnose.report(ctx, list)
  local json = require "pgo.json"
  local doc = { root = ctx.root, binary = ctx.o.binary, profile = ctx.profile_path,
    steps = json.array(), counts = { ok = 0, warn = 0, fail = 0, skip = 0 }, ok = checks.ok(list),
    summary = checks.summary(list), checks = checks.to_json(list),
    health = ctx.health and checks.to_json(ctx.health) or nil, ab = ctx.ab }
  for i, c in ipairs(list) do
    local word = STEP_WORDS[c.verdict]
    doc.counts[word] = doc.counts[word] + 1
    doc.steps[i] = { n = i, id = c.name, title = c.title, verdict = word, summary = c.advice,
      evidence = json.array(c.evidence or {}), code = c.code }
  end
  return doc
end

--- The steps of the ladder in their default order (each documented in docs/api.md).
diagnose.STEPS = { "binary", "profile", "stale", "health", "workload", "pgo_off", "location",
  "names", "ab" }

local PROFILES_OPTS = { thresholds = "table", top = "integer", env = "table" }

--- Each package main of the module at root and its default.pgo, for a runbook: a list of
-- { main_package, dir, path (relative to root), present, error, kind, samples,
-- duration_s, provenance, health (pgo.checks list, diagnose.health), top ({name,
-- flat_pct, cum_pct, inline}) }, and the repository audit (pgo.audit.repo's) second.
-- opts: thresholds, top (rows of p:top, default 10). Returns nil, message, code outside a
-- Go module.
function diagnose.profiles(root, opts)
  options.argument("profiles", 1, root, "string")
  opts = options.check("profiles", 2, opts, PROFILES_OPTS)
  local r, err, code = pgo.audit.repo(root, { env = opts.env or {} })
  if not r then return nil, err, code end
  local list = {}
  for _, m in ipairs(r.mains) do
    local e = { main_package = m.path, dir = m.dir, path = repo.profile_path(m.dir), present = m.default_pgo }
    if m.default_pgo then
      local p, perr = pgo.load(repo.profile_path(m.dir, root))
      if not p then
        e.error = perr
      else
        local info = p:info()
        e.kind, e.samples, e.duration_s = info.kind, info.samples, (info.duration_ns or 0) / 1e9
        local ok, prov = pcall(pgo.provenance.read, p)
        e.provenance = ok and type(prov) == "table" and prov or nil
        if info.kind == "cpu" then
          e.health = diagnose.health(p, opts.thresholds)
          e.top = {}
          for _, row in ipairs(p:top { n = opts.top or 10 } or {}) do
            e.top[#e.top + 1] = { name = row.name, flat_pct = row.flat_pct, cum_pct = row.cum_pct,
              inline = row.inline or nil }
          end
        end
        p:close()
      end
    end
    list[#list + 1] = e
  end
  return list, r
end

-- Run git with these arguments (an argument vector: no shell, so a root or path holding
-- ' ; $() ` or a newline stays one argument); the first line of its output, or nil. The
-- tree is not ours to trust: core.fsmonitor (a command its .git/config may name) is off.
local function git_line(args)
  local argv = { "git", "-c", "core.fsmonitor=false" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local r = pgo.fs.run(argv, { capture = true, stderr = false, max_output = 65536 })
  if not r or r.status ~= 0 then return nil end
  local line = r.output:match("^[^\n]*")
  if line and line ~= "" then return line end
end

--- The abbreviated hash of the last commit that changed rel under root, and whether root
-- is inside a git work tree (nil, false outside one).
function diagnose.last_commit(root, rel)
  if git_line { "-C", root, "rev-parse", "--is-inside-work-tree" } ~= "true" then return nil, false end
  return git_line { "-C", root, "log", "-1", "--format=%h", "--", rel }, true
end

--- What a runbook says about the module at root, as plain data: { root, module, profiles
-- (diagnose.profiles' entries, each with capture = {source, window, instances, seconds,
-- aggregated_via, recorded}, last_commit and rollback = {find, revert, restore}),
-- findings (the repository audit's warnings and errors), git (root is in a work tree),
-- disable = {build, env} }. opts as diagnose.profiles. Returns nil, message, code outside
-- a Go module.
function diagnose.repository(root, opts)
  local json, shell_word = require "pgo.json", require("pgo.recipe").shell_word
  local list, r, code = diagnose.profiles(root, opts)
  if not list then return nil, r, code end
  local facts = { root = root, module = r.module, profiles = json.array(), findings = json.array(), git = false }
  for _, f in ipairs(r.findings) do
    if f.severity ~= "info" then
      facts.findings[#facts.findings + 1] = { severity = f.severity, code = f.code, path = f.path, message = f.message }
    end
  end
  for _, e in ipairs(list) do
    if e.present then
      local prov = e.provenance or {}
      e.capture = { source = prov.source, window = prov.window, instances = prov.instances,
        seconds = prov.seconds, aggregated_via = prov.aggregated_via, recorded = e.provenance ~= nil }
      local commit, in_git = diagnose.last_commit(root, e.path)
      facts.git = facts.git or in_git
      e.last_commit = commit
      e.rollback = { find = "git log -1 --format=%h -- " .. shell_word(e.path),
        revert = "git revert " .. (commit or "<commit that changed " .. e.path .. ">"),
        restore = commit and ("git checkout %s~1 -- %s"):format(commit, shell_word(e.path)) or nil }
    end
    e.top = json.array(e.top or {})
    e.health = e.health and checks.to_json(e.health)
    facts.profiles[#facts.profiles + 1] = e
  end
  local first = r.mains[1] and ("./" .. (r.mains[1].dir == "." and "" or r.mains[1].dir)) or "./..."
  facts.disable = { build = "go build -pgo=off " .. shell_word(first), env = "GOFLAGS=-pgo=off" }
  return facts
end

--- What the last A/B measured (pgo.diagnose_gain.read): { measured, source, section (the
-- markdown of a recipes/ab.lua JSON), entries = {{scope, label, delta_pct, text,
-- significant}} }, or nil, message, code.
function diagnose.gain(path)
  if path == nil then return { measured = false, entries = require("pgo.json").array() } end
  options.argument("gain", 1, path, "string")
  return require("pgo.diagnose_gain").read(path)
end

return diagnose
