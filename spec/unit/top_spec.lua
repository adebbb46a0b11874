-- Specs for p:top() and p:total(): pprof's flat/cum aggregation, trimming and order
-- (src/profile/aggregate.c, src/lua/analysis.c). The text layout is in report_spec.lua.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"

local F = helpers.fixture

local function tiny() return assert(pgo.load(F("pprof-examples/tiny.pb.gz"))) end

local function by_name(rows)
  local t = {}
  for _, r in ipairs(rows) do t[r.name] = r end
  return t
end

local function names(rows)
  local t = {}
  for i, r in ipairs(rows) do t[i] = r.name end
  return t
end

-- The node names of an oracle table, in order (the text after the cum% column).
local function oracle_names(path)
  local t = {}
  for line in io.lines(path) do
    local name = line:match("^%s*%S+%s+%S+%s+%S+%s+%S+%s+%S+  (.*)$")
    if name and not line:match("^%s+flat%s+flat%%") then
      t[#t + 1] = (name:gsub(" %(inline%)$", ""):gsub(" %(partial%-inline%)$", ""))
    end
  end
  return t
end

describe("p:top()", function()
  it("computes flat and cum as pprof does on the tiny profile (reference c.7)", function()
    local rows, info = tiny():top()
    assert.same({ "main.foo", "main.baz", "main.rec", "main.bar", "main.main" }, names(rows))
    local r = by_name(rows)
    assert.equal(3050000000, r["main.foo"].flat)
    assert.equal(3140000000, r["main.foo"].cum)
    assert.equal(1500000000, r["main.baz"].flat)
    assert.equal(90000000, r["main.bar"].flat)
    assert.equal(1590000000, r["main.bar"].cum)
    assert.equal(10000000, r["main.main"].flat)
    assert.equal(5070000000, r["main.main"].cum)
    assert.equal(5070000000, info.total)
    assert.equal(5070000000, info.flat_total)
    assert.equal(5050000000, info.shown)
    assert.equal(25350000, info.node_cutoff)
    assert.equal(1, info.dropped_nodes)      -- main.tiny (20ms) is under the cutoff
    assert.equal(5, info.node_count)
    assert.equal(6, info.graph_nodes)
    assert.equal("cpu", info.sample_type)
    assert.equal("nanoseconds", info.sample_unit)
    assert.equal(2, info.sample_index)
    assert.equal("/usr/local/bin/app", info.file)
    assert.equal("abc123", info.build_id)
  end)

  it("counts a recursive function once per sample in cum", function()
    -- S3 is rec <- rec <- rec <- main with 40 samples: cum 40, not 120
    local r = by_name(tiny():top{ sample_index = "samples" })
    assert.equal(40, r["main.rec"].flat)
    assert.equal(40, r["main.rec"].cum)
    assert.equal(507, r["main.main"].cum)
  end)

  it("marks nodes reached only through inlined calls, and fills percentages", function()
    local r = by_name(tiny():top())
    assert.is_true(r["main.baz"].inline)
    assert.is_false(r["main.baz"].partial_inline)
    assert.is_false(r["main.bar"].inline)
    assert.near(60.1578, r["main.foo"].flat_pct, 1e-3)
    assert.near(61.9329, r["main.foo"].cum_pct, 1e-3)
    assert.near(99.6055, r["main.main"].sum_pct, 1e-3)
  end)

  it("keeps the first n nodes, loses their callers' inline marks, and reports the count", function()
    local rows, info = tiny():top{ n = 3 }
    assert.same({ "main.foo", "main.baz", "main.rec" }, names(rows))
    assert.is_false(rows[2].inline)          -- bar was dropped, so baz has no caller left
    assert.equal(5, info.node_count)
    assert.equal(3, info.nodecount)
    local rows2 = tiny():top{ nodecount = 3 }
    assert.same(names(rows), names(rows2))
  end)

  it("sorts by cum with cum = true, ties by name", function()
    assert.same({ "main.main", "main.foo", "main.bar", "main.baz", "main.rec" },
      names(tiny():top{ cum = true }))
  end)

  it("chooses the value column by 1-based index or by pprof's type name", function()
    local p = tiny()
    local rows, info = p:top{ sample_index = 1 }
    assert.equal("samples", info.sample_type)
    assert.equal(507, info.total)
    assert.equal(6, #rows)                   -- cutoff 2: main.tiny (2) stays
    assert.same(names(rows), names(p:top{ sample_index = "samples" }))
    assert.same(names(rows), names(p:top{ sample_index = "0" }))   -- pprof's 0-based string
    local _, info2 = p:top{ sample_index = "cpu" }
    assert.equal(5070000000, info2.total)
  end)

  it("moves inlined frames' flat to the physical function with noinlines", function()
    local r = by_name(tiny():top{ noinlines = true })
    assert.is_nil(r["main.baz"])
    assert.equal(1590000000, r["main.bar"].flat)
  end)

  it("names nodes by file and line with granularity lines and files", function()
    local r = by_name(tiny():top{ granularity = "lines" })
    assert.is_not_nil(r["main.foo main.go:22"])
    assert.is_not_nil(r["main.baz main.go:41"])
    local files = tiny():top{ granularity = "files", trim = false }
    for _, row in ipairs(files) do assert.equal("main.go", row.name) end
    -- pprof keys file nodes by function start line too, so main.go appears per function
    assert.equal(6, #files)
    local a = by_name(tiny():top{ granularity = "addresses" })
    assert.is_not_nil(a["0000000000402000 main.foo main.go:22"])
  end)

  it("keeps every node with trim = false or zero fractions", function()
    local rows, info = tiny():top{ trim = false }
    assert.equal(6, #rows)
    assert.equal(0, info.dropped_nodes)
    assert.equal(6, #tiny():top{ nodefraction = 0 })
  end)

  it("uses a given total for percentages (a report's total before filters)", function()
    local rows, info = tiny():top{ total = 10140000000 }
    assert.equal(10140000000, info.total)
    assert.near(30.0789, rows[1].flat_pct, 1e-3)
  end)

  it("gives pprof's node order for every fixture (flat and cum)", function()
    local cases = {
      { "profiles/shop.steady.pgo", "expected/shop.steady" },
      { "profiles/shop.p1.pgo", "expected/shop.p1" },
      { "profiles/shop.p2.pgo", "expected/shop.p2" },
      { "profiles/shop.p3.pgo", "expected/shop.p3" },
      { "profiles/shop.idle.pgo", "expected/shop.idle" },
      { "profiles/shop.startup.pgo", "expected/shop.startup" },
      { "profiles/micro.pgo", "expected/micro" },
      { "profiles/go1.19/shop.steady.pgo", "expected/go1.19/shop.steady" },
      { "profiles/go1.19/micro.pgo", "expected/go1.19/micro" },
      { "thirdparty/grpc-anon.pprof", "expected/thirdparty/grpc-anon.pprof" },
    }
    for _, c in ipairs(cases) do
      local p = assert(pgo.load(F(c[1])))
      assert.same(oracle_names(F(c[2] .. "/top.txt")), names(p:top{ n = 20 }), c[1])
      assert.same(oracle_names(F(c[2] .. "/top-cum.txt")), names(p:top{ n = 20, cum = true }), c[1])
    end
    local m = assert(pgo.load(F("expected/merge/merged.pgo")))
    assert.same(oracle_names(F("expected/merge/merged.top.txt")), names(m:top()))
  end)

  it("returns no rows for a profile without samples", function()
    local p = assert(pgo.load(F("bad/nosamples.pgo")))
    local rows, info = p:top()
    assert.same({}, rows)
    assert.equal(0, info.total)
  end)

  it("raises on bad options", function()
    local p = tiny()
    assert.has_error(function() p:top{ nodecuont = 3 } end,
      "bad argument #1 to 'top' (unknown option 'nodecuont')")
    assert.has_error(function() p:top{ cum = 1 } end,
      "bad argument #1 to 'top' (option 'cum' must be a boolean)")
    assert.has_error(function() p:top{ n = -1 } end,
      "bad argument #1 to 'top' (option 'n' must be a non-negative integer)")
    assert.has_error(function() p:top{ sample_index = 3 } end,
      "bad argument #1 to 'top' (sample_index 3 is outside the range [1..2])")
    assert.has_error(function() p:top{ sample_index = "space" } end,
      "bad argument #1 to 'top' (sample_index \"space\" must be one of: [samples cpu])")
    assert.has_error(function() p:top{ granularity = "words" } end,
      "bad argument #1 to 'top' (option 'granularity' must be one of functions, "
      .. "filefunctions, files, lines, addresses; got 'words')")
    assert.has_error(function() p:top{ nodefraction = 2 } end,
      "bad argument #1 to 'top' (option 'nodefraction' must be between 0 and 1)")
    p:close()
    assert.has_error(function() p:top() end, "attempt to use a closed profile")
  end)

  -- #slow: builds a 200k-sample profile in Lua first (about a second)
  it("aggregates a large profile (speed: make bench) #slow", function()
    local strings = { "", "samples", "count", "cpu", "nanoseconds", "f.go" }
    local nf = 400
    for i = 1, nf do strings[#strings + 1] = "pkg.F" .. i end
    local vi = {}
    for i = 0, nf + 1000 do vi[i] = pb.varint(i) end
    local parts = {}
    local function add(fields) parts[#parts + 1] = pb.encode(fields) end
    add{ { 1, "msg", { { 1, "varint", 1 }, { 2, "varint", 2 } } },
      { 1, "msg", { { 1, "varint", 3 }, { 2, "varint", 4 } } } }
    local n, depth, seed = 200000, 30, 7
    local values = "\x10\x01\x10" .. pb.varint(10000000)   -- value 1, 10ms
    local locs = {}
    for _ = 1, n do
      for d = 1, depth do
        seed = (seed * 1103515245 + 12345) % 2147483648
        locs[d] = vi[seed % nf + 1]
      end
      local packed = table.concat(locs)
      local body = "\x0a" .. pb.varint(#packed) .. packed .. values
      parts[#parts + 1] = "\x12" .. pb.varint(#body) .. body
    end
    for i = 1, nf do
      add{ { 4, "msg", { { 1, "varint", i },
        { 4, "msg", { { 1, "varint", i }, { 2, "varint", 3 } } } } },
        { 5, "msg", { { 1, "varint", i }, { 2, "varint", 5 + i }, { 4, "varint", 5 } } } }
    end
    for _, s in ipairs(strings) do add{ { 6, "bytes", s } } end
    local p = assert(pgo.decode(table.concat(parts)))
    local rows, info = p:top{ n = 10 }
    assert.equal(10, #rows)
    assert.equal(n * 10000000, info.total)
    local all = p:top{ trim = false }
    local flat = 0
    for _, r in ipairs(all) do
      flat = flat + r.flat
      assert.is_true(r.cum <= info.total)    -- recursion never counts a sample twice
    end
    assert.equal(info.total, flat)
  end)
end)

describe("p:total()", function()
  it("sums |value| of the chosen column", function()
    local p = tiny()
    assert.equal(5070000000, p:total())
    local n, t, u = p:total{ sample_index = "samples" }
    assert.same({ 507, "samples", "count" }, { n, t, u })
  end)
end)
