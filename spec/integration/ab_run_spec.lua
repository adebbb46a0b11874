-- Integration: pgo.ab_run's interleaved runner with real Go builds. A one-function package
-- built with -pgo=off and with a profile that names no function of the build: the two test
-- binaries hold the same machine code, so whatever the machine does, no run may report a
-- significant change. Five runs of 6 rounds at -benchtime 20ms (about 10 s each with a warm
-- build cache). Needs Go >= 1.21 (helpers.go()); pending without it.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"

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
    for i = 1, 5 do
      local save = tmp .. "/run" .. i
      local run, err = pgo.ab_run.benchmarks { packages = { "." }, dir = tmp .. "/m",
        profile = tmp .. "/none.pgo", save_dir = save, count = 6, benchtime = "20ms", go = go }
      assert.truthy(run, err)
      assert.is_true(run.binaries[1].same_code)
      assert.are_not.equal(run.binaries[1].off.sha256, run.binaries[1].on.sha256)
      local doc = assert(pgo.ab.compare_files({ path = run.files.off, label = "off.txt" },
        { path = run.files.on, label = "on.txt" }, { sides = { old = run.sides.off,
          new = run.sides.on }, same_code = true, rounds = 6 }))
      assert.equal(1, #doc.comparisons)
      local v = doc.comparisons[1].verdict
      assert.truthy(v == "no_difference" or v == "too_noisy", ("run %d: %s"):format(i, v))
      assert.equal("ok", doc.gate.status)
    end
  end)
end)
