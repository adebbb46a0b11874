-- The compiler as the oracle of pgo.compiler.devirt_candidates, for
-- spec/integration/devirt_compiler_spec.lua and spec/matrix/devirt_matrix_spec.lua.
local compiler = require "pgo.compiler"
local assert = require "luassert"   -- a module has the plain assert; busted gives specs this one

local M = {}

--- The compiler's PGO devirtualizations in `-m -d=pgodebug=2` output:
-- {["caller\noffset\ncallee"] = weight}.
function M.decisions(text)
  local hottest, out = {}, {}
  for line in text:gmatch("[^\n]+") do
    local pos, caller, offset, callee, weight =
      line:match("^(%S+): call (%S+):(%d+): hottest callee (%S+) %(weight (%d+)%)")
    if pos then hottest[pos] = { caller .. "\n" .. offset .. "\n" .. callee, tonumber(weight) } end
    local dpos = line:match("^(%S+): PGO devirtualizing ")
    if dpos then
      local h = assert(hottest[dpos], "no hottest-callee line for " .. dpos)
      out[h[1]] = h[2]
    end
  end
  return out
end

-- pgolua's candidates as the same keys; keep(caller) filters by the packages compiled
-- with -m.
local function ours(p, opts, keep)
  local out = {}
  for _, r in ipairs(assert(compiler.devirt_candidates(p, opts))) do
    if not keep or keep(r.caller) then out[r.caller .. "\n" .. r.offset .. "\n" .. r.callee] = r.weight end
  end
  return out
end

--- The compiler's own lines about each site one list has and the other lacks (from its
-- -m=2 -d=pgodebug=2 log), so a failure says why.
function M.explain(want, got, log)
  if not log then return "" end
  local out = {}
  local function about(k)
    local caller, offset, callee = k:match("^(.-)\n(%d+)\n(.*)$")
    local short = callee:gsub("^.*/", ""):match("^[^.]*%.(.*)$") or callee
    local needles = { caller .. ":" .. offset .. ":", caller .. ":" .. offset .. " ",
      "inline " .. short .. ":", "inline " .. short .. " with", "devirtualize " .. short .. ":" }
    for line in log:gmatch("[^\n]+") do
      for _, n in ipairs(needles) do
        if line:find(n, 1, true) then out[#out + 1] = "  " .. line break end
      end
    end
  end
  for k in pairs(want) do if not got[k] then out[#out + 1] = "only the compiler: " .. k:gsub("\n", " "); about(k) end end
  for k in pairs(got) do if not want[k] then out[#out + 1] = "only pgolua: " .. k:gsub("\n", " "); about(k) end end
  return #out > 0 and ("\n" .. table.concat(out, "\n")) or ""
end

local function keys(t)
  local o = {}
  for k in pairs(t) do o[#o + 1] = k end
  table.sort(o)
  return o
end

--- Assert that devirt_candidates(p, {binary, imports, build_log}) lists exactly the
-- compiler's picks of weight > 0 (weight-0 picks, go.dev/issue/72092, are out of a
-- profile's reach; Go 1.25+ makes none) and that the list without the binary (with the
-- same imports) holds them.
-- extra: {imports =, build_log =} (the devirt_candidates options). Returns a line of
-- figures and the number of weight-0 picks.
function M.check(name, picked, p, binary, keep, extra)
  extra = extra or {}
  local exact = ours(p, { binary = binary, imports = extra.imports, build_log = extra.build_log }, keep)
  local bound = ours(p, { imports = extra.imports }, keep)
  local positive, zero = {}, 0
  for k, w in pairs(picked) do
    if w > 0 then positive[k] = w else zero = zero + 1 end
  end
  assert.same(keys(positive), keys(exact), name .. M.explain(positive, exact, extra.build_log))
  for k in pairs(positive) do assert.is_truthy(bound[k], name .. ": not in the upper bound: " .. k) end
  local figures = ("%s: compiler %d devirtualizations (%d of weight 0), pgolua %d with the binary, " ..
    "%d match; %d without it"):format(name, #keys(picked), zero, #keys(exact), #keys(exact), #keys(bound))
  if os.getenv("PGOLUA_SPEC_FIGURES") then io.stderr:write(figures, "\n") end
  return figures, zero
end

return M
