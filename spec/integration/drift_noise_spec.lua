-- Integration: pgo.audit.drift on real captures of examples/service (built here, run on
-- 127.0.0.1). Two captures of the same steady load must compare "unchanged" (the
-- compiler would take the same decisions, weights within noise); a capture with a new
-- hot path (a route the steady load never takes) must compare "changed". Ten pairs of
-- 3 s captures under steady /lookup load (one connection), then one pair where /digest load is added
-- to the second capture. Needs Go >= 1.21; pending with a message without it.
local helpers = require "helpers"
local pgo = require "pgo"
local servers = require "support.servers"

local go = helpers.go()
local SECONDS, PAIRS = 3, 10

describe("#integration drift between captures of examples/service", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end

  local svc
  setup(function()
    servers.guard(function()
      svc = servers.start_service(servers.build_service(go), 0)
      servers.start_load(svc.url("/lookup"), 1, PAIRS * 2 * (SECONDS + 2) + 40)
    end)
  end)
  teardown(function() servers.cleanup() end)

  local function capture(seconds)
    local p = assert(pgo.fetch.profile(svc.base, { seconds = seconds or SECONDS }))
    return p
  end

  it("calls at least 8 of 10 pairs of captures of the same load unchanged", function()
    capture()                                        -- warm-up: the load is running
    local unchanged, lines = 0, {}
    for i = 1, PAIRS do
      local a, b = capture(), capture()
      local d = pgo.audit.drift(a, b)
      if not d.changes_compiler_decisions then unchanged = unchanged + 1 end
      lines[#lines + 1] = ("pair %d: %d/%d samples, %s (%d hot-set moves, %d devirtualization changes beyond noise of %d raw)")
        :format(i, a:info().totals[1], b:info().totals[1],
          d.changes_compiler_decisions and table.concat(d.reasons, ", ") or "unchanged",
          #d.hot_edges.moved, #d.devirt_changes, #d.devirt_targets)
    end
    if os.getenv("PGOLUA_SPEC_FIGURES") then io.stderr:write(table.concat(lines, "\n"), "\n") end
    assert.is_true(unchanged >= 8, table.concat(lines, "\n"))
  end)

  it("flags a capture with a new hot path as changed", function()
    local a = capture(5)
    local extra = servers.start_load(svc.url("/digest"), 6, 8)
    os.execute("sleep 0.5")                          -- the load process is up
    local b = capture(5)
    extra:stop()
    local d = pgo.audit.drift(a, b)
    local figures = ("%d/%d samples, reasons: %s; moved: %d"):format(a:info().totals[1], b:info().totals[1],
      table.concat(d.reasons, ", "), #d.hot_edges.moved)
    if os.getenv("PGOLUA_SPEC_FIGURES") then io.stderr:write("new hot path: ", figures, "\n") end
    assert.is_true(d.changes_compiler_decisions, figures)
    assert.equal("hot call sites", d.reasons[1])
    local entered = {}
    for _, m in ipairs(d.hot_edges.moved) do
      if m.hot == "entered" then entered[#entered + 1] = m.caller .. " -> " .. m.callee end
    end
    local sha = false
    for _, e in ipairs(entered) do
      if e:match("^crypto/sha256") then sha = true end
    end
    assert.is_true(sha, table.concat(entered, "\n"))
  end)
end)
