-- benchgen: random pairs of `go test -bench` files for comparing pgo.bench with benchstat.
-- Deterministic for a seed. Each pair mixes: 1-12 runs per benchmark and side, several
-- units (sec/op from ns/op, B/op, allocs/op, MB/s, a custom unit), one or two packages
-- (configurations), sub-benchmarks and GOMAXPROCS suffixes, benchmarks missing on one
-- side, zero values, values equal within a side or across the sides, and `Unit ...
-- assume=exact` metadata.
local M = {}

local NAMES = { "Lookup", "Digest-2", "Catalog-8", "Encode/format=json-4", "Parse/size=1k",
  "Sort/n=100-2", "Hash", "Walk/depth=3/fanout=2-16" }
local PKGS = { "example.com/a/cache", "example.com/a/cmd/api" }

-- A generator of numbers in [0, 1) from a seed (xorshift), independent of math.random.
local function rng(seed)
  local x = seed * 2654435761 % 4294967296
  if x == 0 then x = 1 end
  return function()
    x = x ~ (x << 13) & 0xffffffff
    x = x ~ (x >> 17)
    x = x ~ (x << 5) & 0xffffffff
    return x / 4294967296
  end
end

local function pick(r, list) return list[1 + math.floor(r() * #list)] end
local function int(r, lo, hi) return lo + math.floor(r() * (hi - lo + 1)) end

-- The two files of pair `seed`: old, new (strings).
function M.pair(seed)
  local r = rng(seed)
  local npkg = r() < 0.3 and 2 or 1
  local nbench = int(r, 1, 5)
  local units = { { "ns/op", 1000, "%.1f" } }
  if r() < 0.5 then units[#units + 1] = { "B/op", 512, "%d" } end
  if r() < 0.4 then units[#units + 1] = { "allocs/op", 6, "%d" } end
  if r() < 0.2 then units[#units + 1] = { "MB/s", 80, "%.2f" } end
  if r() < 0.15 then units[#units + 1] = { "widgets/op", 3, "%.3f" } end
  local exact = r() < 0.15
  local plan = {}   -- per package, per benchmark: base values and which sides have it
  for p = 1, npkg do
    plan[p] = {}
    local used = {}
    for _ = 1, nbench do
      local name = pick(r, NAMES)
      if not used[name] then
        used[name] = true
        local b = { name = name, base = {}, sides = { true, true }, n = { int(r, 1, 12),
          int(r, 1, 12) } }
        local x = r()
        if x < 0.12 then b.sides[1] = false elseif x < 0.24 then b.sides[2] = false end
        b.shift = ({ 1, 1, 1.1, 0.9, 1.3 })[int(r, 1, 5)]
        b.noise = ({ 0, 0.01, 0.05, 0.2 })[int(r, 1, 4)]
        for i, u in ipairs(units) do
          local v = u[2] * (0.5 + r() * 2)
          if r() < 0.08 then v = 0 end
          b.base[i] = v
        end
        plan[p][#plan[p] + 1] = b
      end
    end
  end
  local files = {}
  for side = 1, 2 do
    local l = {}
    if exact then l[#l + 1] = "Unit allocs/op assume=exact" end
    l[#l + 1] = "goos: linux"
    l[#l + 1] = "goarch: amd64"
    for p = 1, npkg do
      l[#l + 1] = "pkg: " .. PKGS[p]
      for _, b in ipairs(plan[p]) do
        if b.sides[side] then
          for _ = 1, b.n[side] do
            local fields = { "Benchmark" .. b.name, tostring(int(r, 1, 500000)) }
            for i, u in ipairs(units) do
              local v = b.base[i] * (side == 2 and b.shift or 1)
              if u[1] ~= "allocs/op" or not exact then
                v = v * (1 + (r() - 0.5) * 2 * b.noise)
              end
              fields[#fields + 1] = u[3]:format(u[3] == "%d" and math.floor(v) or v)
              fields[#fields + 1] = u[1]
            end
            l[#l + 1] = table.concat(fields, "\t")
          end
        end
      end
      l[#l + 1] = "PASS"
    end
    files[side] = table.concat(l, "\n") .. "\n"
  end
  return files[1], files[2]
end

return M
