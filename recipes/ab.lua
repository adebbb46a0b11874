#!/usr/bin/env pgolua
-- ab.lua: did the profile make the service faster? An A/B of -pgo=off against the profile
--   with benchstat's statistics (its table byte for byte), a verdict per benchmark and a
--   CI gate: from two benchmark files, from both builds of `go test`, or from live load.
-- Run:   pgolua ab OLD.txt NEW.txt [--gate] [--threshold F] [--alpha F]
--          [--json | --markdown | --csv]
--        pgolua ab --go-test PKG... --profile FILE [--dir DIR] [--count N] [--bench REGEX]
--          [--benchtime D] [--shuffle] [--save-dir DIR] [options of two files]
--        pgolua ab --run-old CMD --run-new CMD [--count N] [--dir DIR] [--save-dir DIR]
--        pgolua ab --url-a URL --url-b URL [--rounds N] [--duration S] [-c N] [--warmup S]
--          [--gate] [--threshold F] [--json | --markdown]
-- Exit:  0 compared (with --gate: the gate passed); 3 the gate failed: a benchmark
--        significantly worse than --threshold, a benchmark on one side only, a run that
--        failed (FAIL line, panic), nothing compared (live: B's requests/s interval
--        wholly below -threshold, or B failed requests A served); 4 (--gate, benchmarks)
--        too noisy to tell: a benchmark undecided, its line says what would settle it;
--        1 error (unreadable file, no results, a build or command failed, bad option).
-- --go-test builds each side once in --dir (go test -c with -pgo=off and -pgo=FILE), then
--   runs the two test binaries in turn, round by round (ABBA blocks, or --shuffle), so a
--   drift of the machine falls on both sides. --save-dir (else a new temporary directory)
--   keeps off.txt, on.txt (`benchstat off.txt on.txt` there prints the same table), bin/
--   and ab-run.json (sha256 of the binaries, each round's order). Go: the go on PATH,
--   else $GO. Benchmark library packages: go test compiles package main under its import
--   path, so a service profile's main.* call sites never match there.
-- --run-old/--run-new run your two shell commands as typed, alternating. Verdicts: faster /
--   slower (p < --alpha, at least MIN_EFFECT), no difference, too noisy to tell (pgo.ab).
-- Adapt: change the values under "ADAPT"; the rest calls pgo.ab_run, pgo.ab, pgo.ab_load.
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local THRESHOLD = 0.05     -- gate: a significant regression over 5% fails; wider spread: too noisy
local MIN_EFFECT = 0.02    -- a significant change under 2% counts as no difference
local ALPHA = 0.05         -- significance level (benchstat's -alpha)
local LIVE_THRESHOLD = 0.02                 -- live load: the +-2% band of "no difference"
local COUNT, RUN_COUNT = 10, 1              -- rounds per side: --go-test, --run-old/--run-new
local BENCH, BENCHTIME = ".", "1s"          -- go test -bench, -benchtime
local GEOMEAN_UNIT = "sec/op"               -- the unit of the summary geomean
local ROUNDS, DURATION, CONNECTIONS, WARMUP = 6, 3, 10, 1   -- live load (pgo.ab_load)
-- ---------------------------------------------------------------------------------------

local out = recipe.new("ab")
local parser = argparse("pgolua ab",
  "A/B of -pgo=off against the profile: benchmark files, go test, or live load.")
parser:argument("old", "Baseline benchmark output (go test -bench); LABEL=PATH names it.")
  :args("?")
parser:argument("new", "Benchmark output compared with the baseline."):args("?")
parser:flag("--gate", "CI gate: exit 3 on a regression or failed run, 4 when too noisy.")
parser:option("--threshold", ("Gate threshold, a fraction (default %g; live %g)."):format(
  THRESHOLD, LIVE_THRESHOLD)):argname("<fraction>"):convert(tonumber)
parser:option("--alpha", "Significance level.", tostring(ALPHA)):convert(tonumber)
local json_flag = parser:flag("--json", "Print JSON instead of text.")
local md_flag = parser:flag("--markdown", "Print markdown (for a pull request).")
local csv_flag = parser:flag("--csv", "Print benchstat's CSV (benchmarks only).")
parser:mutex(json_flag, md_flag, csv_flag)
parser:option("--json-out", "Also write the JSON report to this file."):argname("<file>")
parser:option("--go-test", "Benchmark these packages, both builds interleaved.")
  :args("+"):argname("<pkg>")
parser:option("--profile", "The profile of the new side (-pgo=FILE)."):argname("<file>")
parser:option("--dir", "Directory the commands run in (default: the current one).")
  :argname("<dir>")
parser:option("--count", ("Rounds per side (default %d; --run-*: %d)."):format(COUNT,
  RUN_COUNT)):convert(math.tointeger)
parser:option("--bench", "go test -bench (default " .. BENCH .. ")."):argname("<regex>")
parser:option("--benchtime", "go test -benchtime (default " .. BENCHTIME .. ").")
parser:flag("--shuffle", "Random order in each round instead of ABBA blocks.")
parser:option("--save-dir", "Where outputs and binaries go (default: a new temporary one).")
  :argname("<dir>")
parser:option("--run-old", "Shell command printing the baseline's benchmark output.")
  :argname("<cmd>")
parser:option("--run-new", "Shell command printing the new side's benchmark output.")
  :argname("<cmd>")
parser:option("--url-a", "Live load: URL of the baseline (loopback only)."):argname("<url>")
parser:option("--url-b", "Live load: URL of the build under test."):argname("<url>")
parser:option("--rounds", ("Live load: rounds (default %d)."):format(ROUNDS))
  :convert(math.tointeger)
parser:option("--duration", ("Live load: seconds per side and round (default %g).")
  :format(DURATION)):convert(tonumber)
parser:option("-c --connections", ("Live load: connections (default %d)."):format(CONNECTIONS))
  :convert(math.tointeger)
parser:option("--warmup", ("Live load: unmeasured seconds per side (default %g).")
  :format(WARMUP)):convert(tonumber)

local function compare(o, old, new, extra)
  extra = extra or {}
  local doc, cmp = pgo.ab.compare_files(old, new, { alpha = o.alpha, min_effect = MIN_EFFECT,
    threshold = o.threshold or THRESHOLD, geomean_unit = GEOMEAN_UNIT, sides = extra.sides,
    rounds = extra.rounds, order = extra.order, same_code = extra.same_code })
  if not doc then return out:fail(cmp) end
  for k, v in pairs(extra.json or {}) do doc[k] = v end
  doc.exit = pgo.ab.exit_code(doc, o.gate)
  local okw, werr = not o.json_out or recipe.write_file(o.json_out, recipe.json(doc) .. "\n")
  if not okw then return out:fail(werr) end
  if o.json then
    io.write(recipe.json(doc), "\n")
  elseif o.csv then
    local text, warnings = pgo.bench.report(cmp, { format = "csv" })
    io.write(text)
    for line in warnings:gmatch("[^\n]+") do out:note(line) end
    if o.gate then out:note(doc.gate.status .. ": " .. table.concat(doc.gate.reasons, "; ")) end
  else
    io.write((o.markdown and pgo.ab.markdown or pgo.ab.text)(doc, cmp, { gate = o.gate }))
    for _, w in ipairs(doc.warnings) do out:note(w) end
  end
  return pgo.ab.exit_code(doc, o.gate)
end

local function go_test(o)
  if not o.profile then
    return out:fail("--go-test needs --profile FILE (the service's default.pgo): go test's "
      .. "-pgo=auto gives library packages no profile, so both sides would build the same code")
  end
  local run, err = pgo.ab_run.benchmarks { packages = o.go_test, profile = o.profile,
    dir = o.dir, save_dir = o.save_dir, count = o.count or COUNT, bench = o.bench or BENCH,
    benchtime = o.benchtime or BENCHTIME, order = o.shuffle and "shuffle" or "alternate",
    progress = function(line) out:note(line) end }
  if not run then return out:fail(err) end
  out:note("binaries, their sha256 and the benchmark output are in " .. run.dir)
  if run.same_code then out:note("both builds hold the same machine code: no change to measure") end
  return compare(o, { path = run.files.off, label = "off.txt" },
    { path = run.files.on, label = "on.txt" }, { sides = { old = run.sides.off,
      new = run.sides.on }, rounds = #run.rounds, order = o.shuffle and "shuffled" or "ABBA",
      same_code = run.same_code, json = { mode = "go-test", save_dir = run.dir, run = run } })
end

local function commands(o)
  if not (o.run_old and o.run_new) then return out:fail("--run-old and --run-new go together") end
  local run, err = pgo.ab_run.commands { old = o.run_old, new = o.run_new, dir = o.dir,
    count = o.count or RUN_COUNT, save_dir = o.save_dir, progress = function(l) out:note(l) end }
  if not run then return out:fail(err) end
  out:note("benchmark output saved in " .. run.dir .. " (old.txt, new.txt)")
  return compare(o, { path = run.files.old, label = "old.txt" },
    { path = run.files.new, label = "new.txt" }, { rounds = o.count or RUN_COUNT,
      order = "old new alternating", json = { mode = "run", save_dir = run.dir } })
end

local function live(o)
  if not (o.url_a and o.url_b) then return out:fail("--url-a and --url-b go together") end
  if o.csv then return out:fail("--csv applies to benchmark comparisons, not to live load") end
  local threshold = o.threshold or LIVE_THRESHOLD
  local ro = { duration = o.duration or DURATION, connections = o.connections or CONNECTIONS,
    warmup = o.warmup or WARMUP, gate = o.gate, threshold = threshold }
  local r, err = pgo.ab_load { a = o.url_a, b = o.url_b, rounds = o.rounds or ROUNDS,
    duration = ro.duration, c = ro.connections, warmup = ro.warmup, threshold = threshold }
  if not r then return out:fail(err) end
  local doc = pgo.ab.live_data(r, ro)
  local code = (o.gate and not doc.gate.ok) and pgo.ab.EXIT.gate_failed or pgo.ab.EXIT.ok
  if o.json then
    doc.exit = code
    io.write(recipe.json(doc), "\n")
  else
    io.write((o.markdown and pgo.ab.live_markdown or pgo.ab.live_text)(r, ro))
  end
  return code
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  if o.threshold and not (o.threshold >= 0) then return out:fail("--threshold must be >= 0") end
  if not (o.alpha and o.alpha > 0 and o.alpha < 1) then
    return out:fail("--alpha must be between 0 and 1")
  end
  for k, least in pairs { count = 1, rounds = 1, connections = 1, warmup = 0 } do
    if o[k] and o[k] < least then return out:fail(("--%s must be %d or more"):format(k, least)) end
  end
  if o.duration and not (o.duration > 0) then return out:fail("--duration must be > 0") end
  local modes = {}
  if o.old or o.new then modes[#modes + 1] = "files" end
  if o.go_test then modes[#modes + 1] = "go-test" end
  if o.run_old or o.run_new then modes[#modes + 1] = "run" end
  if o.url_a or o.url_b then modes[#modes + 1] = "live" end
  if #modes ~= 1 then
    return out:fail((#modes == 0 and "nothing to compare" or "more than one mode given")
      .. ": give two benchmark files, --go-test PKG, --run-old/--run-new CMD or "
      .. "--url-a/--url-b URL\n" .. parser:get_usage())
  end
  local owner = { profile = "go-test", bench = "go-test", benchtime = "go-test",
    shuffle = "go-test", count = "go-test run", dir = "go-test run",
    save_dir = "go-test run", rounds = "live", duration = "live", connections = "live",
    warmup = "live" }
  for k, m in pairs(owner) do
    if o[k] and not m:find(modes[1], 1, true) then
      return out:fail(("--%s does not apply to %s"):format(k:gsub("_", "-"), modes[1] == "files"
        and "comparing two files" or modes[1]))
    end
  end
  if modes[1] == "files" then
    if not (o.old and o.new) then return out:fail("give two benchmark files: OLD NEW") end
    local function arg_of(a) return a:find("=", 1, true) and a or { path = a, label = a } end
    return compare(o, arg_of(o.old), arg_of(o.new))
  end
  return ({ ["go-test"] = go_test, run = commands, live = live })[modes[1]](o)
end

os.exit(main(arg))
