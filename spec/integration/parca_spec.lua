-- #parca: pgo.backends.parca against a real Parca (scripts/gotool.sh parca: the pinned
-- release, built once into the cache), scraping examples/service's /debug/pprof/profile
-- every 2 s, all on 127.0.0.1. A 72-hour window is pulled in 24-hour slices and must
-- agree with what Parca's own query API answers for the same window in one query.
-- Run with: busted --tags=parca (needs Go; the first build takes long, see the report).
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"
local profilers = require "support.profilers"
local net = require "pgo.core.net"

local go = helpers.go()
local QUERY = 'process_cpu:samples:count:cpu:nanoseconds:delta{job="example"}'

local function totals(p) return p:info().totals end

-- Parca's own answer for [from, to] in one query: its grpc-gateway JSON, decoded here.
local function parca_itself(base, from, to)
  local b = pgo.backends
  local resp = assert(net.request { url = base .. "/api/profiles/query?mode=MODE_MERGE" ..
    "&reportType=REPORT_TYPE_PPROF&merge.query=" .. b._qenc(QUERY) ..
    "&merge.start=" .. b._qenc(b.rfc3339(from)) .. "&merge.end=" .. b._qenc(b.rfc3339(to)),
    timeout = 60 })
  local doc = require("cjson").decode(resp.body)
  return assert(pgo.decode(assert(net.base64_decode(doc.pprof))))
end

describe("#parca pgo.backends against a real Parca", function()
  if not go then pending("Go >= 1.21 not found (make deps)") return end
  local parca
  setup(function()
    servers.guard(function()
      local bin = assert(profilers.build("parca"))
      local service = servers.start_service(servers.build_service(go), 2)
      parca = profilers.start_parca(bin, servers.build_fake(go), service.addrs[1], 2)
    end)
  end)
  teardown(function() servers.cleanup() end)

  it("pulls a 72-hour window in slices whose totals add up to Parca's own merge", function()
    local p
    for _ = 1, 120 do                                   -- a few scrapes first
      p = pgo.backends.parca { url = parca.base, query = QUERY, from = "now-5m", retries = 0 }
      if p and totals(p)[1] > 0 then
        os.execute("sleep 6")
        break
      end
      os.execute("sleep 1")
    end
    assert.is_truthy(p, "Parca stored no profile of examples/service within 2 minutes")
    local to = net.now() - 5                            -- scrapes up to here are stored
    local from = to - 72 * 3600
    local sliced, meta = pgo.backends.parca { url = parca.base, query = QUERY, from = from, to = to }
    assert.is_truthy(sliced, meta)
    assert.equal(3, #meta.slices)
    assert.equal("api", meta.route)
    assert.same(totals(sliced), profilers.slice_totals(meta))
    local whole = parca_itself(parca.base, from, to)
    assert.is_true(totals(whole)[1] > 0)
    assert.same(totals(whole), totals(sliced))
    -- and the recent part in many small slices agrees as well (boundaries lose nothing)
    local fine, fmeta = pgo.backends.parca { url = parca.base, query = QUERY, from = to - 300,
      to = to, max_window = 7, min_window = 1 }
    assert.is_truthy(fine, fmeta)
    assert.is_true(#fmeta.slices > 1)
    assert.same(totals(parca_itself(parca.base, to - 300, to)), totals(fine))
  end)
end)
