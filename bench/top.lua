-- top.lua: `make bench` row "pgolua top": load a profile and compute its top 20 by flat.
--   pgolua bench/top.lua FILE
-- Exits 77 (skip) when this build has neither p:top nor pgo.report.top.
local pgo = require "pgo"
local path = assert(arg[1], "usage: pgolua bench/top.lua FILE")
local p = assert(pgo.load(path))

local ok, report = pcall(function() return pgo.report end)
if not ok then report = nil end
local rows
if type(p.top) == "function" then
  rows = p:top{n = 20}
elseif report and type(report.top) == "function" then
  rows = report.top(p, {n = 20})
else
  io.stderr:write("top.lua: neither p:top nor pgo.report.top exists in this build\n")
  os.exit(77)
end

-- print the rows, so the work is comparable to `go tool pprof -top` printing its table
if type(rows) == "string" then
  io.write(rows)
elseif type(rows) == "table" then
  for _, r in ipairs(rows) do
    print(r.flat, r.flat_pct, r.sum_pct, r.cum, r.cum_pct, r.name)
  end
end
