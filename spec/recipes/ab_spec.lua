-- Black-box specs for recipes/ab.lua: run ./pgolua recipes/ab.lua on the real A/B of the
-- shop (shared/fixtures/ab: bench/off.txt, bench/on.txt and benchstat's own output of them)
-- and check output, JSON and exit status. No Go needed: --go-test runs a stand-in for the
-- go command ($GO, a shell script written here) that logs its arguments and prints the
-- fixtures; live load is only checked for its refusals here (spec/integration/ab_live_spec.lua
-- loads a real service).
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

  it("prints benchstat's comparison byte for byte (benchstat bench/off.txt bench/on.txt)", function()
    local out, err, code = ab("bench/off.txt bench/on.txt", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.equal(helpers.read_file(A .. "benchstat.txt"), out)
  end)

  it("labels columns as given: LABEL=PATH gives the same table from anywhere", function()
    local out, err, code = ab(q("bench/off.txt=" .. A .. "bench/off.txt") .. " "
      .. q("bench/on.txt=" .. A .. "bench/on.txt"))
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(A .. "benchstat.txt"), out)
  end)

  it("prints benchstat's CSV byte for byte with --csv", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --csv", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.equal(helpers.read_file(A .. "benchstat.csv"), out)
  end)

  it("prints markdown tables with --markdown", function()
    local out, _, code = ab("bench/off.txt bench/on.txt --markdown", dir)
    assert.equal(0, code)
    assert.matches("| `LookupBatch-2` | 1.071m ± 1% | 1.070m ± 2% | ~ | p=0.684 n=10 |", out, 1,
      true)
    assert.matches("| geomean | 924.0µ | 918.2µ | -0.62% |", out, 1, true)
    assert.matches("`pkg: example.com/shop/internal/cache`", out, 1, true)
  end)

  it("passes the gate on the real A/B: exit 0, the table then the gate line", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --gate", dir)
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(A .. "benchstat.txt") .. "\n"
      .. "gate: ok: no benchmark worse than the 5.00% threshold with p < 0.05 (3 compared)\n", out)
  end)

  it("fails the gate on a copy 25% slower: exit 3, every benchmark named with delta and p", function()
    local out, err, code = ab("bench/off.txt bench/slow.txt --gate", dir)
    assert.equal(3, code, err)
    assert.matches("LookupBatch-2     1.071m ± 1%   1.338m ± 2%  +24.96% (p=0.000 n=10)", out, 1,
      true)
    assert.matches("\ngate: FAILED: 3 benchmarks are worse than the 5.00% threshold with p < 0.05:\n",
      out, 1, true)
    -- one row per failure: benchmark, unit, delta, p, pkg
    local function row(name, delta, pkg)
      local function esc(x) return (x:gsub("%p", "%%%0")) end
      return "\n  " .. esc(name) .. "%s+sec/op%s+" .. esc(delta) .. "%s+0%.000%s+" .. esc(pkg) .. "\n"
    end
    assert.matches(row("LookupBatch-2", "+24.96%", "example.com/shop/cmd/shop"), out)
    assert.matches(row("HandleSlow-2", "+23.49%", "example.com/shop/cmd/shop"), out)
    assert.matches(row("Get95-2", "+25.39%", "example.com/shop/internal/cache"), out)
    -- without --gate the comparison is only printed
    local _, _, code2 = ab("bench/off.txt bench/slow.txt", dir)
    assert.equal(0, code2)
    -- a threshold over the regression lets it pass
    local out3, _, code3 = ab("bench/off.txt bench/slow.txt --gate --threshold 0.30", dir)
    assert.equal(0, code3)
    assert.matches("gate: ok: no benchmark worse than the 30.00% threshold", out3, 1, true)
    -- markdown names them too
    local md, _, code4 = ab("bench/off.txt bench/slow.txt --gate --markdown", dir)
    assert.equal(3, code4)
    assert.matches("**Gate failed**: 3 benchmarks are worse", md, 1, true)
    assert.matches("| Get95-2 | sec/op | +25.39% | 0.000 | example.com/shop/internal/cache |", md,
      1, true)
  end)

  it("writes the comparison, the gate and geomean_delta_pct with --json", function()
    local out, err, code = ab("bench/off.txt bench/on.txt --json", dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    local doc = cjson.decode(out)
    -- the headline, computed again from the raw fixture lines
    local old, new = raw(A .. "bench/off.txt"), raw(A .. "bench/on.txt")
    local sum, n = 0, 0
    for k, vs in pairs(old) do
      sum = sum + math.log(median(new[k]) / median(vs))
      n = n + 1
    end
    assert.equal(3, n)
    local want = (math.exp(sum / n) - 1) * 100
    assert.near(want, doc.geomean_delta_pct, 1e-9)
    assert.near(-0.3116, doc.geomean_delta_pct, 0.0001)
    assert.equal("sec/op", doc.geomean_unit)
    assert.equal(3, doc.geomean_benchmarks)
    -- benchstat's geomean row per table: -0.62% for cmd/shop, Get95's own +0.31% for cache
    assert.equal(2, #doc.geomeans)
    assert.equal("example.com/shop/cmd/shop", doc.geomeans[1].pkg)
    assert.equal("-0.62%", doc.geomeans[1].text)
    assert.near(-0.6234, doc.geomeans[1].delta_pct, 0.0001)
    assert.equal(2, doc.geomeans[1].benchmarks)
    assert.equal("example.com/shop/internal/cache", doc.geomeans[2].pkg)
    assert.near(0.3149, doc.geomeans[2].delta_pct, 0.0001)
    -- one record per benchmark and unit, medians as the fixture gives them
    assert.equal(3, #doc.comparisons)
    local byname = {}
    for _, c in ipairs(doc.comparisons) do byname[c.name] = c end
    local lb = byname["LookupBatch-2"]
    assert.equal("sec/op", lb.unit)
    assert.equal("example.com/shop/cmd/shop", lb.pkg)
    assert.equal("example.com/shop/cmd/shop", lb.config.pkg)
    assert.near(median(old["example.com/shop/cmd/shop LookupBatch-2"]), lb.old, 1e-15)
    assert.near(median(new["example.com/shop/cmd/shop LookupBatch-2"]), lb.new, 1e-15)
    assert.near((lb.new / lb.old - 1) * 100, lb.delta_pct, 1e-9)
    assert.equal("0.684", ("%.3f"):format(lb.p))
    assert.is_false(lb.significant)
    assert.equal("~", lb.text)
    assert.equal(10, lb.n_old)
    assert.equal(10, lb.n_new)
    assert.equal("0.123", ("%.3f"):format(byname["HandleSlow-2"].p))
    assert.equal("example.com/shop/internal/cache", byname["Get95-2"].pkg)
    -- the gate, evaluated even without --gate
    assert.same({ enforced = false, ok = true, threshold = 0.05, alpha = 0.05, failures = {} },
      doc.gate)
    assert.same({}, doc.warnings)
    assert.equal("[]", out:match('"warnings":(%[%])'))
    assert.equal("[]", out:match('"failures":(%[%])'))
    assert.equal("files", doc.mode)
    assert.same({ label = "bench/off.txt", path = "bench/off.txt" }, doc.old)
    assert.equal(0, doc.exit)
  end)

  it("lists the gate's failures in JSON and exits 3 with --gate --json", function()
    local out, err, code = ab("bench/off.txt bench/slow.txt --gate --json", dir)
    assert.equal(3, code, err)
    local doc = cjson.decode(out)
    assert.is_true(doc.gate.enforced)
    assert.is_false(doc.gate.ok)
    assert.equal(3, #doc.gate.failures)
    local names = {}
    for _, f in ipairs(doc.gate.failures) do
      names[#names + 1] = f.name
      assert.equal("sec/op", f.unit)
      assert.is_true(f.delta_pct > 23 and f.delta_pct < 26, f.name .. " " .. f.delta_pct)
      assert.is_true(f.p < 0.001)
      assert.matches("is worse than the 5.00% threshold", f.message, 1, true)
    end
    table.sort(names)
    assert.same({ "Get95-2", "HandleSlow-2", "LookupBatch-2" }, names)
    assert.near(25, doc.geomean_delta_pct, 0.5)
    assert.equal(3, doc.exit)
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
      "bench/off.txt bench/on.txt --rounds 3", "bench/off.txt bench/off.txt" } do
      local out2, err2, code2 = ab(args, dir)
      assert.equal(1, code2, args)
      assert.equal("", out2, args)
      assert.matches("^ab: ", err2)
    end
  end)
end)

describe("recipes/ab.lua --go-test (go replaced by a script that prints the fixtures)", function()
  local dir, log
  -- The stand-in: logs its directory and each argument on its own line, then "--";
  -- prints off.txt for -pgo=off and on.txt otherwise, or fails when FAKE_GO_FAIL is set.
  local function fake_go()
    local path = dir .. "/fakego"
    helpers.write_file(path, table.concat({
      "#!/bin/sh",
      "{ pwd; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo --; } >>" .. q(log),
      "if [ -n \"$FAKE_GO_FAIL\" ]; then echo './x.go:3:1: syntax error' >&2; exit 2; fi",
      "case \" $* \" in",
      "  *' -pgo=off '*) cat " .. q(A .. "bench/off.txt") .. " ;;",
      "  *) cat " .. q(A .. "bench/on.txt") .. " ;;",
      "esac", "" }, "\n"))
    assert(os.execute("chmod +x " .. q(path)))
    return path
  end
  local function calls()
    local list, cur = {}, {}
    for line in helpers.read_file(log):gmatch("[^\n]+") do
      if line == "--" then list[#list + 1] = cur; cur = {} else cur[#cur + 1] = line end
    end
    return list
  end

  before_each(function()
    dir = helpers.tmpdir()
    log = dir .. "/go.log"
    assert(os.execute("mkdir -p " .. q(dir .. "/mod/cmd/api") .. " " .. q(dir .. "/mod/internal/x")))
    helpers.write_file(dir .. "/mod/cmd/api/default.pgo", "profile")
  end)
  after_each(function() helpers.rm_rf(dir) end)

  it("runs go test -pgo=off, then -pgo=<--profile made absolute> in --dir; saves, compares", function()
    local env = "GO=" .. q(fake_go()) .. " "
    local out, err, code = ab("--go-test ./internal/x ./cmd/api --dir mod --profile "
      .. "mod/cmd/api/default.pgo --count 3 --bench 'Lookup|Get' --benchtime 100ms "
      .. "--save-dir saved", dir, env)
    assert.equal(0, code, err)
    local c = calls()
    assert.equal(2, #c)
    local mod = c[1][1]
    assert.matches("/mod$", mod)
    local words = { "test", "-run", "^$", "-bench", "Lookup|Get", "-count", "3", "-benchtime",
      "100ms" }
    local off = { mod, table.unpack(words) }
    off[#off + 1] = "-pgo=off"
    off[#off + 1] = "./internal/x"
    off[#off + 1] = "./cmd/api"
    assert.same(off, c[1])
    local on = { mod, table.unpack(words) }
    on[#on + 1] = "-pgo=" .. mod .. "/cmd/api/default.pgo"
    on[#on + 1] = "./internal/x"
    on[#on + 1] = "./cmd/api"
    assert.same(on, c[2])
    -- the saved output, and the table labelled with the saved files' names
    assert.equal(helpers.read_file(A .. "bench/off.txt"), helpers.read_file(dir .. "/saved/off.txt"))
    assert.equal(helpers.read_file(A .. "bench/on.txt"), helpers.read_file(dir .. "/saved/on.txt"))
    assert.matches("│   off.txt   │               on.txt               │", out, 1, true)
    assert.matches("geomean         924.0µ        918.2µ       -0.62%", out, 1, true)
    assert.matches("ab: benchmark output saved in " .. dir .. "/saved (off.txt, on.txt)", err, 1,
      true)
    assert.is_nil(err:find("-pgo=auto", 1, true))
  end)

  it("uses -pgo=auto without --profile and says why that measures nothing for a library", function()
    local env = "GO=" .. q(fake_go()) .. " "
    local out, err, code = ab("--go-test ./internal/x --dir mod --save-dir saved --json", dir, env)
    assert.equal(0, code, err)
    local c = calls()
    assert.equal("-pgo=auto", c[2][#c[2] - 1])
    assert.equal("10", c[1][8])          -- -count default
    assert.equal(".", c[1][6])           -- -bench default
    assert.equal("1s", c[1][10])         -- -benchtime default
    assert.matches("ab: -pgo=auto: go test uses default.pgo only for a package main", err, 1, true)
    assert.matches("pass --profile FILE", err, 1, true)
    local doc = cjson.decode(out)
    assert.equal("go-test", doc.mode)
    assert.near(-0.3116, doc.geomean_delta_pct, 0.0001)
    assert.equal(dir .. "/saved", doc.save_dir)
    assert.same({ "./internal/x" }, doc.packages)
    assert.matches("-pgo=auto ./internal/x$", doc.commands.on)
    assert.matches("-pgo=auto: go test uses default.pgo only", doc.warnings[1], 1, true)
    -- a package main with its default.pgo: auto finds it, but the names do not match
    local _, err2, code2 = ab("--go-test ./cmd/api --dir mod --save-dir saved", dir, env)
    assert.equal(0, code2)
    assert.matches("benchmarks of package main cannot show a service profile's gain", err2, 1, true)
    assert.matches("recipes/doctor.lua", err2, 1, true)
  end)

  it("gates what go test measured", function()
    local env = "GO=" .. q(fake_go()) .. " "
    local out, err, code = ab("--go-test ./internal/x --profile mod/cmd/api/default.pgo "
      .. "--save-dir saved --gate", dir, env)
    assert.equal(0, code, err)
    assert.matches("\ngate: ok: ", out, 1, true)
  end)

  it("exits 1 with go test's message when go test fails, or the profile is missing", function()
    -- without --save-dir the output goes to a new directory under $TMPDIR, removed on failure
    assert(os.execute("mkdir " .. q(dir .. "/tmp")))
    local env = "TMPDIR=" .. q(dir .. "/tmp") .. " FAKE_GO_FAIL=1 GO=" .. q(fake_go()) .. " "
    local out, err, code = ab("--go-test ./internal/x --profile mod/cmd/api/default.pgo", dir, env)
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("ab: go test -pgo=off failed (exit status 2):\n  ./x.go:3:1: syntax error", err,
      1, true)
    assert.equal("", (helpers.run("ls -A " .. q(dir .. "/tmp"))))
    _, err, code = ab("--go-test ./internal/x --profile nope.pgo", dir, "GO=" .. q(fake_go()) .. " ")
    assert.equal(1, code)
    assert.matches("ab: --profile nope.pgo: no such file", err, 1, true)
    _, err, code = ab("--go-test ./internal/x --count 0", dir, "GO=" .. q(fake_go()) .. " ")
    assert.equal(1, code)
    assert.matches("--count must be a positive integer", err, 1, true)
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
    assert.matches("ab: --run-old failed (exit status 4): exit 4", err, 1, true)
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
