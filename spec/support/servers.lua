-- servers: build, start and always stop the HTTP servers the specs talk to. Every
-- server listens on 127.0.0.1 only, runs in its own session (setsid) and is killed by
-- pid in stop() / stop_all(); the fake server also exits by itself after -max-life.
--
--   local servers = require "support.servers"
--   local bin = servers.build_fake(go)            -- spec/support/fakeserver.go
--   local srv = servers.start_fake(bin, { profile = path, record = true })
--   srv.url("/fail/500")  srv.requests()  srv:stop()
--   servers.stop_all()                            -- in teardown / after_each
--   setup(function() servers.guard(function() ... start servers ... end) end)
local helpers = require "helpers"
local cjson = require "cjson"

local servers = {}
local running = {}   -- every server started and not yet stopped
local build_dirs = {}

local shq = helpers.shq

local function sleep(s) os.execute("sleep " .. s) end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Go builds: no network, no toolchain download, a writable cache.
local function go_env()
  return "GOTOOLCHAIN=local GOPROXY=off GOFLAGS= " ..
    "GOCACHE=${GOCACHE:-${HOME:-/tmp}/.cache/go-build} "
end

local built = {}

--- Build spec/support/fakeserver.go (once per busted run); returns the binary path.
function servers.build_fake(go)
  if built.fake then return built.fake end
  local dir = helpers.tmpdir()
  build_dirs[#build_dirs + 1] = dir
  local bin = dir .. "/fakeserver"
  local _, err, code = helpers.run("cd " .. shq(helpers.root) .. " && " .. go_env() ..
    shq(go) .. " build -o " .. shq(bin) .. " spec/support/fakeserver.go")
  assert(code == 0, "building spec/support/fakeserver.go failed:\n" .. err)
  built.fake = bin
  return bin
end

--- Build examples/service (once per busted run); returns the binary path.
function servers.build_service(go)
  if built.service then return built.service end
  local dir = helpers.tmpdir()
  build_dirs[#build_dirs + 1] = dir
  local bin = dir .. "/service"
  local _, err, code = helpers.run("cd " .. shq(helpers.root .. "/examples/service") .. " && " ..
    go_env() .. shq(go) .. " build -o " .. shq(bin) .. " ./cmd/service")
  assert(code == 0, "building examples/service failed:\n" .. err)
  built.service = bin
  return bin
end

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= "Z" and state ~= "X"
end

local function stop(self)
  if self.stopped then return end
  self.stopped = true
  if self.pid then
    os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
    for _ = 1, 60 do
      if not alive(self.pid) then break end
      sleep(0.05)
    end
    if alive(self.pid) then os.execute("kill -KILL " .. self.pid .. " 2>/dev/null") end
  end
  for i, s in ipairs(running) do
    if s == self then table.remove(running, i) break end
  end
  helpers.rm_rf(self.dir)
end

-- Start `command` in its own session, in the background; its pid is written by the shell.
local function spawn(dir, command, env)
  local pidfile = dir .. "/pid"
  os.execute((env or "") .. " setsid " .. command .. " >" .. shq(dir .. "/log") ..
    " 2>&1 </dev/null & echo $! >" .. shq(pidfile))
  local pid = tonumber((read(pidfile) or ""):match("%d+"))
  assert(pid, "could not start: " .. command)
  return pid
end

local function new_handle(dir, pid, addrs, scheme)
  local self = { dir = dir, pid = pid, addrs = addrs, stop = stop, log = dir .. "/log" }
  self.base = (scheme or "http") .. "://" .. addrs[1]
  function self.url(path, i)
    return (scheme or "http") .. "://" .. addrs[i or 1] .. (path or "")
  end
  running[#running + 1] = self
  return self
end

--- Start the fake server. opts: profile (path), record (true: record requests),
-- tls (true), honor_seconds (true), ports (count). Returns a handle with url(path [, i]),
-- addrs, requests() (the recorded requests, decoded), cert (with tls), stop().
function servers.start_fake(bin, opts)
  opts = opts or {}
  local dir = helpers.tmpdir()
  local state = dir .. "/state.json"
  local args = { shq(bin), "-state", shq(state), "-max-life", opts.max_life or "5m" }
  if opts.profile then args[#args + 1] = "-profile " .. shq(opts.profile) end
  if opts.record then args[#args + 1] = "-record " .. shq(dir .. "/requests.jsonl") end
  if opts.tls then args[#args + 1] = "-tls -cert-out " .. shq(dir .. "/cert.pem") end
  if opts.honor_seconds then args[#args + 1] = "-honor-seconds" end
  if opts.ports then args[#args + 1] = "-ports " .. opts.ports end
  local pid = spawn(dir, table.concat(args, " "))
  local st
  for _ = 1, 300 do
    local s = read(state)
    if s then st = cjson.decode(s) break end
    if not alive(pid) then break end
    sleep(0.05)
  end
  if not st then
    local h = { dir = dir, pid = pid, stop = stop }
    local log = read(dir .. "/log") or ""
    stop(h)
    error("the fake server did not start:\n" .. log)
  end
  local self = new_handle(dir, pid, st.addrs, opts.tls and "https" or "http")
  if opts.tls then self.cert = dir .. "/cert.pem" end
  function self.requests()
    local out = {}
    for line in (read(dir .. "/requests.jsonl") or ""):gmatch("[^\n]+") do
      local r = cjson.decode(line)
      r.body = require("pgo.core.net").base64_decode(r.body_base64)
      out[#out + 1] = r
    end
    return out
  end
  return self
end

--- Start examples/service on a free loopback port with -load N; waits for its
-- "service listening on http://ADDR" line.
function servers.start_service(bin, load)
  local dir = helpers.tmpdir()
  -- timeout(1) forwards our SIGTERM to the service and ends it after 10 minutes anyway,
  -- so even a crashed spec run leaves nothing behind for long
  local pid = spawn(dir, "timeout -k 5 600 " .. shq(bin) .. " -load " .. (load or 2),
    "SERVICE_ADDR=127.0.0.1:0")
  local addr
  for _ = 1, 300 do
    addr = (read(dir .. "/log") or ""):match("service listening on http://([%d.]+:%d+)")
    if addr or not alive(pid) then break end
    sleep(0.05)
  end
  if not addr then
    local h = { dir = dir, pid = pid, stop = stop }
    local log = read(dir .. "/log") or ""
    stop(h)
    error("examples/service did not start:\n" .. log)
  end
  return new_handle(dir, pid, { addr })
end

--- Drive url with c connections for `seconds` from a background pgolua process
-- (pgo.loadtest.load_test, the raw engine); stop() ends it early.
function servers.start_load(url, c, seconds)
  local dir = helpers.tmpdir()
  local script = dir .. "/load.lua"
  local f = assert(io.open(script, "wb"))
  f:write(("local r = assert(require('pgo').loadtest.load_test { url = %q, c = %d, duration = %d })\n" ..
    "print('requests', r.requests)\n"):format(url, c, seconds))
  f:close()
  local pid = spawn(dir, "timeout -k 5 " .. (seconds + 60) .. " " .. shq(helpers.pgolua) .. " " .. shq(script))
  return new_handle(dir, pid, { url:match("^%a+://([^/]+)") })
end

-- For spec/support/profilers.lua: the same process handling for its servers.
servers._spawn, servers._new_handle, servers._alive, servers._stop = spawn, new_handle, alive, stop
servers._read = read

--- Run fn (which starts servers); if it raises, stop what it started, then re-raise.
-- For setup blocks: a half-started fixture never outlives the spec.
function servers.guard(fn)
  local ok, err = pcall(fn)
  if not ok then
    servers.cleanup()
    error(err, 0)
  end
end

--- Stop every server still running (teardown, after_each).
function servers.stop_all()
  while #running > 0 do running[#running]:stop() end
end

--- Stop everything and remove the build directories (the last teardown).
function servers.cleanup()
  servers.stop_all()
  for _, d in ipairs(build_dirs) do helpers.rm_rf(d) end
  build_dirs = {}
  built = {}
end

--- A loopback port nothing listens on: a fake server's port after it stopped.
function servers.dead_url(bin, path)
  local s = servers.start_fake(bin)
  local url = s.url(path or "/debug/pprof/profile")
  s:stop()
  return url
end

return servers
