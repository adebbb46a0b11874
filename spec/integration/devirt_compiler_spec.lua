-- The compiler's devirtualization decisions as the oracle for pgolua's view of them:
-- spec/support/devirt (an interface call, a function-value call and closure calls, with the
-- mix of targets set on its command line) runs twice, 78/22 and 22/78, writing a CPU
-- profile each time; each profile then builds the program with
-- -gcflags='-m -d=pgodebug=2', whose "call CALLER:OFFSET: hottest callee X" and "PGO
-- devirtualizing" lines say what the compiler picked at each site. pgolua must name the
-- same targets for those sites (p:callsites' `target`) and report exactly the sites whose
-- pick flips (pgo.audit.devirt_shift).
--
-- Tagged #integration: it needs Go 1.21+ (helpers.go(); pending without it). Two short runs
-- and two builds of a one-file program.
local helpers = require "helpers"
local pgo = require "pgo"
local audit = require "pgo.audit"

local shq = helpers.shq

-- The compiler's PGO devirtualizations in -m -d=pgodebug=2 output: "caller\noffset" ->
-- target (the callee's name as the profile spells it).
local function decisions(text)
  local hottest, out = {}, {}
  for line in text:gmatch("[^\n]+") do
    local pos, caller, offset, callee = line:match("^(%S+): call (%S+):(%d+): hottest callee (%S+) ")
    if pos then hottest[pos] = { caller = caller, offset = tonumber(offset), callee = callee } end
    local dpos = line:match("^(%S+): PGO devirtualizing ")
    if dpos then
      local h = assert(hottest[dpos], "no hottest-callee line for " .. dpos)
      out[h.caller .. "\n" .. h.offset] = h.callee
    end
  end
  return out
end

describe("devirtualization against the compiler #integration", function()
  local go = helpers.go()
  local tmp, profiles, picked = nil, {}, {}

  setup(function()
    if not go then return end
    tmp = helpers.tmpdir()
    local src = tmp .. "/devirt"
    assert(os.execute("cp -R " .. shq(helpers.root .. "/spec/support/devirt") .. " " .. shq(src)))
    local env = "GOTOOLCHAIN=local GOPROXY=off GOWORK=off GOFLAGS='-trimpath -buildvcs=false' " ..
      "GOCACHE=${GOCACHE:-${HOME:-" .. tmp .. "}/.cache/go-build} "
    local function sh(cmd)
      local out, err, code = helpers.run("cd " .. shq(src) .. " && " .. env .. cmd)
      assert(code == 0, cmd .. " failed:\n" .. out .. err)
      return out .. err
    end
    sh(shq(go) .. " build -o devirt .")
    for _, mix in ipairs { 78, 22 } do
      local file = tmp .. "/mix" .. mix .. ".pgo"
      sh("./devirt -mix " .. mix .. " -seconds 2 -o " .. shq(file))
      profiles[mix] = assert(pgo.load(file))
      picked[mix] = decisions(sh(shq(go) .. " build -o /dev/null -pgo=" .. shq(file) ..
        " -gcflags=" .. shq("example.com/devirt=-m -d=pgodebug=2") .. " ."))
    end
  end)

  teardown(function()
    if tmp then helpers.rm_rf(tmp) end
  end)

  it("names the compiler's target at every site it devirtualizes", function()
    if not go then pending("no Go 1.21+") return end
    for _, mix in ipairs { 78, 22 } do
      local ours = {}
      for _, s in ipairs(profiles[mix]:callsites { min_callees = 1 }) do
        ours[s.caller .. "\n" .. s.offset] = s
      end
      local n = 0
      for key, target in pairs(picked[mix]) do
        n = n + 1
        local s = ours[key]
        assert.is_truthy(s, "no call site " .. key)
        -- an interface call goes to the hottest method of its name, a function-value call
        -- to the site's target
        local ours_too = s.target == target
        for _, t in ipairs(s.interface_targets) do ours_too = ours_too or t.callee == target end
        assert.is_true(ours_too, "mix " .. mix .. " at " .. key .. ": the compiler picked " .. target)
      end
      -- the interface call and the function-value call; never the closures
      assert.equal(2, n, "mix " .. mix)
    end
  end)

  it("reports exactly the sites whose pick flips between the two mixes", function()
    if not go then pending("no Go 1.21+") return end
    local flips = {}
    for key, old in pairs(picked[78]) do
      if picked[22][key] ~= old then flips[#flips + 1] = key .. "\n" .. old .. "\n" .. tostring(picked[22][key]) end
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
