-- pgo.units: values with units, formatted exactly the way pprof formats them
-- (google/pprof internal/measurement, as vendored in Go 1.23).
--
--   units.scale(value, from, to)        -> number, unit   ("minimum"/"auto" pick a unit)
--   units.scaled_label(value, from, to) -> "3.05s", "1.50MB", "0", "507"
--   units.label(value, unit)            -> scaled_label(value, unit, "auto")
--   units.scaled(value, unit)           -> the same (kept for callers of the first version)
--   units.percentage(value, total)      -> "60.16%", " 8.00%", "  0.2%", "  100%"
--   units.plural(1, "warning")          -> "1 warning"; plural(3, "match", "matches")
--   units.pct(0.1901)                   -> "19.01%" (a fraction for people)
--   units.seconds(90.5)                 -> "90.5 s"
--   units.duration(20.18)               -> "20.2 s"; duration(600) -> "10.0 min"
--
-- Unit names are lower-cased and lose one trailing "s" when longer than two characters,
-- then looked up by alias: "nanoseconds" -> ns, "bytes" -> B, "count" is no unit at all.
-- There is no minutes unit: 120 s prints as "120s", two hours as "2hrs".
local M = {}

-- { canonical name, aliases, factor } per family, with the family's default unit.
local families = {
  {
    units = {
      { "B", { "b", "byte" }, 1 },
      { "kB", { "kb", "kbyte", "kilobyte" }, 2.0 ^ 10 },
      { "MB", { "mb", "mbyte", "megabyte" }, 2.0 ^ 20 },
      { "GB", { "gb", "gbyte", "gigabyte" }, 2.0 ^ 30 },
      { "TB", { "tb", "tbyte", "terabyte" }, 2.0 ^ 40 },
      { "PB", { "pb", "pbyte", "petabyte" }, 2.0 ^ 50 },
    },
    default = { "B", 1 },
  },
  {
    units = {
      { "ns", { "ns", "nanosecond" }, 1 },
      { "us", { "\u{3bc}s", "us", "microsecond" }, 1e3 },
      { "ms", { "ms", "millisecond" }, 1e6 },
      { "s", { "s", "sec", "second" }, 1e9 },
      { "hrs", { "hour", "hr" }, 3.6e12 },
    },
    default = { "s", 1e9 },
  },
  {
    units = {
      { "n*GCU", { "nanogcu" }, 1e-9 }, { "u*GCU", { "microgcu" }, 1e-6 },
      { "m*GCU", { "milligcu" }, 1e-3 }, { "GCU", { "gcu" }, 1 },
      { "k*GCU", { "kilogcu" }, 1e3 }, { "M*GCU", { "megagcu" }, 1e6 },
      { "G*GCU", { "gigagcu" }, 1e9 }, { "T*GCU", { "teragcu" }, 1e12 },
      { "P*GCU", { "petagcu" }, 1e15 },
    },
    default = { "GCU", 1 },
  },
}

local function sniff(family, unit)
  unit = unit:lower()
  if #unit > 2 then unit = unit:gsub("s$", "", 1) end
  for _, u in ipairs(family.units) do
    for _, a in ipairs(u[2]) do
      if a == unit then return u end
    end
  end
end

--- Convert value (in unit `from`) to unit `to`; "minimum" and "auto" choose the largest
-- unit of the family that keeps the value >= 1. Returns the number and the canonical
-- unit ("" for counts and other unknown units when auto-scaling).
function M.scale(value, from, to)
  from, to = from or "", to or "auto"
  if value < 0 and -value > 0 then
    local v, u = M.scale(-value, from, to)
    return -v, u
  end
  for _, fam in ipairs(families) do
    local fu = sniff(fam, from)
    if fu then
      local v = value * fu[3]
      if to == "minimum" or to == "auto" then
        local f, name = 0, nil
        for _, u in ipairs(fam.units) do
          if u[3] >= f and v / u[3] >= 1.0 then f, name = u[3], u[1] end
        end
        if name then return v / f, name end
        return v / fam.default[2], fam.default[1]
      end
      local tu = sniff(fam, to)
      if not tu then return v / fam.default[2], fam.default[1] end
      return v / tu[3], tu[1]
    end
  end
  if to == "count" or to == "sample" or to == "unit" or to == "minimum" or to == "auto" then
    return value + 0.0, ""
  end
  return value + 0.0, to
end

--- pprof's ScaledLabel: two decimals, a trailing ".00" removed, "0" without a unit.
function M.scaled_label(value, from, to)
  local v, u = M.scale(value, from, to)
  local s = string.format("%.2f", v):gsub("%.00$", "")
  if s == "0" or s == "-0" then return "0" end
  return s .. u
end

function M.label(value, unit) return M.scaled_label(value or 0, unit, "auto") end

--- Scale value (in unit) to the most readable unit: "3.05s", "10ms", "1.50MB", "123".
function M.scaled(value, unit) return M.scaled_label(value or 0, unit, "auto") end

--- pprof's Percentage: "  100%" near 100, "%5.2f%%" from 1, "%5.2g%%" below 1.
function M.percentage(value, total)
  local ratio = 0.0
  if total ~= 0 then ratio = math.abs(value / total) * 100 end
  if ratio >= 99.95 and ratio <= 100.05 then return "  100%" end
  if ratio >= 1.0 then return string.format("%5.2f%%", ratio) end
  return string.format("%5.2g%%", ratio)
end

-- Two decimals without a trailing ".00" (pprof's number style).
function M.fmt_number(x)
  return (string.format("%.2f", x):gsub("%.00$", ""))
end

--- "1 stale function", "3 stale functions": n and the noun, plural unless n is 1 (the
-- plural form defaults to noun .. "s"; "1 of 8 checks" reads plural(8, "check")).
function M.plural(n, noun, plural_noun)
  local text = math.type(n) == "float" and n == math.floor(n) and ("%d"):format(n) or tostring(n)
  return text .. " " .. (n == 1 and noun or (plural_noun or noun .. "s"))
end

--- A fraction as a percentage for people: pct(0.1901) -> "19.01%" (decimals default 2);
-- "n/a" for a non-number or NaN.
function M.pct(fraction, decimals)
  if type(fraction) ~= "number" or fraction ~= fraction then return "n/a" end
  return ("%." .. (decimals or 2) .. "f%%"):format(fraction * 100)
end

--- Seconds for people: "90.5 s", "60 s", "0.25 s".
function M.seconds(s)
  return ("%s s"):format(("%.2f"):format(s):gsub("%.?0+$", ""))
end

--- A duration for people, to a tenth: "20.2 s" under two minutes, "10.0 min" from there;
-- nil for a non-number.
function M.duration(s)
  if type(s) ~= "number" then return nil end
  if s >= 120 then return ("%.1f min"):format(s / 60) end
  return ("%g s"):format(math.floor(s * 10 + 0.5) / 10)
end

return M
