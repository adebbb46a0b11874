-- Specs for the profile edits (src/profile/edit.c, src/lua/transform.c, lua/pgo/edit.lua):
-- rename, drop, keep_frames, anonymize, scale, add_comment, reweight. Each returns a new,
-- valid profile and leaves the original as it was (add_comment alone edits in place).
-- #integration tests check with `go tool pprof -raw` (Go 1.23) and are pending without it.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture
local X = function(name) return F("pprof-examples/" .. name) end

local function tiny() return assert(pgo.load(X("tiny.pb.gz"))) end

local stack_table = helpers.stack_table

-- The uncompressed protobuf bytes of p (to look for strings in its string table).
local function raw_bytes(p)
  local dir = helpers.tmpdir()
  assert(p:write(dir .. "/p.pgo"))
  local out, err, code = helpers.run("gzip -dc " .. helpers.shq(dir .. "/p.pgo"))
  helpers.rm_rf(dir)
  assert.equal(0, code, err)
  return out
end

-- Encode, decode again and compare: the result is a valid profile of ours.
local function roundtrip(p)
  local q = assert(pgo.decode(p:encode()))
  assert.same(stack_table(p), stack_table(q))
  return q
end

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

describe("p:rename()", function()
  it("renames functions from a table, keeping the original unchanged", function()
    local p = tiny()
    local before = stack_table(p)
    local r = assert(p:rename { ["main.foo"] = "DO NOT INLINE: main.foo" })
    local t = stack_table(r)
    assert.same({ 300, 3000000000 }, t["DO NOT INLINE: main.foo;main.main|worker=a"])
    assert.same({ 9, 90000000 }, t["main.bar;DO NOT INLINE: main.foo;main.main|worker=a"])
    assert.is_nil(t["main.foo;main.main|worker=a"])
    assert.same(before, stack_table(p))
    assert.same(p:info().totals, r:info().totals)
    roundtrip(r)
    -- the system name equalled the name, so it is renamed too
    -- (a string table entry is field 6: tag 0x32, then the length)
    local bytes = raw_bytes(r)
    assert.is_true(has(bytes, "DO NOT INLINE: main.foo"))
    assert.is_false(has(bytes, "\x32\x08main.foo"))
  end)

  it("renames through a function; nil keeps a name; system_name = false keeps that", function()
    local p = tiny()
    local r = assert(p:rename(function(name)
      if name:match("^main%.ba") then return "DO NOT INLINE: " .. name end
    end, { system_name = false }))
    local t = stack_table(r)
    assert.same({ 150, 1500000000 },
      t["DO NOT INLINE: main.baz;DO NOT INLINE: main.bar;main.main|worker=b"])
    assert.same({ 40, 400000000 }, t["main.rec;main.rec;main.rec;main.main|"])
    -- the old names live on as system names
    local bytes = raw_bytes(r)
    assert.is_true(has(bytes, "\x32\x08main.bar"))
    assert.is_true(has(bytes, "DO NOT INLINE: main.bar"))
  end)

  it("raises when the new name is not a string", function()
    local p = tiny()
    assert.has_error(function() p:rename(function() return 3 end) end,
      "rename: the new name for 'main.main' must be a string or nil, got number")
    assert.has_error(function() p:rename("x") end)
  end)
end)

describe("p:drop()", function()
  it("drops samples with a frame matching a regex (inlined frames included)", function()
    local p = tiny()
    local d = assert(p:drop { regex = "ba[rz]" })
    assert.same({ 348, 3480000000 }, d:info().totals)        -- 507 - 150 - 9
    assert.is_nil(stack_table(d)["main.bar;main.foo;main.main|worker=a"])
    assert.equal(5, d:info().sample_records)
    assert.equal(507, p:info().totals[1])
    roundtrip(d)
  end)

  it("drops samples a predicate(values, stack, labels) accepts", function()
    local p = tiny()
    local seen = 0
    local d = assert(p:drop { predicate = function(values, stack, labels)
      seen = seen + 1
      assert.equal(2, #values)
      assert.equal("main.main", stack[#stack])
      return labels.worker == "a"
    end })
    assert.equal(7, seen)
    assert.same({ 198, 1980000000 }, d:info().totals)
    -- regex and predicate together: either drops
    local both = assert(p:drop { regex = "tiny$", predicate = function(v) return v[1] == 1 end })
    assert.same({ 504, 5040000000 }, both:info().totals)
  end)

  it("can drop everything and still give a valid profile", function()
    local d = assert(tiny():drop { regex = "main" })
    assert.equal(0, d:info().sample_records)
    roundtrip(d)
  end)

  it("raises for a bad regex or missing options", function()
    local p = tiny()
    local ok, err = pcall(p.drop, p, { regex = "(" })
    assert.is_false(ok)
    assert.matches("invalid regular expression '('", err, 1, true)
    assert.has_error(function() p:drop {} end, "drop: give regex= and/or predicate=")
    assert.has_error(function() p:drop() end, "bad argument #1 to 'drop' (table expected, got nil)")
  end)
end)

describe("p:keep_frames()", function()
  it("keeps only frames of the given prefixes and drops samples left empty", function()
    local p = tiny()
    local k = assert(p:keep_frames { prefixes = { "main.foo", "main.main" } })
    assert.same({
      ["main.foo;main.main|worker=a"] = { 309, 3090000000 },   -- bar removed, joined
      ["main.foo;main.main|worker=b"] = { 5, 50000000 },
      ["main.main|worker=b"] = { 150, 1500000000 },             -- baz/bar removed
      ["main.main|"] = { 43, 430000000 },                       -- rec, tiny removed
    }, stack_table(k))
    assert.equal(2, k:info().functions)
    assert.same(p:info().totals, k:info().totals)
    local none = assert(p:keep_frames { prefixes = { "zzz" } })
    assert.equal(0, none:info().samples)
    roundtrip(k)
  end)

  it("raises without prefixes", function()
    local p = tiny()
    assert.has_error(function() p:keep_frames {} end,
      "keep_frames: option 'prefixes' (a list of strings) is required")
    assert.has_error(function() p:keep_frames { prefixes = { 1 } } end,
      "option 'prefixes' must be a list of strings (item 1 is a number)")
  end)
end)

describe("p:anonymize()", function()
  local pseudo = pgo.profile.pseudonym

  it("replaces names outside the allowed prefixes with stable pseudonyms", function()
    local p = tiny()
    local a = assert(p:anonymize { allow = { "main.main" } })
    local t = stack_table(a)
    local foo, bar, baz = "anon." .. pseudo("main.foo"), "anon." .. pseudo("main.bar"),
      "anon." .. pseudo("main.baz")
    assert.matches("^anon%.%l+_%l+_%x%x%x%x%x%x%x%x$", foo)
    assert.same({ 300, 3000000000 }, t[foo .. ";main.main|worker=a"])
    assert.same({ 150, 1500000000 }, t[baz .. ";" .. bar .. ";main.main|worker=b"])
    assert.same(p:info().totals, a:info().totals)
    -- deterministic, and the same name gets the same pseudonym in another profile
    assert.same(t, stack_table(assert(p:anonymize { allow = { "main.main" } })))
    local t2 = stack_table(assert(assert(pgo.load(X("tiny2.pb.gz"))):anonymize { allow = { "main.main" } }))
    assert.is_not_nil(t2[foo .. ";main.main|worker=a"])
    -- the hidden names are gone from the file: functions, system names, files, binary
    local bytes = raw_bytes(a)
    for _, s in ipairs { "main.foo", "main.bar", "main.baz", "main.rec", "main.tiny",
      "main.go", "/usr/local/bin/app" } do
      assert.is_false(has(bytes, s), s .. " is still in the anonymized profile")
    end
    assert.is_true(has(bytes, "main.main"))
    assert.is_true(has(bytes, "abc123"))               -- build ids stay
    roundtrip(a)
  end)

  it("keeps file names used only by allowed functions, and allowed file prefixes", function()
    local p = tiny()
    local all = raw_bytes(assert(p:anonymize { allow = { "main." } }))
    assert.is_true(has(all, "main.go"))
    assert.is_true(has(all, "main.foo"))
    assert.is_false(has(all, "/usr/local/bin/app"))
    local files = raw_bytes(assert(p:anonymize { allow_files = { "main.go", "/usr/" } }))
    assert.is_true(has(files, "main.go"))
    assert.is_true(has(files, "/usr/local/bin/app"))
    assert.is_false(has(files, "main.foo"))
  end)

  it("mixes a salt into the pseudonyms", function()
    local p = tiny()
    local a = stack_table(assert(p:anonymize { salt = "s3cret" }))
    local want = "anon." .. pseudo("main.foo", "s3cret") .. ";anon." .. pseudo("main.main", "s3cret")
    assert.is_not_nil(a[want .. "|worker=a"])
    assert.are_not.equal(pseudo("main.foo"), pseudo("main.foo", "s3cret"))
  end)

  it("drops or hashes label values and drops comments on request", function()
    local p = tiny()
    local d = assert(p:anonymize { allow = { "main." }, labels = "drop", comments = "drop" })
    local t = stack_table(d)
    assert.same({ 305, 3050000000 }, t["main.foo;main.main|"])   -- a and b joined
    assert.same({}, d:info().comments)
    local h = stack_table(assert(p:anonymize { allow = { "main." }, labels = "hash" }))
    assert.same({ 300, 3000000000 }, h["main.foo;main.main|worker=" .. pseudo("a")])
    assert.has_error(function() p:anonymize { labels = "x" } end,
      "option 'labels' must be \"keep\" or \"drop\" or \"hash\"")
  end)
end)

describe("p:scale()", function()
  it("multiplies values, rounding half away from zero", function()
    local p = tiny()
    local s = assert(p:scale(0.5))
    -- 150 + 75 + 20 + 4.5->5 + 0.5->1 + 2.5->3 + 1
    assert.same({ 255, 2535000000 }, s:info().totals)
    assert.same({ -507, -5070000000 }, assert(p:scale(-1)):info().totals)
    assert.same(stack_table(p), stack_table(assert(p:scale(1))))
    assert.equal(0, assert(p:scale(0)):info().samples)
    assert.equal(507, p:info().totals[1])
  end)

  it("drops samples that round to zero", function()
    -- counts of 1 become 0 but their cpu values stay nonzero: the samples stay
    local s = assert(tiny():scale(0.1))
    assert.equal(7, s:info().sample_records)
    -- at 1e-9 the 10ms sample becomes (0, 0) and goes
    local c = assert(assert(tiny():keep_frames { prefixes = { "main." } }):scale(1e-9))
    for values in c:samples() do assert.is_true(values[1] ~= 0 or values[2] ~= 0) end
  end)

  it("returns nil, message, 'overflow' past int64, raises on NaN", function()
    local p = tiny()
    local s, msg, code = p:scale(1e300)
    assert.is_nil(s)
    assert.equal("overflow", code)
    assert.matches("outside the 64-bit integer range", msg, 1, true)
    assert.has_error(function() p:scale(0 / 0) end)
  end)
end)

describe("p:add_comment()", function()
  it("appends to the profile itself and returns it", function()
    local p = tiny()
    assert.equal(p, p:add_comment("refreshed by pgolua"))
    assert.same({ "tiny fixture", "refreshed by pgolua" }, p:info().comments)
    assert.same({ "tiny fixture", "refreshed by pgolua" },
      assert(pgo.decode(p:encode())):info().comments)
  end)
end)

describe("p:reweight()", function()
  local function sums_by(p, key, col)
    local t = {}
    for values, _, labels in p:samples() do
      local k = labels[key] or "(none)"
      t[k] = (t[k] or 0) + values[col]
    end
    return t
  end

  it("others = 'keep': labelled samples share their total by the weights", function()
    local p = tiny()
    local r = assert(p:reweight { key = "worker", weights = { a = 1, b = 1 }, sample_index = "samples" })
    local s = sums_by(r, "worker", 1)
    assert.same({ a = 232, b = 232, ["(none)"] = 43 }, s)   -- (309 + 155) / 2 each
    assert.equal(507, r:info().totals[1])
    assert.same(sums_by(p, "worker", 1)["(none)"], s["(none)"])
  end)

  it("others = 'drop': the listed values share the whole total", function()
    local p = tiny()
    local r = assert(p:reweight { key = "worker", weights = { a = 0.75, b = 0.25 }, others = "drop" })
    local s = sums_by(r, "worker", 2)          -- the default sample type: cpu
    assert.is_nil(s["(none)"])
    assert.is_true(math.abs(s.a - 5070000000 * 0.75) <= 2)
    assert.is_true(math.abs(s.b - 5070000000 * 0.25) <= 2)
  end)

  it("a weight of zero drops that value's samples", function()
    local r = assert(tiny():reweight { key = "worker", weights = { a = 1, b = 0 } })
    assert.is_nil(sums_by(r, "worker", 1).b)
  end)

  it("returns nil, message, 'no_samples' for a value without samples", function()
    local r, msg, code = tiny():reweight { key = "worker", weights = { a = 1, zzz = 1 } }
    assert.is_nil(r)
    assert.equal("no_samples", code)
    assert.matches("no samples have worker=zzz", msg, 1, true)
  end)

  it("raises for bad options", function()
    local p = tiny()
    assert.has_error(function() p:reweight { weights = {} } end,
      "reweight: key (a label key string) is required")
    assert.has_error(function() p:reweight { key = "worker", weights = { a = 1 }, others = "x" } end,
      "reweight: others must be \"keep\" or \"drop\"")
    assert.has_error(function() p:reweight { key = "worker", weights = { a = -1 } } end,
      "reweight: weights must map label values to finite numbers >= 0")
  end)
end)

describe("edited profiles", function()
  it("are read by `go tool pprof -raw` #integration", function()
    if not helpers.go() then pending("Go 1.21+ not found: needs `go tool pprof` (Go 1.23 at /usr/lib/go-1.23/bin/go)") return end
    local p = assert(pgo.load(F("profiles/shop.p1.pgo")))
    local edits = {
      rename = assert(p:rename(function(n) return "DO NOT INLINE: " .. n end)),
      drop = assert(p:drop { regex = "runtime\\." }),
      keep_frames = assert(p:keep_frames { prefixes = { "main.", "example.com/" } }),
      anonymize = assert(p:anonymize { allow = { "runtime." }, labels = "hash" }),
      scale = assert(p:scale(0.37)),
      reweight = assert(p:reweight { key = "endpoint", weights = { ["/fast"] = 1, ["/slow"] = 2 } }),
      comment = p:clone():add_comment("edited"),
    }
    local dir = helpers.tmpdir()
    for name, q in pairs(edits) do
      local path = dir .. "/" .. name .. ".pgo"
      assert(q:write(path))
      local out, err, code = helpers.run(helpers.shq(helpers.go()) .. " tool pprof -raw " .. helpers.shq(path))
      assert.equal(0, code, name .. ": " .. err)
      assert.matches("Samples:", out, 1, true)
      local count = 0
      for v in out:gmatch("\n%s+(%-?%d+)%s+%-?%d+:") do count = count + tonumber(v) end
      assert.equal(q:info().totals[1], count, name)
    end
    helpers.rm_rf(dir)
  end)
end)
