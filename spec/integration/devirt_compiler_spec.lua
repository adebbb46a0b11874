-- The compiler's devirtualization decisions as the oracle for pgolua's view of them.
--
-- spec/support/devirt (an interface call, and a function-value call whose targets are
-- plain functions or closures, with the mix of targets set on its command line) runs
-- twice, 78/22 and 22/78, writing a CPU profile each time; examples/service runs under
-- its own load and serves one. Each profile then builds its program with
-- -gcflags='-m -d=pgodebug=2', whose "call CALLER:OFFSET: hottest callee X (weight W)"
-- and "PGO devirtualizing" lines say which sites the compiler devirtualized, to what.
-- pgo.compiler.devirt_candidates(p, {binary = the profiled executable}) must list exactly
-- those sites and targets; without the binary its list must contain them (an upper
-- bound); pgo.audit.devirt_shift must report exactly the sites whose pick flips.
--
-- One class of decision is out of a profile's reach and is checked to be the only
-- difference: a site the compiler devirtualizes to a callee of weight 0, a static call
-- on the same line that the profile never sampled (reflect's `implements(u.common(),
-- t.common())`: the compiler's IR graph holds an edge for every static call, sampled or
-- not, and takes t.common for u.common whatever the profile says).
--
-- Tagged #integration: it needs Go 1.21+ (helpers.go(); pending without it). The
-- service's build compiles every package with the profile (about 90 s on two cores).
local helpers = require "helpers"
local pgo = require "pgo"
local audit = require "pgo.audit"
local compiler = require "pgo.compiler"
local servers = require "support.servers"

local shq = helpers.shq

-- The compiler's PGO devirtualizations in -m -d=pgodebug=2 output:
-- {["caller\noffset\ncallee"] = weight}.
local function decisions(text)
  local hottest, out = {}, {}
  for line in text:gmatch("[^\n]+") do
    local pos, caller, offset, callee, weight =
      line:match("^(%S+): call (%S+):(%d+): hottest callee (%S+) %(weight (%d+)%)")
    if pos then hottest[pos] = { caller .. "\n" .. offset .. "\n" .. callee, tonumber(weight) } end
    local dpos = line:match("^(%S+): PGO devirtualizing ")
    if dpos then
      local h = assert(hottest[dpos], "no hottest-callee line for " .. dpos)
      out[h[1]] = h[2]
    end
  end
  return out
end

-- pgolua's candidates as the same keys; keep(caller) filters by the packages compiled
-- with -m.
local function ours(p, opts, keep)
  local rows = assert(compiler.devirt_candidates(p, opts))
  local out = {}
  for _, r in ipairs(rows) do
    if not keep or keep(r.caller) then out[r.caller .. "\n" .. r.offset .. "\n" .. r.callee] = r.weight end
  end
  return out, rows
end

-- Compare; returns a line of figures.
local function check(name, picked, p, binary, keep)
  local exact = ours(p, { binary = binary }, keep)
  local bound = ours(p, nil, keep)
  local positive, zero = {}, 0
  for k, w in pairs(picked) do
    if w > 0 then positive[k] = w else zero = zero + 1 end
  end
  local function keys(t)
    local o = {}
    for k in pairs(t) do o[#o + 1] = k end
    table.sort(o)
    return o
  end
  assert.same(keys(positive), keys(exact), name)
  for k in pairs(positive) do assert.is_truthy(bound[k], name .. ": not in the upper bound: " .. k) end
  local figures = ("%s: compiler %d devirtualizations (%d of weight 0), pgolua %d with the binary, " ..
    "%d match; %d without it"):format(name, #keys(picked), zero, #keys(exact), #keys(positive), #keys(bound))
  if os.getenv("PGOLUA_SPEC_FIGURES") then io.stderr:write(figures, "\n") end
  return figures
end

describe("devirtualization against the compiler #integration", function()
  local go = helpers.go()
  local tmp, env, profiles, picked, devirt_bin = nil, nil, {}, {}, nil

  local function sh(dir, cmd)
    local out, err, code = helpers.run("cd " .. shq(dir) .. " && " .. env .. cmd)
    assert(code == 0, cmd .. " failed:\n" .. out .. err)
    return out .. err
  end

  setup(function()
    if not go then return end
    tmp = helpers.tmpdir()
    env = "GOTOOLCHAIN=local GOPROXY=off GOWORK=off GOFLAGS='-trimpath -buildvcs=false' " ..
      "GOCACHE=${GOCACHE:-${HOME:-" .. tmp .. "}/.cache/go-build} "
    local src = tmp .. "/devirt"
    assert(os.execute("cp -R " .. shq(helpers.root .. "/spec/support/devirt") .. " " .. shq(src)))
    devirt_bin = src .. "/devirt"
    sh(src, shq(go) .. " build -o devirt .")
    for _, mix in ipairs { 78, 22 } do
      local file = tmp .. "/mix" .. mix .. ".pgo"
      sh(src, "./devirt -mix " .. mix .. " -seconds 2 -o " .. shq(file))
      profiles[mix] = assert(pgo.load(file))
      picked[mix] = decisions(sh(src, shq(go) .. " build -o /dev/null -pgo=" .. shq(file) ..
        " -gcflags=" .. shq("example.com/devirt=-m -d=pgodebug=2") .. " ."))
    end
  end)

  teardown(function()
    servers.cleanup()
    if tmp then helpers.rm_rf(tmp) end
  end)

  it("lists exactly the compiler's devirtualizations of the devirt program, under both mixes", function()
    if not go then pending("no Go 1.21+") return end
    local main_only = function(caller) return caller:match("^main%.") ~= nil end
    for _, mix in ipairs { 78, 22 } do
      check("devirt " .. mix .. "/" .. (100 - mix), picked[mix], profiles[mix], devirt_bin, main_only)
      -- the interface call and the function-value call; never a closure
      local n = 0
      for _ in pairs(picked[mix]) do n = n + 1 end
      assert.equal(2, n, "mix " .. mix)
    end
  end)

  it("lists exactly the compiler's devirtualizations of examples/service", function()
    if not go then pending("no Go 1.21+") return end
    local bin = servers.build_service(go)
    local svc
    servers.guard(function() svc = servers.start_service(bin, 4) end)
    local p = assert(pgo.fetch.profile(svc.base, { seconds = 4 }))
    svc:stop()                                       -- the binary stays until teardown
    local file = tmp .. "/service.pgo"
    assert(p:write(file))
    local src = tmp .. "/service"
    assert(os.execute("cp -R " .. shq(helpers.root .. "/examples/service") .. " " .. shq(src)))
    local text = sh(src, shq(go) .. " build -o /dev/null -pgo=" .. shq(file) ..
      " -gcflags=" .. shq("all=-m -d=pgodebug=2") .. " ./cmd/service")
    local got = decisions(text)
    -- the hot interface call of the demo, (*FastStore).Get at Lookup's Get call
    assert.is_truthy(got["example.com/pgolua-demo/internal/work.Lookup\n3\n" ..
      "example.com/pgolua-demo/internal/work.(*FastStore).Get"])
    check("examples/service", got, p, bin)
  end)

  it("reports exactly the sites whose pick flips between the two mixes", function()
    if not go then pending("no Go 1.21+") return end
    local function sites(t)
      local o = {}
      for k in pairs(t) do
        local caller, offset, callee = k:match("^(.-)\n(%d+)\n(.*)$")
        if caller:match("^main%.") then o[caller .. "\n" .. offset] = callee end
      end
      return o
    end
    local a, b = sites(picked[78]), sites(picked[22])
    local flips = {}
    for key, old in pairs(a) do
      if b[key] ~= old then flips[#flips + 1] = key .. "\n" .. old .. "\n" .. tostring(b[key]) end
    end
    local rows = {}
    for _, r in ipairs(audit.devirt_shift(profiles[78], profiles[22])) do
      rows[#rows + 1] = r.caller .. "\n" .. r.offset .. "\n" .. r.callee .. "\n" .. tostring(r.new_dominant)
    end
    table.sort(flips); table.sort(rows)
    assert.same({
      "main.applyAll\n3\nmain.double\nmain.square",
      "main.sumAreas\n3\nmain.Square.Area\nmain.Circle.Area",
    }, flips)
    assert.same(flips, rows)
  end)
end)
