#!/usr/bin/env pgolua
-- doctor.lua: "PGO did nothing" - walk the ladder of reasons, cheapest first: was the
--   binary built with the profile, can the compiler use the profile, does it still match
--   the source, is it healthy, can PGO help this workload at all, is PGO switched off
--   somewhere, is default.pgo where go build looks, and does the benchmark even see the
--   profile's function names. Each step gives a verdict (ok, warn, fail, skip) and its
--   evidence.
-- Run:   pgolua recipes/doctor.lua [--binary PATH] [--profile PATH] [--root DIR]
--          [--bench FILE|NAME.test|IMPORT/PATH ...] [--env] [--json]
--          (--profile defaults to default.pgo beside the package main found under --root,
--          "." by default; --src is another name for --root)
-- Exit:  0 no step failed (warnings allowed), 2 at least one step failed, 1 usage error
--        or nothing to check (no binary, no profile, no Go module).
-- Adapt: copy this file; change the values under "ADAPT" below (thresholds, which steps
--   run and in what order, what counts as a failure, extra steps of your own). Everything
--   else is library code (pgo.buildinfo, pgo.audit.*, p:edges, p:hot_callsites).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local STALE_WARN = 0.10          -- stale cum share: warn above 10% ...
local STALE_FAIL = 0.50          -- ... fail above 50% (most PGO decisions are lost)
local HEALTH_OPTS = nil          -- thresholds for pgo.audit.health (nil = its defaults)
-- Health checks (pgo.audit.health names) that fail step 4 instead of warning.
local HEALTH_FAIL = { has_samples = true }
-- Health checks reported in step 5 (the workload) rather than step 4.
local WORKLOAD_CHECKS = { max_cgo = true, max_syscall = true, max_gc = true }
-- Step 8: warn when package main holds at least this share of the hot call-site weight
-- that lies in the module's own code (the compiler's hot set at HOT_CDF).
local MAIN_SHARE_WARN = 0.25
local HOT_CDF = 99
local MARKS = { ok = "\u{2713}", warn = "!", fail = "\u{2717}", skip = "-" }
-- The steps, in order; remove one to skip it. Steps of your own go in EXTRA_STEPS (run
-- after these, in name order): name = function(ctx) return verdict, summary, evidence end
-- (verdict "ok" | "warn" | "fail" | "skip"; evidence a list of lines).
local STEPS = { "binary", "profile", "stale", "health", "workload", "pgo_off", "location",
  "names" }
local EXTRA_STEPS = {}           -- e.g. { team_rule = function(ctx) return "ok", "..." end }
-- ---------------------------------------------------------------------------------------

local out = recipe.new("doctor")
local pct = recipe.pct

local parser = argparse("pgolua doctor", "Why did PGO do nothing? A ladder of checks with evidence.")
parser:option("--binary", "The built binary (go version -m tells how it was built).")
parser:option("--profile", "The profile the build should use (default: default.pgo beside package main).")
parser:option("--root --src", "Root of the Go module (holds go.mod).", ".")
parser:option("--bench", "Benchmark output (go test -bench), a test binary, NAME.test or an import path.")
  :args("+"):count("*")
parser:flag("--env", "Also check GOFLAGS of this environment.")
parser:flag("--json", "Print JSON instead of the ladder.")
parser:epilog("Exit: 0 no step failed (warnings allowed), 2 a step failed, 1 usage error or nothing to check.")

-- {=====================================================================================
-- Gathering

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function join(root, rel)
  if rel == "." or rel == "" then return root end
  return (root:gsub("/+$", "")) .. "/" .. rel
end

-- The packages a --bench value measures: a list of {pkg, from}, or nil, message.
local function bench_packages(value, syms)
  local f = io.open(value, "rb")
  if f then
    local head = f:read(4) or ""
    if head == "\127ELF" then
      f:close()
      local bi, err = pgo.buildinfo(value)
      if not bi then return nil, "--bench: " .. err end   -- err names the file
      local path = bi.path:gsub("%.test$", "")
      return { { pkg = path, from = ("%s (test binary of %s)"):format(value, bi.path) } }
    end
    local text = head .. (f:read("a") or "")
    f:close()
    local list, seen = {}, {}
    for line in text:gmatch("[^\n]+") do
      local pkg = line:match("^pkg:%s+(%S+)")
      if pkg and not seen[pkg] then
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

-- Everything the steps look at, computed once. Returns ctx, or nil, message.
local function gather(o)
  local ctx = { o = o, root = o.root }
  local env
  if not o.env then env = {} end                  -- nil: audit.repo reads os.getenv
  local repo, rerr = pgo.audit.repo(o.root, { env = env })
  ctx.repo, ctx.repo_err = repo, rerr
  if repo then
    ctx.syms = pgo.symbols.go_source(o.root, { lenient = true })
  end
  if o.binary then
    if not exists(o.binary) then return nil, o.binary .. ": no such file (--binary)" end
    ctx.bi, ctx.bi_err = pgo.buildinfo(o.binary)
  end
  -- the package main the build is about
  local mains = repo and repo.mains or {}
  for _, m in ipairs(mains) do
    if ctx.bi and m.path == ctx.bi.path then ctx.main = m end
  end
  if not ctx.main and not ctx.bi then
    if #mains == 1 then ctx.main = mains[1] end
    for _, m in ipairs(mains) do
      if not ctx.main and m.default_pgo then ctx.main = m end
    end
  end
  -- the profile
  if o.profile then
    ctx.profile_path, ctx.profile_from = o.profile, "--profile"
  elseif ctx.main then
    ctx.profile_path = join(o.root, ctx.main.dir == "." and "default.pgo" or (ctx.main.dir .. "/default.pgo"))
    ctx.profile_from = "default.pgo beside package main " .. ctx.main.path
  elseif repo and #mains == 0 then
    ctx.profile_why = "no package main under " .. o.root
  elseif repo and ctx.bi then
    ctx.profile_why = ("the binary's package main %s is not under %s; pass --profile")
      :format(ctx.bi.path, o.root)
  elseif repo then
    ctx.profile_why = "several main packages under " .. o.root .. "; pass --binary or --profile"
  else
    ctx.profile_why = tostring(rerr)
  end
  if not o.binary and not ctx.profile_path and not repo then
    return nil, "nothing to check: no --binary, no --profile, and " .. tostring(rerr)
  end
  -- the default.pgo of a source tree (not one named by --profile) is read only when it is a
  -- regular file: opening a FIFO there would block forever, a link to /dev/zero read 1 GiB
  local st = ctx.profile_path and not o.profile and pgo.fs.stat(ctx.profile_path)
  if st and st.type ~= "file" then
    ctx.p_err, ctx.p_code = ctx.profile_path .. ": not a regular file (a FIFO, a device or a "
      .. "link to one), so not read; default.pgo must be a profile file", "invalid"
  elseif ctx.profile_path and exists(ctx.profile_path) then
    ctx.p, ctx.p_err, ctx.p_code = pgo.load(ctx.profile_path)
  elseif ctx.profile_path then
    ctx.p_err, ctx.p_code = ctx.profile_path .. ": no such file", "not_found"
  end
  -- benchmarks
  ctx.bench = {}
  for _, group in ipairs(o.bench or {}) do
    for _, value in ipairs(group) do
      local list, err = bench_packages(value, ctx.syms)
      if not list then return nil, err end
      ctx.bench[#ctx.bench + 1] = { value = value, packages = list }
    end
  end
  return ctx
end

-- }=====================================================================================

-- {=====================================================================================
-- The steps: each returns verdict, summary, evidence (a list of lines)

local steps, titles = {}, {}

titles.binary = "binary built with PGO"
function steps.binary(ctx)
  if not ctx.o.binary then return "skip", "no --binary given" end
  local bin = ctx.o.binary
  if not ctx.bi then return "fail", "cannot read the build info: " .. ctx.bi_err end
  local bi = ctx.bi
  local ev = { ("go version -m %s: %s, path %s"):format(bin, bi.go_version or "?", bi.path or "?") }
  local setting = bi.settings and bi.settings["-pgo"]
  if not setting then
    ev[#ev + 1] = "no \"build -pgo=...\" line: the compiler got no profile"
    return "fail", ("%s was built without PGO (-pgo=off, or -pgo=auto with no default.pgo beside package main %s)")
      :format(bin, bi.path or "?"), ev
  end
  ev[#ev + 1] = "build -pgo=" .. setting
  if ctx.profile_path and recipe.basename(setting) ~= recipe.basename(ctx.profile_path) then
    return "warn", ("%s was built with -pgo=%s, but the profile checked here is %s")
      :format(bin, setting, ctx.profile_path), ev
  end
  return "ok", ("%s was built with -pgo=%s%s"):format(bin, setting,
    ctx.profile_path and " (the profile checked here, by base name)" or ""), ev
end

titles.profile = "profile usable by the compiler"
function steps.profile(ctx)
  if not ctx.profile_path then return "fail", "no profile to check: " .. tostring(ctx.profile_why) end
  local path = ctx.profile_path
  local ev = { "profile: " .. path .. " (" .. ctx.profile_from .. ")" }
  if not ctx.p then
    return "fail", "cannot load the profile: " .. recipe.clean_error(ctx.p_err), ev,
      { code = ctx.p_code }
  end
  local p = ctx.p
  local info = p:info()
  ev[#ev + 1] = tostring(p)
  local cpu, cerr = p:require_cpu("go build -pgo")
  if not cpu then return "fail", ("%s: %s"):format(path, cerr), ev end
  local edges, emsg, ecode = p:edges()
  if not edges then
    return "fail", ("%s: go build -pgo rejects it: %s"):format(path, emsg), ev, { code = ecode }
  end
  if #edges == 0 then
    return "fail", ("%s holds no call edges: PGO has nothing to act on"):format(path), ev
  end
  ctx.edges = edges
  ctx.hot = p:hot_callsites { cdf = HOT_CDF }
  ev[#ev + 1] = ("%d call edges, %d hot call sites at cdf %d%% (go build -pgo reads it)")
    :format(#edges, #ctx.hot, HOT_CDF)
  return "ok", ("%s: a CPU profile with start lines and %d call edges"):format(path, #edges), ev
end

titles.stale = "profile matches the source"
function steps.stale(ctx)
  if not ctx.edges then return "skip", "no usable profile" end
  if not ctx.syms then return "skip", "no Go source: " .. tostring(ctx.repo_err) end
  local r = pgo.audit.stale(ctx.p, ctx.syms, { main_package = ctx.bi and ctx.bi.path ~= "" and ctx.bi.path or nil })
  local ev = { ("stale flat %s, cum %s (%d stale functions) against %s")
    :format(pct(r.flat_fraction), pct(r.cum_fraction), #r.functions, ctx.root) }
  for i = 1, math.min(3, #r.functions) do
    local f = r.functions[i]
    ev[#ev + 1] = ("gone: %s (cum %s)"):format(f.name, pct(f.cum / r.total))
  end
  local summary = ("%s of the samples (cum) run through functions gone from the source"):format(pct(r.cum_fraction))
  if r.cum_fraction > STALE_FAIL then
    return "fail", summary .. ": refresh the profile (pgolua recipes/stale.lua for details)", ev
  elseif r.cum_fraction > STALE_WARN then
    return "warn", summary .. ": refresh soon (pgolua recipes/stale.lua for details)", ev
  end
  return "ok", summary, ev
end

-- Health checks, split between steps 4 and 5.
local function health(ctx)
  if ctx.health == nil then ctx.health = pgo.audit.health(ctx.p, HEALTH_OPTS) end
  return ctx.health
end

local function health_step(ctx, want_workload)
  if not ctx.edges then return "skip", "no usable profile" end
  local h = health(ctx)
  local verdict, ev, bad, n = "ok", {}, {}, 0
  for _, c in ipairs(h.checks) do
    local is_workload = WORKLOAD_CHECKS[c.name] == true
    if c.name ~= "cpu_profile" and c.name ~= "start_lines" and is_workload == want_workload then
      n = n + 1
      if not c.ok then
        bad[#bad + 1] = c.name
        ev[#ev + 1] = c.name .. ": " .. c.message
        verdict = (HEALTH_FAIL[c.name] or verdict == "fail") and "fail" or "warn"
      elseif c.name == "max_dominant" or want_workload then
        ev[#ev + 1] = c.name .. ": " .. c.message
      end
    end
  end
  if verdict == "ok" then return "ok", ("%d checks passed"):format(n), ev end
  return verdict, ("%d of %d checks failed: %s"):format(#bad, n, table.concat(bad, ", ")), ev
end

titles.health = "profile health"
function steps.health(ctx) return health_step(ctx, false) end

titles.workload = "workload PGO can speed up"
function steps.workload(ctx)
  local verdict, summary, ev = health_step(ctx, true)
  if verdict == "warn" then
    summary = summary .. " (time spent where PGO cannot help)"
  end
  return verdict, summary, ev
end

titles.pgo_off = "PGO not switched off"
function steps.pgo_off(ctx)
  if not ctx.repo then return "skip", "no Go module: " .. tostring(ctx.repo_err) end
  local verdict, ev = "ok", {}
  for _, f in ipairs(ctx.repo.findings) do
    if f.code == "pgo_off" or f.code == "pgo_off_env" then
      verdict = "fail"
      ev[#ev + 1] = f.message
    elseif f.code == "pgo_path" or f.code == "pgo_path_env" then
      if verdict == "ok" then verdict = "warn" end
      ev[#ev + 1] = f.message
    end
  end
  if not ctx.o.env then ev[#ev + 1] = "GOFLAGS of this environment not read (pass --env)" end
  if verdict == "fail" then
    return "fail", "-pgo=off is set where builds run: default.pgo is ignored there", ev
  elseif verdict == "warn" then
    return "warn", "builds pass an explicit -pgo=FILE instead of default.pgo", ev
  end
  return "ok", "no -pgo=off in GOFLAGS, Makefiles, CI files or Dockerfiles", ev
end

titles.location = "profile location"
function steps.location(ctx)
  if not ctx.repo then return "skip", "no Go module: " .. tostring(ctx.repo_err) end
  local repo = ctx.repo
  if #repo.mains == 0 then return "skip", "no package main under " .. ctx.root end
  local setting = ctx.bi and ctx.bi.settings and ctx.bi.settings["-pgo"]
  local explicit = setting and recipe.basename(setting) ~= "default.pgo"
  local targets = ctx.main and { ctx.main } or repo.mains
  local verdict, ev, missing = "ok", {}, {}
  local function worse(v)
    local rank = { ok = 0, warn = 1, fail = 2 }
    if rank[v] > rank[verdict] then verdict = v end
  end
  for _, m in ipairs(targets) do
    local rel = m.dir == "." and "default.pgo" or (m.dir .. "/default.pgo")
    if m.default_pgo then
      ev[#ev + 1] = ("%s sits beside package main %s"):format(rel, m.path)
    else
      missing[#missing + 1] = m.dir
      ev[#ev + 1] = ("no %s: -pgo=auto builds %s without PGO"):format(rel, m.path)
    end
  end
  local misplaced = false
  for _, f in ipairs(repo.findings) do
    if f.code == "profile_wrong_name" or f.code == "default_pgo_not_main" or f.code == "default_pgo_invalid" then
      misplaced = true
      ev[#ev + 1] = f.message
      worse(explicit and "warn" or "fail")
    end
  end
  if #missing > 0 then
    if explicit then
      ev[#ev + 1] = ("the binary was built with an explicit -pgo=%s, so builds must keep passing it"):format(setting)
    elseif not misplaced then
      worse("warn")
    end
  end
  if verdict == "fail" then
    return "fail", "a profile is in the repository but go build -pgo=auto does not read it", ev
  elseif #missing > 0 then
    return verdict, ("no default.pgo beside package main %s%s"):format(table.concat(missing, ", "),
      explicit and " (the build passes -pgo explicitly)" or ""), ev
  end
  return verdict, "default.pgo is beside package main", ev
end

titles.names = "benchmarks see the profile's names"
function steps.names(ctx)
  if #ctx.bench == 0 then return "skip", "no --bench given" end
  if not ctx.hot then return "skip", "no usable profile" end
  if not ctx.syms then return "skip", "no Go source to tell main packages: " .. tostring(ctx.repo_err) end
  local mains = {}
  for _, pkg in ipairs(ctx.syms.packages) do
    if pkg.main then mains[pkg.path] = pkg end
  end
  local ev, measured_main = {}, {}
  for _, b in ipairs(ctx.bench) do
    if #b.packages == 0 then
      ev[#ev + 1] = ("%s: names no package (no \"pkg:\" line, or no package main of that name)"):format(b.value)
    end
    for _, m in ipairs(b.packages) do
      local is_main = mains[m.pkg] ~= nil
      ev[#ev + 1] = ("measures %s%s"):format(m.from, is_main and ": a package main" or "")
      if is_main and not measured_main[m.pkg] then
        measured_main[#measured_main + 1] = m.pkg
        measured_main[m.pkg] = true
      end
    end
  end
  -- where the compiler's hot call sites are: package main, the module's other packages
  local module = ctx.syms.module
  local function own(name)
    if name:sub(1, 5) == "main." then return true end
    return module and (name:sub(1, #module + 1) == module .. "/" or name:sub(1, #module + 1) == module .. ".")
  end
  local main_w, own_w, n_main, hottest = 0, 0, 0, nil
  local test_spelled = {}
  for _, s in ipairs(ctx.hot) do
    if s.caller:sub(1, 5) == "main." then
      main_w = main_w + s.weight
      n_main = n_main + 1
      hottest = hottest or s
    end
    if own(s.caller) then own_w = own_w + s.weight end
    for path in pairs(mains) do
      if s.caller:sub(1, #path + 1) == path .. "." or s.callee:sub(1, #path + 1) == path .. "." then
        test_spelled[path] = true
      end
    end
  end
  local share = own_w > 0 and main_w / own_w or 0
  ev[#ev + 1] = ("%d of %d hot call sites are in package main (main.*): %s of the hot weight in the module's code")
    :format(n_main, #ctx.hot, pct(share))
  if hottest then
    ev[#ev + 1] = ("hottest: %s -> %s (%s of all edge weight)")
      :format(hottest.caller, hottest.callee, pct(hottest.share))
  end
  local spelled = {}
  for path in pairs(test_spelled) do spelled[#spelled + 1] = path end
  table.sort(spelled)
  if #spelled > 0 then
    ev[#ev + 1] = ("the profile spells package main by its import path (%s.*): it was captured from a test binary; "
      .. "the service binary names those functions main.* and uses none of them"):format(spelled[1])
  end
  if #measured_main > 0 and share >= MAIN_SHARE_WARN then
    ev[#ev + 1] = ("under go test, package main is compiled as %s, so the profile's main.* call sites "
      .. "match nothing in the test binary: the benchmark cannot show what PGO does for the service. "
      .. "Measure the service binary under load (recipes/ab.lua, live load A/B), or benchmark the hot "
      .. "code from a library package"):format(measured_main[1])
    return "warn", ("the benchmarks measure package main %s, but %s of the profile's hot call sites in the module's code are main.*")
      :format(table.concat(measured_main, ", "), pct(share)), ev
  end
  if #spelled > 0 then
    return "warn", "the profile names package main by its import path (a test-binary profile)", ev
  end
  if #measured_main > 0 then
    return "ok", ("the benchmarks measure package main, but only %s of the hot call sites in the module's code are main.*")
      :format(pct(share)), ev
  end
  return "ok", "the benchmarks measure library packages, whose names match the profile", ev
end

-- }=====================================================================================

local function print_ladder(ctx, results, counts)
  local head = {}
  if ctx.o.binary then head[#head + 1] = "binary " .. ctx.o.binary end
  if ctx.profile_path then head[#head + 1] = "profile " .. ctx.profile_path end
  head[#head + 1] = "source " .. ctx.root
  -- summaries and evidence quote profiles, binaries and source trees (outside text):
  -- control characters are shown escaped, never sent raw to the terminal
  local safe = pgo.report.terminal_text
  io.write("doctor: why PGO may do nothing (", safe(table.concat(head, ", ")), ")\n")
  for _, r in ipairs(results) do
    io.write(("  %s %d. %s: %s\n"):format(MARKS[r.verdict] or "?", r.n, r.title, safe(r.summary)))
    for _, e in ipairs(r.evidence) do io.write("       ", safe(e), "\n") end
  end
  io.write(("%d failed, %d warnings, %d ok, %d skipped\n")
    :format(counts.fail, counts.warn, counts.ok, counts.skip))
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  local ctx, err = gather(o)
  if not ctx then return out:fail(err) end

  local results = {}
  local counts = { ok = 0, warn = 0, fail = 0, skip = 0 }
  local order = {}
  for _, name in ipairs(STEPS) do order[#order + 1] = { name = name, fn = steps[name], title = titles[name] } end
  local extra = {}
  for name in pairs(EXTRA_STEPS) do extra[#extra + 1] = name end
  table.sort(extra)                                  -- extra steps run in name order
  for _, name in ipairs(extra) do order[#order + 1] = { name = name, fn = EXTRA_STEPS[name], title = name } end
  for i, s in ipairs(order) do
    if not s.fn then return out:fail("BUG: no step named " .. tostring(s.name)) end
    local done, verdict, summary, evidence, extra = pcall(s.fn, ctx)
    if not done then
      verdict, summary, evidence = "fail", "the check raised an error: " .. recipe.clean_error(verdict), {}
    end
    if not counts[verdict] then return out:fail("BUG: step " .. s.name .. " gave verdict " .. tostring(verdict)) end
    counts[verdict] = counts[verdict] + 1
    results[#results + 1] = { n = i, id = s.name, title = s.title, verdict = verdict,
      summary = summary or "", evidence = recipe.array(evidence or {}), code = extra and extra.code }
  end
  local exit = counts.fail > 0 and recipe.EXIT.failed or recipe.EXIT.ok
  if o.json then
    io.write(recipe.json {
      binary = o.binary, profile = ctx.profile_path, root = ctx.root,
      steps = recipe.array(results), counts = counts, ok = counts.fail == 0, exit = exit,
    }, "\n")
  else
    print_ladder(ctx, results, counts)
  end
  return exit
end

os.exit(main(arg))
