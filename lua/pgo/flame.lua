-- pgo.flame: flame graphs of a profile (and of the difference of two), written by pgolua.
--
--   pgo.flame.folded(p [, opts])       -> "root;caller;leaf 123\n..." (flamegraph.pl and
--                                         speedscope's "folded stacks" input)
--   pgo.flame.svg(p [, opts])          -> SVG text, frames drawn (opts.base: differential)
--   pgo.flame.write(p, path [, opts])  -> true | nil, message, code (SVG file, atomic)
--   pgo.flame.short_name(name)         -> the label: name without its import path's dirs
--
-- Common option: sample_index (a sample type name such as "samples" or "cpu", or a 1-based
-- index into p:info().sample_types; default: the default sample type, as pprof).
-- Frames are function names, root first; inlined calls are expanded into their own
-- frames (the caller first). Samples whose value is zero or negative are left out: a
-- flame graph shows where positive cost goes (opts.base compares shares of two profiles).
local edit = require "pgo.edit"
local profile = require "pgo.profile"
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

--- The label of a frame: the function name without its import path's directories
-- ("cmd/compile/internal/ssa.(*Value).copyInto" -> "ssa.(*Value).copyInto"). Slashes
-- inside generic brackets or a receiver's parentheses belong to type names and stay. The
-- page's script shortens names the same way (SCRIPT below).
function M.short_name(name)
  local head = name:match("^[^%[%(]*")
  local slash = head:match(".*()/")
  return slash and name:sub(slash + 1) or name
end

-- A deterministic warm colour from the name (flamegraph.pl's "hot" palette).
local function colour(name)
  local h = 2166136261
  for i = 1, #name do h = ((h ~ name:byte(i)) * 16777619) & 0xffffffff end
  local r = 205 + h % 50
  local g = (h >> 8) % 230
  local b = (h >> 16) % 55
  return string.format("rgb(%d,%d,%d)", r, g, b)
end

-- Differential colour: red for a larger share than in the base, blue for a smaller one,
-- saturation by sqrt(|delta| / largest |delta| drawn), so small changes still show;
-- light grey when unchanged.
local function diff_colour(delta, max_abs)
  local t = max_abs > 0 and math.sqrt(math.min(1, math.abs(delta) / max_abs)) or 0
  local c = math.floor(235 - 200 * t + 0.5)
  if delta > 0 then return string.format("rgb(255,%d,%d)", c, c) end
  if delta < 0 then return string.format("rgb(%d,%d,255)", c, c) end
  return "rgb(235,235,235)"
end

local MERGED_FILL = "rgb(190,190,190)"

-- The first `n` characters of s (UTF-8 aware; bytes when s is not UTF-8).
local function utf8_prefix(s, n)
  if not utf8.len(s) then return s:sub(1, n) end
  local cut = utf8.offset(s, n + 1)
  return cut and s:sub(1, cut - 1) or s
end

local function text_len(s) return utf8.len(s) or #s end

-- The call tree: node = {name, value (cum), self, children = {name = node}}.
local function build_tree(p, col)
  local root = { name = "all", value = 0, self = 0, children = {} }
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
  end)
  return root
end

local function sorted_children(node)
  local list = {}
  for _, c in pairs(node.children) do list[#list + 1] = c end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

-- The frames to draw: a list of {name, value, self, x (in value units from the left),
-- level (0 = root), node, other (the same path in the other tree, diff only), merged
-- (count of callees merged into this frame, or nil)}. Callees narrower than min_value
-- are merged into one frame per caller, after the others; that frame is drawn when it
-- is wide enough itself, and nothing above it is.
local function layout(root, min_value, other_root)
  local frames, depth = {}, 0
  local function visit(node, other, x, level)
    frames[#frames + 1] = { name = node.name, value = node.value, self = node.self, x = x,
      level = level, other = other }
    if level > depth then depth = level end
    local cx = x
    local small = {}
    for _, c in ipairs(sorted_children(node)) do
      if c.value >= min_value then
        visit(c, other and other.children[c.name], cx, level + 1)
        cx = cx + c.value
      else
        small[#small + 1] = c
      end
    end
    local sum = 0
    for _, c in ipairs(small) do sum = sum + c.value end
    if #small > 0 and sum >= min_value then
      table.sort(small, function(a, b) return a.value > b.value end)
      local base_value, names = 0, {}
      for i, c in ipairs(small) do
        if i <= 3 then names[i] = c.name end
        local oc = other and other.children[c.name]
        if oc then base_value = base_value + oc.value end
      end
      frames[#frames + 1] = { name = string.format("[%d merged]", #small), value = sum,
        self = 0, x = cx, level = level + 1, merged = names, merged_count = #small,
        other = other and { value = base_value, self = 0 } }
      if level + 1 > depth then depth = level + 1 end
    end
  end
  visit(root, other_root, 0, 0)
  return frames, depth
end

local DEFAULTS = { width = 1200, frame_height = 16, font_size = 12, min_width = 0.5 }
local OPTION_TYPES = { sample_index = "number|string", width = "number",
  frame_height = "number", font_size = "number", min_width = "number", title = "string",
  icicle = "boolean", base = "pgo.profile", widths = "string" }

-- Options for svg/write: unknown names and wrong types are the caller's mistake.
local function svg_opts(opts, fname, n)
  opts = check_opts(opts, fname, n)
  for k, v in pairs(opts) do
    local want = OPTION_TYPES[k]
    if k == "base" then want = type(v) end     -- checked below
    if not want then
      error(string.format("bad argument #%d to '%s' (unknown option '%s')", n, fname,
        tostring(k)), 3)
    end
    if not want:find(type(v), 1, true) then
      error(string.format("bad argument #%d to '%s' (option '%s' must be a %s, got %s)", n,
        fname, k, want:gsub("|", " or "), type(v)), 3)
    end
  end
  if opts.base ~= nil and getmetatable(opts.base) ~= profile.metatable then
    error(string.format("bad argument #%d to '%s' (option 'base' must be a pgo.profile)", n,
      fname), 3)
  end
  if opts.widths ~= nil and opts.widths ~= "new" and opts.widths ~= "base" then
    error(string.format("bad argument #%d to '%s' (option 'widths' must be \"new\" or"
      .. " \"base\")", n, fname), 3)
  end
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  return o
end

local function share_text(v, total)
  return string.format("%.2f%%", total > 0 and v * 100 / total or 0)
end

-- The hover text of a frame: for a merged one, what was merged first.
local function with_merged(f, s)
  if not f.merged then return s end
  return string.format("%d callees narrower than the threshold, merged (largest: %s); %s",
    f.merged_count, table.concat(f.merged, ", "), s)
end

-- Hover text of a plain frame: name, then cum and flat with their shares.
local function plain_info(f, fmt, total)
  return with_merged(f, string.format("cum %s (%s), flat %s (%s)", fmt(f.value),
    share_text(f.value, total), fmt(f.self), share_text(f.self, total)))
end

-- Hover text of a differential frame: shares in both profiles and the change in points.
local function diff_info(f, total, other_total, labels)
  local o = f.other or { value = 0, self = 0 }
  local function part(what, v, ov)
    local a = total > 0 and v * 100 / total or 0
    local b = other_total > 0 and ov * 100 / other_total or 0
    return string.format("%s %.2f%% (%s %.2f%%, %+.2f pts)", what, a, labels.other, b,
      labels.sign * (a - b))
  end
  return with_merged(f, part("cum", f.value, o.value) .. ", " .. part("flat", f.self, o.self))
end

local STYLE = 'text{font-family:Verdana,sans-serif;font-size:%dpx;fill:#000}'
  .. '.title{font-size:17px;text-anchor:middle}.sub{text-anchor:middle;fill:#333}'
  .. '#frames rect{stroke:#eee;stroke-width:0.5}#frames g{cursor:pointer}'
  .. '#frames g:hover rect{stroke:#000;stroke-width:1}#frames text{pointer-events:none}'
  .. '.faded{opacity:0.6}.ctl{cursor:pointer;fill:#225}.ctl:hover{text-decoration:underline}'

-- The header, pinned to the top of the window by the script: title, subtitle, the
-- controls, and a line for the hovered frame (left) and the search result (right).
local function header(g, title, sub)
  local w = g.width
  return table.concat {
    string.format('<g id="header"><rect x="0" y="0" width="%d" height="%d" fill="#f4f4ec"'
      .. ' opacity="0.95"/>\n', w, g.top - 4),
    string.format('<text class="title" x="%.1f" y="24">%s</text>\n', w / 2, xml_text(title)),
    string.format('<text class="sub" x="%.1f" y="44">%s</text>\n', w / 2, xml_text(sub)),
    string.format('<text id="reset" class="ctl" x="%d" y="24" style="display:none">'
      .. 'Reset zoom</text>\n', g.pad),
    string.format('<text id="search" class="ctl" x="%d" y="24" text-anchor="end">'
      .. 'Search</text>\n', w - g.pad),
    string.format('<text id="clear" class="ctl" x="%d" y="24" text-anchor="end"'
      .. ' style="display:none">Clear</text>\n', w - g.pad - 60),
    string.format('<text id="details" x="%d" y="62"></text>\n', g.pad),
    string.format('<text id="matched" x="%d" y="62" text-anchor="end"></text>\n</g>\n',
      w - g.pad),
  }
end

-- One frame: <g> with <title> (full name, newline, hover text), <rect>, and a label
-- when one fits.
local function frame_markup(g, f, fill, hover)
  local x, w = g.pad + f.x * g.scale, f.value * g.scale
  local y = g.icicle and (g.top + f.level * g.fh) or (g.height - g.bottom - (f.level + 1) * g.fh)
  local s = string.format('<g><title>%s\n%s</title><rect x="%.2f" y="%d" width="%.2f"'
    .. ' height="%d" fill="%s"/>', xml_text(f.name), xml_text(hover), x, y, w, g.fh - 1, fill)
  local maxc = math.floor((w - 6) / g.charw)
  if maxc >= 3 then
    local label = M.short_name(f.name)
    if text_len(label) > maxc then label = utf8_prefix(label, maxc - 2) .. ".." end
    s = s .. string.format('<text x="%.2f" y="%.1f">%s</text>', x + 3, y + g.fh - 4.5,
      xml_text(label))
  end
  return s .. "</g>\n"
end

-- The colour change of every frame of a differential graph (f.delta, in shares, signed
-- new minus base) and the largest |delta| above the root.
local function deltas(frames, total, other_total, sign)
  local max_abs = 0
  for _, f in ipairs(frames) do
    local ov = f.other and f.other.value or 0
    f.delta = sign * (f.value / total - (other_total > 0 and ov / other_total or 0))
    if f.level > 0 and math.abs(f.delta) > max_abs then max_abs = math.abs(f.delta) end
  end
  return max_abs
end

--- An SVG flame graph, with a script for click to zoom, search (Ctrl-F) and reset (Esc);
-- see docs/api.md. Returns the SVG text and the number of frames drawn.
function M.svg(p, opts)
  check_profile(p, "svg")
  opts = svg_opts(opts, "svg", 2)
  local col, st, info = edit.column(p, opts.sample_index, "svg")
  local diff = opts.base ~= nil
  local base_col, base_st
  if diff then base_col, base_st = edit.column(opts.base, opts.sample_index, "svg") end
  -- In a differential graph the widths come from one profile (the new one by default)
  -- and the colour from the other: shares, so the profiles' totals need not match.
  local draw_p, draw_col, other_p, other_col = p, col, opts.base, base_col
  local labels = { other = "base", sign = 1 }
  if opts.widths == "base" then
    draw_p, draw_col, other_p, other_col = opts.base, base_col, p, col
    labels = { other = "new", sign = -1 }
    st = base_st
  end
  local root = build_tree(draw_p, draw_col)
  local other_root = diff and build_tree(other_p, other_col) or nil
  local total = root.value
  local other_total = other_root and other_root.value or 0
  -- Geometry shared by the pieces below.
  local g = { width = opts.width, fh = opts.frame_height, pad = 10, top = 72, bottom = 30,
    charw = opts.font_size * 0.59, icicle = opts.icicle == true }
  g.scale = total > 0 and (g.width - 2 * g.pad) / total or 0
  local frames, depth = {}, 0
  if total > 0 then frames, depth = layout(root, opts.min_width / g.scale, other_root) end
  g.height = g.top + (depth + 1) * g.fh + g.bottom
  local unit = st and st.unit or ""
  local function fmt(v) return units.scaled(v, unit) end
  local max_abs = diff and deltas(frames, total, other_total, labels.sign) or 0

  local kind = info.kind or "profile"
  local title = opts.title or (kind .. (diff and " differential" or "") .. " flame graph")
  local sub
  if diff then
    sub = string.format("%s/%s; widths: %s profile (total %s); colour: change of cum share"
      .. " against the %s profile, red grew, blue shrank (largest %.2f pts)",
      st and st.type or "?", unit, labels.sign > 0 and "new" or "base", fmt(total),
      labels.other, max_abs * 100)
  else
    sub = string.format("%s/%s, duration %s, total %s", st and st.type or "?", unit,
      units.scaled(info.duration_ns or 0, "nanoseconds"), fmt(total))
  end

  local out = {
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n',
    string.format('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d"'
      .. ' height="%d" viewBox="0 0 %d %d">\n', g.width, g.height, g.width, g.height),
    '<style type="text/css">' .. STYLE:format(opts.font_size) .. '</style>\n',
    string.format('<script type="application/json" id="pgo-config">{"width":%d,"pad":%d,'
      .. '"fh":%d,"charw":%.3f,"icicle":%s,"match":"rgb(230,0,230)"}</script>\n',
      g.width, g.pad, g.fh, g.charw, tostring(g.icicle)),
    string.format('<rect x="0" y="0" width="%d" height="%d" fill="#f4f4ec"/>\n', g.width,
      g.height),
    '<g id="frames">\n',
  }
  for _, f in ipairs(frames) do
    local fill
    if diff then fill = diff_colour(f.delta, max_abs)
    elseif f.merged then fill = MERGED_FILL
    else fill = colour(f.name) end
    local hover = diff and diff_info(f, total, other_total, labels) or plain_info(f, fmt, total)
    out[#out + 1] = frame_markup(g, f, fill, hover)
  end
  out[#out + 1] = '</g>\n'
  out[#out + 1] = string.format('<text x="%d" y="%d" style="fill:#666">%d frames (callees'
    .. ' under %s px merged). Click a frame to zoom, Ctrl-F to search, Esc to reset.</text>\n',
    g.pad, g.height - 10, #frames, units.fmt_number(opts.min_width))
  out[#out + 1] = header(g, title, sub)
  out[#out + 1] = '<script type="text/ecmascript"><![CDATA[\n'
  out[#out + 1] = require "pgo.flame_script"
  out[#out + 1] = ']]></script>\n</svg>\n'
  return table.concat(out), #frames
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
  -- the caller's mistakes are reported at the caller's line, not at svg's call below
  opts = svg_opts(opts, "write", 3)
  edit.column(p, opts.sample_index, "write")
  if opts.base then edit.column(opts.base, opts.sample_index, "write") end
  local svg = M.svg(p, opts)
  local ok, err = fsys.write_atomic(path, svg)
  if not ok then return nil, err, "io" end
  return true
end

return M
