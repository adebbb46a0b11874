-- Specs for pgo.report (lua/pgo/report.lua) and pgo.units: the text of `go tool pprof
-- -top` and `-tags`, compared line by line with the oracles in testdata/:
--   expected/<profile>/{top,top-cum,tags,tagfocus-slow}.txt  Go 1.23.5's go tool pprof
--   expected/merge/merged.top.txt, expected/diff/p2-base-p1.top.txt
--   pprof-examples/tiny*.txt                                 google/pprof HEAD (TZ=UTC)
-- The Go 1.23.5 oracles are compared with pprof = "go1.23" given (the default follows the
-- newest Go installed: spec/unit/pprof_layout_spec.lua).
-- Every line matches, the header included: File: is the base name of the first mapping
-- (the binary the runtime profiled, /tmp/shop/shop on the capture machine; it need not
-- exist here, only its name is printed), and times print in UTC, as the oracles were made.
local helpers = require "helpers"
local pgo = require "pgo"
local units = require "pgo.units"

local F = helpers.fixture
local GO123 = "go1.23"   -- the layout of the expected/ oracles

local function lines(s)
  local t = {}
  for l in (s or ""):gmatch("(.-)\n") do t[#t + 1] = l end
  return t
end

-- Compare line by line so a failure names the line.
local function assert_lines(want, got, label)
  local w, g = lines(want), lines(got)
  for i = 1, math.max(#w, #g) do
    assert.equal(w[i], g[i], ("%s, line %d"):format(label, i))
  end
  assert.equal(want, got, label)   -- and byte for byte (final newline included)
end

local function read(rel) return helpers.read_file(F(rel)) end
local function exists(rel)
  local f = io.open(F(rel), "rb")
  if f then f:close() end
  return f ~= nil
end

local profiles = {
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

describe("pgo.report.top()", function()
  it("matches go tool pprof -top -nodecount=20 on every fixture", function()
    for _, c in ipairs(profiles) do
      local p = assert(pgo.load(F(c[1])))
      local text, warnings = pgo.report.top(p, { n = 20, pprof = GO123 })
      assert_lines(read(c[2] .. "/top.txt"), text, c[2] .. "/top.txt")
      assert.same({}, warnings)
    end
  end)

  it("matches go tool pprof -top -cum -nodecount=20 on every fixture", function()
    for _, c in ipairs(profiles) do
      local p = assert(pgo.load(F(c[1])))
      assert_lines(read(c[2] .. "/top-cum.txt"), pgo.report.top(p, { n = 20, cum = true, pprof = GO123 }),
        c[2] .. "/top-cum.txt")
    end
  end)

  it("matches -top -tagfocus=endpoint=/slow, its stderr note included", function()
    local n = 0
    for _, c in ipairs(profiles) do
      if exists(c[2] .. "/tagfocus-slow.txt") then
        local p = assert(pgo.load(F(c[1])))
        local text, warnings = pgo.report.top(p, { tagfocus = "endpoint=/slow", pprof = GO123 })
        assert_lines(read(c[2] .. "/tagfocus-slow.txt"), text, c[2] .. "/tagfocus-slow.txt")
        local stderr = exists(c[2] .. "/tagfocus-slow.stderr.txt")
          and read(c[2] .. "/tagfocus-slow.stderr.txt") or ""
        assert.equal(stderr, #warnings > 0 and table.concat(warnings, "\n") .. "\n" or "", c[2])
        n = n + 1
      end
    end
    assert.equal(9, n)
  end)

  it("matches pprof's -top of the merged profile (no node count)", function()
    local m = assert(pgo.load(F("expected/merge/merged.pgo")))
    assert_lines(read("expected/merge/merged.top.txt"), pgo.report.top(m, { pprof = GO123 }), "merged.top.txt")
  end)

  it("matches pprof HEAD's outputs for the tiny profile with pprof = 'head'", function()
    local cases = {
      { "tiny.top.txt", {} },
      { "tiny.top_cum.txt", { cum = true } },
      { "tiny.top_focus_bar.txt", { focus = "bar" } },
      { "tiny.top_nodecount3.txt", { n = 3 } },
      { "tiny.top_noinlines.txt", { noinlines = true } },
      { "tiny.top_samples.txt", { sample_index = "samples" } },
      { "tiny.top_tagfocus_worker_a.txt", { tagfocus = "worker=a" } },
    }
    for _, file in ipairs{ "tiny.pb", "tiny.pb.gz" } do
      local p = assert(pgo.load(F("pprof-examples/" .. file)))
      for _, c in ipairs(cases) do
        c[2].pprof = "head"
        assert_lines(read("pprof-examples/" .. c[1]), pgo.report.top(p, c[2]), c[1])
      end
    end
  end)

  it("prints each layout's time, and by default the layout of the newest Go", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    local want = {
      ["go1.23"] = "Time: Nov 14, 2023 at 10:13pm (UTC)",
      ["go1.24"] = "Time: 2023-11-14 22:13:20 UTC",
      head = "Time: 2023-11-14 22:13:20 UTC",
    }
    for layout, line in pairs(want) do
      assert.equal(line, lines(pgo.report.top(p, { pprof = layout }))[5], layout)
    end
    assert.equal(want[pgo.report.default_layout()], lines(pgo.report.top(p))[5])
  end)

  it("matches -top -base and -diff_base when p:diff is available", function()
    local t = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    if type(t.diff) ~= "function" then
      pending("p:diff is not in this build")
      return
    end
    local t2 = assert(pgo.load(F("pprof-examples/tiny2.pb.gz")))
    assert_lines(read("pprof-examples/tiny_minus_tiny2.base.top.txt"),
      pgo.report.top(assert(t:diff(t2)), { pprof = "head" }), "tiny_minus_tiny2")
    assert_lines(read("pprof-examples/tiny_vs_tiny2.diff_base.top.txt"),
      pgo.report.top(assert(t:diff(t2, { diff_base = true })), { pprof = "head" }),
      "tiny_vs_tiny2")
    local p1 = assert(pgo.load(F("profiles/shop.p1.pgo")))
    local p2 = assert(pgo.load(F("profiles/shop.p2.pgo")))
    assert_lines(read("expected/diff/p2-base-p1.top.txt"), pgo.report.top(assert(p2:diff(p1)), { pprof = GO123 }),
      "p2-base-p1.top.txt")
  end)

  it("lists active filters, cutting long ones at 80 bytes as pprof does", function()
    local p = assert(pgo.load(F("profiles/shop.steady.pgo")))
    local re = "^(example\\.com/shop/internal/catalog\\.walk|example\\.com/shop/internal/"
      .. "pricing\\.TopK\\[go\\.shape\\.float64\\]|example\\.com/shop/internal/pricing\\."
      .. "TopK\\[go\\.shape\\.struct \\{ ID uint64; SKU string; Qty int; Price example\\.com"
      .. "/shop/internal/pricing\\.Price \\}\\]|main\\.checksumOrders|main\\.checksumOrders"
      .. "\\.func1)$"
    assert_lines(read("expected/stale/shop.steady.focus-stale.top.txt"),
      pgo.report.top(p, { n = 100000, nodefraction = 0, edgefraction = 0, focus = re,
        pprof = GO123 }),
      "focus-stale")
    assert_lines(read("expected/stale/shop.steady.all.top.txt"),
      pgo.report.top(p, { trim = false, pprof = GO123 }), "all.top")
  end)

  it("raises on a caller's mistake, pointing at the caller", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    assert.has_error(function() pgo.report.top(p, { fokus = "x" }) end,
      "bad argument #2 to 'top' (unknown option 'fokus')")
    assert.has_error(function() pgo.report.top("tiny.pb.gz") end,
      "bad argument #1 to 'top' (pgo.profile expected, got string)")
    local ok, err = pcall(pgo.report.top, p, { focus = "(" })
    assert.is_false(ok)
    assert.matches("^bad argument #2 to 'top' %(parsing focus regexp '%(': ", err)
    assert.has_error(function() pgo.report.top(p, { pprof = "1.20" }) end,
      "bad argument #2 to 'top' (option 'pprof' must be \"go1.23\" or \"go1.24\" or \"head\", got"
      .. " \"1.20\")")
  end)
end)

describe("pgo.report.tags()", function()
  it("matches go tool pprof -tags on every fixture (Go 1.23 layout)", function()
    for _, c in ipairs(profiles) do
      local p = assert(pgo.load(F(c[1])))
      assert_lines(read(c[2] .. "/tags.txt"), pgo.report.tags(p, { pprof = GO123 }),
        c[2] .. "/tags.txt")
    end
  end)

  it("matches pprof HEAD's layout with pprof = 'head'", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    assert_lines(read("pprof-examples/tiny.tags.txt"), pgo.report.tags(p, { pprof = "head" }),
      "tiny.tags.txt")
    local old = " worker: Total 4.6s\n         3.1s (66.59%): a\n         1.6s (33.41%): b\n\n"
    assert.equal(old, pgo.report.tags(p, { pprof = GO123 }))
    assert.equal(old, pgo.report.tags(p, { pprof = "go1.24" }))   -- Go 1.24: old -tags still
  end)
end)

describe("pgo.report.top_json()", function()
  it("encodes the same rows and header lines as the text", function()
    local cjson = require "cjson"
    local p = assert(pgo.load(F("profiles/shop.steady.pgo")))
    local json, warnings = pgo.report.top_json(p, { n = 20, pprof = GO123 })
    assert.same({}, warnings)
    local doc = cjson.decode(json)
    local text = lines(read("expected/shop.steady/top.txt"))
    for i, l in ipairs(doc.lines) do assert.equal(text[i], l) end
    assert.equal(20, #doc.rows)
    local rows = p:top{ n = 20 }
    for i, r in ipairs(doc.rows) do
      assert.equal(rows[i].name, r.name)
      assert.equal(rows[i].flat, r.flat)
      assert.equal(rows[i].cum, r.cum)
    end
    assert.equal("13.56s", doc.rows[1].flat_text)
    assert.equal(35610000000, doc.header.total)
    assert.equal("shop", doc.header.file)
    assert.equal(328, doc.header.dropped_nodes)
    -- integers are exact (lua-cjson alone would print 1.7952535574520e+18)
    assert.matches('"time_ns":1795253557452001595', json)
  end)

  it("is what report.top returns with format = 'json'", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    local cjson = require "cjson"
    assert.same(cjson.decode((pgo.report.top_json(p, { n = 3 }))),
      cjson.decode((pgo.report.top(p, { n = 3, format = "json" }))))
  end)

  it("writes empty lists as [] and carries pprof's warnings", function()
    local p = assert(pgo.load(F("profiles/micro.pgo")))
    local json, warnings = pgo.report.top_json(p, { tagfocus = "endpoint=/slow" })
    assert.same({ "TagFocus expression matched no samples" }, warnings)
    assert.matches('"rows":%[%]', json)
    assert.matches('"warnings":%["TagFocus expression matched no samples"%]', json)
  end)
end)

describe("pgo.report helpers", function()
  it("formats times like Go 1.23's and HEAD's pprof, in UTC", function()
    assert.equal("Nov 14, 2023 at 10:13pm (UTC)", pgo.report.time(1700000000000000000, GO123))
    assert.equal("2023-11-14 22:13:20 UTC", pgo.report.time(1700000000000000000, "head"))
    assert.equal("2023-11-14 22:13:20 UTC", pgo.report.time(1700000000000000000, "go1.24"))
    assert.equal("Jan 1, 1970 at 12:00am (UTC)", pgo.report.time(0, GO123))
    assert.equal("Nov 21, 2026 at 9:32am (UTC)", pgo.report.time(1795253557452001595, GO123))
    assert.equal(pgo.report.time(0, pgo.report.default_layout()), pgo.report.time(0))
  end)

  it("aligns like Go's text/tabwriter (right-aligned, per block)", function()
    assert.same({ "  a: x", " bb: y", "", " c: z" },
      pgo.report.tabwrite{ "a:\t x", "bb:\t y", "", "c:\t z" })
    assert.same({ " endpoint: Total 31.9s", "           16.1s (50.42%): /fast",
      "            5.6s (17.46%): /slow", "" },
      pgo.report.tabwrite{ "endpoint:\t Total 31.9s", " \t16.1s (50.42%):\t /fast",
        " \t5.6s (17.46%):\t /slow", "" })
  end)
end)

describe("pgo.units", function()
  it("formats percentages as pprof's Percentage (reference c.5)", function()
    assert.equal("60.16%", units.percentage(3050, 5070))
    assert.equal(" 8.00%", units.percentage(8, 100))
    assert.equal("170.83%", units.percentage(205, 120))
    assert.equal("  0.2%", units.percentage(197, 100000))
    assert.equal("  0.5%", units.percentage(5, 1000))
    assert.equal("0.039%", units.percentage(394, 1000000))
    assert.equal("0.004%", units.percentage(4, 100000))
    assert.equal("    1%", units.percentage(999, 100000))
    assert.equal("    0%", units.percentage(0, 100))
    assert.equal("    0%", units.percentage(5, 0))
    assert.equal("  100%", units.percentage(9996, 10000))
  end)

  it("scales values as pprof's ScaledLabel", function()
    assert.equal("3.05s", units.scaled_label(3050000000, "nanoseconds", "auto"))
    assert.equal("1.50s", units.scaled_label(1500000000, "nanoseconds", "auto"))
    assert.equal("3s", units.scaled_label(3000000000, "nanoseconds", "auto"))
    assert.equal("0.10s", units.scaled_label(100000000, "nanoseconds", "s"))
    assert.equal("3050ms", units.scaled_label(3050000000, "nanoseconds", "ms"))
    assert.equal("0", units.scaled_label(1000, "nanoseconds", "s"))
    assert.equal("120s", units.label(120000000000, "nanoseconds"))
    assert.equal("2hrs", units.label(7200000000000, "nanoseconds"))
    assert.equal("1.50MB", units.label(1572864, "bytes"))
    assert.equal("507", units.label(507, "count"))
    assert.equal("-2.05s", units.label(-2050000000, "nanoseconds"))
    assert.equal("20.18s", units.scaled(20178020955, "nanoseconds"))
    local v, u = units.scale(25350000, "nanoseconds", "minimum")
    assert.equal("ms", u)
    assert.near(25.35, v, 1e-9)
  end)
end)
