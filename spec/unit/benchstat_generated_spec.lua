-- pgo.bench against the real benchstat (scripts/gotool.sh benchstat, the version pinned
-- in scripts/gotools.pins) on 200 generated pairs of benchmark files (spec/support/
-- benchgen.lua: 1-12 runs per side, several units, one or two packages, benchmarks on one
-- side only, zero values, equal values, assume=exact). The text tables must be byte for
-- byte the same, every one of them.
local helpers = require "helpers"
local bench = require "pgo.bench"
local gen = require "support.benchgen"

local PAIRS = 200

local function benchstat()
  local out, _, code = helpers.run(helpers.shq(helpers.root .. "/scripts/gotool.sh")
    .. " benchstat")
  if code ~= 0 then return nil end
  return (out:gsub("%s+$", ""))
end

describe("pgo.bench and benchstat on generated pairs", function()
  local bs = benchstat()
  if not bs then
    pending("benchstat is not built (scripts/gotool.sh benchstat needs Go and the module proxy)")
    return
  end

  it("print the same text table for each of " .. PAIRS .. " pairs", function()
    local dir = helpers.tmpdir()
    for seed = 1, PAIRS do
      local old, new = gen.pair(seed)
      helpers.write_file(dir .. "/old.txt", old)
      helpers.write_file(dir .. "/new.txt", new)
      local want = helpers.run("cd " .. helpers.shq(dir) .. " && " .. helpers.shq(bs)
        .. " old.txt new.txt 2>/dev/null")
      local set = assert(bench.load({ path = dir .. "/old.txt", label = "old.txt" },
        { path = dir .. "/new.txt", label = "new.txt" }))
      local got = bench.report(bench.compare(set), { format = "text" })
      if got ~= want then helpers.rm_rf(dir) end
      assert.equal(want, got, "pair " .. seed .. " (spec/support/benchgen.lua)")
    end
    helpers.rm_rf(dir)
  end)

  it("generates different pairs for different seeds, the same for one seed", function()
    local a1, b1 = gen.pair(7)
    local a2, b2 = gen.pair(7)
    assert.equal(a1, a2)
    assert.equal(b1, b2)
    assert.are_not.equal(a1, (gen.pair(8)))
  end)
end)
