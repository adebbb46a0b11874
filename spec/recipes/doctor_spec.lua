-- Black-box specs for recipes/doctor.lua, the "PGO did nothing" ladder: run it on the
-- shop's binaries (bin/shop.pgo built with -pgo=shop.steady.pgo, bin/shop.nopgo built
-- with -pgo=off), its profile and source, the A/B benchmark output (ab/bench/on.txt,
-- which measures package main example.com/shop/cmd/shop under go test), and temporary
-- copies of the shop's source.
local helpers = require "helpers"
local cjson = require "cjson"
local pgo = require "pgo"

local F = helpers.fixture
local q = helpers.shq

local STEADY = q(F("profiles/shop.steady.pgo"))
local V1 = q(F("gosrc/shop-v1"))

local function doctor(args) return helpers.pgolua_run("recipes/doctor.lua " .. args) end

-- The JSON report's steps by id.
local function steps_of(out)
  local doc = cjson.decode(out)
  local by = {}
  for _, s in ipairs(doc.steps) do by[s.id] = s end
  return doc, by
end

-- A copy of gosrc/shop-v1 in a temporary directory, with the steady profile as
-- cmd/shop/default.pgo; files = { [relative path] = text } added.
local function shop_repo(files)
  local dir = helpers.tmpdir()
  assert(helpers.run("cp -R " .. V1 .. "/. " .. q(dir)) ~= nil)
  helpers.run("cp " .. STEADY .. " " .. q(dir .. "/cmd/shop/default.pgo"))
  for rel, text in pairs(files or {}) do helpers.write_file(dir .. "/" .. rel, text) end
  return dir
end

describe("recipes/doctor.lua", function()
  it("says bin/shop.pgo was built with the steady profile (step 1 ok), exit 0", function()
    local out, err, code = doctor("--binary " .. q(F("bin/shop.pgo")) .. " --profile " .. STEADY
      .. " --root " .. V1)
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.matches("\n  \u{2713} 1. binary built with PGO: .-shop%.pgo was built with "
      .. "%-pgo=shop%.steady%.pgo %(the profile checked here, by base name%)\n", out)
    assert.matches("build -pgo=shop.steady.pgo\n", out, 1, true)
    assert.matches("\u{2713} 2. profile usable by the compiler: .- 350 call edges\n", out)
    assert.matches("\u{2713} 3. profile matches the source: 0.00% of the samples", out, 1, true)
    -- refresh's defaults are the library's: a profile refresh accepts is healthy here, and
    -- the count is runbook's (every health check of pgo.audit.health)
    assert.matches("\u{2713} 4. profile health: 13 checks passed\n", out, 1, true)
    assert.matches("- 8. benchmarks see the profile's names: no --bench given\n", out, 1, true)
    assert.matches("- 9. benchmark A/B with and without the profile: no --ab given\n", out, 1, true)
    assert.matches("\n0 failed, 0 warnings, 7 passed, 2 skipped\n$", out)

    local jout, _, jcode = doctor("--binary " .. q(F("bin/shop.pgo")) .. " --profile " .. STEADY
      .. " --root " .. V1 .. " --json")
    assert.equal(0, jcode)
    local doc, by = steps_of(jout)
    assert.equal("ok", by.binary.verdict)
    assert.equal(1, by.binary.n)
    assert.same({ "go version -m " .. F("bin/shop.pgo") .. ": go1.23.5, path example.com/shop/cmd/shop",
      "build -pgo=shop.steady.pgo" }, by.binary.evidence)
    assert.equal("ok", by.profile.verdict)
    assert.equal("ok", by.stale.verdict)
    assert.equal("ok", by.health.verdict)
    assert.equal("ok", by.workload.verdict)
    assert.equal("ok", by.pgo_off.verdict)
    assert.equal("ok", by.location.verdict)
    assert.equal("skip", by.names.verdict)
    assert.same({ ok = 7, warn = 0, fail = 0, skip = 2 }, doc.counts)
    -- the same steps in pgo.checks' form, and the health list runbook reports
    assert.equal("pass", doc.checks.checks[1].verdict)
    assert.equal("7 checks passed", doc.checks.summary)
    assert.equal("13 checks passed", doc.health.summary)
    assert.is_true(doc.ok)
    assert.equal(0, doc.exit)
    assert.equal(9, #doc.steps)
  end)

  it("fails step 1 for bin/shop.nopgo (built with -pgo=off), exit 2", function()
    local out, err, code = doctor("--binary " .. q(F("bin/shop.nopgo")) .. " --profile " .. STEADY
      .. " --root " .. V1)
    assert.equal(2, code, err)
    assert.matches("\n  \u{2717} 1. binary built with PGO: .-shop%.nopgo was built without PGO", out)
    assert.matches("no \"build -pgo=...\" line: the compiler got no profile", out, 1, true)
    assert.matches("\n1 failed, ", out, 1, true)
    local jout = doctor("--binary " .. q(F("bin/shop.nopgo")) .. " --profile " .. STEADY
      .. " --root " .. V1 .. " --json")
    local doc, by = steps_of(jout)
    assert.equal("fail", by.binary.verdict)
    assert.is_false(doc.ok)
    assert.equal(2, doc.exit)
  end)

  it("warns when the binary was built from another profile than the one checked", function()
    local dir = shop_repo()
    local out, _, code = doctor("--binary " .. q(F("bin/shop.pgo")) .. " --root " .. q(dir) .. " --json")
    helpers.rm_rf(dir)
    assert.equal(0, code)
    local _, by = steps_of(out)
    assert.equal("warn", by.binary.verdict)
    assert.matches("built with %-pgo=shop%.steady%.pgo, but the profile checked here is .*cmd/shop/default%.pgo",
      by.binary.summary)
  end)

  it("warns that a benchmark of package main cannot see the service profile (ab/bench/on.txt)", function()
    local out, err, code = doctor("--profile " .. STEADY .. " --root " .. V1 .. " --bench "
      .. q(F("ab/bench/on.txt")))
    assert.equal(0, code, err)
    assert.matches("\n  ! 8. benchmarks see the profile's names: the benchmarks measure package main "
      .. "example.com/shop/cmd/shop, but 49.47% of the profile's hot call sites in the module's code are main.*\n",
      out, 1, true)
    assert.matches("(pkg: example.com/shop/cmd/shop): a package main\n", out, 1, true)
    assert.matches("(pkg: example.com/shop/internal/cache)\n", out, 1, true)
    assert.matches("22 of 297 hot call sites are in package main (main.*)", out, 1, true)
    assert.matches("hottest: main.lookupBatch -> example.com/shop/internal/cache.(*RedisCache).Get", out, 1, true)
    assert.matches("under go test, package main is compiled as example.com/shop/cmd/shop, so the "
      .. "profile's main.* call sites match nothing in the test binary", out, 1, true)

    local jout = doctor("--profile " .. STEADY .. " --root " .. V1 .. " --bench "
      .. q(F("ab/bench/on.txt")) .. " --json")
    local _, by = steps_of(jout)
    assert.equal("warn", by.names.verdict)
    assert.equal("skip", by.binary.verdict)
  end)

  it("treats NAME.test as go test's binary name of a package main", function()
    local out, _, code = doctor("--profile " .. STEADY .. " --root " .. V1 .. " --bench shop.test --json")
    assert.equal(0, code)
    local _, by = steps_of(out)
    assert.equal("warn", by.names.verdict)
    assert.equal("measures shop.test (go test's name for example.com/shop/cmd/shop): a package main",
      by.names.evidence[1])
  end)

  it("is content with benchmarks of library packages only", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/cache.txt", "pkg: example.com/shop/internal/cache\nBenchmarkGet95-2 1 1 ns/op\n")
    local out, _, code = doctor("--profile " .. STEADY .. " --root " .. V1 .. " --bench "
      .. q(dir .. "/cache.txt") .. " --json")
    helpers.rm_rf(dir)
    assert.equal(0, code)
    local _, by = steps_of(out)
    assert.equal("ok", by.names.verdict)
    assert.equal("the benchmarks measure library packages, whose names match the profile", by.names.summary)
  end)

  it("fails step 6 for GOFLAGS=-pgo=off in a Makefile, exit 2", function()
    local dir = shop_repo { Makefile = "build:\n\tGOFLAGS=-pgo=off go build -o shop ./cmd/shop\n" }
    local out, err, code = doctor("--root " .. q(dir))
    assert.equal(2, code, err)
    assert.matches("\n  \u{2717} 6. PGO not switched off: -pgo=off is set where builds run", out, 1, true)
    assert.matches("Makefile:2 turns PGO off (GOFLAGS=-pgo=off go build -o shop ./cmd/shop)", out, 1, true)
    -- the profile was found as default.pgo beside package main, and is in its place
    assert.matches("(default.pgo beside package main example.com/shop/cmd/shop)", out, 1, true)
    assert.matches("\u{2713} 7. profile location: default.pgo is beside package main", out, 1, true)
    local jout = doctor("--root " .. q(dir) .. " --json")
    helpers.rm_rf(dir)
    local doc, by = steps_of(jout)
    assert.equal("fail", by.pgo_off.verdict)
    assert.equal(1, doc.counts.fail)
    assert.equal(dir .. "/cmd/shop/default.pgo", doc.profile)
  end)

  it("reads GOFLAGS from the environment only with --env", function()
    local dir = shop_repo()
    local run = "cd " .. q(dir) .. " && GOFLAGS=-pgo=off " .. q(helpers.pgolua) .. " "
      .. q(helpers.root .. "/recipes/doctor.lua")
    local out, err, code = helpers.run(run .. " --json")
    assert.equal(0, code, err)
    local _, by = steps_of(out)
    assert.equal("ok", by.pgo_off.verdict)
    out, err, code = helpers.run(run .. " --env --json")
    helpers.rm_rf(dir)
    assert.equal(2, code, err)
    _, by = steps_of(out)
    assert.equal("fail", by.pgo_off.verdict)
    assert.matches('GOFLAGS="-pgo=off" turns PGO off', by.pgo_off.evidence[1], 1, true)
  end)

  it("fails step 7 for a profile beside main under the wrong name", function()
    local dir = helpers.tmpdir()
    helpers.run("cp -R " .. V1 .. "/. " .. q(dir) .. " && cp " .. STEADY .. " " .. q(dir .. "/cmd/shop/cpu.pgo"))
    local out, _, code = doctor("--root " .. q(dir) .. " --json")
    helpers.rm_rf(dir)
    assert.equal(2, code)
    local _, by = steps_of(out)
    assert.equal("fail", by.location.verdict)
    assert.matches("cmd/shop/cpu.pgo is beside package main", table.concat(by.location.evidence, "\n"), 1, true)
    -- and step 2 fails: there is no default.pgo to check
    assert.equal("fail", by.profile.verdict)
    assert.matches("cmd/shop/default.pgo: no such file", by.profile.summary, 1, true)
  end)

  it("fails step 2 for a Go 1.19 profile without start lines, and skips what needs it", function()
    local out, _, code = doctor("--profile " .. q(F("profiles/go1.19/shop.steady.pgo")) .. " --root " .. V1 .. " --json")
    assert.equal(2, code)
    local _, by = steps_of(out)
    assert.equal("fail", by.profile.verdict)
    assert.matches("profile missing Function.start_line data", by.profile.summary, 1, true)
    assert.equal("missing_start_line", by.profile.code)
    assert.equal("skip", by.stale.verdict)
    assert.equal("skip", by.health.verdict)
  end)

  it("warns on a stale profile (shop-v2) in step 3", function()
    local out, _, code = doctor("--profile " .. STEADY .. " --root " .. q(F("gosrc/shop-v2")) .. " --json")
    assert.equal(0, code)
    local _, by = steps_of(out)
    assert.equal("warn", by.stale.verdict)
    assert.matches("^19.01%% of the samples %(cum%)", by.stale.summary)
    assert.equal("gone: main.checksumOrders (cum 8.76%)", by.stale.evidence[2])
  end)

  it("exits 1 on usage errors: missing binary, unknown --bench, nothing to check", function()
    local _, err, code = doctor("--binary /nonexistent/shop --root " .. V1)
    assert.equal(1, code)
    assert.equal("doctor: /nonexistent/shop: no such file (--binary)\n", err)
    _, err, code = doctor("--profile " .. STEADY .. " --root " .. V1 .. " --bench nothing")
    assert.equal(1, code)
    assert.matches("--bench nothing: no such file, and not NAME.test or an import path", err, 1, true)
    local dir = helpers.tmpdir()
    _, err, code = doctor("--root " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(1, code)
    assert.matches("^doctor: nothing to check: no %-%-binary, no %-%-profile, and .*go%.mod", err)
    local out
    out, _, code = doctor("--help")
    assert.equal(0, code)
    assert.matches("Usage: pgolua doctor", out, 1, true)
  end)

  describe("--ab: the interleaved benchmark A/B (pgo.ab_run, judged by pgo.ab)", function()
    -- A stand-in go first in PATH: `list` names each package, `test -c -o PATH -pgo=X PKG`
    -- writes a "test binary" that logs its side to ./order and prints ab/bench/off.txt or
    -- on.txt (FAKE_BUILD_FAIL: the build fails). No real Go needed.
    local dir
    local function fake_go()
      helpers.run("mkdir -p " .. q(dir .. "/bin"))
      helpers.write_file(dir .. "/bin/go", table.concat({ "#!/bin/sh", "case $1 in",
        "list) shift 3; for p in \"$@\"; do printf 'example.com/shop/%s\\t%s\\n' \"${p#./}\" \"$PWD\"; done ;;",
        "version) echo 'go version go0.0 fake' ;;",
        "test) [ -n \"$FAKE_BUILD_FAIL\" ] && { echo './x.go:3:1: syntax error'; exit 2; }",
        "  side=on; [ \"$5\" = -pgo=off ] && side=off",
        "  { echo '#!/bin/sh'; echo \"echo $side >>" .. dir .. "/order\"; echo \"cat " .. F("ab/bench") .. "/$side.txt\"; } >\"$4\"",
        "  chmod +x \"$4\" ;;", "esac", "" }, "\n"))
      helpers.run("chmod +x " .. q(dir .. "/bin/go"))
      return "PATH=" .. q(dir .. "/bin") .. ":$PATH GO=/nonexistent/go "
    end
    before_each(function() dir = shop_repo() end)
    after_each(function() helpers.rm_rf(dir) end)

    local function doctor_ab(extra, env)
      return helpers.run("cd " .. q(dir) .. " && " .. (env or "") .. fake_go() .. q(helpers.pgolua) .. " "
        .. q(helpers.root .. "/recipes/doctor.lua") .. " --ab ./internal/cache --ab-count 2 --ab-save saved "
        .. (extra or ""))
    end

    it("builds each side once, alternates them, and reports pgo.ab's verdicts", function()
      local out, err, code = doctor_ab("--json")
      assert.equal(0, code, err)
      -- ABBA: round 1 off then on, round 2 on then off
      assert.equal("off\non\non\noff\n", helpers.read_file(dir .. "/order"))
      assert.matches("doctor: round 2 of 2: on off\n", err, 1, true)
      assert.equal(helpers.read_file(F("ab/bench/off.txt")):rep(2), helpers.read_file(dir .. "/saved/off.txt"))
      local doc, by = steps_of(out)
      local ab = by.ab
      assert.equal(9, ab.n)
      assert.matches("^%-pgo=off against %-pgo=.-default%.pgo, 2 rounds interleaved %(off on, on off%)", ab.evidence[1])
      -- the verdicts are pgo.ab.compare_files' on the saved files
      local want = assert(pgo.ab.compare_files({ path = dir .. "/saved/off.txt", label = "off.txt" },
        { path = dir .. "/saved/on.txt", label = "on.txt" }, { rounds = 2, order = "ABBA" }))
      assert.same(want.counts, doc.ab.counts)
      assert.equal(#want.comparisons + 1, #ab.evidence)
      assert.equal(want.comparisons[1].name .. " " .. want.comparisons[1].unit .. ": "
        .. want.comparisons[1].verdict:gsub("_", " ") .. ", " .. want.comparisons[1].reason, ab.evidence[2])
      assert.equal(0, want.counts.slower)
      assert.equal("warn", ab.verdict)   -- nothing faster in these files: PGO did nothing measurable
      assert.equal(want.counts.too_noisy > 0 and "too_noisy" or "no_difference", ab.code)
    end)

    it("fails the step, exit 2, when a side does not build", function()
      local out, err, code = doctor_ab("--json", "FAKE_BUILD_FAIL=1 ")
      assert.equal(2, code, err)
      local _, by = steps_of(out)
      assert.equal("fail", by.ab.verdict)
      assert.equal("build_failed", by.ab.code)
      assert.matches("the benchmark A/B did not run: go test -c -pgo=off example.com/shop/internal/cache failed",
        by.ab.summary, 1, true)
    end)

    it("rejects a count under 1", function()
      local _, err, code = doctor_ab("--ab-count 0")
      assert.equal(1, code)
      assert.matches("--ab-count must be a positive integer", err, 1, true)
    end)
  end)
end)
