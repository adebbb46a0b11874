-- Specs for pgo.merge / pgo.merge_files (src/profile/merge.c, src/lua/transform.c).
-- Oracles: expected/merge/ (go tool pprof -proto shop.p1 shop.p2 shop.p3) and
-- pprof-examples/tiny_plus_tiny2.merged.* (pprof -proto tiny tiny2).
-- Tests named #integration run `go tool pprof` (Go 1.23) and are pending without it.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"

local F = helpers.fixture
local X = function(name) return F("pprof-examples/" .. name) end
local SHOP = { F("profiles/shop.p1.pgo"), F("profiles/shop.p2.pgo"), F("profiles/shop.p3.pgo") }

-- stack (names, leaf first) + sorted labels -> summed values
local stack_table = helpers.stack_table

-- The samples in order: {values, "leaf;...;root", "k=v,..."}.
local function sample_list(p)
  local out = {}
  for values, stack, labels in p:samples() do
    local keys = {}
    for k, v in pairs(labels) do keys[#keys + 1] = k .. "=" .. tostring(v) end
    table.sort(keys)
    out[#out + 1] = { values, table.concat(stack, ";"), table.concat(keys, ",") }
  end
  return out
end

-- Samples of a `pprof -raw` dump in the same shape (location ids resolved to the
-- function names of their lines).
local function raw_samples(text)
  local locs, cur = {}, nil
  local section
  local samples = {}
  for line in text:gmatch("[^\n]*") do
    if line == "Samples:" then section = "samples"
    elseif line == "Locations" then section = "locations"
    elseif line == "Mappings" then section = "mappings"
    elseif section == "samples" then
      local vals, ids = line:match("^%s+([%d%s-]+):%s*([%d%s]*)$")
      if vals then
        local values = {}
        for v in vals:gmatch("%-?%d+") do values[#values + 1] = tonumber(v) end
        local list = {}
        for id in ids:gmatch("%d+") do list[#list + 1] = tonumber(id) end
        samples[#samples + 1] = { values, list, {} }
      else
        local k, v = line:match("^%s+(%S+):%[(.*)%]%s*$")
        if k and #samples > 0 then
          local l = samples[#samples][3]
          l[#l + 1] = k .. "=" .. v
        end
      end
    elseif section == "locations" then
      local id, rest = line:match("^%s+(%d+): 0x%x+ M=%d+ (.*)$")
      if id then
        cur = {}
        locs[tonumber(id)] = cur
        cur[#cur + 1] = rest:match("^(%S+)")
      elseif cur and line:match("^%s+%S") then
        cur[#cur + 1] = line:match("^%s+(%S+)")
      end
    end
  end
  local out = {}
  for i, s in ipairs(samples) do
    local names = {}
    for _, id in ipairs(s[2]) do
      for _, n in ipairs(locs[id]) do names[#names + 1] = n end
    end
    table.sort(s[3])
    out[i] = { s[1], table.concat(names, ";"), table.concat(s[3], ",") }
  end
  return out
end

local function totals_file()
  local t = {}
  for line in io.lines(F("expected/merge/totals.txt")) do
    local name, c, n = line:match("^(%S+) (%d+) (%d+)$")
    if name then t[name] = { tonumber(c), tonumber(n) } end
  end
  return t
end

-- A profile from pbwriter's valid one, with time_nanos replaced (nil = field absent).
local function with_time(t)
  local fields = {}
  for _, f in ipairs(pb.valid_profile()) do
    if f[1] ~= 9 then fields[#fields + 1] = f end
  end
  if t then fields[#fields + 1] = { 9, "varint", t } end
  return assert(pgo.decode(pb.encode(fields)))
end

-- The message fn raises. Lua names a C function after where it finds it ('merge' or
-- 'pgo.merge'), so specs compare the text after the name.
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^ ]-:%d+: ", ""):gsub("^bad argument (#%d+) to '[%w_.?]*'", "bad argument %1"))
end

local function go_raw(path)
  local go = helpers.go()
  local out, err, code = helpers.run(helpers.shq(go) .. " tool pprof -raw " .. helpers.shq(path))
  return out, err, code
end

describe("pgo.merge()", function()
  it("merges shop.p1+p2+p3 like `go tool pprof -proto` (expected/merge/merged.pgo)", function()
    local ps = {}
    for i, path in ipairs(SHOP) do ps[i] = assert(pgo.load(path)) end
    local m = assert(pgo.merge(ps))
    local want = assert(pgo.load(F("expected/merge/merged.pgo")))
    local mi, wi = m:info(), want:info()
    local totals = totals_file()
    assert.same(totals["merged.pgo"], mi.totals)
    -- the inputs' sums, exactly
    local sum = { 0, 0 }
    for _, p in ipairs(ps) do
      local t = p:info().totals
      sum[1], sum[2] = sum[1] + t[1], sum[2] + t[2]
    end
    assert.same(sum, mi.totals)
    -- 2486 Sample messages in merged.pgo; our model combines equal stack+labels, so
    -- the oracle and the merge both count 2486
    assert.equal(2486, wi.sample_records)
    assert.equal(2486, mi.sample_records)
    assert.equal(36475132145, mi.duration_ns)     -- 36.48s, the sum of the durations
    assert.equal(wi.duration_ns, mi.duration_ns)
    assert.equal(wi.time_ns, mi.time_ns)
    assert.equal(wi.period, mi.period)
    assert.equal(wi.functions, mi.functions)      -- 541
    assert.equal(wi.locations, mi.locations)      -- 1824
    assert.equal(wi.mappings, mi.mappings)        -- 1
    assert.same(stack_table(want), stack_table(m))
    -- order of first appearance, sample by sample
    assert.same(sample_list(want), sample_list(m))
  end)

  it("merges tiny+tiny2 as tiny_plus_tiny2.merged.raw.txt says", function()
    local a, b = assert(pgo.load(X("tiny.pb.gz"))), assert(pgo.load(X("tiny2.pb.gz")))
    local m = assert(pgo.merge { a, b })
    local info = m:info()
    assert.equal(1600000000000000000, info.time_ns)    -- tiny2's, the smaller one
    assert.equal(15000000000, info.duration_ns)
    assert.same({ "tiny fixture", "second" }, info.comments)
    assert.equal(10000000, info.period)
    assert.same({ 627, 6270000000 }, info.totals)
    assert.same(raw_samples(helpers.read_file(X("tiny_plus_tiny2.merged.raw.txt"))),
      sample_list(m))
    -- and the oracle file itself decodes to the same samples
    assert.same(sample_list(assert(pgo.load(X("tiny_plus_tiny2.merged.pb.gz")))), sample_list(m))
  end)

  it("also accepts the profiles as arguments", function()
    local a, b = assert(pgo.load(X("tiny.pb.gz"))), assert(pgo.load(X("tiny2.pb.gz")))
    assert.same(sample_list(pgo.merge { a, b }), sample_list(pgo.merge(a, b)))
  end)

  it("keeps pprof's time_nanos quirk: [t, 0] gives 0, [0, t] gives t", function()
    local t, z = with_time(1700000000000000000), with_time(nil)
    assert.equal(0, pgo.merge { t, z }:info().time_ns)
    assert.equal(1700000000000000000, pgo.merge { z, t }:info().time_ns)
    assert.equal(1700000000000000000, pgo.merge { z, t, t }:info().time_ns)
    assert.equal(5, pgo.merge { with_time(7), with_time(5) }:info().time_ns)
  end)

  it("takes the largest period, sums durations, unions comments", function()
    local a, b = assert(pgo.load(X("tiny.pb.gz"))), assert(pgo.load(X("tiny2.pb.gz")))
    local m = pgo.merge { a, b, a, b }
    local info = m:info()
    assert.equal(30000000000, info.duration_ns)
    assert.same({ "tiny fixture", "second" }, info.comments)
    assert.same({ 1254, 12540000000 }, info.totals)
  end)

  it("is associative up to numbering: merge{merge{a,b},c} == merge{a,b,c}", function()
    local ps = {}
    for i, path in ipairs(SHOP) do ps[i] = assert(pgo.load(path)) end
    local left = pgo.merge { pgo.merge { ps[1], ps[2] }, ps[3] }
    local all = pgo.merge(ps)
    assert.same(stack_table(all), stack_table(left))
    assert.same(all:info().totals, left:info().totals)
  end)

  it("passes a single profile through unchanged (as pprof -proto does), as a new object", function()
    local a = assert(pgo.load(X("tiny.pb.gz")))
    local m = assert(pgo.merge { a })
    assert.are_not.equal(a, m)
    assert.same(a:info(), m:info())
    assert.same(sample_list(a), sample_list(m))
    m:close()
    assert.equal(507, a:info().totals[1])   -- the original is independent
  end)

  it("p:compact() is pprof's Compact (merge of one profile)", function()
    local a = assert(pgo.load(F("profiles/shop.p1.pgo")))
    local c = assert(a:compact())
    assert.same(a:info().totals, c:info().totals)
    assert.same(stack_table(a), stack_table(c))
    assert.is_true(c:info().locations <= a:info().locations)
  end)

  it("joins mappings by size/offset/file and shifts addresses of a relocated one", function()
    -- the same binary loaded at 0x400000 and at 0x800000: one mapping, one location
    local function prof(start, addr)
      local f = pb.valid_profile()
      f[#f + 1] = { 3, "msg", { { 1, "varint", 1 }, { 2, "varint", start },
        { 3, "varint", start + 0x100000 }, { 5, "varint", 6 } } }
      f[5] = { 4, "msg", { { 1, "varint", 1 }, { 2, "varint", 1 }, { 3, "varint", addr },
        { 4, "msg", { { 1, "varint", 1 }, { 2, "varint", 12 } } } } }
      return assert(pgo.decode(pb.encode(f)))
    end
    local m = assert(pgo.merge { prof(0x400000, 0x401000), prof(0x800000, 0x801000) })
    local info = m:info()
    assert.equal(1, info.mappings)
    assert.equal(2, info.locations)
    assert.equal(2, info.sample_records)
    assert.same({ 8, 80 }, info.totals)
  end)

  it("keeps samples with different labels apart and joins equal label sets", function()
    local a = assert(pgo.load(X("tiny.pb.gz")))
    local t = stack_table(pgo.merge { a, a })
    assert.same({ 600, 6000000000 }, t["main.foo;main.main|worker=a"])
    assert.same({ 10, 100000000 }, t["main.foo;main.main|worker=b"])
  end)

  it("leaves no samples when a profile is merged with its negation (scale -1)", function()
    local a = assert(pgo.load(X("tiny.pb.gz")))
    local m = assert(pgo.merge { a, assert(a:scale(-1)) })
    local info = m:info()
    assert.equal(0, info.sample_records)
    assert.same({ 0, 0 }, info.totals)
    assert.equal(0, info.locations)
    assert.equal(0, info.functions)
    assert.equal(1, info.mappings)    -- the main binary's mapping is always kept first
    assert.equal(20000000000, info.duration_ns)
    assert.truthy(m:encode())
  end)

  it("returns nil, message, 'incompatible' for different sample types", function()
    local a = assert(pgo.load(X("tiny.pb.gz")))
    local h = assert(pgo.load(F("bad/heap.pb.gz")))
    local m, msg, code = pgo.merge { a, h }
    assert.is_nil(m)
    assert.equal("incompatible", code)
    assert.matches("incompatible period types: profile #2 has period type space/bytes but"
      .. " profile #1 has cpu/nanoseconds", msg, 1, true)
    -- same period type, different sample types
    local fields = pb.valid_profile()
    fields[2] = { 1, "msg", { { 1, "varint", 3 }, { 2, "varint", 2 } } }   -- cpu/count
    local odd = assert(pgo.decode(pb.encode(fields)))
    m, msg, code = pgo.merge { a, a, odd }
    assert.is_nil(m)
    assert.equal("incompatible", code)
    assert.matches("incompatible sample types: profile #3 has [samples/count cpu/count] but"
      .. " profile #1 has [samples/count cpu/nanoseconds]", msg, 1, true)
  end)

  it("raises for an empty list or a non-profile", function()
    assert.equal("bad argument #1 (at least one profile expected)",
      raised(function() pgo.merge {} end))
    local a = assert(pgo.load(X("tiny.pb.gz")))
    assert.equal("bad argument #1 (pgo.profile expected at index 2, got string)",
      raised(function() pgo.merge { a, "x" } end))
    a:close()
    assert.has_error(function() pgo.merge { a } end, "attempt to use a closed profile")
  end)

  it("merges ten profiles (speed: make bench)", function()
    local ps = {}
    for i = 1, 10 do ps[i] = assert(pgo.load(SHOP[(i - 1) % 3 + 1])) end
    local m = assert(pgo.merge(ps))
    local t = totals_file()
    local want = 0
    for i = 1, 10 do want = want + t[({ "shop.p1.pgo", "shop.p2.pgo", "shop.p3.pgo" })[(i - 1) % 3 + 1]][1] end
    assert.equal(want, m:info().totals[1])
  end)

  it("writes a merge `go tool pprof -raw` prints exactly as merged.raw.txt #integration", function()
    if not helpers.go() then pending("Go 1.21+ not found: needs `go tool pprof` (Go 1.23 at /usr/lib/go-1.23/bin/go)") return end
    local dir = helpers.tmpdir()
    local m = assert(pgo.merge_files(SHOP))
    assert(m:write(dir .. "/merged.pgo"))
    local out, err, code = go_raw(dir .. "/merged.pgo")
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(F("expected/merge/merged.raw.txt")), out)
    local a, b = assert(pgo.load(X("tiny.pb.gz"))), assert(pgo.load(X("tiny2.pb.gz")))
    assert(pgo.merge { a, b }:write(dir .. "/tt.pgo"))
    out, err, code = go_raw(dir .. "/tt.pgo")
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(X("tiny_plus_tiny2.merged.raw.txt")), out)
    helpers.rm_rf(dir)
  end)
end)

describe("pgo.merge_files()", function()
  it("streams the files into the same result as pgo.merge", function()
    local ps = {}
    for i, path in ipairs(SHOP) do ps[i] = assert(pgo.load(path)) end
    local m = assert(pgo.merge_files(SHOP))
    local want = pgo.merge(ps)
    assert.same(want:info(), m:info())
    assert.same(sample_list(want), sample_list(m))
  end)

  it("returns one file as loaded (passthrough)", function()
    local m = assert(pgo.merge_files { SHOP[1] })
    local a = assert(pgo.load(SHOP[1]))
    assert.same(a:info(), m:info())
  end)

  it("names the file that is incompatible or unreadable", function()
    local m, msg, code = pgo.merge_files { X("tiny.pb.gz"), F("bad/heap.pb.gz") }
    assert.is_nil(m)
    assert.equal("incompatible", code)
    assert.matches(F("bad/heap.pb.gz") .. " has period type space/bytes", msg, 1, true)
    m, msg, code = pgo.merge_files { X("tiny.pb.gz"), "/nonexistent/x.pgo" }
    assert.is_nil(m)
    assert.equal("not_found", code)
    assert.matches("/nonexistent/x.pgo", msg, 1, true)
    m, msg, code = pgo.merge_files { X("tiny.pb.gz"), F("bad/truncated.pgo") }
    assert.is_nil(m)
    assert.matches("truncated.pgo: ", msg, 1, true)
    assert.is_string(code)
  end)

  it("raises for an empty list or a non-string", function()
    assert.equal("bad argument #1 (at least one path expected)",
      raised(function() pgo.merge_files {} end))
    assert.equal("bad argument #1 (string expected at index 1, got number)",
      raised(function() pgo.merge_files { 1 } end))
  end)
end)
