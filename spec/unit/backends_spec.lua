-- pgo.backends: Pyroscope, Parca, net/http/pprof and files.
--
-- #integration tests need Go to build spec/support/fakeserver.go, which answers like
-- Pyroscope's SelectMergeProfile and Parca's /api/profiles/query (as described in
-- shared/docs/backends-reference.md, sections 2.2 and 3.1) and records each request so
-- these specs can check the exact method, path, headers and body we send.
local helpers = require "helpers"
local pgo = require "pgo"
local pb = require "pbwriter"
local servers = require "support.servers"

local go = helpers.go()
local TINY = helpers.fixture("pprof-examples/tiny.pb.gz")
local NO_GO = "Go >= 1.21 not found (install golang-1.23-go: make deps); the fake server needs it"

local function totals(p) return p:info().totals end

describe("pgo.backends", function()
  describe("parse_time() and rfc3339()", function()
    it("reads numbers, now-relative times and RFC 3339", function()
      local now = 1767225600                      -- 2026-01-01T00:00:00Z
      assert.equal(12.5, pgo.backends.parse_time(12.5, now))
      assert.equal(now, pgo.backends.parse_time("now", now))
      assert.equal(now - 3600, pgo.backends.parse_time("now-1h", now))
      assert.equal(now - 90, pgo.backends.parse_time("now-90s", now))
      assert.equal(now - 2 * 86400, pgo.backends.parse_time("now-2d", now))
      assert.equal(now, pgo.backends.parse_time("2026-01-01T00:00:00Z"))
      assert.equal(now + 0.25, pgo.backends.parse_time("2026-01-01T00:00:00.25Z"))
      assert.equal(now - 7200, pgo.backends.parse_time("2026-01-01T00:00:00+02:00"))
      assert.equal(951782400, pgo.backends.parse_time("2000-02-29T00:00:00Z"))
      local t, msg = pgo.backends.parse_time("yesterday")
      assert.is_nil(t)
      assert.truthy(msg:find("RFC 3339", 1, true))
      assert.is_nil((pgo.backends.parse_time("2026-01-01T00:00:00")))   -- no zone
    end)

    it("formats UTC", function()
      assert.equal("2026-01-01T00:00:00Z", pgo.backends.rfc3339(1767225600))
      assert.equal("2026-01-01T00:00:00.500Z", pgo.backends.rfc3339(1767225600.5))
    end)
  end)

  describe("base64 (pgo.core.net, for Parca's JSON)", function()
    local net = require "pgo.core.net"
    it("round-trips every byte value and every length", function()
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all)
      for n = 0, 10 do
        local s = all:sub(1, n)
        assert.equal(s, net.base64_decode(net.base64_encode(s)))
      end
      assert.equal(all, net.base64_decode(net.base64_encode(all)))
      assert.equal("aGVsbG8=", net.base64_encode("hello"))
    end)

    it("accepts missing padding and the URL alphabet", function()
      assert.equal("hello", net.base64_decode("aGVsbG8"))
      assert.equal("\251\255", net.base64_decode("-_8="))
      assert.equal("\251\255", net.base64_decode("+/8="))
    end)

    it("returns nil, message, 'invalid' with the offset", function()
      local s, msg, code = net.base64_decode("aGV$bG8=")
      assert.is_nil(s)
      assert.equal("invalid", code)
      assert.truthy(msg:find("offset 3", 1, true), msg)
      s, msg, code = net.base64_decode("aGVsb")
      assert.is_nil(s)
      assert.equal("invalid", code)
      assert.is_nil((net.base64_decode("aGVsbG8 ")))
      assert.is_nil((net.base64_decode("aGVsbG8==")))
    end)
  end)

  describe("pyroscope_request()", function()
    it("encodes querier.v1.SelectMergeProfileRequest field by field", function()
      local body = pgo.backends.pyroscope_request("process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        '{service_name="api"}', 1767225600, 1767229200.5, 16384,
        { keep_locations = 5, aggregate_callees = true })
      local want = pb.encode {
        { 1, "bytes", "process_cpu:cpu:nanoseconds:cpu:nanoseconds" },
        { 2, "bytes", '{service_name="api"}' },
        { 3, "varint", 1767225600000 },
        { 4, "varint", 1767229200500 },
        { 5, "varint", 16384 },
        { 6, "msg", { { 2, "msg", { { 1, "varint", 5 }, { 2, "varint", 1 } } } } },
      }
      assert.equal(want, body)
    end)
  end)

  describe("file()", function()
    it("loads a path or a file:// URL", function()
      local t = totals(assert(pgo.load(TINY)))
      local p, meta = pgo.backends.file { path = TINY }
      assert.same(t, totals(p))
      assert.equal("file", meta.backend)
      assert.equal(#helpers.read_file(TINY), meta.bytes)
      assert.same(t, totals(assert(pgo.backends.file { url = "file://" .. TINY })))
    end)

    it("returns nil, message, code for a missing file", function()
      local p, msg, code = pgo.backends.file { path = "/nonexistent/x.pgo" }
      assert.is_nil(p)
      assert.equal("not_found", code)
      assert.truthy(msg:find("/nonexistent/x.pgo", 1, true))
    end)
  end)

  describe("fetch()", function()
    it("dispatches strings: a path or file:// to file", function()
      local t = totals(assert(pgo.load(TINY)))
      assert.same(t, totals(assert(pgo.backends.fetch(TINY))))
      local p, meta = pgo.backends.fetch("file://" .. TINY)
      assert.same(t, totals(p))
      assert.equal("file", meta.backend)
    end)

    it("sends an http URL to pprof", function()
      local p, msg, code, meta = pgo.backends.fetch { url = "http://127.0.0.1:1", retries = 0,
        quiet = true }
      assert.is_nil(p)
      assert.equal("connect", code, msg)
      assert.equal("pprof", meta.backend)
    end)

    it("raises on an unknown backend or a bad argument", function()
      assert.has_error(function() pgo.backends.fetch { backend = "datadog", url = "x" } end,
        "bad argument #1 to 'fetch' (unknown backend 'datadog': pprof, pyroscope, parca or file)")
      assert.has_error(function() pgo.backends.fetch(42) end,
        "bad argument #1 to 'fetch' (string or table expected, got number)")
      assert.has_error(function() pgo.backends.pyroscope { } end)
      assert.has_error(function()
        pgo.backends.pyroscope { url = "http://127.0.0.1:1", from = "now", to = "now-1h" }
      end)
    end)
  end)

  describe("#integration against a fake Pyroscope and Parca", function()
    if not go then pending(NO_GO) return end
    local srv
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = TINY, record = true })
      end)
    end)
    teardown(function() servers.cleanup() end)

    local function last_request()
      local r = srv.requests()
      return r[#r]
    end

    it("pyroscope: POSTs SelectMergeProfile with the exact path, headers and body", function()
      local p, meta = pgo.backends.pyroscope { url = srv.base .. "/", tenant = "team-a",
        selector = '{service_name="api"}', from = 1767225600, to = "2026-01-01T01:00:00Z",
        max_nodes = 8192, quiet = true }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("pyroscope", meta.backend)
      assert.equal(srv.base .. "/querier.v1.QuerierService/SelectMergeProfile", meta.url)
      assert.equal(200, meta.status)
      assert.equal(1767225600, meta.window_start)
      assert.equal(1767229200, meta.window_end)
      local req = last_request()
      assert.equal("POST", req.method)
      assert.equal("/querier.v1.QuerierService/SelectMergeProfile", req.path)
      assert.equal("", req.query)
      assert.equal("application/proto", req.headers["Content-Type"][1])
      assert.equal("team-a", req.headers["X-Scope-Orgid"][1])
      assert.equal("1", req.headers["Connect-Protocol-Version"][1])
      assert.truthy(req.headers["User-Agent"][1]:match("^pgolua/"))
      assert.equal(pb.encode {
        { 1, "bytes", "process_cpu:cpu:nanoseconds:cpu:nanoseconds" },
        { 2, "bytes", '{service_name="api"}' },
        { 3, "varint", 1767225600000 },
        { 4, "varint", 1767229200000 },
        { 5, "varint", 8192 },
      }, req.body)
    end)

    it("pyroscope: a Connect error comes back with its code and a hint", function()
      local p, msg, code, meta = pgo.backends.pyroscope { url = srv.base, quiet = true }
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.equal(401, meta.status)
      assert.truthy(msg:find("HTTP 401 from Pyroscope: unauthenticated: no org id", 1, true), msg)
      assert.truthy(msg:find("tenant=", 1, true), msg)
    end)

    it("pyroscope: an empty answer is 'empty' with the selector and window", function()
      local p, msg, code = pgo.backends.pyroscope { url = srv.base, tenant = "t",
        selector = '{service_name="none"}', from = 1767225600, to = 1767229200 }
      assert.is_nil(p)
      assert.equal("empty", code)
      assert.truthy(msg:find('{service_name="none"}', 1, true), msg)
      assert.truthy(msg:find("2026-01-01T00:00:00Z and 2026-01-01T01:00:00Z", 1, true), msg)
    end)

    it("pyroscope: sends a Bearer token from auth_file", function()
      local tok = os.tmpname()
      helpers.write_file(tok, "glsa_spec_token\n")
      local p = pgo.backends.pyroscope { url = srv.base, tenant = "t", auth_file = tok }
      os.remove(tok)
      assert.is_truthy(p)
      assert.equal("Bearer glsa_spec_token", last_request().headers["Authorization"][1])
    end)

    it("parca: GETs /api/profiles/query in merge mode and decodes the base64 pprof", function()
      local q = 'process_cpu:samples:count:cpu:nanoseconds:delta{job="api"}'
      local p, meta = pgo.backends.parca { url = srv.base, query = q,
        from = "2026-01-01T00:00:00Z", to = "2026-01-01T00:30:00Z" }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("parca", meta.backend)
      local req = last_request()
      assert.equal("GET", req.method)
      assert.equal("/api/profiles/query", req.path)
      assert.equal("mode=MODE_MERGE&reportType=REPORT_TYPE_PPROF" ..
        "&merge.query=process_cpu%3Asamples%3Acount%3Acpu%3Ananoseconds%3Adelta%7Bjob%3D%22api%22%7D" ..
        "&merge.start=2026-01-01T00%3A00%3A00Z&merge.end=2026-01-01T00%3A30%3A00Z", req.query)
      assert.equal("", req.body)
    end)

    it("parca: a grpc-gateway error comes back with its message", function()
      local p, msg, code, meta = pgo.backends.parca { url = srv.base, query = "" }
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.equal(400, meta.status)
      assert.truthy(msg:find("HTTP 400 from Parca: 3: query must contain a profile-type selection",
        1, true), msg)
    end)

    it("pprof: fills the path and captures", function()
      local p, meta = pgo.backends.pprof { url = srv.base, seconds = 1, quiet = true }
      assert.is_truthy(p, meta)
      assert.equal("pprof", meta.backend)
      assert.equal("/debug/pprof/profile", last_request().path)
      assert.equal("seconds=1", last_request().query)
    end)

    it("fetch: a table with urls is a pprof fleet", function()
      local p, meta = pgo.backends.fetch { urls = { srv.base, srv.base }, seconds = 1, quiet = true }
      assert.is_truthy(p, meta)
      assert.equal(2, meta.results.succeeded)
      local t = totals(assert(pgo.load(TINY)))
      assert.same({ 2 * t[1], 2 * t[2] }, totals(p))
    end)
  end)
end)
