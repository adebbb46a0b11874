-- Integration: what pgolua writes, the real `go tool pprof` (Go 1.23) reads with the same
-- totals. Needs Go >= 1.21 (Debian's golang-1.23-go); skipped with a message without it,
-- always run in CI (.ci/run installs it).
local helpers = require "helpers"
local pgo = require "pgo"

local go = helpers.go()

-- Sum of the Samples section of `go tool pprof -raw`, as expected/totals.txt was made.
local function raw_totals(path)
  local out, err, code = helpers.run("cd / && HOME=/tmp " .. go .. " tool pprof -raw " ..
    helpers.shq(path))
  assert.equal(0, code, err)
  local count, cpu, in_samples = 0, 0, false
  for line in out:gmatch("[^\n]+") do
    if line:match("^Samples:") then in_samples = true
    elseif line:match("^Locations") then in_samples = false
    elseif in_samples then
      local c, v = line:match("^%s*(%-?%d+)%s+(%-?%d+):")
      if c then count = count + tonumber(c); cpu = cpu + tonumber(v) end
    end
  end
  return { count, cpu }
end

describe("#integration written profiles", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end

  for _, name in ipairs { "profiles/shop.steady.pgo", "profiles/go1.19/micro.pgo",
    "thirdparty/grpc-anon.pprof", "pprof-examples/tiny.pb.gz" } do
    it("are read by go tool pprof -raw with the same totals: " .. name, function()
      local p = assert(pgo.load(helpers.fixture(name)))
      local dir = helpers.tmpdir()
      local out = dir .. "/roundtrip.pgo"
      assert.is_true(p:write(out))
      assert.same(p:info().totals, raw_totals(out))
      helpers.rm_rf(dir)
    end)
  end
end)
