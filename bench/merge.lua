-- merge.lua: `make bench` row "pgolua merge": merge profiles and write the result.
--   pgolua bench/merge.lua OUT FILE1 FILE2 ...
-- Uses pgo.merge_files(paths) when it exists, else loads each file and calls pgo.merge{...}.
-- Exits 77 (skip) when this build has neither.
local pgo = require "pgo"
local out = assert(arg[1], "usage: pgolua bench/merge.lua OUT FILE1 FILE2 ...")
local paths = {}
for i = 2, #arg do paths[#paths + 1] = arg[i] end
assert(#paths > 0, "usage: pgolua bench/merge.lua OUT FILE1 FILE2 ...")

local merged, msg
if type(pgo.merge_files) == "function" then
  merged, msg = pgo.merge_files(paths)
elseif type(pgo.merge) == "function" then
  local profiles = {}
  for i, path in ipairs(paths) do profiles[i] = assert(pgo.load(path)) end
  merged, msg = pgo.merge(profiles)
else
  io.stderr:write("merge.lua: neither pgo.merge_files nor pgo.merge exists in this build\n")
  os.exit(77)
end
assert(merged, msg)
assert(merged:write(out))
