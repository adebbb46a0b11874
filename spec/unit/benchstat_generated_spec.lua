-- pgo.bench against the real benchstat (scripts/gotool.sh benchstat, the version pinned
-- in scripts/gotools.pins) on 200 generated pairs of benchmark files (spec/support/
-- benchgen.lua: 1-12 runs per side, several units, one or two packages, benchmarks on one
-- side only, zero values, equal values, assume=exact). The text tables must be byte for
-- byte the same. One benchstat quirk is not reproduced: a table in which no benchmark is
-- on both sides gets a "vs base" header two columns wider than its border; such pairs are
-- listed as pending, and every other difference fails.
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

-- Whether some table of cmp has no row with a value on both sides.
local function unpaired_table(cmp)
  for _, t in ipairs(cmp.tables) do
    if #t.columns == 2 then
      local paired = false
      for _, row in ipairs(t.rows) do
        if row.cells[1] and row.cells[2] then paired = true end
      end
      if not paired then return true end
    end
  end
  return false
end

describe("pgo.bench and benchstat on generated pairs", function()
  local bs = benchstat()
  if not bs then
    pending("benchstat is not built (scripts/gotool.sh benchstat needs Go and the module proxy)")
    return
  end

  it("print the same text table for each of " .. PAIRS .. " pairs", function()
    local dir = helpers.tmpdir()
    local quirks, same = {}, 0
    for seed = 1, PAIRS do
      local old, new = gen.pair(seed)
      helpers.write_file(dir .. "/old.txt", old)
      helpers.write_file(dir .. "/new.txt", new)
      local want = helpers.run("cd " .. helpers.shq(dir) .. " && " .. helpers.shq(bs)
        .. " old.txt new.txt 2>/dev/null")
      local set = assert(bench.load({ path = dir .. "/old.txt", label = "old.txt" },
        { path = dir .. "/new.txt", label = "new.txt" }))
      local cmp = bench.compare(set)
      local got = bench.report(cmp, { format = "text" })
      if got == want then
        same = same + 1
      elseif unpaired_table(cmp) then
        quirks[#quirks + 1] = seed
      else
        helpers.rm_rf(dir)
        assert.equal(want, got, "pair " .. seed .. " (spec/support/benchgen.lua)")
      end
    end
    helpers.rm_rf(dir)
    assert.is_true(same >= PAIRS * 0.98, same .. " of " .. PAIRS .. " identical")
    if #quirks > 0 then
      pending(("pairs %s: a table with no benchmark on both sides (header width quirk)")
        :format(table.concat(quirks, ", ")))
    end
  end)

  it("generates different pairs for different seeds, the same for one seed", function()
    local a1, b1 = gen.pair(7)
    local a2, b2 = gen.pair(7)
    assert.equal(a1, a2)
    assert.equal(b1, b2)
    assert.are_not.equal(a1, (gen.pair(8)))
  end)
end)
