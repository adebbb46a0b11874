-- Black-box specs for recipes/stale.lua: run ./pgolua recipes/stale.lua on the fixtures
-- (shop.steady.pgo against the shop's v1 and v2 source) and check output and exit status.
-- The expected figures come from shared/fixtures/expected/stale/shop.steady-vs-shop-v2.txt:
-- 5 stale functions, 170 of 3561 samples flat (4.77%), 677 of 3561 cum (19.01%).
local helpers = require "helpers"
local cjson = require "cjson"

local F = helpers.fixture
local q = helpers.shq

local STEADY = q(F("profiles/shop.steady.pgo"))
local V1 = q(F("gosrc/shop-v1"))
local V2 = q(F("gosrc/shop-v2"))

local function stale(args) return helpers.pgolua_run("recipes/stale.lua " .. args) end

describe("recipes/stale.lua", function()
  it("reports 4.77% flat, 19.01% cum and 5 stale functions against shop-v2, exit 3", function()
    local out, err, code = stale(STEADY .. " --src " .. V2)
    assert.equal(3, code, err)
    assert.equal("", err)
    assert.matches("stale flat    4.77%  170 of 3561 samples", out, 1, true)
    assert.matches("stale cum    19.01%  677 of 3561 samples", out, 1, true)
    assert.matches("\n5 stale functions, by cum:\n", out, 1, true)
    for _, name in ipairs { "main.checksumOrders\n", "example.com/shop/internal/catalog.walk\n",
      "example.com/shop/internal/pricing.TopK[go.shape.float64]\n",
      "example.com/shop/internal/pricing.TopK[go.shape.struct {", "main.checksumOrders.func1\n" } do
      assert.matches(name, out, 1, true)
    end
    -- ranked by cum: checksumOrders (312) first, its closure (2) last
    assert.truthy(out:find("main.checksumOrders\n", 1, true) < out:find("catalog.walk", 1, true))
    assert.matches("\nSTALE: refresh the profile: 19.01% of the samples (cum)", out, 1, true)
    assert.matches("(threshold 10.00%)", out, 1, true)
  end)

  it("finds nothing stale against shop-v1 (the source that ran), exit 0", function()
    local out, err, code = stale(STEADY .. " --src " .. V1)
    assert.equal(0, code, err)
    assert.matches("stale flat    0.00%  0 of 3561 samples", out, 1, true)
    assert.matches("stale cum     0.00%  0 of 3561 samples", out, 1, true)
    assert.matches("\nno stale functions\n", out, 1, true)
    assert.matches("\nfresh: no refresh needed", out, 1, true)
  end)

  it("honours --max-stale: 0.25 lets the 19.01% profile pass, 0.01 does not", function()
    local out, _, code = stale(STEADY .. " --src " .. V2 .. " --max-stale 0.25")
    assert.equal(0, code)
    assert.matches("threshold 25.00%", out, 1, true)
    local _, _, code2 = stale(STEADY .. " --src " .. V2 .. " --max-stale 0.01")
    assert.equal(3, code2)
  end)

  it("limits the printed list with --top", function()
    local out, _, code = stale(STEADY .. " --src " .. V2 .. " --top 2")
    assert.equal(3, code)
    assert.matches("5 stale functions, top 2, by cum:", out, 1, true)
    assert.is_nil(out:find("catalog.walk", 1, true))
  end)

  it("writes the fractions and the functions list with --json", function()
    local out, err, code = stale(STEADY .. " --src " .. V2 .. " --json")
    assert.equal(3, code, err)
    local doc = cjson.decode(out)
    assert.near(0.0477, doc.flat_fraction, 0.00005)
    assert.near(0.1901, doc.cum_fraction, 0.00005)
    assert.near(170 / 3195, doc.own_flat_fraction, 1e-9)
    assert.near(677 / 3195, doc.own_cum_fraction, 1e-9)
    assert.equal(3561, doc.total)
    assert.equal(170, doc.stale_flat)
    assert.equal(677, doc.stale_cum)
    assert.equal(5, #doc.functions)
    local first = doc.functions[1]
    assert.near(6 / 3561, first.flat_fraction, 1e-12)          -- cjson writes 14 digits
    assert.near(312 / 3561, first.cum_fraction, 1e-12)
    first.flat_fraction, first.cum_fraction = nil, nil
    assert.same({ name = "main.checksumOrders", flat = 6, cum = 312,
      belongs_to = "main.checksumOrders", how = "not found in the source" }, first)
    assert.equal("example.com/shop/internal/pricing.TopK[...]", doc.functions[2].belongs_to)
    assert.equal("example.com/shop", doc.module)
    assert.equal(0.10, doc.threshold)
    assert.equal("cum_fraction", doc.threshold_on)
    assert.is_true(doc.stale)
    assert.equal(3, doc.exit)
  end)

  it("writes an empty functions array (not an object) when fresh", function()
    local out, _, code = stale(STEADY .. " --src " .. V1 .. " --json")
    assert.equal(0, code)
    assert.matches('"functions":[]', out, 1, true)
    local doc = cjson.decode(out)
    assert.equal(0, doc.flat_fraction)
    assert.equal(0, doc.cum_fraction)
    assert.is_false(doc.stale)
  end)

  it("exits 1 with the load error for a bad profile", function()
    local out, err, code = stale(q(F("bad/truncated.pgo")) .. " --src " .. V2)
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("^stale: .*truncated%.pgo: the gzip stream ends early", err)
    local _, err2, code2 = stale(q(F("bad/html-error.pgo")) .. " --src " .. V2)
    assert.equal(1, code2)
    assert.matches("^stale: .*html%-error%.pgo: ", err2)
  end)

  it("exits 1 with the library's message for a bad source directory", function()
    local dir = helpers.tmpdir()
    local _, err, code = stale(STEADY .. " --src " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(1, code)
    assert.matches("^stale: .*go%.mod", err)
  end)

  it("names --lenient when a Go file does not parse, and skips the file with it", function()
    local dir = helpers.tmpdir()
    helpers.run("cp -R " .. V1 .. "/. " .. q(dir))
    helpers.write_file(dir .. "/internal/cache/broken.go", 'package cache\n\nfunc broken() { "unterminated\n')
    local out, err, code = stale(STEADY .. " --src " .. q(dir))
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("broken.go: line 3", err, 1, true)
    assert.equal("fix the file, or pass --lenient to skip files with syntax errors", err:match("([^\n]*)\n$"))
    local jout, jerr, jcode = stale(STEADY .. " --src " .. q(dir) .. " --lenient --json")
    helpers.rm_rf(dir)
    assert.equal(0, jcode, jerr)
    assert.equal("fresh", cjson.decode(jout).verdict)
  end)

  it("exits 1 on usage errors and prints --help", function()
    local _, err, code = stale(STEADY)
    assert.equal(1, code)
    assert.matches("missing option '--src'", err, 1, true)
    local _, err2, code2 = stale(STEADY .. " --src " .. V2 .. " --max-stale 7")
    assert.equal(1, code2)
    assert.matches("--max-stale must be a number between 0 and 1", err2, 1, true)
    local out, _, code3 = stale("--help")
    assert.equal(0, code3)
    assert.matches("Usage: pgolua stale", out, 1, true)
    assert.matches("--include-tests", out, 1, true)
    assert.matches("--lenient", out, 1, true)
  end)

  it("runs from any working directory", function()
    local out, err, code = helpers.run("cd / && " .. q(helpers.pgolua) .. " " ..
      q(helpers.root .. "/recipes/stale.lua") .. " " .. STEADY .. " --src " .. V2)
    assert.equal(3, code, err)
    assert.matches("19.01%", out, 1, true)
  end)
end)
