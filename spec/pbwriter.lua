-- pbwriter: a tiny protobuf writer for specs, to hand-make profiles that break exactly
-- one rule. Messages are lists of {field, kind, value}; kind is "varint", "bytes" or
-- "msg" (value = nested list), or "raw" (value = bytes appended as is).
local M = {}

local function varint(n)
  local out = {}
  -- two's complement for negatives, as protobuf int64 does
  if n < 0 then n = n + 0 end
  repeat
    local byte = n & 0x7f
    n = n >> 7   -- logical shift: negative numbers end after 10 bytes
    if n ~= 0 then byte = byte | 0x80 end
    out[#out + 1] = string.char(byte)
  until n == 0
  return table.concat(out)
end
M.varint = varint

function M.encode(fields)
  local out = {}
  for _, f in ipairs(fields) do
    local num, kind, v = f[1], f[2], f[3]
    if kind == "varint" then
      out[#out + 1] = varint(num << 3 | 0) .. varint(v)
    elseif kind == "bytes" then
      out[#out + 1] = varint(num << 3 | 2) .. varint(#v) .. v
    elseif kind == "msg" then
      local body = M.encode(v)
      out[#out + 1] = varint(num << 3 | 2) .. varint(#body) .. body
    elseif kind == "raw" then
      out[#out + 1] = v
    else
      error("unknown kind " .. tostring(kind))
    end
  end
  return table.concat(out)
end

-- A small valid CPU profile as a field list, for specs to break one piece at a time.
-- strings: 1 samples, 2 count, 3 cpu, 4 nanoseconds, 5 main.f, 6 f.go, 7 main.main
function M.valid_profile()
  local function vt(t, u) return { { 1, "varint", t }, { 2, "varint", u } } end
  return {
    { 1, "msg", vt(1, 2) },
    { 1, "msg", vt(3, 4) },
    { 2, "msg", { { 1, "varint", 1 }, { 1, "varint", 2 }, { 2, "varint", 3 }, { 2, "varint", 30 } } },
    { 2, "msg", { { 1, "varint", 2 }, { 2, "varint", 1 }, { 2, "varint", 10 } } },
    { 4, "msg", { { 1, "varint", 1 }, { 4, "msg", { { 1, "varint", 1 }, { 2, "varint", 12 } } } } },
    { 4, "msg", { { 1, "varint", 2 }, { 4, "msg", { { 1, "varint", 2 }, { 2, "varint", 3 } } } } },
    { 5, "msg", { { 1, "varint", 1 }, { 2, "varint", 5 }, { 3, "varint", 5 }, { 4, "varint", 6 }, { 5, "varint", 10 } } },
    { 5, "msg", { { 1, "varint", 2 }, { 2, "varint", 7 }, { 3, "varint", 7 }, { 4, "varint", 6 }, { 5, "varint", 1 } } },
    { 6, "bytes", "" }, { 6, "bytes", "samples" }, { 6, "bytes", "count" }, { 6, "bytes", "cpu" },
    { 6, "bytes", "nanoseconds" }, { 6, "bytes", "main.f" }, { 6, "bytes", "f.go" },
    { 6, "bytes", "main.main" },
    { 9, "varint", 1700000000000000000 },
    { 10, "varint", 1000000000 },
    { 11, "msg", vt(3, 4) },
    { 12, "varint", 10000000 },
  }
end

return M
