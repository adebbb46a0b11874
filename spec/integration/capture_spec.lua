-- Integration: capture real CPU profiles from examples/service (built here with Go 1.23,
-- run on 127.0.0.1 with a free port under -load 2): one instance, a fleet of three, and
-- the Go runtime's own "already in use" refusal. Needs Go >= 1.21; skipped with a
-- message without it. Every service started here is killed in teardown (by pid).
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"

local go = helpers.go()

local listing = helpers.listing

describe("#integration capture from examples/service", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end

  local svc, dir, dest
  local PREVIOUS = "previous default.pgo\n"

  setup(function()
    servers.guard(function()
      local bin = servers.build_service(go)
      svc = { servers.start_service(bin, 2), servers.start_service(bin, 2),
        servers.start_service(bin, 2) }
    end)
  end)
  teardown(function() servers.cleanup() end)
  before_each(function()
    dir = helpers.tmpdir()
    dest = dir .. "/default.pgo"
    helpers.write_file(dest, PREVIOUS)
  end)
  after_each(function() helpers.rm_rf(dir) end)

  it("captures a 2-second CPU profile from one instance", function()
    local p, meta = pgo.fetch.profile(svc[1].base, { seconds = 2, dest = dest, quiet = true })
    assert.is_truthy(p, meta)
    local info = p:info()
    assert.equal("cpu", info.kind)
    assert.truthy(info.sample_records > 0, "no samples under -load 2")
    assert.truthy(info.duration_ns >= 1.5e9 and info.duration_ns < 4e9, info.duration_ns)
    assert.equal(svc[1].base .. "/debug/pprof/profile?seconds=2", meta.url)
    assert.equal(200, meta.status)
    assert.equal(1, meta.attempts)
    assert.truthy(meta.bytes > 0)
    local window = meta.window_end - meta.window_start
    assert.truthy(window >= 1.9 and window < 4, "window " .. window)
    assert.truthy(meta.elapsed >= 1.9 and meta.elapsed < 6, "elapsed " .. meta.elapsed)
    -- the service's handlers ran under pprof labels
    local rows = p:top { n = 50 }
    assert.truthy(#rows > 0)
    assert.equal(PREVIOUS, helpers.read_file(dest))
    assert.same({ "default.pgo" }, listing(dir))
  end)

  it("captures from a fleet of 3 in one window; merged totals are the sum", function()
    local urls = { svc[1].base, svc[2].base, svc[3].base }
    local merged, results = pgo.fetch.fleet(urls, { seconds = 2, dest = dest, quiet = true,
      keep_temp = true })
    assert.is_truthy(merged, results)
    assert.equal(3, results.succeeded)
    assert.truthy(results.elapsed < 5, "a fleet of 3 took " .. results.elapsed ..
      " s for a 2 s window: captures must run concurrently")
    local sum = { 0, 0 }
    for i, r in ipairs(results) do
      assert.is_true(r.ok, r.error)
      assert.equal(urls[i] .. "/debug/pprof/profile?seconds=2", r.url)
      assert.truthy(r.bytes > 0 and r.elapsed >= 1.9)
      local one = assert(pgo.load(r.temp_path))
      local t = one:info().totals
      sum[1], sum[2] = sum[1] + t[1], sum[2] + t[2]
      os.remove(r.temp_path)
    end
    assert.same(sum, merged:info().totals)
    assert.truthy(sum[1] > 0)
    assert.equal(PREVIOUS, helpers.read_file(dest))
    assert.same({ "default.pgo" }, listing(dir))

    -- provenance and the pull-request body from this capture
    pgo.provenance.record(merged, pgo.provenance.from_fetch(results))
    local prov = pgo.provenance.read(merged)
    assert.equal(3, prov.instances)
    assert.equal(2, prov.seconds)
    local md = pgo.provenance.pr_body(nil, merged)
    assert.truthy(md:find("| Instances | 3 |", 1, true))
    assert.truthy(md:find("| Duration per instance | 2 s |", 1, true))
  end)

  it("reports Go's own 'already in use' when one process is captured twice at once", function()
    local merged, results = pgo.fetch.fleet({ svc[1].base, svc[1].base }, { seconds = 2,
      dir = dir, quiet = true, retries = 0, min_success = 1 })
    assert.is_truthy(merged, results)
    assert.equal(1, results.succeeded)
    local failed = results[1].ok and results[2] or results[1]
    assert.equal("http_status", failed.code)
    assert.equal(500, failed.status)
    assert.truthy(failed.error:find("profiling already in use", 1, true), failed.error)
  end)

  it("writes a capture that pgo.load reads back and that replaces default.pgo atomically", function()
    local p, meta = pgo.fetch.profile(svc[2].base, { seconds = 1, dest = dest, quiet = true,
      keep_temp = true })
    assert.is_truthy(p, meta)
    assert.is_true(pgo.fs.replace(meta.temp_path, dest))
    local back = assert(pgo.load(dest))
    assert.same(p:info().totals, back:info().totals)
    assert.same({ "default.pgo" }, listing(dir))
  end)
end)
