#!/usr/bin/env pgolua
-- flame.lua: write an interactive SVG flame graph of a CPU profile (click to zoom,
--   Ctrl-F to search, Esc to reset), or with --diff the differential flame graph of
--   two profiles: widths from PROFILE, red where a function's share of the samples grew
--   against BASE, blue where it shrank. Open the SVG in a browser.
-- Run:   pgolua recipes/flame.lua PROFILE... [--diff BASE] [--icicle] [-o OUT.svg]
--          [--min-width PX] [--sample-index NAME] [--title TEXT]
-- Exit:  0 graph written, 1 error (unreadable profile, bad option, cannot write OUT).
-- Adapt: copy this file; change the values under "ADAPT" below. Everything else is
--   library code (pgo.flame.write).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local DEFAULT_OUT = "flame.svg"     -- written in the working directory
local DEFAULT_MIN_WIDTH = 0.5       -- px: narrower callees are merged into one frame
local WIDTH = 1200                  -- px
-- ---------------------------------------------------------------------------------------

local out = recipe.new("flame")

local parser = argparse("flame", "Write an interactive SVG flame graph of CPU profiles.")
parser:argument("profiles", "Profile file(s); several are merged."):args("+")
parser:option("--diff", "Base profile: draw a differential flame graph against it.")
  :argname("BASE")
parser:flag("--icicle", "Root at the top, callees below (default: root at the bottom).")
parser:option("-o --output", "SVG file to write.", DEFAULT_OUT):argname("FILE")
parser:option("--min-width", "Merge callees narrower than this many pixels.",
  tostring(DEFAULT_MIN_WIDTH)):convert(tonumber):argname("PX")
parser:option("--sample-index", "Value column by name (samples, cpu)."):argname("NAME")
parser:option("--title", "Title drawn at the top."):argname("TEXT")

-- The profiles given, merged when there are several.
local function load_all(files)
  if #files == 1 then return pgo.load(files[1]) end
  return pgo.merge_files(files)
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  if not o.min_width or o.min_width < 0 then
    return out:fail("--min-width must be a number of pixels, 0 or more")
  end
  local p, err = load_all(o.profiles)
  if not p then return out:fail(err) end
  local opts = { min_width = o.min_width, icicle = o.icicle, width = WIDTH,
    sample_index = o.sample_index, title = o.title }
  if o.diff then
    local base, berr = pgo.load(o.diff)
    if not base then return out:fail(berr) end
    opts.base = base
  end
  -- raises on a sample type the profile lacks; returns nil, message when it cannot write
  local ok, written, werr = pcall(pgo.flame.write, p, o.output, opts)
  if not ok then return out:fail(written) end
  if not written then return out:fail(werr) end
  io.write(("flame: wrote %s\n"):format(o.output))
  return recipe.EXIT.ok
end

os.exit(main(arg))
