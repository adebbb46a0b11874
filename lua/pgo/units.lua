-- pgo.units: values with units, formatted the way pprof formats them.
local M = {}

local time_units = {
  { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
}
local time_names = {
  nanoseconds = 1, nanosecond = 1, ns = 1,
  microseconds = 1e3, microsecond = 1e3, us = 1e3,
  milliseconds = 1e6, millisecond = 1e6, ms = 1e6,
  seconds = 1e9, second = 1e9, s = 1e9,
}
local byte_units = {
  { "B", 1 }, { "kB", 1024 }, { "MB", 1024 ^ 2 }, { "GB", 1024 ^ 3 }, { "TB", 1024 ^ 4 },
  { "PB", 1024 ^ 5 },
}

-- pprof drops trailing zeros after rounding to two decimals ("3.05s", "10ms", "1.50s"
-- prints as "1.50s" in pprof: it keeps two decimals, then strips only ".00").
local function fmt_number(x)
  local s = string.format("%.2f", x)
  s = s:gsub("%.00$", "")
  return s
end
M.fmt_number = fmt_number

--- Scale value (in unit) to the most readable unit: "3.05s", "10ms", "1.50MB", "123".
function M.scaled(value, unit)
  value = value or 0
  local base = time_names[unit]
  if base then
    local ns = value * base
    local a = math.abs(ns)
    if a == 0 then return "0" end
    local pick = time_units[1]
    for _, u in ipairs(time_units) do
      if a >= u[2] and u[2] <= 1e9 then pick = u end
    end
    return fmt_number(ns / pick[2]) .. pick[1]
  end
  if unit == "bytes" or unit == "byte" then
    local a = math.abs(value)
    if a == 0 then return "0" end
    local pick = byte_units[1]
    for _, u in ipairs(byte_units) do
      if a >= u[2] then pick = u end
    end
    return fmt_number(value / pick[2]) .. pick[1]
  end
  if math.type(value) == "integer" then return tostring(value) end
  return fmt_number(value)
end

return M
