-- pgo.diagnose_steps: the steps of doctor's ladder (pgo.diagnose.ladder), cheapest first.
-- Each is function(ctx) -> verdict ("pass" | "warn" | "fail" | "skipped"), advice,
-- evidence (a list of lines)[, code]; ctx is pgo.diagnose.gather's, with the thresholds
-- (ctx.t, pgo.checks.thresholds) and the ladder's options.
local pgo = require "pgo"
local checks = require "pgo.checks"
local units = require "pgo.units"

local steps = {}
local pct = units.pct

local function basename(path) return (path:match("([^/]+)/*$") or path) end

steps.TITLES = {
  binary = "binary built with PGO", profile = "profile usable by the compiler",
  stale = "profile matches the source", health = "profile health",
  workload = "workload PGO can speed up", pgo_off = "PGO not switched off",
  location = "profile location", names = "benchmarks see the profile's names",
  ab = "benchmark A/B with and without the profile",
}

function steps.binary(ctx)
  if not ctx.o.binary then return "skipped", "no --binary given" end
  local bin, bi = ctx.o.binary, ctx.bi
  if not bi then return "fail", ("cannot read the build info of %s: %s"):format(bin, ctx.bi_err) end
  local ev = { ("go version -m %s: %s, path %s"):format(bin, bi.go_version or "?", bi.path or "?") }
  local setting = bi.settings and bi.settings["-pgo"]
  if not setting then
    ev[#ev + 1] = "no \"build -pgo=...\" line: the compiler got no profile"
    return "fail", ("%s was built without PGO (-pgo=off, or -pgo=auto with no default.pgo beside package main %s)")
      :format(bin, bi.path or "?"), ev
  end
  ev[#ev + 1] = "build -pgo=" .. setting
  if ctx.profile_path and basename(setting) ~= basename(ctx.profile_path) then
    return "warn", ("%s was built with -pgo=%s, but the profile checked here is %s")
      :format(bin, setting, ctx.profile_path), ev
  end
  return "pass", ("%s was built with -pgo=%s%s"):format(bin, setting,
    ctx.profile_path and " (the profile checked here, by base name)" or ""), ev
end

function steps.profile(ctx)
  if not ctx.profile_path then return "fail", "no profile to check: " .. tostring(ctx.profile_why) end
  local path = ctx.profile_path
  local ev = { "profile: " .. path .. " (" .. ctx.profile_from .. ")" }
  if not ctx.p then return "fail", "cannot load the profile: " .. tostring(ctx.p_err), ev, ctx.p_code end
  local p = ctx.p
  ev[#ev + 1] = tostring(p)
  local cpu, cerr = p:require_cpu("go build -pgo")
  if not cpu then return "fail", ("%s: %s"):format(path, cerr), ev end
  local edges, emsg, ecode = p:edges()
  if not edges then return "fail", ("%s: go build -pgo rejects it: %s"):format(path, emsg), ev, ecode end
  if #edges == 0 then return "fail", ("%s holds no call edges: PGO has nothing to act on"):format(path), ev end
  ctx.edges = edges
  ctx.hot = p:hot_callsites { cdf = ctx.hot_cdf }
  ev[#ev + 1] = ("%d call edges, %d hot call sites at cdf %d%% (go build -pgo reads it)")
    :format(#edges, #ctx.hot, ctx.hot_cdf)
  return "pass", ("%s: a CPU profile with start lines and %d call edges"):format(path, #edges), ev
end

function steps.stale(ctx)
  if not ctx.edges then return "skipped", "no usable profile" end
  if not ctx.syms then return "skipped", "no Go source: " .. tostring(ctx.repo_err) end
  local r = pgo.audit.stale(ctx.p, ctx.syms, { main_package = ctx.bi and ctx.bi.path ~= "" and ctx.bi.path or nil })
  local ev = { ("stale flat %s, cum %s (%s) against %s"):format(pct(r.flat_fraction), pct(r.cum_fraction),
    units.plural(#r.functions, "stale function"), ctx.root) }
  for i = 1, math.min(3, #r.functions) do
    ev[#ev + 1] = ("gone: %s (cum %s)"):format(r.functions[i].name, pct(r.functions[i].cum / r.total))
  end
  local advice = ("%s of the samples (cum) run through functions gone from the source"):format(pct(r.cum_fraction))
  local warn_at, fail_at = ctx.t.max_stale, ctx.t.max_stale_fail
  if fail_at and r.cum_fraction > fail_at then
    return "fail", advice .. ": refresh the profile (pgolua recipes/stale.lua for details)", ev
  elseif warn_at and r.cum_fraction > warn_at then
    return "warn", advice .. ": refresh soon (pgolua recipes/stale.lua for details)", ev
  end
  return "pass", advice, ev
end

-- THE health list of the profile (pgo.diagnose.health), computed once.
local function health(ctx)
  ctx.health = ctx.health or require("pgo.diagnose").health(ctx.p, ctx.thresholds)
  return ctx.health
end

-- The verdict of a set of failed health checks: fail when one is in ctx.health_fail.
local function worst(ctx, failed)
  if #failed == 0 then return "pass" end
  for _, c in ipairs(failed) do
    if ctx.health_fail[c.name] then return "fail" end
  end
  return "warn"
end

-- Step 4 reports every health check (the count runbook prints for the same profile);
-- step 5 looks again at those about where the time goes.
function steps.health(ctx)
  if not ctx.edges then return "skipped", "no usable profile" end
  local list, ev, failed = health(ctx), {}, {}
  for _, c in ipairs(list) do
    if c.verdict == "fail" then failed[#failed + 1] = c end
    if c.verdict == "fail" or c.name == "max_dominant" then ev[#ev + 1] = c.name .. ": " .. c.advice end
  end
  return worst(ctx, failed), checks.summary(list), ev
end

function steps.workload(ctx)
  if not ctx.edges then return "skipped", "no usable profile" end
  local ev, failed, names = {}, {}, {}
  for _, c in ipairs(health(ctx)) do
    if ctx.workload[c.name] then
      ev[#ev + 1] = c.name .. ": " .. c.advice
      if c.verdict == "fail" then failed[#failed + 1] = c; names[#names + 1] = c.name end
    end
  end
  if #ev == 0 then return "skipped", "no workload check runs (all turned off)" end
  local verdict = worst(ctx, failed)
  if verdict == "pass" then return verdict, "little time where PGO cannot help (cgo, system calls, GC)", ev end
  return verdict, ("time spent where PGO cannot help: %s"):format(table.concat(names, ", ")), ev
end

function steps.pgo_off(ctx)
  if not ctx.repo then return "skipped", "no Go module: " .. tostring(ctx.repo_err) end
  local verdict, ev = "pass", {}
  for _, f in ipairs(ctx.repo.findings) do
    if f.code == "pgo_off" or f.code == "pgo_off_env" then
      verdict = "fail"
      ev[#ev + 1] = f.message
    elseif f.code == "pgo_path" or f.code == "pgo_path_env" then
      if verdict == "pass" then verdict = "warn" end
      ev[#ev + 1] = f.message
    end
  end
  if not ctx.o.env then ev[#ev + 1] = "GOFLAGS of this environment not read (pass --env)" end
  if verdict == "fail" then
    return "fail", "-pgo=off is set where builds run: default.pgo is ignored there", ev
  elseif verdict == "warn" then
    return "warn", "builds pass an explicit -pgo=FILE instead of default.pgo", ev
  end
  return "pass", "no -pgo=off in GOFLAGS, Makefiles, CI files or Dockerfiles", ev
end

function steps.location(ctx)
  if not ctx.repo then return "skipped", "no Go module: " .. tostring(ctx.repo_err) end
  local repo = ctx.repo
  if #repo.mains == 0 then return "skipped", "no package main under " .. ctx.root end
  local setting = ctx.bi and ctx.bi.settings and ctx.bi.settings["-pgo"]
  local explicit = setting and basename(setting) ~= "default.pgo"
  local rank = { pass = 0, warn = 1, fail = 2 }
  local verdict, ev, missing = "pass", {}, {}
  local function worse(v) if rank[v] > rank[verdict] then verdict = v end end
  for _, m in ipairs(ctx.main and { ctx.main } or repo.mains) do
    local rel = require("pgo.repo").profile_path(m.dir)
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

-- Where the compiler's hot call sites are: package main's share of the module's own hot
-- weight, the hottest main.* site, and the main packages the profile spells by import path.
local function hot_in_main(ctx, mains)
  local module = ctx.syms.module
  local function own(name)
    return name:sub(1, 5) == "main." or (module and (name:sub(1, #module + 1) == module .. "/"
      or name:sub(1, #module + 1) == module .. "."))
  end
  local h = { main_w = 0, own_w = 0, n_main = 0, spelled = {} }
  local seen = {}
  for _, s in ipairs(ctx.hot) do
    if s.caller:sub(1, 5) == "main." then
      h.main_w, h.n_main = h.main_w + s.weight, h.n_main + 1
      h.hottest = h.hottest or s
    end
    if own(s.caller) then h.own_w = h.own_w + s.weight end
    for path in pairs(mains) do
      if not seen[path] and (s.caller:sub(1, #path + 1) == path .. "." or s.callee:sub(1, #path + 1) == path .. ".") then
        seen[path] = true
        h.spelled[#h.spelled + 1] = path
      end
    end
  end
  table.sort(h.spelled)
  h.share = h.own_w > 0 and h.main_w / h.own_w or 0
  return h
end

function steps.names(ctx)
  if #ctx.bench == 0 then return "skipped", "no --bench given" end
  if not ctx.hot then return "skipped", "no usable profile" end
  if not ctx.syms then return "skipped", "no Go source to tell main packages: " .. tostring(ctx.repo_err) end
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
        measured_main[#measured_main + 1], measured_main[m.pkg] = m.pkg, true
      end
    end
  end
  local h = hot_in_main(ctx, mains)
  ev[#ev + 1] = ("%d of %d hot call sites are in package main (main.*): %s of the hot weight in the module's code")
    :format(h.n_main, #ctx.hot, pct(h.share))
  if h.hottest then
    ev[#ev + 1] = ("hottest: %s -> %s (%s of all edge weight)"):format(h.hottest.caller, h.hottest.callee, pct(h.hottest.share))
  end
  if #h.spelled > 0 then
    ev[#ev + 1] = ("the profile spells package main by its import path (%s.*): it was captured from a test binary; "
      .. "the service binary names those functions main.* and uses none of them"):format(h.spelled[1])
  end
  local bar = ctx.t.max_main_share
  if #measured_main > 0 and bar and h.share >= bar then
    ev[#ev + 1] = ("under go test, package main is compiled as %s, so the profile's main.* call sites "
      .. "match nothing in the test binary: the benchmark cannot show what PGO does for the service. "
      .. "Measure the service binary under load (recipes/ab.lua, live load A/B), or benchmark the hot "
      .. "code from a library package"):format(measured_main[1])
    return "warn", ("the benchmarks measure package main %s, but %s of the profile's hot call sites in the module's code are main.*")
      :format(table.concat(measured_main, ", "), pct(h.share)), ev
  end
  if #h.spelled > 0 then
    return "warn", "the profile names package main by its import path (a test-binary profile)", ev
  end
  if #measured_main > 0 then
    return "pass", ("the benchmarks measure package main, but only %s of the hot call sites in the module's code are main.*")
      :format(pct(h.share)), ev
  end
  return "pass", "the benchmarks measure library packages, whose names match the profile", ev
end

-- The benchmark A/B: pgo.ab_run's interleaved runner (each side built once, the two test
-- binaries alternated round by round), judged by pgo.ab.compare_files.
function steps.ab(ctx)
  local ab = ctx.o.ab
  if not ab or not ab.packages or #ab.packages == 0 then return "skipped", "no --ab given" end
  if not ctx.edges then return "skipped", "no usable profile" end
  local run, err, code = pgo.ab_run.benchmarks { packages = ab.packages, profile = ctx.profile_path,
    dir = ctx.root, save_dir = ab.save_dir, count = ab.count, benchtime = ab.benchtime,
    order = "alternate", progress = ctx.progress }
  if not run then return "fail", "the benchmark A/B did not run: " .. tostring(err), {}, code end
  local doc, cerr, ccode = pgo.ab.compare_files({ path = run.files.off, label = "off.txt" },
    { path = run.files.on, label = "on.txt" }, { sides = { old = run.sides.off, new = run.sides.on },
      rounds = #run.rounds, order = "ABBA", same_code = run.same_code })
  if not doc then return "fail", "cannot compare the A/B's output: " .. tostring(cerr), {}, ccode end
  ctx.ab = doc
  local ev = { ("%s against %s, %d rounds interleaved (%s); output and binaries in %s")
    :format(run.sides.off, run.sides.on, #run.rounds, table.concat(run.rounds, ", "), run.dir) }
  for _, c in ipairs(doc.comparisons) do
    ev[#ev + 1] = ("%s %s: %s, %s"):format(c.name, c.unit, c.verdict:gsub("_", " "), c.reason)
  end
  local n = doc.counts
  if doc.gate.status == "failed" then
    return "fail", "the profile makes benchmarks slower or breaks them: " .. table.concat(doc.gate.reasons, "; "), ev
  elseif run.same_code then
    return "warn", "both builds hold the same machine code: the profile changes nothing in these packages", ev
  elseif n.faster + n.better > 0 and n.slower + n.worse == 0 then
    return "pass", ("%s faster with the profile%s"):format(units.plural(n.faster + n.better, "benchmark"),
      type(doc.geomean_delta_pct) == "number" and (" (geomean %+.2f%%)"):format(doc.geomean_delta_pct) or ""), ev
  elseif n.too_noisy > 0 then
    return "warn", ("%s too noisy to tell: more rounds (--ab-count), a longer --ab-benchtime or a quieter machine")
      :format(units.plural(n.too_noisy, "benchmark")), ev, "too_noisy"
  end
  return "warn", "no benchmark changed with the profile: PGO did nothing measurable here", ev, "no_difference"
end

return steps
