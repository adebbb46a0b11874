-- pgo.bench: Go benchmark results (`go test -bench` output) read, compared and reported
-- the way benchstat (golang.org/x/perf/cmd/benchstat) does it, plus a CI gate.
-- Written from shared/docs/benchstat-reference.md; no upstream code.
--
--   bench.parse(text, label)          -> set | nil, message, "line_too_long"
--        syntax errors do not fail: they are listed in set.errors ("file:line: message")
--   bench.load(path, ...)             -> set | nil, message, code ("not_found", "io", ...)
--        each argument is a path, "label=path", or {path=, label=}; the default label is
--        the file's base name ("-" reads standard input, label "-")
--   bench.merge(set, ...)             -> set            (several sets as one, files in order)
--   bench.compare(old, new, opts)     -> cmp            (new may be omitted; or a list of sets)
--        opts: alpha (0.05), confidence (0.95), table (".config"), row (".fullname"),
--              col (".file"), ignore (""), filter ("*") - benchstat's flags; in a filter,
--              key:/pattern/ takes a Lua pattern (not Go RE2)
--   bench.report(cmp, {format = "text" | "csv" | "markdown" | "json"})
--        -> text, warnings   (csv: warnings are what benchstat prints on stderr, "B6: ...")
--   bench.data(cmp)                   -> the comparison as plain tables (the JSON report)
--   bench.utest(x, y)                 -> U1, p  |  nil, message, code
--   bench.gate(cmp, {threshold = 0.05, alpha = 0.05}) -> ok, failures
--   bench.tidy_unit(unit)             -> tidied unit, factor   ("ns/op" -> "sec/op", 1e-9)
--   bench.higher_is_better(unit, meta) -> boolean (the gate's direction)
--
-- A set:  { files = { {label=, path=} }, series = { {file=, config=, name=, units = {u...},
--           values = { [unit] = {v...} } } }, units = {u... in first-seen order},
--           unit_meta = { [unit] = {assume=, better=} }, errors = { "file:line: msg" },
--           results = n }
-- Values are stored tidied: ns/op as sec/op (x1e-9), MB/s as B/s (x1e6), and so on.
--
-- cmp = { alpha=, confidence=, errors = {...}, tables = { table... }, comparisons = {...} }
--   table = { unit=, assume = "nothing" | "exact", higher_is_better=, columns = {label...},
--             config = { {key=, value=} ... }, rows = { row... }, geomean = {...} }
--   row   = { name=, cells = { [col] = cell }, comparisons = { [col] = comparison } }
--   cell  = { n=, values = {sorted}, center=, lo=, hi= (-inf/+inf when the CI is open),
--             range = "2%" | "∞" | "?", warnings = {...} }
--   comparison = { p=, n1=, n2=, u=, delta = new/old - 1, text = "-10.98%" | "~" | "?"
--             | "0.00%", pvalue_text = "p=0.002 n=6", significant=, warnings = {...} }
--   comparisons: one flat record per compared cell: { name=, unit=, config=, base=,
--             label=, old=, new=, delta=, p=, significant=, text=, higher_is_better=,
--             n1=, n2=, spread_old=, spread_new= (each side's "± X%" as a fraction;
--             math.huge when the interval is open) }
local stats = require "pgo.bench_stats"
local markdown = require "pgo.markdown"

local M = {}
M.stats = stats

local find, sub, byte, match, fmt, rep, gsub = string.find, string.sub, string.byte,
  string.match, string.format, string.rep, string.gsub
local concat, sort = table.concat, table.sort
local abs, huge = math.abs, math.huge
local utf8len = utf8.len

-- The width of a table cell in runes, as Go's utf8.RuneCountInString: like utf8.len, but
-- each byte of an invalid sequence counts as one rune (a benchmark name or a config value
-- is bytes, not necessarily UTF-8; utf8.len would return nil).
local function ulen(s)
  local n, pos = 0, 1
  while true do
    local count, bad = utf8len(s, pos)
    if count then return n + count end
    n = n + utf8len(s, pos, bad - 1) + 1
    pos = bad + 1
  end
end

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

-- ==== units ============================================================================

local tidy_cache = {
  ["ns/op"] = { "sec/op", 1e-9 },
  ["MB/s"] = { "B/s", 1e6 },
  ["B/op"] = { "B/op", 1 },
  ["allocs/op"] = { "allocs/op", 1 },
}

-- The tidied name of a unit and the factor that converts its values (§3.1).
local function tidy(unit)
  local c = tidy_cache[unit]
  if c then return c[1], c[2] end
  local name, factor = unit, 1
  if find(unit, "ns", 1, true) or find(unit, "MB", 1, true) then
    local out, denom = {}, false
    local pos = 1
    while pos <= #unit do
      local s, e = find(unit, "^[^%*/%-%s]+", pos)
      if s then
        local tok = sub(unit, s, e)
        if not denom and tok == "ns" then tok = "sec"; factor = factor * 1e-9
        elseif not denom and tok == "MB" then tok = "B"; factor = factor * 1e6 end
        out[#out + 1] = tok
        pos = e + 1
      else
        local ch = sub(unit, pos, pos)
        if ch == "/" then denom = true elseif ch == "*" then denom = false end
        out[#out + 1] = ch
        pos = pos + 1
      end
    end
    name = concat(out)
  end
  tidy_cache[unit] = { name, factor }
  return name, factor
end
M.tidy_unit = tidy

-- Binary units (IEC prefixes): a numerator token B, MB or bytes (§3.2).
local function unit_is_binary(unit)
  local denom = false
  local pos = 1
  while pos <= #unit do
    local s, e = find(unit, "^[^%*/%-%s]+", pos)
    if s then
      local tok = sub(unit, s, e)
      if not denom and (tok == "B" or tok == "MB" or tok == "bytes") then return true end
      pos = e + 1
    else
      local ch = sub(unit, pos, pos)
      if ch == "/" then denom = true elseif ch == "*" then denom = false end
      pos = pos + 1
    end
  end
  return false
end

-- Whether higher values are better: unit metadata better=higher/lower wins; otherwise
-- throughput-like units (".../s") are higher-is-better, everything else lower-is-better.
local function higher_is_better(unit, meta)
  if meta and meta.better == "higher" then return true end
  if meta and meta.better == "lower" then return false end
  return find(unit, "/s$") ~= nil
end
M.higher_is_better = function(unit, meta) return higher_is_better(unit, meta) end

-- ==== number scaling (§3.3) ===========================================================

local SI = { { 1e12, "T", "e12" }, { 1e9, "G", "e9" }, { 1e6, "M", "e6" }, { 1e3, "k", "e3" },
  { 1, "", "" }, { 1e-3, "m", "e-3" }, { 1e-6, "\u{b5}", "e-6" }, { 1e-9, "n", "e-9" } }
local IEC = { { 2.0 ^ 40, "Ti" }, { 2.0 ^ 30, "Gi" }, { 2.0 ^ 20, "Mi" }, { 2.0 ^ 10, "Ki" },
  { 1, "" } }
for _, p in ipairs(SI) do
  p.t100 = tonumber("99.995" .. (p[3] ~= "" and "e" .. p[3]:sub(2) or ""))
  p.t10 = tonumber("9.9995" .. (p[3] ~= "" and "e" .. p[3]:sub(2) or ""))
  p.t1 = tonumber("0.99995" .. (p[3] ~= "" and "e" .. p[3]:sub(2) or ""))
end
for _, p in ipairs(IEC) do
  p.t100, p.t10, p.t1 = 99.995 * p[1], 9.9995 * p[1], 0.99995 * p[1]
end

-- A scaler for a set of values: {decimals, factor, prefix}.
local function make_scaler(values, binary)
  local m
  for _, v in ipairs(values) do
    local a = abs(v)
    if a ~= 0 and a == a and (not m or a < m) then m = a end
  end
  if not m then return { 3, 1, "" } end
  local list = binary and IEC or SI
  for _, p in ipairs(list) do
    if m >= p.t100 then return { 1, p[1], p[2] } end
    if m >= p.t10 then return { 2, p[1], p[2] } end
    if m >= p.t1 then return { 3, p[1], p[2] } end
  end
  local last = list[#list]
  local v = m / last[1]
  local prec = 4
  local th = 0.099995
  while prec < 10 and not (v >= th) do
    prec = prec + 1
    th = th / 10
  end
  return { prec, last[1], last[2] }
end

local function scale_fmt(sc, v)
  return fmt("%." .. sc[1] .. "f", v / sc[2]) .. sc[3]
end

-- ==== parsing (§1) =====================================================================

-- Unicode spaces other than ASCII ones, as UTF-8, mapped to a plain space before splitting.
local uspace = {
  "\u{85}", "\u{a0}", "\u{1680}", "\u{2000}", "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}",
  "\u{2005}", "\u{2006}", "\u{2007}", "\u{2008}", "\u{2009}", "\u{200a}", "\u{2028}",
  "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}" }
local function normalize_spaces(line)
  for _, s in ipairs(uspace) do
    if find(line, s, 1, true) then line = gsub(line, s, " ") end
  end
  return line
end

-- Go's strconv.ParseFloat for a measurement: value, or nil, "invalid syntax" | "value out
-- of range".
local function parse_float(s)
  local l = s:lower()
  local sign, rest = match(l, "^([+-]?)(.*)$")
  if rest == "inf" or rest == "infinity" then return sign == "-" and -huge or huge end
  if rest == "nan" then return 0 / 0 end
  local v
  if find(rest, "^%d*%.?%d*e?[+-]?%d*$") and find(rest, "%d") then
    if find(rest, "e") and not find(rest, "e[+-]?%d+$") then return nil, "invalid syntax" end
    if find(rest, "^%.?e") or rest == "." then return nil, "invalid syntax" end
    v = tonumber(rest)
  elseif find(rest, "^0x[%x]*%.?[%x]*p[+-]?%d+$") then
    v = tonumber(rest)
  end
  if not v then return nil, "invalid syntax" end
  if v == huge then return nil, "value out of range" end
  return sign == "-" and -v or v
end

local NAME_ONLY = {}   -- sentinel

-- A measurement value: number, or nil, message. tonumber() is Go's ParseFloat for
-- decimal text; hex, "inf" and "nan" go the careful way.
local function parse_value(v)
  local x = tonumber(v)
  if x then
    local b2, b3 = byte(v, 2), byte(v, 3)
    if b2 == 120 or b2 == 88 or b3 == 120 or b3 == 88 then return parse_float(v) end
    if x == huge or x == -huge then return nil, "value out of range" end
    return x + 0.0
  end
  return parse_float(v)
end

-- Parse the result line text[pos..stop] (it starts with "Benchmark") into out[1..n]
-- (value, unit, value, unit, ...). Returns name, n; NAME_ONLY for a bare name line;
-- nil, message on a syntax error. %s/%S patterns may run past `stop` into the next line;
-- every match is checked against `stop`.
local function parse_result(text, pos, stop, out)
  local _, e, name, iters = find(text, "^Benchmark(%S*)%s+(%S+)", pos)
  if not e or e > stop then
    -- a bare name, or a name and blanks only
    local p
    name, p = match(text, "^Benchmark(%S*)()", pos)
    if p > stop then return NAME_ONLY end
    return nil, "missing iteration count"
  end
  local it = #iters <= 18 and tonumber(iters, 10)
  if not it then
    if not find(iters, "^[+-]?%d+$") then return nil, "parsing iteration count: invalid syntax" end
    if math.type(tonumber(iters)) ~= "integer" then
      return nil, "parsing iteration count: value out of range"
    end
  end
  local p = e + 1
  local n = 0
  while p <= stop do
    local _, e2, v, u = find(text, "^%s+(%S+)%s+(%S+)", p)
    if not e2 or e2 > stop then break end
    local x = tonumber(v)
    local b2 = byte(v, 2)
    if not x or b2 == 120 or b2 == 88 or x == huge or x == -huge or byte(v, 3) == 120
        or byte(v, 3) == 88 then
      local err
      x, err = parse_value(v)
      if not x then return nil, "parsing measurement: " .. err end
    end
    out[n + 1] = x
    out[n + 2] = u
    n = n + 2
    p = e2 + 1
  end
  if p <= stop then
    local _, be = find(text, "^[ \t\v\f\r]*", p)
    if be < stop then
      -- a value without a unit (or a bad value) is left over
      local _, _, v = find(text, "^%s*(%S+)", p)
      local _, err = parse_value(v)
      if err then return nil, "parsing measurement: " .. err end
      return nil, "missing units"
    end
  end
  if n == 0 then return nil, "missing measurements" end
  return name, n
end

-- A configuration line (§1.2): key, value ("" deletes) or nil.
local function parse_config(line)
  local key, rest = match(line, "^([a-z][^:]*):(.*)$")
  if not key then
    -- a non-ASCII lower-case first letter is rare; accept any non-ASCII lead byte
    key, rest = match(line, "^([\192-\255][^:]*):(.*)$")
    if not key then return nil end
  end
  if find(key, "[%sA-Z]") then return nil end
  if rest == "" then return key, "" end
  local value = match(rest, "^[ \t]+(.*)$")
  if not value then return nil end
  return key, value
end

local function new_set()
  return { _pgo_bench_set = true, files = {}, series = {}, units = {}, unit_index = {},
    unit_meta = {}, errors = {}, results = 0 }
end

local function is_set(x) return type(x) == "table" and x._pgo_bench_set == true end
M._is_set = is_set
M.is_set = is_set

-- Read one file's text into set s under the given label.
local function read_into(s, text, label, path)
  local fileno = #s.files + 1
  s.files[fileno] = { label = label, path = path }
  local errors = s.errors
  local series, units, unit_index = s.series, s.units, s.unit_index
  local meta = s.unit_meta
  -- the file's configuration: ordered keys, values; cfg = the current snapshot
  local keys, vals = {}, {}
  local cfg
  local cfgid = 0
  local by_cfg = {}
  local function snapshot()
    cfgid = cfgid + 1
    local k2, v2 = {}, {}
    for i, k in ipairs(keys) do k2[i] = k; v2[k] = vals[k] end
    cfg = { keys = k2, values = v2 }
    by_cfg = {}
  end
  snapshot()
  local pos, len, lineno = 1, #text, 0
  local nresults = 0
  local scratch = {}
  -- Unicode spaces separate fields too; only look for them when the text has any
  local uni = false
  for _, lead in ipairs { "\194", "\225", "\226", "\227" } do
    if find(text, lead, 1, true) then uni = true end
  end
  while pos <= len do
    local nl = find(text, "\n", pos, true)
    local stop = nl and nl - 1 or len
    lineno = lineno + 1
    if stop - pos + 1 >= 65536 then
      return nil, ("%s:%d: bufio.Scanner: token too long"):format(label, lineno), "line_too_long"
    end
    local b = byte(text, pos)
    if b == 66 and find(text, "^Benchmark", pos) then
      if byte(text, stop) == 13 then stop = stop - 1 end
      local name, vl
      if uni then
        local line = normalize_spaces(sub(text, pos, stop))
        name, vl = parse_result(line, 1, #line, scratch)
      else
        name, vl = parse_result(text, pos, stop, scratch)
      end
      if name == nil then
        errors[#errors + 1] = ("%s:%d: %s"):format(label, lineno, vl)
      elseif name ~= NAME_ONLY then
        local sr = by_cfg[name]
        if not sr then
          sr = { file = fileno, config = cfg, name = name, units = {}, values = {} }
          series[#series + 1] = sr
          by_cfg[name] = sr
        end
        local values = sr.values
        for i = 1, vl, 2 do
          local u = scratch[i + 1]
          local c = tidy_cache[u]
          if not c then tidy(u); c = tidy_cache[u] end
          -- benchstat leaves a zero value in its unit as written (0 ns/op stays ns/op)
          if scratch[i] == 0 then c = { u, 1 } end
          local tu = c[1]
          local arr = values[tu]
          if not arr then
            arr = {}
            values[tu] = arr
            sr.units[#sr.units + 1] = tu
            if not unit_index[tu] then
              units[#units + 1] = tu
              unit_index[tu] = #units
            end
          end
          arr[#arr + 1] = scratch[i] * c[2]
        end
        nresults = nresults + 1
      end
    elseif b == 85 and match(text, "^Unit%f[%s\0]", pos) then
      local line = sub(text, pos, stop)
      if byte(line, -1) == 13 then line = sub(line, 1, -2) end
      local unit, rest = match(line, "^Unit%s+(%S+)(.*)$")
      if not unit then
        errors[#errors + 1] = ("%s:%d: missing unit"):format(label, lineno)
      else
        local tu = tidy(unit)
        local m = meta[tu] or {}
        meta[tu] = m
        for kv in rest:gmatch("%S+") do
          local k, v = match(kv, "^([^=]+)=(.*)$")
          if not k then
            errors[#errors + 1] = ("%s:%d: expected key=value"):format(label, lineno)
          elseif m[k] ~= nil and m[k] ~= v then
            errors[#errors + 1] = ("%s:%d: metadata %s of unit %s already set to %s"):format(
              label, lineno, k, unit, m[k])
          else
            m[k] = v
          end
        end
      end
    elseif b and b >= 97 and b <= 122 or (b and b >= 192) then
      local line = sub(text, pos, stop)
      if byte(line, -1) == 13 then line = sub(line, 1, -2) end
      local k, v = parse_config(line)
      if k then
        if v == "" then
          if vals[k] ~= nil then
            local idx
            for i, kk in ipairs(keys) do if kk == k then idx = i end end
            keys[idx] = keys[#keys]
            keys[#keys] = nil
            vals[k] = nil
            snapshot()
          end
        elseif vals[k] ~= v then
          if vals[k] == nil then keys[#keys + 1] = k end
          vals[k] = v
          snapshot()
        end
      end
    end
    if not nl then break end
    pos = nl + 1
  end
  s.results = s.results + nresults
  return s
end

--- Parse benchmark text. label names the file's column (default "-").
-- @treturn table a set (syntax errors are listed in set.errors, as benchstat prints them)
function M.parse(text, label)
  if type(text) ~= "string" then argerror(1, "parse", "string expected, got " .. type(text)) end
  if label ~= nil and type(label) ~= "string" then
    argerror(2, "parse", "string expected, got " .. type(label))
  end
  local s = new_set()
  local ok, msg, code = read_into(s, text, label or "-", nil)
  if not ok then return nil, msg, code end
  return s
end

local function basename(p) return (p:match("([^/]+)/*$") or p) end

--- Read benchmark files. Each argument: a path, "label=path" (benchstat's syntax) or
-- {path=, label=}. The label of a plain path is its base name.
-- @treturn[1] table a set holding every file, in argument order
-- @treturn[2] nil, message, code ("not_found", "io", "line_too_long")
function M.load(...)
  local n = select("#", ...)
  if n == 0 then argerror(1, "load", "string expected, got no value") end
  local s = new_set()
  for i = 1, n do
    local a = select(i, ...)
    local path, label
    if type(a) == "table" then
      path, label = a.path, a.label
      if type(path) ~= "string" then argerror(i, "load", "table without a 'path' string") end
    elseif type(a) == "string" then
      local l, p = match(a, "^([^=]*)=(.*)$")
      if l then label, path = l, p else path = a end
    else
      argerror(i, "load", "string expected, got " .. type(a))
    end
    label = label or (path == "-" and "-" or basename(path))
    local text
    if path == "-" then
      text = io.stdin:read("a")
    else
      local f, err = io.open(path, "rb")
      if not f then
        local code = err and err:find("No such file") and "not_found" or "io"
        return nil, ("cannot read benchmark file %s: %s"):format(path, err or "?"), code
      end
      text = f:read("a")
      f:close()
      if not text then return nil, ("cannot read benchmark file %s"):format(path), "io" end
    end
    local ok, msg, code = read_into(s, text, label, path)
    if not ok then return nil, msg, code end
  end
  return s
end

--- Several sets as one: files, series and units in argument order.
function M.merge(...)
  local out = new_set()
  for i = 1, select("#", ...) do
    local s = select(i, ...)
    if not is_set(s) then argerror(i, "merge", "benchmark set expected, got " .. type(s)) end
    local off = #out.files
    for _, f in ipairs(s.files) do out.files[#out.files + 1] = { label = f.label, path = f.path } end
    for _, sr in ipairs(s.series) do
      out.series[#out.series + 1] = { file = sr.file + off, config = sr.config, name = sr.name,
        units = sr.units, values = sr.values }
    end
    for _, u in ipairs(s.units) do
      if not out.unit_index[u] then
        out.units[#out.units + 1] = u
        out.unit_index[u] = #out.units
      end
    end
    for u, m in pairs(s.unit_meta) do
      local om = out.unit_meta[u] or {}
      out.unit_meta[u] = om
      for k, v in pairs(m) do if om[k] == nil then om[k] = v end end
    end
    for _, e in ipairs(s.errors) do out.errors[#out.errors + 1] = e end
    out.results = out.results + s.results
  end
  -- the same label twice: label#0, label#1, ... (benchstat does this for a repeated path)
  local count = {}
  for _, f in ipairs(out.files) do count[f.label] = (count[f.label] or 0) + 1 end
  local seen = {}
  for _, f in ipairs(out.files) do
    if count[f.label] > 1 then
      local k = seen[f.label] or 0
      seen[f.label] = k + 1
      f.label = f.label .. "#" .. k
    end
  end
  return out
end

-- ==== benchmark names (§1.5) ===========================================================

local name_cache = {}
-- { base=, parts = { {text="/k=v", key=, value=} }, procs = "-8" or "" }
local function split_name(full)
  local c = name_cache[full]
  if c then return c end
  local rest, procs = match(full, "^(.-)(%-%d+)$")
  if not rest then rest, procs = full, "" end
  local base = match(rest, "^[^/]*")
  local parts = {}
  for piece in rest:sub(#base + 1):gmatch("/[^/]*") do
    local k, v = match(piece, "^/([^=]*)=(.*)$")
    parts[#parts + 1] = { text = piece, key = k, value = v }
  end
  c = { base = base, parts = parts, procs = procs }
  name_cache[full] = c
  return c
end

-- ==== projections and filters (§2) =====================================================

-- Split "a,b c@(x y)" at top-level commas and blanks.
local function split_fields(spec)
  local out, depth, cur = {}, 0, {}
  for ch in spec:gmatch(utf8.charpattern) do
    if ch == "(" then depth = depth + 1 elseif ch == ")" then depth = depth - 1 end
    if depth == 0 and (ch == "," or ch == " " or ch == "\t") then
      if #cur > 0 then out[#out + 1] = concat(cur); cur = {} end
    else
      cur[#cur + 1] = ch
    end
  end
  if #cur > 0 then out[#out + 1] = concat(cur) end
  return out
end

local function parse_projection(spec, what)
  local fields = {}
  for _, f in ipairs(split_fields(spec or "")) do
    local name, order = match(f, "^([^@]+)@(.*)$")
    name = name or f
    local fixed
    if order then
      local list = match(order, "^%((.*)%)$")
      if list then
        fixed = {}
        for v in list:gmatch("[^%s,]+") do fixed[#fixed + 1] = v end
        order = "fixed"
      elseif order ~= "alpha" and order ~= "num" then
        error(("bad %s projection '%s': unknown order '@%s' (alpha, num or (v1 v2 ...))")
          :format(what, spec, order), 0)
      end
    end
    if name == ".unit" and what ~= "filter" then
      error(("bad %s projection '%s': .unit cannot be projected"):format(what, spec), 0)
    end
    fields[#fields + 1] = { name = name, order = order or "first", fixed = fixed }
  end
  return fields
end

-- Filter expressions: key:value, key:"q", key:/pattern/, key:(a OR b), *, AND/OR/-/().
-- /pattern/ is a Lua pattern (not Go RE2), matched unanchored.
local function parse_filter(src)
  local toks = {}
  local i, n = 1, #src
  while i <= n do
    local c = sub(src, i, i)
    if find(c, "%s") then i = i + 1
    elseif c == "(" or c == ")" then toks[#toks + 1] = { t = c }; i = i + 1
    elseif c == "-" then toks[#toks + 1] = { t = "-" }; i = i + 1
    elseif c == "*" then toks[#toks + 1] = { t = "*" }; i = i + 1
    else
      local word_end = i
      while word_end <= n and not find(sub(src, word_end, word_end), "[%s():]") do
        word_end = word_end + 1
      end
      local word = sub(src, i, word_end - 1)
      if sub(src, word_end, word_end) == ":" then
        local key = word
        local j = word_end + 1
        local d = sub(src, j, j)
        local vals, kind = {}, "eq"
        if d == '"' then
          local e = find(src, '"', j + 1, true)
          if not e then error("bad filter: unterminated quote", 0) end
          vals[1] = sub(src, j + 1, e - 1); i = e + 1
        elseif d == "/" then
          local e = find(src, "/", j + 1, true)
          if not e then error("bad filter: unterminated /pattern/", 0) end
          vals[1] = sub(src, j + 1, e - 1); kind = "re"; i = e + 1
        elseif d == "(" then
          local e = find(src, ")", j + 1, true)
          if not e then error("bad filter: missing )", 0) end
          local inner = sub(src, j + 1, e - 1)
          for v in inner:gmatch("%S+") do if v ~= "OR" then vals[#vals + 1] = v end end
          i = e + 1
        else
          local e = j
          while e <= n and not find(sub(src, e, e), "[%s()]") do e = e + 1 end
          vals[1] = sub(src, j, e - 1); i = e
        end
        toks[#toks + 1] = { t = "match", key = key, vals = vals, kind = kind }
      else
        if word == "AND" or word == "OR" then toks[#toks + 1] = { t = word }
        else error(("bad filter: expected key:value, found '%s'"):format(word), 0) end
        i = word_end
      end
    end
  end
  local p = 1
  local parse_or
  local function parse_atom()
    local t = toks[p]
    if not t then error("bad filter: unexpected end", 0) end
    if t.t == "-" then p = p + 1; local a = parse_atom(); return { op = "not", a } end
    if t.t == "(" then
      p = p + 1
      local e = parse_or()
      if not toks[p] or toks[p].t ~= ")" then error("bad filter: missing )", 0) end
      p = p + 1
      return e
    end
    if t.t == "*" then p = p + 1; return { op = "all" } end
    if t.t == "match" then p = p + 1; return { op = "match", key = t.key, vals = t.vals, kind = t.kind } end
    error("bad filter: unexpected '" .. t.t .. "'", 0)
  end
  local function parse_and()
    local left = parse_atom()
    while toks[p] and toks[p].t ~= "OR" and toks[p].t ~= ")" do
      if toks[p].t == "AND" then p = p + 1 end
      left = { op = "and", left, parse_atom() }
    end
    return left
  end
  parse_or = function()
    local left = parse_and()
    while toks[p] and toks[p].t == "OR" do
      p = p + 1
      left = { op = "or", left, parse_and() }
    end
    return left
  end
  if #toks == 0 then return { op = "all" } end
  local e = parse_or()
  if p <= #toks then error("bad filter: unexpected '" .. toks[p].t .. "'", 0) end
  return e
end

-- ==== compare ==========================================================================

local function sorted(xs)
  local t = {}
  for i = 1, #xs do t[i] = xs[i] end
  sort(t)
  return t
end

local superscripts = { [0] = "\u{2070}", "\u{b9}", "\u{b2}", "\u{b3}", "\u{2074}", "\u{2075}",
  "\u{2076}", "\u{2077}", "\u{2078}", "\u{2079}" }
local function superscript(n)
  local s = tostring(n)
  return (s:gsub("%d", function(d) return superscripts[tonumber(d)] end))
end

-- Go's %v of a float for messages (0.95 -> "0.95").
local gofloat = stats.gofloat

-- Summary of one cell (§4.2-4.5, 4.8).
local function summarize(values, assume, confidence)
  local xs = sorted(values)
  local n = #xs
  local cell = { n = n, values = xs, warnings = {} }
  if assume == "exact" then
    -- the mode (smallest value among the most frequent), min, max
    local best, bestc, i = xs[1], 0, 1
    while i <= n do
      local j = i
      while j < n and xs[j + 1] == xs[i] do j = j + 1 end
      if j - i + 1 > bestc then best, bestc = xs[i], j - i + 1 end
      i = j + 1
    end
    cell.center, cell.lo, cell.hi = best, xs[1], xs[n]
    cell.confidence = 1
    if xs[1] ~= xs[n] then
      cell.warnings[#cell.warnings + 1] = ("exact distribution expected, but values range from %s to %s")
        :format(gofloat(xs[1]), gofloat(xs[n]))
    end
  else
    cell.center = stats.quantile(xs, 0.5)
    local lo, hi = stats.median_ci(n, confidence)
    cell.lo = lo >= 1 and xs[lo] or -huge
    cell.hi = hi <= n and xs[hi] or huge
    if cell.lo == -huge or cell.hi == huge then
      local m, op = stats.ci_min_samples(confidence)
      cell.warnings[#cell.warnings + 1] = ("need %s %d samples for confidence interval at level %s")
        :format(op, m, gofloat(confidence))
    end
  end
  return cell
end

local function sign(x) if x > 0 then return 1 elseif x < 0 then return -1 else return 0 end end

-- The "± X%" text of a cell (§4.4).
local function range_text(c)
  if c.lo == -huge or c.hi == huge then return "\u{221e}" end
  if sign(c.center) ~= sign(c.lo) or sign(c.center) ~= sign(c.hi) then return "?" end
  if c.center == 0 then return "0%" end
  local a, b = c.hi / c.center - 1, 1 - c.lo / c.center
  return fmt("%.0f%%", 100 * (a > b and a or b))
end

-- The half-width of a cell's confidence interval as a fraction of its center (the "± X%"
-- of range_text, unrounded); math.huge when the interval is open or the center is 0.
local function spread(c)
  if c.lo == -huge or c.hi == huge or c.center == 0 then return huge end
  if sign(c.center) ~= sign(c.lo) or sign(c.center) ~= sign(c.hi) then return huge end
  local a, b = c.hi / c.center - 1, 1 - c.lo / c.center
  return a > b and a or b
end

-- Compare a cell against the baseline cell (§4.6-4.7).
local function compare_cells(base, cell, assume, alpha)
  local r = { n1 = base.n, n2 = cell.n, warnings = {} }
  local p, a
  if assume == "exact" then
    p, a = 0, 0
  else
    a = alpha
    local u, pv, err = stats.utest(base.values, cell.values)
    if not u then
      p = 1
      r.warnings[1] = pv
      r.error = pv
      r.code = err
    else
      p = pv
      r.u = u
      if p > alpha then
        local m, op = stats.utest_min_samples(alpha)
        if base.n < m and cell.n < m then
          r.warnings[#r.warnings + 1] = ("need %s %d samples to detect a difference at alpha level %s")
            :format(op, m, gofloat(alpha))
        end
      end
    end
  end
  r.p = p
  r.significant = not (p > a)
  local ntext = base.n == cell.n and ("n=" .. base.n) or ("n=" .. base.n .. "+" .. cell.n)
  r.pvalue_text = p == 0 and ntext or (fmt("p=%.3f ", p) .. ntext)
  if base.center ~= 0 then r.delta = cell.center / base.center - 1 end
  if p > a then r.text = "~"
  elseif base.center == cell.center then r.text = "0.00%"
  elseif base.center == 0 then r.text = "?"
  else r.text = fmt("%+.2f%%", 100 * (cell.center / base.center - 1)) end
  return r
end

local known_compare = { alpha = true, confidence = true, table = true, row = true, col = true,
  ignore = true, filter = true }

--- Compare benchmark sets the way benchstat does.
-- compare(old, new, opts), compare(set, opts), compare({s1, s2, ...}, opts)
-- @treturn table cmp: { alpha, confidence, tables = {...}, comparisons = {...}, errors }
function M.compare(a, b, opts)
  local sets = {}
  if is_set(a) then
    sets[1] = a
    if is_set(b) then sets[2] = b else opts = b end
  elseif type(a) == "table" and is_set(a[1]) then
    for i, s in ipairs(a) do
      if not is_set(s) then argerror(1, "compare", "list of benchmark sets expected") end
      sets[i] = s
    end
    opts = b
  else
    argerror(1, "compare", "benchmark set expected, got " .. type(a))
  end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(#sets + 1, "compare", "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known_compare[k] then argerror(#sets + 1, "compare", "unknown option '" .. tostring(k) .. "'") end
  end
  local alpha = opts.alpha or 0.05
  local confidence = opts.confidence or 0.95
  if type(alpha) ~= "number" or alpha < 0 or alpha > 1 then
    argerror(#sets + 1, "compare", "alpha must be in range [0, 1]")
  end
  if type(confidence) ~= "number" or confidence < 0 or confidence > 1 then
    argerror(#sets + 1, "compare", "confidence must be in range [0, 1]")
  end
  local s = M.merge(table.unpack(sets))

  local ok, res = pcall(function()
    return {
      table = parse_projection(opts.table or ".config", "table"),
      row = parse_projection(opts.row or ".fullname", "row"),
      col = parse_projection(opts.col or ".file", "col"),
      ignore = parse_projection(opts.ignore or "", "ignore"),
      filter = parse_filter(opts.filter or "*"),
    }
  end)
  if not ok then error(res, 2) end
  local P = res

  -- which fields are used where
  local used, used_keys = {}, {}
  local has_config = false
  for _, which in ipairs { "table", "row", "col" } do
    for _, f in ipairs(P[which]) do
      if f.name == ".config" then has_config = true else used[f.name] = true end
      local k = match(f.name, "^/(.+)$")
      if k then used_keys[k] = true end
    end
  end
  local ignored = {}
  for _, f in ipairs(P.ignore) do ignored[f.name] = true end
  -- every config key, in first-seen order
  local cfg_keys, cfg_seen = {}, {}
  for _, sr in ipairs(s.series) do
    for _, k in ipairs(sr.config.keys) do
      if not cfg_seen[k] then cfg_seen[k] = true; cfg_keys[#cfg_keys + 1] = k end
    end
  end
  -- expand .config in the table projection. The reference records first-seen order only
  -- for top-level fields, never for the keys inside .config, so with the default order
  -- those compare as plain strings (pkg: a/x before b/y whichever came first).
  local function expand(fields)
    local out = {}
    for _, f in ipairs(fields) do
      if f.name == ".config" then
        local key_order = f.order == "first" and "alpha" or f.order
        for _, k in ipairs(cfg_keys) do
          if not used[k] and not ignored[k] then out[#out + 1] = { name = k, order = key_order } end
        end
      else
        out[#out + 1] = f
      end
    end
    return out
  end
  local tfields, rfields, cfields = expand(P.table), expand(P.row), expand(P.col)
  -- residue: the fields nobody projects or ignores
  local residue = {}
  if not has_config then
    for _, k in ipairs(cfg_keys) do
      if not used[k] and not ignored[k] then residue[#residue + 1] = k end
    end
  end
  if not used[".fullname"] and not ignored[".fullname"] then residue[#residue + 1] = ".fullname" end
  if not used[".file"] and not ignored[".file"] then residue[#residue + 1] = ".file" end

  local strip_procs = used_keys.gomaxprocs
  local function fullname_of(sr)
    local nm = split_name(sr.name)
    if not next(used_keys) then return sr.name end
    local out = { nm.base }
    for _, pt in ipairs(nm.parts) do
      if not (pt.key and used_keys[pt.key]) then out[#out + 1] = pt.text end
    end
    if not strip_procs then out[#out + 1] = nm.procs end
    return concat(out)
  end
  local function field_value(fname, sr, unit)
    if fname == ".file" then return s.files[sr.file].label end
    if fname == ".fullname" then return fullname_of(sr) end
    if fname == ".name" then
      local nm = split_name(sr.name)
      return nm.base
    end
    if fname == ".unit" then return unit end
    local key = match(fname, "^/(.+)$")
    if key then
      local nm = split_name(sr.name)
      for _, pt in ipairs(nm.parts) do
        if pt.key == key then return pt.value end
      end
      if key == "gomaxprocs" and nm.procs ~= "" then return nm.procs:sub(2) end
      return ""
    end
    return sr.config.values[fname] or ""
  end

  -- the original spellings of each tidied unit, for .unit filters
  local function filter_match(e, sr, unit)
    local op = e.op
    if op == "all" then return true end
    if op == "not" then return not filter_match(e[1], sr, unit) end
    if op == "and" then return filter_match(e[1], sr, unit) and filter_match(e[2], sr, unit) end
    if op == "or" then return filter_match(e[1], sr, unit) or filter_match(e[2], sr, unit) end
    local cands
    if e.key == ".unit" then
      cands = { unit }
      for orig, c in pairs(tidy_cache) do if c[1] == unit then cands[#cands + 1] = orig end end
    else
      cands = { field_value(e.key, sr, unit) }
    end
    for _, v in ipairs(e.vals) do
      for _, cv in ipairs(cands) do
        if e.kind == "re" then
          if find(cv, v) then return true end
        elseif cv == v then return true end
      end
    end
    return false
  end

  -- observation order of every field value
  local order = {}
  local function observe(fname, v)
    local o = order[fname]
    if not o then o = { n = 0, pos = {} }; order[fname] = o end
    if not o.pos[v] then o.n = o.n + 1; o.pos[v] = o.n end
  end
  local unit_pos = {}
  for i, u in ipairs(s.units) do unit_pos[u] = i end

  -- group the measurements into tables / rows / columns / cells
  local tables, tlist = {}, {}
  local function key_of(fields, sr, unit)
    local vs = {}
    for i, f in ipairs(fields) do
      local v = field_value(f.name, sr, unit)
      if f.fixed then
        local okv = false
        for _, fv in ipairs(f.fixed) do if fv == v then okv = true end end
        if not okv then return nil end
      end
      observe(f.name, v)
      vs[i] = v
    end
    return vs
  end
  for _, sr in ipairs(s.series) do
    for _, unit in ipairs(sr.units) do
      if filter_match(P.filter, sr, unit) then
        local tk = key_of(tfields, sr, unit)
        local rk = tk and key_of(rfields, sr, unit)
        local ck = rk and key_of(cfields, sr, unit)
        if ck then
          local tkey = concat(tk, "\0") .. "\0" .. unit
          local t = tables[tkey]
          if not t then
            t = { key = tk, unit = unit, rows = {}, rowlist = {}, cols = {}, collist = {} }
            tables[tkey] = t
            tlist[#tlist + 1] = t
          end
          local rkey, ckey = concat(rk, "\0"), concat(ck, "\0")
          local row = t.rows[rkey]
          if not row then
            row = { key = rk, cells = {} }
            t.rows[rkey] = row
            t.rowlist[#t.rowlist + 1] = row
          end
          if not t.cols[ckey] then
            t.cols[ckey] = { key = ck }
            t.collist[#t.collist + 1] = t.cols[ckey]
          end
          local cell = row.cells[ckey]
          if not cell then cell = { values = {}, residues = {} }; row.cells[ckey] = cell end
          local vals = sr.values[unit]
          for i = 1, #vals do cell.values[#cell.values + 1] = vals[i] end
          local res = {}
          for i, f in ipairs(residue) do res[i] = field_value(f, sr, unit) end
          cell.residues[#cell.residues + 1] = res
        end
      end
    end
  end

  -- sort keys field by field (first-seen, alpha, num or fixed order)
  local function num_of(v)
    local n, suf = match(v, "^([-+]?[%d.]+[eE]?[-+]?%d*)(%a*)$")
    n = n and tonumber(n)
    if not n then return nil end
    local mult = { k = 1e3, M = 1e6, G = 1e9, T = 1e12, Ki = 2 ^ 10, Mi = 2 ^ 20, Gi = 2 ^ 30,
      Ti = 2 ^ 40, m = 1e-3, u = 1e-6, n = 1e-9, [""] = 1 }
    mult["\u{b5}"] = 1e-6
    return mult[suf] and n * mult[suf] or nil
  end
  local function cmp_keys(fields, ka, kb)
    for i, f in ipairs(fields) do
      local a, b = ka[i], kb[i]
      if a ~= b then
        if f.order == "alpha" then return a < b end
        if f.order == "num" then
          local na, nb = num_of(a), num_of(b)
          if na and nb and na ~= nb then return na < nb end
          if na and not nb then return true end
          if nb and not na then return false end
        end
        if f.order == "fixed" then
          local pa, pb
          for j, v in ipairs(f.fixed) do
            if v == a and not pa then pa = j end
            if v == b and not pb then pb = j end
          end
          return pa < pb
        end
        return order[f.name].pos[a] < order[f.name].pos[b]
      end
    end
    return false
  end
  sort(tlist, function(x, y)
    if cmp_keys(tfields, x.key, y.key) then return true end
    if cmp_keys(tfields, y.key, x.key) then return false end
    return unit_pos[x.unit] < unit_pos[y.unit]
  end)

  local cmp = { alpha = alpha, confidence = confidence, tables = {}, comparisons = {},
    errors = s.errors, table_fields = {}, files = s.files }
  for i, f in ipairs(tfields) do cmp.table_fields[i] = f.name end

  for _, t in ipairs(tlist) do
    sort(t.rowlist, function(x, y) return cmp_keys(rfields, x.key, y.key) end)
    sort(t.collist, function(x, y) return cmp_keys(cfields, x.key, y.key) end)
    local meta = s.unit_meta[t.unit]
    local assume = (meta and meta.assume == "exact") and "exact" or "nothing"
    local out = { unit = t.unit, assume = assume, config = {}, columns = {}, rows = {},
      col_keys = {}, higher_is_better = higher_is_better(t.unit, meta) }
    for i, f in ipairs(tfields) do out.config[i] = { key = f.name, value = t.key[i] } end
    for j, c in ipairs(t.collist) do
      out.columns[j] = concat(c.key, " ")
      out.col_keys[j] = c.key
    end
    for _, r in ipairs(t.rowlist) do
      local row = { name = concat(r.key, " "), cells = {}, comparisons = {} }
      for j, c in ipairs(t.collist) do
        local raw = r.cells[concat(c.key, "\0")]
        if raw then
          local cell = summarize(raw.values, assume, confidence)
          -- residue: did the pooled results differ in an unprojected field?
          local vary = {}
          for fi, fname in ipairs(residue) do
            local first = raw.residues[1][fi]
            for _, rs in ipairs(raw.residues) do
              if rs[fi] ~= first then vary[#vary + 1] = fname; break end
            end
          end
          if #vary > 0 then
            table.insert(cell.warnings, 1, "benchmarks vary in " .. concat(vary, ", "))
          end
          cell.range = range_text(cell)
          row.cells[j] = cell
        end
      end
      local base = row.cells[1]
      if base then
        for j = 2, #t.collist do
          local cell = row.cells[j]
          if cell then
            local c = compare_cells(base, cell, assume, alpha)
            row.comparisons[j] = c
            cmp.comparisons[#cmp.comparisons + 1] = {
              config = out.config, unit = t.unit, name = row.name, base = out.columns[1],
              label = out.columns[j], old = base.center, new = cell.center, delta = c.delta,
              p = c.p, significant = c.significant, text = c.text, n1 = c.n1, n2 = c.n2,
              higher_is_better = out.higher_is_better, assume = assume,
              spread_old = spread(base), spread_new = spread(cell),
            }
          end
        end
      end
      out.rows[#out.rows + 1] = row
    end
    -- geomean row (§6.4)
    local gm = { summaries = {}, ratios = {} }
    for j = 1, #t.collist do
      local xs = {}
      for _, row in ipairs(out.rows) do
        if row.cells[j] then xs[#xs + 1] = row.cells[j].center end
      end
      local entry = { warnings = {} }
      local g = stats.geomean(xs)
      if #xs == 0 or g ~= g then
        entry.warnings[1] = "summaries must be >0 to compute geomean"
      else
        entry.value = g
      end
      gm.summaries[j] = entry
      if j > 1 then
        local ratios, bad, nbase, npaired = {}, false, 0, 0
        for _, row in ipairs(out.rows) do
          local b0, c0 = row.cells[1], row.cells[j]
          if b0 then nbase = nbase + 1 end
          if b0 and c0 then
            npaired = npaired + 1
            if b0.center == c0.center then ratios[#ratios + 1] = 1
            elseif b0.center == 0 then bad = true
            else ratios[#ratios + 1] = c0.center / b0.center end
          end
        end
        -- benchstat's order: the set warning first, then why the ratio is missing
        local re = { warnings = {} }
        if npaired ~= nbase then
          re.warnings[1] = "benchmark set differs from baseline; geomeans may not be comparable"
        end
        if bad then
          re.text = "?"
        else
          local rg = stats.geomean(ratios)
          if #ratios == 0 or rg ~= rg then
            re.text = "?"
            re.warnings[#re.warnings + 1] = "ratios must be >0 to compute geomean"
          else
            re.ratio = rg
            re.text = fmt("%+.2f%%", (rg - 1) * 100)
          end
        end
        gm.ratios[j] = re
      end
    end
    out.geomean = gm
    cmp.tables[#cmp.tables + 1] = out
  end
  return setmetatable(cmp, { __name = "pgo.bench.comparison" })
end

-- ==== text layout (§6.2) ===============================================================

-- A table of cells {col, span, value, margin, align} per row; widths computed as the
-- reference's text table does, then printed without trailing padding.
local function layout(rows, ncols, shrink)
  local mw, width = {}, {}
  for c = 0, ncols - 1 do mw[c] = 0; width[c] = 0 end
  for _, row in ipairs(rows) do
    for _, cell in ipairs(row) do
      local m = ulen(cell.margin)
      if m > mw[cell.col] then mw[cell.col] = m end
    end
  end
  local spans = {}
  for _, row in ipairs(rows) do
    for _, cell in ipairs(row) do
      local l = ulen(cell.value)
      if cell.span == 1 then
        local w = l + mw[cell.col]
        if w > width[cell.col] then width[cell.col] = w end
      else
        spans[#spans + 1] = cell
      end
    end
  end
  for i, c in ipairs(spans) do c._seq = i end
  sort(spans, function(a, b)
    if a.span ~= b.span then return a.span < b.span end
    return a._seq < b._seq
  end)
  for _, cell in ipairs(spans) do
    local need = ulen(cell.value) + mw[cell.col]
    local have = 0
    for c = cell.col, cell.col + cell.span - 1 do have = have + width[c] end
    if have < need then
      local cols = {}
      for c = cell.col, cell.col + cell.span - 1 do
        if shrink[c] then need = need - width[c] else cols[#cols + 1] = c end
      end
      sort(cols, function(a, b)
        if width[a] ~= width[b] then return width[a] > width[b] end
        return a < b
      end)
      for i, c in ipairs(cols) do
        local left = #cols - i + 1
        local share = need > 0 and math.ceil(need / left) or 0
        if share > width[c] then width[c] = share end
        need = need - width[c]
      end
    end
  end
  local start = {}
  local acc = 0
  for c = 0, ncols - 1 do start[c] = acc; acc = acc + width[c] end
  local lines = {}
  for _, row in ipairs(rows) do
    local out, pos = {}, 0
    for _, cell in ipairs(row) do
      if not (cell.value == "" and not find(cell.margin, "%S")) then
        -- The reference pads with Go's %*s: a cell that overran its columns (a span over
        -- shrink columns only, such as "vs base" in a table with no pair) pushes the next
        -- one right by the overrun too, as a negative width pads on the other side.
        local st = start[cell.col]
        if st ~= pos then out[#out + 1] = rep(" ", math.abs(st - pos)); pos = st end
        local m = mw[cell.col]
        local margin = rep(" ", m - ulen(cell.margin)) .. cell.margin
        local total = 0
        for c = cell.col, cell.col + cell.span - 1 do total = total + width[c] end
        local inner = total - m
        local l = ulen(cell.value)
        local v = cell.value
        if cell.align == "right" then
          if inner > l then v = rep(" ", inner - l) .. v end
        elseif cell.align == "center" then   -- Go's division truncates toward zero
          local pad = inner - l >= 0 and (inner - l) // 2 or -((l - inner) // 2)
          v = rep(" ", math.abs(pad)) .. v
        end
        out[#out + 1] = margin .. v
        pos = pos + m + ulen(v)
      end
    end
    lines[#lines + 1] = concat(out)
  end
  return lines
end

local function cell(col, value, align, margin, span)
  if margin == nil then
    margin = (col == 0 or value == "") and "" or " "
  end
  return { col = col, value = value, align = align or "left", margin = margin, span = span or 1 }
end

-- Footnote numbering for one table.
local function footnotes()
  local list, index = {}, {}
  local fn = {}
  function fn.marks(ws)
    local out = {}
    for _, w in ipairs(ws) do
      if not index[w] then list[#list + 1] = w; index[w] = #list end
      out[#out + 1] = superscript(index[w])
    end
    return concat(out, " ")
  end
  function fn.lines()
    local out = {}
    for i, w in ipairs(list) do out[i] = superscript(i) .. " " .. w end
    return out
  end
  return fn
end

local function concat_lists(a, b)
  local out = {}
  for _, v in ipairs(a or {}) do out[#out + 1] = v end
  for _, v in ipairs(b or {}) do out[#out + 1] = v end
  return out
end

-- The "key: value" lines printed before a table whose configuration changed.
local function config_lines(t, prev)
  local out = {}
  for i, kv in ipairs(t.config) do
    local pv = prev and prev.config[i] and prev.config[i].value
    if (not prev or pv ~= kv.value) and kv.value ~= "" then
      out[#out + 1] = kv.key .. ": " .. kv.value
    end
  end
  return out
end

local function text_table(t)
  local E = #t.columns
  local ncols = 1 + 3 + (E - 1) * 6 + 1
  local border = ncols - 1
  local function c0(e) return e == 1 and 1 or 4 + (e - 2) * 6 end
  local shrink = {}
  for e = 1, E do
    local first = c0(e)
    local last = e == 1 and first + 2 or first + 5
    for c = first + 1, last do shrink[c] = true end
  end
  local rows = {}
  local nlevels = #(t.col_keys[1] or {})
  if nlevels == 0 then nlevels = 1 end
  for lvl = 1, nlevels do
    local r = {}
    for e = 1, E do
      local v = t.col_keys[e] and t.col_keys[e][lvl] or t.columns[e]
      r[#r + 1] = cell(c0(e), v, "center", " \u{2502} ", e == 1 and 3 or 6)
    end
    r[#r + 1] = cell(border, "", "left", " \u{2502}")
    rows[#rows + 1] = r
  end
  local ur = {}
  for e = 1, E do
    ur[#ur + 1] = cell(c0(e), t.unit, "center", " \u{2502} ", 3)
    if e > 1 then ur[#ur + 1] = cell(c0(e) + 3, "vs base", "left", "  ", 3) end
  end
  ur[#ur + 1] = cell(border, "", "left", " \u{2502}")
  rows[#rows + 1] = ur
  local fn = footnotes()
  local binary = unit_is_binary(t.unit)
  for _, row in ipairs(t.rows) do
    local centers = {}
    for e = 1, E do if row.cells[e] then centers[#centers + 1] = row.cells[e].center end end
    local sc = make_scaler(centers, binary)
    local r = { cell(0, row.name, "left") }
    for e = 1, E do
      local c = row.cells[e]
      local b = c0(e)
      if c then
        r[#r + 1] = cell(b, scale_fmt(sc, c.center), "right")
        r[#r + 1] = cell(b + 1, c.range, "right", " \u{b1} ")
        r[#r + 1] = cell(b + 2, fn.marks(c.warnings), "left")
      end
      local cm = row.comparisons[e]
      if cm then
        r[#r + 1] = cell(b + 3, cm.text, "right")
        r[#r + 1] = cell(b + 4, "(" .. cm.pvalue_text .. ")", "left")
        r[#r + 1] = cell(b + 5, fn.marks(cm.warnings), "left")
      end
    end
    rows[#rows + 1] = r
  end
  if #t.rows > 1 then
    local r = { cell(0, "geomean", "left") }
    for e = 1, E do
      local b = c0(e)
      local s = t.geomean.summaries[e]
      if s.value then
        local sc = make_scaler({ s.value }, binary)
        r[#r + 1] = cell(b, scale_fmt(sc, s.value), "right")
      end
      if e == 1 then
        r[#r + 1] = cell(b + 2, fn.marks(s.warnings), "left")
      else
        local ra = t.geomean.ratios[e]
        r[#r + 1] = cell(b + 3, ra.text, "right")
        -- benchstat marks the ratio's footnotes before the geomean's own
        r[#r + 1] = cell(b + 5, fn.marks(concat_lists(ra.warnings, s.warnings)), "left")
      end
    end
    rows[#rows + 1] = r
  end
  local lines = layout(rows, ncols, shrink)
  for _, l in ipairs(fn.lines()) do lines[#lines + 1] = l end
  return lines
end

local function report_text(cmp)
  local out = {}
  local prev
  for i, t in ipairs(cmp.tables) do
    if i > 1 then out[#out + 1] = "" end
    for _, l in ipairs(config_lines(t, prev)) do out[#out + 1] = l end
    for _, l in ipairs(text_table(t)) do out[#out + 1] = l end
    prev = t
  end
  if #out == 0 then return "" end
  return concat(out, "\n") .. "\n"
end

-- ==== CSV (§6.3) =======================================================================

local function csv_field(f)
  if f == "" then return f end
  if f == "\\." or find(f, '[,"\r\n]') or find(f, "^%s") or find(f, "^\u{a0}") or
      find(f, "^\u{85}") then
    return '"' .. f:gsub('"', '""') .. '"'
  end
  return f
end

local function col_letters(i)   -- 0-based
  local s = ""
  i = i + 1
  while i > 0 do
    local r = (i - 1) % 26
    s = string.char(65 + r) .. s
    i = (i - 1) // 26
  end
  return s
end

local function report_csv(cmp)
  local recs, warns = {}, {}
  local function add(fields) recs[#recs + 1] = fields end
  local function warn(col, ws)
    for _, w in ipairs(ws) do
      warns[#warns + 1] = col_letters(col) .. (#recs) .. ": " .. w
    end
  end
  local prev
  for i, t in ipairs(cmp.tables) do
    if i > 1 then add({ "" }) end
    for _, l in ipairs(config_lines(t, prev)) do add({ l }) end
    local E = #t.columns
    local function c0(e) return e == 1 and 1 or 3 + (e - 2) * 4 end
    local nf = 1 + 2 + (E - 1) * 4
    local nlevels = #(t.col_keys[1] or {})
    if nlevels == 0 then nlevels = 1 end
    for lvl = 1, nlevels do
      local r = {}
      for k = 1, nf do r[k] = "" end
      for e = 1, E do
        r[c0(e) + 1] = t.col_keys[e] and t.col_keys[e][lvl] or t.columns[e]
      end
      add(r)
    end
    local ur = { "", t.unit, "CI" }
    for _ = 2, E do
      ur[#ur + 1] = t.unit; ur[#ur + 1] = "CI"; ur[#ur + 1] = "vs base"; ur[#ur + 1] = "P"
    end
    add(ur)
    for _, row in ipairs(t.rows) do
      local r = { row.name }
      for k = 2, nf do r[k] = "" end
      local pending = {}
      for e = 1, E do
        local c = row.cells[e]
        local b = c0(e)
        if c then
          r[b + 1] = gofloat(c.center)
          r[b + 2] = c.range
          pending[#pending + 1] = { b, c.warnings }
        end
        local cm = row.comparisons[e]
        if cm then
          r[b + 3] = cm.text
          r[b + 4] = cm.pvalue_text
          pending[#pending + 1] = { b + 2, cm.warnings }
        end
      end
      add(r)
      for _, pw in ipairs(pending) do warn(pw[1], pw[2]) end
    end
    local r = { "geomean" }
    for k = 2, nf do r[k] = "" end
    local pending = {}
    for e = 1, E do
      local b = c0(e)
      local s = t.geomean.summaries[e]
      if s.value then r[b + 1] = gofloat(s.value) end
      pending[#pending + 1] = { b, s.warnings }
      if e > 1 then
        local ra = t.geomean.ratios[e]
        r[b + 3] = ra.text
        pending[#pending + 1] = { b + 2, ra.warnings }
      end
    end
    add(r)
    for _, pw in ipairs(pending) do warn(pw[1], pw[2]) end
    prev = t
  end
  local lines = {}
  for i, r in ipairs(recs) do
    local fs = {}
    for k, f in ipairs(r) do fs[k] = csv_field(f) end
    lines[i] = concat(fs, ",")
  end
  local text = #lines > 0 and (concat(lines, "\n") .. "\n") or ""
  local wtext = #warns > 0 and (concat(warns, "\n") .. "\n") or ""
  return text, wtext
end

-- ==== markdown and JSON ================================================================


local function report_markdown(cmp)
  local out = {}
  local prev
  for i, t in ipairs(cmp.tables) do
    if i > 1 then out[#out + 1] = "" end
    local cl = config_lines(t, prev)
    if #cl > 0 then
      local parts = {}
      for _, l in ipairs(cl) do parts[#parts + 1] = markdown.code(l) end
      out[#out + 1] = concat(parts, " ")
      out[#out + 1] = ""
    end
    local fn = footnotes()
    local binary = unit_is_binary(t.unit)
    local hdr, sep = { "" }, { "---" }
    for e, label in ipairs(t.columns) do
      hdr[#hdr + 1] = markdown.text(label) .. " " .. markdown.text(t.unit)
      sep[#sep + 1] = "---:"
      if e > 1 then
        hdr[#hdr + 1] = "vs base"; sep[#sep + 1] = "---:"
        hdr[#hdr + 1] = "P"; sep[#sep + 1] = "---"
      end
    end
    out[#out + 1] = "| " .. concat(hdr, " | ") .. " |"
    out[#out + 1] = "|" .. concat(sep, "|") .. "|"
    for _, row in ipairs(t.rows) do
      local centers = {}
      for e = 1, #t.columns do if row.cells[e] then centers[#centers + 1] = row.cells[e].center end end
      local sc = make_scaler(centers, binary)
      local r = { markdown.code(row.name, true) }
      for e = 1, #t.columns do
        local c = row.cells[e]
        if c then
          local m = fn.marks(c.warnings)
          r[#r + 1] = scale_fmt(sc, c.center) .. " \u{b1} " .. c.range .. (m ~= "" and " " .. m or "")
        else
          r[#r + 1] = ""
        end
        if e > 1 then
          local cm = row.comparisons[e]
          if cm then
            local m = fn.marks(cm.warnings)
            local txt = cm.text
            if cm.significant and cm.text ~= "0.00%" and cm.text ~= "?" then txt = "**" .. txt .. "**" end
            r[#r + 1] = txt .. (m ~= "" and " " .. m or "")
            r[#r + 1] = cm.pvalue_text
          else
            r[#r + 1] = ""; r[#r + 1] = ""
          end
        end
      end
      out[#out + 1] = "| " .. concat(r, " | ") .. " |"
    end
    if #t.rows > 1 then
      local r = { "geomean" }
      for e = 1, #t.columns do
        local s = t.geomean.summaries[e]
        local m = fn.marks(s.warnings)
        r[#r + 1] = (s.value and scale_fmt(make_scaler({ s.value }, binary), s.value) or "") ..
          (m ~= "" and " " .. m or "")
        if e > 1 then
          local ra = t.geomean.ratios[e]
          local m2 = fn.marks(ra.warnings)
          r[#r + 1] = ra.text .. (m2 ~= "" and " " .. m2 or "")
          r[#r + 1] = ""
        end
      end
      out[#out + 1] = "| " .. concat(r, " | ") .. " |"
    end
    local notes = fn.lines()
    if #notes > 0 then
      out[#out + 1] = ""
      for _, l in ipairs(notes) do out[#out + 1] = l .. "  " end
    end
    prev = t
  end
  if #out == 0 then return "" end
  return concat(out, "\n") .. "\n"
end

local function finite(x)
  if x == nil or x ~= x or x == huge or x == -huge then return nil end
  return x
end

-- What a non-finite sample value becomes in M.data (JSON null when encoding).
M.null = setmetatable({}, { __name = "pgo.bench.null", __tostring = function() return "null" end })

--- The comparison as plain data (what the JSON report encodes): numbers unscaled, in
-- the tidied units; infinite bounds are absent (nil); non-finite samples are M.null.
function M.data(cmp)
  local d = { alpha = cmp.alpha, confidence = cmp.confidence, tables = {}, errors = cmp.errors }
  for _, t in ipairs(cmp.tables) do
    local dt = { unit = t.unit, assume = t.assume, columns = t.columns, config = {}, rows = {},
      higher_is_better = t.higher_is_better }
    for _, kv in ipairs(t.config) do dt.config[#dt.config + 1] = { key = kv.key, value = kv.value } end
    for _, row in ipairs(t.rows) do
      local dr = { name = row.name, cells = {} }
      for e, label in ipairs(t.columns) do
        local c = row.cells[e]
        if c then
          local vals = {}
          for i, v in ipairs(c.values) do vals[i] = finite(v) or M.null end
          local dc = { column = label, n = c.n, center = finite(c.center), lo = finite(c.lo),
            hi = finite(c.hi), range = c.range, values = vals, warnings = c.warnings }
          local cm = row.comparisons[e]
          if cm then
            dc.comparison = { p = cm.p, delta = finite(cm.delta), text = cm.text,
              significant = cm.significant, n1 = cm.n1, n2 = cm.n2, u = cm.u,
              warnings = cm.warnings }
          end
          dr.cells[#dr.cells + 1] = dc
        end
      end
      dt.rows[#dt.rows + 1] = dr
    end
    dt.geomean = {}
    for e, label in ipairs(t.columns) do
      local s = t.geomean.summaries[e]
      local g = { column = label, value = finite(s.value), warnings = s.warnings }
      local ra = t.geomean.ratios[e]
      if ra then
        g.ratio = finite(ra.ratio); g.text = ra.text
        for _, w in ipairs(ra.warnings) do g.warnings[#g.warnings + 1] = w end
      end
      dt.geomean[#dt.geomean + 1] = g
    end
    d.tables[#d.tables + 1] = dt
  end
  return d
end

-- JSON through pgo.json: empty tables under these list-valued field names are arrays;
-- numbers use Go's shortest float text.
local json_lists = { warnings = true, rows = true, errors = true, config = true, cells = true,
  tables = true, values = true, geomean = true, columns = true }

local function report_json(cmp)
  return require("pgo.json").encode(M.data(cmp), { float = gofloat, arrays = json_lists,
    null = M.null }) .. "\n"
end

--- Format a comparison. opts.format: "text" (benchstat, byte for byte), "csv"
-- (benchstat -format csv), "markdown", "json".
-- @treturn string the report
-- @treturn string warnings: for csv, benchstat's stderr lines ("B6: ..."); else ""
function M.report(cmp, opts)
  if type(cmp) ~= "table" or not cmp.tables then
    argerror(1, "report", "comparison expected, got " .. type(cmp))
  end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(2, "report", "table expected, got " .. type(opts)) end
  local format = opts.format or "text"
  if format == "text" then return report_text(cmp), "" end
  if format == "csv" then return report_csv(cmp) end
  if format == "markdown" then return report_markdown(cmp), "" end
  if format == "json" then return report_json(cmp), "" end
  argerror(2, "report", "format must be text, csv, markdown or json")
end

-- ==== U test and the CI gate ===========================================================

--- Mann-Whitney U test of x against y (two-sided), as benchstat computes it.
-- @treturn[1] number U (the statistic of x), number p
-- @treturn[2] nil, message, code ("all_equal", "too_small")
function M.utest(x, y)
  if type(x) ~= "table" then argerror(1, "utest", "table expected, got " .. type(x)) end
  if type(y) ~= "table" then argerror(2, "utest", "table expected, got " .. type(y)) end
  for i, v in ipairs(x) do
    if type(v) ~= "number" then argerror(1, "utest", "number expected at index " .. i) end
  end
  for i, v in ipairs(y) do
    if type(v) ~= "number" then argerror(2, "utest", "number expected at index " .. i) end
  end
  return stats.utest(x, y)
end

--- The CI gate: not ok when a benchmark got worse by more than `threshold` (a fraction:
-- 0.05 = 5%) with p < alpha. "Worse" follows the unit: higher sec/op, B/op, allocs/op;
-- lower for higher-is-better units (B/s from MB/s, any unit ending in "/s", or unit
-- metadata better=higher). Values under `assume=exact` (p = 0) always count as significant.
-- @treturn boolean ok
-- @treturn table failures: { {name=, unit=, config=, base=, label=, old=, new=, delta=,
--   delta_pct=, p=, message=} }
function M.gate(cmp, opts)
  if type(cmp) ~= "table" or not cmp.comparisons then
    argerror(1, "gate", "comparison expected, got " .. type(cmp))
  end
  opts = opts or {}
  local threshold = opts.threshold or 0.05
  local alpha = opts.alpha or cmp.alpha or 0.05
  if type(threshold) ~= "number" or threshold < 0 then
    argerror(2, "gate", "threshold must be a number >= 0")
  end
  local failures = {}
  for _, c in ipairs(cmp.comparisons) do
    if c.delta and (c.p < alpha or (c.assume == "exact")) then
      local worse = c.higher_is_better and -c.delta or c.delta
      if worse > threshold then
        local cfg = {}
        for _, kv in ipairs(c.config) do
          if kv.value ~= "" then cfg[#cfg + 1] = kv.key .. "=" .. kv.value end
        end
        local where = #cfg > 0 and (" [" .. concat(cfg, " ") .. "]") or ""
        failures[#failures + 1] = {
          name = c.name, unit = c.unit, config = c.config, base = c.base, label = c.label,
          old = c.old, new = c.new, delta = c.delta, delta_pct = c.delta * 100, p = c.p,
          message = ("%s%s %s: %+.2f%% (%s vs %s, p=%.3f) is worse than the %.2f%% threshold")
            :format(c.name, where, c.unit, c.delta * 100, c.label, c.base, c.p, threshold * 100),
        }
      end
    end
  end
  return #failures == 0, failures
end

return M
