-- load.lua: `make bench` row "pgolua load+info": decode a profile and read its header.
--   pgolua bench/load.lua FILE
local pgo = require "pgo"
local path = assert(arg[1], "usage: pgolua bench/load.lua FILE")
local p = assert(pgo.load(path))
local info = p:info()
print(string.format("%s: %d sample messages, %d locations, %d functions, totals %s", path,
  info.samples, info.locations, info.functions, table.concat(info.totals, " ")))
