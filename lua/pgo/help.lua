--- pgo.help: the reference entries of docs/api.md, which is compiled into the binary.
--
--   pgo.help "load"            print the entry of pgo.load (also "pgo.load", "p:top",
--   pgo.help(pgo.load)         "report.top", or the function or module itself)
--   pgo.help()                 print how to use it and the reference's sections
--   pgo.help.entry(what)       -> the entry's text | nil, message
--
-- The REPL sets the global help to pgo.help. An entry is the section whose heading names
-- the function, else the bullet that starts with it, else the paragraphs that mention it.
local docs = require "pgo.core.docs"

local M = {}

-- docs/api.md as lines, and its headings: {level, line index}.
local function parse(text)
  local lines, headings = {}, {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
    local hashes = line:match("^(#+) ")
    if hashes then headings[#headings + 1] = { level = #hashes, at = #lines } end
  end
  return lines, headings
end

local LINES, HEADINGS = parse(docs.api)

-- Does line mention `name` as code, followed by a call, a table or the end of the span?
local function names(line, name)
  local i = 1
  while true do
    local a, b = line:find("`" .. name, i, true)
    if not a then return false end
    local after = line:sub(b + 1, b + 1)
    if after == "(" or after == "`" or after == "{" or after == " " or after == "[" then
      return true
    end
    i = b + 1
  end
end

-- The section starting at heading h, up to the next heading of the same or a higher level.
local function section(h)
  local stop = #LINES
  for _, other in ipairs(HEADINGS) do
    if other.at > h.at and other.level <= h.level then stop = other.at - 1; break end
  end
  return table.concat(LINES, "\n", h.at, stop)
end

-- The bullet starting at line i, with its indented continuation lines.
local function bullet(i)
  local j = i
  while LINES[j + 1] and LINES[j + 1]:match("^  %S") do j = j + 1 end
  return table.concat(LINES, "\n", i, j)
end

local function find_entry(name)
  for _, h in ipairs(HEADINGS) do
    if h.level >= 2 and names(LINES[h.at], name) then return section(h) end
  end
  for i, line in ipairs(LINES) do
    if line:match("^%- ") and names(line:match("^%- (.*)"), name) then return bullet(i) end
  end
  local found = {}
  for _, line in ipairs(LINES) do
    if names(line, name) and not line:match("^#") then
      found[#found + 1] = line:match("^%s*(.-)%s*$")
    end
    if #found >= 8 then break end
  end
  if #found > 0 then return table.concat(found, "\n") end
  return nil
end

-- The documented name of a value: a function or module of pgo, or a profile method.
local function name_of(value)
  local pgo = require "pgo"
  if value == pgo then return "pgo" end
  for k, v in pairs(pgo) do
    if v == value then return "pgo." .. k end
  end
  local mt = getmetatable(pgo)
  for k in pairs(mt and mt.__lazy or {}) do
    local m = pgo[k]
    if m == value then return "pgo." .. k end
    if type(m) == "table" then
      for f, v in pairs(m) do
        if v == value then return "pgo." .. k .. "." .. f end
      end
    end
  end
  for k, v in pairs(pgo.profile.methods) do
    if v == value then return "p:" .. k end
  end
  return nil
end

-- The names to look for, most specific first: "load" -> pgo.load, p:load, load.
local function candidates(name)
  if name:match("^pgo[.:]") or name:match("^p:") then return { name } end
  return { "pgo." .. name, "p:" .. name, name }
end

--- The text of the entry for what (a name or a value of the library).
-- @treturn[1] string
-- @treturn[2] nil, message
function M.entry(what)
  local name = what
  if type(what) ~= "string" then
    name = name_of(what)
    if not name then
      return nil, "no entry: that " .. type(what) .. " is not a documented part of pgo"
    end
  end
  for _, n in ipairs(candidates(name)) do
    local text = find_entry(n)
    if text then return text end
  end
  -- a module: the headings and bullets that name its functions
  local list = {}
  for _, line in ipairs(LINES) do
    if (line:match("^#") or line:match("^%- ")) and line:find("`" .. name .. ".", 1, true) then
      list[#list + 1] = line
    end
  end
  if #list > 0 then return table.concat(list, "\n") end
  return nil, ("no entry for '%s' in docs/api.md; help() lists the sections"):format(name)
end

local USAGE = [[help(pgo.load) or pgo.help "load" prints an entry of the reference
(docs/api.md, compiled into pgolua); names: "load", "p:top", "report.top", "pgo.flame".
Sections:]]

--- Print the entry for what (see M.entry), or with no argument the list of sections.
function M.help(what)
  if what == nil then
    local out = { USAGE }
    for _, h in ipairs(HEADINGS) do
      if h.level == 2 then out[#out + 1] = "  " .. LINES[h.at]:gsub("^#+ ", "") end
    end
    io.write(table.concat(out, "\n"), "\n")
    return
  end
  local text, err = M.entry(what)
  io.write(text and text:gsub("%s+$", "") or err, "\n")
end

return setmetatable(M, { __call = function(_, what) return M.help(what) end })
