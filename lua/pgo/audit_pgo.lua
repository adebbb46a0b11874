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

-- drift's default noise band, in standard errors (see drift and docs/api.md for the
-- figures behind it)
M.NOISE_Z = 3

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

-- Edge weights as sample counts (what noise is measured in) and the capture's sample
-- count: a profile whose compiler column is cpu/nanoseconds (no samples/count, as from
-- Pyroscope or Parca) divides by the period; an edge list is taken as counts, its field
-- `samples` (else its total weight) as its sample count.
local function count_scale(x, edges)
  if type(x) ~= "userdata" then return 1, edges.samples or edges.total_weight or 0 end
  local info = x:info()
  for i, st in ipairs(info.sample_types) do
    if st.type == "samples" then return 1, info.totals[i] end
  end
  local scale = (info.period or 0) > 0 and 1 / info.period or 1
  local total = 0
  for i, st in ipairs(info.sample_types) do
    if st.type == "cpu" then total = info.totals[i] * scale end
  end
  return scale, total
end

-- Noise between two captures of the same load: an edge's weight is a Poisson count, so
-- given wa + wb, wa is binomial with p = na / (na + nb) (na, nb: the captures' sample
-- counts). differs(): wa and wb are further apart than z standard deviations of that
-- binomial (an edge absent from one capture must have more than z^2 samples in the
-- other). leads(): within one call site, x counts beat y by more than z standard
-- deviations (the sign test: which of two callees is hotter).
local function differs(wa, na, wb, nb, z)
  local k = wa + wb
  if k <= 0 then return false end
  if na <= 0 or nb <= 0 then return true end
  local q = na / (na + nb)
  return math.abs(wa - k * q) > z * math.sqrt(k * q * (1 - q))
end

local function leads(x, y, z)
  if x + y <= 0 then return false end
  return x - y > z * math.sqrt(x + y)
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

-- What the devirtualizer would pick at a site, per kind of indirect call the line may hold
-- (compiler.devirt_pick, the compiler's findHotConcreteCallee): an interface call of
-- method M ("M" -> callee), a function-value call ("func()" -> callee). The profile cannot
-- tell these calls from several static calls on one line, so every kind is tried.
local function picks_of(s)
  local picks = {}
  for _, t in ipairs(s.interface_targets or {}) do
    local c = compiler.devirt_pick(s, "interface", t.method)
    if c and c.weight > 0 then picks[t.method] = c end
  end
  local f = compiler.devirt_pick(s, "func_value")
  if f and f.weight > 0 then picks["func()"] = f end
  return picks
end

--- The call sites where the compiler's devirtualization pick changes between two profiles.
-- For every site in both profiles (one sampled callee on each side is enough), per kind of call
-- (see picks_of), a row when the pick of `old` is not the pick of `new`: the decision the
-- compiler makes flips, whatever the shares were (a real 78/22 mix that becomes 22/78 is a
-- flip; a 60/40 mix that stays 55/45 is not). Options: min_weight (default 0: the site's
-- weight in old), dominant (default 0: the old pick's minimum share of the site), lost
-- (default 0.5: the share below which the old pick's row is called "lost_dominance"
-- rather than "target_changed"). A row:
--   {caller, offset, method ("func()" for a function-value call), callee (old pick),
--    new_dominant (new pick, or false when no callee qualifies now), old_share, new_share
--    (of the old pick), old_weight, new_weight (site totals), new_dominant_share, kind}
-- Sorted by old site weight descending, then caller, offset, method.
function M.devirt_shift(old, new, opts)
  opts = check_opts(opts, "devirt_shift", { dominant = true, lost = true, min_weight = true })
  local dominant = check_fraction(opts, "dominant", 0, "devirt_shift")
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
    if t and s.weight >= min_weight then
      local pa, pb = picks_of(s), picks_of(t)
      for method, was in pairs(pa) do
        local now = pb[method]
        local old_share = s.weight ~= 0 and was.weight / s.weight or 0.0
        if old_share >= dominant and (not now or now.callee ~= was.callee) then
          local new_share = share_of(t, was.callee)
          local now_share = now and (t.weight ~= 0 and now.weight / t.weight or 0.0) or 0.0
          rows[#rows + 1] = { caller = s.caller, offset = s.offset, method = method,
            callee = was.callee, old_share = old_share, new_share = new_share,
            old_weight = s.weight, new_weight = t.weight, new_dominant = now and now.callee or false,
            new_dominant_share = now_share,
            kind = new_share < lost and "lost_dominance" or "target_changed" }
        end
      end
    end
  end
  table.sort(rows, function(x, y)
    if x.old_weight ~= y.old_weight then return x.old_weight > y.old_weight end
    if x.caller ~= y.caller then return x.caller < y.caller end
    if x.offset ~= y.offset then return x.offset < y.offset end
    return x.method < y.method
  end)
  return rows
end

-- The compiler's view of one edge list, as sets.
local function view(edges, cdf)
  local hot = compiler.hot_callsites(edges, { cdf = cdf })
  local v = { edges = #edges, total_weight = edges.total_weight, hot_edges = #hot,
    threshold = hot.threshold, threshold_pct = hot.threshold_pct,
    hot_edge_share = {}, hot_sites = {}, hot_callees = {}, edge_share = {}, targets = {},
    method_targets = {}, ncallees = {}, edge_weight = {}, sites = {} }
  local total = edges.total_weight
  for _, e in ipairs(edges) do
    v.edge_share[edge_key(e)] = total ~= 0 and e.weight / total or 0
    v.edge_weight[edge_key(e)] = e.weight
  end
  for _, e in ipairs(hot) do
    v.hot_edge_share[edge_key(e)] = v.edge_share[edge_key(e)]
    v.hot_sites[site_key(e.caller, e.offset)] = true
    v.hot_callees[e.callee] = true
  end
  for key, s in pairs(sites_of(edges)) do
    v.sites[key] = s
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
-- noise_z (default M.NOISE_Z = 3): how many standard deviations a difference must
-- exceed to count (docs/api.md has the rule and the figures behind the default).
-- Returns {
--   changes_compiler_decisions = false when no edge entered or left the hot set and no
--     call site's devirtualization guess (its hottest callee; per method name, its
--     hottest method) changed, beyond noise;
--   hot_edges.moved = {{caller, callee, offset, old_weight, new_weight, hot = "entered" |
--     "left"}...}: the hot-set changes beyond noise (weights in samples);
--   devirt_changes = the rows of devirt_targets beyond noise;
--   reasons = {...} short strings naming what differs ("hot call sites", "hot callees",
--     "devirtualization targets");
--   old, new = {edges, total_weight, hot_edges, threshold, threshold_pct};
--   hot_sites = {jaccard, added = {{caller, offset}...}, removed = {...}};
--   hot_edges = {jaccard, weighted (Σ min / Σ max of the hot edges' shares of their
--     profile's total weight)};
--   edge_overlap = Σ over all edges of min(old share, new share) (1 = same distribution);
--   hot_functions = {entered = {names}, left = {names}}  (callees of hot edges);
--   devirt_targets = {{caller, offset, old, new, old_methods, new_methods, beyond_noise}...}
--     (sites whose guesses changed at all; old/new the hottest callee or false (a closure,
--     or no site); *_methods "M=callee;..." or false);
--   devirt_shifts = devirt_shift(old, new, opts) }
-- The weight (counts) of callee at a call site (0 when either is missing).
local function callee_weight(site, callee, scale)
  if not site or not callee then return 0 end
  for _, c in ipairs(site.callees) do
    if c.callee == callee then return c.weight * scale end
  end
  return 0
end

-- "M=callee;..." -> {M = callee}
local function method_map(s)
  local t = {}
  for m, c in (s or ""):gmatch("([^=;]+)=([^;]+)") do t[m] = c end
  return t
end

-- Whether the devirtualization guess at one site moving from callee x (old) to y (new)
-- is beyond noise: both guesses clearly lead at their side when both are callees there;
-- else (a site or a guess on one side only) the site's weight itself differs.
local function devirt_material(sa, sb, x, y, A, B, z)
  if sa and sb and x and y then
    return leads(callee_weight(sa, x, A.scale), callee_weight(sa, y, A.scale), z) and
           leads(callee_weight(sb, y, B.scale), callee_weight(sb, x, B.scale), z)
  end
  local wa = sa and sa.weight * A.scale or 0
  local wb = sb and sb.weight * B.scale or 0
  return differs(wa, A.n, wb, B.n, z)
end

function M.drift(old, new, opts)
  opts = check_opts(opts, "drift", { cdf = true, dominant = true, lost = true, min_weight = true,
    devirt_sites = true, noise_z = true })
  local z = opts.noise_z == nil and M.NOISE_Z or opts.noise_z
  if type(z) ~= "number" or z < 0 then
    error("bad argument #3 to 'drift' (option 'noise_z' must be a non-negative number)", 2)
  end
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
  a.scale, a.n = count_scale(old, ea)
  b.scale, b.n = count_scale(new, eb)
  local multi = {}                   -- sites with two or more callees in either profile
  for _, v in ipairs { a, b } do
    for k, n in pairs(v.ncallees) do if n > 1 then multi[k] = true end end
  end
  local r = { cdf = cdf, noise_z = z, reasons = {} }
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

  -- hot edges entering or leaving the compiler's hot set with a weight that moved beyond
  -- noise (an edge at the threshold crosses it back and forth between captures)
  local moved, callees_moved = {}, false
  for _, pair in ipairs { { b.hot_edge_share, a.hot_edge_share, "entered" },
                          { a.hot_edge_share, b.hot_edge_share, "left" } } do
    for _, k in ipairs(sorted_keys(pair[1])) do
      if not pair[2][k] then
        local wa, wb = (a.edge_weight[k] or 0) * a.scale, (b.edge_weight[k] or 0) * b.scale
        if differs(wa, a.n, wb, b.n, z) then
          local caller, callee, offset = k:match("^(.*)\n(.*)\n(%-?%d+)$")
          moved[#moved + 1] = { caller = caller, callee = callee, offset = math.tointeger(tonumber(offset)),
            old_weight = wa, new_weight = wb, hot = pair[3] }
          if (pair[3] == "entered") ~= (a.hot_callees[callee] == true) and
             (pair[3] == "left") ~= (b.hot_callees[callee] == true) then
            callees_moved = true
          end
        end
      end
    end
  end
  table.sort(moved, function(x, y)
    local wx, wy = math.max(x.old_weight, x.new_weight), math.max(y.old_weight, y.new_weight)
    if wx ~= wy then return wx > wy end
    if x.caller ~= y.caller then return x.caller < y.caller end
    if x.callee ~= y.callee then return x.callee < y.callee end
    return x.offset < y.offset
  end)
  r.hot_edges.moved = moved

  local changed, material = {}, {}
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
      local sa, sb = a.sites[k], b.sites[k]
      local beyond = ta ~= tb and devirt_material(sa, sb, ta or nil, tb or nil, a, b, z)
      if not beyond and ma ~= mb then
        local ga, gb = method_map(ma or nil), method_map(mb or nil)
        local methods = {}
        for m in pairs(ga) do methods[m] = true end
        for m in pairs(gb) do methods[m] = true end
        for m in pairs(methods) do
          if ga[m] ~= gb[m] and devirt_material(sa, sb, ga[m], gb[m], a, b, z) then beyond = true end
        end
      end
      row.beyond_noise = beyond
      changed[#changed + 1] = row
      if beyond then material[#material + 1] = row end
    end
  end
  r.devirt_targets = changed
  r.devirt_changes = material
  r.devirt_shifts = M.devirt_shift(ea, eb, { dominant = opts.dominant, lost = opts.lost,
    min_weight = opts.min_weight })

  if #moved > 0 then r.reasons[#r.reasons + 1] = "hot call sites" end
  if callees_moved then r.reasons[#r.reasons + 1] = "hot callees" end
  if #material > 0 then r.reasons[#r.reasons + 1] = "devirtualization targets" end
  r.changes_compiler_decisions = #r.reasons > 0
  return r
end

return M
