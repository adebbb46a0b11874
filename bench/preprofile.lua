-- preprofile.lua: `make bench` row "pgolua preprofile": load a profile and write the text
-- `go tool preprofile` writes (the compiler's weighted call edges).
--   pgolua bench/preprofile.lua FILE OUT
local pgo = require "pgo"
local path, out = assert(arg[1], "usage: pgolua bench/preprofile.lua FILE OUT"), arg[2] or "/dev/null"
local p = assert(pgo.load(path))
local text = assert(pgo.preprofile(p))
local f = assert(io.open(out, "wb"))
f:write(text)
f:close()
