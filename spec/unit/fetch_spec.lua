-- pgo.fetch (lua/pgo/fetch.lua over pgo.core.net, src/net): single and fleet captures.
--
-- Tests tagged #integration need Go (>= 1.21) to build spec/support/fakeserver.go, a
-- loopback-only HTTP server that plays back recorded responses and failure modes and
-- records what we sent. Without Go they are pending with a message. Every server a test
-- starts is stopped in teardown (support/servers.lua kills it by pid).
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"

local go = helpers.go()
local TINY = helpers.fixture("pprof-examples/tiny.pb.gz")
local NO_GO = "Go >= 1.21 not found (install golang-1.23-go: make deps); the fake server needs it"

local listing = helpers.listing

local PREVIOUS = "the previous default.pgo, which no failed fetch may touch\n"

-- A directory holding only default.pgo; returns dir, dest.
local function workdir()
  local dir = helpers.tmpdir()
  local dest = dir .. "/default.pgo"
  helpers.write_file(dest, PREVIOUS)
  return dir, dest
end

-- The target is byte-identical and no temporary file is left beside it.
local function assert_untouched(dir, dest)
  assert.equal(PREVIOUS, helpers.read_file(dest))
  assert.same({ "default.pgo" }, listing(dir))
end

local function totals(p) return p:info().totals end

describe("pgo.fetch", function()
  describe("url()", function()
    it("fills an empty or / path with /debug/pprof/profile and sets seconds", function()
      assert.equal("http://h:1/debug/pprof/profile?seconds=5", pgo.fetch.url("http://h:1", 5))
      assert.equal("http://h:1/debug/pprof/profile?seconds=5", pgo.fetch.url("http://h:1/", 5))
      assert.equal("https://h/x/profile?seconds=7", pgo.fetch.url("https://h/x/profile", 7))
    end)

    it("replaces an existing seconds parameter and keeps the others", function()
      assert.equal("http://h/debug/pprof/profile?a=1&b=2&seconds=3",
        pgo.fetch.url("http://h/debug/pprof/profile?seconds=30&a=1&seconds=9&b=2", 3))
    end)

    it("prepends http:// to host:port, as go tool pprof does", function()
      assert.equal("http://127.0.0.1:6060/debug/pprof/profile?seconds=2",
        pgo.fetch.url("127.0.0.1:6060", 2))
    end)

    it("leaves the query alone without seconds and file:// URLs always", function()
      assert.equal("http://h/debug/pprof/heap?gc=1", pgo.fetch.url("http://h/debug/pprof/heap?gc=1"))
      assert.equal("file:///tmp/x.pgo", pgo.fetch.url("file:///tmp/x.pgo", 30))
    end)
  end)

  describe("redact()", function()
    it("hides passwords, lone user tokens and credential-like query values", function()
      assert.equal("http://bob:REDACTED@h/p", pgo.fetch.redact("http://bob:s3cret@h/p"))
      assert.equal("http://REDACTED@h/p", pgo.fetch.redact("http://tok123@h/p"))
      assert.equal("http://h/p?seconds=30&access_token=REDACTED&api_key=REDACTED",
        pgo.fetch.redact("http://h/p?seconds=30&access_token=abc&api_key=def"))
    end)
  end)

  describe("auth_headers()", function()
    local dir
    before_each(function() dir = helpers.tmpdir() end)
    after_each(function() helpers.rm_rf(dir) end)

    it("sends a token from a file as a Bearer header", function()
      helpers.write_file(dir .. "/token", "  tok-123456\n")
      local h, secrets = pgo.fetch.auth_headers { auth_file = dir .. "/token" }
      assert.same({ "Authorization: Bearer tok-123456" }, h)
      assert.same({ "tok-123456" }, secrets)
    end)

    it("sends user:password as Basic with auth_type = 'basic', and passes 'Basic ...' as is", function()
      helpers.write_file(dir .. "/cred", "user:pa55word")
      local h = pgo.fetch.auth_headers { auth_file = dir .. "/cred", auth_type = "basic" }
      assert.same({ "Authorization: Basic dXNlcjpwYTU1d29yZA==" }, h)
      helpers.write_file(dir .. "/cred2", "Basic abcdef==")
      h = pgo.fetch.auth_headers { auth_file = dir .. "/cred2" }
      assert.same({ "Authorization: Basic abcdef==" }, h)
    end)

    it("returns nil, message, 'auth' for a missing variable or file", function()
      local h, msg, code = pgo.fetch.auth_headers { auth_env = "PGOLUA_SPEC_SURELY_UNSET" }
      assert.is_nil(h)
      assert.equal("auth", code)
      assert.truthy(msg:find("PGOLUA_SPEC_SURELY_UNSET", 1, true))
      h, msg, code = pgo.fetch.auth_headers { auth_file = dir .. "/none" }
      assert.is_nil(h)
      assert.equal("auth", code)
      assert.truthy(msg:find("auth_file", 1, true))
    end)

    it("reads the token and extra headers from the environment", function()
      local script = dir .. "/h.lua"
      helpers.write_file(script, [[
        local h = require("pgo").fetch.auth_headers { auth_env = "SPEC_TOKEN", headers_env = "SPEC_HDRS" }
        print(table.concat(h, "|"))]])
      local out, err, code = helpers.run("SPEC_TOKEN=tok-from-env " ..
        "SPEC_HDRS=\"$(printf 'X-Api-Key: k1\\nX-Scope-OrgID: t1')\" " ..
        helpers.shq(helpers.pgolua) .. " " .. helpers.shq(script))
      assert.equal(0, code, err)
      assert.equal("Authorization: Bearer tok-from-env|X-Api-Key: k1|X-Scope-OrgID: t1\n", out)
    end)
  end)

  describe("profile() misuse", function()
    it("raises on wrong argument types and bad options", function()
      assert.has_error(function() pgo.fetch.profile(42) end,
        "bad argument #1 to 'profile' (string expected, got number)")
      assert.has_error(function() pgo.fetch.profile("http://127.0.0.1:1", { seconds = 1.5 }) end,
        "bad option 'seconds' to 'profile' (a whole number of seconds >= 1 (or false) expected, got 1.5)")
      assert.has_error(function() pgo.fetch.profile("http://127.0.0.1:1", { timeout = "x" }) end)
      assert.has_error(function()
        pgo.fetch.profile("http://127.0.0.1:1", { auth_env = "A", auth_file = "/b" })
      end, "bad options to 'profile' (auth_env and auth_file both given; choose one)")
      assert.has_error(function()
        pgo.fetch.profile("http://127.0.0.1:1", { headers = { "Bad\nName: x" }, quiet = true })
      end)
    end)
  end)

  describe("profile() with nothing listening", function()
    it("returns nil, message, 'connect' after its retries and touches nothing", function()
      local dir, dest = workdir()
      local p, msg, code, meta = pgo.fetch.profile("http://127.0.0.1:1", { seconds = 1,
        dest = dest, retries = 1, backoff = 0.01, quiet = true })
      assert.is_nil(p)
      assert.equal("connect", code)
      assert.truthy(msg:find("connection refused", 1, true), msg)
      assert.truthy(msg:find("^http://127.0.0.1:1/debug/pprof/profile%?seconds=1: "), msg)
      assert.equal(2, meta.attempts)
      assert_untouched(dir, dest)
      helpers.rm_rf(dir)
    end)

    it("reads file:// only with allow_file", function()
      local p, msg, code = pgo.fetch.profile("file://" .. TINY, { quiet = true })
      assert.is_nil(p)
      assert.equal("bad_url", code)
      assert.truthy(msg:find("allow_file", 1, true))
      local q = assert(pgo.fetch.profile("file://" .. TINY, { quiet = true, allow_file = true }))
      assert.same(totals(assert(pgo.load(TINY))), totals(q))
    end)

    it("fails with the file system's code when the temp directory is missing", function()
      local p, msg, code = pgo.fetch.profile("http://127.0.0.1:1", { dir = "/nonexistent/dir",
        quiet = true, retries = 0 })
      assert.is_nil(p)
      assert.equal("not_found", code)
      assert.truthy(msg:find("/nonexistent/dir", 1, true), msg)
    end)

    it("rejects other schemes", function()
      local p, _, code = pgo.fetch.profile("ftp://127.0.0.1/x", { quiet = true })
      assert.is_nil(p)
      assert.equal("bad_url", code)
    end)
  end)

  describe("#integration profile() against a fake server", function()
    if not go then pending(NO_GO) return end
    local srv, dir, dest
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = TINY, record = true })
      end)
    end)
    teardown(function() servers.cleanup() end)
    before_each(function() dir, dest = workdir() end)
    after_each(function() helpers.rm_rf(dir) end)

    local function get(path, opts)
      opts = opts or {}
      opts.dest, opts.quiet = dest, true
      if opts.backoff == nil then opts.backoff = 0.01 end
      return pgo.fetch.profile(srv.url(path), opts)
    end

    it("captures a profile, removes its temp file and reports the metadata", function()
      local p, meta = get("", { seconds = 2 })
      assert.is_truthy(p, meta)
      assert.same(totals(assert(pgo.load(TINY))), totals(p))
      assert.equal(srv.url("/debug/pprof/profile?seconds=2"), meta.url)
      assert.equal(200, meta.status)
      assert.equal(#helpers.read_file(TINY), meta.bytes)
      assert.equal(1, meta.attempts)
      assert.is_nil(meta.temp_path)
      assert.truthy(meta.elapsed >= 0 and meta.window_end >= meta.window_start)
      assert_untouched(dir, dest)
      local req = srv.requests()
      req = req[#req]
      assert.equal("GET", req.method)
      assert.equal("/debug/pprof/profile", req.path)
      assert.equal("seconds=2", req.query)
      assert.equal("pgolua/" .. require("pgo.core.net").version, req.headers["User-Agent"][1])
    end)

    it("keeps the temp file with keep_temp (0600, the exact bytes); fs.replace installs it", function()
      local p, meta = get("", { keep_temp = true })
      assert.is_truthy(p)
      assert.equal(dir, pgo.fs.dirname(meta.temp_path))
      assert.equal(tonumber("600", 8), pgo.fs.stat(meta.temp_path).mode)
      assert.equal(helpers.read_file(TINY), helpers.read_file(meta.temp_path))
      assert.equal(PREVIOUS, helpers.read_file(dest))
      assert.is_true(pgo.fs.replace(meta.temp_path, dest))
      assert.equal(helpers.read_file(TINY), helpers.read_file(dest))
      assert.same({ "default.pgo" }, listing(dir))
    end)

    it("sends a Bearer token from auth_file and never shows it in messages", function()
      helpers.write_file(dir .. "/../spec-token", "tok-0123456789")
      local p, meta = get("", { auth_file = dir .. "/../spec-token" })
      assert.is_truthy(p, meta)
      local req = srv.requests()
      assert.equal("Bearer tok-0123456789", req[#req].headers["Authorization"][1])
      local q, msg, code = get("/fail/echo-auth", { auth_file = dir .. "/../spec-token" })
      os.remove(dir .. "/../spec-token")
      assert.is_nil(q)
      assert.equal("http_status", code)
      assert.truthy(msg:find("HTTP 401", 1, true), msg)
      assert.is_nil(msg:find("tok-0123456789", 1, true), msg)
      assert.truthy(msg:find("REDACTED", 1, true), msg)
    end)

    it("retries 5xx, then fails with 'http_status', the status and the body", function()
      local before = #srv.requests()
      local p, msg, code, meta = get("/fail/500", { retries = 2 })
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.truthy(msg:find("HTTP 500", 1, true), msg)
      assert.truthy(msg:find("the backend is down", 1, true), msg)
      assert.equal(3, meta.attempts)
      assert.equal(before + 3, #srv.requests())
      assert_untouched(dir, dest)
    end)

    it("succeeds when a retry gets through", function()
      local p, meta = get("/fail/flaky?key=spec&n=2", { retries = 2 })
      assert.is_truthy(p, meta)
      assert.equal(3, meta.attempts)
      assert_untouched(dir, dest)
    end)

    it("does not retry 4xx and names an HTML error page for what it is", function()
      local p, msg, code, meta = get("/fail/404-html", { retries = 2 })
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.equal(1, meta.attempts)
      assert.truthy(msg:find("HTTP 404", 1, true), msg)
      assert.truthy(msg:find('HTML page titled "404 Not Found"', 1, true), msg)
      assert_untouched(dir, dest)
    end)

    it("names a 304 for what it is, not a redirect, and leaves nothing behind", function()
      local p, msg, code = get("/fail/304", { retries = 2 })
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.truthy(msg:find("HTTP 304", 1, true), msg)
      assert.truthy(msg:find("is a cache or proxy in between?", 1, true), msg)
      assert_untouched(dir, dest)
    end)

    it("says plainly 'profiling already in use' for Go's 500 with X-Go-Pprof", function()
      local p, msg, code = get("/fail/inuse", { retries = 0 })
      assert.is_nil(p)
      assert.equal("http_status", code)
      assert.truthy(msg:find("profiling already in use", 1, true), msg)
      assert.truthy(msg:find("Could not enable CPU profiling", 1, true), msg)
      assert_untouched(dir, dest)
    end)

    it("gives up on a slow server at the timeout, without retrying", function()
      local p, msg, code, meta = get("/fail/slow", { timeout = 1, retries = 2 })
      assert.is_nil(p)
      assert.equal("timeout", code)
      assert.truthy(msg:find("timeout", 1, true), msg)
      assert.equal(1, meta.attempts, "a total timeout is not retried")
      assert_untouched(dir, dest)
    end)

    it("says a 200 whose body broke at once broke, not that no answer came", function()
      local p, msg, code = get("/fail/badchunk", { retries = 0 })
      assert.is_nil(p)
      assert.equal("truncated", code)
      assert.truthy(msg:find("answered HTTP 200, then the body broke", 1, true), msg)
    end)

    it("advises about credentials for a 401 page, about the path for a 404 page", function()
      local _, msg = get("/fail/401-html", { retries = 0 })
      assert.truthy(msg:find("wants credentials", 1, true), msg)
      assert.is_nil(msg:find("path right", 1, true), msg)
      local _, msg404 = get("/fail/404-html", { retries = 0 })
      assert.truthy(msg404:find("is the path right", 1, true), msg404)
    end)

    it("reports a body cut mid-stream as 'truncated'", function()
      local p, msg, code = get("/fail/cut", { retries = 1 })
      assert.is_nil(p)
      assert.equal("truncated", code)
      assert.truthy(msg:find("middle of the body", 1, true), msg)
      assert_untouched(dir, dest)
    end)

    it("stops a body over max_bytes: 'too_large', streamed or announced", function()
      for _, path in ipairs { "/fail/big?bytes=3000000", "/fail/big?bytes=3000000&length=1" } do
        local p, msg, code = get(path, { max_bytes = 1000000 })
        assert.is_nil(p)
        assert.equal("too_large", code, msg)
        assert.truthy(msg:find("max_bytes", 1, true), msg)
        assert_untouched(dir, dest)
      end
    end)

    it("refuses a redirect to file:// and a redirect loop: 'redirect'", function()
      local p, msg, code = get("/fail/redirect-file")
      assert.is_nil(p)
      assert.equal("redirect", code)
      assert.truthy(msg:find("http and https only", 1, true), msg)
      assert_untouched(dir, dest)
      p, msg, code = get("/fail/redirect-file", { allow_file = true })
      assert.is_nil(p)
      assert.equal("redirect", code, msg)
      p, msg, code = get("/fail/redirect-loop", { max_redirects = 3 })
      assert.is_nil(p)
      assert.equal("redirect", code)
      assert.truthy(msg:find("more than 3 redirects", 1, true), msg)
      assert_untouched(dir, dest)
    end)

    it("follows a redirect to http", function()
      assert.is_truthy((get("/fail/redirect-ok")))
    end)

    it("returns pgo.decode's code for an HTML page served with 200", function()
      local p, msg, code = get("/fail/html200")
      assert.is_nil(p)
      assert.equal("not_pprof", code)
      assert.truthy(msg:find("HTML", 1, true), msg)
      assert.truthy(msg:find(srv.url("/fail/html200"), 1, true), msg)
      assert.is_nil(msg:find("pgolua-fetch", 1, true), "no temp path in: " .. msg)
      assert_untouched(dir, dest)
    end)

    it("fails with 'connect' when the server is down", function()
      local url = servers.dead_url(servers.build_fake(go))
      local p, msg, code = pgo.fetch.profile(url, { dest = dest, quiet = true, retries = 0 })
      assert.is_nil(p)
      assert.equal("connect", code)
      assert.truthy(msg:find("connection refused", 1, true), msg)
      assert_untouched(dir, dest)
    end)
  end)

  describe("#integration profile() over TLS", function()
    if not go then pending(NO_GO) return end
    local srv
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = TINY, tls = true })
      end)
    end)
    teardown(function() servers.cleanup() end)

    it("fails with 'tls' on a self-signed certificate and leaves the target alone", function()
      local dir, dest = workdir()
      local p, msg, code = pgo.fetch.profile(srv.base, { dest = dest, quiet = true })
      assert.is_nil(p)
      assert.equal("tls", code)
      assert.truthy(msg:find("certificate", 1, true), msg)
      assert_untouched(dir, dest)
      helpers.rm_rf(dir)
    end)

    it("trusts the certificate given as ca_file", function()
      assert.is_truthy((pgo.fetch.profile(srv.base, { quiet = true, ca_file = srv.cert })))
    end)

    it("with insecure = true works and warns loudly on stderr", function()
      local out, err, code = helpers.pgolua_run("-e " .. helpers.shq(
        ("print(require('pgo').fetch.profile(%q, {insecure = true, quiet = true}))"):format(srv.base)))
      assert.equal(0, code, err)
      assert.truthy(out:find("cpu profile", 1, true), out)
      assert.truthy(err:find("WARNING: TLS VERIFICATION IS OFF", 1, true), err)
    end)
  end)

  describe("#integration profile() on a terminal and on Ctrl-C", function()
    if not go then pending(NO_GO) return end
    local srv, dir, script
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = TINY, honor_seconds = true })
      end)
    end)
    teardown(function() servers.cleanup() end)
    before_each(function()
      dir = helpers.tmpdir()
      script = os.tmpname()
    end)
    after_each(function()
      helpers.rm_rf(dir)
      os.remove(script)
    end)

    local function write_script(path, seconds)
      helpers.write_file(script, ([[
        local p, m, code = require("pgo").fetch.profile(%q, { seconds = %d, dir = %q })
        print(p and "ok" or m, code)]]):format(srv.url(path), seconds, dir))
    end

    it("shows a countdown, then bytes, on a terminal; nothing when not a terminal", function()
      if not helpers.run("command -v script") :find("script") then
        pending("script(1) is not installed: no pseudo-terminal")
        return
      end
      write_script("/debug/pprof/profile", 2)
      local out, err, code = helpers.run("script -qec " ..
        helpers.shq(helpers.shq(helpers.pgolua) .. " " .. helpers.shq(script)) .. " /dev/null")
      assert.equal(0, code, err)
      assert.truthy(out:find("capturing, 2s left", 1, true), out)
      assert.truthy(out:find("B received", 1, true), out)
      assert.truthy(out:find("ok", 1, true), out)
      local out2, err2 = helpers.pgolua_run(helpers.shq(script))
      assert.equal("ok\tnil\n", out2)
      assert.equal("", err2)
    end)

    it("is cancelled by Ctrl-C: 'interrupted', temp file removed, promptly", function()
      write_script("/fail/slow", 30)
      local pidfile, outfile = dir .. "/../spec-int.pid", dir .. "/../spec-int.out"
      os.execute(helpers.shq(helpers.pgolua) .. " " .. helpers.shq(script) .. " >" ..
        helpers.shq(outfile) .. " 2>&1 & echo $! >" .. helpers.shq(pidfile))
      local pid = helpers.read_file(pidfile):match("%d+")
      for _ = 1, 200 * helpers.slowdown do     -- until the capture has started
        if #listing(dir) > 0 then break end
        os.execute("sleep 0.05")
      end
      assert.equal(1, #listing(dir), "the capture streams into a temp file meanwhile")
      local t0 = require("pgo.core.net").now()
      os.execute("kill -INT " .. pid)
      for _ = 1, 100 * helpers.slowdown do
        if not io.open("/proc/" .. pid .. "/stat") then break end
        local st = helpers.read_file("/proc/" .. pid .. "/stat")
        if st:match("^%d+ %b() Z") then break end
        os.execute("sleep 0.05")
      end
      local took = require("pgo.core.net").now() - t0
      local out = helpers.read_file(outfile)
      os.remove(pidfile); os.remove(outfile)
      assert.truthy(out:find("interrupted", 1, true), out)
      assert.truthy(out:find("\tinterrupted\n", 1, true), out)
      assert.same({}, listing(dir))
      assert.truthy(took < 2 * helpers.slowdown, "took " .. took .. " s to stop (the capture lasts 30 s)")
    end)
  end)

  describe("fleet() misuse", function()
    it("raises on bad arguments", function()
      assert.has_error(function() pgo.fetch.fleet("http://x") end,
        "bad argument #1 to 'fleet' (table expected, got string)")
      assert.has_error(function() pgo.fetch.fleet({}) end, "bad argument #1 to 'fleet' (no URLs)")
      assert.has_error(function() pgo.fetch.fleet({ "http://127.0.0.1:1" }, { min_success = 2 }) end,
        "bad option 'min_success' to 'fleet' (2 successes asked of 1 targets)")
      assert.has_error(function() pgo.fetch.fleet({ "http://127.0.0.1:1" }, { min_success = 1.5 }) end)
    end)
  end)

  describe("#integration fleet() against a fake server on several ports", function()
    if not go then pending(NO_GO) return end
    local srv, dir, dest
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = TINY, ports = 3,
          honor_seconds = true })
      end)
    end)
    teardown(function() servers.cleanup() end)
    before_each(function() dir, dest = workdir() end)
    after_each(function() helpers.rm_rf(dir) end)

    local function urls() return { srv.url("", 1), srv.url("", 2), srv.url("", 3) } end

    it("captures concurrently, merges (totals add up) and reports each target", function()
      local t = totals(assert(pgo.load(TINY)))
      local p, results = pgo.fetch.fleet(urls(), { seconds = 1, dest = dest, quiet = true })
      assert.is_truthy(p, results)
      assert.same({ 3 * t[1], 3 * t[2] }, totals(p))
      assert.equal(3, results.succeeded)
      assert.equal(0, results.failed)
      assert.truthy(results.elapsed < 1.9, "wall " .. results.elapsed .. " s for a 1 s window")
      for i, r in ipairs(results) do
        assert.is_true(r.ok)
        assert.equal(srv.url("/debug/pprof/profile?seconds=1", i), r.url)
        assert.equal(#helpers.read_file(TINY), r.bytes)
        assert.truthy(r.elapsed >= 1)
        assert.equal(200, r.status)
      end
      assert_untouched(dir, dest)
    end)

    it("captures a fleet of 50 in one window by default, and records the span", function()
      local list = {}
      for i = 1, 50 do list[i] = srv.url("", (i - 1) % 3 + 1) .. "/?instance=" .. i end
      local p, results = pgo.fetch.fleet(list, { seconds = 1, dir = dir, quiet = true })
      assert.is_truthy(p, results)
      assert.equal(50, results.succeeded)
      local first, last = math.huge, 0
      for _, r in ipairs(results) do
        first = math.min(first, r.window_start)
        last = math.max(last, r.window_start)
      end
      -- every window opens at once; 16 at a time (the old default) would stagger them by
      -- a whole window per batch
      assert.truthy(last - first < 0.8 * helpers.slowdown, "windows opened over " .. (last - first) .. " s")
      assert.truthy(results.span >= 1 and results.span < 1.8 * helpers.slowdown, "span " .. results.span)
      p:close()
    end)

    it("bounds concurrency", function()
      local p, results = pgo.fetch.fleet(urls(), { seconds = 1, dir = dir, quiet = true,
        concurrency = 1 })
      assert.is_truthy(p)
      assert.truthy(results.elapsed >= 2.9, "wall " .. results.elapsed .. " s")
    end)

    it("applies min_success as a fraction or a count", function()
      local list = urls()
      list[4] = srv.url("/fail/500")
      local p, msg, code, results = pgo.fetch.fleet(list, { seconds = 1, dir = dir, quiet = true,
        retries = 0 })
      assert.is_nil(p)
      assert.equal("fleet_failed", code)
      assert.truthy(msg:find("3 of 4 captures succeeded, 4 needed", 1, true), msg)
      assert.truthy(msg:find("HTTP 500", 1, true), msg)
      assert.equal(3, results.succeeded)
      assert.is_false(results[4].ok)
      assert.equal("http_status", results[4].code)
      assert.truthy(results[4].error:find(srv.url("/fail/500"), 1, true))
      assert_untouched(dir, dest)
      for _, ms in ipairs { 3, 0.75 } do
        local q, res = pgo.fetch.fleet(list, { seconds = 1, dir = dir, quiet = true,
          retries = 0, min_success = ms })
        assert.is_truthy(q, res)
        assert.equal(3, res.succeeded)
      end
      assert_untouched(dir, dest)
    end)

    it("keeps each capture's file with keep_temp", function()
      local p, results = pgo.fetch.fleet(urls(), { seconds = 1, dir = dir, quiet = true,
        keep_temp = true })
      assert.is_truthy(p)
      for _, r in ipairs(results) do
        assert.equal(helpers.read_file(TINY), helpers.read_file(r.temp_path))
        assert.equal(tonumber("600", 8), pgo.fs.stat(r.temp_path).mode)
        os.remove(r.temp_path)
      end
      assert_untouched(dir, dest)
    end)
  end)
end)
