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

    it("rounds to the millisecond instead of truncating to the second", function()
      assert.equal("1970-01-01T00:01:41Z", pgo.backends.rfc3339(100.9996))
      assert.equal("1970-01-01T00:01:40.999Z", pgo.backends.rfc3339(100.999))
      assert.equal("1970-01-01T00:01:40Z", pgo.backends.rfc3339(100.0004))
      assert.equal("1970-01-01T00:01:40.001Z", pgo.backends.rfc3339(100.0006))
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
    local PT = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    it("encodes SelectMergeStacktracesRequest with format PROFILE_FORMAT_PPROF by default", function()
      local body = pgo.backends.pyroscope_request(PT, '{service_name="api"}', 1767225600,
        1767229200.5, 16384, { keep_locations = 5, aggregate_callees = true })
      assert.equal(pb.encode {
        { 1, "bytes", PT }, { 2, "bytes", '{service_name="api"}' },
        { 3, "varint", 1767225600000 }, { 4, "varint", 1767229200500 },
        { 5, "varint", 16384 }, { 6, "varint", 4 },
        { 7, "msg", { { 2, "msg", { { 1, "varint", 5 }, { 2, "varint", 1 } } } } },
      }, body)
    end)

    it("encodes the deprecated SelectMergeProfileRequest, go_pgo at field 6", function()
      local body = pgo.backends.pyroscope_request(PT, "{}", 10, 20, nil, {}, "SelectMergeProfile")
      assert.equal(pb.encode {
        { 1, "bytes", PT }, { 2, "bytes", "{}" }, { 3, "varint", 10000 }, { 4, "varint", 20000 },
        -- aggregate_callees is off unless asked for: older servers misplace call-site lines
        { 6, "msg", { { 2, "msg", { { 1, "varint", 5 }, { 2, "varint", 0 } } } } },
      }, body)
    end)

    it("refuses go_pgo values the server would misread", function()
      local function req(g) return pgo.backends.pyroscope_request(PT, "{}", 10, 20, nil, g) end
      assert.has_error(function() req { keep_locations = 5.5 } end,
        "bad option 'go_pgo.keep_locations' to 'pyroscope_request' (an integer from 0 to 4294967295 expected, got 5.5)")
      assert.has_error(function() req { keep_locations = -1 } end,
        "bad option 'go_pgo.keep_locations' to 'pyroscope_request' (an integer from 0 to 4294967295 expected, got -1)")
      assert.has_error(function() req { keep_locations = 1 << 32 } end)
      assert.has_error(function() req { keep_locations = "5" } end)
      assert.has_error(function() req { aggregate_callees = "yes" } end,
        "bad option 'go_pgo.aggregate_callees' to 'pyroscope_request' (boolean expected, got string)")
      assert.has_error(function() req { keep = 5 } end,
        "bad option 'go_pgo' to 'pyroscope_request' (unknown field 'keep': keep_locations or aggregate_callees)")
      assert.has_error(function() req(true) end)
      assert.has_error(function() pgo.backends.pyroscope_request(PT, "{}", 1, 2, nil, nil, "Render") end)
      assert.has_error(function()
        pgo.backends.pyroscope { url = "http://127.0.0.1:1", go_pgo = { keep_locations = 0.5 } }
      end, "bad option 'go_pgo.keep_locations' to 'pyroscope' (an integer from 0 to 4294967295 expected, got 0.5)")
    end)
  end)

  describe("parca_request()", function()
    it("encodes a merge QueryRequest; an open end stops 1 ns short", function()
      local q = "process_cpu:samples:count:cpu:nanoseconds:delta{}"
      local function ts(sec, nanos)
        local t = { { 1, "varint", sec } }
        if nanos then t[2] = { 2, "varint", nanos } end
        return t
      end
      local function want(end_ts)
        return pb.encode { { 1, "varint", 2 },
          { 3, "msg", { { 1, "bytes", q }, { 2, "msg", ts(1767225600, 250000000) }, { 3, "msg", end_ts } } },
          { 5, "varint", 1 } }
      end
      assert.equal(want(ts(1767229200)), pgo.backends.parca_request(q, 1767225600.25, 1767229200))
      assert.equal(want(ts(1767229199, 999999999)),
        pgo.backends.parca_request(q, 1767225600.25, 1767229200, true))
    end)
  end)

  describe("protobuf envelopes", function()
    it("finds a length-delimited field and rejects malformed messages", function()
      local f = pgo.backends._pb_field
      local msg = pb.encode { { 1, "varint", 300 }, { 5, "bytes", "pprof" }, { 9, "bytes", "x" } }
      assert.equal("pprof", f(msg, 5))
      assert.is_false(f(msg, 6))
      assert.is_false(f("", 5))
      local r, err = f("\42\10ab", 5)                  -- length 16, 2 bytes left
      assert.is_nil(r)
      assert.truthy(err:find("truncated", 1, true))
      assert.is_nil((f("\8", 1)))                        -- a varint cut short
      assert.is_nil((f("\11", 1)))                       -- wire type 3
      assert.is_nil((f(("\255"):rep(11), 1)))            -- a varint over 64 bits
    end)
  end)

  describe("fetch_plan", function()
    local plan = require "pgo.fetch_plan"
    it("cuts a window into equal, contiguous slices of at most max_window", function()
      local s = plan.slices(1767225600, 1767225600 + 72 * 3600, 86400)
      assert.equal(3, #s)
      assert.same({ from_ms = 1767225600000, to_ms = 1767312000000, last = false }, s[1])
      assert.equal(s[1].to_ms, s[2].from_ms)
      assert.equal(s[2].to_ms, s[3].from_ms)
      assert.same({ from_ms = 1767398400000, to_ms = 1767484800000, last = true }, s[3])
      assert.equal(1, #plan.slices(0, 86400, 86400))      -- exactly the limit: one slice
      assert.equal(2, #plan.slices(0, 86400.001, 86400))
      assert.has_error(function() plan.slices(0, 1e9, 1) end)
    end)

    it("checks its options", function()
      assert.has_error(function() pgo.backends.parca { url = "http://127.0.0.1:1", max_window = 0 } end,
        "bad option 'max_window' to 'parca' (a positive number of seconds expected, got 0)")
      assert.has_error(function() pgo.backends.parca { url = "http://127.0.0.1:1", concurrency = 1.5 } end,
        "bad option 'concurrency' to 'parca' (an integer from 1 to 64 expected, got 1.5)")
      assert.has_error(function()
        pgo.backends.pyroscope { url = "http://127.0.0.1:1", recent_half_life = "1d" }
      end, "bad option 'recent_half_life' to 'pyroscope' (a positive number of seconds expected, got string)")
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

    local T0 = 1767225600                                -- 2026-01-01T00:00:00Z
    local function requests_since(n)
      local all, out = srv.requests(), {}
      for i = n + 1, #all do out[#out + 1] = all[i] end
      return out
    end
    local sum_slices = require("support.profilers").slice_totals

    it("pyroscope: POSTs SelectMergeStacktraces (PPROF) with the exact path, headers and body", function()
      local p, meta = pgo.backends.pyroscope { url = srv.base .. "/", tenant = "team-a",
        selector = '{service_name="api"}', from = T0, to = "2026-01-01T01:00:00Z",
        max_nodes = 8192, go_pgo = {}, quiet = true }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("pyroscope", meta.backend)
      assert.equal("SelectMergeStacktraces", meta.route)
      assert.equal(srv.base .. "/querier.v1.QuerierService/SelectMergeStacktraces", meta.url)
      assert.equal(200, meta.status)
      assert.equal(T0, meta.window_start)
      assert.equal(T0 + 3600, meta.window_end)
      local req = last_request()
      assert.equal("POST", req.method)
      assert.equal("/querier.v1.QuerierService/SelectMergeStacktraces", req.path)
      assert.equal("", req.query)
      assert.equal("application/proto", req.headers["Content-Type"][1])
      assert.equal("team-a", req.headers["X-Scope-Orgid"][1])
      assert.equal("1", req.headers["Connect-Protocol-Version"][1])
      assert.truthy(req.headers["Accept-Encoding"][1]:find("gzip", 1, true))   -- the answer came gzipped
      assert.truthy(req.headers["User-Agent"][1]:match("^pgolua/"))
      assert.equal(pb.encode {
        { 1, "bytes", "process_cpu:cpu:nanoseconds:cpu:nanoseconds" },
        { 2, "bytes", '{service_name="api"}' },
        { 3, "varint", T0 * 1000 }, { 4, "varint", (T0 + 3600) * 1000 },
        { 5, "varint", 8192 }, { 6, "varint", 4 },
        { 7, "msg", { { 2, "msg", { { 1, "varint", 5 }, { 2, "varint", 0 } } } } },
      }, req.body)
    end)

    it("pyroscope: a server before 2.2 (no PPROF format) gets SelectMergeProfile instead", function()
      local n = #srv.requests()
      local p, meta = pgo.backends.pyroscope { url = srv.base .. "/v1", from = T0, to = T0 + 60 }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("SelectMergeProfile", meta.route)
      local reqs = requests_since(n)
      assert.equal(2, #reqs)
      assert.equal("/v1/querier.v1.QuerierService/SelectMergeStacktraces", reqs[1].path)
      assert.equal("/v1/querier.v1.QuerierService/SelectMergeProfile", reqs[2].path)
    end)

    it("pyroscope: the tenant is optional; a multi-tenant server's error comes with a hint", function()
      assert.is_truthy(pgo.backends.pyroscope { url = srv.base, quiet = true })
      local p, msg, code, meta = pgo.backends.pyroscope { url = srv.base .. "/mt", quiet = true }
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.equal(401, meta.status)
      assert.truthy(msg:find("HTTP 401 from Pyroscope: unauthenticated: no org id", 1, true), msg)
      assert.truthy(msg:find("tenant=", 1, true), msg)
    end)

    it("pyroscope: an empty answer is 'empty' with the selector and window", function()
      local p, msg, code = pgo.backends.pyroscope { url = srv.base,
        selector = '{service_name="none"}', from = T0, to = T0 + 3600 }
      assert.is_nil(p)
      assert.equal("empty", code)
      assert.truthy(msg:find('{service_name="none"}', 1, true), msg)
      assert.truthy(msg:find("2026-01-01T00:00:00Z and 2026-01-01T01:00:00Z", 1, true), msg)
    end)

    it("pyroscope: sends a Bearer token, or Basic user:password, from auth_file", function()
      local tok = os.tmpname()
      helpers.write_file(tok, "glsa_spec_token\n")
      assert.is_truthy(pgo.backends.pyroscope { url = srv.base, auth_file = tok })
      assert.equal("Bearer glsa_spec_token", last_request().headers["Authorization"][1])
      helpers.write_file(tok, "123456:glc_secret\n")
      assert.is_truthy(pgo.backends.pyroscope { url = srv.base, auth_file = tok, auth_type = "basic" })
      os.remove(tok)
      assert.equal("Basic " .. require("pgo.core.net").base64_encode("123456:glc_secret"),
        last_request().headers["Authorization"][1])
    end)

    it("pyroscope: a 72-hour window goes as three 24-hour slices whose totals add up to the merge", function()
      local n = #srv.requests()
      local p, meta = pgo.backends.pyroscope { url = srv.base, from = T0, to = T0 + 72 * 3600 }
      assert.is_truthy(p, meta)
      local one = totals(assert(pgo.load(TINY)))
      assert.same({ 3 * one[1], 3 * one[2] }, totals(p))
      assert.equal(3, #meta.slices)
      assert.same(totals(p), sum_slices(meta))
      local reqs = requests_since(n)
      assert.equal(3, #reqs)
      local seen = {}
      for _, r in ipairs(reqs) do
        local f = require("pgo.backends")._pb_field
        assert.is_false(f(r.body, 99))                   -- well-formed
        seen[#seen + 1] = r.body
      end
      -- slice bounds: [T0, T0+24h-1ms], [T0+24h, T0+48h-1ms], [T0+48h, T0+72h]
      local function body(a, b)
        return pgo.backends.pyroscope_request("process_cpu:cpu:nanoseconds:cpu:nanoseconds", "{}", a, b)
      end
      table.sort(seen)
      local want = { body(T0, T0 + 86400 - 0.001), body(T0 + 86400, T0 + 2 * 86400 - 0.001),
        body(T0 + 2 * 86400, T0 + 3 * 86400) }
      table.sort(want)
      assert.same(want, seen)
    end)

    it("pyroscope: a slice over the server's max_query_length is asked for in halves", function()
      local p, meta = pgo.backends.pyroscope { url = srv.base, from = T0, to = T0 + 72 * 3600,
        max_window = 100 * 3600 }
      assert.is_truthy(p, meta)
      assert.equal(4, #meta.slices)                      -- 72 h -> 2 x 36 h -> 4 x 18 h
      assert.same(totals(p), sum_slices(meta))
      local one = totals(assert(pgo.load(TINY)))
      assert.same({ 4 * one[1], 4 * one[2] }, totals(p))
    end)

    it("pyroscope: recent_half_life weighs recent slices more", function()
      local p, meta = pgo.backends.pyroscope { url = srv.base, from = T0, to = T0 + 48 * 3600,
        recent_half_life = 24 * 3600 }
      assert.is_truthy(p, meta)
      assert.equal(2, #meta.slices)
      assert.near(0.5 ^ 1.5, meta.slices[1].weight, 1e-12)   -- middle 36 h before the end
      assert.near(0.5 ^ 0.5, meta.slices[2].weight, 1e-12)   -- 12 h
      assert.same(totals(p), sum_slices(meta))
      local one = totals(assert(pgo.load(TINY)))
      assert.is_true(meta.slices[1].totals[1] < meta.slices[2].totals[1])
      assert.is_true(totals(p)[1] < 2 * one[1])
    end)

    it("parca: GETs /api/profiles/query in merge mode and decodes the base64 pprof", function()
      local q = 'process_cpu:samples:count:cpu:nanoseconds:delta{job="api"}'
      local p, meta = pgo.backends.parca { url = srv.base, query = q,
        from = "2026-01-01T00:00:00Z", to = "2026-01-01T00:30:00Z" }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("parca", meta.backend)
      assert.equal("api", meta.route)
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

    it("parca: a 72-hour window goes in slices (open ends 1 ns short) that add up to the merge", function()
      local n = #srv.requests()
      local p, meta = pgo.backends.parca { url = srv.base, query = "process_cpu:samples:count:cpu:nanoseconds:delta{}",
        from = T0, to = T0 + 72 * 3600 }
      assert.is_truthy(p, meta)
      local one = totals(assert(pgo.load(TINY)))
      assert.same({ 3 * one[1], 3 * one[2] }, totals(p))
      assert.equal(3, #meta.slices)
      assert.same(totals(p), sum_slices(meta))
      local ends = {}
      for _, r in ipairs(requests_since(n)) do ends[#ends + 1] = r.query:match("merge%.end=([^&]*)") end
      table.sort(ends)
      assert.same({ "2026-01-01T23%3A59%3A59.999999999Z", "2026-01-02T23%3A59%3A59.999999999Z",
        "2026-01-04T00%3A00%3A00Z" }, ends)
    end)

    it("parca: a merge too big for the gateway (429) comes over grpc-web", function()
      local n = #srv.requests()
      local p, meta = pgo.backends.parca { url = srv.base, query = 'process_cpu:samples:count:cpu:nanoseconds:delta{size="big"}',
        from = T0, to = T0 + 3600 }
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal("grpc-web", meta.route)
      local reqs = requests_since(n)
      assert.equal(2, #reqs)
      assert.equal("/parca.query.v1alpha1.QueryService/Query", reqs[2].path)
      assert.equal("application/grpc-web+proto", reqs[2].headers["Content-Type"][1])
    end)

    it("parca: a merge too big for grpc-web too fails naming the fix", function()
      local p, msg, code = pgo.backends.parca { url = srv.base,
        query = 'process_cpu:samples:count:cpu:nanoseconds:delta{size="huge"}', from = T0, to = T0 + 3600 }
      assert.is_nil(p)
      assert.equal("too_large", code)
      assert.truthy(msg:find("grpc-status 8", 1, true), msg)
      assert.truthy(msg:find("narrow the query's label matchers", 1, true), msg)
    end)

    it("parca: a slice cut off by the server's write timeout is asked for in halves", function()
      local p, meta = pgo.backends.parca { url = srv.base, retries = 0,
        query = 'process_cpu:samples:count:cpu:nanoseconds:delta{slow="1"}', from = T0, to = T0 + 48 * 3600 }
      assert.is_truthy(p, meta)
      assert.equal(4, #meta.slices)                      -- 2 x 24 h cut off -> 4 x 12 h
      assert.same(totals(p), sum_slices(meta))
    end)

    it("parca: a window with no data is 'empty'", function()
      local p, msg, code = pgo.backends.parca { url = srv.base,
        query = 'process_cpu:samples:count:cpu:nanoseconds:delta{job="none"}', from = T0, to = T0 + 3600 }
      assert.is_nil(p)
      assert.equal("empty", code, msg)
      assert.truthy(msg:find("Parca has no data", 1, true), msg)
    end)

    it("net.requests: every answer reaches on_done; an error it raises is raised again", function()
      local net = require "pgo.core.net"
      local seen = {}
      assert.is_true(net.requests({ { url = srv.base .. "/debug/pprof/profile" },
        { url = srv.base .. "/fail/404-html" } }, { concurrency = 2 }, function(i, resp)
        seen[i] = resp.body and #resp.body or resp.code
      end))
      assert.equal(#helpers.read_file(TINY), seen[1])
      assert.equal("http_status", seen[2])
      assert.has_error(function()
        net.requests({ { url = srv.base .. "/debug/pprof/profile" } }, {}, function() error("boom") end)
      end)
      assert.has_error(function() net.requests({ { url = "gopher://x" } }, {}, print) end)
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
