-- pgo.load_test / pgo.ab_load: the loopback-only rule and connect errors (no Go needed),
-- then live load against examples/service built twice with Go 1.23 (-pgo=off and
-- -pgo=examples/profiles/demo.pgo), each on a free 127.0.0.1 port.
--
-- The live part is tagged #integration: it needs a Go toolchain (helpers.go(), Go 1.21+;
-- pending without it) and takes about 10-15 s (two builds with a warm cache, ~5 s of load).
-- The servers are started with SERVICE_ADDR=127.0.0.1:0 (the kernel picks a free port,
-- the service logs it) and always stopped by pid in teardown.
local helpers = require "helpers"
local pgo = require "pgo"
local loadtest = require "pgo.loadtest"

local shq = helpers.shq

local function sleep(s) os.execute("sleep " .. s) end

-- A Go process is gone when every thread is: its main thread can be a zombie while the
-- others still hold the listening socket.
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  local state = stat:match("^%d+ %b() (%a)")
  if state ~= "Z" and state ~= "X" then return true end
  local p = io.popen("ls /proc/" .. pid .. "/task 2>/dev/null")
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n > 1
end

local function stop_pid(pid)
  if not pid then return end
  os.execute("kill -TERM " .. pid .. " 2>/dev/null")
  for _ = 1, 40 do
    if not alive(pid) then return end
    sleep(0.05)
  end
  os.execute("kill -KILL " .. pid .. " 2>/dev/null")
end

describe("pgo.load_test", function()
  it("refuses a host that is not a loopback address, unless allow_remote", function()
    for _, url in ipairs { "http://example.com/", "http://10.0.0.1:8080/x", "http://[::2]/",
      "http://127.0.0.1@example.com/", "http://localhost.example.com/" } do
      local r, msg, code = pgo.load_test { url = url, n = 1 }
      assert.is_nil(r, url)
      assert.are.equal("not_loopback", code, url)
      assert.matches("is not a loopback address", msg, 1, true)
    end
    local r, msg, code = pgo.ab_load { a = "http://127.0.0.1:1/", b = "http://192.0.2.1/", rounds = 1 }
    assert.is_nil(r)
    assert.are.equal("not_loopback", code)
    assert.matches("192.0.2.1", msg, 1, true)
  end)

  it("accepts 127.0.0.0/8, ::1 and localhost", function()
    for _, h in ipairs { "127.0.0.1", "127.1.2.3", "[::1]", "localhost", "LOCALHOST" } do
      assert.is_true(loadtest.is_loopback_host(h), h)
    end
    for _, h in ipairs { "128.0.0.1", "127.0.0.256", "[::2]", "localhost.localdomain", "0.0.0.0" } do
      assert.is_false(loadtest.is_loopback_host(h), h)
    end
  end)

  it("ab_load's statistics: Student t critical values, paired log-ratio interval", function()
    local want = { [1] = 12.706, [2] = 4.303, [4] = 2.776, [9] = 2.262, [29] = 2.045 }
    for df, t in pairs(want) do
      assert.is_true(math.abs(loadtest._t_critical(0.95, df) - t) < 5e-4, "df " .. df)
    end
    assert.is_true(math.abs(loadtest._t_critical(0.99, 5) - 4.032) < 5e-4)
    -- B is 10% faster in every round: +10% with a zero-width interval
    local d = loadtest._paired_diff({ 100, 200, 50 }, { 110, 220, 55 }, 0.95)
    assert.is_true(math.abs(d.pct - 10) < 1e-9 and math.abs(d.lo - 10) < 1e-9 and math.abs(d.hi - 10) < 1e-9)
    d = loadtest._paired_diff({ 100, 100, 100, 100 }, { 104, 96, 103, 97 }, 0.95)
    assert.is_true(d.lo < 0 and d.hi > 0)
    assert.are.equal(2.5, loadtest._median({ 4, 1, 3, 2 }))
  end)

  it("returns nil, message, 'bad_url' for a malformed URL", function()
    local r, _, code = pgo.load_test { url = "http://[::1/", n = 1 }
    assert.is_nil(r)
    assert.are.equal("bad_url", code)
  end)

  it("counts connection failures to a closed port as connect errors (both engines)", function()
    for _, engine in ipairs { "raw", "curl" } do
      local r = assert(pgo.load_test { url = "http://127.0.0.1:1/", n = 20, c = 4, timeout = 2,
        engine = engine })
      assert.are.equal(0, r.requests)
      assert.are.equal(20, r.sent)
      assert.are.equal(20, r.errors.connect)
      assert.are.equal(20, r.error_count)
    end
  end)

  it("raises on bad options", function()
    assert.has_error(function() pgo.load_test { url = "http://127.0.0.1:1/", c = 0 } end,
      "bad argument #1 to 'load_test' (field 'c' must be a positive integer)")
    assert.has_error(function() pgo.load_test { url = "http://127.0.0.1:1/", rps = 5 } end,
      "bad argument #1 to 'load_test' (unknown option 'rps')")
  end)

  describe("against examples/service built without and with PGO #integration", function()
    local go = helpers.go()
    local tmp, build_err
    local servers = {}     -- name -> {pid=, url=}

    local function start(name, bin)
      local log = tmp .. "/" .. name .. ".log"
      local out = helpers.run("SERVICE_ADDR=127.0.0.1:0 " .. shq(bin) .. " </dev/null >/dev/null 2>" ..
        shq(log) .. " & echo $!")
      local pid = tonumber(out:match("(%d+)"))
      servers[name] = { pid = pid }
      for _ = 1, 100 do
        local f = io.open(log)
        local s = f and f:read("a") or ""
        if f then f:close() end
        local addr = s:match("listening on http://(127%.0%.0%.1:%d+)")
        if addr then
          servers[name].url = "http://" .. addr
          return
        end
        sleep(0.05)
      end
      error("service " .. name .. " did not start: " .. (helpers.read_file(log) or ""))
    end

    setup(function()
      if not go then return end
      tmp = helpers.tmpdir()
      local env = "GOTOOLCHAIN=local GOPROXY=off GOWORK=off GOFLAGS=-buildvcs=false " ..
        "GOCACHE=${GOCACHE:-${HOME:-" .. tmp .. "}/.cache/go-build} "
      local svc = helpers.root .. "/examples/service"
      local profile = helpers.root .. "/examples/profiles/demo.pgo"
      for _, b in ipairs { { "off", "off" }, { "pgo", shq(profile) } } do
        local _, err, code = helpers.run("cd " .. shq(svc) .. " && " .. env .. shq(go) ..
          " build -pgo=" .. b[2] .. " -o " .. shq(tmp .. "/service-" .. b[1]) .. " ./cmd/service")
        if code ~= 0 then build_err = "go build -pgo=" .. b[2] .. " failed:\n" .. err; return end
      end
      start("off", tmp .. "/service-off")
      start("pgo", tmp .. "/service-pgo")
    end)

    teardown(function()
      for _, s in pairs(servers) do stop_pid(s.pid) end
      if tmp then helpers.rm_rf(tmp) end
    end)

    local function need()
      if not go then
        pending("Go 1.21+ not found (helpers.go()); these tests build examples/service")
        return false
      end
      assert.is_nil(build_err)
      return true
    end

    it("load_test: requests, ordered percentiles, no errors", function()
      if not need() then return end
      local r = assert(pgo.load_test { url = servers.off.url .. "/lookup", duration = 1, c = 4 })
      assert.is_true(r.requests > 0)
      assert.is_true(r.rps > 0)
      assert.is_true(r.duration > 0.9 and r.duration < 1.5)
      local l = r.latency
      assert.is_true(l.p50 > 0)
      assert.is_true(l.p50 <= l.p90 and l.p90 <= l.p99 and l.p99 <= l.max,
        ("p50 %g p90 %g p99 %g max %g"):format(l.p50, l.p90, l.p99, l.max))
      assert.is_true(l.min <= l.p50 and l.mean >= l.min and l.mean <= l.max)
      assert.are.same({}, r.errors)
      assert.are.equal(0, r.error_count)
      assert.is_true(r.bytes > 0)
      assert.are.equal(r.requests, r.status["2xx"])
    end)

    it("load_test: stops after n requests", function()
      if not need() then return end
      local r = assert(pgo.load_test { url = servers.pgo.url .. "/healthz", n = 50, c = 3 })
      assert.are.equal(50, r.requests)
      assert.are.equal(50, r.sent)
      assert.are.equal(50 * 3, r.bytes)           -- "ok\n"
    end)

    it("load_test: counts 4xx responses", function()
      if not need() then return end
      local r = assert(pgo.load_test { url = servers.off.url .. "/no-such-route", n = 10, c = 2 })
      assert.are.equal(10, r.requests)
      assert.are.equal(10, r.errors.http_4xx)
    end)

    it("load_test: both engines see the same responses (chunked, close, HEAD, POST, 404)", function()
      if not need() then return end
      local base = servers.pgo.url
      local cases = {
        { url = base .. "/catalog?n=3000" },                 -- Transfer-Encoding: chunked
        { url = base .. "/healthz", headers = { "Connection: close" } },   -- a new connection each
        { url = base .. "/healthz", method = "HEAD" },       -- no body
        { url = base .. "/healthz", method = "POST", body = "hello" },
        { url = base .. "/no-such-route" },                  -- 404 with a body
      }
      for _, c in ipairs(cases) do
        local got = {}
        for _, engine in ipairs { "raw", "curl" } do
          local r = assert(pgo.load_test { url = c.url, n = 12, c = 3, method = c.method,
            body = c.body, headers = c.headers, engine = engine })
          got[engine] = { requests = r.requests, bytes = r.bytes, header_bytes = r.header_bytes,
            status = r.status, errors = r.errors }
        end
        assert.are.same(got.curl, got.raw, c.url .. " " .. (c.method or "GET"))
        assert.are.equal(12, got.raw.requests)
      end
    end)

    it("load_test: the curl engine gives the same kind of result", function()
      if not need() then return end
      local r = assert(pgo.load_test { url = servers.off.url .. "/digest", duration = 0.5, c = 2,
        engine = "curl" })
      assert.is_true(r.requests > 0)
      assert.are.equal(0, r.error_count)
      assert.is_true(r.latency.p50 <= r.latency.p99 and r.latency.p99 <= r.latency.max)
    end)

    it("ab_load: ABBA rounds, per-side medians, a difference with an interval, a verdict", function()
      if not need() then return end
      local rep = assert(pgo.ab_load { a = servers.off.url .. "/lookup", b = servers.pgo.url .. "/lookup",
        rounds = 4, duration = 0.4, c = 2, warmup = 0.2 })
      assert.are.same({ "AB", "BA", "BA", "AB" },
        { rep.rounds[1].order, rep.rounds[2].order, rep.rounds[3].order, rep.rounds[4].order })
      for _, side in ipairs { "a", "b" } do
        assert.is_true(rep[side].rps > 0)
        assert.is_true(rep[side].p50 > 0 and rep[side].p50 <= rep[side].p99)
        assert.are.equal(4, #rep[side].runs)
      end
      local d = rep.diff.rps
      assert.is_true(d.lo <= d.pct and d.pct <= d.hi)
      assert.is_number(rep.diff.p50.pct)
      assert.is_number(rep.diff.p99.pct)
      local verdicts = { b_faster = true, a_faster = true, no_difference = true, inconclusive = true }
      assert.is_true(verdicts[rep.verdict], rep.verdict)
      assert.matches("B vs A: [+-]%d+%.%d%% requests/s %(95%% CI", rep.summary)
      assert.are.same({ a = 0, b = 0 }, rep.errors)
    end)

    it("counts connect errors once a server is gone", function()
      if not need() then return end
      local url = servers.off.url
      stop_pid(servers.off.pid)
      servers.off.pid = nil
      local r = assert(pgo.load_test { url = url .. "/lookup", n = 10, c = 2 })
      assert.are.equal(0, r.requests)
      assert.are.equal(10, r.errors.connect)
    end)
  end)
end)
