-- pgo.provenance: where a default.pgo came from, stored inside the profile itself, and
-- the pull-request text that presents it.
--
--   pgo.provenance.record(p, {source = meta.url, window = {start, stop}, seconds = 30,
--                             instances = 3, aggregated_via = "pgo.fetch.fleet"})
--   local prov = pgo.provenance.read(p)          -- the same fields back
--   local md = pgo.provenance.pr_body(old, p, prov)
--
-- The record is one comment of the profile (pprof's `comment` field, which `go tool
-- pprof -comments` prints and pgo.merge keeps), in this line format:
--
--   pgolua-provenance: v=1; source=<url>; window=<start>/<end>; seconds=30; ...
--
-- * the prefix "pgolua-provenance: " then items separated by "; ";
-- * each item is key=value; keys are [a-z][a-z0-9_]*; values are percent-encoded for
--   "%", ";", "=" and every control character (so a value never holds a line break);
-- * v is the format version (1); numeric keys (v, seconds, instances, succeeded, failed,
--   samples, bytes) read back as numbers, everything else as strings;
-- * a profile may hold several records (a merge keeps each input's); read() returns the
--   last one, and all of them as its second result.
local net = require "pgo.core.net"
local markdown = require "pgo.markdown"

local provenance = {}

provenance.PREFIX = "pgolua-provenance: "
provenance.VERSION = 1

local NUMERIC = { v = true, seconds = true, instances = true, succeeded = true, failed = true,
  samples = true, bytes = true }
-- Keys in the order they are written; any other key follows, sorted.
local ORDER = { "v", "source", "window", "seconds", "instances", "aggregated_via",
  "top_function" }
local LAST = { tool = true, recorded_at = true }

local function encode_value(s)
  return (s:gsub("[%%;=%c]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function decode_value(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function iso(t)
  local whole = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", whole)
end

-- The value of a field as text: numbers without a needless ".0", tables {start, stop} (or
-- {start=, stop=} / window_start/window_end) as an ISO 8601 interval.
local function to_text(k, v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" or v == math.floor(v) and math.abs(v) < 2^53 then
      return ("%d"):format(v)
    end
    return ("%.6g"):format(v)
  end
  if t == "table" then
    local a = v.start or v.window_start or v[1]
    local b = v.stop or v["end"] or v.window_end or v[2]
    if type(a) == "number" and type(b) == "number" then return iso(a) .. "/" .. iso(b) end
  end
  error(("bad field '%s' to 'record' (string, number, boolean or {start, stop} expected, got %s)")
    :format(k, t), 4)
end

-- The name of the hottest function of p (flat), or nil.
local function top_name(p)
  local ok, rows = pcall(function() return p:top { n = 1 } end)
  if ok and rows and rows[1] then return rows[1].name, rows[1].flat_pct end
end

--- The provenance line for fields (see the module comment). The source is redacted
-- (pgo.fetch.redact: passwords and token-like query values), with or without a scheme.
function provenance.format(fields)
  if type(fields) ~= "table" then
    error("bad argument #1 to 'format' (table expected, got " .. type(fields) .. ")", 2)
  end
  local items, seen = {}, {}
  local function add(k, v)
    if v == nil or seen[k] then return end
    if type(k) ~= "string" or not k:match("^[a-z][a-z0-9_]*$") then
      error(("bad field name '%s' to 'record' (lowercase letters, digits and _)"):format(tostring(k)), 3)
    end
    seen[k] = true
    local text = to_text(k, v)
    if k == "source" then text = require("pgo.fetch").redact(text) end
    items[#items + 1] = k .. "=" .. encode_value(text)
  end
  add("v", provenance.VERSION)
  for _, k in ipairs(ORDER) do add(k, fields[k]) end
  local rest = {}
  for k in pairs(fields) do
    if not seen[k] and not LAST[k] and k ~= "v" then rest[#rest + 1] = k end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do add(k, fields[k]) end
  add("tool", fields.tool)
  add("recorded_at", fields.recorded_at)
  return provenance.PREFIX .. table.concat(items, "; ")
end

--- Parse one line; nil when it is not a provenance line. Items that are not key=value are
-- skipped (a hand-edited comment still reads).
function provenance.parse(line)
  if type(line) ~= "string" or line:sub(1, #provenance.PREFIX) ~= provenance.PREFIX then
    return nil
  end
  local out = {}
  for item in (line:sub(#provenance.PREFIX + 1) .. ";"):gmatch("([^;]*);") do
    if item:sub(1, 1) == " " then item = item:sub(2) end
    local k, v = item:match("^([a-z][a-z0-9_]*)=(.*)$")
    if k then
      v = decode_value(v)
      out[k] = NUMERIC[k] and tonumber(v) or v
    end
  end
  return out
end

--- Record provenance in p's comments (in place). fields: source, window ({start, stop} in
-- Unix seconds, or text), seconds (capture window per instance), instances,
-- aggregated_via, top_function (default: p's hottest function), and any other
-- key = string | number | boolean. tool ("pgolua/<version>") and recorded_at (UTC now)
-- are added. Returns the line.
function provenance.record(p, fields)
  if type(fields) ~= "table" then
    error("bad argument #2 to 'record' (table expected, got " .. type(fields) .. ")", 2)
  end
  local f = {}
  for k, v in pairs(fields) do f[k] = v end
  if f.top_function == nil then f.top_function = top_name(p) end
  f.tool = f.tool or ("pgolua/" .. net.version)
  f.recorded_at = f.recorded_at or iso(os.time())
  local line = provenance.format(f)
  p:add_comment(line)
  return line
end

--- The provenance of p: the last record as a table (nil when there is none), and the
-- list of every record found.
function provenance.read(p)
  local all = {}
  for _, c in ipairs(p:info().comments or {}) do
    local r = provenance.parse(c)
    if r then all[#all + 1] = r end
  end
  return all[#all], all
end

--- Fields for record() from what pgo.fetch returned: the meta of fetch.profile or
-- backends.*, or the results of fetch.fleet.
function provenance.from_fetch(meta)
  if type(meta) ~= "table" then
    error("bad argument #1 to 'from_fetch' (table expected, got " .. type(meta) .. ")", 2)
  end
  if meta[1] then                       -- fleet results
    local first, last, urls = math.huge, 0, {}
    for _, r in ipairs(meta) do
      if r.ok then
        urls[#urls + 1] = r.url
        if r.window_start and r.window_start < first then first = r.window_start end
        if r.window_end and r.window_end > last then last = r.window_end end
      end
    end
    local source = #urls > 0 and urls[1] or nil
    if #urls > 1 then source = ("%s and %d more"):format(urls[1], #urls - 1) end
    return { source = source, window = first < last and { first, last } or nil,
      instances = meta.succeeded or #urls, failed = meta.failed, seconds = meta.seconds,
      aggregated_via = "pgo.fetch.fleet (pprof merge)" }
  end
  return { source = meta.url, backend = meta.backend, instances = 1,
    seconds = meta.seconds,
    window = meta.window_start and meta.window_end and { meta.window_start, meta.window_end } or nil,
    aggregated_via = meta.backend == "pyroscope" and ("Pyroscope " .. (meta.route or "SelectMergeProfile"))
      or meta.backend == "parca" and "Parca merge query" or nil }
end

-- ---- markdown ------------------------------------------------------------------------------

--- s as a markdown code span: nothing inside is markup (no emphasis, links, HTML,
-- mentions or autolinks); backticks inside get a longer fence; control characters become
-- U+FFFD; with in_table, "|" is escaped so a table row stays one row; at most 200
-- characters.
function provenance.markdown_code(s, in_table)
  s = tostring(s)
  if #s > 200 then s = s:sub(1, 200):gsub("[\128-\191]*$", ""):gsub("[\192-\255]$", "") .. "…" end
  return markdown.code((s:gsub("%c", "\239\191\189")), in_table)
end

local function cell(s) return provenance.markdown_code(s, true) end

local function pct(v) return v and ("%.1f%%"):format(v) or "" end

local function top_cell(p)
  if not p then return "(none: first profile)" end
  local name, share = top_name(p)
  if not name then return "(no samples)" end
  return cell(name) .. " (" .. pct(share) .. " flat)"
end

local function seconds_text(s)
  if not s then return nil end
  if s >= 120 then return ("%.1f min"):format(s / 60) end
  return ("%g s"):format(math.floor(s * 10 + 0.5) / 10)
end

--- The pull-request body (markdown) for replacing `before` (a profile, or nil for the
-- first one) with `after`, from prov (fields as given to record, or read from after when
-- nil). Every string that comes from a profile or a server is a code span, so it cannot
-- inject markup.
function provenance.pr_body(before, after, prov)
  if after == nil then error("bad argument #2 to 'pr_body' (profile expected, got nil)", 2) end
  if prov == nil then prov = provenance.read(after) or {} end
  if type(prov) ~= "table" then
    error("bad argument #3 to 'pr_body' (table expected, got " .. type(prov) .. ")", 2)
  end
  local info = after:info()
  local instances = tonumber(prov.instances)
  local per = tonumber(prov.seconds)
  if not per and instances and instances > 0 and info.duration_ns > 0 then
    per = info.duration_ns / 1e9 / instances
  end
  local window = prov.window
  if type(window) == "table" then window = to_text("window", window) end
  -- samples as pprof counts them (the samples/count column), not Sample messages: a
  -- profile built in memory combines identical stacks, a file from the runtime does not
  local function sample_count(p)
    local i = p:info()
    for k, st in ipairs(i.sample_types) do
      if st.type == "samples" then return tostring(i.totals[k]) end
    end
    return tostring(i.samples)
  end
  local rows = {
    { "Source", prov.source and cell(require("pgo.fetch").redact(tostring(prov.source)))
      or "unknown" },
    { "Window", window and cell(window) or "unknown" },
    { "Duration per instance", seconds_text(per) or "unknown" },
    { "Instances", instances and tostring(math.floor(instances)) or "unknown" },
    { "Aggregated via", prov.aggregated_via and cell(prov.aggregated_via) or "unknown" },
    { "Top function before", top_cell(before) },
    { "Top function after", top_cell(after) },
    { "Samples before / after", (before and sample_count(before) or "–") .. " / " ..
      sample_count(after) },
  }
  local out = {
    "### Update default.pgo",
    "",
    "A new CPU profile for profile-guided optimization, captured and checked by pgolua.",
    "",
    "| | |",
    "|---|---|",
  }
  for _, r in ipairs(rows) do out[#out + 1] = "| " .. r[1] .. " | " .. r[2] .. " |" end
  local line = provenance.format(prov)
  local longest = 0
  for run in line:gmatch("`+") do longest = math.max(longest, #run) end
  local fence = ("`"):rep(math.max(3, longest + 1))
  out[#out + 1] = ""
  out[#out + 1] = "<details><summary>Provenance record (in the profile's comments)</summary>"
  out[#out + 1] = ""
  out[#out + 1] = fence .. "text"
  out[#out + 1] = line
  out[#out + 1] = fence
  out[#out + 1] = ""
  out[#out + 1] = "</details>"
  return table.concat(out, "\n") .. "\n"
end

return provenance
