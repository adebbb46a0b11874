-- pgo.loadtest: live load against a loopback service, and an interleaved A/B of two
-- builds (e.g. -pgo=off vs the profile) on the same machine. The requests are sent by the
-- C load driver (src/net/loaddriver.c: libcurl multi, keep-alive connections, latency in
-- a log-linear histogram); this file holds the policy: defaults, the loopback-only rule,
-- rounds in ABBA order and the statistics over rounds.
--
--   loadtest.load_test{url=, n=, c=, duration=, method=, body=, headers=, timeout=,
--                      engine=, allow_remote=}
--     -> { url=, requests=, sent=, duration=, rps=, bytes=, header_bytes=,
--          latency = {p50=, p90=, p99=, p999=, max=, min=, mean=} (seconds),
--          errors = {[kind] = count}, error_count=, status = {["2xx"] = n, ...} }
--      | nil, message, code
--     n: stop after n requests; duration: stop after that many seconds (default 10 when
--     neither is given); c: concurrent connections (default 10); timeout: per request
--     (default 30 s). engine: "raw" (default: libcurl opens the keep-alive connections,
--     requests go over them with our HTTP/1.1 framing; about wrk's cost per request) or
--     "curl" (libcurl makes every request: full HTTP semantics, ~3x the client CPU per
--     request). A request is a completed response of any status; 4xx/5xx responses
--     are also counted in errors (http_4xx, http_5xx). Error kinds: connect, timeout,
--     dns, http_4xx, http_5xx, truncated, network, too_large, other.
--     Percentiles come from the histogram: each is within 0.39% (1/256) of a latency
--     actually observed at that rank; max, min and mean are exact.
--
--   loadtest.ab_load{a=url, b=url, rounds=6, duration=3, c=10, warmup=1, confidence=0.95,
--                    threshold=0.02, n=, method=, body=, headers=, timeout=, engine=,
--                    allow_remote=}
--     -> report | nil, message, code
--     Rounds alternate the order A B, B A, B A, A B, A B, B A, ... (ABBA blocks), so a
--     linear drift of the machine (thermal, other load) hits both sides equally. Before
--     the first round each side gets `warmup` seconds of load that is not measured.
--     report = {
--       a = {url=, rps=, p50=, p99=, runs = {result...}},   -- medians over the rounds
--       b = {...},
--       diff = { rps = {pct=, lo=, hi=}, p50 = {...}, p99 = {...} },  -- B relative to A, %
--       rounds = { {order = "AB", a = {rps=, p50=, p99=}, b = {...}} },
--       verdict = "b_faster" | "a_faster" | "no_difference" | "inconclusive",
--       verdict_reason = "the whole interval +1.2% .. +7.0% lies above +2%" (the one
--         reason that applies), method = how the estimate and its interval are computed,
--       summary = "B: +4.1% requests/s (95% CI +1.2% .. +7.0%), p50 -3.0%, p99 -2.2%",
--       errors = {a = n, b = n},
--     }
--     The difference and its interval: per round the log of B/A (paired: both sides ran
--     back to back); the mean over rounds with a Student t interval at `confidence`,
--     turned back into a percentage (exp(x) - 1). With one round there is no interval.
--     Verdict from throughput: "b_faster" when the whole interval is above +threshold
--     (fraction), "a_faster" when below -threshold, "no_difference" when it lies within
--     +-threshold, "inconclusive" otherwise (or with fewer than 2 rounds, or errors).
--
-- Loopback only: the URL's host must be in 127.0.0.0/8, ::1 or "localhost" unless
-- allow_remote = true; otherwise nil, message, "not_loopback".
local M = {}

local function core()
  local net = require "pgo.core.net"
  if not net.load_run then
    error("BUG: pgo.core.net has no load_run (src/lua/loadtest.c not registered)", 3)
  end
  return net
end

local function opt_error(fname, msg)
  error(("bad argument #1 to '%s' (%s)"):format(fname, msg), 3)
end

--- Whether a host (as libcurl parses it) is a loopback address.
function M.is_loopback_host(host)
  if type(host) ~= "string" then return false end
  host = host:lower()
  if host == "localhost" or host == "[::1]" or host == "::1" then return true end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a then
    a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
    return a == 127 and b <= 255 and c <= 255 and d <= 255
  end
  -- IPv4-mapped IPv6 ::ffff:127.x.y.z
  local m = host:match("^%[::ffff:(%d+%.%d+%.%d+%.%d+)%]$")
  if m then return M.is_loopback_host(m) end
  return false
end

-- nil, message, code when url may not be loaded; true otherwise.
local function check_target(url, allow_remote)
  local net = core()
  local host, msg, code = net.url_host(url)
  if not host then return nil, msg .. " (" .. tostring(url) .. ")", code end
  if not allow_remote and not M.is_loopback_host(host) then
    return nil, ("refusing to load %s: host %s is not a loopback address (127.0.0.0/8, ::1, "
      .. "localhost); pass allow_remote = true to load a remote host"):format(url, host),
      "not_loopback"
  end
  return true
end

local known_load = { url = true, n = true, c = true, duration = true, method = true,
  body = true, headers = true, timeout = true, allow_remote = true, engine = true }

local QUANTILES = { 0.5, 0.9, 0.99, 0.999 }

--- Load one URL. See the top of the file.
function M.load_test(opts)
  if type(opts) ~= "table" then opt_error("load_test", "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known_load[k] then opt_error("load_test", "unknown option '" .. tostring(k) .. "'") end
  end
  if type(opts.url) ~= "string" then opt_error("load_test", "field 'url' must be a string") end
  local n, c, duration = opts.n, opts.c or 10, opts.duration
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then
    opt_error("load_test", "field 'n' must be a positive integer")
  end
  if math.type(c) ~= "integer" or c < 1 then
    opt_error("load_test", "field 'c' must be a positive integer")
  end
  if duration ~= nil and (type(duration) ~= "number" or not (duration > 0)) then
    opt_error("load_test", "field 'duration' must be a positive number of seconds")
  end
  if n == nil and duration == nil then duration = 10 end
  local ok, msg, code = check_target(opts.url, opts.allow_remote)
  if not ok then return nil, msg, code end
  local r, err, ecode = core().load_run {
    url = opts.url, connections = c, requests = n or 0, duration = duration or 0,
    method = opts.method, body = opts.body, headers = opts.headers, timeout = opts.timeout,
    engine = opts.engine, quantiles = QUANTILES,
  }
  if not r then return nil, err, ecode end
  local q = r.latency.quantiles
  local nerr = 0
  for _, v in pairs(r.errors) do nerr = nerr + v end
  return {
    url = opts.url,
    requests = r.requests,
    sent = r.sent,
    abandoned = r.abandoned,
    duration = r.duration,
    rps = r.duration > 0 and r.requests / r.duration or 0,
    bytes = r.bytes,
    header_bytes = r.header_bytes,
    latency = { p50 = q[1], p90 = q[2], p99 = q[3], p999 = q[4], min = r.latency.min,
      max = r.latency.max, mean = r.latency.mean, count = r.latency.count },
    errors = r.errors,
    error_count = nerr,
    status = r.status,
  }
end

-- ==== statistics over rounds ===========================================================

local function median(xs)
  local t = {}
  for i, v in ipairs(xs) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end
M._median = median

-- P(|T| < t) for Student's t with integer df (the classical closed forms in
-- theta = atan(t / sqrt(df))).
local function t_central(t, df)
  local th = math.atan(math.abs(t) / math.sqrt(df))
  local s, c = math.sin(th), math.cos(th)
  if df == 1 then return 2 * th / math.pi end
  if df % 2 == 1 then
    local term, sum = c, c
    for k = 3, df - 2, 2 do
      term = term * c * c * (k - 1) / k
      sum = sum + term
    end
    return 2 / math.pi * (th + s * sum)
  end
  local term, sum = 1, 1
  for k = 2, df - 2, 2 do
    term = term * c * c * (k - 1) / k
    sum = sum + term
  end
  return s * sum
end

--- The two-sided critical value t with P(|T| < t) = confidence, df degrees of freedom.
function M._t_critical(confidence, df)
  local lo, hi = 0, 1
  while t_central(hi, df) < confidence do hi = hi * 2 end
  for _ = 1, 200 do
    local mid = (lo + hi) / 2
    if t_central(mid, df) < confidence then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

-- Mean of the paired log ratios log(b/a) with a t interval; as percentages.
local function paired_diff(as, bs, confidence)
  local ds = {}
  for i = 1, #as do
    if as[i] and bs[i] and as[i] > 0 and bs[i] > 0 then ds[#ds + 1] = math.log(bs[i] / as[i]) end
  end
  local n = #ds
  if n == 0 then return nil end
  local mean = 0
  for _, d in ipairs(ds) do mean = mean + d end
  mean = mean / n
  local out = { pct = (math.exp(mean) - 1) * 100, n = n }
  if n >= 2 then
    local ss = 0
    for _, d in ipairs(ds) do ss = ss + (d - mean) ^ 2 end
    local se = math.sqrt(ss / (n - 1)) / math.sqrt(n)
    local t = M._t_critical(confidence, n - 1)
    out.lo = (math.exp(mean - t * se) - 1) * 100
    out.hi = (math.exp(mean + t * se) - 1) * 100
  end
  return out
end
M._paired_diff = paired_diff

local known_ab = { a = true, b = true, rounds = true, duration = true, c = true, warmup = true,
  confidence = true, threshold = true, n = true, method = true, body = true, headers = true,
  timeout = true, allow_remote = true, engine = true }

local function fmt_pct(x) return x and string.format("%+.1f%%", x) or "?" end

--- A/B of two URLs in interleaved rounds. See the top of the file.
function M.ab_load(opts)
  if type(opts) ~= "table" then opt_error("ab_load", "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known_ab[k] then opt_error("ab_load", "unknown option '" .. tostring(k) .. "'") end
  end
  if type(opts.a) ~= "string" then opt_error("ab_load", "field 'a' must be a URL string") end
  if type(opts.b) ~= "string" then opt_error("ab_load", "field 'b' must be a URL string") end
  local rounds = opts.rounds or 6
  if math.type(rounds) ~= "integer" or rounds < 1 then
    opt_error("ab_load", "field 'rounds' must be a positive integer")
  end
  local confidence = opts.confidence or 0.95
  if type(confidence) ~= "number" or not (confidence > 0 and confidence < 1) then
    opt_error("ab_load", "field 'confidence' must be in (0, 1)")
  end
  local threshold = opts.threshold or 0.02
  local duration = opts.duration
  if duration == nil and opts.n == nil then duration = 3 end
  local warmup = opts.warmup or 1
  for _, side in ipairs { "a", "b" } do
    local ok, msg, code = check_target(opts[side], opts.allow_remote)
    if not ok then return nil, msg, code end
  end
  local function run(url, dur, n)
    return M.load_test { url = url, n = n, c = opts.c, duration = dur, method = opts.method,
      body = opts.body, headers = opts.headers, timeout = opts.timeout, engine = opts.engine,
      allow_remote = opts.allow_remote }
  end
  if warmup > 0 then
    for _, side in ipairs { "a", "b" } do
      local r, msg, code = run(opts[side], warmup, nil)
      if not r then return nil, msg, code end
    end
  end
  local report = { a = { url = opts.a, runs = {} }, b = { url = opts.b, runs = {} }, rounds = {},
    errors = { a = 0, b = 0 }, confidence = confidence, threshold = threshold }
  for i = 1, rounds do
    -- ABBA blocks: AB, BA, BA, AB, AB, BA, ...
    local k = (i - 1) % 4
    local order = (k == 0 or k == 3) and "AB" or "BA"
    local round = { order = order }
    for j = 1, 2 do
      local side = order:sub(j, j):lower()
      local r, msg, code = run(opts[side], duration, opts.n)
      if not r then return nil, msg, code end
      report[side].runs[#report[side].runs + 1] = r
      report.errors[side] = report.errors[side] + r.error_count
      round[side] = { rps = r.rps, p50 = r.latency.p50, p99 = r.latency.p99,
        requests = r.requests, errors = r.error_count }
    end
    report.rounds[i] = round
  end
  local diff = {}
  for _, m in ipairs { "rps", "p50", "p99" } do
    local as, bs = {}, {}
    for i, rd in ipairs(report.rounds) do as[i] = rd.a[m]; bs[i] = rd.b[m] end
    report.a[m] = median(as)
    report.b[m] = median(bs)
    diff[m] = paired_diff(as, bs, confidence) or {}
  end
  report.diff = diff
  local d = diff.rps
  local verdict, reason
  local band = ("%.0f%%"):format(threshold * 100)
  local interval = d.lo and ("%s .. %s"):format(fmt_pct(d.lo), fmt_pct(d.hi))
  if report.errors.a > 0 or report.errors.b > 0 then
    verdict = "inconclusive"
    reason = ("requests failed (A %d, B %d): a side that errors is not measured fairly")
      :format(report.errors.a, report.errors.b)
  elseif not d.lo then
    verdict = "inconclusive"
    reason = ("%d round%s: an interval needs at least 2 (--rounds)"):format(rounds,
      rounds == 1 and "" or "s")
  elseif d.lo > threshold * 100 then
    verdict = "b_faster"
    reason = ("the whole interval %s lies above +%s"):format(interval, band)
  elseif d.hi < -threshold * 100 then
    verdict = "a_faster"
    reason = ("the whole interval %s lies below -%s"):format(interval, band)
  elseif d.lo >= -threshold * 100 and d.hi <= threshold * 100 then
    verdict = "no_difference"
    reason = ("the whole interval %s lies within +-%s"):format(interval, band)
  else
    verdict = "inconclusive"
    reason = ("the interval %s crosses the +-%s band: more rounds would narrow it")
      :format(interval, band)
  end
  report.verdict_reason = reason
  report.method = ("per round, the ratio B/A of requests/s (the two sides ran back to back); "
    .. "the estimate is the geometric mean of the %d ratios, the interval a Student t "
    .. "interval at %g%% over them. It is not the ratio of the two medians."):format(
    d.n or 0, confidence * 100)
  report.verdict = verdict
  local ci = d.lo and string.format(" (%g%% CI %s .. %s)", confidence * 100, fmt_pct(d.lo),
    fmt_pct(d.hi)) or ""
  report.summary = ("B vs A: %s requests/s%s, p50 %s, p99 %s over %d rounds: %s"):format(
    fmt_pct(d.pct), ci, fmt_pct(diff.p50.pct), fmt_pct(diff.p99.pct), rounds, verdict)
  return report
end

return M
