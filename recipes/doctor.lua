#!/usr/bin/env pgolua
-- doctor.lua: "PGO did nothing" - walk the ladder of reasons, cheapest first: was the
--   binary built with the profile, can the compiler use the profile, does it still match
--   the source, is it healthy, can PGO help this workload at all, is PGO switched off
--   somewhere, is default.pgo where go build looks, do the benchmarks even see the
--   profile's function names, and (with --ab) does an interleaved benchmark A/B show a
--   change. Each step is a check with a verdict (pass, warn, fail, skipped) and evidence.
-- Run:   pgolua recipes/doctor.lua [--binary PATH] [--profile PATH] [--root DIR]
--          [--bench FILE|NAME.test|IMPORT/PATH ...] [--env] [--json]
--          [--ab PACKAGE ... [--ab-count N] [--ab-benchtime D] [--ab-save DIR]]
--          (--profile defaults to default.pgo beside the package main found under --root,
--          "." by default; --src is another name for --root)
-- Exit:  0 no step failed (warnings allowed), 2 at least one step failed, 1 usage error
--        or nothing to check (no binary, no profile, no Go module).
-- Adapt: copy this file; change the values under "ADAPT" below (thresholds, which steps
--   run and in what order, what counts as a failure, steps of your own). Everything else
--   is library code (pgo.diagnose gathers and judges, pgo.checks renders).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
-- Thresholds over the library's one table (pgo.checks.defaults: max_stale 0.10 warns,
-- max_stale_fail 0.50 fails, the health checks, max_main_share 0.25); e.g.
-- { policy = "fleet", max_gc = false }. runbook and refresh read the same table.
local THRESHOLDS = {}
-- Health checks that fail step 4 instead of warning.
local HEALTH_FAIL = { has_samples = true }
-- Health checks step 5 (the workload) looks at again.
local WORKLOAD_CHECKS = { max_cgo = true, max_syscall = true, max_gc = true }
local HOT_CDF = 99               -- the compiler's hot set, for step 8
-- The steps, in order (pgo.diagnose.STEPS); remove one to skip it. Steps of your own go in
-- EXTRA_STEPS (run after these, in name order): name = function(ctx) return verdict,
-- advice, evidence end (verdict "pass" | "warn" | "fail" | "skipped"; evidence a list of
-- lines; ctx is pgo.diagnose.gather's: ctx.p the profile, ctx.repo, ctx.syms, ctx.bi).
local STEPS = pgo.diagnose.STEPS
local EXTRA_STEPS = {}           -- e.g. { team_rule = function(ctx) return "pass", "..." end }
local AB_COUNT, AB_BENCHTIME = 10, "1s"   -- rounds per side and go test -benchtime of --ab
-- ---------------------------------------------------------------------------------------

local out = recipe.new("doctor")

local parser = argparse("pgolua doctor", "Why did PGO do nothing? A ladder of checks with evidence.")
parser:option("--binary", "The built binary (go version -m tells how it was built).")
parser:option("--profile", "The profile the build should use (default: default.pgo beside package main).")
parser:option("--root --src", "Root of the Go module (holds go.mod).", ".")
parser:option("--bench", "Benchmark output (go test -bench), a test binary, NAME.test or an import path.")
  :args("+"):count("*")
parser:option("--ab", "Run an interleaved benchmark A/B (-pgo=off against the profile) of these packages.")
  :args("+"):count("*")
parser:option("--ab-count", "Rounds per side of --ab.", tostring(AB_COUNT)):convert(math.tointeger)
parser:option("--ab-benchtime", "go test -benchtime of --ab.", AB_BENCHTIME)
parser:option("--ab-save", "Keep the A/B's binaries and output in this directory.")
parser:flag("--env", "Also check GOFLAGS of this environment.")
parser:flag("--json", "Print JSON instead of the ladder.")
parser:epilog("Exit: 0 no step failed (warnings allowed), 2 a step failed, 1 usage error or nothing to check.")

-- argparse's repeatable multi-value options as one list
local function flat(groups)
  local list = {}
  for _, g in ipairs(groups or {}) do
    for _, v in ipairs(g) do list[#list + 1] = v end
  end
  return list
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  if not o.ab_count or o.ab_count < 1 then return out:fail("--ab-count must be a positive integer") end
  local ctx, err = pgo.diagnose.gather { root = o.root, binary = o.binary, profile = o.profile,
    bench = flat(o.bench), env = o.env,
    ab = { packages = flat(o.ab), count = o.ab_count, benchtime = o.ab_benchtime, save_dir = o.ab_save } }
  if not ctx then return out:fail(err) end
  local list = pgo.diagnose.ladder(ctx, { thresholds = THRESHOLDS, steps = STEPS, extra = EXTRA_STEPS,
    health_fail = HEALTH_FAIL, workload = WORKLOAD_CHECKS, hot_cdf = HOT_CDF,
    progress = function(line) out:note(line) end })
  local exit = pgo.checks.ok(list) and recipe.EXIT.ok or recipe.EXIT.failed
  if o.json then
    local doc = pgo.diagnose.report(ctx, list)
    doc.exit = exit
    io.write(recipe.json(doc), "\n")
  else
    local head = {}
    if o.binary then head[#head + 1] = "binary " .. o.binary end
    if ctx.profile_path then head[#head + 1] = "profile " .. ctx.profile_path end
    head[#head + 1] = "source " .. ctx.root
    io.write(pgo.checks.render(list, "text", { numbered = true,
      title = ("doctor: why PGO may do nothing (%s)"):format(table.concat(head, ", ")) }))
  end
  return exit
end

os.exit(main(arg))
