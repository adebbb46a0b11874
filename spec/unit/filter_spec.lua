-- Specs for p:filter(): pprof's focus/ignore/hide/show/show_from/prune_from and tag
-- filters (src/profile/filter.c). Expected numbers come from the reference
-- (shared/docs/pprof-pgo-reference.md d.2, d.3) and, for the hand-made profile with
-- numeric labels below, from running Go 1.23.5's `go tool pprof -top -tagfocus=...` on
-- exactly that profile.
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

-- Sum of flat over every node (no trimming). Extra arguments (filter warnings) ignored.
local function shown(p)
  local _, info = p:top{ trim = false }
  return info.shown
end

-- A CPU profile with numeric labels (bytes with unit, request without, lat in ms) and a
-- string label key carrying two values on one sample. main.f/main.g under main.main.
--   S1 f<-main      1 (10ms)  bytes=64B worker=a
--   S2 g<-main      2 (20ms)  bytes=2048B worker=b worker=c
--   S3 f<-g<-main   3 (30ms)  request=1024
--   S4 g<-main      4 (40ms)  bytes=1MiB lat=5ms
--   S5 main         5 (50ms)  lat=1500ms
local function numeric_profile()
  local strings = { "", "samples", "count", "cpu", "nanoseconds", "main.main", "main.f",
    "main.g", "main.go", "bytes", "worker", "a", "b", "c", "request", "lat", "milliseconds",
    "/srv/app" }
  local S = {}
  for i, s in ipairs(strings) do S[s] = i - 1 end
  local function vt(t, u) return { { 1, "varint", S[t] }, { 2, "varint", S[u] } } end
  local function num(key, v, unit)
    local l = { { 1, "varint", S[key] }, { 3, "varint", v } }
    if unit then l[#l + 1] = { 4, "varint", S[unit] } end
    return { 3, "msg", l }
  end
  local function str(key, v)
    return { 3, "msg", { { 1, "varint", S[key] }, { 2, "varint", S[v] } } }
  end
  local function sample(locs, n, labels)
    local m = {}
    for _, l in ipairs(locs) do m[#m + 1] = { 1, "varint", l } end
    m[#m + 1] = { 2, "varint", n }
    m[#m + 1] = { 2, "varint", n * 10000000 }
    for _, l in ipairs(labels) do m[#m + 1] = l end
    return { 2, "msg", m }
  end
  local f = {
    { 1, "msg", vt("samples", "count") }, { 1, "msg", vt("cpu", "nanoseconds") },
    sample({ 2, 1 }, 1, { num("bytes", 64, "bytes"), str("worker", "a") }),
    sample({ 3, 1 }, 2, { num("bytes", 2048, "bytes"), str("worker", "b"), str("worker", "c") }),
    sample({ 2, 3, 1 }, 3, { num("request", 1024) }),
    sample({ 3, 1 }, 4, { num("bytes", 1048576, "bytes"), num("lat", 5, "milliseconds") }),
    sample({ 1 }, 5, { num("lat", 1500, "milliseconds") }),
    { 3, "msg", { { 1, "varint", 1 }, { 2, "varint", 0x400000 }, { 3, "varint", 0x500000 },
      { 5, "varint", S["/srv/app"] }, { 7, "varint", 1 } } },
  }
  for i, fn in ipairs{ "main.main", "main.f", "main.g" } do
    f[#f + 1] = { 4, "msg", { { 1, "varint", i }, { 2, "varint", 1 },
      { 3, "varint", 0x401000 + i * 16 },
      { 4, "msg", { { 1, "varint", i }, { 2, "varint", 10 * i + 2 } } } } }
    f[#f + 1] = { 5, "msg", { { 1, "varint", i }, { 2, "varint", S[fn] }, { 3, "varint", S[fn] },
      { 4, "varint", S["main.go"] }, { 5, "varint", 10 * i } } }
  end
  for _, s in ipairs(strings) do f[#f + 1] = { 6, "bytes", s } end
  f[#f + 1] = { 9, "varint", 1700000000000000000 }
  f[#f + 1] = { 10, "varint", 1000000000 }
  f[#f + 1] = { 11, "msg", vt("cpu", "nanoseconds") }
  f[#f + 1] = { 12, "varint", 10000000 }
  return assert(pgo.decode(pb.encode(f)))
end

describe("p:filter()", function()
  it("returns a new profile and leaves the original unchanged", function()
    local p = tiny()
    local before = pgo.report.top(p)
    local info = p:info()
    local q, warnings = p:filter{ focus = "bar", tagfocus = "worker=a" }
    assert.equal("pgo.profile", getmetatable(q).__name)
    assert.are_not.equal(p, q)
    assert.same({}, warnings)
    assert.equal(before, pgo.report.top(p))
    assert.same(info, p:info())
    assert.equal(90000000, shown(q))
    -- the new profile stands alone: close the original, then use and re-encode it
    p:close()
    local r = assert(pgo.decode(q:encode()))
    assert.same(q:info().totals, r:info().totals)
  end)

  it("focus keeps samples through a matching frame (reference d.2)", function()
    local q = tiny():filter{ focus = "bar" }
    assert.equal(1590000000, shown(q))
    local r = by_name(q:top{ trim = false })
    assert.equal(1500000000, r["main.baz"].flat)
    assert.equal(90000000, r["main.foo"].cum)
  end)

  it("matches file and mapping names too, unanchored", function()
    assert.equal(5070000000, shown(tiny():filter{ focus = "main.go" }))
    assert.equal(5070000000, shown(tiny():filter{ focus = "bin/app" }))
    assert.equal(0, shown(tiny():filter{ focus = "^main$" }))
  end)

  it("ignore wins over focus", function()
    local q = tiny():filter{ focus = "main", ignore = "foo" }
    assert.equal(5070000000 - 3140000000, shown(q))
  end)

  it("hide removes frames, show keeps only matching ones", function()
    local r = by_name(tiny():filter{ hide = "baz" }:top{ trim = false })
    assert.is_nil(r["main.baz"])
    assert.equal(1590000000, r["main.bar"].flat)   -- bar becomes the leaf of S2 and S4
    local s = by_name(tiny():filter{ show = "foo|rec" }:top{ trim = false })
    assert.same({ "main.foo", "main.rec" }, (function()
      local t = {}
      for k in pairs(s) do t[#t + 1] = k end
      table.sort(t)
      return t
    end)())
  end)

  it("show_from drops the frames above the outermost match", function()
    local r = by_name(tiny():filter{ show_from = "foo" }:top{ trim = false })
    assert.is_nil(r["main.main"])
    assert.equal(3140000000, r["main.foo"].cum)
  end)

  it("prune_from makes the matching frame the leaf (reference d.2)", function()
    local r = by_name(tiny():filter{ prune_from = "foo" }:top{ trim = false })
    assert.equal(3140000000, r["main.foo"].flat)
    assert.equal(0, r["main.bar"].flat)            -- S4's bar frame is cut below foo
    assert.equal(1500000000, r["main.bar"].cum)    -- S2 (baz inlined in bar) stays
  end)

  it("tagfocus with key=value and with a bare regexp over key:value", function()
    assert.equal(3090000000, shown(tiny():filter{ tagfocus = "worker=a" }))
    assert.equal(1550000000, shown(tiny():filter{ tagfocus = "b" }))
    assert.equal(1550000000, shown(tiny():filter{ tagfocus = "worker:b" }))
    assert.equal(4640000000, shown(tiny():filter{ tagfocus = "worker=a,b" }))
    assert.equal(5070000000 - 3090000000, shown(tiny():filter{ tagignore = "worker=a" }))
  end)

  it("follows pprof on every tagfocus form of a profile with numeric labels", function()
    -- {expression, shown by go tool pprof, its stderr}
    local cases = {
      { "bytes=64", 0, { "tagfocus:Interpreted '64' as range, not regexp",
        "TagFocus expression matched no samples" } },          -- no unit: "" is not "B"
      { "bytes=1kb:", 60000000, { "tagfocus:Interpreted '1kb:' as range, not regexp" } },
      { "bytes=:1kb", 10000000, { "tagfocus:Interpreted ':1kb' as range, not regexp" } },
      { "bytes=1kb:2mb", 60000000, { "tagfocus:Interpreted '1kb:2mb' as range, not regexp" } },
      { "2kb", 20000000, { "tagfocus:Interpreted '2kb' as range, not regexp" } },
      { "lat=1s:", 50000000, { "tagfocus:Interpreted '1s:' as range, not regexp" } },
      { "lat=5ms", 40000000, { "tagfocus:Interpreted '5ms' as range, not regexp" } },
      { "request=1kb", 30000000, { "tagfocus:Interpreted '1kb' as range, not regexp" } },
      { "worker=c", 20000000, {} },
      { "worker=b,a", 30000000, {} },
      { "a", 10000000, {} },
      { "worker:c", 20000000, {} },
      { "a,b", 0, { "TagFocus expression matched no samples" } },
      { "worker=", 30000000, {} },
      { "bytes=1kb:1ms", 0, { "TagFocus expression matched no samples" } },
      { "lat=1500", 0, { "tagfocus:Interpreted '1500' as range, not regexp",
        "TagFocus expression matched no samples" } },
      { "lat=1500ms", 50000000, { "tagfocus:Interpreted '1500ms' as range, not regexp" } },
    }
    local p = numeric_profile()
    for _, c in ipairs(cases) do
      local q, warnings = p:filter{ tagfocus = c[1] }
      assert.equal(c[2], shown(q), c[1])
      assert.same(c[3], warnings, c[1])
    end
  end)

  it("tagshow and taghide remove label keys but keep the samples", function()
    local p = numeric_profile()
    local q, w = p:filter{ taghide = "w" }
    assert.same({}, w)
    local tags, keys = q:tags()
    assert.same({ "bytes", "lat", "request" }, keys)
    assert.is_nil(tags.worker)
    assert.equal(150000000, shown(q))
    local _, keys2 = p:filter{ tagshow = "^worker$" }:tags()
    assert.same({ "worker" }, keys2)
    local _, w3 = p:filter{ tagshow = "zzz", taghide = "zzz" }
    assert.same({ "TagShow expression matched no samples",
      "TagHide expression matched no samples" }, w3)
  end)

  it("reports pprof's warnings for options that matched nothing, in pprof's order", function()
    local _, w = tiny():filter{ focus = "nothing", ignore = "nothing", hide = "nothing",
      show = "nothing", show_from = "nothing", tagfocus = "nothing", tagignore = "nothing" }
    assert.same({ "Focus expression matched no samples", "Ignore expression matched no samples",
      "Hide expression matched no samples", "Show expression matched no samples",
      "ShowFrom expression matched no samples", "TagFocus expression matched no samples",
      "TagIgnore expression matched no samples" }, w)
    local q, w2 = assert(pgo.load(F("profiles/micro.pgo"))):filter{ tagfocus = "endpoint=/slow" }
    assert.same({ "TagFocus expression matched no samples" }, w2)
    assert.equal(0, shown(q))
  end)

  it("treats an empty option as unset, as pprof does", function()
    local q, w = tiny():filter{ focus = "" }
    assert.same({}, w)
    assert.equal(5070000000, shown(q))
  end)

  it("takes Go's RE2 syntax: (?i), \\d, \\w, (?:...), \\b, non-greedy, \\pL, \\Q..\\E", function()
    assert.equal(5070000000, shown(tiny():filter{ focus = "(?:nothing|main\\.main)" }))
    local f = shown(tiny():filter{ focus = "^main\\.bar$" })
    assert.is_true(f > 0 and f < 5070000000)
    assert.equal(f, shown(tiny():filter{ focus = "\\bmain\\.bar\\b" }))
    assert.equal(0, shown(tiny():filter{ focus = "\\bain\\.bar\\b" }))
    assert.equal(5070000000, shown(tiny():filter{ focus = "m.*?n\\.\\pL+$" }))
    assert.equal(5070000000, shown(tiny():filter{ focus = "\\Qmain.main\\E" }))
  end)

  it("rejects what Go's regexp rejects, and a match over PCRE2's backtracking limit", function()
    local p = tiny()
    for pat, why in pairs { ["(a)\\1"] = "backreference", ["a(?=b)"] = "lookahead",
                            ["(?<=a)b"] = "lookbehind", ["a*+"] = "invalid nested repetition",
                            ["\\Z"] = "invalid escape sequence \\Z", ["(?#c)"] = "comment" } do
      local ok, err = pcall(p.filter, p, { focus = pat })
      assert.is_false(ok)
      assert.matches("parsing focus regexp '" .. pat .. "': " .. why, err, 1, true)
    end
    local name = string.rep("a", 40) .. "!"
    local q = assert(pgo.decode(pb.cpu_profile { functions = { { name, 1 } },
      locations = { { lines = { { 1, 1 } } } }, samples = { { locs = { 1 }, values = { 1, 10 } } } }))
    local ok, err = pcall(q.filter, q, { focus = "^(a|aa)+$" })
    assert.is_false(ok)
    assert.matches("focus regexp '^(a|aa)+$' needs too much backtracking to match '" .. name .. "'", err, 1, true)
  end)

  it("translates the common RE2 shorthands (\\d, \\w, (?i))", function()
    assert.equal(5070000000, shown(tiny():filter{ focus = "(?i)MAIN\\.MAIN" }))
    assert.equal(1590000000, shown(tiny():filter{ focus = "main\\.b\\w\\w$" }))
    assert.equal(5070000000, shown(tiny():filter{ focus = "go:?\\d*" }))
    assert.equal(0, shown(tiny():filter{ focus = "\\d\\d\\d\\d" }))
  end)

  it("raises on a bad regular expression, naming the option", function()
    local p = tiny()
    local ok, err = pcall(p.filter, p, { focus = "main.(foo" })
    assert.is_false(ok)
    assert.matches("^bad argument #1 to 'filter' %(parsing focus regexp 'main%.%(foo': ", err)
    ok, err = pcall(p.filter, p, { tagfocus = "worker=a(" })
    assert.is_false(ok)
    assert.matches("parsing tagfocus regexp 'a%(':", err)
  end)

  it("raises on unknown options and wrong types", function()
    local p = tiny()
    assert.has_error(function() p:filter{ fcous = "x" } end,
      "bad argument #1 to 'filter' (unknown option 'fcous')")
    assert.has_error(function() p:filter{ focus = 3 } end,
      "bad argument #1 to 'filter' (option 'focus' must be a string, got number)")
    assert.has_error(function() p:filter() end)
  end)
end)

describe("p:tags()", function()
  it("sums the value column per label value, in pprof's order", function()
    local tags, keys = tiny():tags()
    assert.same({ "worker" }, keys)
    assert.same({ { value = "a", total = 3090000000 }, { value = "b", total = 1550000000 } },
      tags.worker)
    local counts = tiny():tags{ sample_index = "samples" }
    assert.same({ { value = "a", total = 309 }, { value = "b", total = 155 } }, counts.worker)
  end)

  it("formats numeric labels with their unit and counts every value of a sample", function()
    local tags, keys = numeric_profile():tags()
    assert.same({ "bytes", "lat", "request", "worker" }, keys)
    assert.same({ { value = "1MB", total = 40000000 }, { value = "2kB", total = 20000000 },
      { value = "64B", total = 10000000 } }, tags.bytes)
    assert.same({ { value = "1.50s", total = 50000000 }, { value = "5ms", total = 40000000 } },
      tags.lat)
    assert.same({ { value = "1kB", total = 30000000 } }, tags.request)   -- inferred: bytes
    assert.same({ { value = "b", total = 20000000 }, { value = "c", total = 20000000 },
      { value = "a", total = 10000000 } }, tags.worker)
  end)

  it("returns empty tables for a profile without labels", function()
    local tags, keys = assert(pgo.load(F("profiles/micro.pgo"))):tags()
    assert.same({}, tags)
    assert.same({}, keys)
  end)
end)
