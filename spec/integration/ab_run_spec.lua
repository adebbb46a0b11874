-- Integration: the interleaved runner with real Go builds, end to end through recipes/ab.lua
-- --go-test --gate. A one-function package built with -pgo=off and with a profile that names
-- no function of the build: the two test binaries differ (the build settings name the
-- profile) but hold the same machine code, which the runner detects, so whatever the
-- machine does, no run may report a significant change. Five runs of 6 rounds at
-- -benchtime 20ms (about 10 s each with a warm build cache). Needs Go >= 1.21
-- (helpers.go()); pending without it.
local helpers = require "helpers"
local pb = require "pbwriter"
local cjson = require "cjson"

local go = helpers.go()

local GO_MOD = "module example.com/ident\n\ngo 1.21\n"
local SUM_GO = [[
// Package ident has one small loop to benchmark.
package ident

// Sum mixes the first n integers.
func Sum(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i ^ (s >> 3)
	}
	return s
}
]]
local SUM_TEST_GO = [[
package ident

import "testing"

var sink int

func BenchmarkSum(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += Sum(1000)
	}
}
]]

describe("#integration pgo.ab_run.benchmarks", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end
  local tmp
  setup(function()
    tmp = helpers.tmpdir()
    assert(os.execute("mkdir " .. helpers.shq(tmp .. "/m")))
    helpers.write_file(tmp .. "/m/go.mod", GO_MOD)
    helpers.write_file(tmp .. "/m/sum.go", SUM_GO)
    helpers.write_file(tmp .. "/m/sum_test.go", SUM_TEST_GO)
    -- a valid CPU profile of another program: no function of this build is in it
    helpers.write_file(tmp .. "/none.pgo", pb.cpu_profile {
      functions = { { "example.com/elsewhere.Unused", 3 }, { "example.com/elsewhere.Caller", 9 } },
      locations = { { lines = { { 1, 4 } } }, { lines = { { 2, 10 } } } },
      samples = { { locs = { 1, 2 }, values = { 5, 50000000 } } } })
  end)
  teardown(function() if tmp then helpers.rm_rf(tmp) end end)

  it("finds no difference between two builds of the same code, in each of 5 runs", function()
    local q = helpers.shq
    for i = 1, 5 do
      local save = tmp .. "/run" .. i
      local out, err, code = helpers.run("PATH=" .. q(go:match("^(.*)/[^/]+$")) .. ":$PATH "
        .. q(helpers.pgolua) .. " " .. q(helpers.root .. "/recipes/ab.lua") .. " --go-test . --dir "
        .. q(tmp .. "/m") .. " --profile " .. q(tmp .. "/none.pgo") .. " --count 6 --benchtime 20ms"
        .. " --save-dir " .. q(save) .. " --gate --json")
      assert.truthy(code == 0 or code == 4, ("run %d: exit %s: %s"):format(i, code, err))
      assert.matches("ab: round 6 of 6: ", err, 1, true)   -- the rounds interleaved
      local doc = cjson.decode(out)
      local b = doc.run.binaries[1]
      assert.are_not.equal(b.off.sha256, b.on.sha256)
      assert.is_true(b.same_code)
      assert.is_true(doc.same_code)
      assert.equal(1, #doc.comparisons)
      local v = doc.comparisons[1].verdict
      assert.truthy(v == "no_difference" or v == "too_noisy", ("run %d: %s"):format(i, v))
      assert.are_not.equal("failed", doc.gate.status)
    end
  end)
end)
