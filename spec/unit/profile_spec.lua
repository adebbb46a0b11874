-- Specs for the profile model: pgo.load / pgo.decode, info(), samples(), encode/write.
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"

local F = helpers.fixture

-- expected/totals.txt: "path samples cpu" from the real `go tool pprof -raw`
local function expected_totals()
  local t = {}
  for line in io.lines(F("expected/totals.txt")) do
    local path, s, c = line:match("^(%S+) (%d+) (%d+)$")
    if path then t[path] = { tonumber(s), tonumber(c) } end
  end
  return t
end

local stack_table = helpers.stack_table

describe("pgo.load()", function()
  local totals = expected_totals()

  it("loads every fixture profile with the totals `go tool pprof -raw` reports", function()
    local n = 0
    for path, want in pairs(totals) do
      if not path:match("^thirdparty/legacy/") then
        local p, msg = pgo.load(F(path))
        assert.is_not_nil(p, msg)
        local info = p:info()
        assert.same({ want[1], want[2] }, info.totals, path)
        assert.equal("cpu", info.kind)
        n = n + 1
      end
    end
    assert.equal(11, n)
  end)

  it("returns exactly the documented info() fields", function()
    local info = assert(pgo.load(F("profiles/shop.steady.pgo"))):info()
    local keys = {}
    for k in pairs(info) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "comments", "default_sample_type", "duration_ns", "functions", "kind",
      "locations", "mappings", "period", "period_type", "sample_records", "sample_types", "samples",
      "time_ns", "totals" }, keys)
    assert.same({ { type = "samples", unit = "count" }, { type = "cpu", unit = "nanoseconds" } },
      info.sample_types)
    assert.same({ type = "cpu", unit = "nanoseconds" }, info.period_type)
    assert.equal(10000000, info.period)
    assert.equal("cpu", info.default_sample_type)
    assert.equal(3359, info.sample_records)   -- Sample messages, as -raw prints them
    assert.equal(3561, info.samples)          -- the samples/count total
    assert.same({}, info.comments)
  end)

  it("reads the production profile's header and entity counts", function()
    local info = assert(pgo.load(F("thirdparty/grpc-anon.pprof"))):info()
    assert.equal(8669, info.sample_records)
    assert.equal(40344, info.samples)
    assert.equal(1221, info.functions)
    assert.equal(5951, info.locations)
    assert.equal(10, info.mappings)
    assert.equal(60.70, math.floor(info.duration_ns / 1e7 + 0.5) / 100)
  end)

  it("classifies heap and goroutine profiles by kind", function()
    assert.equal("heap", assert(pgo.load(F("bad/heap.pb.gz"))):info().kind)
    assert.equal("goroutine", assert(pgo.load(F("bad/goroutine.pb.gz"))):info().kind)
  end)

  it("loads raw (uncompressed) protobuf and gzip to the same content", function()
    local a = assert(pgo.load(F("pprof-examples/tiny.pb")))
    local b = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    assert.same(stack_table(a), stack_table(b))
    assert.same(a:info(), b:info())
  end)

  it("refuses a FIFO, a device and a link to a device at once, naming what it is", function()
    local dir = helpers.tmpdir()
    assert(os.execute("mkfifo " .. helpers.shq(dir .. "/default.pgo") .. " && ln -s /dev/zero " ..
      helpers.shq(dir .. "/zero.pgo")))
    -- in a child with a time limit: before the fix, opening the FIFO waited for a writer
    local out, err, status = helpers.run("timeout 20 " .. helpers.shq(helpers.pgolua) .. " -e " ..
      helpers.shq(("local pgo = require 'pgo'; for _, f in ipairs { %q, %q, '/dev/null' } do " ..
        "print(select(3, pgo.load(f)), (select(2, pgo.load(f)))) end")
        :format(dir .. "/default.pgo", dir .. "/zero.pgo")))
    helpers.rm_rf(dir)
    assert.equal(0, status, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(3, #lines, out)
    assert.matches("^not_regular\t.*default%.pgo is a named pipe %(FIFO%), not a regular file", lines[1])
    assert.matches("^not_regular\t.*zero%.pgo is a device", lines[2])
    assert.matches("^not_regular\t/dev/null is a device", lines[3])
  end)

  it("reads standard input for '-'", function()
    local out, err, code = helpers.pgolua_run(
      "-e 'print(require(\"pgo\").load(\"-\"):info().totals[1])'",
      helpers.read_file(F("profiles/micro.pgo")))
    assert.equal(0, code, err)
    assert.equal("176\n", out)
  end)

  it("summarises a profile in one line through tostring", function()
    local p = assert(pgo.load(F("thirdparty/grpc-anon.pprof")))
    assert.equal("cpu profile: 60.70s, 40344 samples, 403.44s total, 1221 functions", tostring(p))
  end)

  it("counts samples as cpu time / period when there is no samples/count column", function()
    -- a Pyroscope-shaped profile: cpu/nanoseconds alone, period 10 ms
    local pb = require "pbwriter"
    local bytes = pb.cpu_profile { types = { { "cpu", "nanoseconds" } },
      functions = { { "main.f", 1 }, { "main.g", 1 } },
      locations = { { lines = { { 1, 3 } } }, { lines = { { 2, 3 } } } },
      samples = { { locs = { 1 }, values = { 70000000 } }, { locs = { 2 }, values = { 30000000 } } } }
    local q = assert(pgo.decode(bytes))
    assert.equal(10, q:info().samples)          -- 100 ms of CPU at a 10 ms period
    assert.equal(2, q:info().sample_records)
    assert.matches(", 10 samples, ", tostring(q))
  end)

  it("gives no samples figure for a heap profile, and rejects it where a CPU profile is needed", function()
    local p = assert(pgo.load(F("bad/heap.pb.gz")))
    assert.is_nil(p:info().samples)
    assert.matches("sample records", tostring(p))
    local ok, msg, code = p:require_cpu("refresh")
    assert.is_nil(ok)
    assert.equal("not_cpu", code)
    assert.matches("^a heap profile, not a CPU profile: refresh needs a CPU profile", msg)
    assert.is_true(assert(pgo.load(F("profiles/shop.steady.pgo"))):require_cpu())
  end)

  it("p:top on a profile without sample types returns nil, message, code", function()
    local p = assert(pgo.decode("\x32\x00"))
    local rows, msg, code = p:top()
    assert.is_nil(rows)
    assert.equal("no_sample_types", code)
    assert.matches("no sample types", msg)
  end)

  it("returns nil, message, code for each bad fixture", function()
    local cases = {
      ["empty.pgo"] = { "empty", "0 bytes" },
      ["html-error.pgo"] = { "not_pprof", "HTML" },
      ["truncated.pgo"] = { "truncated", "ends early" },
      ["gzip-random.pgo"] = { "not_pprof", "not a pprof profile" },
    }
    for name, want in pairs(cases) do
      local p, msg, code = pgo.load(F("bad/" .. name))
      assert.is_nil(p, name)
      assert.equal(want[1], code, name)
      assert.matches(want[2], msg, 1, true)
      assert.matches(name, msg, 1, true)   -- the message names the file
    end
  end)

  it("loads the valid-but-unusable bad fixtures (policy decides, not the parser)", function()
    assert.equal(0, assert(pgo.load(F("bad/nosamples.pgo"))):info().totals[1])
    assert.equal(5, assert(pgo.load(F("bad/tiny5.pgo"))):info().totals[1])
  end)

  it("rejects legacy formats with legacy_format and says how to convert", function()
    for _, name in ipairs { "gobench.cpu.pb", "go.crc32.cpu.pb", "java.cpu.pb", "cppbench.cpu.pb" } do
      local p, msg, code = pgo.load(F("thirdparty/legacy/" .. name))
      assert.is_nil(p)
      assert.equal("legacy_format", code, name)
      assert.matches("go tool pprof -proto", msg, 1, true)
    end
  end)

  it("says not_found for a missing file", function()
    local p, msg, code = pgo.load("/nonexistent/x.pgo")
    assert.is_nil(p)
    assert.equal("not_found", code)
    assert.matches("/nonexistent/x.pgo", msg, 1, true)
  end)

  it("enforces the decompressed-size limit with too_large", function()
    local p, msg, code = pgo.load(F("profiles/shop.steady.pgo"), { max_decompressed = 1000 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.matches("max_decompressed", msg, 1, true)
  end)

  it("raises on a wrong argument type", function()
    assert.has_error(function() pgo.load(42) end,
      "bad argument #1 to 'load' (string expected, got number)")
  end)
end)

describe("pgo.decode()", function()
  local function decode_fields(fields) return pgo.decode(pb.encode(fields)) end

  it("accepts the hand-made valid profile", function()
    local p, msg = decode_fields(pb.valid_profile())
    assert.is_not_nil(p, msg)
    assert.same({ 4, 40 }, p:info().totals)
    assert.equal(2, p:info().functions)
  end)

  it("accepts fields in any order, string table first or last, packed or not", function()
    local f = pb.valid_profile()
    local reversed = {}
    for i = #f, 1, -1 do reversed[#reversed + 1] = f[i] end
    -- reversing also reverses the string table: rebuild it in order at the end
    local strings, others = {}, {}
    for _, x in ipairs(f) do
      if x[1] == 6 then strings[#strings + 1] = x else others[#others + 1] = x end
    end
    local shuffled = {}
    for i = #others, 1, -1 do shuffled[#shuffled + 1] = others[i] end
    for _, s in ipairs(strings) do shuffled[#shuffled + 1] = s end
    local a = assert(decode_fields(f))
    local b = assert(decode_fields(shuffled))
    assert.same(stack_table(a), stack_table(b))
    -- packed location ids and values
    local packed = pb.valid_profile()
    packed[3] = { 2, "msg", { { 1, "bytes", pb.varint(1) .. pb.varint(2) },
      { 2, "bytes", pb.varint(3) .. pb.varint(30) } } }
    assert.same(stack_table(a), stack_table(assert(decode_fields(packed))))
  end)

  local function broken(mutate)
    local f = pb.valid_profile()
    mutate(f)
    return decode_fields(f)
  end

  local rules = {
    { "a sample with a different number of values", "invalid", "values",
      function(f) f[4] = { 2, "msg", { { 1, "varint", 2 }, { 2, "varint", 1 } } } end },
    { "an undefined location id", "invalid", "location id 9",
      function(f) f[4] = { 2, "msg", { { 1, "varint", 9 }, { 2, "varint", 1 }, { 2, "varint", 1 } } } end },
    { "location id 0", "invalid", "reserved id 0",
      function(f) f[5] = { 4, "msg", { { 1, "varint", 0 } } } end },
    { "a duplicate location id", "invalid", "multiple locations have id 2",
      function(f) f[5][3][1][3] = 2 end },
    { "a duplicate function id", "invalid", "multiple functions have id 2",
      function(f) f[7][3][1][3] = 2 end },
    { "a line with function id 0", "invalid", "no function",
      function(f) f[5][3][2][3][1][3] = 0 end },
    { "an undefined function id", "invalid", "function id 77",
      function(f) f[5][3][2][3][1][3] = 77 end },
    { "a first string that is not empty", "invalid", "first entry of the string table",
      function(f) f[9] = { 6, "bytes", "oops" } end },
    { "a string index past the table", "invalid", "string table has only",
      function(f) f[7][3][2][3] = 99 end },
    { "samples without sample types", "invalid", "no sample types",
      function(f) table.remove(f, 2); table.remove(f, 1) end },
    { "no string table at all", "invalid", "no string table",
      function(f) for i = #f, 1, -1 do if f[i][1] == 6 then table.remove(f, i) end end end },
    { "a second time_nanos (concatenated profiles)", "invalid", "concatenated",
      function(f) f[#f + 1] = { 9, "varint", 5 } end },
    { "a group wire type", "invalid", "wire type",
      function(f) f[#f + 1] = { 0, "raw", "\x63" } end },   -- field 12, wire type 3
  }
  for _, rule in ipairs(rules) do
    it("rejects " .. rule[1] .. " with " .. rule[2], function()
      local p, msg, code = broken(rule[4])
      assert.is_nil(p)
      assert.equal(rule[2], code, msg)
      assert.matches(rule[3], msg, 1, true)
    end)
  end

  it("drops a label with neither string nor number, as pprof does", function()
    local f = pb.valid_profile()
    f[4] = { 2, "msg", { { 1, "varint", 2 }, { 2, "varint", 1 }, { 2, "varint", 10 },
      { 3, "msg", { { 1, "varint", 5 } } } } }
    local p = assert(decode_fields(f))
    for _, _, labels in p:samples() do assert.is_nil(next(labels)) end
  end)

  it("says truncated for a raw profile cut in the middle of a field", function()
    local data = helpers.read_file(F("pprof-examples/tiny.pb"))
    local p, msg, code = pgo.decode(data:sub(1, #data // 2))
    assert.is_nil(p)
    assert.equal("truncated", code)
    assert.matches("cut off", msg, 1, true)
  end)

  it("says invalid (concatenated) for two gzip members of a profile", function()
    local gz = helpers.read_file(F("pprof-examples/tiny.pb.gz"))
    local p, msg, code = pgo.decode(gz .. gz)
    assert.is_nil(p)
    assert.equal("invalid", code)
    assert.matches("concatenated", msg, 1, true)
  end)

  it("says bad_gzip for corrupt deflate data and for trailing garbage", function()
    local gz = helpers.read_file(F("profiles/micro.pgo"))
    local corrupt = gz:sub(1, 20) .. string.rep("\xff", 40) .. gz:sub(61)
    local p, _, code = pgo.decode(corrupt)
    assert.is_nil(p)
    assert.equal("bad_gzip", code)
    local p2, msg2, code2 = pgo.decode(gz .. "garbage!")
    assert.is_nil(p2)
    assert.equal("bad_gzip", code2)
    assert.matches("garbage", msg2, 1, true)
  end)

  it("describes JSON and plain text as not_pprof", function()
    local _, msg, code = pgo.decode('{"error": "no such profile"}')
    assert.equal("not_pprof", code)
    assert.matches("JSON", msg, 1, true)
  end)

  it("never returns a partial profile for any prefix of a real profile", function()
    local raw = helpers.read_file(F("pprof-examples/tiny.pb"))
    for cut = 1, #raw - 1, 7 do
      local p, msg, code = pgo.decode(raw:sub(1, cut))
      if p then
        -- a cut exactly between top-level fields can be a valid smaller profile
        assert.is_table(p:info())
      else
        assert.is_string(msg)
        assert.is_string(code)
      end
    end
  end)
end)

describe("profile:samples()", function()
  it("yields values, the stack leaf first with inlined frames expanded, and labels", function()
    local p = assert(pgo.load(F("pprof-examples/tiny.pb.gz")))
    local t = stack_table(p)
    assert.same({ 150, 1500000000 }, t["main.baz;main.bar;main.main|worker=b"])
    assert.same({ 40, 400000000 }, t["main.rec;main.rec;main.rec;main.main|"])
  end)
end)

describe("profile:encode() and :write()", function()
  it("round-trips every fixture with identical content", function()
    for _, name in ipairs { "profiles/shop.steady.pgo", "profiles/micro.pgo",
      "profiles/go1.19/shop.steady.pgo", "thirdparty/grpc-anon.pprof",
      "pprof-examples/tiny.pb.gz", "bad/heap.pb.gz", "bad/nosamples.pgo" } do
      local p = assert(pgo.load(F(name)))
      local q = assert(pgo.decode(p:encode()))
      local a, b = p:info(), q:info()
      a.sample_records, b.sample_records = nil, nil   -- identical stacks are combined
      assert.same(a, b, name)
      assert.same(stack_table(p), stack_table(q), name)
    end
  end)

  it("writes atomically and leaves the old file untouched on failure", function()
    local dir = helpers.tmpdir()
    local target = dir .. "/default.pgo"
    helpers.write_file(target, "old contents")
    local p = assert(pgo.load(F("profiles/micro.pgo")))
    assert.is_true(p:write(target))
    assert.same(p:info().totals, assert(pgo.load(target)):info().totals)
    -- a target in a missing directory fails cleanly
    local ok, msg, code = p:write(dir .. "/missing/default.pgo")
    assert.is_nil(ok)
    assert.equal("not_found", code)
    assert.matches("missing", msg, 1, true)
    -- nothing but the target remains: no temporary files
    local listing = helpers.run("ls -A " .. helpers.shq(dir))
    assert.equal("default.pgo\n", listing)
    helpers.rm_rf(dir)
  end)

  it("raises after close, and prints as closed", function()
    local p = assert(pgo.load(F("profiles/micro.pgo")))
    p:close()
    p:close()   -- twice is fine
    assert.equal("pgo.profile (closed)", tostring(p))
    assert.has_error(function() p:info() end, "attempt to use a closed profile")
  end)

  it("closes at the end of a to-be-closed scope", function()
    local outer
    do
      local p <close> = assert(pgo.load(F("profiles/micro.pgo")))
      outer = p
    end
    assert.is_true(outer:is_closed())
  end)
end)

describe("require 'pgo'", function()
  it("finds lua/pgo from the source tree before the embedded copy", function()
    local src = debug.getinfo(pgo.load, "S").source
    assert.matches("lua/pgo/init.lua", src, 1, true)
    assert.not_matches("[embedded]", src, 1, true)
  end)

  it("falls back to the embedded copy when the binary is elsewhere", function()
    local dir = helpers.tmpdir()
    assert(os.execute("cp " .. helpers.shq(helpers.pgolua) .. " " .. helpers.shq(dir .. "/pgolua")))
    local out, err, code = helpers.run("cd / && " .. helpers.shq(dir .. "/pgolua") ..
      " -e 'print(debug.getinfo(require(\"pgo\").load, \"S\").source)'")
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.equal("@[embedded] lua/pgo/init.lua\n", out)
  end)
end)
