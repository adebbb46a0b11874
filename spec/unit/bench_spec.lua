-- pgo.bench: reading the Go benchmark format, the comparison's shape, the report
-- formats and the CI gate. (Agreement with benchstat itself: benchstat_spec.lua.)
local helpers = require "helpers"
local bench = require "pgo.bench"
local cjson = require "cjson"

local AB = helpers.fixture("ab") .. "/bench/"

local function series_named(set, name)
  for _, s in ipairs(set.series) do if s.name == name then return s end end
end

describe("pgo.bench", function()
  describe("parse()", function()
    it("reads results with every metric, tidied, and -count repeats", function()
      local s = bench.parse(table.concat({
        "goos: linux",
        "BenchmarkParse-8   \t 1000\t 1500 ns/op\t 256 B/op\t 4 allocs/op\t 12.5 MB/s\t 3 hits/op",
        "BenchmarkParse-8   \t 1000\t 1600 ns/op\t 256 B/op\t 4 allocs/op\t 12.0 MB/s\t 5 hits/op",
      }, "\n"), "x.txt")
      assert.are.equal(2, s.results)
      assert.are.same({ "sec/op", "B/op", "allocs/op", "B/s", "hits/op" }, s.units)
      local sr = series_named(s, "Parse-8")
      assert.are.same({ 1500 * 1e-9, 1600 * 1e-9 }, sr.values["sec/op"])
      assert.are.same({ 256, 256 }, sr.values["B/op"])
      assert.are.same({ 12.5e6, 12.0e6 }, sr.values["B/s"])
      assert.are.same({ 3, 5 }, sr.values["hits/op"])
      assert.are.equal("x.txt", s.files[1].label)
      assert.are.equal("linux", sr.config.values.goos)
    end)

    it("scopes configuration to the file, with overwrite and delete", function()
      local s = bench.parse(table.concat({
        "goos: linux", "pkg: a", "BenchmarkA 1 1 ns/op",
        "pkg: b", "BenchmarkA 1 2 ns/op",
        "pkg:", "BenchmarkA 1 3 ns/op",
        "Key: upper case is not a key", "a b: not a key", "ab:not a key (no blank)",
        "cpu-count:  4 ", "BenchmarkA 1 4 ns/op",
      }, "\n"))
      local cfgs = {}
      for _, sr in ipairs(s.series) do
        cfgs[#cfgs + 1] = (sr.config.values.pkg or "-") .. "/" .. (sr.config.values["cpu-count"] or "-")
      end
      assert.are.same({ "a/-", "b/-", "-/-", "-/4 " }, cfgs)
    end)

    it("handles the GOMAXPROCS suffix, sub-benchmarks and CRLF line ends", function()
      local s = bench.parse("BenchmarkEncode/format=json-48 \t 10 \t 1718 ns/op\r\n" ..
        "BenchmarkX-y 1 2 ns/op\r\nBenchmarkLast 1 3 ns/op")
      assert.is_truthy(series_named(s, "Encode/format=json-48"))
      assert.is_truthy(series_named(s, "X-y"))
      assert.is_truthy(series_named(s, "Last"))
      assert.are.same({}, s.errors)
    end)

    it("skips bare names, PASS/ok/--- lines, and reports syntax errors as benchstat does", function()
      local s = bench.parse(table.concat({
        "BenchmarkOne",                         -- go test -v start line: skipped
        "PASS", "ok  \texample.com/x\t1.2s", "--- FAIL: BenchmarkOther", "=== RUN X", "# comment",
        "BenchmarkA ",                          -- 2
        "BenchmarkA x 1 ns/op",                 -- 3
        "BenchmarkA 99999999999999999999 1 ns/op", -- 4
        "BenchmarkA 1",                         -- 5
        "BenchmarkA 1 x ns/op",                 -- 6
        "BenchmarkA 1 12",                      -- 7
        "BenchmarkA 1 1e400 ns/op",             -- 8
        "Unit",                                 -- 9
        "Unit ns/op assume",                    -- 10
        "Unit x assume=exact",
        "Unit x assume=nothing",                -- 12
        "BenchmarkB 1 9999999999999999999999999999999 ns/op",
      }, "\n"), "f.txt")
      assert.are.same({
        "f.txt:7: missing iteration count",
        "f.txt:8: parsing iteration count: invalid syntax",
        "f.txt:9: parsing iteration count: value out of range",
        "f.txt:10: missing measurements",
        "f.txt:11: parsing measurement: invalid syntax",
        "f.txt:12: missing units",
        "f.txt:13: parsing measurement: value out of range",
        "f.txt:14: missing unit",
        "f.txt:15: expected key=value",
        "f.txt:17: metadata assume of unit x already set to exact",
      }, s.errors)
      assert.are.equal(1, s.results)
      assert.are.equal("exact", s.unit_meta.x.assume)
    end)

    it("accepts Go float syntax: exponents, NaN, Inf, a leading sign", function()
      local s = bench.parse("BenchmarkA 1 1e3 x 2.5E-1 y -4 z +Inf w NaN v .5 u")
      local sr = series_named(s, "A")
      assert.are.same({ 1000 }, sr.values.x)
      assert.are.same({ 0.25 }, sr.values.y)
      assert.are.same({ -4 }, sr.values.z)
      assert.are.same({ math.huge }, sr.values.w)
      assert.is_true(sr.values.v[1] ~= sr.values.v[1])
      assert.are.same({ 0.5 }, sr.values.u)
      local bad = bench.parse("BenchmarkA 1 0x10 x")
      assert.are.same({ "-:1: parsing measurement: invalid syntax" }, bad.errors)
    end)

    it("splits fields at Unicode spaces too", function()
      local s = bench.parse("BenchmarkA\u{2003}1\u{2003}5\u{a0}ns/op")
      assert.are.same({ 5e-9 }, series_named(s, "A").values["sec/op"])
    end)

    it("fails on a line longer than Go's 64 KiB scanner limit", function()
      local r, msg, code = bench.parse("BenchmarkA 1 1 ns/op\n" .. ("x"):rep(70000), "big.txt")
      assert.is_nil(r)
      assert.are.equal("big.txt:2: bufio.Scanner: token too long", msg)
      assert.are.equal("line_too_long", code)
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() bench.parse(42) end,
        "bad argument #1 to 'parse' (string expected, got number)")
    end)
  end)

  describe("tidy_unit()", function()
    it("renames ns and MB in numerators only, with the factor", function()
      local cases = {
        { "ns/op", "sec/op", 1e-9 }, { "MB/s", "B/s", 1e6 }, { "B/op", "B/op", 1 },
        { "x-ns/op", "x-sec/op", 1e-9 }, { "x-MB/s", "x-B/s", 1e6 }, { "op/ns", "op/ns", 1 },
        { "MB*MB/s", "B*B/s", 1e12 }, { "MB/MB", "B/MB", 1e6 }, { "allocs/op", "allocs/op", 1 },
      }
      for _, c in ipairs(cases) do
        local name, f = bench.tidy_unit(c[1])
        assert.are.equal(c[2], name, c[1])
        assert.is_true(math.abs(f - c[3]) <= c[3] * 1e-15, c[1])
      end
    end)
  end)

  describe("load()", function()
    it("labels a file by its base name, or label=path", function()
      local s = assert(bench.load(AB .. "off.txt", "pgo=" .. AB .. "on.txt"))
      assert.are.equal("off.txt", s.files[1].label)
      assert.are.equal("pgo", s.files[2].label)
      assert.are.equal(60, s.results)
    end)

    it("returns nil, message, 'not_found' for a missing file", function()
      local s, msg, code = bench.load("/nonexistent/bench.txt")
      assert.is_nil(s)
      assert.matches("cannot read benchmark file /nonexistent/bench.txt", msg, 1, true)
      assert.are.equal("not_found", code)
    end)

    it("gives repeated labels #0, #1 in a comparison (as benchstat does for a repeated path)", function()
      local cmp = bench.compare(assert(bench.load(AB .. "off.txt")), assert(bench.load(AB .. "off.txt")))
      assert.are.same({ "off.txt#0", "off.txt#1" }, cmp.tables[1].columns)
    end)
  end)

  describe("compare()", function()
    local old = assert(bench.load(helpers.fixture("bench/pgolua-examples/ex1/old.txt")))
    local new = assert(bench.load(helpers.fixture("bench/pgolua-examples/ex1/new.txt")))

    it("gives per benchmark and unit: median, CI, p, delta, and a flat comparison list", function()
      local cmp = bench.compare(old, new)
      assert.are.equal(3, #cmp.tables)
      local t = cmp.tables[1]
      assert.are.equal("sec/op", t.unit)
      assert.are.same({ "old.txt", "new.txt" }, t.columns)
      local parse = t.rows[1]
      assert.are.equal("Parse-8", parse.name)
      assert.is_true(math.abs(parse.cells[1].center - 1025e-9) < 1e-18)
      assert.are.equal(1000 * 1e-9, parse.cells[1].lo)   -- ns/op values are scaled by 1e-9
      assert.are.equal(1050 * 1e-9, parse.cells[1].hi)
      assert.are.equal("2%", parse.cells[1].range)
      local c = parse.comparisons[2]
      assert.are.equal("-10.98%", c.text)
      assert.is_true(math.abs(c.p - 2 / 924) < 1e-15)
      assert.is_true(c.significant)
      assert.are.equal("~", t.rows[2].comparisons[2].text)
      assert.are.equal(6, #cmp.comparisons)
      local f = cmp.comparisons[1]
      assert.are.equal("Parse-8", f.name)
      assert.are.equal("sec/op", f.unit)
      assert.is_true(math.abs(f.delta + 0.109756) < 1e-6)
    end)

    it("accepts a list of sets and options; raises on bad options", function()
      local cmp = bench.compare({ old, new }, { alpha = 0.001 })
      assert.are.equal("~", cmp.tables[1].rows[1].comparisons[2].text)   -- p = 0.002 > 0.001
      assert.has_error(function() bench.compare(old, new, { alpha = 2 }) end,
        "bad argument #3 to 'compare' (alpha must be in range [0, 1])")
      assert.has_error(function() bench.compare(old, new, { colour = 1 }) end,
        "bad argument #3 to 'compare' (unknown option 'colour')")
      assert.has_error(function() bench.compare("x") end,
        "bad argument #1 to 'compare' (benchmark set expected, got string)")
    end)
  end)

  describe("report()", function()
    local cmp = bench.compare(assert(bench.load(AB .. "off.txt")), assert(bench.load(AB .. "on.txt")))

    it("markdown: a table per unit and configuration, significant deltas in bold", function()
      local md = bench.report(cmp, { format = "markdown" })
      assert.matches("|  | off.txt sec/op | on.txt sec/op | vs base | P |", md, 1, true)
      assert.matches("| `LookupBatch-2` | 1.071m ± 1% | 1.070m ± 2% | ~ | p=0.684 n=10 |", md, 1, true)
      assert.matches("| geomean | 924.0µ | 918.2µ | -0.62% |  |", md, 1, true)
      assert.matches("`pkg: example.com/shop/internal/cache`", md, 1, true)
    end)

    it("json: the numbers unscaled, with warnings as lists", function()
      local text = bench.report(cmp, { format = "json" })
      assert.matches('"errors":[]', text, 1, true)
      assert.matches('"warnings":[]', text, 1, true)
      local d = cjson.decode(text)
      assert.are.equal(2, #d.tables)
      local row = d.tables[1].rows[1]
      assert.are.equal("LookupBatch-2", row.name)
      assert.are.equal(10, row.cells[1].n)
      assert.is_true(math.abs(row.cells[1].center - 0.001070527) < 1e-12)
      assert.are.equal("~", row.cells[2].comparison.text)
      assert.are.equal(0, #row.cells[1].warnings)
    end)

    it("raises on an unknown format", function()
      assert.has_error(function() bench.report(cmp, { format = "xml" }) end,
        "bad argument #2 to 'report' (format must be text, csv, markdown or json)")
    end)
  end)

  describe("utest()", function()
    it("returns U and the two-sided p-value", function()
      local u, p = bench.utest({ 1, 2, 3, 4, 5, 6 }, { 7, 8, 9, 10, 11, 12 })
      assert.are.equal(0, u)
      assert.is_true(math.abs(p - 2 / 924) < 1e-15)
    end)
    it("returns nil, message, code when every value is equal", function()
      assert.are.same({ nil, "all samples are equal", "all_equal" },
        { bench.utest({ 3, 3, 3 }, { 3, 3 }) })
    end)
    it("raises on non-numbers", function()
      assert.has_error(function() bench.utest({ 1, "x" }, { 2 }) end,
        "bad argument #1 to 'utest' (number expected at index 2)")
    end)
  end)

  describe("gate()", function()
    local off_text = helpers.read_file(AB .. "off.txt")
    -- a deliberately regressed copy of the -pgo=off run: every ns/op value times 1.2
    local slow_text = off_text:gsub("(%s)(%d+) ns/op", function(sp, v)
      return sp .. ("%d"):format(math.floor(tonumber(v) * 1.2 + 0.5)) .. " ns/op"
    end)
    local off = bench.parse(off_text, "off.txt")
    local slow = bench.parse(slow_text, "slow.txt")

    it("fails a 20% regression, naming benchmark, unit, delta and p", function()
      local ok, failures = bench.gate(bench.compare(off, slow), { threshold = 0.05, alpha = 0.05 })
      assert.is_false(ok)
      assert.are.equal(3, #failures)
      local f = failures[1]
      assert.are.equal("LookupBatch-2", f.name)
      assert.are.equal("sec/op", f.unit)
      assert.is_true(math.abs(f.delta_pct - 20) < 0.1)
      assert.is_true(f.p < 0.05)
      assert.matches("^LookupBatch%-2 %[goos=linux goarch=amd64 pkg=example.com/shop/cmd/shop "
        .. "cpu=Intel%(R%) Xeon%(R%) Processor%] sec/op: %+20%.%d%d%% %(slow.txt vs off.txt, "
        .. "p=0.000%) is worse than the 5.00%% threshold$", f.message)
      assert.are.equal("Get95-2", failures[3].name)
    end)

    it("passes the real A/B (no significant change) and an improvement", function()
      local on = bench.parse(helpers.read_file(AB .. "on.txt"), "on.txt")
      assert.is_true((bench.gate(bench.compare(off, on))))
      assert.is_true((bench.gate(bench.compare(slow, off))))
    end)

    it("passes a regression below the threshold", function()
      assert.is_true((bench.gate(bench.compare(off, slow), { threshold = 0.25 })))
    end)

    it("inverts higher-is-better units (MB/s, custom .../s, better=higher)", function()
      local function lines(fmtv, vals)
        local t = {}
        for _, v in ipairs(vals) do t[#t + 1] = fmtv:format(v) end
        return table.concat(t, "\n")
      end
      local base = bench.parse(lines("BenchmarkX 1 %d MB/s", { 100, 101, 102, 103, 104, 105 }), "a")
      local drop = bench.parse(lines("BenchmarkX 1 %d MB/s", { 80, 81, 82, 83, 84, 85 }), "b")
      local rise = bench.parse(lines("BenchmarkX 1 %d MB/s", { 120, 121, 122, 123, 124, 125 }), "c")
      local ok, failures = bench.gate(bench.compare(base, drop))
      assert.is_false(ok)
      assert.are.equal("B/s", failures[1].unit)
      assert.is_true((bench.gate(bench.compare(base, rise))))
      local q1 = bench.parse(lines("BenchmarkX 1 %d req/s", { 100, 101, 102, 103, 104, 105 }), "a")
      local q2 = bench.parse(lines("BenchmarkX 1 %d req/s", { 50, 51, 52, 53, 54, 55 }), "b")
      assert.is_false((bench.gate(bench.compare(q1, q2))))
      local m1 = bench.parse("Unit score better=higher\n" ..
        lines("BenchmarkX 1 %d score", { 100, 101, 102, 103, 104, 105 }), "a")
      local m2 = bench.parse(lines("BenchmarkX 1 %d score", { 50, 51, 52, 53, 54, 55 }), "b")
      assert.is_false((bench.gate(bench.compare(m1, m2))))
    end)
  end)
end)

describe("pgo.bench follows benchstat where it departs from the textbook", function()
  it("uses go-moremath's sum for two tie groups (benchstat prints p=0.971 here)", function()
    local _, p = bench.utest({ 5, 6, 5, 5, 6 }, { 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 })
    assert.near(2 * 3003 / 6188, p, 1e-12)
  end)

  it("keeps a zero value in the unit it was written in (0 ns/op is not sec/op)", function()
    local set = assert(bench.parse("BenchmarkA 1 0 ns/op\nBenchmarkB 1 5 ns/op\n", "x"))
    assert.same({ "ns/op", "sec/op" }, set.units)
  end)
end)
