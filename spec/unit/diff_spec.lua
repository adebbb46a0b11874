-- Specs for p:diff (pprof -base / -diff_base) and the per-function delta table
-- (pgo.diff_table, p:delta). Oracles: pprof-examples/tiny_minus_tiny2.base.top.txt,
-- tiny_vs_tiny2.diff_base.top.txt, expected/diff/p2-base-p1.top.txt.
-- #integration tests run `go tool pprof` (Go 1.23) and are pending without it.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture
local X = function(name) return F("pprof-examples/" .. name) end

local stack_table = helpers.stack_table

-- Σ|value| of column col, over all samples or only those labelled pprof::base
local function abs_total(p, col, base_only)
  local s = 0
  for values, _, labels in p:samples() do
    if not base_only or labels["pprof::base"] then s = s + math.abs(values[col]) end
  end
  return s
end

local function tiny() return assert(pgo.load(X("tiny.pb.gz"))), assert(pgo.load(X("tiny2.pb.gz"))) end

-- Text without the "Time:" line (pprof HEAD and Go 1.23's pprof print it differently).
local function untimed(s) return (s:gsub("Time: [^\n]*\n", "")) end

local function go_cmd(args)
  return helpers.run(helpers.shq(helpers.go()) .. " tool pprof " .. args)
end

describe("p:diff(base) (pprof -base)", function()
  it("subtracts the base: equal samples cancel, the rest stays signed", function()
    local a, b = tiny()
    local d = assert(a:diff(b))
    local info = d:info()
    assert.same({ 507 - 120, 5070000000 - 1200000000 }, info.totals)
    assert.equal(4270000000, abs_total(d, 2))          -- "Total samples = 4.27s"
    local t = stack_table(d)
    assert.same({ 200, 2000000000 }, t["main.foo;main.main|worker=a"])
    assert.same({ -20, -200000000 }, t["main.rec;main.main|"])
    assert.same({ 150, 1500000000 }, t["main.baz;main.bar;main.main|worker=b"])
    -- the header follows merge rules, source first
    assert.equal(15000000000, info.duration_ns)
    assert.equal(1600000000000000000, info.time_ns)
    assert.same({ "tiny fixture", "second" }, info.comments)
  end)

  it("leaves no samples for a profile minus itself", function()
    local a = tiny()
    local d = assert(a:diff(a))
    assert.equal(0, d:info().sample_records)
    assert.same({ 0, 0 }, d:info().totals)
  end)

  it("does not change either input", function()
    local a, b = tiny()
    local ai, bi = a:info(), b:info()
    assert(a:diff(b))
    assert.same(ai, a:info())
    assert.same(bi, b:info())
  end)

  it("merges a list of base profiles first", function()
    local a, b = tiny()
    assert.same(stack_table(a:diff(pgo.merge { b, b })), stack_table(a:diff { b, b }))
    assert.same(stack_table(a:diff(b)), stack_table(a:diff { b }))
  end)

  it("returns nil, message, 'incompatible' for a base of another kind", function()
    local a = tiny()
    local d, msg, code = a:diff(assert(pgo.load(F("bad/heap.pb.gz"))))
    assert.is_nil(d)
    assert.equal("incompatible", code)
    assert.matches("the base profile has period type space/bytes", msg, 1, true)
  end)

  it("raises for a base that is not a profile", function()
    local a = tiny()
    assert.has_error(function() a:diff("x") end,
      "bad argument #1 to 'diff' (pgo.profile expected, got string)")
  end)

  it("matches expected/diff/p2-base-p1.top.txt under `go tool pprof -top` #integration", function()
    if not helpers.go() then pending("Go 1.21+ not found: needs `go tool pprof` (Go 1.23 at /usr/lib/go-1.23/bin/go)") return end
    local p1 = assert(pgo.load(F("profiles/shop.p1.pgo")))
    local p2 = assert(pgo.load(F("profiles/shop.p2.pgo")))
    local dir = helpers.tmpdir()
    assert(p2:diff(p1):write(dir .. "/d.pgo"))
    local out, err, code = go_cmd("-top " .. helpers.shq(dir .. "/d.pgo"))
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(F("expected/diff/p2-base-p1.top.txt")), out)
    -- tiny - tiny2 against pprof HEAD's output (Go 1.23 prints the time differently)
    local a, b = tiny()
    assert(a:diff(b):write(dir .. "/t.pgo"))
    out, err, code = go_cmd("-top " .. helpers.shq(dir .. "/t.pgo"))
    assert.equal(0, code, err)
    assert.equal(untimed(helpers.read_file(X("tiny_minus_tiny2.base.top.txt"))), untimed(out))
    helpers.rm_rf(dir)
  end)
end)

describe("p:diff(base, {diff_base = true}) (pprof -diff_base)", function()
  it("labels the negated base samples pprof::base=true so they do not cancel", function()
    local a, b = tiny()
    local d = assert(a:diff(b, { diff_base = true }))
    local t = stack_table(d)
    assert.same({ 300, 3000000000 }, t["main.foo;main.main|worker=a"])
    assert.same({ -100, -1000000000 }, t["main.foo;main.main|pprof::base=true,worker=a"])
    assert.same({ -20, -200000000 }, t["main.rec;main.main|pprof::base=true"])
    for values, _, labels in d:samples() do
      if labels["pprof::base"] then
        assert.equal("true", labels["pprof::base"])
        assert.is_true(values[1] < 0)
      end
    end
    -- pprof's total for the report: Σ|value| over the base samples only = 1.20s
    assert.equal(1200000000, abs_total(d, 2, true))
    assert.same({ 387, 3870000000 }, d:info().totals)
    -- a profile against itself keeps both halves
    assert.equal(14, assert(a:diff(a, { diff_base = true })):info().sample_records)
  end)

  it("writes what `go tool pprof -proto -diff_base` writes #integration", function()
    if not helpers.go() then pending("Go 1.21+ not found: needs `go tool pprof` (Go 1.23 at /usr/lib/go-1.23/bin/go)") return end
    local dir = helpers.tmpdir()
    local a, b = tiny()
    assert(a:diff(b, { diff_base = true }):write(dir .. "/ours.pgo"))
    local _, err, code = go_cmd("-proto -output " .. helpers.shq(dir .. "/theirs.pgo")
      .. " -diff_base " .. helpers.shq(X("tiny2.pb.gz")) .. " " .. helpers.shq(X("tiny.pb.gz")))
    assert.equal(0, code, err)
    local ours, e1, c1 = go_cmd("-raw " .. helpers.shq(dir .. "/ours.pgo"))
    local theirs, e2, c2 = go_cmd("-raw " .. helpers.shq(dir .. "/theirs.pgo"))
    assert.equal(0, c1, e1)
    assert.equal(0, c2, e2)
    assert.equal(theirs, ours)
    -- and the -top report of our file is pprof's -diff_base report
    local out, err3, code3 = go_cmd("-top " .. helpers.shq(dir .. "/ours.pgo"))
    assert.equal(0, code3, err3)
    assert.equal(untimed(helpers.read_file(X("tiny_vs_tiny2.diff_base.top.txt"))), untimed(out))
    helpers.rm_rf(dir)
  end)

  it("gives pprof's -top tables through pgo.report.top when that exists", function()
    local ok, report = pcall(require, "pgo.report")
    if not ok or type(report) ~= "table" or type(report.top) ~= "function" then
      pending("pgo.report.top is not available in this build (another module's work)")
      return
    end
    local a, b = tiny()
    local text = report.top(assert(a:diff(b)))
    if type(text) ~= "string" then
      pending("pgo.report.top returned a " .. type(text) .. ", not the pprof text")
      return
    end
    assert.equal(untimed(helpers.read_file(X("tiny_minus_tiny2.base.top.txt"))), untimed(text))
    text = report.top(assert(a:diff(b, { diff_base = true })))
    assert.equal(untimed(helpers.read_file(X("tiny_vs_tiny2.diff_base.top.txt"))), untimed(text))
  end)
end)

describe("pgo.diff_table(new, base) / p:delta(base)", function()
  it("lists flat values per function, sorted by |delta|", function()
    local a, b = tiny()
    local rows, sum = pgo.diff_table(a, b, { compare = "values" })
    local names = {}
    for i, r in ipairs(rows) do names[i] = r.name end
    assert.same({ "main.foo", "main.baz", "main.rec", "main.bar", "main.tiny", "main.main" }, names)
    assert.same({ name = "main.foo", before = 1000000000, after = 3050000000,
      delta = 2050000000, delta_pct = 205.0 }, rows[1])
    assert.same({ name = "main.rec", before = 200000000, after = 400000000,
      delta = 200000000, delta_pct = 100.0 }, rows[3])
    assert.is_nil(rows[2].delta_pct)              -- main.baz is new: no percentage
    assert.same({ sample_type = "cpu", unit = "nanoseconds", before = 1200000000,
      after = 5070000000, delta = 3870000000, compared = "values" }, sum)
    assert.same(rows, (a:delta(b, { compare = "values" })))
  end)

  it("reports functions that vanished with a negative delta", function()
    local a, b = tiny()
    local rows = pgo.diff_table(b, a, { sample_index = "samples", compare = "values" })
    local by = {}
    for _, r in ipairs(rows) do by[r.name] = r end
    assert.same({ name = "main.baz", before = 150, after = 0, delta = -150, delta_pct = -100.0 },
      by["main.baz"])
    assert.equal(-205, by["main.foo"].delta)
  end)

  it("supports cum values and a row limit", function()
    local a, b = tiny()
    local rows = pgo.diff_table(a, b, { cum = true, n = 2, sample_index = "samples", compare = "values" })
    assert.equal(2, #rows)
    assert.same({ name = "main.main", before = 120, after = 507, delta = 387,
      delta_pct = 387 * 100 / 120 }, rows[1])
  end)

  it("compares shares when the totals differ (a 20 s and a 12 s capture), and says so", function()
    local new = assert(pgo.load(F("profiles/shop.p1.pgo")))        -- 12 s
    local base = assert(pgo.load(F("profiles/shop.steady.pgo")))   -- 20 s
    local rows, sum = pgo.diff_table(new, base)
    assert.equal("shares", sum.compared)
    assert.matches("^the totals differ %(%d+ before, %d+ after nanoseconds%): each function's share", sum.note)
    local before_sum, after_sum = 0, 0
    for _, r in ipairs(rows) do
      before_sum, after_sum = before_sum + r.before_share, after_sum + r.after_share
      assert.near(r.after / sum.after - r.before / sum.before, r.delta, 1e-12)
      if r.before > 0 then assert.near((r.after_share / r.before_share - 1) * 100, r.delta_pct, 1e-9) end
    end
    -- flat shares cover each profile (but for samples without a stack)
    assert.is_true(before_sum > 0.999 and before_sum <= 1 + 1e-12, before_sum)
    assert.is_true(after_sum > 0.999 and after_sum <= 1 + 1e-12, after_sum)
    -- raw values would call nearly every function down (a shorter capture): shares do not
    local down_values, down_shares = 0, 0
    local vrows = pgo.diff_table(new, base, { compare = "values" })
    for _, r in ipairs(vrows) do if r.delta < 0 then down_values = down_values + 1 end end
    for _, r in ipairs(rows) do if r.delta < 0 then down_shares = down_shares + 1 end end
    assert.is_true(down_shares < down_values)
    -- equal totals: values, no note
    local _, same = pgo.diff_table(base, base)
    assert.equal("values", same.compared)
    assert.is_nil(same.note)
    assert.has_error(function() pgo.diff_table(new, base, { compare = "ratio" }) end,
      "bad argument #3 to 'diff_table' (option 'compare' must be \"auto\", \"shares\" or \"values\")")
  end)

  it("returns nil, message, 'incompatible' when base lacks the sample type", function()
    local a = tiny()
    local rows, msg, code = pgo.diff_table(a, assert(pgo.load(F("bad/heap.pb.gz"))))
    assert.is_nil(rows)
    assert.equal("incompatible", code)
    assert.matches("no sample type cpu/nanoseconds", msg, 1, true)
  end)

  it("raises for wrong arguments", function()
    local a = tiny()
    assert.has_error(function() pgo.diff_table(a, 3) end,
      "bad argument #2 to 'diff_table' (pgo.profile expected, got number)")
    assert.has_error(function() pgo.diff_table(a, a, { sample_index = "nope" }) end)
  end)
end)
