-- #pyroscope: pgo.backends.pyroscope against spec/support/pyroscope-server, a Pyroscope
-- built from Pyroscope's published API module (its generated Connect services; the
-- Pyroscope server module itself is not served by the module proxy here). It captures
-- examples/service's /debug/pprof/profile in a loop and pushes each profile through the
-- Connect Push call; the specs pull merged windows back. All on 127.0.0.1.
-- Run with: busted --tags=pyroscope (needs Go).
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"
local profilers = require "support.profilers"
local net = require "pgo.core.net"

local go = helpers.go()
local PT = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
local SEL = '{service_name="example"}'

local function totals(p) return p:info().totals end

-- The server's own answer for [from, to] in one SelectMergeProfile call.
local function pyroscope_itself(base, from, to)
  local resp = assert(net.request { url = base .. "/querier.v1.QuerierService/SelectMergeProfile",
    method = "POST", headers = { "Content-Type: application/proto" }, timeout = 60,
    body = pgo.backends.pyroscope_request(PT, SEL, from, to, nil, nil, "SelectMergeProfile") })
  return assert(pgo.decode(resp.body))
end

describe("#pyroscope pgo.backends against a Pyroscope Connect server", function()
  if not go then pending("Go >= 1.21 not found (make deps)") return end
  local pyro
  setup(function()
    servers.guard(function()
      local bin = assert(profilers.build("pyroscope-server"))
      local service = servers.start_service(servers.build_service(go), 2)
      pyro = profilers.start_pyroscope(bin, service.url("/debug/pprof/profile"), 1)
    end)
  end)
  teardown(function() servers.cleanup() end)

  it("pulls a 72-hour window in 24-hour slices that add up to the server's own merge", function()
    local p
    for _ = 1, 60 do                                    -- a few pushes first
      p = pgo.backends.pyroscope { url = pyro.base, selector = SEL, from = "now-5m", retries = 0 }
      if p then break end
      os.execute("sleep 1")
    end
    assert.is_truthy(p, "no profile of examples/service arrived within a minute")
    os.execute("sleep 4")
    local to = net.now() - 1
    local sliced, meta = pgo.backends.pyroscope { url = pyro.base, selector = SEL,
      from = to - 72 * 3600, to = to }
    assert.is_truthy(sliced, meta)
    assert.equal("SelectMergeStacktraces", meta.route)
    assert.equal(3, #meta.slices)
    assert.same(totals(sliced), profilers.slice_totals(meta))
    -- every push is in the last day: one call over it is the server's own merge
    local whole = pyroscope_itself(pyro.base, to - 86400, to)
    assert.is_true(totals(whole)[1] > 0)
    assert.same(totals(whole), totals(sliced))
    -- the server refuses 72 h in one call (max_query_length), and says so
    local _, msg, code = pgo.backends.pyroscope { url = pyro.base, selector = SEL,
      from = to - 72 * 3600, to = to, max_window = 72 * 3600, min_window = 72 * 3600 }
    assert.equal("http_status", code)
    assert.truthy(msg:find("exceeds the limit", 1, true), msg)
  end)

  it("merges many small slices without losing or doubling a push", function()
    local to = net.now() - 1
    local fine, meta = pgo.backends.pyroscope { url = pyro.base, selector = SEL, from = to - 120,
      to = to, max_window = 5, min_window = 1 }
    assert.is_truthy(fine, meta)
    assert.is_true(#meta.slices > 10)
    assert.same(totals(pyroscope_itself(pyro.base, to - 120, to)), totals(fine))
  end)

  it("finds nothing for another service: 'empty'", function()
    local p, msg, code = pgo.backends.pyroscope { url = pyro.base,
      selector = '{service_name="nobody"}', from = "now-10m" }
    assert.is_nil(p)
    assert.equal("empty", code, msg)
  end)
end)
