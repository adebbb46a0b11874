-- The Go toolchains the matrix specs compare pgolua with, and the outputs of their tools,
-- cached by tool version + arguments + the inputs' content (so a second run reruns no
-- tool and an edited fixture is never matched against a stale output).
--
-- PGOLUA_GO_VERSIONS (the Makefile's GO_VERSIONS) lists the toolchains, space-separated:
-- a path to a go command (used as it is, GOTOOLCHAIN=local) or a release name such as
-- go1.27.3 (fetched once through the module proxy by GOTOOLCHAIN, via $GO, else
-- /usr/local/go/bin/go, else the go on PATH).
-- Module and build caches sit under the user cache, as scripts/gotool.sh's do.
local helpers = require "helpers"

local M = {}

M.default_versions = "/usr/lib/go-1.23/bin/go /usr/local/go/bin/go go1.27.3"

local home = os.getenv("HOME") or "/tmp"
M.cache = os.getenv("PGOLUA_CACHE") or ((os.getenv("XDG_CACHE_HOME") or (home .. "/.cache"))
  .. "/pgolua")

local shq = helpers.shq

-- The go command of one matrix entry, with its environment (a shell prefix).
local function go_command(entry)
  local env = "GOMODCACHE=" .. shq(M.cache .. "/gomod") .. " GOCACHE=" .. shq(M.cache .. "/gobuild")
    .. " GOFLAGS= GOWORK=off "
  if entry:match("^go%d") then
    local f = io.open("/usr/local/go/bin/go", "rb")
    if f then f:close() end
    local base = os.getenv("GO") or (f and "/usr/local/go/bin/go" or "go")
    return env .. "GOTOOLCHAIN=" .. entry .. " " .. shq(base)
  end
  return env .. "GOTOOLCHAIN=local " .. shq(entry)
end

local versions
--- The toolchains: { {entry=, name="go1.26.8", minor=26, go=<shell prefix>} or
-- {entry=, missing=<why>} }, in the order given. Probed once per run.
function M.versions()
  if versions then return versions end
  versions = {}
  for entry in (os.getenv("PGOLUA_GO_VERSIONS") or M.default_versions):gmatch("%S+") do
    local go = go_command(entry)
    local out, err, code = helpers.run(go .. " env GOVERSION")
    local name = out:match("^(go1%.[%d.]+)")
    if code == 0 and name then
      versions[#versions + 1] = { entry = entry, name = name, go = go,
        minor = tonumber(name:match("^go1%.(%d+)")) }
    else
      versions[#versions + 1] = { entry = entry, missing = (err ~= "" and err or out):sub(1, 300) }
    end
  end
  return versions
end

local function sha256(data)
  local out = helpers.run("sha256sum", data)
  return out:match("^(%x+)")
end

local file_hashes = {}
local function file_hash(path)
  if not file_hashes[path] then file_hashes[path] = sha256(helpers.read_file(path)) end
  return file_hashes[path]
end

--- Run `cmd` (a shell command whose inputs are `files`) once per tool + content: the
-- result is kept under <cache>/oracles/. `tool` names the tool and its version, `args`
-- the arguments as they would be given (the key leaves out where the files are).
-- Returns stdout, stderr, exit status.
function M.cached(tool, args, files, cmd)
  local parts = { tool, args }
  for _, f in ipairs(files) do parts[#parts + 1] = file_hash(f) end
  local dir = M.cache .. "/oracles/" .. sha256(table.concat(parts, "\0"))
  local function slurp(name)
    local f = io.open(dir .. "/" .. name, "rb")
    if not f then return nil end
    local s = f:read("a"); f:close(); return s
  end
  local code = slurp("code")
  if code then return slurp("out"), slurp("err"), tonumber(code) end
  local out, err, status = helpers.run(cmd)
  local tmp = dir .. ".tmp" .. tostring(os.time()) .. tostring(math.random(1 << 30))
  assert(os.execute("mkdir -p " .. shq(tmp)))
  helpers.write_file(tmp .. "/out", out)
  helpers.write_file(tmp .. "/err", err)
  helpers.write_file(tmp .. "/code", tostring(status))
  os.execute("mv -T " .. shq(tmp) .. " " .. shq(dir) .. " 2>/dev/null || rm -rf " .. shq(tmp))
  return out, err, status
end

-- `tool ARGS base-names` run in the folder of the first file (as the fixtures' oracles
-- were made), TZ=UTC, HOME empty so no pprof config or history is read.
local function run_in_dir(prefix, tool, args, files)
  os.execute("mkdir -p " .. shq(M.cache .. "/empty-home"))
  local dir = files[1]:match("^(.*)/[^/]+$") or "."
  local names = {}
  for i, f in ipairs(files) do
    names[i] = (f:match("^(.*)/[^/]+$") == dir) and shq(f:match("[^/]+$")) or shq(f)
  end
  local cmd = "cd " .. shq(dir) .. " && TZ=UTC HOME=" .. shq(M.cache .. "/empty-home") .. " "
    .. prefix .. " " .. args .. " " .. table.concat(names, " ")
  return M.cached(tool, args, files, cmd)
end

--- `go tool pprof ARGS files...` of version v (cached).
function M.pprof(v, args, files)
  return run_in_dir(v.go .. " tool pprof", v.name .. " pprof", args, files)
end

--- `go tool preprofile -i file` of version v (cached).
function M.preprofile(v, file)
  return run_in_dir(v.go .. " tool preprofile", v.name .. " preprofile", "-i", { file })
end

local pprof_head
--- pprof HEAD (scripts/gotool.sh pprof) as a pseudo-version, or nil and why.
function M.pprof_head()
  if pprof_head then return pprof_head end
  local out, err, code = helpers.run(shq(helpers.root .. "/scripts/gotool.sh") .. " pprof")
  local path = out:match("[^\n]+")
  if code ~= 0 or not path then return nil, err end
  pprof_head = { name = "pprof@" .. path:match("pprof@([^/]+)"), path = path }
  return pprof_head
end

--- `pprof ARGS files...` of pprof HEAD (cached).
function M.pprof_head_run(h, args, files)
  return run_in_dir(shq(h.path), h.name, args, files)
end

return M
