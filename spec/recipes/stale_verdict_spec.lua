-- recipes/stale.lua's third outcome: a file the scan cannot read that could hold a
-- profiled function makes the verdict "inconclusive" (exit 2), named in text and JSON,
-- instead of "stale". The scan runs as an unprivileged user when the specs run as root.
local helpers = require "helpers"
local cjson = require "cjson"

local F = helpers.fixture

describe("recipes/stale.lua with an unreadable source file", function()
  local dir
  before_each(function()
    dir = helpers.tmpdir()
    assert(os.execute(("cp -r %s %s/src && cp %s %s/p.pgo"):format(helpers.shq(F("gosrc/shop-v2")),
      helpers.shq(dir), helpers.shq(F("profiles/shop.steady.pgo")), helpers.shq(dir))))
  end)
  after_each(function() helpers.rm_rf(dir) end)

  -- Make the files of package main (which holds the hottest stale function,
  -- main.checksumOrders) unreadable.
  local function run(args)
    assert(os.execute("chmod -R a+rX " .. helpers.shq(dir) .. " && chmod 000 " .. helpers.shq(dir .. "/src/cmd/shop") .. "/*.go"))
    local runner = helpers.run("id -u"):match("^0%s") and "setpriv --reuid=65534 --regid=65534 --clear-groups " or ""
    local out, err, code = helpers.run(runner .. helpers.shq(helpers.pgolua) .. " recipes/stale.lua " ..
      helpers.shq(dir .. "/p.pgo") .. " --src " .. helpers.shq(dir .. "/src") .. " " .. args)
    return out, err, code
  end

  it("says INCONCLUSIVE, names the files and exits 2", function()
    -- certain: 10.25% (under 15%); with what package main could hold: 19.01% (over)
    local out, err, code = run("--max-stale 0.15")
    assert.equal("", err)
    assert.equal(2, code)
    assert.matches("\ncould not read cmd/shop/main.go (unreadable: Permission denied): it could hold " ..
      "main.(*server).handleFast, main.(*server).handleSlow, main.(*server).handleSlow.func3, and 16 more\n", out, 1, true)
    assert.matches("\n  stale cum    10.25%  365 of 3561 samples", out, 1, true)
    assert.matches("\nINCONCLUSIVE: could not tell: ", out, 1, true)
  end)

  it("JSON: verdict inconclusive and the list of files", function()
    local out, _, code = run("--json --max-stale 0.15")
    assert.equal(2, code)
    local doc = cjson.decode(out)
    assert.equal("inconclusive", doc.verdict)
    assert.is_false(doc.stale)
    assert.is_true(#doc.inconclusive >= 1)
    assert.equal("unreadable", doc.inconclusive[1].kind)
    assert.equal("cmd/shop/handlers.go", doc.inconclusive[1].path)
    assert.equal(19, #doc.inconclusive[1].functions)

    local _, _, code2 = run("--max-stale 0.10")    -- 10.25% is surely over 10%: stale
    assert.equal(3, code2)
  end)
end)
