-- hostile.lua: the three hostile profiles of issue 15, small gzip streams that expand to
-- gigabytes (spec/unit/budget_spec.lua decodes them; bench/hostile.lua times them).
--
-- Each is a multi-member gzip stream (the decoder reads members as one stream): a part
-- repeated many times is compressed once with gzip(1) and its member repeated; the few
-- bytes that differ per repetition go in small "stored" members made here.
--   local hostile = require "support.hostile"
--   hostile.deep_stacks(tmpdir) -> gzip bytes    (and huge_string, empty_strings)
local pgo = require "pgo"
local pb = require "pbwriter"

local M = {}

local function gzip(dir, bytes)
  local path = dir .. "/hostile-member"
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  assert(assert(pgo.fs.run({ "gzip", "-9", "-n", "-f", path })).status == 0, "gzip failed")
  f = assert(io.open(path .. ".gz", "rb"))
  local gz = f:read("a")
  f:close()
  os.remove(path .. ".gz")
  return gz
end

local function crc32(s)
  local crc = 0xffffffff
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do crc = (crc >> 1) ~ (0xedb88320 & -(crc & 1)) end
  end
  return crc ~ 0xffffffff
end

-- a gzip member holding bytes uncompressed (one stored deflate block, under 64 KiB)
local function stored(bytes)
  local n = #bytes
  return "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" .. string.pack("<BI2I2", 1, n, ~n & 0xffff)
    .. bytes .. string.pack("<I4I4", crc32(bytes), n)
end

-- the header fields of pb.valid_profile (sample types, strings, ...) without its samples
local function header()
  local fields = {}
  for _, f in ipairs(pb.valid_profile()) do
    if f[1] ~= 2 then fields[#fields + 1] = f end
  end
  return pb.encode(fields)
end

-- 1,000 samples of 99,999-frame stacks with distinct roots (~0.3 MB): each sample has
-- values {1, 10}, then 99,998 frames cycling over locations 1..100, then a root of its
-- own (locations 1000..1999, two-byte varints: every sample has the same length and the
-- same first 100,013 bytes)
function M.deep_stacks(dir)
  local cycle = {}
  for i = 1, 100 do cycle[i] = string.char(i) end
  local frames = string.rep(table.concat(cycle), 1000):sub(1, 99998)
  local values = "\x12\x02\x01\x0a"
  local body_len = #values + 1 + #pb.varint(100000) + 100000
  local common_gz = gzip(dir, "\x12" .. pb.varint(body_len) .. values .. "\x0a" ..
    pb.varint(100000) .. frames)
  local parts = { gzip(dir, header()) }
  for i = 0, 999 do
    parts[#parts + 1] = common_gz
    parts[#parts + 1] = stored(pb.varint(1000 + i))
  end
  return table.concat(parts)
end

-- one string field of 1 GiB (zeros) in ~1 MB
function M.huge_string(dir)
  local zeros_gz = gzip(dir, string.rep("\0", 1 << 20))
  local parts = { gzip(dir, header() .. "\x32" .. pb.varint(1 << 30)) }
  for _ = 1, 1024 do parts[#parts + 1] = zeros_gz end
  return table.concat(parts)
end

-- 256M empty strings in ~0.5 MB
function M.empty_strings(dir)
  local empties_gz = gzip(dir, string.rep("\x32\x00", 1 << 20))
  local parts = { gzip(dir, header()) }
  for _ = 1, 256 do parts[#parts + 1] = empties_gz end
  return table.concat(parts)
end

M.gzip = gzip
return M
