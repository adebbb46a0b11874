-- pgo.fetch_plan: one merged profile for a window that a continuous profiler will not
-- serve in one answer (Pyroscope refuses ranges over max_query_length, 24 h by default;
-- Parca cuts off answers slower than its 60 s write timeout).
--
-- The window is cut into slices of at most max_window, fetched `concurrency` at a time
-- (pgo.core.net.requests); each answer is checked, decoded and merged as it arrives and
-- then freed, so memory holds the merged profile plus the answers in flight. A slice the
-- server cuts off (timeout, closed connection, "exceeds the limit") is asked for again in
-- two halves, down to min_window; a route the server lacks or whose answer is too large
-- gives way to the backend's fallback route (see the routes in pgo.backends).
--
-- Options (checked by plan.options): max_window (seconds, default 86400), min_window
-- (600), concurrency (4), recent_half_life (seconds; unset = every slice counts fully):
-- each slice is scaled by 0.5 ^ (age of its middle / half-life), age counted back from the
-- window's end, so recent behaviour weighs more.
local net = require "pgo.core.net"
local profile = require "pgo.profile"
local fetch = require "pgo.fetch"

local plan = {}

plan.defaults = { max_window = 86400, min_window = 600, concurrency = 4 }

local MAX_SLICES = 10000

--- The planning options of opts, checked (misuse raises at the caller of fname).
function plan.options(opts, fname)
  local function number(name, test, expected)
    local v = opts[name]
    if v ~= nil and (type(v) ~= "number" or not test(v)) then
      error(("bad option '%s' to '%s' (%s expected, got %s)"):format(name, fname, expected,
        type(v) == "number" and tostring(v) or type(v)), 4)
    end
    return v
  end
  local pos = function(v) return v > 0 and v < math.huge end
  local o = {
    max_window = number("max_window", pos, "a positive number of seconds") or plan.defaults.max_window,
    min_window = number("min_window", pos, "a positive number of seconds") or plan.defaults.min_window,
    concurrency = number("concurrency", function(v) return math.type(v) == "integer" and v >= 1 and
      v <= 64 end, "an integer from 1 to 64") or plan.defaults.concurrency,
    half_life = number("recent_half_life", pos, "a positive number of seconds"),
  }
  return o
end

--- Slices of [from, to] (Unix seconds): equal, contiguous, at most max_window long, on
-- whole milliseconds: {from_ms=, to_ms=, last=} (the next slice starts at to_ms, so a
-- route asks for [from_ms, to_ms) unless last). Raises past MAX_SLICES slices.
function plan.slices(from, to, max_window)
  local a, b = math.floor(from * 1000 + 0.5), math.floor(to * 1000 + 0.5)
  local n = math.max(1, math.ceil((b - a) / (max_window * 1000) - 1e-9))
  if n > MAX_SLICES then
    error(("the window would take %d slices of max_window=%gs (at most %d)"):format(n,
      max_window, MAX_SLICES), 3)
  end
  local out = {}
  for i = 1, n do
    out[i] = { from_ms = a + (b - a) * (i - 1) // n, to_ms = a + (b - a) * i // n, last = i == n }
  end
  return out
end

-- The JSON error body of Connect (Pyroscope: {"code":"unauthenticated","message":...}) or
-- grpc-gateway (Parca: {"code":3,"message":...}), as "code: message"; nil otherwise.
local function json_error(body)
  local cjson = require "cjson.safe"
  if type(body) ~= "string" or not body:match("^%s*{") then return nil end
  local t = cjson.decode(body)
  if type(t) ~= "table" or t.message == nil then return nil end
  local c = t.code
  if type(c) == "number" and c == math.floor(c) then c = ("%d"):format(c) end
  return tostring(c) .. ": " .. tostring(t.message)
end

-- A failed transfer as a message: the server's own JSON error when it sent one.
local function transfer_error(job, resp)
  if resp.code == "http_status" then
    local je = json_error(resp.body_head)
    if je then
      return ("HTTP %d from %s: %s%s"):format(resp.status, job.name, je, job.hint and job.hint(je) or "")
    end
  end
  return resp.error
end

local function describe(s)
  local b = require "pgo.backends"
  return ("%s .. %s"):format(b.rfc3339(s.from_ms / 1000), b.rfc3339(s.to_ms / 1000))
end

--- Fetch job.from .. job.to slice by slice and merge. job: backend, name, shown (the
-- redacted first URL), secrets, transport (pgo.core.net options), route (see
-- pgo.backends), plan (plan.options), empty(from, to) (the message when no slice has
-- data), hint(json_error) (optional). Returns profile, meta | nil, message, code, meta;
-- meta.slices[i] = {from, to, route, status, bytes, attempts, totals, weight, empty}.
function plan.run(job)
  local o = job.plan
  local pending = plan.slices(job.from, job.to, o.max_window)
  local route = job.route
  local settled = false         -- the route is known to work: send the rest at once
  local acc, fatal
  local meta = { backend = job.backend, url = job.shown, window_start = job.from,
    window_end = job.to, bytes = 0, attempts = 0, slices = {} }
  local t0 = net.now()
  local url_ok, url_msg, url_code = net.check_url(route.url)
  if not url_ok then return nil, job.shown .. ": " .. url_msg, url_code, meta end
  local function fail(msg, code, resp)
    if not fatal then
      fatal = { msg = msg, code = code }
      meta.status = resp and resp.status
    end
  end
  local function add(s, p, resp)
    s.totals, s.status = p:info().totals, resp.status
    if o.half_life then
      local age = job.to - (s.from_ms + s.to_ms) / 2000
      s.weight = 0.5 ^ (math.max(age, 0) / o.half_life)
      local scaled, msg, code = p:scale(s.weight)
      p:close()
      if not scaled then return fail(msg, code, resp) end
      p = scaled
      s.totals = p:info().totals
    end
    if not acc then acc = p return end
    local merged, msg, code = profile.merge { acc, p }
    p:close()
    if not merged then return fail(msg, code, resp) end
    acc:close()
    acc = merged
  end
  local function on_done(s, resp, retry_with, again)
    meta.bytes = meta.bytes + (resp.bytes or 0)
    meta.attempts = meta.attempts + (resp.attempts or 0)
    if resp.body then
      local p, dmsg, dcode = s.route.read(resp.body, resp.headers)
      if p == false and s.route.fallback then return retry_with(s, s.route.fallback) end
      if p then
        settled = true
        meta.slices[#meta.slices + 1] = s
        return add(s, p, resp)
      end
      if dcode == "empty" then
        settled, s.empty, s.status = true, true, resp.status
        meta.slices[#meta.slices + 1] = s
        return
      end
      return fail((dmsg or "no pprof in the answer") .. " (slice " .. describe(s) .. ")",
        dcode or "invalid", resp)
    end
    local action = s.route.on_error(resp)
    if action == "fallback" and s.route.fallback then return retry_with(s, s.route.fallback) end
    if action == "split" and (s.to_ms - s.from_ms) >= 2 * o.min_window * 1000 then
      local mid = (s.from_ms + s.to_ms) // 2
      again[#again + 1] = { from_ms = s.from_ms, to_ms = mid, last = false, route = s.route }
      again[#again + 1] = { from_ms = mid, to_ms = s.to_ms, last = s.last, route = s.route }
      return
    end
    local m = transfer_error(job, resp)
    if action == "split" then
      m = m .. (" (slice %s; already at min_window=%gs: narrow the query, or raise the " ..
        "server's timeout)"):format(describe(s), o.min_window)
    end
    fail(m, resp.code, resp)
  end
  while #pending > 0 and not fatal do
    local batch = settled and pending or { pending[1] }
    local rest = settled and {} or { table.unpack(pending, 2) }
    local again = {}
    local function retry_with(s, r)
      s.route = r
      again[#again + 1] = s
    end
    -- one concurrent run per route (their headers differ)
    local groups, order = {}, {}
    for _, s in ipairs(batch) do
      s.route = s.route or route
      if not groups[s.route] then groups[s.route] = {} order[#order + 1] = s.route end
      table.insert(groups[s.route], s)
    end
    for _, r in ipairs(order) do
      local group = groups[r]
      local reqs = {}
      for i, s in ipairs(group) do reqs[i] = r.request(s.from_ms / 1000, s.to_ms / 1000, not s.last) end
      local t = {}
      for k, v in pairs(job.transport) do t[k] = v end
      t.headers = { table.unpack(job.transport.headers) }
      for _, h in ipairs(r.headers or {}) do t.headers[#t.headers + 1] = h end
      t.concurrency = o.concurrency
      local ok, msg, code = net.requests(reqs, t, function(i, resp)
        on_done(group[i], resp, retry_with, again)
      end)
      if not ok and not fatal then fail(msg, code) end
    end
    if not settled and #again > 0 and again[1].route ~= route then route = again[1].route end
    pending = again
    for _, s in ipairs(rest) do
      s.route = route
      pending[#pending + 1] = s
    end
  end
  meta.elapsed = net.now() - t0
  meta.route = route.name
  table.sort(meta.slices, function(x, y) return x.from_ms < y.from_ms end)
  for _, s in ipairs(meta.slices) do
    s.from, s.to, s.route = s.from_ms / 1000, s.to_ms / 1000, s.route.name
    s.from_ms, s.to_ms, s.last = nil, nil, nil
  end
  meta.status = meta.status or 200
  if fatal then
    if acc then acc:close() end
    return nil, fetch._scrub(job.shown .. ": " .. fatal.msg, job.secrets), fatal.code, meta
  end
  if not acc then
    return nil, job.shown .. ": " .. job.empty(job.from, job.to), "empty", meta
  end
  return acc, meta
end

return plan
