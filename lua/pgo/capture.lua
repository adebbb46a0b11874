-- pgo.capture: every source of a CPU profile (files, one URL, a fleet, Pyroscope, Parca)
-- into one merged profile plus the provenance fields that describe it.
--
--   local p, info = pgo.capture.profile({ urls = { "http://10.0.0.5:6060" },
--     pyroscope = { url = "http://pyroscope:4040", selector = '{service_name="api"}' } },
--     { seconds = 60, auth_env = "TOKEN", dir = "cmd/api" })
--   -- info.fields: for pgo.provenance.record; info.labels: one line per source;
--   -- info.notes: what a person should know (instances left out of a fleet)
--
-- One place for the transport policy: retries, the size limits (max_bytes as received,
-- max_decompressed once gunzipped), credentials (auth_env / auth_file / auth_type,
-- ca_file), the fleet's concurrency and min_success. The transfers are pgo.fetch's,
-- pgo.backends' and pgo.fetch_plan's; this module only dispatches and merges.
-- Misuse (an unknown option or source) raises; a failed capture returns
-- nil, message, code, meta (meta.attempts for a transfer that broke off).
local options = require "pgo.options"
local fetch = require "pgo.fetch"
local backends = require "pgo.backends"
local provenance = require "pgo.provenance"
local profile = require "pgo.profile"

local capture = {}

--- Defaults: the transport's own table, pgo.fetch.defaults (seconds, retries, min_success,
-- max_bytes, ...), not a copy: an option left out is the layer's default, so a script that
-- changes one changes it for every capture. max_decompressed left out is pgo.load's (1 GiB).
capture.defaults = fetch.defaults

local list = function(v)
  if type(v) ~= "table" then return false, "a list of strings" end
  for _, s in ipairs(v) do if type(s) ~= "string" then return false, "a list of strings" end end
  return true
end
local SOURCES = { files = list, urls = list, pyroscope = "table", parca = "table" }
local PYROSCOPE = { url = "string", profile_type = "string", selector = "string", tenant = "string",
  from = "string|number", to = "string|number" }
local PARCA = { url = "string", query = "string", profile_type = "string", selector = "string",
  from = "string|number", to = "string|number" }
local OPTS = { seconds = "number", retries = "integer", timeout = "number", concurrency = "integer",
  min_success = "number", max_bytes = "integer", max_decompressed = "integer", auth_env = "string",
  auth_file = "string", auth_type = "string", ca_file = "string", dir = "string", quiet = "boolean",
  source_name = "string" }

local function check(sources, opts, fname)
  options.check(fname, 1, sources, SOURCES, 4)
  if sources == nil then error(("bad argument #1 to '%s' (table expected, got nil)"):format(fname), 3) end
  options.check(fname, 1, sources.pyroscope, PYROSCOPE, 4)
  options.check(fname, 1, sources.parca, PARCA, 4)
  return options.check(fname, 2, opts, OPTS, 4)
end

--- Whether sources names at least one source.
function capture.has_source(sources)
  return #(sources.files or {}) + #(sources.urls or {}) > 0 or sources.pyroscope ~= nil
    or sources.parca ~= nil
end

--- What to tell a person before capturing: each URL that carries a credential in itself
-- (visible to other users in ps when typed on a command line). Returns a list of
-- {url = redacted URL, source = "urls" | "pyroscope" | "parca", message =}.
function capture.typed_credentials(sources)
  local found = {}
  local function look(kind, url)
    if url and fetch.has_credentials(url) then
      found[#found + 1] = { url = fetch.redact(url), source = kind, message = fetch.redact(url)
        .. " carries a credential on the command line, where other users can see it (ps)" }
    end
  end
  for _, u in ipairs(sources.urls or {}) do look("urls", u) end
  look("pyroscope", sources.pyroscope and sources.pyroscope.url)
  look("parca", sources.parca and sources.parca.url)
  return found
end

-- The transport options of pgo.fetch and pgo.backends from ours.
local function transport(opts, extra)
  local auth = opts.auth_env or opts.auth_file
  local t = { seconds = opts.seconds, dir = opts.dir, retries = opts.retries,
    auth_env = opts.auth_env, auth_file = opts.auth_file, auth_type = auth and opts.auth_type or nil,
    ca_file = opts.ca_file, quiet = opts.quiet, timeout = opts.timeout,
    max_bytes = opts.max_bytes, max_decompressed = opts.max_decompressed }
  for k, v in pairs(extra or {}) do t[k] = v end
  if t.seconds == false then t.seconds = nil end   -- the continuous profilers have no window
  return t
end

--- Whether the credential options name a usable credential (the variable is set, the
-- file readable and well formed), before anything is captured: true or nil, message, "auth".
function capture.check_credentials(opts)
  opts = options.check("check_credentials", 1, opts, OPTS)
  local ok, msg, code = fetch.auth_headers(transport(opts))
  if not ok then return nil, msg, code end
  return true
end

-- acc merged with p (both consumed); the merge, or nil, message, code.
local function merge_into(acc, p)
  if not acc then return p end
  local m, err, code = profile.merge { acc, p }
  acc:close()
  p:close()
  return m, err, code
end

local function some(names)
  if #names <= 1 then return names[1] end
  return ("%s and %d more"):format(names[1], #names - 1)
end

local function window_of(first, last) return first < last and { first, last } or nil end

-- The files, merged: one part, or nil, message, code.
local function from_files(paths, opts)
  local acc, first, last, urls = nil, math.huge, 0, {}
  for _, path in ipairs(paths) do
    local p, err, code = backends.file { path = path, max_decompressed = opts.max_decompressed }
    if not p then
      if acc then acc:close() end
      return nil, err, code
    end
    local info = p:info()
    if info.time_ns > 0 then
      first = math.min(first, info.time_ns / 1e9)
      last = math.max(last, (info.time_ns + info.duration_ns) / 1e9)
    end
    urls[#urls + 1] = "file://" .. path
    local m, merr, mcode = merge_into(acc, p)
    if not m then return nil, ("%s: %s"):format(path, merr), mcode end
    acc = m
  end
  return { p = acc, label = #paths == 1 and paths[1] or (#paths .. " files"),
    fields = { source = some(urls), window = window_of(first, last), instances = #paths,
      aggregated_via = #paths > 1 and ("pgo.merge of %d files"):format(#paths) or "none (one file)" } }
end

-- Each source as {p, fields, label}; nil, message, code, meta.
local function parts_of(sources, opts, notes)
  local parts = {}
  if #(sources.files or {}) > 0 then
    local part, err, code = from_files(sources.files, opts)
    if not part then return nil, err, code end
    parts[#parts + 1] = part
  end
  local urls = sources.urls or {}
  if #urls == 1 then
    local p, meta, code, m2 = fetch.profile(urls[1], transport(opts))
    if not p then return nil, meta, code, m2 end
    local fields = provenance.from_fetch(meta)
    fields.aggregated_via = fields.aggregated_via or "none (one instance)"
    parts[#parts + 1] = { p = p, fields = fields, label = meta.url }
  elseif #urls > 1 then
    local p, results, code, r2 = fetch.fleet(urls, transport(opts, {
      min_success = opts.min_success, concurrency = opts.concurrency }))
    if not p then return nil, results, code, r2 end
    for _, r in ipairs(results) do
      if not r.ok then notes[#notes + 1] = "instance left out of the fleet capture: " .. tostring(r.error) end
    end
    parts[#parts + 1] = { p = p, fields = provenance.from_fetch(results),
      label = ("%d of %d instances"):format(results.succeeded, #urls) }
  end
  -- Continuous profilers merge every instance the selector matches without saying how
  -- many: instances stays unknown rather than 1.
  for _, kind in ipairs { "pyroscope", "parca" } do
    local src = sources[kind]
    if src then
      local extra = { seconds = false }
      for k, v in pairs(src) do extra[k] = v end
      local p, meta, code, m2 = backends[kind](transport(opts, extra))
      if not p then return nil, meta, code, m2 end
      local fields = provenance.from_fetch(meta)
      fields.instances = nil
      if kind == "pyroscope" then fields.selector = src.selector or "{}" else fields.query = src.query end
      parts[#parts + 1] = { p = p, fields = fields, label = meta.url }
    end
  end
  return parts
end

--- One profile from every source in sources ({files =, urls =, pyroscope = {url =,
-- selector =, profile_type =, tenant =, from =, to =}, parca = {url =, query =, ...}}),
-- merged. opts: seconds, retries, timeout, concurrency, min_success, max_bytes,
-- max_decompressed, auth_env, auth_file, auth_type, ca_file, dir (where captures are
-- received), quiet, source_name (recorded instead of the URLs). Returns profile, info
-- ({fields = provenance fields, labels = {...}, notes = {...}, instances =}) or
-- nil, message, code, meta.
function capture.profile(sources, opts)
  opts = check(sources, opts, "profile")
  if not capture.has_source(sources) then
    error("bad argument #1 to 'profile' (no source: files, urls, pyroscope or parca)", 2)
  end
  local notes = {}
  local parts, err, code, meta = parts_of(sources, opts, notes)
  if not parts then
    if code == "truncated" and type(meta) == "table" and math.type(meta.attempts) == "integer" then
      err = tostring(err) .. ("; %d attempt%s broke off: check the server (or a proxy in between), then run again")
        :format(meta.attempts, meta.attempts == 1 and "" or "s")
    end
    return nil, err, code, meta
  end
  if opts.source_name then               -- the name stands for every URL, in every output
    for _, part in ipairs(parts) do part.fields.source, part.label = opts.source_name, opts.source_name end
  end
  if #parts == 1 then
    local f = parts[1].fields
    return parts[1].p, { fields = f, labels = { parts[1].label }, notes = notes, instances = f.instances }
  end
  local acc, labels, names, vias = nil, {}, {}, {}
  local first, last, instances = math.huge, 0, 0
  for _, part in ipairs(parts) do
    labels[#labels + 1] = part.label
    names[#names + 1] = part.fields.source
    vias[#vias + 1] = part.fields.aggregated_via or "?"
    local w = part.fields.window
    if type(w) == "table" then first, last = math.min(first, w[1]), math.max(last, w[2]) end
    instances = instances and part.fields.instances and instances + part.fields.instances or nil
    local m, merr, mcode = merge_into(acc, part.p)
    if not m then return nil, "cannot merge the sources: " .. merr, mcode end
    acc = m
  end
  local fields = { source = table.concat(names, " + "), window = window_of(first, last),
    instances = instances, seconds = #(sources.urls or {}) > 0 and (opts.seconds or fetch.defaults.seconds) or nil,
    aggregated_via = ("pgo.merge of %d sources (%s)"):format(#parts, table.concat(vias, "; ")) }
  return acc, { fields = fields, labels = labels, notes = notes, instances = instances }
end

return capture
