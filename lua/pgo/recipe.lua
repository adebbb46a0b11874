-- pgo.recipe: small helpers the recipes share (recipes/*.lua), so that each recipe keeps
-- only its policy. Nothing here knows about profiles; it is output and process plumbing.
--
--   local recipe = require "pgo.recipe"
--   local out = recipe.new("stale")          -- messages are prefixed "stale: "
--   local o, code = recipe.parse(parser, arg, out)  -- argparse; usage errors return 1
--   if not o then return code end
--   return out:fail(err)                     -- "stale: <err>" on stderr, returns 1
--   io.write(recipe.json{ functions = recipe.array(list) }, "\n")   -- [] when empty
--   "| " .. recipe.md(name) .. " |"          -- a profile string made inert in markdown
--   recipe.md_code(path), recipe.md_block(lines, "sh")   -- code spans and fenced blocks
--   io.popen("git -C " .. recipe.shell_quote(root) .. " log -1 ...")   -- never unquoted
--   recipe.shell_word(path)                  -- quoted only when the shell would need it
--   recipe.pct(0.1901) -> "19.01%"   recipe.read_file(path)   recipe.write_file(path, text)
--
-- Exit codes (recipe.EXIT), the same meaning in every recipe:
--   ok = 0              the recipe did its job and found nothing to object to
--   error = 1           usage error, unreadable input, a library error
--   failed = 2          a check failed (doctor step failed, refresh rejected the profile)
--   over_threshold = 3  a measured value is over its CI threshold (stale profile)
--
-- Like every lua/pgo module, misuse raises and outside failures return nil, message, code.
local recipe = {}

recipe.EXIT = { ok = 0, error = 1, failed = 2, over_threshold = 3 }

-- {=====================================================================================
-- Messages

-- The text of an error without Lua's wrapping: "bad argument #1 to 'load' (x)" -> "x",
-- "file.lua:12: x" (a raised string with a position) is kept as it is.
function recipe.clean_error(msg)
  msg = tostring(msg)
  return (msg:gsub("^bad argument #%d+ to '[%w_%.:]+' %((.*)%)$", "%1"))
end

local Output = {}
Output.__index = Output

--- A message context for the recipe called name: out:fail(msg), out:note(msg).
function recipe.new(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'new' (string expected, got " .. type(name) .. ")", 2)
  end
  return setmetatable({ name = name, stderr = io.stderr }, Output)
end

--- Write "name: msg" on stderr.
function Output:note(msg)
  self.stderr:write(self.name, ": ", recipe.clean_error(msg), "\n")
end

--- Write "name: msg" on stderr and return the exit code (default EXIT.error).
function Output:fail(msg, code)
  self:note(msg)
  return code or recipe.EXIT.error
end

--- parser:pparse(args) for an argparse parser; on a usage error prints the message and
-- the usage line and returns nil, EXIT.error. --help still prints and exits 0 (argparse).
function recipe.parse(parser, args, out)
  local ok, o = parser:pparse(args)
  if ok then return o end
  out = out or recipe.new(parser._name or "recipe")
  return nil, out:fail(tostring(o) .. "\n" .. parser:get_usage())
end

-- }=====================================================================================

-- {=====================================================================================
-- JSON (pgo.json, the library's one encoder)

local json = require "pgo.json"

--- Mark t as a JSON array, so that it encodes as [] when empty (pgo.json.array).
recipe.array = json.array

--- v as one line of JSON text (pgo.json.encode).
function recipe.json(v) return json.encode(v) end

-- }=====================================================================================

-- {=====================================================================================
-- Markdown and shell

local markdown = require "pgo.markdown"

--- s (a string from a profile, a path, a server) as inert markdown text (pgo.markdown.text):
-- it renders as itself and cannot open a code span, a link, an image, HTML, a table cell,
-- emphasis, a heading or a list, nor mention anyone.
recipe.md = markdown.text

--- s as a markdown code span (pgo.markdown.code): the fence is longer than any run of
-- backticks inside; with in_table, | is escaped so a table row stays one row.
recipe.md_code = markdown.code

--- text (lines, or a list of lines) as a fenced markdown code block (pgo.markdown.block).
recipe.md_block = markdown.block

--- s quoted for /bin/sh: one word whatever it holds ('it'\''s').
function recipe.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- }=====================================================================================

-- {=====================================================================================
-- Numbers and files

--- A fraction as a percentage: pct(0.1901) -> "19.01%" (pgo.units.pct).
recipe.pct = require("pgo.units").pct

--- Read a whole file. Returns the text, or nil, message, code ("not_found", "io").
function recipe.read_file(path)
  local f, err, errno = io.open(path, "rb")
  if not f then return nil, err, errno == 2 and "not_found" or "io" end
  local text = f:read("a")
  f:close()
  return text
end

--- Write text to path ("-" or nil: standard output). Through a temporary file and a
-- rename in the same directory (pgo.fs when this build has it), so readers never see half
-- a file. Returns true, or nil, message, code.
function recipe.write_file(path, text)
  if path == nil or path == "-" then
    io.stdout:write(text)
    return true
  end
  local okfs, fs = pcall(require, "pgo.fs")
  if okfs and type(fs) == "table" and fs.tempfile and fs.replace then
    local dir = path:match("^(.*)/[^/]*$") or "."
    if dir == "" then dir = "/" end
    local tmp, f, code = fs.tempfile(dir, "pgolua-out")
    if not tmp then return nil, path .. ": " .. tostring(f), code end
    local ok, err = f:write(text)
    f:close()
    if ok then ok, err, code = fs.replace(tmp, path) end
    if not ok then
      os.remove(tmp)
      return nil, path .. ": " .. tostring(err), code or "io"
    end
    return true
  end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err, "io" end
  local ok, werr = f:write(text)
  f:close()
  if ok then ok, werr = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    return nil, path .. ": " .. tostring(werr), "io"
  end
  return true
end

--- s as one /bin/sh word for people to read: unchanged when it holds only characters
-- the shell leaves alone (letters, digits, . / _ - = : , + @ %), else shell_quote(s).
function recipe.shell_word(s)
  s = tostring(s)
  if s ~= "" and s:match("^[%w%./_%-=:,+@%%]+$") then return s end
  return recipe.shell_quote(s)
end

--- The base name of a path ("a/b/default.pgo" -> "default.pgo").
function recipe.basename(path)
  return (tostring(path):gsub("/+$", ""):match("([^/]*)$"))
end

-- }=====================================================================================

return recipe
