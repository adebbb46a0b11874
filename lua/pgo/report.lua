-- pgo.report: pprof's text reports, reproduced byte for byte, and their JSON form.
--
--   report.top(p, opts)       -> text, warnings   (`go tool pprof -top`)
--   report.top_data(p, opts)  -> data, warnings   (header facts, header lines, rows)
--   report.top_json(p, opts)  -> json, warnings   (data as JSON, via lua-cjson)
--   report.tags(p, opts)      -> text, warnings   (`go tool pprof -tags`)
--   report.tabwrite(lines)    -> lines            (Go's text/tabwriter, right-aligned)
--   report.time(ns, layout)   -> "Nov 21, 2026 at 9:32am (UTC)" (local time: TZ)
--   report.terminal_text(s)   -> s with control characters shown as \x1b-style escapes
--
-- opts of top/top_data/top_json (all optional):
--   n or nodecount  rows to keep (pprof -nodecount; 0 or absent = all, like `-top`)
--   cum             sort by cum (pprof -cum)
--   sample_index    value column: 1-based integer, or pprof's name ("samples", "cpu")
--   granularity     "functions" (default), "filefunctions", "files", "lines", "addresses"
--   noinlines       attribute inlined frames to their physical function (-noinlines)
--   nodefraction, edgefraction, trim   pprof's trimming knobs (0.005, 0.001, true)
--   focus, ignore, hide, show, show_from, prune_from   regexps over function names,
--                   file names and mapping files, matched unanchored. They are POSIX
--                   extended regular expressions, not Go's RE2: \d \s \w and a leading
--                   (?i) are translated; other RE2-only syntax (\b, \pL, (?s), \Q..\E,
--                   escapes inside [...]) is not, so such patterns fail or differ.
--   tagfocus, tagignore   "key=regexp[,regexp]", "regexp" (matched against "key:value"),
--                   or numeric ranges "key=4kb", "key=1kb:", "key=:64kb", "key=1kb:4kb"
--   tagshow, taghide      regexps over label keys (remove keys, keep samples)
--   pprof           the layout of which pprof to reproduce: "go1.23" (Go 1.23 and older),
--                   "go1.24" (ISO time, old -tags) or "head" (Go 1.25 and newer, and
--                   google/pprof HEAD: ISO time, the new -tags layout). Default:
--                   report.default_layout(), the layout of the newest Go installed.
--   format          "text" (default) or "json" (report.top then returns top_json's JSON)
-- warnings: what pprof prints on stderr, e.g. "TagFocus expression matched no samples".
--
-- -tags layouts: Go 1.23 and 1.24 print "key: Total 31.9s" and per value "16.1s
-- (50.42%): /fast" with "%.1f" numbers and shares of the key's total; Go 1.25 and pprof
-- HEAD (since 2025-02) print "key: Total 4.64s of 5.07s (91.52%)" and per value "3.09s
-- (60.95%): a", shares of the profile's total. Both go through Go's text/tabwriter.
-- Header time: "Jan 2, 2006 at 3:04pm (MST)" up to Go 1.23, "2006-01-02 15:04:05 MST" from
-- Go 1.24 (the vendored pprof of each release, checked by spec/matrix with each Go).
--
-- Times are printed in UTC (pprof uses the local time zone; the oracles were made in UTC).
local units = require "pgo.units"

local M = {}

local filter_keys = { "focus", "ignore", "hide", "show", "show_from", "tagfocus",
  "tagignore", "tagshow", "taghide", "prune_from" }
-- the order of pprof's "Active filters:" legend (prune_from is not listed)
local legend_keys = { "focus", "ignore", "hide", "show", "show_from", "tagfocus",
  "tagignore", "tagshow", "taghide" }
local top_keys = { "n", "nodecount", "cum", "sample_index", "granularity", "noinlines",
  "nodefraction", "edgefraction", "trim" }
local report_keys = { pprof = true, format = true }

local known = {}
for _, k in ipairs(filter_keys) do known[k] = true end
for _, k in ipairs(top_keys) do known[k] = true end
for k in pairs(report_keys) do known[k] = true end

-- Errors are the caller's mistakes (a bad option, a bad regexp): the public functions
-- below run their body through `public`, which re-raises at the caller's line.
local options = require "pgo.options"
local function one_of(...)
  local allowed = { ... }
  return function(v)
    for _, a in ipairs(allowed) do if v == a then return true end end
    return false, '"' .. table.concat(allowed, '" or "') .. '"'
  end
end
local KNOWN = {}
for k in pairs(known) do KNOWN[k] = "any" end   -- checked by the profile methods they reach
KNOWN.pprof, KNOWN.format = one_of("go1.23", "go1.24", "head"), one_of("text", "json")
local function check_opts(fname, opts)
  return options.check(fname, 2, opts, KNOWN, 0)   -- level 0: `public` adds the position
end

local function check_profile(fname, p)
  local ok = type(p) == "userdata" and (getmetatable(p) or {}).__name == "pgo.profile"
  if not ok then
    error(("bad argument #1 to '%s' (pgo.profile expected, got %s)"):format(fname, type(p)), 0)
  end
end

local function public(impl)
  return function(...)
    local r = table.pack(pcall(impl, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local msg = r[2]
    if type(msg) == "string" then msg = msg:gsub("^[^\n]-report%.lua:%d+: ", "", 1) end
    error(msg, 2)
  end
end

-- Call a profile method with options taken from the report's opts (argument #2 of the
-- report function fname): its "bad argument #1 to 'top'" becomes "#2 to 'fname'".
local function method(fname, name, p, opts)
  local r = table.pack(pcall(p[name], p, opts))
  if r[1] then return table.unpack(r, 2, r.n) end
  local msg = tostring(r[2]):gsub("^[^\n]-report%.lua:%d+: ", "", 1)
  msg = msg:gsub("^bad argument #1 to '[%w_]+'", "bad argument #2 to '" .. fname .. "'", 1)
  error(msg, 0)
end

-- ---- small formatting helpers ----------------------------------------------------------

-- Go's filepath.Base.
local function basename(path)
  if path == "" then return "." end
  path = path:gsub("/+$", "")
  if path == "" then return "/" end
  return path:match("([^/]*)$")
end
M.basename = basename

local months = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
  "Nov", "Dec" }

--- Format a time in nanoseconds since the epoch in the local time zone (TZ, as Go's
-- time.Local: unset = /etc/localtime, "" = UTC), with pprof's header layout:
-- "go1.23" = "Jan 2, 2006 at 3:04pm (MST)", "go1.24" and "head" = "2006-01-02 15:04:05 MST";
-- no layout: M.default_layout().
function M.time(ns, layout)
  layout = layout or M.default_layout()
  local secs = ns // 1000000000
  local t = os.date("*t", secs)
  local zone = os.date("%Z", secs)
  if layout ~= "go1.23" then
    return string.format("%04d-%02d-%02d %02d:%02d:%02d %s", t.year, t.month, t.day,
      t.hour, t.min, t.sec, zone)
  end
  local h = t.hour % 12
  if h == 0 then h = 12 end
  return string.format("%s %d, %d at %d:%02d%s (%s)", months[t.month], t.day, t.year, h,
    t.min, t.hour < 12 and "am" or "pm", zone)
end

-- ---- which layout by default: the newest Go installed ------------------------------------

--- The layout of the pprof vendored in a Go release ("go1.26.8", "go1.25rc1"): "go1.23"
-- up to 1.23, "go1.24" for 1.24, "head" from 1.25. nil when version is not a Go release.
function M.layout_for_go(version)
  local minor = type(version) == "string" and tonumber(version:match("^go1%.(%d+)"))
  if not minor then return nil end
  if minor <= 23 then return "go1.23" end
  if minor == 24 then return "go1.24" end
  return "head"
end

-- "go1.26.8" -> 26, 8 ("go1.25rc1" -> 25, -1: a release candidate comes before .0)
local function go_release(version)
  local minor, rest = version:match("^go1%.(%d+)(%S*)")
  if not minor then return nil end
  local patch = tonumber(rest:match("^%.(%d+)$") or (rest == "" and 0) or -1)
  return tonumber(minor), patch
end

local function read_go_version(root)
  local f = io.open(root .. "/VERSION", "rb")
  if not f then return nil end
  local line = f:read("l"); f:close()
  return line and go_release(line) and line:match("^(go1%.[%w.]+)")
end

M.GO_ROOTS = { "/usr/local/go", "/usr/lib/go" }   -- go.dev's tarball, Debian's golang-go

--- The newest Go release installed: the VERSION file of each Go root among opts.goroot
-- (default $GOROOT), the root of every `go` on opts.path (default $PATH; symbolic links
-- followed, as Debian's /usr/bin/go) and opts.roots (default M.GO_ROOTS). Reads files
-- only, runs nothing. Returns version ("go1.26.8"), root; or nil when no Go is found.
function M.newest_go(opts)
  opts = opts or {}
  local fs = require "pgo.fs"
  local roots = {}
  local goroot = opts.goroot or os.getenv("GOROOT")
  if goroot and goroot ~= "" then roots[#roots + 1] = goroot end
  for dir in (opts.path or os.getenv("PATH") or ""):gmatch("[^:]+") do
    local go = fs.realpath(dir .. "/go")
    if go then roots[#roots + 1] = fs.dirname(fs.dirname(go)) end
  end
  for _, r in ipairs(opts.roots or M.GO_ROOTS) do roots[#roots + 1] = r end
  local best, best_root, bm, bp
  for _, root in ipairs(roots) do
    local v = read_go_version(root)
    if v then
      local m, p = go_release(v)
      if not best or m > bm or (m == bm and p > bp) then best, best_root, bm, bp = v, root, m, p end
    end
  end
  return best, best_root
end

local default_layout
--- The layout used when opts.pprof is absent: $PGOLUA_PPROF_LAYOUT when set, else the
-- layout of M.newest_go(), else "head" (no Go found: today's pprof). Found once per
-- process. A PGOLUA_PPROF_LAYOUT that names no layout raises.
function M.default_layout()
  if default_layout then return default_layout end
  local env = os.getenv("PGOLUA_PPROF_LAYOUT")
  if env and env ~= "" then
    local ok, want = KNOWN.pprof(env)
    if not ok then
      error(("PGOLUA_PPROF_LAYOUT is %q: set it to %s, or unset it to follow the newest Go"
        .. " installed"):format(env, want), 2)
    end
    default_layout = env
  else
    default_layout = M.layout_for_go(M.newest_go()) or "head"
  end
  return default_layout
end

local function escape_byte(c) return ("\\x%02x"):format(c:byte()) end

--- s made safe to print on a terminal. A profile is outside data: a function name, label
-- or comment holding ESC sequences could move the cursor, rewrite earlier lines, retitle
-- the window or hide text. C0 control characters (tab and line breaks included: a name
-- never leaves its line or column), DEL and bytes that are not valid UTF-8 become \xHH;
-- the C1 controls U+0080..U+009F and the bidirectional overrides U+202A..U+202E,
-- U+2066..U+2069 become \uHHHH. Anything else is unchanged, so ordinary names print
-- byte for byte as pprof prints them.
function M.terminal_text(s)
  s = tostring(s)
  if not s:find("[%z\1-\31\127-\255]") then return s end   -- printable ASCII
  if not utf8.len(s) then
    local out, i = {}, 1
    while i <= #s do
      local ok, bad = utf8.len(s, i)
      if ok then out[#out + 1] = s:sub(i) break end
      out[#out + 1] = s:sub(i, bad - 1) .. escape_byte(s:sub(bad, bad))
      i = bad + 1
    end
    s = table.concat(out)
  end
  s = s:gsub("[%z\1-\31\127]", escape_byte)
  s = s:gsub("\194[\128-\159]", function(c) return ("\\u%04x"):format(c:byte(2)) end)
  s = s:gsub("\226\128[\170-\174]", function(c) return ("\\u%04x"):format(utf8.codepoint(c)) end)
  s = s:gsub("\226\129[\166-\169]", function(c) return ("\\u%04x"):format(utf8.codepoint(c)) end)
  return s
end
local terminal_text = M.terminal_text

-- Truncate toward zero (Go's int64(float64)).
local function trunc(x)
  local r = x >= 0 and math.floor(x) or math.ceil(x)
  return math.tointeger(r) or r
end

-- Number of UTF-8 characters (Go's text/tabwriter measures cells in runes).
local function runes(s)
  local n = utf8.len(s)
  return n or #s
end

--- Go's text/tabwriter with minwidth 0, tabwidth 0, padding 1, padchar ' ' and
-- AlignRight: cells end at tabs; each column block (consecutive lines with a cell in that
-- column) is right-aligned to its widest cell + 1; the text after a line's last tab is
-- written as is. Takes and returns an array of lines (no newlines).
function M.tabwrite(lines)
  local cells = {}
  for i, l in ipairs(lines) do
    local t = {}
    for seg in (l .. "\t"):gmatch("(.-)\t") do t[#t + 1] = seg end
    cells[i] = t
  end
  local out, widths = {}, {}
  local function write_lines(l0, l1)
    for i = l0, l1 - 1 do
      local line, parts = cells[i], {}
      for j, c in ipairs(line) do
        if j < #line and widths[j] then
          parts[#parts + 1] = string.rep(" ", widths[j] - runes(c))
        end
        parts[#parts + 1] = c
      end
      out[#out + 1] = table.concat(parts)
    end
  end
  local function format(l0, l1)
    local column = #widths + 1
    local this = l0
    while this < l1 do
      if column < #cells[this] then           -- this line has a cell in the column
        write_lines(l0, this)
        l0 = this
        local width = 0
        while this < l1 and column < #cells[this] do
          local w = runes(cells[this][column]) + 1
          if w > width then width = w end
          this = this + 1
        end
        widths[#widths + 1] = width
        format(l0, this)
        widths[#widths] = nil
        l0 = this
      end
      this = this + 1
    end
    write_lines(l0, l1)
  end
  format(1, #cells + 1)
  return out
end

-- ---- top --------------------------------------------------------------------------------

-- pprof's selectOutputUnit: one unit for every number of the report.
local function output_unit(rows, total, sample_unit)
  if #rows == 0 then return "minimum" end
  local min = 0
  for _, r in ipairs(rows) do
    local v = math.abs(r.flat)
    if v == 0 then v = math.abs(r.cum) end
    if v > 0 and (min == 0 or v < min) then min = v end
  end
  local max = total
  if min == 0 then min = max end
  local _, umin = units.scale(min, sample_unit, "minimum")
  local _, umax = units.scale(max, sample_unit, "minimum")
  local unit = umin
  if umin ~= umax and min * 100 < max then
    _, unit = units.scale(100 * min, sample_unit, "minimum")
  end
  if unit == "" then unit = sample_unit end
  return unit
end

--- The top report as data: header facts, the header lines pprof prints, and the rows
-- with their formatted columns. See the module comment for opts.
-- @treturn table {lines = {header lines}, rows = {p:top rows plus flat_text, cum_text,
--   flat_pct_text, sum_pct_text, cum_pct_text, suffix}, total, unit (the report's unit,
--   "" for counts), sample_type, sample_unit, sample_index, file, build_id, time, time_ns,
--   duration_ns, shown, dropped_nodes, node_cutoff, node_count, nodecount, granularity,
--   cum, active_filters}
-- @treturn table warnings (strings)
local function top_data_impl(p, opts, fname)
  fname = fname or "top_data"
  check_profile(fname, p)
  opts = check_opts(fname, opts)
  local layout = opts.pprof or M.default_layout()
  local info = p:info()

  local topts = {}
  for _, k in ipairs(top_keys) do topts[k] = opts[k] end
  local fopts, filtered = {}, false
  for _, k in ipairs(filter_keys) do
    if opts[k] ~= nil and opts[k] ~= "" then fopts[k] = opts[k]; filtered = true end
  end

  -- the total comes from the whole profile, before any filter (pprof's default)
  topts.total = method(fname, "total", p, { sample_index = opts.sample_index })
  local q, warnings = p, {}
  if filtered then q, warnings = method(fname, "filter", p, fopts) end
  local rows, t, code = method(fname, "top", q, topts)
  if q ~= p then q:close() end
  if not rows then return nil, t, code end   -- outside data: no sample types

  local unit = output_unit(rows, t.total, t.sample_unit)
  local function fmt(v) return units.scaled_label(v, t.sample_unit, unit) end

  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  if t.file and t.file ~= "" then add("File: " .. basename(t.file)) end
  if t.build_id and t.build_id ~= "" then add("Build ID: " .. t.build_id) end
  for _, c in ipairs(info.comments) do
    if c:sub(1, 1) ~= "#" then add(c) end
  end
  add("Type: " .. t.sample_type)
  local time
  if info.time_ns ~= 0 then
    time = M.time(info.time_ns, layout)
    add("Time: " .. time)
  end
  if info.duration_ns ~= 0 then
    local ratio = ""
    local tn, tu = units.scale(t.total, t.sample_unit, "nanoseconds")
    if tu == "ns" and tn ~= 0 then
      ratio = "(" .. units.percentage(trunc(tn), info.duration_ns) .. ")"
    end
    add(("Duration: %s, Total samples = %s %s"):format(
      units.label(info.duration_ns, "nanoseconds"), fmt(t.total), ratio))
  end
  local active = {}
  for _, k in ipairs(legend_keys) do
    local v = opts[k]
    if v ~= nil and v ~= "" then
      local s = k .. "=" .. v
      if #s > 80 then s = s:sub(1, 80) .. "\u{2026}" end
      active[#active + 1] = s
    end
  end
  if #active > 0 then
    add("Active filters:")
    for _, s in ipairs(active) do add("   " .. s) end
  end
  local shown = 0
  for _, r in ipairs(rows) do shown = shown + r.flat end
  add(("Showing nodes accounting for %s, %s of %s total"):format(fmt(shown),
    units.percentage(shown, t.total):match("^%s*(.-)%s*$"), fmt(t.total)))
  if t.total ~= 0 then
    local cut = math.abs(trunc(t.total * t.nodefraction))
    if t.dropped_nodes > 0 then
      add(("Dropped %d %s (cum <= %s)"):format(t.dropped_nodes,
        t.dropped_nodes > 1 and "nodes" or "node", fmt(cut)))
    end
    if #rows > 0 and #rows < t.node_count then
      add(("Showing top %d nodes out of %d"):format(#rows, t.node_count))
    end
  end

  local sum = 0
  for _, r in ipairs(rows) do
    sum = sum + r.flat
    r.flat_text = fmt(r.flat)
    r.cum_text = fmt(r.cum)
    r.flat_pct_text = units.percentage(r.flat, t.total)
    r.sum_pct_text = units.percentage(sum, t.total)
    r.cum_pct_text = units.percentage(r.cum, t.total)
    r.suffix = r.inline and "(inline)" or r.partial_inline and "(partial-inline)" or nil
  end

  return {
    lines = lines, rows = rows, total = t.total, unit = unit == "minimum" and "" or unit,
    sample_type = t.sample_type, sample_unit = t.sample_unit, sample_index = t.sample_index,
    file = t.file, build_id = t.build_id, time_ns = info.time_ns, time = time,
    duration_ns = info.duration_ns, shown = shown, dropped_nodes = t.dropped_nodes,
    node_cutoff = t.node_cutoff, node_count = t.node_count, nodecount = t.nodecount,
    granularity = t.granularity, cum = t.cum, active_filters = active,
  }, warnings
end

local top_json_impl

--- `go tool pprof -top` text (every line ends with a newline); with format = "json",
-- the JSON of top_json.
-- @treturn string text
-- @treturn table warnings
local function top_impl(p, opts)
  if type(opts) == "table" and opts.format == "json" then
    return top_json_impl(p, opts, "top")
  end
  local d, warnings, code = top_data_impl(p, opts, "top")
  if not d then return nil, warnings, code end
  local out = {}
  -- header lines carry the profile's file name, build id and comments: outside text
  for _, l in ipairs(d.lines) do out[#out + 1] = terminal_text(l) .. "\n" end
  out[#out + 1] = ("%10s %5s%% %5s%% %10s %5s%%\n"):format("flat", "flat", "sum", "cum", "cum")
  for _, r in ipairs(d.rows) do
    out[#out + 1] = ("%10s %s %s %10s %s  %s%s\n"):format(r.flat_text, r.flat_pct_text,
      r.sum_pct_text, r.cum_text, r.cum_pct_text, terminal_text(r.name),
      r.suffix and " " .. r.suffix or "")
  end
  return table.concat(out), warnings
end

-- ---- JSON ------------------------------------------------------------------------------

local json = require "pgo.json"
local array = json.array
local json_encode = json.encode

--- The top report as JSON: {"header": {...}, "lines": [...], "rows": [...],
-- "warnings": [...]}; rows carry raw values (in the sample unit) and formatted ones.
function top_json_impl(p, opts, fname)
  local d, warnings, code = top_data_impl(p, opts, fname or "top_json")
  if not d then return nil, warnings, code end
  local rows = {}
  for i, r in ipairs(d.rows) do
    rows[i] = {
      name = r.name, flat = r.flat, flat_pct = r.flat_pct, sum_pct = r.sum_pct, cum = r.cum,
      cum_pct = r.cum_pct, inline = r.inline, partial_inline = r.partial_inline,
      flat_text = r.flat_text, cum_text = r.cum_text,
    }
  end
  local doc = {
    header = {
      file = d.file and basename(d.file) or nil, build_id = d.build_id ~= "" and d.build_id or nil,
      type = d.sample_type, sample_unit = d.sample_unit, unit = d.unit, total = d.total,
      time = d.time, time_ns = d.time_ns, duration_ns = d.duration_ns, shown = d.shown,
      dropped_nodes = d.dropped_nodes, node_cutoff = d.node_cutoff, node_count = d.node_count,
      nodecount = d.nodecount, granularity = d.granularity, cum = d.cum,
      active_filters = array(d.active_filters),
    },
    lines = array(d.lines),
    rows = array(rows),
    warnings = array(warnings),
  }
  return json_encode(doc), warnings
end

-- ---- tags ------------------------------------------------------------------------------

--- `go tool pprof -tags` text. opts: sample_index, pprof (a layout, see top), and the
-- filters of top (applied first, as pprof applies them).
local function tags_impl(p, opts)
  check_profile("tags", p)
  opts = check_opts("tags", opts)
  local layout = opts.pprof or M.default_layout()
  local total, _, sample_unit = method("tags", "total", p, { sample_index = opts.sample_index })
  sample_unit = sample_unit or ""
  local fopts, filtered = {}, false
  for _, k in ipairs(filter_keys) do
    if opts[k] ~= nil and opts[k] ~= "" then fopts[k] = opts[k]; filtered = true end
  end
  local q, warnings = p, {}
  if filtered then q, warnings = method("tags", "filter", p, fopts) end
  local tags, keys = method("tags", "tags", q, { sample_index = opts.sample_index })
  if q ~= p then q:close() end

  local lines = {}
  for _, raw_key in ipairs(keys) do
    local vals, tag_total = tags[raw_key], 0
    -- label keys and values are outside text; escaped, a tab cannot break the columns
    local key = terminal_text(raw_key)
    for _, v in ipairs(vals) do tag_total = tag_total + v.total end
    if layout == "head" then
      if total ~= 0 then
        lines[#lines + 1] = ("%s:\t Total %s of %s (%s)"):format(key,
          units.label(tag_total, sample_unit), units.label(total, sample_unit),
          units.percentage(tag_total, total))
      else
        lines[#lines + 1] = ("%s:\t Total %s"):format(key, units.label(tag_total, sample_unit))
      end
      for _, v in ipairs(vals) do
        if total ~= 0 then
          lines[#lines + 1] = (" \t%s (%s):\t %s"):format(units.label(v.total, sample_unit),
            units.percentage(v.total, total), terminal_text(v.value))
        else
          lines[#lines + 1] = (" \t%s:\t %s"):format(units.label(v.total, sample_unit),
            terminal_text(v.value))
        end
      end
    else
      local f, u = units.scale(tag_total, sample_unit, "minimum")
      lines[#lines + 1] = ("%s:\t Total %.1f%s"):format(key, f, u)
      for _, v in ipairs(vals) do
        f, u = units.scale(v.total, sample_unit, "minimum")
        if tag_total > 0 then
          lines[#lines + 1] = (" \t%.1f%s (%s):\t %s"):format(f, u,
            units.percentage(v.total, tag_total), terminal_text(v.value))
        else
          lines[#lines + 1] = (" \t%.1f%s:\t %s"):format(f, u, terminal_text(v.value))
        end
      end
    end
    lines[#lines + 1] = ""
  end
  local out = M.tabwrite(lines)
  if #out == 0 then return "", warnings end
  return table.concat(out, "\n") .. "\n", warnings
end

--- pgo.report.flamegraph(p, path [, opts]): pgo.flame.write, for who looks for it here.
function M.flamegraph(p, path, opts) return require("pgo.flame").write(p, path, opts) end

M.top_data = public(top_data_impl)
M.top = public(top_impl)
M.top_json = public(top_json_impl)
M.tags = public(tags_impl)

return M
