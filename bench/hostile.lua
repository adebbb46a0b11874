-- hostile.lua: `make bench` rows "hostile ...": the hostile inputs of issue 15 must end in
-- too_large fast and small under the default budget.
--   pgolua bench/hostile.lua make DIR       writes DIR/{deep_stacks,huge_string,empty_strings}.gz
--   pgolua bench/hostile.lua decode FILE    exit 0 when pgo.load says too_large, else 1
package.path = "spec/?.lua;" .. package.path
local pgo = require "pgo"
local mode, path = arg[1], arg[2]
if mode == "make" then
  local hostile = require "support.hostile"
  for _, name in ipairs { "deep_stacks", "huge_string", "empty_strings" } do
    local f = assert(io.open(path .. "/" .. name .. ".gz", "wb"))
    f:write(hostile[name](path))
    f:close()
  end
elseif mode == "decode" then
  local p, msg, code = pgo.load(path)
  if code ~= "too_large" then
    io.stderr:write("hostile.lua: expected too_large, got ", tostring(code), ": ", tostring(msg), "\n")
    os.exit(1)
  end
  assert(p == nil)
else
  error("usage: pgolua bench/hostile.lua make DIR | decode FILE")
end
