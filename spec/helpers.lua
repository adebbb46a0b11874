-- Shared setup for the specs: paths to the fixtures and small process helpers.
local helpers = {}

-- The project root is the working directory busted runs in (make test runs it there).
helpers.root = os.getenv("PWD") or "."
helpers.pgolua = helpers.root .. "/" .. (os.getenv("PGOLUA_BIN") or "pgolua")
-- The fixtures live in testdata/ (testdata/README.md); PGOLUA_SHARED=/dir uses
-- /dir/fixtures instead (an outside copy with the same layout).
helpers.shared = os.getenv("PGOLUA_SHARED")
helpers.fixtures = helpers.shared and (helpers.shared .. "/fixtures") or (helpers.root .. "/testdata")
-- How much slower than native this run is (make valgrind sets 20): the few specs that
-- check a behaviour through time (a capture cancelled promptly, a fleet captured at once
-- rather than one by one) scale their bounds by it. Speed itself is never tested here.
helpers.slowdown = tonumber(os.getenv("PGOLUA_SPEC_SLOWDOWN")) or 1

-- The shop binaries are not kept in testdata/: scripts/testdata-bins.sh builds them
-- (reproducibly, checked against testdata/bin/SHA256SUMS) into the user cache, once.
local built_bins = { shop = true, ["shop.nopgo"] = true, ["shop.pgo"] = true,
  ["shop.stripped"] = true }
local bins_dir

function helpers.fixture(rel)
  local bin = rel:match("^bin/(.+)$")
  if bin and built_bins[bin] and not helpers.shared then
    if not bins_dir then
      local out, err, code = helpers.run(helpers.shq(helpers.root .. "/scripts/testdata-bins.sh"))
      assert(code == 0, "scripts/testdata-bins.sh failed:\n" .. err)
      bins_dir = out:match("[^\n]+")
    end
    return bins_dir .. "/" .. bin
  end
  return helpers.fixtures .. "/" .. rel
end

-- Quote one argument for /bin/sh.
function helpers.shq(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Run a shell command; return stdout, stderr, exit status.
function helpers.run(cmd, stdin)
  local base = os.tmpname()
  local out, err = base .. ".out", base .. ".err"
  local full = cmd .. " >" .. out .. " 2>" .. err
  if stdin then
    local inf = base .. ".in"
    local f = assert(io.open(inf, "wb")); f:write(stdin); f:close()
    full = full .. " <" .. inf
  else
    full = full .. " </dev/null"
  end
  local ok, how, code = os.execute(full)
  local function slurp(p)
    local f = io.open(p, "rb"); if not f then return "" end
    local s = f:read("a"); f:close(); os.remove(p); return s
  end
  local o, e = slurp(out), slurp(err)
  os.remove(base); os.remove(base .. ".in")
  if how == "signal" then code = 128 + code end
  return o, e, (ok and 0 or code)
end

-- Run ./pgolua with the given argument string.
function helpers.pgolua_run(args, stdin)
  return helpers.run(helpers.shq(helpers.pgolua) .. " " .. args, stdin)
end

-- Whether strace runs here (installed, and ptrace allowed), for specs that watch or
-- interrupt system calls; cached.
local strace_ok
function helpers.strace()
  if strace_ok == nil then strace_ok = select(3, helpers.run("strace -o /dev/null true")) == 0 end
  return strace_ok
end

function helpers.read_file(path)
  local f = assert(io.open(path, "rb")); local s = f:read("a"); f:close(); return s
end

function helpers.write_file(path, data)
  local f = assert(io.open(path, "wb")); f:write(data); f:close()
end

function helpers.tmpdir()
  local p = os.tmpname(); os.remove(p)
  assert(os.execute("mkdir -p " .. helpers.shq(p)))
  return p
end

function helpers.rm_rf(p) os.execute("rm -rf " .. helpers.shq(p)) end

-- The names in a directory, dot files included, sorted.
function helpers.listing(dir)
  local out = helpers.run("ls -A " .. helpers.shq(dir))
  local names = {}
  for n in out:gmatch("[^\n]+") do names[#names + 1] = n end
  table.sort(names)
  return names
end

-- A profile's content as a table: "leaf;...;root|k=v,..." -> summed values. Two profiles
-- with the same content give equal tables whatever their ids or sample order.
function helpers.stack_table(p)
  local t = {}
  for values, stack, labels in p:samples() do
    local keys = {}
    for k, v in pairs(labels) do keys[#keys + 1] = k .. "=" .. tostring(v) end
    table.sort(keys)
    local key = table.concat(stack, ";") .. "|" .. table.concat(keys, ",")
    local acc = t[key] or {}
    for i, v in ipairs(values) do acc[i] = (acc[i] or 0) + v end
    t[key] = acc
  end
  return t
end

-- Go 1.23 for the integration specs (Debian's golang-1.23-go), or nil.
function helpers.go()
  for _, g in ipairs{ "/usr/lib/go-1.23/bin/go", "go" } do
    local o = helpers.run(g .. " version")
    local minor = o:match("go1%.(%d+)")
    if minor and tonumber(minor) >= 21 then return g end
  end
end

return helpers
