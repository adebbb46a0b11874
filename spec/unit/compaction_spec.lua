-- Specs for p:compact_for_pgo{frames=} (src/profile/pgograph.c): a profile holding only
-- what the Go compiler reads, whose preprofile is byte-identical to the original's.
-- Why frames = 2 loses nothing: the compiler's graph (internal/profile.NewGraph as used by
-- cmd/internal/pgo) reads only location[1] and location[0] of each sample; deeper frames
-- add no edge and no weight (reference e.3). These specs check it on every fixture, on the
-- compacted profile itself and on its encoded bytes; spec/integration/preprofile_spec.lua
-- runs the real `go tool preprofile` on the written files.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"

local F = helpers.fixture

local FIXTURES = {
  -- file, expected preprofile, minimal size ratio (file bytes / compact bytes, frames = 2)
  { "profiles/shop.steady.pgo", "expected/shop.steady/preprofile.txt", 4 },
  { "profiles/shop.p1.pgo", "expected/shop.p1/preprofile.txt", 3.5 },
  { "profiles/shop.p2.pgo", "expected/shop.p2/preprofile.txt", 3.5 },
  { "profiles/shop.p3.pgo", "expected/shop.p3/preprofile.txt", 4 },
  { "profiles/shop.idle.pgo", "expected/shop.idle/preprofile.txt", 3 },
  { "profiles/shop.startup.pgo", "expected/shop.startup/preprofile.txt", 4 },
  { "profiles/micro.pgo", "expected/micro/preprofile.txt", 3 },
  { "expected/merge/merged.pgo", "expected/merge/merged.preprofile.txt", 3 },
  { "thirdparty/grpc-anon.pprof", "expected/thirdparty/grpc-anon.pprof/preprofile.txt", 4 },
  { "pprof-examples/tiny.pb.gz", "pprof-examples/tiny.preprofile", 1.5 },
  { "bad/tiny5.pgo", "expected/bad/tiny5.pgo.preprofile.txt", 2 },
  { "bad/nosamples.pgo", "expected/bad/nosamples.pgo.preprofile.txt", 2 },
}

local function file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

-- A hand-made profile (see spec/unit/pgograph_spec.lua for the shape).
local function build(spec)
  spec.mapping, spec.comment = true, "a comment"
  return assert(pgo.decode(pb.cpu_profile(spec)))
end

local FNS = { { "main.main", 10 }, { "main.f", 20 }, { "main.g", 30 } }

describe("p:compact_for_pgo()", function()
  it("keeps `go tool preprofile` byte-identical on every fixture (frames 2, 3, all)", function()
    for _, c in ipairs(FIXTURES) do
      local p = assert(pgo.load(F(c[1])))
      local want = helpers.read_file(F(c[2]))
      for _, frames in ipairs { 2, 3, false } do
        local q, info = p:compact_for_pgo(frames and { frames = frames } or nil)
        assert.equal(want, q:preprofile(), c[1] .. " frames " .. tostring(frames))
        -- and the bytes it writes
        assert.equal(want, assert(pgo.decode(q:encode())):preprofile(), c[1])
        assert.equal(frames or 0, info.frames)
        assert.equal(0, info.level, c[1])
        assert.equal(0, info.addresses, c[1])
      end
    end
  end)

  it("is several times smaller than the original file", function()
    for _, c in ipairs(FIXTURES) do
      local p = assert(pgo.load(F(c[1])))
      local q = p:compact_for_pgo { frames = 2 }
      local ratio = file_size(F(c[1])) / #q:encode()
      assert.is_true(ratio >= c[3], string.format("%s: %.2fx < %.1fx", c[1], ratio, c[3]))
    end
  end)

  it("keeps one sample type, no labels, mappings, comments or file names", function()
    local p = assert(pgo.load(F("profiles/shop.steady.pgo")))
    local q = p:compact_for_pgo { frames = 2 }
    local info = q:info()
    assert.same({ { type = "samples", unit = "count" } }, info.sample_types)
    assert.equal(0, info.mappings)
    assert.same({}, info.comments)
    assert.same({ type = "cpu", unit = "nanoseconds" }, info.period_type)
    assert.equal(p:info().duration_ns, info.duration_ns)
    local n, total = 0, 0
    for values, _, labels in q:samples() do
      n = n + 1
      total = total + values[1]
      assert.is_nil(next(labels))
    end
    assert.equal(n, info.sample_records)
    assert.is_true(n < p:info().sample_records / 3)
    -- single-location samples give no edge and are left out: 3561 - 8
    assert.equal(3553, total)
    assert.is_true(info.functions < p:info().functions)
    assert.is_true(info.locations < p:info().locations / 2)
    assert.is_falsy(q:encode():find("handlers.go", 1, true))
  end)

  it("cuts stacks to the leaf frames asked for", function()
    -- main -> f -> g -> f -> g (no inlining: one name per frame)
    local p = build { functions = FNS,
      locations = { { lines = { { 3, 33 } } }, { lines = { { 2, 24 } } }, { lines = { { 3, 32 } } },
        { lines = { { 2, 23 } } }, { lines = { { 1, 12 } } } },
      samples = { { locs = { 1, 2, 3, 4, 5 }, values = { 2, 20 } } } }
    local depth = {}
    for _, frames in ipairs { 2, 3, 4, false } do
      local q = p:compact_for_pgo(frames and { frames = frames } or nil)
      for _, stack in q:samples() do depth[frames or "all"] = #stack end
      assert.equal(p:preprofile(), q:preprofile())
    end
    assert.same({ [2] = 2, [3] = 3, [4] = 4, all = 5 }, depth)
    assert.equal("GO PREPROFILE V1\nmain.f\nmain.g\n4 2\n", p:preprofile())
  end)

  it("keeps addresses where two frames of one function on one line must stay apart", function()
    -- L1 = f:25 at 0x10, L0 = g:31 inlined into f:25 at 0x20: f -> f is an edge only
    -- because the two f:25 frames have different addresses
    local p = build { functions = FNS,
      locations = { { addr = 0x10, lines = { { 2, 25 } } },
        { addr = 0x20, lines = { { 3, 31 }, { 2, 25 } } } },
      samples = { { locs = { 2, 1 }, values = { 7, 70 } } } }
    local want = "GO PREPROFILE V1\nmain.f\nmain.f\n5 7\nmain.f\nmain.g\n5 7\n"
    assert.equal(want, p:preprofile())
    local q, info = p:compact_for_pgo { frames = 2 }
    assert.equal(want, q:preprofile())
    assert.same({ frames = 2, level = 0, addresses = 2 }, info)
  end)

  it("falls back to real line numbers when two locations share an address", function()
    -- locations 1 and 3 are the same PC: rewriting the leaf's line would split one node
    local p = build { functions = FNS,
      locations = { { addr = 0x10, lines = { { 2, 25 } } }, { addr = 0x20, lines = { { 2, 25 } } },
        { addr = 0x10, lines = { { 2, 25 } } } },
      samples = { { locs = { 1, 2 }, values = { 7, 70 } }, { locs = { 3, 1 }, values = { 4, 40 } } } }
    local q, info = p:compact_for_pgo { frames = 2 }
    assert.equal("GO PREPROFILE V1\nmain.f\nmain.f\n5 7\n", q:preprofile())
    assert.equal(1, info.level)
    assert.equal(2, info.addresses)
  end)

  it("keeps an edge whose positive and negative weights cancel", function()
    local p = build { functions = FNS,
      locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } }, { lines = { { 3, 31 } } } },
      samples = { { locs = { 1, 2 }, values = { 5, 50 }, label = "a" },
        { locs = { 1, 2 }, values = { -5, -50 }, label = "b" },
        { locs = { 3, 2 }, values = { 3, 30 } } } }
    local want = "GO PREPROFILE V1\nmain.main\nmain.g\n2 3\nmain.main\nmain.f\n2 0\n"
    assert.equal(want, p:preprofile())
    local q = p:compact_for_pgo()
    assert.equal(want, q:preprofile())
    assert.equal(3, q:info().sample_records)       -- +5 and -5 are not merged
    -- (pgo.decode itself adds up samples with equal stacks and labels, so reading the
    -- written file back loses the 0-weight edge; Go keeps it: the integration spec checks
    -- the written file with `go tool preprofile`)
  end)

  it("weighs by the compiler's column and keeps only that one", function()
    local p = build { types = { { "alloc", "bytes" }, { "cpu", "nanoseconds" } }, functions = FNS,
      locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
      samples = { { locs = { 1, 2 }, values = { 999, 50 } }, { locs = { 1, 2 }, values = { 1, 0 } } } }
    local q = p:compact_for_pgo()
    assert.same({ { type = "cpu", unit = "nanoseconds" } }, q:info().sample_types)
    assert.equal(1, q:info().sample_records)       -- the zero-valued sample is dropped
    assert.equal(p:preprofile(), q:preprofile())
  end)

  it("returns nil, message, code on profiles the compiler rejects", function()
    local q, msg, code = assert(pgo.load(F("profiles/go1.19/micro.pgo"))):compact_for_pgo()
    assert.is_nil(q)
    assert.equal("missing_start_line", code)
    assert.matches("start_line", msg, 1, true)
    q, _, code = assert(pgo.load(F("bad/heap.pb.gz"))):compact_for_pgo { frames = 2 }
    assert.is_nil(q)
    assert.equal("not_cpu", code)
  end)

  it("raises on a frames option below 2 or of the wrong type", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    local msg = "bad argument #1 to 'compact_for_pgo' (option 'frames' must be an integer >= 2 " ..
      "(the compiler reads the two leaf frames of each sample))"
    assert.has_error(function() p:compact_for_pgo { frames = 1 } end, msg)
    assert.has_error(function() p:compact_for_pgo { frames = "2" } end, msg)
    assert.has_error(function() p:compact_for_pgo { depth = 2 } end,
      "bad argument #1 to 'compact_for_pgo' (unknown option 'depth')")
  end)
end)
