-- One set of facts: the same profile gives the same samples figure in every command, and
-- a profile refresh accepts with its defaults is not flagged by doctor, runbook or
-- pgo.audit.health with theirs (they are one table: pgo.audit.health_defaults()).
local helpers = require "helpers"
local pgo = require "pgo"
local cjson = require "cjson"

local F = helpers.fixture
local q = helpers.shq
local STEADY = F("profiles/shop.steady.pgo")
local SRC = F("gosrc/shop-v1")

local function run(recipe, args) return helpers.pgolua_run("recipes/" .. recipe .. ".lua " .. args) end

describe("one samples figure", function()
  local want = 3561   -- the samples/count total of shop.steady.pgo (3359 sample records)

  it("in tostring, p:info() and pgo.audit.health", function()
    local p = assert(pgo.load(STEADY))
    assert.equal(want, p:info().samples)
    assert.matches(", " .. want .. " samples, ", tostring(p), 1, true)
    local by = {}
    for _, c in ipairs(pgo.audit.health(p).checks) do by[c.name] = c end
    assert.equal(want, by.min_samples.figure)
  end)

  it("in refresh (text, JSON, provenance, PR body), stale, doctor and runbook", function()
    local dir, outputs = helpers.tmpdir(), helpers.tmpdir()
    local target = dir .. "/default.pgo"
    local out, err, code = run("refresh", "--file " .. q(STEADY) .. " --out " .. q(target) .. " --json"
      .. " --pr-body " .. q(outputs .. "/pr.md"))
    assert.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.equal(want, doc.capture.samples)
    assert.equal(want, doc.written.samples)
    assert.equal(want, doc.provenance.samples)
    local tout = run("refresh", "--file " .. q(STEADY) .. " --out " .. q(target) .. " --pr-body off")
    assert.matches("  capture       " .. want .. " samples over ", tout, 1, true)
    helpers.rm_rf(dir)
    helpers.rm_rf(outputs)

    local sout, serr, scode = run("stale", q(STEADY) .. " --src " .. q(SRC) .. " --json")
    assert.equal(0, scode, serr)
    local sdoc = cjson.decode(sout)
    assert.equal(want, sdoc.samples)
    assert.equal(want, sdoc.total)

    local dout = run("doctor", "--profile " .. q(STEADY) .. " --root " .. q(SRC))
    assert.matches(", " .. want .. " samples, ", dout, 1, true)
  end)
end)

describe("one threshold policy", function()
  it("a profile refresh accepts with its defaults passes health, doctor and runbook", function()
    local dir = helpers.tmpdir()
    helpers.run("cp -R " .. q(SRC) .. "/. " .. q(dir) .. " && chmod -R u+w " .. q(dir))
    local _, err, code = run("refresh", "--file " .. q(STEADY) .. " --src " .. q(dir) .. " --pr-body off")
    assert.equal(0, code, err)
    local target = dir .. "/cmd/shop/default.pgo"
    assert.is_true(pgo.fs.exists(target))

    assert.is_true(pgo.audit.health(assert(pgo.load(target))).ok)
    local dout, derr, dcode = run("doctor", "--profile " .. q(target) .. " --root " .. q(dir) .. " --json")
    assert.equal(0, dcode, derr)
    local health
    for _, step in ipairs(cjson.decode(dout).steps) do
      if step.id == "health" then health = step end
    end
    assert.equal("ok", assert(health, "no health step").verdict)
    local rout, rerr, rcode = run("runbook", "--root " .. q(dir) .. " --json")
    assert.equal(0, rcode, rerr)
    assert.is_true(cjson.decode(rout).profiles[1].health.ok)
    helpers.rm_rf(dir)
  end)

  it("the stricter bar for long fleet captures is one named policy", function()
    local p = assert(pgo.load(STEADY))
    assert.equal(pgo.audit.health_defaults().min_samples, 1000)
    assert.is_false(pgo.audit.health(p, { policy = "fleet" }).ok)
  end)
end)

describe("one message for a profile that is not a CPU profile", function()
  it("from refresh, stale and doctor (p:require_cpu)", function()
    local heap = F("bad/heap.pb.gz")
    local msg = "a heap profile, not a CPU profile: "
    local dir = helpers.tmpdir()
    local _, rerr, rcode = run("refresh", "--file " .. q(heap) .. " --out " .. q(dir .. "/default.pgo")
      .. " --pr-body off")
    helpers.rm_rf(dir)
    assert.equal(2, rcode)
    assert.matches(msg .. "go build -pgo needs a CPU profile", rerr, 1, true)
    local _, serr, scode = run("stale", q(heap) .. " --src " .. q(SRC))
    assert.equal(1, scode)
    assert.matches(msg .. "stale needs a CPU profile", serr, 1, true)
    local dout = run("doctor", "--profile " .. q(heap) .. " --root " .. q(SRC))
    assert.matches(msg .. "go build -pgo needs a CPU profile", dout, 1, true)
  end)
end)

describe("a team's copy of every recipe", function()
  it("runs from another directory against the library", function()
    local dir = helpers.tmpdir()
    for _, name in ipairs { "refresh", "doctor", "runbook", "stale", "top", "ab" } do
      helpers.run("cp " .. q(helpers.root .. "/recipes/" .. name .. ".lua") .. " " .. q(dir .. "/my-" .. name .. ".lua"))
      local out, err, code = helpers.pgolua_run(q(dir .. "/my-" .. name .. ".lua") .. " --help")
      assert.equal(0, code, name .. ": " .. err)
      assert.matches("Usage: ", out, 1, true)
      if name ~= "ab" then assert.matches("Exit: ", out, 1, true) end
    end
    local out, err, code = helpers.pgolua_run(q(dir .. "/my-top.lua") .. " -n 1 " .. q(STEADY))
    assert.equal(0, code, err)
    assert.matches("example.com/shop/internal/cache.mix", out, 1, true)
    local sout, serr, scode = helpers.pgolua_run(q(dir .. "/my-stale.lua") .. " " .. q(STEADY) .. " --src " .. q(SRC))
    assert.equal(0, scode, serr)
    assert.matches("fresh: ", sout, 1, true)
    helpers.rm_rf(dir)
  end)
end)
