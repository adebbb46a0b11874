-- tags.lua: `make bench` row "pgolua tags": load a profile and print `go tool pprof -tags`.
--   pgolua bench/tags.lua FILE
local pgo = require "pgo"
local path = assert(arg[1], "usage: pgolua bench/tags.lua FILE")
local p = assert(pgo.load(path))
io.write((assert(pgo.report.tags(p))))
