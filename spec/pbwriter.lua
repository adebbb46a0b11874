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

-- A hand-made CPU profile as bytes: functions {name, start_line[, file]}; locations {addr=,
-- lines={{fn, line}}} (innermost line first); samples {locs = {leaf..root}, values = {...},
-- label = "x"}; types (default samples/count, cpu/nanoseconds); mapping = true adds one
-- mapping used by every location; comment = "text" adds a comment.
function M.cpu_profile(spec)
  local strings, sindex = { "" }, { [""] = 0 }
  local function s(x)
    if not sindex[x] then strings[#strings + 1] = x; sindex[x] = #strings - 1 end
    return sindex[x]
  end
  local f = {}
  for _, t in ipairs(spec.types or { { "samples", "count" }, { "cpu", "nanoseconds" } }) do
    f[#f + 1] = { 1, "msg", { { 1, "varint", s(t[1]) }, { 2, "varint", s(t[2]) } } }
  end
  for _, smp in ipairs(spec.samples) do
    local m = {}
    for _, l in ipairs(smp.locs) do m[#m + 1] = { 1, "varint", l } end
    for _, v in ipairs(smp.values) do m[#m + 1] = { 2, "varint", v } end
    if smp.label then
      m[#m + 1] = { 3, "msg", { { 1, "varint", s("k") }, { 2, "varint", s(smp.label) } } }
    end
    f[#f + 1] = { 2, "msg", m }
  end
  if spec.mapping then
    f[#f + 1] = { 3, "msg", { { 1, "varint", 1 }, { 2, "varint", 0x1000 }, { 3, "varint", 0x9000 },
      { 5, "varint", s("/tmp/app") } } }
  end
  for i, loc in ipairs(spec.locations) do
    local m = { { 1, "varint", i }, { 3, "varint", loc.addr or (0x1000 + i) } }
    if spec.mapping then m[#m + 1] = { 2, "varint", 1 } end
    for _, ln in ipairs(loc.lines) do
      m[#m + 1] = { 4, "msg", { { 1, "varint", ln[1] }, { 2, "varint", ln[2] } } }
    end
    f[#f + 1] = { 4, "msg", m }
  end
  for i, fn in ipairs(spec.functions) do
    f[#f + 1] = { 5, "msg", { { 1, "varint", i }, { 2, "varint", s(fn[1]) },
      { 3, "varint", s(fn[1]) }, { 4, "varint", s(fn[3] or "x.go") }, { 5, "varint", fn[2] } } }
  end
  local period = { { 1, "varint", s("cpu") }, { 2, "varint", s("nanoseconds") } }
  local comment = spec.comment and s(spec.comment)
  for _, str in ipairs(strings) do f[#f + 1] = { 6, "bytes", str } end
  f[#f + 1] = { 11, "msg", period }
  f[#f + 1] = { 12, "varint", 10000000 }
  if comment then f[#f + 1] = { 13, "varint", comment } end
  return M.encode(f)
end

return M
