-- pgo.options: the library's one option-table checker and its one failure helper.
--
--   local options = require "pgo.options"
--   local KNOWN = { n = "integer", cum = "boolean", focus = "string", weights = "table",
--                   seconds = "number|false", mode = function(v) ... end }
--   function M.top(p, opts)
--     opts = options.check("top", 2, opts, KNOWN)   -- {} when opts is nil
--     ...
--     if bad then return options.fail("not_pprof", "%s: not a profile", path) end
--
-- Every public function with an option table calls check: a misspelt option raises
-- instead of being ignored ("bad argument #2 to 'profile' (unknown option 'secnds')").
local options = {}

-- type names a spec may use beyond type(): "integer" (math.type), "false" (the value
-- false, e.g. seconds = false), "any"; "number|boolean" allows either.
local function has_type(v, want)
  for w in want:gmatch("[^|]+") do
    if w == "any" or (w == "integer" and math.type(v) == "integer") or (w == "false" and v == false)
      or type(v) == w then
      return true
    end
  end
  return false
end

-- "a string", "an integer", "a number or boolean", "false"
local function spelled(want)
  local words = {}
  for w in want:gmatch("[^|]+") do words[#words + 1] = w end
  if words[1] ~= "false" then words[1] = (words[1]:match("^[aeiou]") and "an " or "a ") .. words[1] end
  return table.concat(words, " or ")
end

-- What was given, for the message: a type name, or the value of a number or a string
-- (a value test failed on it).
local function given(v, show_value)
  if type(v) == "number" then return tostring(v) end
  if show_value and type(v) == "string" then return ("%q"):format(v) end
  return type(v)
end

--- What is wrong with the option table opts against spec, or nil when nothing is:
-- "unknown option 'x'", "option 'n' must be an integer, got string". spec maps each known
-- option to a type name ("string", "number", "integer", "boolean", "table", "function",
-- "false", "any", or several joined by "|"), or a function(v) returning true, or false and
-- what was expected ("a fraction between 0 and 1"). opts must be a table.
function options.problem(opts, spec)
  for k, v in pairs(opts) do
    local want = spec[k]
    if want == nil then return ("unknown option '%s'"):format(tostring(k)) end
    local ok, expected
    local test = type(want) == "function"
    if test then
      ok, expected = want(v)
    else
      ok, expected = has_type(v, want), spelled(want)
    end
    if not ok then
      return ("option '%s' must be %s, got %s"):format(tostring(k), expected or "another value",
        given(v, test))
    end
  end
  return nil
end

--- opts checked against spec (see problem); returns opts, or a new empty table when opts
-- is nil. Raises "bad argument #argn to 'fname' (...)" for a non-table opts, an unknown
-- option or a value of the wrong kind, as an error of the caller of fname (level, default
-- 3: check, fname, its caller; 0 for no position).
function options.check(fname, argn, opts, spec, level)
  level = level or 3
  if opts == nil then return {} end
  local problem
  if type(opts) ~= "table" then
    problem = "table expected, got " .. type(opts)
  else
    problem = options.problem(opts, spec)
  end
  if problem then
    error(("bad argument #%d to '%s' (%s)"):format(argn, fname, problem), level)
  end
  return opts
end

--- Raise "bad argument #argn to 'fname' (WANT expected, got TYPE)" at the caller of fname
-- unless type(v) == want.
function options.argument(fname, argn, v, want)
  if type(v) ~= want then
    error(("bad argument #%d to '%s' (%s expected, got %s)"):format(argn, fname, want, type(v)), 3)
  end
  return v
end

--- nil, message, code: the failure of a function that read outside data. With more
-- arguments, message is a format string (string.format(message, ...)).
function options.fail(code, message, ...)
  if select("#", ...) > 0 then message = message:format(...) end
  return nil, message, code
end

return options
