-- Specs for pgo.diagnose (doctor's and runbook's one diagnosis) through its library
-- surface: what gather refuses, how the ladder treats steps of one's own, the health list
-- it shares with runbook; and the helpers it added to pgo.repo and pgo.units.
local helpers = require "helpers"
local pgo = require "pgo"
local diagnose = require "pgo.diagnose"
local checks = require "pgo.checks"

local F = helpers.fixture

describe("pgo.diagnose", function()
  it("gather returns nil, message, code for what it cannot check", function()
    local ctx, msg, code = diagnose.gather { binary = "/nonexistent/bin", root = F("gosrc/shop-v1") }
    assert.is_nil(ctx)
    assert.equal("/nonexistent/bin: no such file (--binary)", msg)
    assert.equal("not_found", code)
    local dir = helpers.tmpdir()
    ctx, msg, code = diagnose.gather { root = dir }
    helpers.rm_rf(dir)
    assert.is_nil(ctx)
    assert.equal("nothing_to_check", code)
    assert.matches("^nothing to check: no %-%-binary, no %-%-profile, and .*go%.mod", msg)
    ctx, msg, code = diagnose.gather { root = F("gosrc/shop-v1"), bench = { "nothing" } }
    assert.is_nil(ctx)
    assert.equal("bad_bench", code)
    assert.equal("--bench nothing: no such file, and not NAME.test or an import path", msg)
    assert.has_error(function() diagnose.gather { roots = "." } end,
      "bad argument #1 to 'gather' (unknown option 'roots')")
  end)

  it("runs steps of one's own after the built-in ones; a raising step is a failed check", function()
    local ctx = assert(diagnose.gather { root = F("gosrc/shop-v1"), profile = F("profiles/shop.steady.pgo") })
    local list = diagnose.ladder(ctx, { steps = { "profile", "health" }, extra = {
      b_raises = function() error("boom", 0) end,
      a_team = function(c) return "warn", "team rule on " .. c.profile_path, { "line" } end,
      c_bad = function() return "ok", "old word" end,
    } })
    assert.same({ "profile", "health", "a_team", "b_raises", "c_bad" },
      { list[1].name, list[2].name, list[3].name, list[4].name, list[5].name })
    assert.equal("warn", list[3].verdict)
    assert.same({ "line" }, list[3].evidence)
    assert.equal("fail", list[4].verdict)
    assert.equal("the check raised an error: boom", list[4].advice)
    assert.equal("fail", list[5].verdict)
    assert.equal("step c_bad gave verdict ok", list[5].advice)
    assert.equal("2 of 5 checks failed: b_raises, c_bad, 1 warning: a_team", checks.summary(list))
    assert.has_error(function() diagnose.ladder(ctx, { steps = { "nope" } }) end,
      "bad argument #2 to 'ladder' (no step named 'nope')")
  end)

  it("judges health by the thresholds given: the same list the health step counts", function()
    local p = assert(pgo.load(F("profiles/shop.steady.pgo")))
    assert.equal("13 checks passed", checks.summary(diagnose.health(p)))
    assert.equal("1 of 13 checks failed: min_samples", checks.summary(diagnose.health(p, { policy = "fleet" })))
    assert.equal("12 checks passed", checks.summary(diagnose.health(p, { max_gc = false })))
    local ctx = assert(diagnose.gather { root = F("gosrc/shop-v1"), profile = F("profiles/shop.steady.pgo") })
    local list = diagnose.ladder(ctx, { steps = { "profile", "health" }, thresholds = { policy = "fleet" } })
    assert.equal("warn", list[2].verdict)
    assert.equal("1 of 13 checks failed: min_samples", list[2].advice)
    assert.same(checks.to_json(diagnose.health(p, { policy = "fleet" })), checks.to_json(ctx.health))
    assert.has_error(function() diagnose.health(p, { max_gcc = 1 }) end,
      "bad argument #1 to 'thresholds' (no check named 'max_gcc')")
  end)

  it("reads what the last A/B measured, and nothing without a path", function()
    assert.is_false(diagnose.gain(nil).measured)
    local g = assert(diagnose.gain(F("ab/benchstat.txt")))
    assert.is_true(g.measured)
    assert.matches("- geomean sec/op: -0.62% (example.com/shop/cmd/shop)\n", g.section, 1, true)
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/bad.json", "{ nope")
    local none, msg, code = diagnose.gain(dir .. "/bad.json")
    helpers.rm_rf(dir)
    assert.is_nil(none)
    assert.matches("bad.json: not valid JSON", msg, 1, true)
    assert.equal("invalid", code)
  end)
end)

describe("pgo.repo.profile_path and pgo.units.duration", function()
  it("says where default.pgo sits beside a package main", function()
    assert.equal("cmd/api/default.pgo", pgo.repo.profile_path("cmd/api"))
    assert.equal("default.pgo", pgo.repo.profile_path("."))
    assert.equal("/src/x/cmd/api/default.pgo", pgo.repo.profile_path("cmd/api/", "/src/x/"))
    assert.equal("./default.pgo", pgo.repo.profile_path(".", "."))
    assert.has_error(function() pgo.repo.profile_path(nil) end,
      "bad argument #1 to 'profile_path' (string expected, got nil)")
  end)

  it("writes durations to a tenth, minutes from two minutes on", function()
    assert.equal("20.2 s", pgo.units.duration(20.18))
    assert.equal("119.9 s", pgo.units.duration(119.94))
    assert.equal("2.0 min", pgo.units.duration(120))
    assert.is_nil(pgo.units.duration("x"))
  end)
end)
