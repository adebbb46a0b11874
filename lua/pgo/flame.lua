-- pgo.flame: flame graphs of a profile, written by pgolua itself.
--
--   pgo.flame.folded(p [, opts])       -> "root;caller;leaf 123\n..." (flamegraph.pl and
--                                         speedscope's "folded stacks" input)
--   pgo.flame.svg(p [, opts])          -> SVG text
--   pgo.flame.write(p, path [, opts])  -> true | nil, message, code (SVG file, atomic)
--
-- Common option: sample_index (a sample type name such as "samples" or "cpu", or a 1-based
-- index into p:info().sample_types; default: the default sample type, as pprof).
-- Frames are function names, root first; inlined calls are expanded into their own
-- frames (the caller first). Samples whose value is zero or negative are left out: a
-- flame graph shows where positive cost goes (for a diff, use pgo.diff_table).
local edit = require "pgo.edit"
local fsys = require "pgo.fsys"
local units = require "pgo.units"

local M = {}

local function check_profile(p, fname)
  if type(p) ~= "userdata" or type(p.samples) ~= "function" then
    error(string.format("bad argument #1 to '%s' (pgo.profile expected, got %s)", fname,
      type(p)), 3)
  end
end

local function check_opts(opts, fname, n)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("bad argument #%d to '%s' (table expected, got %s)", n, fname,
      type(opts)), 3)
  end
  return opts or {}
end

-- Visit every sample with a positive value: fn(stack_root_first, value).
local function each_stack(p, col, fn)
  for values, stack in p:samples() do
    local v = values[col]
    if v > 0 then
      local n = #stack
      local rooted = {}
      for i = 1, n do rooted[i] = stack[n - i + 1] end
      fn(rooted, v)
    end
  end
end

--- Folded stacks: one line per distinct stack, "root;...;leaf value", lines sorted by
-- byte order so equal profiles give equal text. ';' inside a name becomes ':' and line
-- breaks become spaces (the format has no escaping). Samples with an empty stack are
-- left out.
function M.folded(p, opts)
  check_profile(p, "folded")
  opts = check_opts(opts, "folded", 2)
  local col = edit.column(p, opts.sample_index, "folded")
  local sums, keys = {}, {}
  each_stack(p, col, function(stack, v)
    if #stack == 0 then return end
    local parts = {}
    for i, name in ipairs(stack) do parts[i] = name:gsub(";", ":"):gsub("[\r\n]", " ") end
    local k = table.concat(parts, ";")
    if not sums[k] then keys[#keys + 1] = k; sums[k] = 0 end
    sums[k] = sums[k] + v
  end)
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = k .. " " .. string.format("%d", sums[k]) .. "\n" end
  return table.concat(out)
end

-- {===================================================================================
-- SVG

-- Text that is safe inside XML: valid UTF-8 (bad bytes become U+FFFD), no control
-- characters XML 1.0 forbids, and the five markup characters escaped.
local escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
  ["'"] = "&#39;" }
local function xml_text(s)
  if not utf8.len(s) then
    local out, i = {}, 1
    while i <= #s do
      local ok, bad = utf8.len(s, i)
      if ok then out[#out + 1] = s:sub(i); break end
      out[#out + 1] = s:sub(i, bad - 1) .. "\u{FFFD}"
      i = bad + 1
    end
    s = table.concat(out)
  end
  s = s:gsub("[%z\1-\8\11\12\14-\31]", "?")
  s = s:gsub("\239\191[\190\191]", "?")          -- U+FFFE, U+FFFF: not XML characters
  return (s:gsub("[&<>\"']", escapes))
end
M.xml_text = xml_text

-- A deterministic warm colour from the name (flamegraph.pl's "hot" palette).
local function colour(name)
  local h = 2166136261
  for i = 1, #name do h = ((h ~ name:byte(i)) * 16777619) & 0xffffffff end
  local r = 205 + h % 50
  local g = (h >> 8) % 230
  local b = (h >> 16) % 55
  return string.format("rgb(%d,%d,%d)", r, g, b)
end

-- The first `n` characters of s (UTF-8 aware).
local function utf8_prefix(s, n)
  local cut = utf8.offset(s, n + 1)
  return cut and s:sub(1, cut - 1) or s
end

-- The call tree: node = {name, value (cum), self, children = {name = node}}.
local function build_tree(p, col)
  local root = { name = "all", value = 0, self = 0, children = {} }
  local depth = 0
  each_stack(p, col, function(stack, v)
    local node = root
    root.value = root.value + v
    for _, name in ipairs(stack) do
      local c = node.children[name]
      if not c then
        c = { name = name, value = 0, self = 0, children = {} }
        node.children[name] = c
      end
      c.value = c.value + v
      node = c
    end
    node.self = node.self + v
    if #stack > depth then depth = #stack end
  end)
  return root, depth
end

local function sorted_children(node)
  local list = {}
  for _, c in pairs(node.children) do list[#list + 1] = c end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- An SVG flame graph (root at the bottom, callees above their callers; siblings in name
-- order, as flamegraph.pl draws them). Widths are proportional to cum.
-- opts: sample_index; width (px, default 1200); frame_height (16); font_size (12);
-- min_width (px, default 0.1: narrower frames and their callees are not drawn);
-- title (default "<kind> flame graph"). Every frame is a <g class="frame"> holding a
-- <title> (hover text: name, cum value and percent, self value), a <rect> and, when it
-- fits, a <text> label truncated with "..". Every profile string is XML-escaped.
function M.svg(p, opts)
  check_profile(p, "svg")
  opts = check_opts(opts, "svg", 2)
  local col, st, info = edit.column(p, opts.sample_index, "svg")
  local width = opts.width or 1200
  local fh = opts.frame_height or 16
  local fs = opts.font_size or 12
  local min_width = opts.min_width or 0.1
  local pad = 10
  local top = 60                      -- title, subtitle
  local root, depth = build_tree(p, col)
  local height = top + (depth + 1) * fh + pad + 20
  local unit = st and st.unit or ""
  local function fmt(v) return units.scaled(v, unit) end
  local total = root.value
  local function pct(v)
    if total == 0 then return "0%" end
    return string.format("%.2f%%", v * 100 / total)
  end
  local charw = fs * 0.59
  local scale = total > 0 and (width - 2 * pad) / total or 0

  local out = {}
  local function emit(s) out[#out + 1] = s end
  emit('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')
  emit(string.format('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d"'
    .. ' height="%d" viewBox="0 0 %d %d">\n', width, height, width, height))
  emit('<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">'
    .. '<stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/>'
    .. '</linearGradient></defs>\n')
  emit(string.format('<style type="text/css">text{font-family:Verdana,sans-serif;'
    .. 'font-size:%dpx;fill:#000}.title{font-size:17px;text-anchor:middle}'
    .. '.sub{text-anchor:middle;fill:#333}.frame rect{stroke:#eeeeee;stroke-width:0.5}'
    .. '.frame:hover rect{stroke:#000;stroke-width:1}</style>\n', fs))
  emit(string.format('<rect x="0" y="0" width="%d" height="%d" fill="url(#background)"/>\n',
    width, height))
  local title = opts.title or ((info.kind or "profile") .. " flame graph")
  emit(string.format('<text class="title" x="%.1f" y="24">%s</text>\n', width / 2,
    xml_text(title)))
  local sub = string.format("%s/%s, duration %s, total %s", st and st.type or "?", unit,
    units.scaled(info.duration_ns or 0, "nanoseconds"), fmt(total))
  emit(string.format('<text class="sub" x="%.1f" y="44">%s</text>\n', width / 2,
    xml_text(sub)))

  local nframes = 0
  local function draw(node, x, level)
    local w = node.value * scale
    if w < min_width then return end
    nframes = nframes + 1
    local y = height - pad - 20 - (level + 1) * fh
    local name = xml_text(node.name)
    emit('<g class="frame"><title>')
    emit(string.format("%s (%s, %s; self %s)", name, fmt(node.value), pct(node.value),
      fmt(node.self)))
    emit(string.format('</title><rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2"'
      .. ' ry="2" fill="%s"/>', x, y, w, fh - 1, colour(node.name)))
    local maxc = math.floor((w - 6) / charw)
    if maxc >= 3 then
      local label = node.name
      if utf8.len(label) and utf8.len(label) > maxc then
        label = utf8_prefix(label, maxc - 2) .. ".."
      elseif not utf8.len(label) and #label > maxc then
        label = label:sub(1, maxc - 2) .. ".."
      end
      emit(string.format('<text x="%.2f" y="%.1f">%s</text>', x + 3, y + fh - 4.5,
        xml_text(label)))
    end
    emit("</g>\n")
    local cx = x
    for _, c in ipairs(sorted_children(node)) do
      draw(c, cx, level + 1)
      cx = cx + c.value * scale
    end
  end
  if total > 0 then draw(root, pad, 0) end
  emit(string.format('<text x="%d" y="%d" style="fill:#666">%d frames; hover a frame for'
    .. ' its values. Written by pgolua.</text>\n', pad, height - 8, nframes))
  emit("</svg>\n")
  return table.concat(out), nframes
end

--- Write the SVG flame graph to path: a new temporary file beside it (pgo.fs.tempfile:
-- O_EXCL, mode 0600, so a file or symbolic link planted at a predictable name is never
-- written through), then renamed over path (the mode of an existing path is kept, a new
-- one gets 0666 minus the umask).
-- @treturn[1] true
-- @treturn[2] nil, message, code ("io", whatever the cause: the documented contract)
function M.write(p, path, opts)
  check_profile(p, "write")
  if type(path) ~= "string" then
    error("bad argument #2 to 'write' (string expected, got " .. type(path) .. ")", 2)
  end
  local svg = M.svg(p, opts)
  local tmp, f = fsys.tempfile(fsys.dirname(path), "pgolua-flame")
  if not tmp then return nil, f, "io" end
  local ok, werr = f:write(svg)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    return nil, tostring(werr or cerr), "io"
  end
  local rok, rerr = fsys.replace(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr, "io"
  end
  return true
end

-- pgo.report.flamegraph(p, path, opts): the same as write, for callers who look for it in
-- the report module. Installed when pgo.report is loadable and lacks it.
do
  local ok, report = pcall(require, "pgo.report")
  if ok and type(report) == "table" and report.flamegraph == nil then
    report.flamegraph = M.write
  end
end

return M
