-- Black-box specs for recipes/ab.lua: run ./pgolua recipes/ab.lua on the real A/B of the
-- shop (testdata/ab: bench/off.txt, bench/on.txt and benchstat's own output of them)
-- and check output, JSON and exit status. No Go needed: --go-test runs a stand-in for the
-- go command (a shell script named go, first in PATH) whose "test binaries" log the order
-- they ran in and print the fixtures; live load is only checked for its refusals here
-- (spec/integration/ab_live_spec.lua loads a real service, spec/integration/ab_run_spec.lua
-- builds real test binaries).
--
-- geomean_delta_pct is defined by the recipe as the geomean, over every benchmark with
-- sec/op on both sides (all packages together), of new/old medians, minus 1, in percent.
-- On the fixture that is three benchmarks: LookupBatch-2 and HandleSlow-2 of
-- example.com/shop/cmd/shop (benchstat's geomean row there: -0.62%) and Get95-2 of
-- example.com/shop/internal/cache (+0.31%): -0.31%. The spec computes it again from the raw
-- fixture lines.
local helpers = require "helpers"
local cjson = require "cjson"

local q = helpers.shq
local A = helpers.fixture("ab") .. "/"
local RECIPE = q(helpers.root .. "/recipes/ab.lua")

-- Run the recipe with an argument string, in dir when given.
local function ab(args, dir, env)
  local cmd = (env or "") .. q(helpers.pgolua) .. " " .. RECIPE .. " " .. args
  if dir then cmd = "cd " .. q(dir) .. " && " .. cmd end
  return helpers.run(cmd)
end

-- pkg/name -> sorted values (sec) of a benchmark file, parsed here without pgo.bench.
local function raw(path)
  local t, pkg = {}, nil
  for line in io.lines(path) do
    pkg = line:match("^pkg: (.+)$") or pkg
    local name, v = line:match("^Benchmark(%S+)%s+%d+%s+(%S+) ns/op")
    if name then
      local k = pkg .. " " .. name
      t[k] = t[k] or {}
      table.insert(t[k], tonumber(v) * 1e-9)
    end
  end
  for _, vs in pairs(t) do table.sort(vs) end
  return t
end

local function median(vs)
  local n = #vs
  if n % 2 == 1 then return vs[(n + 1) // 2] end
  return (vs[n // 2] + vs[n // 2 + 1]) / 2
end

-- A temporary directory holding bench/off.txt and bench/on.txt (the golden's labels) and
-- bench/slow.txt: on.txt with every ns/op value scaled by 1.25.
local function workdir()
  local dir = helpers.tmpdir()
  assert(os.execute("mkdir " .. q(dir .. "/bench")))
  local off, on = helpers.read_file(A .. "bench/off.txt"), helpers.read_file(A .. "bench/on.txt")
  helpers.write_file(dir .. "/bench/off.txt", off)
  helpers.write_file(dir .. "/bench/on.txt", on)
  local slow, n = on:gsub("(%s)(%d+) ns/op", function(sp, v)
    return sp .. ("%d"):format(math.floor(tonumber(v) * 1.25 + 0.5)) .. " ns/op"
  end)
  assert(n == 30, "expected 30 ns/op values in on.txt, got " .. n)
  helpers.write_file(dir .. "/bench/slow.txt", slow)
  return dir
end

describe("recipes/ab.lua with two benchmark files", function()
  local dir
  before_each(function() dir = workdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("prints benchstat's table byte for byte, then a verdict per benchmark", function()
    local out, err, code = ab("bench/off.txt bench/on.txt", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    local golden = helpers.read_file(A .. "benchstat.txt")
    assert.equal(golden, out:sub(1, #golden))
    local rest = out:sub(#golden + 1)
    assert.matches("\nA/B: bench/off.txt %(baseline%) against bench/on.txt\n", rest)
    assert.matches("2 no difference, 1 too noisy to tell", rest, 1, true)
    assert.matches("LookupBatch%-2 sec/op %-0%.04%% 0%.684 n=10%s+±1%% / ±2%%%s+no difference", rest)
    -- Get95's new side spreads ±5%: no 5% change could be told apart from it
    assert.matches("Get95-2 sec/op: not significant (p=0.529) and the runs spread ±5%, wider "
      .. "than the 5% to resolve; to settle: more rounds (--count), a longer --benchtime, a "
      .. "quieter machine, or CPU pinning (taskset -c N)", rest, 1, true)
    assert.matches("geomean of sec/op over 3 benchmarks: -0.31% (lower; a summary, not a test "
      .. "of significance)", rest, 1, true)
  end)

  it("labels columns as given: LABEL=PATH gives the same table from anywhere", function()
    local out, err, code = ab(q("bench/off.txt=" .. A .. "bench/off.txt") .. " "
      .. q("bench/on.txt=" .. A .. "bench/on.txt"))
    assert.equal(0, code, err)
    local golden = helpers.read_file(A .. "benchstat.txt")
    assert.equal(golden, out:sub(1, #golden))
  end)

  it("prints benchstat's CSV byte for byte with --csv", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --csv", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.equal(helpers.read_file(A .. "benchstat.csv"), out)
  end)

  it("prints markdown: the sides, benchstat's tables, verdicts with p and n", function()
    local out, _, code = ab("bench/off.txt bench/on.txt --markdown", dir)
    assert.equal(0, code)
    assert.matches("**A/B**: bench/off.txt (baseline) against bench/on.txt.", out, 1, true)
    assert.matches("| `LookupBatch-2` | 1.071m ± 1% | 1.070m ± 2% | ~ | p=0.684 n=10 |", out, 1,
      true)
    assert.matches("| HandleSlow-2 | sec/op | -1.21% | 0.123 | n=10 | ±2% / ±1% | no difference |",
      out, 1, true)
    assert.matches("| Get95-2 | sec/op | +0.31% | 0.529 | n=10 | ±2% / ±5% | too noisy to tell "
      .. "(more rounds", out, 1, true)
  end)

  it("gates the real A/B: too noisy to tell is exit 4; a wider threshold decides it", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --gate", dir)
    assert.equal(4, code, err)
    assert.matches("\ngate: too noisy to tell: 1 comparison could not be decided (exit 4)", out, 1,
      true)
    out, err, code = ab("bench/off.txt bench/on.txt --gate --threshold 0.10", dir)
    assert.equal(0, code, err)
    assert.matches("\ngate passed: no significant regression beyond 10.00% and every benchmark "
      .. "decided (3 compared)\n", out, 1, true)
  end)

  it("fails the gate on a copy 25% slower: exit 3, every benchmark named with delta, p, n", function()
    local out, err, code = ab("bench/off.txt bench/slow.txt --gate", dir)
    assert.equal(3, code, err)
    assert.matches("LookupBatch-2     1.071m ± 1%   1.338m ± 2%  +24.96% (p=0.000 n=10)", out, 1,
      true)
    assert.matches("3 slower, 0 no difference, 0 too noisy to tell", out, 1, true)
    assert.matches("gate FAILED: LookupBatch-2 sec/op: +24.96% (p=0.000 n=10) is worse than the "
      .. "5.00% threshold; HandleSlow-2 sec/op: +23.49%", out, 1, true)
    assert.matches("Get95-2 sec/op: +25.39% (p=0.000 n=10) is worse", out, 1, true)
    assert.matches("(higher; a summary, not a test of significance)", out, 1, true)
    local _, _, code2 = ab("bench/off.txt bench/slow.txt", dir)
    assert.equal(0, code2)       -- without --gate: only printed
    local out3, _, code3 = ab("bench/off.txt bench/slow.txt --gate --threshold 0.30", dir)
    assert.equal(0, code3)
    assert.matches("gate passed", out3, 1, true)
    local md, _, code4 = ab("bench/off.txt bench/slow.txt --gate --markdown", dir)
    assert.equal(3, code4)
    assert.matches("**Gate FAILED**: LookupBatch-2 sec/op: +24.96%", md, 1, true)
    assert.matches("| Get95-2 | sec/op | +25.39% | 0.000 | n=10 | ±2% / ±5% | slower |", md, 1, true)
    assert.is_nil(md:lower():find("%f[%a]gain"))
  end)

  it("fails the gate when a benchmark is missing on one side or a run failed", function()
    -- the CI case: on.txt lost LookupBatch (it panicked) and carries go test's FAIL lines
    local on = helpers.read_file(dir .. "/bench/on.txt"):gsub("BenchmarkLookupBatch[^\n]*\n", "")
    helpers.write_file(dir .. "/bench/broken.txt", on .. "--- FAIL: BenchmarkLookupBatch-2\n"
      .. "panic: boom\nFAIL\texample.com/shop/cmd/shop\t1.2s\n")
    local out, err, code = ab("bench/off.txt bench/broken.txt --gate --threshold 0.2", dir)
    assert.equal(3, code, err)
    assert.matches("LookupBatch-2 sec/op: only in bench/off.txt, missing in bench/broken.txt",
      out, 1, true)
    assert.matches("a run failed: bench/broken.txt: --- FAIL: BenchmarkLookupBatch-2", out, 1, true)
    assert.matches("a run failed: bench/broken.txt: panic: boom", out, 1, true)
    local doc = cjson.decode((ab("bench/off.txt bench/broken.txt --gate --json", dir)))
    assert.equal("failed", doc.gate.status)
    assert.equal(3, doc.exit)
    assert.equal("LookupBatch-2", doc.one_sided[1].name)
    assert.equal(3, #doc.failed_runs)
  end)

  it("says which runs are too few and what would settle it", function()
    local function lines(path, n)
      local t = {}
      for l in helpers.read_file(path):gmatch("[^\n]+\n?") do
        if not l:match("^Benchmark") or (#t < n + 4) then t[#t + 1] = l end
      end
      return table.concat(t)
    end
    helpers.write_file(dir .. "/a.txt", lines(dir .. "/bench/off.txt", 3))
    helpers.write_file(dir .. "/b.txt", lines(dir .. "/bench/slow.txt", 3))
    local out, err, code = ab("a.txt b.txt --gate", dir)
    assert.equal(4, code, err)
    assert.matches("LookupBatch-2 sec/op: n=3 runs: too few for a confidence interval; to "
      .. "settle: more rounds: at least 10 per side (--count)", out, 1, true)
  end)

  it("writes verdicts, spreads, the gate and geomean_delta_pct with --json", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --json", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    local doc = cjson.decode(out)
    local old, new = raw(A .. "bench/off.txt"), raw(A .. "bench/on.txt")
    local sum, n = 0, 0
    for k, vs in pairs(old) do
      sum = sum + math.log(median(new[k]) / median(vs))
      n = n + 1
    end
    assert.equal(3, n)
    assert.near((math.exp(sum / n) - 1) * 100, doc.geomean_delta_pct, 1e-9)
    assert.equal("sec/op", doc.geomean_unit)
    assert.equal(2, #doc.geomeans)
    assert.equal("-0.62%", doc.geomeans[1].text)
    local byname = {}
    for _, c in ipairs(doc.comparisons) do byname[c.name] = c end
    local lb = byname["LookupBatch-2"]
    assert.near(median(old["example.com/shop/cmd/shop LookupBatch-2"]), lb.old, 1e-15)
    assert.near(median(new["example.com/shop/cmd/shop LookupBatch-2"]), lb.new, 1e-15)
    assert.equal("0.684", ("%.3f"):format(lb.p))
    assert.equal(10, lb.n_old)
    assert.equal("no_difference", lb.verdict)
    assert.equal(cjson.null, lb.settle)
    assert.is_true(lb.spread_old_pct > 0.5 and lb.spread_old_pct < 1.5, lb.spread_old_pct)
    assert.equal("too_noisy", byname["Get95-2"].verdict)
    assert.same({ faster = 0, slower = 0, better = 0, worse = 0, no_difference = 2,
      too_noisy = 1 }, doc.counts)
    assert.equal("too_noisy", doc.gate.status)
    assert.equal(cjson.null, doc.sides)
    assert.equal(0, doc.exit)       -- the gate is evaluated, not enforced
    assert.equal("[]", out:match('"warnings":(%[%])'))
    assert.equal("files", doc.mode)
  end)

  it("writes null for geomean_delta_pct when no benchmark has sec/op on both sides", function()
    helpers.write_file(dir .. "/a.txt", "BenchmarkX 10 100 B/op\nBenchmarkX 10 100 B/op\n")
    helpers.write_file(dir .. "/b.txt", "BenchmarkX 10 90 B/op\nBenchmarkX 10 90 B/op\n")
    local out, err, code = ab("a.txt b.txt --json", dir)
    assert.equal(0, code, err)
    assert.matches('"geomean_delta_pct":null', out, 1, true)
    assert.equal(0, cjson.decode(out).geomean_benchmarks)
  end)

  it("exits 1 on an unreadable file, a file without results, and usage errors", function()
    local _, err, code = ab("bench/off.txt bench/missing.txt", dir)
    assert.equal(1, code)
    assert.matches("^ab: cannot read benchmark file bench/missing.txt", err)
    helpers.write_file(dir .. "/empty.txt", "PASS\nok  \texample.com/x\t0.01s\n")
    _, err, code = ab("bench/off.txt empty.txt", dir)
    assert.equal(1, code)
    assert.matches("ab: empty.txt: no benchmark results", err, 1, true)
    for _, args in ipairs { "", "bench/off.txt", "bench/off.txt bench/on.txt --alpha 2",
      "bench/off.txt bench/on.txt --threshold -1", "bench/off.txt bench/on.txt --json --csv",
      "bench/off.txt bench/on.txt --url-a http://127.0.0.1:1/",
      "bench/off.txt bench/on.txt --rounds 3", "bench/off.txt bench/on.txt --shuffle",
      "bench/off.txt bench/off.txt" } do
      local out2, err2, code2 = ab(args, dir)
      assert.equal(1, code2, args)
      assert.equal("", out2, args)
      assert.matches("^ab: ", err2)
    end
  end)
end)

describe("pgo.ab.runbook_section", function()
  it("names the sides, lists significant slowdowns as slowdowns, shows p and n", function()
    local dir = workdir()
    local out = ab("bench/off.txt bench/slow.txt --json", dir)
    helpers.rm_rf(dir)
    local doc = cjson.decode(out)
    doc.sides = { old = "-pgo=off", new = "-pgo=/src/cmd/api/default.pgo" }
    local text = require("pgo.ab").runbook_section(doc)
    assert.matches("Measured with bench/off.txt = `-pgo=off` vs bench/slow.txt = "
      .. "`-pgo=/src/cmd/api/default.pgo`.", text, 1, true)
    assert.matches("- Significantly faster with the profile: none\n", text, 1, true)
    assert.matches("- Significantly slower with the profile: LookupBatch-2 sec/op +24.96% "
      .. "(p=0.000 n=10), HandleSlow-2", text, 1, true)
    assert.matches("geomean of sec/op over 3 benchmarks: +", text, 1, true)
    assert.is_nil(text:lower():find("%f[%a]gain"))
  end)
end)

describe("recipes/ab.lua --go-test (go replaced by a script first in PATH)", function()
  local dir, order
  -- The stand-in go: `list` prints each package with a directory, `version` a version,
  -- `test -c -o PATH -pgo=X PKG` writes a "test binary" at PATH that logs its side to
  -- `order` and prints off.txt or on.txt (or panics with FAKE_PANIC set, on the on side).
  local function fake_go()
    local bin = dir .. "/bin"
    assert(os.execute("mkdir -p " .. q(bin)))
    helpers.write_file(bin .. "/go", table.concat({
      "#!/bin/sh",
      "case $1 in",
      "list) shift 3; for p in \"$@\"; do printf 'example.com/m/%s\\t%s\\n' \"${p#./}\" \"$PWD\"; done ;;",
      "version) echo 'go version go0.0 fake' ;;",
      "test) [ -n \"$FAKE_BUILD_FAIL\" ] && { echo './x.go:3:1: syntax error'; exit 2; }",
      "  side=on; [ \"$5\" = -pgo=off ] && side=off",
      "  fix=" .. q(A .. "bench/") .. "$side.txt",
      "  { echo '#!/bin/sh'; echo \"echo $side >>" .. dir .. "/order\";",
      "    [ $side = on ] && echo '[ -n \"$FAKE_PANIC\" ] && { echo \"panic: boom\"; exit 2; }';",
      "    echo \"cat '$fix'\"; } >\"$4\"; chmod +x \"$4\" ;;",
      "esac", "" }, "\n"))
    assert(os.execute("chmod +x " .. q(bin .. "/go")))
    return "PATH=" .. q(bin) .. ":$PATH GO=/nonexistent/go "
  end

  before_each(function()
    dir = helpers.tmpdir()
    order = dir .. "/order"
    assert(os.execute("mkdir -p " .. q(dir .. "/mod/cmd/api")))
    helpers.write_file(dir .. "/mod/cmd/api/default.pgo", "profile")
  end)
  after_each(function() helpers.rm_rf(dir) end)

  it("builds each side once, alternates the binaries in ABBA rounds, keeps them hashed", function()
    local out, err, code = ab("--go-test ./internal/x --dir mod --profile "
      .. "mod/cmd/api/default.pgo --count 4 --save-dir saved --json", dir, fake_go())
    assert.equal(0, code, err)
    -- the go on PATH ran, not $GO; the rounds: off on, on off, on off, off on
    assert.equal("off\non\non\noff\non\noff\noff\non\n", helpers.read_file(order))
    assert.matches("ab: round 2 of 4: on off\n", err, 1, true)
    assert.equal(helpers.read_file(A .. "bench/off.txt"):rep(4), helpers.read_file(dir .. "/saved/off.txt"))
    local doc = cjson.decode(out)
    assert.equal("go-test", doc.mode)
    assert.same({ old = "-pgo=off", new = "-pgo=" .. dir .. "/mod/cmd/api/default.pgo" }, doc.sides)
    assert.equal(4, doc.rounds)
    assert.equal("ABBA", doc.order)
    local b = doc.run.binaries[1]
    assert.equal("example.com/m/internal/x", b.package)
    assert.equal(dir .. "/saved/bin/1-off.test", b.off.path)
    local sum = helpers.run("sha256sum " .. q(b.on.path)):match("^(%x+)")
    assert.equal(sum, b.on.sha256)
    assert.is_false(b.same_code)
    local manifest = cjson.decode(helpers.read_file(dir .. "/saved/ab-run.json"))
    assert.same({ "off on", "on off", "on off", "off on" }, manifest.rounds)
    assert.equal(40, doc.comparisons[1].n_old)
  end)

  it("with --shuffle, each round runs both sides once, in a recorded order", function()
    local _, err, code = ab("--go-test ./internal/x --dir mod --profile mod/cmd/api/default.pgo "
      .. "--count 3 --shuffle --save-dir saved", dir, fake_go())
    assert.equal(0, code, err)
    local manifest = cjson.decode(helpers.read_file(dir .. "/saved/ab-run.json"))
    local logged = {}
    for side in helpers.read_file(order):gmatch("%a+") do logged[#logged + 1] = side end
    assert.equal(3, #manifest.rounds)
    assert.equal(table.concat(manifest.rounds, " "), table.concat(logged, " "))
    assert.is_number(manifest.seed)
  end)

  it("exits 1 naming the round when a binary panics, or the build's message", function()
    assert(os.execute("mkdir " .. q(dir .. "/tmp")))
    local env = fake_go() .. "TMPDIR=" .. q(dir .. "/tmp") .. " "
    local out, err, code = ab("--go-test ./internal/x --dir mod --profile "
      .. "mod/cmd/api/default.pgo --count 2", dir, env .. "FAKE_PANIC=1 ")
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("ab: example.com/m/internal/x (-pgo=" .. dir .. "/mod/cmd/api/default.pgo) "
      .. "failed in round 1 (exit status 2):\n  panic: boom", err, 1, true)
    assert.equal("", (helpers.run("ls -A " .. q(dir .. "/tmp"))))   -- temporary dir removed
    _, err, code = ab("--go-test ./internal/x --dir mod --profile mod/cmd/api/default.pgo", dir,
      env .. "FAKE_BUILD_FAIL=1 ")
    assert.equal(1, code)
    assert.matches("ab: go test -c -pgo=off example.com/m/internal/x failed:\n"
      .. "  ./x.go:3:1: syntax error", err, 1, true)
    _, err, code = ab("--go-test ./internal/x --profile nope.pgo", dir, env)
    assert.equal(1, code)
    assert.matches("ab: profile nope.pgo: no such file", err, 1, true)
    _, err, code = ab("--go-test ./internal/x", dir, env)
    assert.equal(1, code)
    assert.matches("--go-test needs --profile FILE", err, 1, true)
    _, err, code = ab("--go-test ./internal/x --profile mod/cmd/api/default.pgo --count 0", dir, env)
    assert.equal(1, code)
    assert.matches("--count must be 1 or more", err, 1, true)
  end)
end)

describe("recipes/ab.lua --run-old/--run-new", function()
  local dir
  before_each(function() dir = workdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("runs each command --count times, alternating, and compares the pooled output", function()
    local out, err, code = ab("--run-old 'cat bench/off.txt; echo old >>order' "
      .. "--run-new 'cat bench/on.txt; echo new >>order' --count 2 --save-dir s", dir)
    assert.equal(0, code, err)
    assert.equal("old\nnew\nold\nnew\n", helpers.read_file(dir .. "/order"))
    assert.matches("│   old.txt   │              new.txt               │", out, 1, true)
    assert.matches("(p=0.537 n=20)", out, 1, true)
    assert.equal(helpers.read_file(A .. "bench/off.txt"):rep(2),
      helpers.read_file(dir .. "/s/old.txt"))
  end)

  it("exits 1 when a command fails or one of the two is missing", function()
    assert(os.execute("mkdir " .. q(dir .. "/tmp")))
    local _, err, code = ab("--run-old 'exit 4' --run-new 'cat bench/on.txt'", dir,
      "TMPDIR=" .. q(dir .. "/tmp") .. " ")
    assert.equal(1, code)
    assert.matches("ab: the old command failed (exit status 4): exit 4", err, 1, true)
    assert.equal("", (helpers.run("ls -A " .. q(dir .. "/tmp"))))
    _, err, code = ab("--run-old 'cat bench/off.txt'", dir)
    assert.equal(1, code)
    assert.matches("--run-old and --run-new go together", err, 1, true)
  end)
end)
describe("recipes/ab.lua --url-a/--url-b (refusals; live load: spec/integration)", function()
  it("refuses a URL that is not loopback, before any load", function()
    local out, err, code = ab("--url-a http://127.0.0.1:1/ --url-b http://192.0.2.1/ --rounds 1")
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("^ab: refusing to load http://192.0.2.1/: host 192.0.2.1 is not a loopback", err)
  end)

  it("exits 1 on usage errors", function()
    for _, args in ipairs { "--url-a http://127.0.0.1:1/",
      "--url-a http://127.0.0.1:1/ --url-b http://127.0.0.1:2/ --csv",
      "--url-a http://127.0.0.1:1/ --url-b http://127.0.0.1:2/ --rounds 0",
      "--url-a http://127.0.0.1:1/ --url-b http://127.0.0.1:2/ --duration 0",
      "--url-a http://127.0.0.1:1/ --url-b http://127.0.0.1:2/ --profile x.pgo",
      "--url-a http://127.0.0.1:1/ --url-b http://127.0.0.1:2/ --go-test ./x" } do
      local out, err, code = ab(args)
      assert.equal(1, code, args)
      assert.equal("", out, args)
      assert.matches("^ab: ", err)
    end
  end)
end)
