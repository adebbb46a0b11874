-- profilers: real continuous profilers for the integration specs, built by
-- scripts/gotool.sh (pinned in scripts/gotools.pins, cached) and run on 127.0.0.1 under
-- spec/support/servers.lua's process handling (own session, killed by pid in cleanup).
--
--   local profilers = require "support.profilers"
--   local bin = profilers.build("parca")                  -- path, or nil, why
--   local parca = profilers.start_parca(bin, service_addr) -- scrapes service_addr
--   local pyro = profilers.start_pyroscope(bin, service_url) -- pushes service_url's profiles
local helpers = require "helpers"
local servers = require "support.servers"
local cjson = require "cjson"

local profilers = {}
local shq = helpers.shq

local function sleep(s) os.execute("sleep " .. s) end

--- scripts/gotool.sh NAME: the pinned binary's path (built once into the cache), or nil,
-- the build's output.
function profilers.build(name)
  local out, err, code = helpers.run("cd " .. shq(helpers.root) .. " && scripts/gotool.sh " .. shq(name))
  if code ~= 0 then return nil, err end
  return (out:gsub("%s+$", ""))
end

local read = servers._read

-- A free loopback port: one the fake server was given and has let go (a race with another
-- process taking it in between makes the start fail loudly, nothing worse).
local function free_port(fake_bin)
  return assert(tonumber(servers.dead_url(fake_bin):match(":(%d+)/")), "no free port")
end

-- Wait until url answers 200 (or the process dies); the handle on success.
local function wait_ready(dir, pid, addr, url, what)
  for _ = 1, 1200 do
    local resp = require("pgo.core.net").request { url = url, timeout = 2, catch_sigint = false }
    if resp then return servers._new_handle(dir, pid, { addr }) end
    if not servers._alive(pid) then break end
    sleep(0.1)
  end
  local log = read(dir .. "/log") or ""
  servers._stop { dir = dir, pid = pid, stop = servers._stop }
  error(what .. " did not start:\n" .. log:sub(-4000))
end

-- Outgoing HTTP(S) from the servers goes to a dead loopback proxy: nothing but loopback
-- is ever contacted (Parca would otherwise ask debuginfod servers about unknown binaries).
local NO_EGRESS = "HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= "

--- Parca (single binary, in-memory storage), scraping target (host:port) every
-- `interval` seconds (default 2) for process_cpu only. fake_bin: the fake server (for a
-- free port).
function profilers.start_parca(bin, fake_bin, target, interval)
  interval = interval or 2
  local dir = helpers.tmpdir()
  local port = free_port(fake_bin)
  helpers.write_file(dir .. "/parca.yaml", table.concat({
    "object_storage:",
    "  bucket:",
    "    type: FILESYSTEM",
    "    config:",
    "      directory: " .. dir .. "/data",
    "scrape_configs:",
    "  - job_name: example",
    ("    scrape_interval: %ds"):format(interval),
    "    static_configs:",
    "      - targets: ['" .. target .. "']",
    "    profiling_config:",
    "      pprof_config:",
    "        process_cpu: {enabled: true, delta: true, path: /debug/pprof/profile}",
    "        memory: {enabled: false}",
    "        block: {enabled: false}",
    "        mutex: {enabled: false}",
    "        goroutine: {enabled: false}",
    "", }, "\n"))
  local addr = "127.0.0.1:" .. port
  local pid = servers._spawn(dir, "timeout -k 5 900 " .. shq(bin) .. " --config-path=" ..
    shq(dir .. "/parca.yaml") .. " --http-address=" .. addr .. " --storage-path=" ..
    shq(dir .. "/data") .. " --debuginfod-upstream-servers=127.0.0.1:9 --log-level=warn",
    NO_EGRESS)
  return wait_ready(dir, pid, addr, "http://" .. addr .. "/api/profiles/types", "Parca")
end

--- spec/support/pyroscope-server (Pyroscope's Connect API), capturing service_url
-- (…/debug/pprof/profile) for `seconds` (default 1) in a loop and pushing each profile.
function profilers.start_pyroscope(bin, service_url, seconds)
  local dir = helpers.tmpdir()
  local state = dir .. "/state.json"
  local pid = servers._spawn(dir, shq(bin) .. " -state " .. shq(state) .. " -max-life 15m" ..
    (service_url and (" -scrape " .. shq(service_url) .. " -seconds " .. (seconds or 1)) or ""),
    NO_EGRESS)
  local st
  for _ = 1, 300 do
    local s = read(state)
    if s then st = cjson.decode(s) break end
    if not servers._alive(pid) then break end
    sleep(0.05)
  end
  if not st then
    local log = read(dir .. "/log") or ""
    servers._stop { dir = dir, pid = pid, stop = servers._stop }
    error("pyroscope-server did not start:\n" .. log)
  end
  return servers._new_handle(dir, pid, st.addrs)
end

--- The sum of meta.slices[i].totals (pgo.backends' slices): what was merged, per value.
function profilers.slice_totals(meta)
  local sum = {}
  for _, s in ipairs(meta.slices) do
    for i, v in ipairs(s.totals or {}) do sum[i] = (sum[i] or 0) + v end
  end
  return sum
end

return profilers
