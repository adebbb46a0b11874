#!/usr/bin/env pgolua
-- ab.lua: does the profile make the service faster? A/B of -pgo=off against the profile
--   with benchstat's statistics (its output byte for byte) and a CI gate: from two
--   benchmark files, from `go test -bench` run twice, or from live load on two builds.
-- Run:   pgolua recipes/ab.lua OLD.txt NEW.txt [--gate] [--threshold F] [--alpha F]
--          [--json | --markdown | --csv]
--        pgolua recipes/ab.lua --go-test PKG... --profile FILE [--dir DIR] [--count N]
--          [--bench REGEX] [--benchtime D] [--save-dir DIR] [options of two files]
--        pgolua recipes/ab.lua --run-old CMD --run-new CMD [--count N] [--dir DIR]
--          [--save-dir DIR] [options of two files]
--        pgolua recipes/ab.lua --url-a URL --url-b URL [--rounds N] [--duration S] [-c N]
--          [--warmup S] [--gate] [--threshold F] [--json | --markdown]
-- Exit:  0 compared (with --gate: and the gate passed), 3 the gate failed (a benchmark
--        worse than --threshold with p < --alpha; live: B's requests/s interval wholly
--        below -threshold, or B failed requests that A served), 1 error (unreadable file,
--        no benchmark results, go test or a command failed, URL refused, bad option).
-- Adapt: copy this file; change the values under "ADAPT" below (thresholds, go test's
--   defaults, the unit of the headline geomean, what fails each gate). Everything else is
--   library code (pgo.bench.load/compare/report/gate, pgo.ab_load).
--
-- --go-test runs in --dir, every argument one quoted word, old side first:
--     go test -run '^$' -bench REGEX -count N -benchtime D -pgo=off PKG...
--     go test -run '^$' -bench REGEX -count N -benchtime D -pgo=FILE PKG...
--   -pgo=FILE is --profile made absolute (pass the service's default.pgo: the recommended
--   form). Without --profile the new side is -pgo=auto, and under go test auto takes
--   default.pgo only for a package main named on the command line, from its directory:
--   for a library package both sides build the same code. Benchmarks of package main
--   cannot show a service profile's gain either: go test compiles package main under its
--   import path, so the profile's main.* call sites never match. Keep benchmarks in the
--   library packages that hold the hot code, or measure the two binaries live
--   (--url-a/--url-b); recipes/doctor.lua (step 8) checks what a benchmark sees.
--   GO: $GO, else /usr/lib/go-1.23/bin/go, else go. The output is saved as off.txt and
--   on.txt in --save-dir (default a new temporary directory, printed on stderr).
-- --run-old/--run-new run the two shell commands as typed (they are your own commands;
--   --go-test is the safer form), alternating, --count times each; saved as old.txt, new.txt.
-- Columns are labelled as benchstat labels them: each file name as given (LABEL=PATH
--   names one), or off.txt/on.txt, old.txt/new.txt: `benchstat off.txt on.txt` in the
--   save directory prints the same table.
-- --json: geomean_delta_pct is the geomean, over every benchmark with sec/op on both sides
--   (all packages and configurations together), of the new/old ratio of medians, minus 1,
--   in percent: negative = faster; null when no benchmark has sec/op on both sides.
--   geomeans: benchstat's geomean row of each table; comparisons, gate, warnings: the rest.
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local THRESHOLD = 0.05           -- benchmarks: the gate fails on a regression over 5% ...
local ALPHA = 0.05               -- ... with p < 0.05 (benchstat's -alpha)
local LIVE_THRESHOLD = 0.02      -- live load: the +-2% band of "no difference" and the gate
local COUNT = 10                 -- go test -count (runs of each benchmark per side)
local RUN_COUNT = 1              -- --run-old/--run-new: runs of each command, alternating
local BENCH = "."                -- go test -bench
local BENCHTIME = "1s"           -- go test -benchtime
local GEOMEAN_UNIT = "sec/op"    -- the unit of the headline geomean (ns/op, tidied)
local ROUNDS, DURATION, CONNECTIONS, WARMUP = 6, 3, 10, 1   -- live load (pgo.ab_load)
-- The go command: $GO, else Debian's Go 1.23, else go from PATH.
local function go_command()
  local env = os.getenv("GO")
  if env and env ~= "" then return env end
  if pgo.fs.exists("/usr/lib/go-1.23/bin/go") then return "/usr/lib/go-1.23/bin/go" end
  return "go"
end
-- The benchmark gate: ok, failures (pgo.bench.gate's list). A copy can drop units it does
-- not gate on (e.g. keep only sec/op) or add its own rules.
local function bench_gate(cmp, threshold, alpha)
  return pgo.bench.gate(cmp, { threshold = threshold, alpha = alpha })
end
-- The live gate: ok, reasons. Fails when the whole requests/s interval of B against A lies
-- below -threshold (B significantly slower), and when B failed requests that A served
-- (errors on B only: a build that errors is not "not slower"). A copy can also gate on the
-- p99 interval (report.diff.p99) or drop the errors rule.
local function live_gate(report, threshold)
  local reasons = {}
  local d = report.diff.rps
  if d.hi and d.hi < -threshold * 100 then
    reasons[#reasons + 1] = ("B serves %+.1f%% requests/s against A (%g%% CI %+.1f%% .. "
      .. "%+.1f%%), below -%.2f%%"):format(d.pct, report.confidence * 100, d.lo, d.hi,
      threshold * 100)
  end
  if report.errors.b > 0 and report.errors.a == 0 then
    reasons[#reasons + 1] = ("B failed %d requests, A none"):format(report.errors.b)
  end
  return #reasons == 0, reasons
end
-- What each verdict of pgo.ab_load means, printed after it (%s: the threshold).
local VERDICTS = {
  b_faster = "B is faster: the requests/s interval lies wholly above +%s",
  a_faster = "A is faster: the requests/s interval lies wholly below -%s",
  no_difference = "the requests/s interval lies within +-%s",
  inconclusive = "the requests/s interval is neither wholly beyond nor within +-%s, or there "
    .. "were fewer than 2 rounds or request errors: run more rounds",
}
-- ---------------------------------------------------------------------------------------

local out = recipe.new("ab")
local null = require("cjson").null

local parser = argparse("ab",
  "A/B of -pgo=off against the profile: benchmark files, go test, or live load.")
parser:argument("old", "Baseline benchmark output (go test -bench); LABEL=PATH names it.")
  :args("?")
parser:argument("new", "Benchmark output compared with the baseline."):args("?")
parser:flag("--gate", "CI gate: exit 3 when a benchmark (live: B) is worse than the threshold.")
parser:option("--threshold", ("Gate threshold, a fraction (default %g; live load %g, also "
  .. "the no-difference band)."):format(THRESHOLD, LIVE_THRESHOLD))
  :argname("<fraction>"):convert(tonumber)
parser:option("--alpha", "Significance level (benchstat's -alpha).", tostring(ALPHA))
  :convert(tonumber)
local json_flag = parser:flag("--json", "Print JSON instead of text.")
local md_flag = parser:flag("--markdown", "Print markdown (for a pull request).")
local csv_flag = parser:flag("--csv", "Print benchstat's CSV (benchmarks only).")
parser:mutex(json_flag, md_flag, csv_flag)
parser:option("--go-test", "Benchmark these packages with -pgo=off, then with the profile.")
  :args("+"):argname("<pkg>")
parser:option("--profile", "The new side's profile: -pgo=FILE (recommended; default auto).")
  :argname("<file>")
parser:option("--dir", "Directory the commands run in (default: the current one).")
  :argname("<dir>")
parser:option("--count", ("Runs per side: go test -count (default %d); --run-*: runs of "
  .. "each command, alternating (default %d)."):format(COUNT, RUN_COUNT))
  :convert(math.tointeger)
parser:option("--bench", "go test -bench (default " .. BENCH .. ").")
  :argname("<regex>")
parser:option("--benchtime", "go test -benchtime (default " .. BENCHTIME .. ").")
parser:option("--save-dir", "Where the benchmark output goes (default: a new temporary one).")
  :argname("<dir>")
parser:option("--run-old", "Shell command printing the baseline's benchmark output.")
  :argname("<cmd>")
parser:option("--run-new", "Shell command printing the new side's benchmark output.")
  :argname("<cmd>")
parser:option("--url-a", "Live load: URL of the baseline (loopback only).")
  :argname("<url>")
parser:option("--url-b", "Live load: URL of the build under test (loopback only).")
  :argname("<url>")
parser:option("--rounds", ("Live load: rounds, in ABBA order (default %d)."):format(ROUNDS))
  :convert(math.tointeger)
parser:option("--duration", ("Live load: seconds per side and round (default %g).")
  :format(DURATION)):convert(tonumber)
parser:option("-c --connections", ("Live load: concurrent connections (default %d).")
  :format(CONNECTIONS)):convert(math.tointeger)
parser:option("--warmup", ("Live load: unmeasured seconds per side first (default %g).")
  :format(WARMUP)):convert(tonumber)

-- {=====================================================================================
-- Benchmark comparison (two files, and what --go-test / --run-* saved)

-- A path as pgo.bench.load takes it, labelled as benchstat labels it: the name as given.
local function file_arg(a)
  if a:find("=", 1, true) then return a end          -- LABEL=PATH (benchstat's syntax)
  return { path = a, label = a }
end

local function config_object(config)
  local t = {}
  for _, kv in ipairs(config or {}) do
    if kv.value ~= "" then t[kv.key] = kv.value end
  end
  return t
end

-- The headline: geomean over the benchmarks with `unit` on both sides of new/old, in %.
local function geomean_delta_pct(cmp, unit)
  local sum, n = 0, 0
  for _, c in ipairs(cmp.comparisons) do
    if c.unit == unit and type(c.old) == "number" and type(c.new) == "number"
        and c.old > 0 and c.new > 0 and c.old < math.huge and c.new < math.huge then
      sum = sum + math.log(c.new / c.old)
      n = n + 1
    end
  end
  if n == 0 then return nil, 0 end
  return (math.exp(sum / n) - 1) * 100, n
end

-- Every warning of the comparison, once: parse errors, then benchstat's footnotes.
local function collect_warnings(cmp, extra)
  local list, seen = recipe.array(), {}
  local function add(w)
    if not seen[w] then seen[w] = true; list[#list + 1] = w end
  end
  for _, w in ipairs(extra or {}) do add(w) end
  for _, e in ipairs(cmp.errors or {}) do add(e) end
  for _, t in ipairs(cmp.tables) do
    local pkg = config_object(t.config).pkg
    local where = pkg and (" [pkg=" .. pkg .. "]") or ""
    for _, row in ipairs(t.rows) do
      for j, column in ipairs(t.columns) do
        for _, w in ipairs(row.cells[j] and row.cells[j].warnings or {}) do
          add(("%s%s %s (%s): %s"):format(row.name, where, t.unit, column, w))
        end
        for _, w in ipairs(row.comparisons[j] and row.comparisons[j].warnings or {}) do
          add(("%s%s %s: %s"):format(row.name, where, t.unit, w))
        end
      end
    end
    for j = 2, #t.columns do
      local ra = t.geomean.ratios[j]
      for _, w in ipairs(ra and ra.warnings or {}) do
        add(("geomean%s %s: %s"):format(where, t.unit, w))
      end
    end
  end
  return list
end

local function gate_lines(ok, failures, threshold, alpha, ncompared)
  local lines = {}
  if ok then
    lines[1] = ("gate: ok: no benchmark worse than the %s threshold with p < %g (%d compared)")
      :format(recipe.pct(threshold), alpha, ncompared)
    return lines
  end
  lines[1] = ("gate: FAILED: %d benchmark%s worse than the %s threshold with p < %g:")
    :format(#failures, #failures == 1 and " is" or "s are", recipe.pct(threshold), alpha)
  local wn, wu = #"benchmark", #"unit"
  for _, f in ipairs(failures) do
    wn, wu = math.max(wn, utf8.len(f.name) or #f.name), math.max(wu, #f.unit)
  end
  local row = "  %-" .. wn .. "s  %-" .. wu .. "s  %9s  %7s  %s"
  lines[2] = row:format("benchmark", "unit", "delta", "p", "pkg")
  for _, f in ipairs(failures) do
    lines[#lines + 1] = row:format(f.name, f.unit, ("%+.2f%%"):format(f.delta_pct),
      ("%.3f"):format(f.p), config_object(f.config).pkg or "")
  end
  return lines
end

local md = recipe.md   -- inert markdown, mentions included (pgo.markdown.text)

local function gate_markdown(ok, failures, threshold, alpha, ncompared)
  if ok then
    return ("**Gate passed**: no benchmark worse than the %s threshold with p < %g "
      .. "(%d compared).\n"):format(recipe.pct(threshold), alpha, ncompared)
  end
  local l = { ("**Gate failed**: %d benchmark%s worse than the %s threshold with p < %g:")
    :format(#failures, #failures == 1 and " is" or "s are", recipe.pct(threshold), alpha), "",
    "| benchmark | unit | delta | p | pkg |", "| --- | --- | ---: | ---: | --- |" }
  for _, f in ipairs(failures) do
    local pkg = config_object(f.config).pkg
    l[#l + 1] = ("| %s | %s | %+.2f%% | %.3f | %s |"):format(md(f.name), md(f.unit),
      f.delta_pct, f.p, pkg and md(pkg) or "")
  end
  return table.concat(l, "\n") .. "\n"
end

-- Load, compare, print. old_arg/new_arg: pgo.bench.load arguments. info: extra JSON fields
-- and notes from the mode that produced the files. Returns the exit code.
local function compare_files(o, old_arg, new_arg, info)
  info = info or {}
  local sets = {}
  for i, a in ipairs { old_arg, new_arg } do
    local s, err = pgo.bench.load(a)
    if not s then return out:fail(err) end
    local f = s.files[1]
    if s.results == 0 then
      return out:fail(("%s: no benchmark results (expected `go test -bench` output)")
        :format(f.path))
    end
    sets[i] = s
  end
  local lo, ln = sets[1].files[1], sets[2].files[1]
  if lo.label == ln.label then
    return out:fail(("both sides are labelled %s; name them with OLD=PATH NEW=PATH")
      :format(lo.label))
  end
  local threshold = o.threshold or THRESHOLD
  local cmp = pgo.bench.compare(sets[1], sets[2], { alpha = o.alpha })
  local ok, failures = bench_gate(cmp, threshold, o.alpha)
  local gm, ngm = geomean_delta_pct(cmp, GEOMEAN_UNIT)
  local code = (o.gate and not ok) and recipe.EXIT.over_threshold or recipe.EXIT.ok
  if #cmp.comparisons == 0 then
    out:note(("no benchmark is in both %s and %s: nothing to compare"):format(lo.label, ln.label))
    if o.gate then return recipe.EXIT.error end
  end

  if o.json then
    local comparisons = recipe.array()
    for _, c in ipairs(cmp.comparisons) do
      local cfg = config_object(c.config)
      comparisons[#comparisons + 1] = { name = c.name, unit = c.unit, pkg = cfg.pkg or null,
        config = cfg, old = c.old, new = c.new, delta_pct = c.delta and c.delta * 100 or null,
        p = c.p or null, significant = c.significant, text = c.text, n_old = c.n1,
        n_new = c.n2, higher_is_better = c.higher_is_better }
    end
    local geomeans = recipe.array()
    for _, t in ipairs(cmp.tables) do
      local ra = t.geomean.ratios[2]
      if ra then
        local cfg = config_object(t.config)
        geomeans[#geomeans + 1] = { unit = t.unit, pkg = cfg.pkg or null, config = cfg,
          benchmarks = #t.rows, delta_pct = ra.ratio and (ra.ratio - 1) * 100 or null,
          text = ra.text }
      end
    end
    local fails = recipe.array()
    for _, f in ipairs(failures) do
      local cfg = config_object(f.config)
      fails[#fails + 1] = { name = f.name, unit = f.unit, pkg = cfg.pkg or null, config = cfg,
        old = f.old, new = f.new, delta_pct = f.delta_pct, p = f.p, message = f.message }
    end
    local doc = {
      mode = info.mode or "files",
      old = { label = lo.label, path = lo.path }, new = { label = ln.label, path = ln.path },
      geomean_delta_pct = gm or null, geomean_unit = GEOMEAN_UNIT, geomean_benchmarks = ngm,
      geomeans = geomeans, comparisons = comparisons,
      gate = { enforced = o.gate or false, ok = ok, threshold = threshold, alpha = o.alpha,
        failures = fails },
      warnings = collect_warnings(cmp, info.warnings),
      alpha = o.alpha, exit = code,
    }
    for k, v in pairs(info.json or {}) do doc[k] = v end
    io.write(recipe.json(doc), "\n")
    return code
  end

  local format = o.csv and "csv" or o.markdown and "markdown" or "text"
  local text, warnings = pgo.bench.report(cmp, { format = format })
  for _, e in ipairs(cmp.errors or {}) do out:note(e) end
  -- benchmark names and configuration values come from the files (outside text):
  -- control characters are shown escaped, never sent raw to the terminal
  io.write((text:gsub("[^\n]+", pgo.report.terminal_text)))
  for line in warnings:gmatch("[^\n]+") do out:note(line) end
  if o.gate then
    if format == "markdown" then
      io.write("\n", gate_markdown(ok, failures, threshold, o.alpha, #cmp.comparisons))
    elseif format == "csv" then
      for _, l in ipairs(gate_lines(ok, failures, threshold, o.alpha, #cmp.comparisons)) do
        out:note(l)
      end
    else
      io.write("\n", table.concat(gate_lines(ok, failures, threshold, o.alpha,
        #cmp.comparisons), "\n"), "\n")
    end
  end
  return code
end

-- }=====================================================================================

-- {=====================================================================================
-- Producing the files: go test twice, or the user's two commands

local function words_display(words)
  local q = {}
  for i, w in ipairs(words) do q[i] = recipe.shell_word(w) end
  return table.concat(q, " ")
end

-- The current directory (physical: symbolic links resolved).
local function cwd()
  return pgo.fs.realpath(".") or os.getenv("PWD") or "."
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return cwd() .. "/" .. path:gsub("^%./", "")
end

-- How a finished pgo.fs.run ended, for messages: "exit status 2", "killed by signal 9".
local function ending(r)
  if r.signal then return "killed by signal " .. tostring(r.signal) end
  return "exit status " .. tostring(r.status)
end

-- Remove a directory tree this run created (rm -rf, run without a shell).
local function remove_tree(d)
  pgo.fs.run({ "rm", "-rf", "--", d }, { stdout = false, stderr = false })
end

-- The save directory: --save-dir (created when missing) or a new temporary one; the second
-- value is a function that removes the directory when this run created it (on failure).
-- No shell runs here: the names reach mkdir and rm as single arguments, after "--".
local function save_dir(o)
  if o.save_dir then
    local r, err = pgo.fs.run({ "mkdir", "-p", "--", o.save_dir }, { stdout = false })
    if not r or r.status ~= 0 then
      return nil, "cannot create --save-dir " .. o.save_dir .. (r and "" or (": " .. tostring(err)))
    end
    return absolute(o.save_dir), function() end     -- absolute: the commands run in --dir
  end
  local tmp = os.getenv("TMPDIR")
  if not tmp or tmp == "" then tmp = "/tmp" end
  local d, err = pgo.fs.mkdtemp(tmp, "pgolua-ab")       -- mode 0700, exclusive
  if not d then return nil, "cannot create a temporary directory: " .. tostring(err) end
  return d, function() remove_tree(d) end
end

-- The last lines of a file, indented, for an error message.
local function tail(path, n)
  local text = recipe.read_file(path) or ""
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  local from = math.max(1, #lines - (n or 15) + 1)
  local t = {}
  for i = from, #lines do t[#t + 1] = "  " .. lines[i] end
  return table.concat(t, "\n")
end

local function run_go_test(o)
  for _, k in ipairs { "count", "bench", "benchtime" } do
    if o[k] == nil then o[k] = ({ count = COUNT, bench = BENCH, benchtime = BENCHTIME })[k] end
  end
  if o.count < 1 then return out:fail("--count must be a positive integer") end
  local notes = {}
  local new_pgo = "auto"
  if o.profile then
    if not pgo.fs.exists(o.profile) then
      return out:fail("--profile " .. o.profile .. ": no such file")
    end
    new_pgo = absolute(o.profile)    -- go test runs in --dir
  else
    -- auto applies default.pgo only to a package main named on the command line
    local found = false
    for _, pkg in ipairs(o.go_test) do
      if pkg:match("^%.") and not pkg:find("...", 1, true) then
        local d = (o.dir and (o.dir .. "/") or "") .. pkg
        if pgo.fs.exists(d .. "/default.pgo") then found = true end
      end
    end
    if not found then
      notes[#notes + 1] = "-pgo=auto: go test uses default.pgo only for a package main named on "
        .. "the command line (from its directory); for library packages both sides build the "
        .. "same code: pass --profile FILE (e.g. cmd/api/default.pgo)"
    else
      notes[#notes + 1] = "benchmarks of package main cannot show a service profile's gain "
        .. "(under go test it is compiled under its import path, the profile's main.* call "
        .. "sites never match): see recipes/doctor.lua"
    end
  end
  for _, n in ipairs(notes) do out:note(n) end
  local dir, discard = save_dir(o)
  if not dir then return out:fail(discard) end
  local go = go_command()
  local files, commands = {}, {}
  for i, side in ipairs { { "off", "off" }, { "on", new_pgo } } do
    local words = { go, "test", "-run", "^$", "-bench", o.bench, "-count", tostring(o.count),
      "-benchtime", o.benchtime, "-pgo=" .. side[2] }
    for _, pkg in ipairs(o.go_test) do words[#words + 1] = pkg end
    local file, errfile = dir .. "/" .. side[1] .. ".txt", dir .. "/" .. side[1] .. ".stderr"
    commands[side[1]] = words_display(words)
    out:note(("go test -pgo=%s (%d of 2): %s"):format(side[2], i, commands[side[1]]))
    -- an argument vector, no shell: a package or path holding ' ; $() ` stays one word
    local r, rerr = pgo.fs.run(words, { dir = o.dir, stdout = file, stderr = errfile })
    if not r or r.status ~= 0 then
      local t = r and tail(errfile) or ""
      if r and t == "" then t = tail(file) end
      discard()
      if not r then return out:fail(("go test -pgo=%s: %s"):format(side[2], rerr)) end
      return out:fail(("go test -pgo=%s failed (%s)%s"):format(side[2], ending(r),
        t ~= "" and (":\n" .. t) or ""))
    end
    files[side[1]] = file
  end
  out:note(("benchmark output saved in %s (off.txt, on.txt)"):format(dir))
  return compare_files(o, { path = files.off, label = "off.txt" },
    { path = files.on, label = "on.txt" }, { mode = "go-test", warnings = notes, json = {
      save_dir = dir, commands = commands, profile = o.profile and new_pgo or null,
      packages = recipe.array(o.go_test) } })
end

local function run_commands(o)
  if not (o.run_old and o.run_new) then
    return out:fail("--run-old and --run-new go together")
  end
  local count = o.count or RUN_COUNT
  if count < 1 then return out:fail("--count must be a positive integer") end
  local dir, discard = save_dir(o)
  if not dir then return out:fail(discard) end
  local files = { old = dir .. "/old.txt", new = dir .. "/new.txt" }
  for _, f in pairs(files) do
    local ok, werr = recipe.write_file(f, "")
    if not ok then return out:fail(werr) end
  end
  -- alternating old, new, old, new, ...: a drift of the machine hits both sides alike
  for i = 1, count do
    for _, side in ipairs { "old", "new" } do
      local command = o["run_" .. side]
      out:note(("run %d of %d, %s: %s"):format(i, count, side, command))
      -- the user's own command line, for /bin/sh as typed (trusted: it comes from the
      -- user's flags); only the directory and the output file are pgolua's, and they are
      -- passed as arguments, not spliced into the command
      local r, rerr = pgo.fs.run({ "/bin/sh", "-c", command }, { dir = o.dir,
        stdout = files[side], append = true })
      if not r or r.status ~= 0 then
        discard()
        if not r then return out:fail(("--run-%s: %s"):format(side, rerr)) end
        return out:fail(("--run-%s failed (%s): %s"):format(side, ending(r), command))
      end
    end
  end
  out:note(("benchmark output saved in %s (old.txt, new.txt)"):format(dir))
  return compare_files(o, { path = files.old, label = "old.txt" },
    { path = files.new, label = "new.txt" }, { mode = "run", json = { save_dir = dir,
      commands = { old = o.run_old, new = o.run_new }, runs = count } })
end

-- }=====================================================================================

-- {=====================================================================================
-- Live load

local function seconds_text(s)
  if type(s) ~= "number" then return "?" end
  if s < 1e-3 then return ("%.1fµs"):format(s * 1e6) end
  if s < 1 then return ("%.2fms"):format(s * 1e3) end
  return ("%.2fs"):format(s)
end

local function pct_text(x) return x and ("%+.1f%%"):format(x) or "?" end

local function ci_text(d)
  if not (d and d.lo) then return "n/a" end
  return ("%s .. %s"):format(pct_text(d.lo), pct_text(d.hi))
end

local function live(o)
  if not (o.url_a and o.url_b) then return out:fail("--url-a and --url-b go together") end
  if o.csv then return out:fail("--csv applies to benchmark comparisons, not to live load") end
  local threshold = o.threshold or LIVE_THRESHOLD
  local rounds, duration = o.rounds or ROUNDS, o.duration or DURATION
  local c, warmup = o.connections or CONNECTIONS, o.warmup or WARMUP
  if rounds < 1 then return out:fail("--rounds must be a positive integer") end
  if not (duration > 0) then return out:fail("--duration must be a positive number of seconds") end
  if c < 1 then return out:fail("-c must be a positive integer") end
  if not (warmup >= 0) then return out:fail("--warmup must be 0 or more seconds") end
  local done, r, err = pcall(pgo.ab_load, { a = o.url_a, b = o.url_b, rounds = rounds,
    duration = duration, c = c, warmup = warmup, threshold = threshold })
  if not done then return out:fail(r) end
  if not r then return out:fail(err) end
  local ok, reasons = live_gate(r, threshold)
  local code = (o.gate and not ok) and recipe.EXIT.over_threshold or recipe.EXIT.ok
  local verdict_text = VERDICTS[r.verdict] and VERDICTS[r.verdict]:format(recipe.pct(threshold))
    or r.verdict
  local conf = ("%g%%"):format(r.confidence * 100)

  if o.json then
    local rounds_list = recipe.array()
    for i, rd in ipairs(r.rounds) do rounds_list[i] = rd end
    io.write(recipe.json {
      mode = "live",
      a = { url = r.a.url, rps = r.a.rps, p50 = r.a.p50, p99 = r.a.p99 },
      b = { url = r.b.url, rps = r.b.rps, p50 = r.b.p50, p99 = r.b.p99 },
      diff = r.diff, rounds = rounds_list, errors = r.errors, verdict = r.verdict,
      verdict_text = verdict_text, summary = r.summary, confidence = r.confidence,
      threshold = threshold, duration = duration, connections = c, warmup = warmup,
      latency_unit = "s",
      gate = { enforced = o.gate or false, ok = ok, failures = recipe.array(reasons) },
      exit = code,
    }, "\n")
    return code
  end

  -- latencies of a side that completed no request are not measured
  local function lat(side, q) return (side.rps or 0) > 0 and seconds_text(side[q]) or "n/a" end
  local rows = {
    { "requests/s", ("%.1f"):format(r.a.rps or 0), ("%.1f"):format(r.b.rps or 0), r.diff.rps },
    { "p50", lat(r.a, "p50"), lat(r.b, "p50"), r.diff.p50 },
    { "p99", lat(r.a, "p99"), lat(r.b, "p99"), r.diff.p99 },
  }
  if o.markdown then
    local l = { ("A: %s, B: %s; medians over %d rounds of %gs per side (ABBA order), "
      .. "%d connections."):format(recipe.md_code(r.a.url), recipe.md_code(r.b.url), rounds,
      duration, c), "",
      ("| | A | B | B vs A | %s CI |"):format(conf), "| --- | ---: | ---: | ---: | --- |" }
    for _, row in ipairs(rows) do
      l[#l + 1] = ("| %s | %s | %s | %s | %s |"):format(row[1], row[2], row[3],
        pct_text(row[4].pct), ci_text(row[4]))
    end
    l[#l + 1] = ("| errors | %d | %d | | |"):format(r.errors.a, r.errors.b)
    l[#l + 1] = ""
    l[#l + 1] = ("**Verdict: %s** (%s)."):format(recipe.md(r.verdict), recipe.md(verdict_text))
    if o.gate then
      l[#l + 1] = ""
      l[#l + 1] = ok and "**Gate passed**." or
        ("**Gate failed**: " .. recipe.md(table.concat(reasons, "; ")) .. ".")
    end
    io.write(table.concat(l, "\n"), "\n")
    return code
  end

  local w = function(...) io.write(...) io.write("\n") end
  -- columns padded by characters, not bytes ("µs")
  local function pad(s, n, left)
    local fill = (" "):rep(math.max(0, n - (utf8.len(s) or #s)))
    return left and (s .. fill) or (fill .. s)
  end
  local function line(name, a, b, d, ci)
    return ((pad(name, 12, true) .. pad(a, 13) .. pad(b, 13) .. pad(d, 9) .. "  " .. ci)
      :gsub("%s+$", ""))
  end
  w("A  ", r.a.url)
  w("B  ", r.b.url)
  w(("medians over %d rounds of %gs per side (ABBA order), %d connections, %gs warm-up")
    :format(rounds, duration, c, warmup))
  w(line("", "A", "B", "B vs A", conf .. " CI"))
  for _, row in ipairs(rows) do
    w(line(row[1], row[2], row[3], pct_text(row[4].pct), ci_text(row[4])))
  end
  w(line("errors", tostring(r.errors.a), tostring(r.errors.b), "", ""))
  w("verdict: ", r.verdict, " (", verdict_text, ")")
  if o.gate then
    w(ok and ("gate: ok: B is not significantly slower than A by more than "
      .. recipe.pct(threshold)) or ("gate: FAILED: " .. table.concat(reasons, "; ")))
  end
  return code
end

-- }=====================================================================================

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  if o.threshold ~= nil and not (o.threshold >= 0) then
    return out:fail("--threshold must be a fraction >= 0 (0.05 = 5%)")
  end
  if not o.alpha or not (o.alpha > 0 and o.alpha < 1) then
    return out:fail("--alpha must be between 0 and 1")
  end
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
  local mode = modes[1]
  -- options that belong to one mode only
  local either = { ["go-test"] = true, run = true }
  local owner = { { "profile", "go-test" }, { "bench", "go-test" }, { "benchtime", "go-test" },
    { "count", either }, { "dir", either }, { "save_dir", either }, { "rounds", "live" },
    { "duration", "live" }, { "connections", "live" }, { "warmup", "live" } }
  for _, km in ipairs(owner) do
    local k, m = km[1], km[2]
    local fits = type(m) == "table" and m[mode] or m == mode
    if o[k] ~= nil and not fits then
      return out:fail(("--%s does not apply here (%s)"):format(k:gsub("_", "-"),
        mode == "files" and "comparing two files" or mode))
    end
  end
  if mode == "files" then
    if not (o.old and o.new) then return out:fail("give two benchmark files: OLD NEW") end
    return compare_files(o, file_arg(o.old), file_arg(o.new))
  elseif mode == "go-test" then
    return run_go_test(o)
  elseif mode == "run" then
    return run_commands(o)
  end
  return live(o)
end

os.exit(main(arg))
