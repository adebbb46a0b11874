#!/usr/bin/env pgolua
-- top.lua: print the functions that cost the most in CPU profiles, exactly as
--   `go tool pprof -top` prints them; several files are merged first, --base subtracts
--   a baseline (pprof -base), --json gives the same table for machines.
-- Run:   pgolua recipes/top.lua FILE... [--cum] [-n N] [--focus RE] [--ignore RE]
--          [--tagfocus k=v] [--base FILE] [--json] [--granularity G]
--          [--sample-index NAME] [--noinlines] [--tagignore k=v] [--pprof LAYOUT]
-- Exit:  0 table printed, 1 error (unreadable profile, bad option or regexp, merge or
--        diff not available in this build).
-- Adapt: copy this file; change the values under "ADAPT" below (default row count, the
--   pprof layout, where notes go). Everything else is library code (pgo.report).
local pgo = require "pgo"
local argparse = require "argparse"
local recipe = require "pgo.recipe"

-- ADAPT ---------------------------------------------------------------------------------
local DEFAULT_ROWS = 0              -- 0 = every node above pprof's cutoff, like -top
-- Whose `go tool pprof` the table looks like: nil = the newest Go installed (or
-- $PGOLUA_PPROF_LAYOUT; pgo.report.default_layout), else "go1.23", "go1.24" or "head"
-- (Go 1.25 and later, google/pprof HEAD).
local PPROF_LAYOUT = nil
local function note(msg)            -- pprof's stderr notes ("Focus expression matched ...")
  io.stderr:write(msg, "\n")
end
-- ---------------------------------------------------------------------------------------

local parser = argparse("pgolua top", "Print the top functions of CPU profiles, as go tool pprof -top.")
parser:argument("files", "Profile file(s); several are merged."):args("+")
parser:flag("--cum", "Sort by cumulative value instead of flat.")
parser:option("-n --nodecount", "Rows to show (0 = all).", tostring(DEFAULT_ROWS))
  :convert(math.tointeger)
parser:option("--focus", "Only samples with a frame matching this regexp (Go's RE2 syntax).")
parser:option("--ignore", "Drop samples with a frame matching this regexp.")
parser:option("--tagfocus", "Only samples with these labels (key=regexp, or a range).")
parser:option("--tagignore", "Drop samples with these labels.")
parser:option("--base", "Subtract this profile first (pprof -base).")
parser:option("--granularity", "functions, filefunctions, files, lines or addresses.",
  "functions"):choices{ "functions", "filefunctions", "files", "lines", "addresses" }
parser:option("--sample-index", "Value column by name (samples, cpu) or 0-based number.")
parser:flag("--noinlines", "Attribute inlined functions to their callers.")
parser:option("--pprof", "Print as this pprof prints (default: the newest Go installed).")
  :choices{ "go1.23", "go1.24", "head" }
parser:flag("--json", "Print JSON instead of the text table.")
parser:epilog("Exit: 0 table printed, 1 error (unreadable profile, bad option or regexp).")

local function fail(msg)
  msg = recipe.clean_error(msg)        -- a raised option error without Lua's wrapping
  io.stderr:write("top: ", msg, "\n")
  return 1
end

local function main(args)
  local ok, o = parser:pparse(args)
  if not ok then return fail(o .. "\n" .. parser:get_usage()) end
  if not o.nodecount or o.nodecount < 0 then return fail("-n must be a non-negative integer") end

  local profiles = {}
  for _, file in ipairs(o.files) do
    local p, err = pgo.load(file)
    if not p then return fail(err) end
    profiles[#profiles + 1] = p
  end
  local p = profiles[1]
  if #profiles > 1 then
    if type(pgo.merge) ~= "function" then
      return fail("several profiles need pgo.merge, which this build of pgolua lacks")
    end
    local err
    p, err = pgo.merge(profiles)
    if not p then return fail(err) end
  end
  if o.base then
    local base, err = pgo.load(o.base)
    if not base then return fail(err) end
    if type(p.diff) ~= "function" then
      return fail("--base needs p:diff, which this build of pgolua lacks")
    end
    p, err = p:diff(base)
    if not p then return fail(err) end
  end

  local opts = {
    n = o.nodecount, cum = o.cum, focus = o.focus, ignore = o.ignore, tagfocus = o.tagfocus,
    tagignore = o.tagignore, granularity = o.granularity, noinlines = o.noinlines,
    sample_index = o.sample_index, pprof = o.pprof or PPROF_LAYOUT,
  }
  local report = o.json and pgo.report.top_json or pgo.report.top
  local done, out, notes = pcall(report, p, opts)
  if not done then return fail(out) end
  if not out then return fail(o.files[1] .. ": " .. notes) end   -- nil, message, code
  for _, n in ipairs(notes) do note(n) end
  io.write(out, o.json and "\n" or "")
  return 0
end

os.exit(main(arg))
