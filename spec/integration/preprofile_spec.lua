-- Integration: pgo.preprofile against the real `go tool preprofile` (Go 1.23), live: on
-- every fixture, on the compact profiles p:compact_for_pgo writes, on hand-made corner
-- cases and on seeded random profiles (shared addresses, inlining, recursion on one line,
-- zero and negative values); and pgo.compiler.go_float against Go's fmt %v.
-- Needs Go >= 1.21 (Debian's golang-1.23-go); skipped with a message without it.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"
local compiler = require "pgo.compiler"

local go = helpers.go()
local F = helpers.fixture

-- `go tool preprofile -i path`: stdout, stderr, exit status.
local function go_preprofile(path)
  return helpers.run("cd / && HOME=/tmp " .. go .. " tool preprofile -i " .. helpers.shq(path))
end

local FIXTURES = {
  "profiles/shop.steady.pgo", "profiles/shop.p1.pgo", "profiles/shop.p2.pgo",
  "profiles/shop.p3.pgo", "profiles/shop.idle.pgo", "profiles/shop.startup.pgo",
  "profiles/micro.pgo", "expected/merge/merged.pgo", "thirdparty/grpc-anon.pprof",
  "pprof-examples/tiny.pb.gz", "pprof-examples/tiny2.pb.gz",
  "pprof-examples/tiny_plus_tiny2.merged.pb.gz", "bad/tiny5.pgo", "bad/nosamples.pgo",
}

-- A hand-made profile (see spec/unit/pgograph_spec.lua for the shape), as bytes.
local build = pb.cpu_profile

local FNS = { { "main.main", 10 }, { "main.f", 20 }, { "main.g", 30 } }
local CASES = {
  ["cpu/nanoseconds first"] = { types = { { "cpu", "nanoseconds" }, { "samples", "count" } },
    functions = FNS, locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
    samples = { { locs = { 1, 2 }, values = { 50, 5 } } } },
  ["all weights zero"] = { functions = FNS,
    locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
    samples = { { locs = { 1, 2 }, values = { 0, 0 } } } },
  ["weights that cancel"] = { functions = FNS,
    locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } }, { lines = { { 3, 31 } } } },
    samples = { { locs = { 1, 2 }, values = { 5, 50 }, label = "a" },
      { locs = { 1, 2 }, values = { -5, -50 }, label = "b" }, { locs = { 3, 2 }, values = { 3, 30 } } } },
  ["one line, two PCs"] = { functions = FNS,
    locations = { { addr = 0x10, lines = { { 2, 25 } } }, { addr = 0x20, lines = { { 2, 25 } } },
      { addr = 0x10, lines = { { 2, 25 } } } },
    samples = { { locs = { 1, 2 }, values = { 7, 70 } }, { locs = { 3, 1 }, values = { 4, 40 } } } },
  ["inlined frame on the caller's line"] = { functions = FNS,
    locations = { { addr = 0x10, lines = { { 2, 25 } } },
      { addr = 0x20, lines = { { 3, 31 }, { 2, 25 } } } },
    samples = { { locs = { 2, 1 }, values = { 7, 70 } } } },
  ["no start lines"] = { functions = { { "main.main", 0 }, { "main.f", 0 } },
    locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
    samples = { { locs = { 1, 2 }, values = { 1, 10 } } } },
}

-- A seeded random profile: few functions, locations with inlined lines on a small pool of
-- addresses (so locations share PCs), stacks with repeats (recursion), some zero and
-- negative values (negative ones carry a unique label: pgo.decode adds up equal samples).
local function random_spec(seed)
  local state = seed
  local function rand(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local fns = {}
  for i = 1, 6 + rand(4) do
    fns[i] = { "p.F" .. i .. (rand(5) == 1 and ".func1" or ""), rand(6) == 1 and 0 or 10 * i }
  end
  local locs = {}
  for i = 1, 15 + rand(20) do
    local lines = {}
    for k = 1, rand(3) do
      local fn = rand(#fns)
      lines[k] = { fn, fns[fn][2] + rand(4) - 1 }
    end
    locs[i] = { addr = 0x100 * rand(12), lines = lines }
  end
  local samples = {}
  for i = 1, 60 + rand(100) do
    local stack = {}
    for k = 1, rand(5) do stack[k] = rand(#locs) end
    local v = rand(9)
    local label
    if rand(8) == 1 then v = 0 end
    if rand(10) == 1 then v, label = -v, "n" .. i end
    samples[i] = { locs = stack, values = { v, v * 10 }, label = label }
  end
  return { functions = fns, locations = locs, samples = samples }
end

describe("#integration go tool preprofile", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end
  local dir

  setup(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.rm_rf(dir) end)

  -- ours (preprofile_file) and Go's output for a file; both succeed with the same text or
  -- both fail (then with Go's message when the failure is the compiler's own).
  local function check_file(path, label)
    local out, err, code = go_preprofile(path)
    local text, msg, ecode = compiler.preprofile_file(path)
    if code == 0 then
      assert.equal(out, text, label)
    else
      assert.is_nil(text, label)
      if ecode == "not_cpu" or ecode == "missing_start_line" then
        assert.equal("preprofile: error parsing profile: " .. msg:gsub("^.-: profile", "profile") ..
          "\n", err, label)
      end
    end
    return out, code
  end

  for _, rel in ipairs(FIXTURES) do
    it("matches pgo.preprofile and the compact profiles' output: " .. rel, function()
      local want, code = check_file(F(rel), rel)
      assert.equal(0, code)
      local p = assert(pgo.load(F(rel)))
      for _, frames in ipairs { 2, false } do
        local q = p:compact_for_pgo(frames and { frames = frames } or nil)
        local path = dir .. "/compact.pgo"
        assert.is_true(q:write(path))
        local got = go_preprofile(path)
        assert.equal(want, got, rel .. " compacted, frames " .. tostring(frames))
      end
    end)
  end

  it("fails where Go fails, with Go's message", function()
    for _, rel in ipairs { "profiles/go1.19/shop.steady.pgo", "profiles/go1.19/micro.pgo",
      "bad/heap.pb.gz", "bad/goroutine.pb.gz", "bad/truncated.pgo", "bad/html-error.pgo",
      "bad/gzip-random.pgo" } do
      local _, code = check_file(F(rel), rel)
      assert.equal(1, code, rel)
    end
    local out, code = check_file(F("bad/empty.pgo"), "empty")
    assert.equal(0, code)
    assert.equal("GO PREPROFILE V1\n", out)
  end)

  it("matches on hand-made corner cases and their compact forms", function()
    for name, spec in pairs(CASES) do
      local path = dir .. "/case.pb"
      helpers.write_file(path, build(spec))
      local want, code = check_file(path, name)
      if code == 0 then
        local p = assert(pgo.load(path))
        local q = assert(p:compact_for_pgo { frames = 2 })
        assert.is_true(q:write(path))
        assert.equal(want, (go_preprofile(path)), name .. " compacted")
      end
    end
  end)

  it("matches on 40 seeded random profiles and their compact forms", function()
    local levels = {}
    for seed = 1, 40 do
      local path = dir .. "/random.pb"
      helpers.write_file(path, build(random_spec(seed)))
      local want, code = check_file(path, "seed " .. seed)
      if code == 0 then
        local p = assert(pgo.load(path))
        for _, frames in ipairs { 2, false } do
          local q, info = p:compact_for_pgo(frames and { frames = frames } or nil)
          assert.is_not_nil(q, "seed " .. seed)
          levels[info.level] = (levels[info.level] or 0) + 1
          assert.is_true(q:write(path))
          assert.equal(want, (go_preprofile(path)), "seed " .. seed .. " compacted")
        end
      end
    end
    assert.is_true((levels[0] or 0) > 0)
  end)

  it("formats floats as Go's %v", function()
    local values = { 0.018601190476190476, 100 / 3539, 1e6, 123456, 1234567, 1234567.5, 1e-4,
      1.234e-5, 1 / 3, 2 / 3, 1e21, 1e20, 5e-324, 1.7976931348623157e308, 0.1, 0.3, 99.99,
      100, 9 * 100 / 656, 95.55555555555556, 123456.789, 0.000123, 1e-5, 7e22, 2 ^ 60 }
    local state = 7
    for _ = 1, 200 do
      state = (state * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
      values[#values + 1] = (state % 1000003) / (state % 997 + 1) * 10.0 ^ (state % 13 - 6)
    end
    local src = { "package main\n\nimport (\n\t\"fmt\"\n\t\"math\"\n)\n\nfunc main() {\n" }
    for _, v in ipairs(values) do
      src[#src + 1] = string.format("\tfmt.Printf(\"%%v\\n\", math.Float64frombits(%d))\n",
        string.unpack("<i8", string.pack("<d", v)))
    end
    src[#src + 1] = "}\n"
    helpers.write_file(dir .. "/main.go", table.concat(src))
    local out, err, code = helpers.run("cd " .. helpers.shq(dir) .. " && HOME=" ..
      helpers.shq(dir) .. " GOCACHE=" .. helpers.shq(dir .. "/cache") .. " GOFLAGS= GO111MODULE=off " ..
      go .. " run main.go")
    assert.equal(0, code, err)
    local i = 0
    for line in out:gmatch("[^\n]+") do
      i = i + 1
      assert.equal(line, compiler.go_float(values[i]), string.format("%.17g", values[i]))
    end
    assert.equal(#values, i)
  end)
end)
