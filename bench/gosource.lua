-- gosource.lua: `make bench` row "pgolua go_source": scan a Go source tree for every
-- function declaration, spelled as profiles spell them; prints lines and lines/s.
--   pgolua bench/gosource.lua DIR
local pgo = require "pgo"
local dir = assert(arg[1], "usage: pgolua bench/gosource.lua DIR")
local t0 = os.clock()
local syms = assert(pgo.symbols.go_source(dir, { include_tests = true, include_vendor = true,
  include_nested = true, lenient = true, module = "std" }))
local cpu = os.clock() - t0
io.stderr:write(string.format("go_source: %d files, %d lines, %d declarations, %.2f s CPU, %.1fM lines/s\n",
  syms.files, syms.lines, #syms.list, cpu, syms.lines / cpu / 1e6))
