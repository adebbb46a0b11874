-- pgo.audit_pgo: audits of what a profile change does to the compiler's decisions.
-- pgo.audit re-exports drift and devirt_shift; recipes call them through pgo.audit.
--
--   drift(old, new [, opts])         -> report   (old, new: profiles or edge lists)
--   devirt_shift(old, new [, opts])  -> rows
--
-- Both compare what Go 1.21-1.23 reads from a profile (pgo.compiler): the hot call sites
-- of the inliner (cdf, default 99%), the callees those sites make hot, and per call site
-- (caller, offset) the hottest callee, which the devirtualizer speculates on.
local compiler = require "pgo.compiler"

local M = {}

-- known: {name = true}; values are checked where they are read (check_fraction ...).
local function check_opts(opts, fname, known)
  local spec = {}
  for k in pairs(known) do spec[k] = "any" end
  local checked = require("pgo.options").check(fname, 3, opts, spec, 4)   -- not a tail call: level 4 is the caller
  return checked
end

local function check_fraction(opts, name, dflt, fname)
  local v = opts[name]
  if v == nil then return dflt end
  if type(v) ~= "number" or v < 0 or v > 1 then
    error(string.format("bad argument #3 to '%s' (option '%s' must be a number between 0 and 1)",
      fname, name), 3)
  end
  return v
end

-- The edge list of x, or raise when the compiler would reject the profile (an audit of a
-- profile that cannot build is a caller's mistake: check pgo.preprofile first).
local function edges_of(x, which, fname)
  local ok, edges, msg = pcall(compiler.edges, x)
  if not ok or not edges then
    error(string.format("bad argument #%d to '%s' (%s)", which, fname,
      ok and msg or "pgo.profile or edge list expected, got " .. type(x)), 3)
  end
  return edges
end

local function site_key(caller, offset) return caller .. "\n" .. offset end
local function edge_key(e) return e.caller .. "\n" .. e.callee .. "\n" .. e.offset end

-- Every call site of an edge list: key -> {caller, offset, weight, callees (hottest
-- first), dominant, dominant_share, target}.
local function sites_of(edges)
  local map = {}
  for _, s in ipairs(compiler.callsites(edges, { min_callees = 1 })) do
    map[site_key(s.caller, s.offset)] = s
  end
  return map
end

local function share_of(site, callee)
  if not site then return 0.0 end
  for _, c in ipairs(site.callees) do
    if c.callee == callee then return c.share, c.weight end
  end
  return 0.0, 0
end

local function sorted_keys(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function jaccard(a, b)
  local inter, union = 0, 0
  for k in pairs(a) do
    union = union + 1
    if b[k] then inter = inter + 1 end
  end
  for k in pairs(b) do
    if not a[k] then union = union + 1 end
  end
  return union == 0 and 1.0 or inter / union
end

-- Σ min / Σ max of two weight maps (shares); 1 when both are empty.
local function weighted_jaccard(a, b)
  local mins, maxs = 0.0, 0.0
  for k, x in pairs(a) do
    local y = b[k] or 0
    mins, maxs = mins + math.min(x, y), maxs + math.max(x, y)
  end
  for k, y in pairs(b) do
    if a[k] == nil then maxs = maxs + y end
  end
  return maxs == 0 and 1.0 or mins / maxs
end

--- Call sites whose dominant callee lost its dominance, or whose hottest callee changed.
-- Sites of `old` whose hottest callee has at least `dominant` (default 0.8) of the site's
-- weight, with at least `min_weight` (default 0) weight, and that still exist in `new`
-- with two or more callees in either profile. A row per shift:
--   {caller, offset, callee (old dominant), old_share, new_share, old_weight, new_weight
--    (site totals), new_dominant, new_dominant_share, kind}
-- kind "lost_dominance" when the old dominant's share in new is below `lost` (default
-- 0.5), else "target_changed" when another callee is now the hottest (the devirtualized
-- call would guess a different type or function). Sorted by old site weight descending.
function M.devirt_shift(old, new, opts)
  opts = check_opts(opts, "devirt_shift", { dominant = true, lost = true, min_weight = true })
  local dominant = check_fraction(opts, "dominant", 0.8, "devirt_shift")
  local lost = check_fraction(opts, "lost", 0.5, "devirt_shift")
  local min_weight = opts.min_weight or 0
  if type(min_weight) ~= "number" then
    error("bad argument #3 to 'devirt_shift' (option 'min_weight' must be a number)", 2)
  end
  local a = sites_of(edges_of(old, 1, "devirt_shift"))
  local b = sites_of(edges_of(new, 2, "devirt_shift"))
  local rows = {}
  for key, s in pairs(a) do
    local t = b[key]
    if t and s.weight >= min_weight and s.dominant_share >= dominant
        and (#s.callees > 1 or #t.callees > 1) then
      local new_share = share_of(t, s.dominant)
      local kind
      if new_share < lost then kind = "lost_dominance"
      elseif t.dominant ~= s.dominant then kind = "target_changed" end
      if kind then
        rows[#rows + 1] = { caller = s.caller, offset = s.offset, callee = s.dominant,
          old_share = s.dominant_share, new_share = new_share, old_weight = s.weight,
          new_weight = t.weight, new_dominant = t.dominant,
          new_dominant_share = t.dominant_share, kind = kind }
      end
    end
  end
  table.sort(rows, function(x, y)
    if x.old_weight ~= y.old_weight then return x.old_weight > y.old_weight end
    if x.caller ~= y.caller then return x.caller < y.caller end
    return x.offset < y.offset
  end)
  return rows
end

-- The compiler's view of one edge list, as sets.
local function view(edges, cdf)
  local hot = compiler.hot_callsites(edges, { cdf = cdf })
  local v = { edges = #edges, total_weight = edges.total_weight, hot_edges = #hot,
    threshold = hot.threshold, threshold_pct = hot.threshold_pct,
    hot_edge_share = {}, hot_sites = {}, hot_callees = {}, edge_share = {}, targets = {},
    method_targets = {}, ncallees = {} }
  local total = edges.total_weight
  for _, e in ipairs(edges) do
    v.edge_share[edge_key(e)] = total ~= 0 and e.weight / total or 0
  end
  for _, e in ipairs(hot) do
    v.hot_edge_share[edge_key(e)] = v.edge_share[edge_key(e)]
    v.hot_sites[site_key(e.caller, e.offset)] = true
    v.hot_callees[e.callee] = true
  end
  for key, s in pairs(sites_of(edges)) do
    v.targets[key] = s.target or false
    v.ncallees[key] = #s.callees
    -- an interface call of method M reaches only methods named M: its guess is the
    -- hottest of those (one guess per method name called on the line)
    local guesses = {}
    for _, t in ipairs(s.interface_targets) do guesses[#guesses + 1] = t.method .. "=" .. t.callee end
    table.sort(guesses)
    v.method_targets[key] = #guesses > 0 and table.concat(guesses, ";") or nil
  end
  return v
end

local function diff_sets(a, b)
  local added, removed = {}, {}
  for k in pairs(b) do if not a[k] then added[k] = true end end
  for k in pairs(a) do if not b[k] then removed[k] = true end end
  return sorted_keys(added), sorted_keys(removed)
end

local function split_site(key)
  local caller, offset = key:match("^(.*)\n(%-?%d+)$")
  return { caller = caller, offset = math.tointeger(tonumber(offset)) }
end

--- How much the compiler's decisions differ between two profiles (or edge lists).
-- opts: cdf (default 99); devirt_sites: "all" (default) compares the devirtualization
-- guess of every call site, since the compiler devirtualizes any indirect call the profile
-- covers, however cold, and a profile cannot tell an indirect call with one callee from a
-- static call; "multi" only the sites with two or more callees in either profile (surely
-- indirect, or several calls on one line); and devirt_shift's dominant, lost, min_weight.
-- Returns {
--   changes_compiler_decisions = false when the hot call sites, the hot callees and every
--     call site's devirtualization guesses (its hottest callee; per method name, its
--     hottest method) are identical;
--   reasons = {...} short strings naming what differs ("hot call sites", "hot callees",
--     "devirtualization targets");
--   old, new = {edges, total_weight, hot_edges, threshold, threshold_pct};
--   hot_sites = {jaccard, added = {{caller, offset}...}, removed = {...}};
--   hot_edges = {jaccard, weighted (Σ min / Σ max of the hot edges' shares of their
--     profile's total weight)};
--   edge_overlap = Σ over all edges of min(old share, new share) (1 = same distribution);
--   hot_functions = {entered = {names}, left = {names}}  (callees of hot edges);
--   devirt_targets = {{caller, offset, old, new, old_methods, new_methods}...} (sites whose
--     guesses changed; old/new the hottest callee or false (a closure, or no site);
--     *_methods "M=callee;..." or false);
--   devirt_shifts = devirt_shift(old, new, opts) }
function M.drift(old, new, opts)
  opts = check_opts(opts, "drift", { cdf = true, dominant = true, lost = true, min_weight = true,
    devirt_sites = true })
  local devirt_sites = opts.devirt_sites or "all"
  if devirt_sites ~= "all" and devirt_sites ~= "multi" then
    error("bad argument #3 to 'drift' (option 'devirt_sites' must be \"all\" or \"multi\")", 2)
  end
  local cdf = opts.cdf == nil and 99 or opts.cdf
  if type(cdf) ~= "number" or not (cdf >= 0 and cdf <= 100) then
    error("bad argument #3 to 'drift' (option 'cdf' must be a number between 0 and 100)", 2)
  end
  local ea, eb = edges_of(old, 1, "drift"), edges_of(new, 2, "drift")
  local a, b = view(ea, cdf), view(eb, cdf)
  local multi = {}                   -- sites with two or more callees in either profile
  for _, v in ipairs { a, b } do
    for k, n in pairs(v.ncallees) do if n > 1 then multi[k] = true end end
  end
  local r = { cdf = cdf, reasons = {} }
  for _, side in ipairs { "old", "new" } do
    local v = side == "old" and a or b
    r[side] = { edges = v.edges, total_weight = v.total_weight, hot_edges = v.hot_edges,
      threshold = v.threshold, threshold_pct = v.threshold_pct }
  end

  local added, removed = diff_sets(a.hot_sites, b.hot_sites)
  for i, k in ipairs(added) do added[i] = split_site(k) end
  for i, k in ipairs(removed) do removed[i] = split_site(k) end
  r.hot_sites = { jaccard = jaccard(a.hot_sites, b.hot_sites), added = added, removed = removed }
  r.hot_edges = { jaccard = jaccard(a.hot_edge_share, b.hot_edge_share),
    weighted = weighted_jaccard(a.hot_edge_share, b.hot_edge_share) }
  local overlap = 0.0
  for k, x in pairs(a.edge_share) do overlap = overlap + math.min(x, b.edge_share[k] or 0) end
  r.edge_overlap = overlap
  local entered, left = diff_sets(a.hot_callees, b.hot_callees)
  r.hot_functions = { entered = entered, left = left }

  local changed = {}
  local keys = {}
  for _, v in ipairs { a, b } do
    for k in pairs(v.targets) do
      if devirt_sites == "all" or multi[k] then keys[k] = true end
    end
  end
  for _, k in ipairs(sorted_keys(keys)) do
    local ta, tb = a.targets[k] or false, b.targets[k] or false
    local ma, mb = a.method_targets[k] or false, b.method_targets[k] or false
    if ta ~= tb or ma ~= mb then
      local row = split_site(k)
      row.old, row.new = ta, tb
      row.old_methods, row.new_methods = ma, mb
      changed[#changed + 1] = row
    end
  end
  r.devirt_targets = changed
  r.devirt_shifts = M.devirt_shift(ea, eb, { dominant = opts.dominant, lost = opts.lost,
    min_weight = opts.min_weight })

  if #added > 0 or #removed > 0 then r.reasons[#r.reasons + 1] = "hot call sites" end
  if #entered > 0 or #left > 0 then r.reasons[#r.reasons + 1] = "hot callees" end
  if #changed > 0 then r.reasons[#r.reasons + 1] = "devirtualization targets" end
  r.changes_compiler_decisions = #r.reasons > 0
  return r
end

return M
