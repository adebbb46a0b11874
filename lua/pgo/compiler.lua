-- pgo.compiler: the Go compiler's view of a profile, for recipes and people.
--
-- The exact work is in C (src/profile/pgograph.c, as profile methods): p:edges(),
-- p:preprofile(), p:hot_callsites{cdf=}, p:callsites{min_callees=}, p:devirt_candidates(),
-- p:compact_for_pgo{frames=}. This module adds what works without a profile: reading and
-- writing the `GO PREPROFILE V1` text (the compiler's own intermediate file, and the
-- golang/go `*.node_map` test files), the hot set and call sites of such an edge list, and
-- Go's %v formatting of the threshold the compiler prints.
--
-- An "edge list" is what p:edges() and read_node_map() return: an array of
-- {caller =, callee =, offset =, weight =} in the compiler's order, with the field
-- total_weight. Functions taking `x` accept a profile or an edge list.
--
--   pgo.preprofile(p)                 -> text | nil, message, code
--   compiler.preprofile_file(path)    -> text | nil, message, code   (go tool preprofile -i)
--   compiler.read_node_map(text)      -> edges | nil, message, code
--   compiler.format(edges)            -> text
--   compiler.hot_callsites(x, {cdf=}) -> hot
--   compiler.callsites(x, {min_callees=}) -> sites
--   compiler.func_kind(name)          -> "function" | "method" | "closure"
--   compiler.devirt_candidates(p, {binary=, imports=, build_log=}) -> rows (the compiler's PGO
--                                       devirtualizations)
--   compiler.devirt_pick(site, kind, method, through, no_body, imports) -> callee row | nil
--   compiler.has_ir(caller, callee [, imports]) -> boolean
--   compiler.parse_imports(go_list_text) -> imports (each package's import closure)
--   compiler.go_float(v)              -> string, as Go's fmt %v prints a float64
local profile = require "pgo.profile"

local M = {}

M.HEADER = "GO PREPROFILE V1\n"

local function is_profile(x)
  return getmetatable(x) == profile.metatable
end

local function check_source(x, fname)
  if is_profile(x) or (type(x) == "table" and math.type(x.total_weight) == "integer") then
    return x
  end
  error(string.format("bad argument #1 to '%s' (pgo.profile or edge list expected, got %s)",
    fname, type(x)), 3)
end

-- known: {name = true}; values are checked where they are read.
local function check_opts(opts, fname, known)
  local spec = {}
  for k in pairs(known) do spec[k] = "any" end
  local checked = require("pgo.options").check(fname, 2, opts, spec, 4)   -- not a tail call: level 4 is the caller
  return checked
end

--- The `go tool preprofile` text of a profile, byte for byte.
-- @treturn[1] string
-- @treturn[2] nil, message, code ("not_cpu": no samples/count or cpu/nanoseconds column;
--   "missing_start_line": a pre-Go 1.20 profile; the messages are Go's)
function M.preprofile(p)
  if not is_profile(p) then
    error("bad argument #1 to 'preprofile' (pgo.profile expected, got " .. type(p) .. ")", 2)
  end
  return p:preprofile()
end

--- What `go tool preprofile -i path` writes: a zero-byte file is an empty profile (the
-- header alone), as Go treats it; other files are loaded with pgo.load.
function M.preprofile_file(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'preprofile_file' (string expected, got " .. type(path) .. ")", 2)
  end
  local f = io.open(path, "rb")
  if f then
    local size = f:seek("end")
    f:close()
    if size == 0 then return M.HEADER end
  end
  local p, msg, code = profile.load(path, opts)
  if not p then return nil, msg, code end
  local text, m2, c2 = p:preprofile()
  p:close()
  if not text then return nil, path .. ": " .. m2, c2 end
  return text
end

-- ---- the preprofile text -------------------------------------------------------------------

-- Go's bufio.ScanLines: split on "\n", drop one trailing "\r", no empty last line.
local function scan_lines(text)
  local lines, pos = {}, 1
  while pos <= #text do
    local nl = text:find("\n", pos, true)
    local line = text:sub(pos, (nl or #text + 1) - 1)
    if line:sub(-1) == "\r" then line = line:sub(1, -2) end
    if #line > 65536 then return nil, "line " .. (#lines + 1) .. " is longer than 64 KiB" end
    lines[#lines + 1] = line
    pos = (nl or #text) + 1
  end
  return lines
end

-- strconv.Atoi / ParseInt(s, 10, 64): optional sign, decimal digits, int64 range.
local function go_int(s)
  if not s:match("^[+-]?%d+$") then return nil end
  local v = tonumber(s)
  if math.type(v) ~= "integer" then return nil end
  return v
end

--- Read `GO PREPROFILE V1` text (a preprofile, a golang/go *.node_map test file) as the
-- compiler does: the first 17 bytes must be the header line; then records of three lines
-- (caller, callee, "offset weight"); the order is taken as is (the hot set is a prefix of
-- it); a repeated (caller, callee, offset) is an error.
-- @treturn[1] edges (array of {caller, callee, offset, weight}; field total_weight)
-- @treturn[2] nil, message, code ("not_preprofile", "bad_preprofile")
function M.read_node_map(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'read_node_map' (string expected, got " .. type(text) .. ")", 2)
  end
  if text:sub(1, #M.HEADER) ~= M.HEADER then
    return nil, "not a preprocessed profile: the first line is not 'GO PREPROFILE V1'",
      "not_preprofile"
  end
  local lines, err = scan_lines(text)
  if not lines then return nil, "preprocessed profile: " .. err, "bad_preprofile" end
  local edges, seen, total = {}, {}, 0
  local i = 2
  while i <= #lines do
    local rec = (i - 2) // 3 + 1
    local caller, callee, nums = lines[i], lines[i + 1], lines[i + 2]
    if not callee then
      return nil, "preprocessed profile entry " .. rec .. " missing callee", "bad_preprofile"
    end
    if not nums then
      return nil, "preprocessed profile entry " .. rec .. " missing weight", "bad_preprofile"
    end
    local a, b = nums:match("^([^ ]*) ([^ ]*)$")
    if not a then
      return nil, string.format("preprocessed profile entry %d: %q is not 'offset weight'",
        rec, nums), "bad_preprofile"
    end
    local offset, weight = go_int(a), go_int(b)
    if not offset or not weight then
      return nil, string.format("preprocessed profile entry %d: bad %s %q", rec,
        offset and "weight" or "call-site offset", offset and b or a), "bad_preprofile"
    end
    local key = caller .. "\n" .. callee .. "\n" .. offset
    if seen[key] then
      return nil, string.format("preprocessed profile contains duplicate edge %s -> %s @%d",
        caller, callee, offset), "bad_preprofile"
    end
    seen[key] = true
    edges[#edges + 1] = { caller = caller, callee = callee, offset = offset, weight = weight }
    total = total + weight
    i = i + 3
  end
  edges.total_weight = total
  return edges
end

--- The `GO PREPROFILE V1` text of an edge list, in its order.
function M.format(edges)
  check_source(edges, "format")
  if is_profile(edges) then return (assert(edges:preprofile())) end
  local out = { M.HEADER }
  for _, e in ipairs(edges) do
    out[#out + 1] = string.format("%s\n%s\n%d %d\n", e.caller, e.callee, e.offset, e.weight)
  end
  return table.concat(out)
end

-- ---- Go's %v of a float64 ------------------------------------------------------------------

--- Format v as Go's fmt %v does: the shortest digits that read back to v; exponent form
-- (1e+06, 1.234e-05) when the decimal exponent is < -4 or >= 6.
function M.go_float(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  v = v + 0.0
  if v == 0 then return (1 / v < 0) and "-0" or "0" end
  local s
  for prec = 1, 17 do
    s = string.format("%." .. (prec - 1) .. "e", v)
    if tonumber(s) == v then break end
  end
  local sign, int, frac, exp = s:match("^(%-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (int .. frac):gsub("0+$", "")
  if digits == "" then digits = "0" end
  exp = tonumber(exp)
  if exp < -4 or exp >= 6 then
    local m = digits:sub(1, 1)
    if #digits > 1 then m = m .. "." .. digits:sub(2) end
    return string.format("%s%se%s%02d", sign, m, exp < 0 and "-" or "+", math.abs(exp))
  elseif exp < 0 then
    return sign .. "0." .. string.rep("0", -exp - 1) .. digits
  else
    local ip = exp + 1
    if #digits <= ip then return sign .. digits .. string.rep("0", ip - #digits) end
    return sign .. digits:sub(1, ip) .. "." .. digits:sub(ip + 1)
  end
end

-- ---- hot call sites --------------------------------------------------------------------------

--- The compiler's hot call sites (cmd/compile/internal/inline hotNodesFromCDF): walk the
-- edges in order, stop at the first whose running sum takes (cum / total) * 100 over cdf
-- (default 99), include it. Same shape as p:hot_callsites: hot[i] = {rank, caller, callee,
-- offset, weight, share, cum_share}; fields cdf, total_weight, edges, sites, callees,
-- threshold_pct, threshold (Go's %v text of threshold_pct).
function M.hot_callsites(x, opts)
  check_source(x, "hot_callsites")
  opts = check_opts(opts, "hot_callsites", { cdf = true })
  local cdf = opts.cdf == nil and 99 or opts.cdf
  if type(cdf) ~= "number" or not (cdf >= 0 and cdf <= 100) then
    error("bad argument #2 to 'hot_callsites' (option 'cdf' must be a number between 0 and 100)",
      2)
  end
  if is_profile(x) then return x:hot_callsites { cdf = cdf } end
  local total = x.total_weight
  local nhot, thr, cum = #x, 0.0, 0
  for i, e in ipairs(x) do
    cum = cum + e.weight
    if (cum / total) * 100 > cdf then
      nhot, thr = i, (e.weight / total) * 100
      break
    end
  end
  local hot = { cdf = cdf + 0.0, total_weight = total, edges = #x, threshold_pct = thr,
    threshold = M.go_float(thr), callees = {}, sites = 0, sample_type = x.sample_type }
  local seen_callee, seen_site = {}, {}
  cum = 0
  for i = 1, nhot do
    local e = x[i]
    cum = cum + e.weight
    hot[i] = { rank = i, caller = e.caller, callee = e.callee, offset = e.offset,
      weight = e.weight, share = total ~= 0 and e.weight / total or 0.0,
      cum_share = total ~= 0 and cum / total or 0.0 }
    if not seen_callee[e.callee] then
      seen_callee[e.callee] = true
      hot.callees[#hot.callees + 1] = e.callee
    end
    local site = e.caller .. "\n" .. e.offset
    if not seen_site[site] then
      seen_site[site] = true
      hot.sites = hot.sites + 1
    end
  end
  return hot
end

-- ---- call sites and devirtualization -----------------------------------------------------

local function numbered(s, prefix)
  return s:sub(1, #prefix) == prefix and s:sub(#prefix + 1):match("^%d+$") ~= nil
end

--- What kind of function a linker symbol name (reference e.9) spells: "method"
-- (pkg.(*T).M, pkg.T.M), "closure" (pkg.F.func1, .func1.2, .gowrap1, .deferwrap1,
-- pkg.F-range1) or "function" (pkg.F, pkg.F[...], pkg.init.0, pkg.T.M-fm). The same rule
-- as p:callsites uses in C.
function M.func_kind(name)
  local sk = {}
  local depth = 0
  for c in name:gmatch(".") do
    if c == "[" then depth = depth + 1
    elseif c == "]" and depth > 0 then depth = depth - 1
    elseif depth == 0 then sk[#sk + 1] = c end
  end
  sk = table.concat(sk)
  local tail = sk:match("^.*/(.*)$") or sk
  local rest = tail:match("^[^.]*%.(.*)$")
  if not rest then return "function" end
  if rest:sub(-3) == "-fm" then return "function" end
  if rest:find("%-range%d") then return "closure" end
  local comps = {}
  for c in (rest .. "."):gmatch("([^.]*)%.") do comps[#comps + 1] = c end
  for i = 2, #comps do
    local c = comps[i]
    if numbered(c, "func") or numbered(c, "gowrap") or numbered(c, "deferwrap") then
      return "closure"
    end
  end
  if rest:sub(1, 2) == "(*" then return "method" end
  if #comps >= 2 and not (rest:sub(1, 5) == "init." and rest:sub(6):match("^%d+$")) then
    return "method"
  end
  return "function"
end

--- Call sites (caller, offset) with at least min_callees (default 2) callees, heaviest
-- first; same shape as p:callsites (see src/lua/pgograph.c for the `speculate` rule).
function M.callsites(x, opts)
  check_source(x, "callsites")
  opts = check_opts(opts, "callsites", { min_callees = true })
  local min = opts.min_callees == nil and 2 or opts.min_callees
  if math.type(min) ~= "integer" or min < 1 then
    error("bad argument #2 to 'callsites' (option 'min_callees' must be an integer >= 1)", 2)
  end
  if is_profile(x) then return x:callsites { min_callees = min } end
  local by_site, order = {}, {}
  for _, e in ipairs(x) do
    local key = e.caller .. "\n" .. e.offset
    local s = by_site[key]
    if not s then
      s = { caller = e.caller, offset = e.offset, weight = 0, callees = {} }
      by_site[key] = s
      order[#order + 1] = s
    end
    s.weight = s.weight + e.weight
    s.callees[#s.callees + 1] = { callee = e.callee, weight = e.weight,
      kind = M.func_kind(e.callee) }
  end
  local sites = { total_weight = x.total_weight }
  for _, s in ipairs(order) do
    if #s.callees >= min then
      table.sort(s.callees, function(a, b)
        if a.weight ~= b.weight then return a.weight > b.weight end
        return a.callee < b.callee
      end)
      for _, c in ipairs(s.callees) do
        c.share = s.weight ~= 0 and c.weight / s.weight or 0.0
      end
      local targets, seen = {}, {}
      for _, c in ipairs(s.callees) do
        local method = c.kind == "method" and c.callee:match("([^.]*)$")
        if method and not seen[method] then
          seen[method] = true
          targets[#targets + 1] = { method = method, callee = c.callee, weight = c.weight }
        end
      end
      s.interface_targets = targets
      local top = s.callees[1]
      s.dominant, s.dominant_weight, s.dominant_share = top.callee, top.weight, top.share
      s.dominant_kind = top.kind
      s.speculate = top.kind ~= "closure" and top.callee ~= "runtime.memhash_varlen"
        and not M.no_ir_callee(top.callee)
      s.target = s.speculate and top.callee or nil
      sites[#sites + 1] = s
    end
  end
  table.sort(sites, function(a, b)
    if a.weight ~= b.weight then return a.weight > b.weight end
    if a.caller ~= b.caller then return a.caller < b.caller end
    return a.offset < b.offset
  end)
  return sites
end

--- A callee the compiler has no IR for when it compiles a user package: the runtime's
-- unexported functions (compiler-inserted helpers, runtime.asyncPreempt, entered by a
-- signal) and std's internal packages. When such an edge is the hottest at a call site the
-- devirtualizer gives up there (cmd/compile/internal/devirtualize: findHotConcreteCallee).
-- M.has_ir refines this by the caller's package.
function M.no_ir_callee(name)
  return name:find("^runtime%.[a-z(]") ~= nil or name:find("^internal/") ~= nil
    or name:find(".", 1, true) == nil          -- an assembly symbol (gcWriteBarrier)
end

-- The package path of a linker symbol name: up to the first "." after the last "/",
-- generic arguments ([...]) set aside.
local function package_of(name)
  local bare = name:gsub("%b[]", "")
  local slash = bare:match("^.*()/") or 0
  local dot = bare:find(".", slash + 1, true)
  return dot and bare:sub(1, dot - 1) or bare
end

local function is_std(pkg)
  local first = pkg:match("^[^/]*")
  return first ~= "main" and not first:find(".", 1, true)
end

--- Whether the compiler has IR for callee while it compiles caller's package
-- (cmd/compile/internal/pgoir: the package's own functions, else what export data
-- yields): a function of the caller's own package has it; otherwise not a closure of
-- another package (export data has no enclosed functions), not a no_ir_callee, not in
-- package main, and not outside std when the caller is in std (std imports no module).
-- imports (M.parse_imports): a package sees only what it imports, directly or not, so a
-- callee outside the caller's import closure has no IR (bufio cannot see net/http).
function M.has_ir(caller, callee, imports)
  local cp, ep = package_of(caller), package_of(callee)
  if cp == ep then return true end
  if M.func_kind(callee) == "closure" or ep == "main" then return false end
  local seen = imports and imports[cp]
  if seen then   -- the import closure decides, std's internal packages included
    local helper = callee:find("^runtime%.[a-z(]") or not callee:find(".", 1, true)
    return seen[ep] == true and not helper
  end
  if M.no_ir_callee(callee) then return false end
  return not (is_std(cp) and not is_std(ep))
end

--- The import closure of each package, from the output of
-- `go list -deps -f '{{.ImportPath}} {{.Name}}:{{range .Deps}} {{.}}{{end}}' ./...`
-- run in the module: {[package path] = {[imported path] = true}}, package main also
-- under "main" (the name its symbols carry). The option imports of devirt_candidates.
function M.parse_imports(text)
  if type(text) ~= "string" then
    error(("bad argument #1 to 'parse_imports' (string expected, got %s)"):format(type(text)), 2)
  end
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local pkg, name, deps = line:match("^(%S+) (%S+):(.*)$")
    if pkg then
      local set = {}
      for d in deps:gmatch("%S+") do set[d] = true end
      out[pkg] = set
      if name == "main" then
        local m = out.main or {}
        for d in pairs(set) do m[d] = true end
        out.main = m
      end
    end
  end
  return out
end

-- findHotConcreteCallee's order: heavier first; on a tie the callee with IR, then the
-- lexically first name.
local function hotter(a, a_ir, b, b_ir)
  if a.weight ~= b.weight then return a.weight > b.weight end
  if a_ir ~= b_ir then return a_ir end
  return a.callee < b.callee
end

--- The callee the compiler devirtualizes one indirect call to (cmd/compile/internal/
-- devirtualize, findHotConcreteCallee and its callers), or nil. site: {caller, callees =
-- {{callee, weight, kind}...}} (every edge of the line, as p:callsites gives them).
-- kind "interface" (method: the called method's name) considers the methods of that name;
-- "func_value" the callees in `through` (a set of names: the edges the indirect
-- instruction made; nil = every callee). A callee without IR (M.has_ir) is always
-- considered, and when it is the hottest the compiler gives up. A function-value call
-- is never devirtualized to a closure, a method or runtime.memhash_varlen. Not known
-- here: whether the type implements the interface or the signature is identical (two
-- calls on one line are told apart by method name and instruction only), //go:noinline
-- callees (the compiler skips those too), and static calls on the line that the profile
-- never sampled (weight 0 edges the compiler's IR graph has). no_body: a set of names
-- declared in Go but written in assembly (the compiler cannot inline them, so it keeps
-- the indirect call when one is the pick).
function M.devirt_pick(site, kind, method, through, no_body, imports)
  local best, best_ir
  local suffix = method and "." .. method
  for _, c in ipairs(site.callees) do
    local ir = M.has_ir(site.caller, c.callee, imports)
    local ok = not ir
    if kind == "interface" then
      ok = ok or (c.kind == "method" and c.callee:sub(-#suffix) == suffix)
    else
      ok = ok or through == nil or through[c.callee] == true
    end
    if ok and (not best or hotter(c, ir, best, best_ir)) then best, best_ir = c, ir end
  end
  if not best or not best_ir or (no_body and no_body[best.callee]) then return nil end
  if kind == "func_value" and (best.kind ~= "function" or best.callee == "runtime.memhash_varlen") then
    return nil
  end
  return best
end

-- The method name of a method symbol (pkg.(*T).M, pkg.T.M).
local function method_name(callee)
  return callee:gsub("%b[]", ""):match("%.([^.]*)$")
end

-- Whether two inlined copies of one call site reached callees the other did not: a
-- static call reaches the same function in every copy, so the call was indirect in the
-- source (a function value or interface parameter that inlining resolved per copy).
-- copies: {[context] = {callee = true}}.
local function copies_differ(copies)
  local sets = {}
  for _, set in pairs(copies) do sets[#sets + 1] = set end
  local function has_other(a, b)
    for callee in pairs(a) do if not b[callee] then return true end end
    return false
  end
  for i = 1, #sets do
    for j = i + 1, #sets do
      if has_other(sets[i], sets[j]) and has_other(sets[j], sets[i]) then return true end
    end
  end
  return false
end

-- The interface calls a parsed `go build -gcflags=-m=2` log (pgo.inline.parse) shows the
-- compiler devirtualized statically (": devirtualizing h.Write to *sha256.digest"):
-- {[line] = {{file, method}...}}.
local function static_devirtualizations(log)
  local out = {}
  for _, d in ipairs(log.decisions) do
    local method = d.kind == "devirtualize" and d.iface_call and d.iface_call:match("([%w_]+)$")
    if method and d.lineno then
      out[d.lineno] = out[d.lineno] or {}
      table.insert(out[d.lineno], { file = d.file:gsub("^%./", ""), method = method })
    end
  end
  return out
end

-- Whether one path names the other's file: equal, or one ends with "/" .. the other (a
-- -trimpath log names std files from GOROOT/src, a profile may hold absolute paths).
local function same_file(a, b)
  if #a < #b then a, b = b, a end
  return a == b or a:sub(-#b - 1) == "/" .. b
end

local function statically_devirtualized(static, r)
  for _, d in ipairs(static[r.line] or {}) do
    if method_name(r.callee) == d.method and M.func_kind(r.callee) == "method" and
        same_file(r.file, d.file) then
      return true
    end
  end
  return false
end

-- The functions a parsed -m=2 log says have no body the PGO pass can inline
-- (cmd/compile/internal/devirtualize shouldPGODevirt, inline.InlineImpossible): "always"
-- for a pragma ("marked go:noinline"), "other_package" when only its own package has the
-- body: export data carries a body only for inlinable functions, and a function too
-- complex for its budget (80; 2000 for the profile's hot callees) or using what the
-- inliner cannot handle ("unhandled op DEFER") is not. {[linker name] = reason}.
local function not_inlinable(log, x)
  local hot = {}
  for _, c in ipairs(M.hot_callsites(x).callees) do hot[c] = true end
  local out = {}
  for _, f in ipairs(log.functions) do
    if f.can == false and f.package then
      local name = f.package .. "." .. f.name
      local cost = f.reason:match("^function too complex: cost (%d+)")
      if f.reason:match("^marked ") then
        out[name] = "always"
      elseif not cost or tonumber(cost) > (hot[name] and 2000 or 80) then
        out[name] = "other_package"
      end
    end
  end
  return out
end

-- Per call site ("caller\noffset"), the indirect calls the binary shows: {interface =
-- {method = {callee = true}}, func_value = {callee = true}}; an indirect call of unknown
-- kind counts as both. A site whose calls are direct or inlined in the binary counts
-- too when its inlined copies differ (copies_differ): the compiler's PGO pass sees the
-- function before inlining, where the call is still indirect (internal/poll's
-- ignoringEINTRIO(syscall.Read, ...) and ignoringEINTRIO(syscall.Write, ...)). So does
-- an interface call that log (a parsed `go build -gcflags=-m=2` log) says the compiler
-- devirtualized statically, after inlining a constructor (h := sha256.New(); h.Sum(b)):
-- the PGO pass runs first and sees an interface call there.
local function indirect_calls(p, binary, log)
  local static = log and static_devirtualizations(log) or {}
  local rows, msg, code = p:call_addresses()
  if not rows then return nil, msg, code end
  local addrs = {}
  for _, r in ipairs(rows) do
    if not r.inlined then addrs[#addrs + 1] = r.address end
  end
  local kinds
  kinds, msg, code = require("pgo.core.symbols").call_instructions(binary, addrs)
  if not kinds then return nil, msg, code end
  local out, copies = { assembly = kinds.assembly }, {}
  local function add(key, callee, k)
    local site = out[key] or { interface = {}, func_value = {} }
    out[key] = site
    local m = M.func_kind(callee) == "method" and method_name(callee)
    if m and k ~= "func_value" then
      site.interface[m] = site.interface[m] or {}
      site.interface[m][callee] = true
    end
    if k == "indirect" or k == "func_value" or (k == "resolved" and not m) then
      site.func_value[callee] = true
    end
  end
  for _, r in ipairs(rows) do
    local key = r.caller .. "\n" .. r.offset
    local k = r.inlined and "inlined" or kinds[r.address]
    if k == "interface" or k == "func_value" or k == "indirect" then
      add(key, r.callee, k)
    elseif statically_devirtualized(static, r) then
      add(key, r.callee, "interface")
    elseif k == "direct" or k == "inlined" then
      local context = r.outer and (r.outer .. "\n" .. r.outer_offset) or ""
      copies[key] = copies[key] or {}
      copies[key][context] = copies[key][context] or {}
      copies[key][context][r.callee] = true
    end
  end
  for key, by_context in pairs(copies) do
    if copies_differ(by_context) then
      for _, set in pairs(by_context) do
        for callee in pairs(set) do add(key, callee, "resolved") end
      end
    end
  end
  return out
end

--- The call sites the compiler devirtualizes with profile x, and the callee it picks at
-- each (see M.devirt_pick). With opts.binary (the executable the profile was captured
-- from) only the indirect calls its instructions show, each of its kind: the compiler's
-- list (field exact = true) for every site the profile sampled. Without it every call
-- site, as either kind (exact = false): an upper bound, since a profile cannot tell an
-- indirect call from static calls on one line. opts.build_log (with binary: the output of
-- `go build -gcflags=all=-m=2` of the same program, -pgo=off or with the profile) adds the
-- interface calls the compiler resolved statically after inlining, which the binary shows
-- as direct calls, and drops picks the compiler cannot inline (not_inlinable), where it
-- declines to devirtualize. opts.imports: see
-- M.parse_imports. Rows {caller, offset, kind ("interface",
-- "func_value", or "unknown" without a binary), method (interface calls), callee, weight
-- (the pick's), site_weight}, heaviest site first.
-- @treturn[2] nil, message, code (from reading the profile's edges or the binary)
function M.devirt_candidates(x, opts)
  check_source(x, "devirt_candidates")
  opts = check_opts(opts, "devirt_candidates", { binary = true, imports = true, build_log = true })
  if opts.build_log ~= nil and (type(opts.build_log) ~= "string" or opts.binary == nil) then
    error("bad argument #2 to 'devirt_candidates' (option 'build_log' must be the text of " ..
      "`go build -gcflags=all=-m=2`, with option 'binary')", 2)
  end
  if opts.imports ~= nil and type(opts.imports) ~= "table" then
    error("bad argument #2 to 'devirt_candidates' (option 'imports' must be a table from " ..
      "pgo.compiler.parse_imports)", 2)
  end
  local imports = opts.imports
  if opts.binary ~= nil and (type(opts.binary) ~= "string" or not is_profile(x)) then
    error("bad argument #2 to 'devirt_candidates' (option 'binary' must be a path, with a " ..
      "pgo.profile as argument #1)", 2)
  end
  local sites, msg, code = M.callsites(x, { min_callees = 1 })
  if not sites then return nil, msg, code end
  local calls, log, blocked
  if opts.binary then
    log = opts.build_log and require("pgo.inline").parse(opts.build_log)
    blocked = log and not_inlinable(log, x) or {}
    calls, msg, code = indirect_calls(x, opts.binary, log)
    if not calls then return nil, msg, code end
  end
  local out = { exact = opts.binary ~= nil }
  local function add(s, kind, method, pick)
    local why = pick and blocked and blocked[pick.callee]
    if why == "always" or (why == "other_package" and package_of(pick.callee) ~= package_of(s.caller)) then
      pick = nil
    end
    if pick then
      out[#out + 1] = { caller = s.caller, offset = s.offset, kind = kind, method = method,
        callee = pick.callee, weight = pick.weight, site_weight = s.weight }
    end
  end
  for _, s in ipairs(sites) do
    if calls then
      -- a function written in assembly (runtime.mcall calling its fn) is not compiled
      local c = not calls.assembly[s.caller] and calls[s.caller .. "\n" .. s.offset]
      if c then
        local methods = {}
        for m in pairs(c.interface) do methods[#methods + 1] = m end
        table.sort(methods)
        for _, m in ipairs(methods) do
          add(s, "interface", m, M.devirt_pick(s, "interface", m, nil, calls.assembly, imports))
        end
        if next(c.func_value) then
          add(s, "func_value", nil, M.devirt_pick(s, "func_value", nil, c.func_value, calls.assembly,
            imports))
        end
      end
    else
      for _, t in ipairs(s.interface_targets) do
        add(s, "unknown", t.method, M.devirt_pick(s, "interface", t.method, nil, nil, imports))
      end
      local f = M.devirt_pick(s, "func_value", nil, nil, nil, imports)
      if f then add(s, "unknown", nil, f) end
    end
  end
  return out
end

--- The edge list of x (a profile's p:edges(), or x itself).
function M.edges(x)
  check_source(x, "edges")
  if is_profile(x) then return x:edges() end
  return x
end

return M
