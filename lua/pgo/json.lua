-- pgo.json: the library's one JSON encoder, for every report, recipe and tool output.
--
--   local json = require "pgo.json"
--   json.encode { rows = json.array(list), file = "a/b.pgo" }   -- one line, no newline
--
-- Built on lua-cjson for the string escapes; the walk is ours because lua-cjson 2.1.0
-- writes an empty table as {}, integers past 2^53 and floats with "%.14g" (losing
-- digits of nanosecond times), keys in hash order, "/" as "\/", and invalid UTF-8 as it
-- is. Here: objects have sorted keys (the same input gives the same bytes), "/" stays
-- "/", each byte of an invalid UTF-8 sequence becomes \ufffd (as Go's encoding/json
-- writes it), integers are exact, floats are the shortest text that reads back as the
-- same number, NaN and infinities are null.
local options = require "pgo.options"

-- lua-cjson is a dependency of pgolua; only a host that does not link it (the fuzz
-- harnesses) gets the few escape rules below instead of cjson.encode for strings.
local has_cjson, cjson = pcall(require, "cjson")
if not has_cjson then
  local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
  cjson = {
    null = setmetatable({}, { __name = "pgo.json.null" }),
    encode = function(str)
      return '"' .. str:gsub('[%c"\\]', function(c) return ESC[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
    end,
    decode = function() error("lua-cjson is not available in this host", 0) end,
  }
end

local json = {}

local ARRAY = { __name = "pgo.json.array" }

--- Mark t (default a new table) as a JSON array, so that it is written [] when empty.
-- Returns t.
function json.array(t)
  t = t or {}
  if type(t) ~= "table" then
    error("bad argument #1 to 'array' (table expected, got " .. type(t) .. ")", 2)
  end
  return setmetatable(t, ARRAY)
end

--- The value written as null (lua-cjson's cjson.null).
json.null = cjson.null

-- The bytes of s with each byte of an invalid UTF-8 sequence replaced by U+FFFD.
local function valid_utf8(s)
  if utf8.len(s) then return s end
  local parts, pos = {}, 1
  while pos <= #s do
    local n, bad = utf8.len(s, pos)
    if n then parts[#parts + 1] = s:sub(pos); break end
    parts[#parts + 1] = s:sub(pos, bad - 1)
    parts[#parts + 1] = "\u{FFFD}"
    pos = bad + 1
  end
  return table.concat(parts)
end

-- s as a JSON string. lua-cjson escapes "/" as "\/"; "/" never takes part in an escape,
-- so each piece between slashes is encoded alone and the pieces are joined with "/".
local function encode_string(s)
  s = valid_utf8(s)
  if not s:find("/", 1, true) then return cjson.encode(s) end
  local pieces = {}
  for piece in (s .. "/"):gmatch("(.-)/") do
    pieces[#pieces + 1] = cjson.encode(piece):sub(2, -2)
  end
  return '"' .. table.concat(pieces, "/") .. '"'
end

-- The shortest "%.Ng" text that reads back as x.
local function shortest_float(x)
  for prec = 15, 17 do
    local s = ("%." .. prec .. "g"):format(x)
    if prec == 17 or tonumber(s) == x then return s end
  end
end

local function encode_value(v, key, o, out, depth)
  if depth > 100 then error("BUG: pgo.json.encode: nesting deeper than 100", 0) end
  local t = type(v)
  if v == nil or v == cjson.null or (o.null ~= nil and v == o.null) then
    out[#out + 1] = "null"
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else out[#out + 1] = o.float(v) end
  elseif t == "string" then
    out[#out + 1] = encode_string(v)
  elseif t == "table" then
    local n, count = #v, 0
    for _ in pairs(v) do count = count + 1 end
    local is_array = (n > 0 and count == n)
      or (count == 0 and (getmetatable(v) == ARRAY or (key and o.arrays[key])))
    if is_array then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode_value(v[i], nil, o, out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        encode_value(x, k, o, out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = encode_string(tostring(v))   -- a function or userdata: its name
  end
end

local encode_opts = { float = "function", arrays = "table", null = "any" }

--- v as one line of JSON text (no newline). opts: float = function(x) -> text for
-- non-integer numbers (default: the shortest text that reads back exactly); arrays =
-- {key = true, ...}: fields whose empty tables are written [] (json.array marks one table);
-- null = a sentinel of the caller's, written null like json.null.
function json.encode(v, opts)
  local o = options.check("encode", 2, opts, encode_opts)
  local out = {}
  encode_value(v, nil, { float = o.float or shortest_float, arrays = o.arrays or {}, null = o.null },
    out, 0)
  return table.concat(out)
end

--- JSON text as a Lua value (lua-cjson); nil, message, "bad_json" when it is not JSON.
function json.decode(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'decode' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, v = pcall(cjson.decode, text)
  if not ok then return nil, "not JSON: " .. tostring(v):gsub("^.-: ", ""), "bad_json" end
  return v
end

return json
