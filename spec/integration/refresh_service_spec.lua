-- Integration: recipes/refresh.lua against the real examples/service (built here with Go
-- 1.23, run on 127.0.0.1 with a free port under -load 2): refresh a copy of the module's
-- cmd/service/default.pgo from one instance, then from a fleet of two, and check that
-- go build -pgo=auto picks the refreshed profile up. Needs Go >= 1.21; pending with a
-- message without it. Every service started here is killed in teardown (by pid).
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"

local go = helpers.go()
local q = helpers.shq

local listing = helpers.listing

local function refresh(args)
  return helpers.pgolua_run(q(helpers.root .. "/recipes/refresh.lua") .. " " .. args)
end

describe("#integration refresh.lua on examples/service", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end

  local bin, module, target
  setup(function()
    servers.guard(function() bin = servers.build_service(go) end)
  end)
  teardown(function() servers.cleanup() end)
  before_each(function()
    module = helpers.tmpdir()
    assert(helpers.run("cp -R " .. q(helpers.root .. "/examples/service") .. "/. " .. q(module)))
    target = module .. "/cmd/service/default.pgo"
  end)
  after_each(function()
    servers.stop_all()
    helpers.rm_rf(module)
  end)

  it("captures one instance for 3 s and writes cmd/service/default.pgo with provenance", function()
    local svc = servers.start_service(bin, 2)
    local out, err, code = refresh("--url " .. q(svc.base) .. " --seconds 3 --out " .. q(target)
      .. " --src " .. q(module) .. " --min-samples 10 --min-bytes 1000 --health off --pr-body "
      .. q(module .. "/pr.md"))
    svc:stop()
    assert.equal(0, code, err .. out)
    assert.matches("\nreplaced " .. target .. ": ", out, 1, true)
    -- the live profile matches the module it came from
    assert.matches("\u{2713} max_stale: 0.00% of the samples (cum)", out, 1, true)
    local p = assert(pgo.load(target))
    local info = p:info()
    assert.equal("cpu", info.kind)
    assert.truthy(info.totals[1] >= 10, "samples " .. info.totals[1])
    assert.truthy(assert(p:edges()) and #p:edges() > 0)
    local prov = pgo.provenance.read(p)
    assert.equal(svc.base .. "/debug/pprof/profile?seconds=3", prov.source)
    assert.equal(1, prov.instances)
    assert.equal(3, prov.seconds)
    assert.equal(p:top { n = 1 }[1].name, prov.top_function)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:]+Z/", prov.window)
    assert.same({ "default.pgo", "main.go" }, listing(module .. "/cmd/service"))
    local body = helpers.read_file(module .. "/pr.md")
    assert.matches("| Source | `" .. svc.base .. "/debug/pprof/profile?seconds=3` |", body, 1, true)

    -- go build -pgo=auto (the default) now builds the service with it
    local exe = module .. "/service.pgo"
    local _, berr, bcode = helpers.run("cd " .. q(module) .. " && GOTOOLCHAIN=local GOPROXY=off GOFLAGS= "
      .. "GOCACHE=${GOCACHE:-${HOME:-/tmp}/.cache/go-build} " .. q(go) .. " build -o " .. q(exe)
      .. " ./cmd/service")
    assert.equal(0, bcode, berr)
    local bi = assert(pgo.buildinfo(exe))
    assert.equal(target, bi.settings["-pgo"])
  end)

  it("captures a fleet of 2 instances in one window and merges them", function()
    local a, b = servers.start_service(bin, 2), servers.start_service(bin, 2)
    local t0 = os.time()
    local out, err, code = refresh("--url " .. q(a.base) .. " --url " .. q(b.base) .. " --seconds 3 --pr-body off"
      .. " --out " .. q(target) .. " --src " .. q(module)
      .. " --min-samples 10 --min-bytes 1000 --health off --json")
    local elapsed = os.time() - t0
    a:stop()
    b:stop()
    assert.equal(0, code, err .. out)
    local doc = require("cjson").decode(out)
    assert.equal("replaced", doc.status)
    assert.same({ "2 of 2 instances" }, doc.sources)
    assert.truthy(elapsed < 10 * helpers.slowdown,     -- at once, not one after the other
      "a fleet of 2 took " .. elapsed .. " s for a 3 s window")
    local p = assert(pgo.load(target))
    local prov = pgo.provenance.read(p)
    assert.equal(2, prov.instances)
    assert.equal("pgo.fetch.fleet (pprof merge)", prov.aggregated_via)
    assert.equal(a.base .. "/debug/pprof/profile?seconds=3 and 1 more", prov.source)
    assert.equal(doc.written.samples, p:info().totals[1])
    -- both captures span about 3 s each: the merged duration is their sum
    assert.truthy(p:info().duration_ns >= 5.5e9, p:info().duration_ns)
    assert.same({ "default.pgo", "main.go" }, listing(module .. "/cmd/service"))
  end)

  it("leaves the profile untouched when the service is gone (exit 1)", function()
    local svc = servers.start_service(bin, 2)
    local url = svc.base
    svc:stop()
    helpers.write_file(target, "previous\n")
    local _, err, code = refresh("--url " .. q(url) .. " --seconds 1 --retries 0 --out " .. q(target))
    assert.equal(1, code)
    assert.matches("connection refused", err, 1, true)
    assert.equal("previous\n", helpers.read_file(target))
    assert.same({ "default.pgo", "main.go" }, listing(module .. "/cmd/service"))
  end)
end)
