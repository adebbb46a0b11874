--- pgo.symbols_binary: Go binaries for PGO release engineering: their function tables,
-- their build info (what `go version -m` prints), and the size cost of PGO (bloat).
--
-- The C module pgo.core.symbols (src/lua/symbols.c over src/symbols/) reads the ELF file;
-- this file checks arguments and adds the parts that are policy or formatting. Functions
-- that read a file return `value` or `nil, message, code`; codes: those of file reading
-- ("not_found", "permission", "is_directory", "too_large", "io"), "not_elf" (not an ELF
-- file), "not_go" (an ELF file not built by Go, or a Go binary without build info),
-- "invalid" (a damaged ELF header, pclntab or build info; the message gives the offset or
-- line). Wrong argument types raise.
--
-- Re-exported as pgo.symbols.binary, pgo.buildinfo and pgo.audit.bloat.
local core = require "pgo.core.symbols"

local M = {}

local function check_arg(fname, i, v, want, optional)
  if (optional and v == nil) or type(v) == want then return end
  error(string.format("bad argument #%d to '%s' (%s expected, got %s)", i, fname, want,
    v == nil and "no value" or type(v)), 3)
end

--- The functions of a Go ELF binary.
-- opts.source = "auto" (default: the ELF .symtab when present, else the pclntab) or
-- "pclntab"; opts.max_size = the largest file to read (default 1 GiB).
-- @treturn[1] table {
--   functions = { {name=, entry=, size=}, ... } sorted by entry. Names are spelled as in
--     profiles (the pclntab spelling: no ".abi0", "·" in local type names). From .symtab
--     the size is the symbol's; from the pclntab it is next entry - entry (so it includes
--     the alignment padding after the function).
--   source = "symtab" | "pclntab", stripped = no .symtab, go_version = "go1.23.5" (nil
--   without build info), arch = "amd64" (GOARCH spelling), pclntab = "go1.20" (layout:
--   "go1.2", "go1.16", "go1.18", "go1.20"), pie = bool, file_size, text_size (.text),
--   func_bytes (sum of sizes), sections = { {name=, size=, file_size=, addr=, offset=}, ... } }
-- @treturn[2] nil, message, code
function M.binary(path, opts)
  check_arg("binary", 1, path, "string")
  check_arg("binary", 2, opts, "table", true)
  return core.binary(path, opts)
end

--- binary() over the bytes of a file already in memory.
function M.decode_binary(bytes, opts)
  check_arg("decode_binary", 1, bytes, "string")
  check_arg("decode_binary", 2, opts, "table", true)
  return core.decode_binary(bytes, opts)
end

--- The build info of a Go binary, as `go version -m` shows it.
-- @treturn[1] table {
--   go_version = "go1.23.5", path = main package path ("" when none),
--   main = {path=, version=, sum=} (nil when absent),
--   deps = { {path=, version=, sum=, replace = {path=, version=, sum=} | nil}, ... },
--   settings = { ["-pgo"] = "shop.steady.pgo", CGO_ENABLED = "1", GOARCH = "amd64", ... }
--     (unquoted values, keyed by name), settings_list = { {key=, value=}, ... } (in
--   order), modinfo = the raw module-info text }
-- @treturn[2] nil, message, code ("not_go" for a non-Go ELF file or a Go binary
--   without build info)
function M.buildinfo(path, opts)
  check_arg("buildinfo", 1, path, "string")
  check_arg("buildinfo", 2, opts, "table", true)
  return core.buildinfo(path, opts)
end

--- buildinfo() over the bytes of a file already in memory.
function M.decode_buildinfo(bytes, opts)
  check_arg("decode_buildinfo", 1, bytes, "string")
  check_arg("decode_buildinfo", 2, opts, "table", true)
  return core.decode_buildinfo(bytes, opts)
end

-- {=====================================================================================
-- `go version -m` text

-- Is code point r printable in Go's sense (strconv.IsPrint)? Exact for ASCII and for
-- the separators, controls, format characters and private-use ranges listed here;
-- unassigned code points count as printable (Go escapes them).
local unprintable = {
  {0x80, 0xa0}, {0xad, 0xad}, {0x600, 0x605}, {0x61c, 0x61c}, {0x6dd, 0x6dd},
  {0x70f, 0x70f}, {0x1680, 0x1680}, {0x180e, 0x180e}, {0x2000, 0x200f}, {0x2028, 0x202f},
  {0x205f, 0x2064}, {0x2066, 0x206f}, {0x3000, 0x3000}, {0xd800, 0xf8ff}, {0xfdd0, 0xfdef},
  {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0xe0000, 0xe007f}, {0xf0000, 0x10ffff},
}
local function printable(r)
  if r < 0x80 then return r >= 0x20 and r < 0x7f end
  if r & 0xfffe == 0xfffe then return false end
  for _, rg in ipairs(unprintable) do
    if r >= rg[1] and r <= rg[2] then return false end
  end
  return true
end

local simple_escapes = {
  [7] = "\\a", [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t",
  [11] = "\\v", [34] = '\\"', [92] = "\\\\",
}

--- Go's strconv.Quote: s as a double-quoted Go string literal.
function M.go_quote(s)
  check_arg("go_quote", 1, s, "string")
  local out, i, n = { '"' }, 1, #s
  while i <= n do
    local ok, r = pcall(utf8.codepoint, s, i)
    local len = ok and #utf8.char(r) or 1
    -- utf8.codepoint accepts surrogates and overlong forms only in lax mode; strict is default
    if not ok then
      out[#out + 1] = string.format("\\x%02x", s:byte(i))
    elseif simple_escapes[r] then
      out[#out + 1] = simple_escapes[r]
    elseif printable(r) then
      out[#out + 1] = s:sub(i, i + len - 1)
    elseif r < 0x20 or r == 0x7f then
      out[#out + 1] = string.format("\\x%02x", r)
    elseif r < 0x10000 then
      out[#out + 1] = string.format("\\u%04x", r)
    else
      out[#out + 1] = string.format("\\U%08x", r)
    end
    i = i + len
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

local function needs_quote(s, key)
  if key and s == "" then return true end
  return s:find(key and "[= \t\r\n\"`]" or "[ \t\r\n\"`]") ~= nil
end

-- The module lines of m, as Go's BuildInfo.String writes them (a replaced module's
-- line has no sum and is followed by its "=>" line and an empty line).
local function format_module(lines, word, m)
  if m.replace then
    lines[#lines + 1] = word .. "\t" .. m.path .. "\t" .. m.version
    format_module(lines, "=>", m.replace)
    lines[#lines + 1] = ""
  else
    lines[#lines + 1] = word .. "\t" .. m.path .. "\t" .. m.version .. "\t" .. (m.sum or "")
  end
end

--- The text `go version -m NAME` prints for a binary with this build info, byte for
-- byte: "NAME: go1.23.5\n" then every module-info line with a leading tab.
function M.format_version_m(info, name)
  check_arg("format_version_m", 1, info, "table")
  check_arg("format_version_m", 2, name, "string")
  local lines = {}
  if info.path and info.path ~= "" then lines[#lines + 1] = "path\t" .. info.path end
  local main = info.main
  if main and (main.path ~= "" or main.version ~= "" or (main.sum or "") ~= ""
      or main.replace) then
    format_module(lines, "mod", main)
  end
  for _, d in ipairs(info.deps or {}) do format_module(lines, "dep", d) end
  for _, st in ipairs(info.settings_list or {}) do
    local k, v = st.key, st.value
    if needs_quote(k, true) then k = M.go_quote(k) end
    if needs_quote(v, false) then v = M.go_quote(v) end
    lines[#lines + 1] = "build\t" .. k .. "=" .. v
  end
  local out = { name .. ": " .. (info.go_version or "") .. "\n" }
  if #lines > 0 then out[2] = "\t" .. table.concat(lines, "\n\t") .. "\n" end
  return table.concat(out)
end

--- Parse the output of `go version -m FILE...` into build-info tables (the shape of
-- buildinfo(), plus `file`), one per binary, in order. Raises on a line it cannot place;
-- returns nil, message, "invalid" for a malformed module-info line.
function M.parse_version_m(text)
  check_arg("parse_version_m", 1, text, "string")
  local infos, cur = {}, nil
  local function finish()
    if not cur then return true end
    local info, msg, code = core.parse_modinfo(table.concat(cur.lines), cur.go_version)
    if not info then return nil, cur.file .. ": " .. msg, code end
    info.file = cur.file
    infos[#infos + 1] = info
    return true
  end
  for line in text:gmatch("([^\n]*)\n") do
    if line:sub(1, 1) == "\t" then
      if not cur then error("parse_version_m: module-info line before a file line", 2) end
      cur.lines[#cur.lines + 1] = line:sub(2) .. "\n"
    elseif line ~= "" then
      local ok, msg, code = finish()
      if not ok then return nil, msg, code end
      local file, vers = line:match("^(.-): (.*)$")
      if not file then error("parse_version_m: unexpected line: " .. line, 2) end
      cur = { file = file, go_version = vers, lines = {} }
    end
  end
  local ok, msg, code = finish()
  if not ok then return nil, msg, code end
  return infos
end

-- {=====================================================================================
-- Bloat

--- The package path of a function name as the linker spells it:
-- "example.com/shop/internal/cache.(*MemCache).Get" -> "example.com/shop/internal/cache",
-- "main.main.func1" -> "main", "type:.eq.main.T" -> "type:". nil when there is no ".".
function M.package_of(name)
  local head = name:match("^[^%[]*")          -- generic arguments may hold "/" and "."
  local slash = head:match(".*()/") or 0
  local dot = head:find(".", slash + 1, true)
  if not dot then return nil end
  return name:sub(1, dot - 1)
end

local function pct(before, after)
  if before == 0 then return after == 0 and 0 or math.huge end
  return (after - before) * 100 / before
end

local function change(before, after)
  return { before = before, after = after, delta = after - before, pct = pct(before, after) }
end

-- Sizes by name (duplicated names, like ABI wrappers, add up).
local function by_name(bin)
  local t = {}
  for _, f in ipairs(bin.functions) do
    local e = t[f.name]
    if e then e.size = e.size + f.size; e.count = e.count + 1
    else t[f.name] = { size = f.size, count = 1 } end
  end
  return t
end

local function load_pair(a, b, opts)
  local pa, pb = nil, nil
  if type(a) == "string" then
    pa = a
    local bin, msg, code = M.binary(a, { source = opts.source })
    if not bin then return nil, msg, code end
    a = bin
  end
  if type(b) == "string" then
    pb = b
    local bin, msg, code = M.binary(b, { source = opts.source })
    if not bin then return nil, msg, code end
    b = bin
  end
  -- Function sizes from .symtab and from the pclntab differ by the padding between
  -- functions: compare like with like.
  if a.source ~= b.source then
    if a.source == "symtab" and pa then
      a = assert(M.binary(pa, { source = "pclntab" }))
    elseif b.source == "symtab" and pb then
      b = assert(M.binary(pb, { source = "pclntab" }))
    end
  end
  return a, b, pa, pb
end

local function side(bin, path)
  local s = {
    path = path, file_size = bin.file_size, text_size = bin.text_size,
    func_bytes = bin.func_bytes, functions = #bin.functions, source = bin.source,
    go_version = bin.go_version, stripped = bin.stripped,
  }
  if path then
    local bi = M.buildinfo(path)
    if bi then s.pgo = bi.settings["-pgo"] or false end
  end
  return s
end

local function sort_by(list, key, desc)
  table.sort(list, function(x, y)
    local kx, ky = x[key], y[key]
    if kx ~= ky then if desc then return kx > ky end return kx < ky end
    return x.name < y.name
  end)
end

local function head(list, n)
  local out = {}
  for i = 1, math.min(n, #list) do out[i] = list[i] end
  return out
end

--- Compare the sizes of two builds of the same program, typically without and with PGO.
-- a, b: paths, or tables from binary(). opts: top = rows in each list (default 10),
-- band = {low, high} percent (default {1, 3}), metric = "file" (default), "text" or
-- "functions": which growth the verdict judges; source = as in binary().
-- @treturn[1] table {
--   a = {path=, file_size=, text_size=, func_bytes=, functions=, source=, go_version=,
--        stripped=, pgo= (the -pgo setting, false when none, nil when unknown)}, b = {...},
--   file = {before=, after=, delta=, pct=}, text = {...}, functions = {...} (function
--     bytes), count = {...} (number of functions),
--   growers = { {name=, before=, after=, delta=, pct=}, ... } (largest growth first, at
--     most top), shrinkers = {...} (largest shrink first), changed = number of
--     functions present in both whose size changed,
--   added = { {name=, size=}, ... } (largest first, at most top), added_count,
--     added_bytes; removed, removed_count, removed_bytes likewise,
--   packages = { {name=, before=, after=, delta=, pct=}, ... } (by absolute change),
--   sections = { {name=, before=, after=, delta=}, ... } (file bytes, changed ones),
--   growth_pct = the judged percent, metric =, band = {low, high},
--   verdict = "inside" | "below" | "above" | "shrank", in_band = bool,
--   summary = one line for people, notes = { strings } (caveats) }
-- @treturn[2] nil, message, code (from reading a or b)
function M.bloat(a, b, opts)
  if type(a) ~= "string" and type(a) ~= "table" then
    error("bad argument #1 to 'bloat' (string or table expected, got " .. type(a) .. ")", 2)
  end
  if type(b) ~= "string" and type(b) ~= "table" then
    error("bad argument #2 to 'bloat' (string or table expected, got " .. type(b) .. ")", 2)
  end
  check_arg("bloat", 3, opts, "table", true)
  opts = opts or {}
  local top = opts.top or 10
  local band = opts.band or { 1, 3 }
  local metric = opts.metric or "file"
  if metric ~= "file" and metric ~= "text" and metric ~= "functions" then
    error("bloat: opts.metric must be \"file\", \"text\" or \"functions\"", 2)
  end
  local pa, pb
  a, b, pa, pb = load_pair(a, b, opts)
  if not a then return nil, b, pa end

  local r = {
    a = side(a, pa), b = side(b, pb),
    file = change(a.file_size, b.file_size),
    text = change(a.text_size, b.text_size),
    functions = change(a.func_bytes, b.func_bytes),
    count = change(#a.functions, #b.functions),
    band = { band[1], band[2] }, metric = metric, notes = {},
  }
  local fa, fb = by_name(a), by_name(b)
  local changed, added, removed = {}, {}, {}
  local added_bytes, removed_bytes = 0, 0
  local pkgs = {}
  local function pkg(name)
    local p = M.package_of(name) or "(none)"
    local e = pkgs[p]
    if not e then e = { name = p, before = 0, after = 0 }; pkgs[p] = e end
    return e
  end
  for name, x in pairs(fa) do
    local y = fb[name]
    pkg(name).before = pkg(name).before + x.size
    if y then
      if y.size ~= x.size then
        local c = change(x.size, y.size)
        c.name = name
        changed[#changed + 1] = c
      end
    else
      removed[#removed + 1] = { name = name, size = x.size }
      removed_bytes = removed_bytes + x.size
    end
  end
  for name, y in pairs(fb) do
    pkg(name).after = pkg(name).after + y.size
    if not fa[name] then
      added[#added + 1] = { name = name, size = y.size }
      added_bytes = added_bytes + y.size
    end
  end
  local growers, shrinkers = {}, {}
  for _, c in ipairs(changed) do
    if c.delta > 0 then growers[#growers + 1] = c else shrinkers[#shrinkers + 1] = c end
  end
  sort_by(growers, "delta", true)
  sort_by(shrinkers, "delta", false)
  sort_by(added, "size", true)
  sort_by(removed, "size", true)
  r.growers, r.shrinkers, r.changed = head(growers, top), head(shrinkers, top), #changed
  r.added, r.added_count, r.added_bytes = head(added, top), #added, added_bytes
  r.removed, r.removed_count, r.removed_bytes = head(removed, top), #removed, removed_bytes

  local plist = {}
  for _, e in pairs(pkgs) do
    if e.after ~= e.before then
      e.delta, e.pct = e.after - e.before, pct(e.before, e.after)
      plist[#plist + 1] = e
    end
  end
  table.sort(plist, function(x, y)
    if math.abs(x.delta) ~= math.abs(y.delta) then return math.abs(x.delta) > math.abs(y.delta) end
    return x.name < y.name
  end)
  r.packages = head(plist, top)

  local secs, order = {}, {}
  for _, s in ipairs(a.sections or {}) do
    if not secs[s.name] then order[#order + 1] = s.name; secs[s.name] = { name = s.name, before = 0, after = 0 } end
    secs[s.name].before = secs[s.name].before + s.file_size
  end
  for _, s in ipairs(b.sections or {}) do
    if not secs[s.name] then order[#order + 1] = s.name; secs[s.name] = { name = s.name, before = 0, after = 0 } end
    secs[s.name].after = secs[s.name].after + s.file_size
  end
  r.sections = {}
  for _, name in ipairs(order) do
    local s = secs[name]
    s.delta = s.after - s.before
    if s.delta ~= 0 then r.sections[#r.sections + 1] = s end
  end

  local judged = r[metric]
  local g = judged.pct
  r.growth_pct = g
  if g < 0 then r.verdict = "shrank"
  elseif g < band[1] then r.verdict = "below"
  elseif g <= band[2] then r.verdict = "inside"
  else r.verdict = "above" end
  r.in_band = r.verdict == "inside"
  local what = metric == "file" and "binary" or metric == "text" and ".text" or "function code"
  local words = {
    inside = "inside", below = "below", above = "above", shrank = "below",
  }
  r.summary = string.format("%s %s %.2f%% (%d -> %d bytes): %s the usual %g-%g%% band for PGO",
    what, g < 0 and "shrank" or "grew", math.abs(g), judged.before, judged.after,
    words[r.verdict], band[1], band[2])

  if a.source ~= b.source then
    r.notes[#r.notes + 1] = "function sizes come from different tables (" .. a.source .. " vs "
      .. b.source .. "); per-function changes include alignment padding on one side"
  end
  if a.go_version and b.go_version and a.go_version ~= b.go_version then
    r.notes[#r.notes + 1] = "built by different Go versions (" .. a.go_version .. " vs "
      .. b.go_version .. "): not every change is PGO's"
  end
  if a.stripped ~= b.stripped then
    r.notes[#r.notes + 1] = "one binary is stripped and the other is not: the file sizes "
      .. "differ by the symbol table and DWARF; compare text or functions (opts.metric)"
  end
  if r.a.pgo ~= nil and r.b.pgo ~= nil and r.a.pgo == r.b.pgo then
    r.notes[#r.notes + 1] = "both binaries have the same -pgo setting ("
      .. tostring(r.a.pgo or "none") .. ")"
  end
  return r
end

return M
