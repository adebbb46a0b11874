--- pgo.repl: how the interactive prompt shows values.
--
-- results(...) is the text printed for all the values a line returns (see below);
-- format(value [, opts]) returns the text the prompt prints for one value:
--   * strings, numbers, booleans, nil, functions: as print() shows them;
--   * a value whose metatable has __tostring (a profile, a table with a class): tostring();
--   * any other table: a constructor, sequence first, then the other keys sorted,
--     e.g. { 1, 2, a = 1, b = { x = true } }, one line when it fits opts.line columns,
--     else one entry per line. Nesting deeper than opts.depth shows as {...}, entries
--     beyond opts.width as ..., a table inside itself as <cycle>.
-- opts (optional): depth (3), width (40), line (80).
-- No metamethod other than __tostring runs: fields are read with rawget/next.
local M = {}

local DEFAULTS = { depth = 3, width = 40, line = 80 }

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
            repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[w] = true
end

local getmeta = debug and debug.getmetatable or getmetatable

-- The __tostring metamethod of v, if any (read raw, as tostring does).
local function tostring_meta(v)
  local mt = getmeta(v)
  return type(mt) == "table" and rawget(mt, "__tostring") or nil
end

-- A string as a Lua literal on one line.
local function quote(s)
  return (string.format("%q", s):gsub("\\\n", "\\n"))
end

-- tostring that survives a failing __tostring.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "<" .. type(v) .. ": __tostring failed: " .. tostring(s) .. ">"
end

-- Text for a non-table value (or one printed through __tostring). Strings are quoted
-- inside tables ('nested') and shown raw at the top.
local function scalar(v, nested)
  if type(v) == "string" and nested then return quote(v) end
  return safe_tostring(v)
end

-- Order of keys: numbers, then strings, then booleans, then anything else by its text.
local TYPE_RANK = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = TYPE_RANK[ta] or 4, TYPE_RANK[tb] or 4
  if ra ~= rb then return ra < rb end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return (not a) and b end
  return safe_tostring(a) < safe_tostring(b)
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. scalar(k, true) .. "]"
end

local render

-- The constructor text of table t (no __tostring), at nesting 'depth', for a line that
-- starts at 'indent'.
local function render_table(t, opts, depth, indent, visiting)
  if visiting[t] then return "<cycle>" end
  if next(t) == nil then return "{}" end
  if depth >= opts.depth then return "{...}" end
  visiting[t] = true
  local inner = indent .. "  "
  local items, shown = {}, 0
  local seq = 0
  while rawget(t, seq + 1) ~= nil do seq = seq + 1 end
  for i = 1, math.min(seq, opts.width) do
    items[#items + 1] = render(rawget(t, i), opts, depth + 1, inner, visiting)
    shown = shown + 1
  end
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= seq) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  for _, k in ipairs(keys) do
    if shown >= opts.width then break end
    items[#items + 1] = key_text(k) .. " = " .. render(rawget(t, k), opts, depth + 1, inner, visiting)
    shown = shown + 1
  end
  if seq + #keys > shown then items[#items + 1] = "..." end
  visiting[t] = nil
  local one = "{ " .. table.concat(items, ", ") .. " }"
  if #indent + #one <= opts.line and not one:find("\n", 1, true) then return one end
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

function render(v, opts, depth, indent, visiting)
  if type(v) ~= "table" or tostring_meta(v) ~= nil then return scalar(v, depth > 0) end
  return render_table(v, opts, depth, indent, visiting)
end

--- The text the prompt prints for 'value'. See the top of this file.
-- @param value any Lua value
-- @tparam[opt] table opts depth, width, line (see DEFAULTS)
-- @treturn string
function M.format(value, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'format' (table expected, got " .. type(opts) .. ")", 2)
  end
  local o = {}
  for k, d in pairs(DEFAULTS) do o[k] = opts and opts[k] or d end
  return render(value, o, 0, "", {})
end

--- The text the prompt prints for the results of a line: each value through format,
-- separated by tabs. When the first result is a report (text of several lines, as
-- pgo.report.top returns), empty tables after it (its empty list of warnings) are left
-- out. A last result that is a string ending in a newline gets no blank line.
-- @treturn string (the prompt adds the final newline)
function M.results(...)
  local vals = table.pack(...)
  local n = vals.n
  local report = type(vals[1]) == "string" and vals[1]:find("\n", 1, true) ~= nil
  while report and n > 1 and type(vals[n]) == "table" and getmeta(vals[n]) == nil
    and next(vals[n]) == nil do
    n = n - 1
  end
  local parts = {}
  for i = 1, n do parts[i] = M.format(vals[i]) end
  local text = table.concat(parts, "\t")
  if n >= 1 and type(vals[n]) == "string" then text = text:gsub("\n$", "") end
  return text
end

return M
