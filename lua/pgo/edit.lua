-- pgo.edit: the Lua half of profile editing. The heavy work is in C (src/lua/transform.c
-- over src/profile/edit.c and merge.c); this file holds the edits that are mostly policy
-- glue over a few C calls (lua/pgo/profile.lua makes them the methods p:drop, p:reweight,
-- p:delta) and builds the per-function delta table for people.
--
-- Every edit returns a NEW profile and leaves the original unchanged, except
-- p:add_comment(text), which appends to p itself and returns p (comments are metadata;
-- copying a whole profile to add one line would surprise nobody but cost a lot).
--
--   p:drop{regex = "re", predicate = function(values, stack, labels) ... end}
--   p:reweight{key = "endpoint", weights = {["/api"] = 0.6, ...}, others = "keep"}
--   p:delta(base [, opts]) / pgo.diff_table(new, base [, opts])
local profile = require "pgo.core.profile"   -- the C half: this file is part of the class
local options = require "pgo.options"

local M = {}
local methods = {}   -- drop, reweight, delta: installed by lua/pgo/profile.lua
M.methods = methods

-- The value column (1-based) chosen by opts.sample_index: nil = the default sample type
-- (pprof's rule: default_sample_type, else the last column); a sample type name such as
-- "samples" or "cpu"; or a 1-based index into info().sample_types.
local function column(p, sample_index, fname)
  local info = p:info()
  local types = info.sample_types
  if sample_index == nil then
    for i, st in ipairs(types) do
      if st.type == info.default_sample_type then return i, st, info end
    end
    return #types, types[#types], info
  end
  if math.type(sample_index) == "integer" then
    if sample_index < 1 or sample_index > #types then
      error(string.format("%s: sample_index %d out of range 1..%d", fname, sample_index,
        #types), 3)
    end
    return sample_index, types[sample_index], info
  end
  if type(sample_index) == "string" then
    for i, st in ipairs(types) do
      if st.type == sample_index then return i, st, info end
    end
    local names = {}
    for i, st in ipairs(types) do names[i] = st.type end
    error(string.format("%s: no sample type '%s' (the profile has: %s)", fname, sample_index,
      table.concat(names, ", ")), 3)
  end
  error(string.format("%s: sample_index must be a sample type name or an integer, got %s",
    fname, type(sample_index)), 3)
end
M.column = column

local function check_profile(p, fname, n)
  if getmetatable(p) ~= profile.metatable then
    error(string.format("bad argument #%d to '%s' (pgo.profile expected, got %s)", n, fname,
      type(p)), 3)
  end
end

local KNOWN = {
  drop = { regex = "any", predicate = "any" },
  reweight = { key = "any", weights = "any", others = "any", sample_index = "any" },
  diff_table = { n = "integer", cum = "boolean", sample_index = "string|integer",
    compare = "string" },
}

-- opts is a table (required) holding only the options fname knows; values are checked
-- where they are read.
local function check_opts(opts, fname, n)
  if type(opts) ~= "table" then
    error(string.format("bad argument #%d to '%s' (table expected, got %s)", n, fname,
      type(opts)), 3)
  end
  options.check(fname, n, opts, KNOWN[fname], 4)
end

--- Drop samples: those with a frame whose function name matches `regex` (POSIX extended
-- syntax, unanchored, like pprof's -ignore), and those for which `predicate(values, stack,
-- labels)` returns true (values: one integer per sample type; stack: function names leaf
-- first, inlined frames expanded; labels: {key = value}). Either or both may be given.
-- @treturn[1] profile (compacted: entities only dropped samples used are gone)
-- @treturn[2] nil, message, code
function methods.drop(self, opts)
  check_opts(opts, "drop", 1)
  local regex, predicate = opts.regex, opts.predicate
  if regex == nil and predicate == nil then
    error("drop: give regex= and/or predicate=", 2)
  end
  if regex ~= nil and type(regex) ~= "string" then
    error("drop: regex must be a string", 2)
  end
  if predicate ~= nil and type(predicate) ~= "function" then
    error("drop: predicate must be a function", 2)
  end
  local factors = {}
  if regex then
    for i, hit in ipairs(self:_match_samples(regex)) do
      if hit then factors[i] = 0 end
    end
  end
  if predicate then
    local i = 0
    for values, stack, labels in self:samples() do
      i = i + 1
      if factors[i] == nil and predicate(values, stack, labels) then factors[i] = 0 end
    end
  end
  return self:_scale_samples(factors)
end

--- Rescale samples per value of a string label so the mix matches `weights`.
-- opts.key: the label key (e.g. "endpoint"); opts.weights: {value = weight >= 0}, any
-- positive scale (0.6/0.4 or 3/2 give the same mix); opts.sample_index: the column whose
-- total defines the shares (default: the default sample type); opts.others:
--   "keep" (default): samples without the label, or with a value not in weights, are left
--     exactly as they are, so their share of the total is unchanged; the labelled samples
--     keep their combined total and split it in the weights' proportions. The listed
--     values' shares of the whole are therefore the weights scaled down by the others'
--     share, and the profile's total is unchanged.
--   "drop": those samples are removed and the listed values share the whole original
--     total exactly in the weights' proportions (total unchanged).
-- All columns of a sample are multiplied by the same factor and rounded half away from
-- zero, so totals match up to rounding. A weight of 0 drops that value's samples.
-- @treturn[1] profile
-- @treturn[2] nil, message, "no_samples" when a value with a positive weight has none
function methods.reweight(self, opts)
  check_opts(opts, "reweight", 1)
  local key, weights, others = opts.key, opts.weights, opts.others or "keep"
  if type(key) ~= "string" then error("reweight: key (a label key string) is required", 2) end
  if type(weights) ~= "table" then error("reweight: weights (a table) is required", 2) end
  if others ~= "keep" and others ~= "drop" then
    error("reweight: others must be \"keep\" or \"drop\"", 2)
  end
  local wsum = 0
  for v, w in pairs(weights) do
    if type(v) ~= "string" or type(w) ~= "number" or w < 0 or w ~= w or w == math.huge then
      error("reweight: weights must map label values to finite numbers >= 0", 2)
    end
    wsum = wsum + w
  end
  if wsum <= 0 then error("reweight: the weights must not all be zero", 2) end
  local col = column(self, opts.sample_index, "reweight")
  local values, labs = self:_column(col), self:_label_values(key)
  local current, total, listed = {}, 0, 0
  for i, v in ipairs(values) do
    total = total + v
    local l = labs[i]
    if l and weights[l] then
      current[l] = (current[l] or 0) + v
      listed = listed + v
    end
  end
  local target = others == "keep" and listed or total
  local factor = {}
  for v, w in pairs(weights) do
    local cur = current[v] or 0
    if w > 0 and cur == 0 then
      return nil, string.format("reweight: no samples have %s=%s (with a nonzero value), so"
        .. " they cannot be scaled to a %.4g share; remove it from weights or capture more",
        key, v, w / wsum), "no_samples"
    end
    factor[v] = w > 0 and (target * w / wsum) / cur or 0
  end
  local factors = {}
  for i = 1, #values do
    local l = labs[i]
    if l and weights[l] then factors[i] = factor[l]
    elseif others == "drop" then factors[i] = 0 end
  end
  return self:_scale_samples(factors)
end

-- Per-function totals of column col: flat (the leaf's innermost function) or cum (every
-- function on the stack, once per sample).
local function by_function(p, col, cum)
  local t, total = {}, 0
  for values, stack in p:samples() do
    local v = values[col]
    total = total + v
    if v ~= 0 and #stack > 0 then
      if cum then
        local seen = {}
        for _, name in ipairs(stack) do
          if not seen[name] then
            seen[name] = true
            t[name] = (t[name] or 0) + v
          end
        end
      else
        t[stack[1]] = (t[stack[1]] or 0) + v
      end
    end
  end
  return t, total
end

--- A per-function delta table for people, independent of pgo.report.
-- Rows {name, before, after, delta, delta_pct}: before/after are the function's flat
-- values (the leaf frame's innermost function, pprof's "flat"; opts.cum = true uses cum)
-- in base and new. opts.compare: "values" compares them as they are (delta = after -
-- before, delta_pct = delta / before * 100); "shares" compares each function's share of
-- its own profile's total (rows also get before_share, after_share; delta = after_share
-- - before_share, in fractions of the total; delta_pct = after_share / before_share * 100
-- - 100), so a 15 s and a 12 s capture of the same load show no change; "auto" (default)
-- takes shares when the two totals differ and values when they are equal. delta_pct is
-- nil when before is 0 (a new function). Sorted by |delta| descending, then name. opts.n
-- limits the rows; opts.sample_index picks the column by type name or 1-based index
-- (default: new's default sample type, looked up by name in base).
-- @treturn[1] rows, summary {sample_type, unit, before, after, delta (profile totals),
--   compared = "values" | "shares", note (a sentence saying why shares, or nil)}
-- @treturn[2] nil, message, "incompatible" when base lacks the sample type
function M.diff_table(new, base, opts)
  check_profile(new, "diff_table", 1)
  check_profile(base, "diff_table", 2)
  opts = opts or {}
  check_opts(opts, "diff_table", 3)
  local compare = opts.compare or "auto"
  if compare ~= "auto" and compare ~= "shares" and compare ~= "values" then
    error("bad argument #3 to 'diff_table' (option 'compare' must be \"auto\", \"shares\" or \"values\")", 2)
  end
  local col, st = column(new, opts.sample_index, "diff_table")
  local bcol
  for i, bst in ipairs(base:info().sample_types) do
    if bst.type == st.type and bst.unit == st.unit then bcol = i; break end
  end
  if not bcol then
    return nil, string.format("diff_table: the base profile has no sample type %s/%s",
      st.type, st.unit), "incompatible"
  end
  local after, after_total = by_function(new, col, opts.cum)
  local before, before_total = by_function(base, bcol, opts.cum)
  local shares = compare == "shares" or (compare == "auto" and before_total ~= after_total)
  local rows = {}
  local function add(name)
    local b, a = before[name] or 0, after[name] or 0
    local row = { name = name, before = b, after = a }
    if shares then
      local bs = before_total ~= 0 and b / before_total or 0
      local as = after_total ~= 0 and a / after_total or 0
      row.before_share, row.after_share = bs, as
      row.delta = as - bs
      row.delta_pct = bs ~= 0 and (as / bs - 1) * 100 or nil
    else
      row.delta = a - b
      row.delta_pct = b ~= 0 and row.delta * 100 / b or nil
    end
    rows[#rows + 1] = row
  end
  for name in pairs(after) do add(name) end
  for name in pairs(before) do
    if after[name] == nil then add(name) end
  end
  table.sort(rows, function(x, y)
    local ax, ay = math.abs(x.delta), math.abs(y.delta)
    if ax ~= ay then return ax > ay end
    return x.name < y.name
  end)
  if opts.n and #rows > opts.n then
    for i = #rows, opts.n + 1, -1 do rows[i] = nil end
  end
  local summary = { sample_type = st.type, unit = st.unit, before = before_total,
    after = after_total, delta = after_total - before_total,
    compared = shares and "shares" or "values" }
  if shares and compare == "auto" then
    summary.note = string.format("the totals differ (%d before, %d after %s): each function's "
      .. "share of its own profile's total is compared", before_total, after_total, st.unit)
  end
  return rows, summary
end

--- p:delta(base [, opts]): the same as pgo.diff_table(p, base, opts).
function methods.delta(self, base, opts)
  return M.diff_table(self, base, opts)
end

return M
