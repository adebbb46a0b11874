-- The decoding memory budget (docs/api.md, "Memory budget"): small hostile inputs that
-- expand to gigabytes end in "too_large" under the default limits, and sizes from fstat
-- decide before a file is read. The hostile inputs come from spec/support/hostile.lua.
local helpers = require "helpers"
local pgo = require "pgo"
local pb = require "pbwriter"
local hostile = require "support.hostile"

local dir
setup(function() dir = helpers.tmpdir() end)
teardown(function() helpers.rm_rf(dir) end)

local function assert_too_large(p, msg, code)
  assert.is_nil(p)
  assert.equal("too_large", code, msg)
  return msg
end

describe("decoding budget: the hostile inputs of issue 15", function()
  it("1,000 samples of 99,999-frame stacks with distinct roots (~0.3 MB of gzip)", function()
    local gz = hostile.deep_stacks(dir)
    assert.truthy(#gz < 1024 * 1024, #gz)
    local msg = assert_too_large(pgo.decode(gz))
    assert.truthy(msg:find("bytes of memory", 1, true), msg)
    assert.truthy(msg:find("max_memory", 1, true), msg)
  end)

  it("one 1 GiB string field in 1 MB of gzip fails before the field is read", function()
    local msg = assert_too_large(pgo.decode(hostile.huge_string(dir)))
    assert.truthy(msg:find(tostring(1 << 30) .. " more asked for", 1, true), msg)
  end)

  it("256M empty strings in half a megabyte of gzip", function()
    local gz = hostile.empty_strings(dir)
    assert.truthy(#gz < 1024 * 1024, #gz)
    local msg = assert_too_large(pgo.decode(gz))
    assert.truthy(msg:find("bytes of memory", 1, true), msg)
  end)
end)

describe("decoding budget: limits", function()
  local tiny = pb.encode(pb.valid_profile())

  it("max_memory below what a profile needs is too_large, naming the limit", function()
    assert.truthy(pgo.decode(tiny))
    local msg = assert_too_large(pgo.decode(tiny, { max_memory = 1000 }))
    assert.truthy(msg:find("needs more than 1000 bytes of memory", 1, true), msg)
  end)

  it("max_memory_ratio does not go under the 32 MiB floor", function()
    assert.truthy(pgo.decode(tiny, { max_memory_ratio = 1 }))
  end)

  it("a first field claiming ~2^63 bytes returns too_large at max_decompressed = maxinteger", function()
    local claim = "\x0a" .. pb.varint(math.maxinteger - 5) .. "xx"
    assert_too_large(pgo.decode(claim, { max_decompressed = math.maxinteger }))
    assert_too_large(pgo.decode(hostile.gzip(dir, claim), { max_decompressed = math.maxinteger }))
    assert_too_large(pgo.decode(hostile.gzip(dir, claim), { max_decompressed = math.maxinteger,
      max_memory = math.maxinteger, max_memory_ratio = math.maxinteger }))
  end)

  it("the limits are positive integers", function()
    assert.has_error(function() pgo.decode(tiny, { max_memory = 0 }) end)
    assert.has_error(function() pgo.decode(tiny, { max_memory_ratio = -1 }) end)
  end)
end)

describe("file sizes decide before reading", function()
  local function sparse(path, size)
    local f = assert(io.open(path, "wb"))
    f:seek("set", size - 1)
    f:write("\0")
    f:close()
  end

  it("pgo.load refuses a 2 GiB sparse file by its size, naming it", function()
    local path = dir .. "/huge.pb.gz"
    sparse(path, 2 << 30)
    local msg = assert_too_large(pgo.load(path, { max_decompressed = 1 << 20 }))
    assert.truthy(msg:find("(2147483648 bytes)", 1, true), msg)
    os.remove(path)
  end)

  it("a 2 GiB sparse file passed as a Go binary is refused by its size", function()
    local path = dir .. "/huge-binary"
    sparse(path, 2 << 30)
    local msg = assert_too_large(pgo.symbols.binary(path))
    assert.truthy(msg:find("(2147483648 bytes)", 1, true), msg)
    os.remove(path)
  end)
end)
