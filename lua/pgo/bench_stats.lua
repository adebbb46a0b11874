-- pgo.bench_stats: the statistics benchstat (golang.org/x/perf) reports, written in Lua
-- from the facts in shared/docs/benchstat-reference.md §3-§4 (no upstream code).
--
--   stats.quantile(sorted, q)        R8 quantile of an ascending array
--   stats.median_ci(n, confidence)   -> lo, hi (1-based order statistics, 0 / n+1 = infinite)
--   stats.ci_min_samples(confidence) -> n, op ("need >= n" / "need > 50")
--   stats.utest(x, y)                -> U1, p (two-sided)  |  nil, message, code
--   stats.utest_min_samples(alpha)   -> n, op
--   stats.norm_cdf(x), stats.norm_inv(p), stats.erfc(x)
--   stats.geomean(xs)                exp of the running mean of logs (NaN if any x <= 0)
--   stats.gofloat(x)                 Go's %v text of a float64 ("1e+06", "0.0001", "256")
--
-- Mann-Whitney exact distribution: a counting DP over tie groups (the formulation in the
-- reference §4.6), so its p-values agree with go-moremath to ~1e-14, not bit for bit;
-- formatted with benchstat's "%.3f" they are identical on all 420 reference cases.
local M = {}

local floor, ceil, sqrt, exp, log, abs = math.floor, math.ceil, math.sqrt, math.exp,
  math.log, math.abs
local huge = math.huge
local fmt = string.format

-- ---- Go float text ----------------------------------------------------------------------

-- Shortest decimal digits that read back as x: mantissa digits (no dot) and the decimal
-- exponent of the first digit.
local function shortest(x)
  for prec = 1, 17 do
    local s = fmt("%." .. (prec - 1) .. "e", x)
    if tonumber(s) == x or prec == 17 then
      local m, e = s:match("^%-?([%d%.]+)e([-+]%d+)$")
      local digits = m:gsub("%.", ""):gsub("0+$", "")
      if digits == "" then digits = "0" end
      return digits, tonumber(e)
    end
  end
end

--- Go's %v text of a float64 (strconv 'g' with the shortest precision): plain decimal
-- unless the decimal exponent is < -4 or >= 6; exponents have a sign and two digits.
function M.gofloat(x)
  if x ~= x then return "NaN" end
  if x == huge then return "+Inf" end
  if x == -huge then return "-Inf" end
  if x == 0 then return (1 / x < 0) and "-0" or "0" end
  local sign = x < 0 and "-" or ""
  local digits, e = shortest(abs(x))
  local nd = #digits
  if e < -4 or e >= 6 then
    local m = digits:sub(1, 1)
    if nd > 1 then m = m .. "." .. digits:sub(2) end
    local ev = abs(e)
    return sign .. m .. "e" .. (e < 0 and "-" or "+") .. (ev < 10 and "0" .. ev or tostring(ev))
  end
  if e < 0 then return sign .. "0." .. string.rep("0", -e - 1) .. digits end
  if nd <= e + 1 then return sign .. digits .. string.rep("0", e + 1 - nd) end
  return sign .. digits:sub(1, e + 1) .. "." .. digits:sub(e + 2)
end

--- Geometric mean: exp of the running mean of the logs; NaN when a value is <= 0.
-- benchstat calls Go's math.Exp. On amd64 CPUs with FMA, Go takes a fused code path
-- whose last bit differs from the C library's exp for about 9% of arguments, so a
-- geomean printed with every digit (CSV) can differ from benchstat's in the 17th digit
-- (pgolua-examples ex1: 362.0386719675123 here, 362.03867196751224 there). Text,
-- markdown and every rounded figure are unaffected.
function M.geomean(xs)
  local n = #xs
  if n == 0 then return 0 / 0 end
  local m = 0
  for i = 1, n do
    local x = xs[i]
    if not (x > 0) then return 0 / 0 end
    m = m + (log(x) - m) / i
  end
  return exp(m)
end

-- ---- normal distribution ---------------------------------------------------------------

local SQRTPI = sqrt(math.pi)

--- Complementary error function, accurate to a few ulp: a Taylor series of erf below
-- 2.5, a continued fraction (modified Lentz) above.
function M.erfc(x)
  if x ~= x then return x end
  if x < 0 then return 2 - M.erfc(-x) end
  if x < 2.5 then
    local x2 = x * x
    local sum, term, n = x, x, 0
    repeat
      n = n + 1
      term = -term * x2 / n
      local add = term / (2 * n + 1)
      sum = sum + add
    until abs(add) <= 1e-17 * abs(sum) or n > 200
    return 1 - 2 / SQRTPI * sum
  end
  if x > 27.3 then return 0 end
  -- erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  local tiny = 1e-300
  local f, C, D = x, x, 0
  for k = 1, 5000 do
    local a = k / 2
    D = x + a * D
    if D == 0 then D = tiny end
    D = 1 / D
    C = x + a / C
    if C == 0 then C = tiny end
    local delta = C * D
    f = f * delta
    if abs(delta - 1) < 1e-16 then break end
  end
  return exp(-x * x) / SQRTPI / f
end

--- Standard normal CDF, Phi(x) = erfc(-x/sqrt2)/2.
function M.norm_cdf(x)
  return M.erfc(-x / math.sqrt(2)) / 2
end

-- Acklam's rational approximation of the normal quantile (published coefficients),
-- refined by one Halley step.
local A = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
  1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 }
local B = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
  6.680131188771972e+01, -1.328068155288572e+01 }
local C = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
  -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 }
local D = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
  3.754408661907416e+00 }
local PLOW = 0.02425

function M.norm_inv(p)
  if p <= 0 then return -huge end
  if p >= 1 then return huge end
  local x
  if p < PLOW then
    local q = sqrt(-2 * log(p))
    x = (((((C[1] * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) * q + C[6]) /
        ((((D[1] * q + D[2]) * q + D[3]) * q + D[4]) * q + 1)
  elseif p <= 1 - PLOW then
    local q = p - 0.5
    local r = q * q
    x = (((((A[1] * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * r + A[6]) * q /
        (((((B[1] * r + B[2]) * r + B[3]) * r + B[4]) * r + B[5]) * r + 1)
  else
    local q = sqrt(-2 * log(1 - p))
    x = -(((((C[1] * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) * q + C[6]) /
         ((((D[1] * q + D[2]) * q + D[3]) * q + D[4]) * q + 1)
  end
  local e = 0.5 * M.erfc(-x / math.sqrt(2)) - p
  local u = e * sqrt(2 * math.pi) * exp(x * x / 2)
  x = x - u / (1 + x * u / 2)
  return x
end

-- ---- quantiles and the median confidence interval -------------------------------------

--- R8 quantile (Hyndman & Fan) of an ascending array.
function M.quantile(xs, q)
  local n = #xs
  if n == 0 then return 0 / 0 end
  local h = 1 / 3 + q * (n + 1 / 3)
  local k = floor(h)
  local frac = h - k
  if k <= 0 then return xs[1] end
  if k >= n then return xs[n] end
  return xs[k] + frac * (xs[k + 1] - xs[k])
end

-- Order statistics of the reference's QuantileCI(0.5) for the usual confidence levels
-- (shared/fixtures/bench/derived/median-ci-orders.tsv, produced by go-moremath). For
-- 21 <= n <= 30 the reference's choice between two equally likely sides depends on the
-- last bit of exp(lgamma(...)); the table removes that hazard. n = 1..60 in order.
local ci_table = {
  [0.9] = "0,2 0,3 0,4 0,4 1,5 1,6 1,6 2,7 2,8 2,8 3,9 3,9 4,10 4,11 4,11 5,12 5,12 6,13 6,14 6,14 7,15 8,16 8,16 8,17 8,17 9,18 9,18 10,19 11,20 11,20 11,21 11,21 12,22 12,22 13,23 13,24 13,24 14,25 14,25 15,26 15,26 16,27 16,27 17,28 17,29 17,29 18,30 18,30 19,31 19,31 20,32 20,32 21,33 21,34 21,34 22,35 22,35 23,36 23,36 24,37",
  [0.95] = "0,2 0,3 0,4 0,5 0,5 1,6 1,7 1,7 2,8 2,9 2,9 3,10 3,11 3,11 4,12 4,12 5,13 5,14 5,14 6,15 6,16 6,16 7,17 8,18 8,18 8,19 8,19 9,20 9,20 10,21 10,22 10,22 11,23 11,23 12,24 12,24 13,25 13,26 13,26 14,27 14,27 15,28 15,29 15,29 16,30 16,30 17,31 17,31 18,32 18,32 19,33 19,34 19,34 20,35 20,35 21,36 21,36 22,37 22,38 22,38",
  [0.99] = "0,2 0,3 0,4 0,5 0,6 0,7 0,7 1,8 1,9 1,10 1,10 2,11 2,12 2,12 3,13 3,14 3,14 4,15 4,16 4,16 5,17 5,18 5,18 6,19 6,19 7,20 7,21 8,22 8,22 8,23 8,23 9,24 9,25 9,25 10,26 10,26 11,27 11,28 11,28 12,29 12,29 13,30 13,31 13,31 14,32 14,32 15,33 15,34 15,34 16,35 16,35 17,36 17,36 18,37 18,38 18,38 19,39 19,39 20,40 20,41",
}
local ci_parsed = {}
for conf, s in pairs(ci_table) do
  local t = {}
  for lo, hi in s:gmatch("(%d+),(%d+)") do t[#t + 1] = { tonumber(lo), tonumber(hi) } end
  ci_parsed[conf] = t
end
ci_parsed[0.95][75] = { 29, 47 }
ci_parsed[0.95][100] = { 40, 60 }
ci_parsed[0.95][200] = { 86, 114 }

local function choose(n, k)
  if k < 0 or k > n then return 0 end
  if k > n - k then k = n - k end
  local r = 1
  for i = 1, k do r = r * (n - k + i) / i end
  return floor(r + 0.5) + 0.0
end

-- The exact binomial walk (n <= 30).
local function ci_binomial(n, conf)
  local function pmf(k)
    if k < 0 or k > n then return 0 end
    return choose(n, k) * 0.5 ^ k * 0.5 ^ (n - k)
  end
  local x = ceil((n + 1) * 0.5) - 1
  local l, r = x, x + 1
  local acc = pmf(x)
  while acc < conf do
    local lp, rp = pmf(l - 1), pmf(r)
    if not (lp > 0 or rp > 0) then break end
    if lp >= rp then acc = acc + lp; l = l - 1 else acc = acc + rp; r = r + 1 end
  end
  if l < 0 then l = 0 end
  if r > n + 1 then r = n + 1 end
  return l, r
end

-- Normal approximation with continuity correction (n > 30).
local function ci_normal(n, conf)
  local mu, sigma = n / 2, sqrt(n / 4)
  local a = (1 - conf) / 2
  local l1 = mu + sigma * M.norm_inv(a)
  local r1 = 2 * mu - l1
  local l = floor(floor(l1 - 0.5) + 0.5) + 1
  local r = floor(ceil(r1 - 0.5) + 0.5) + 1
  local function cf(lo, hi)
    return M.norm_cdf((hi - 0.5 - mu) / sigma) - M.norm_cdf((lo - 0.5 - mu) / sigma)
  end
  local c1, c0 = cf(l, r - 1), cf(l, r)
  if c1 >= conf and c1 < c0 then r = r - 1 end
  if l < 0 then l = 0 end
  if r > n + 1 then r = n + 1 end
  return l, r
end

--- The median's confidence interval as 1-based order statistics lo, hi of a sample of
-- size n: [x_lo, x_hi], where lo < 1 means -inf and hi > n means +inf.
function M.median_ci(n, conf)
  if conf >= 1 then return 0, n + 1 end
  local t = ci_parsed[conf]
  local e = t and t[n]
  if e then return e[1], e[2] end
  if n <= 30 then return ci_binomial(n, conf) end
  return ci_normal(n, conf)
end

--- The same, always computed (no table): the spec checks it against the table.
function M.median_ci_computed(n, conf)
  if conf >= 1 then return 0, n + 1 end
  if n <= 30 then return ci_binomial(n, conf) end
  return ci_normal(n, conf)
end

--- The smallest sample size whose median CI is finite at this confidence:
-- n, ">=" (2 <= n <= 50) or 50, ">".
function M.ci_min_samples(conf)
  for n = 2, 50 do
    local lo, hi = M.median_ci(n, conf)
    if lo > 0 and hi <= n then return n, ">=" end
  end
  return 50, ">"
end

-- ---- Mann-Whitney U test ---------------------------------------------------------------

local function sorted_copy(xs)
  local t = {}
  for i = 1, #xs do t[i] = xs[i] end
  table.sort(t)
  return t
end

-- P(U1 <= limit2/2) under the null permutation distribution given the tie groups
-- (sizes[j] in ascending value order), as a fraction of C(N, n1). Counts with doubles.
local function exact_cdf(sizes, n1, n2, limit2)
  local N = n1 + n2
  -- dp[k] = { [u2] = count }: k items of sample 1 chosen so far, doubled partial U1 = u2
  local dp = { [0] = { [0] = 1.0 } }
  local before = 0
  for _, t in ipairs(sizes) do
    local nd = {}
    local after = N - before - t
    for k, row in pairs(dp) do
      for u2, cnt in pairs(row) do
        local cmax = t
        if n1 - k < cmax then cmax = n1 - k end
        for c = 0, cmax do
          -- remaining capacity checks: sample 1 must still be fillable, sample 2 not overfull
          local k2 = k + c
          if k2 + after >= n1 and (before + t - k2) <= n2 then
            local add = 2 * c * (before - k) + c * (t - c)
            local nu = u2 + add
            if nu <= limit2 then
              local r = nd[k2]
              if not r then r = {}; nd[k2] = r end
              r[nu] = (r[nu] or 0) + cnt * choose(t, c)
            end
          end
        end
      end
    end
    dp = nd
    before = before + t
  end
  local total = 0
  local row = dp[n1]
  if row then for _, cnt in pairs(row) do total = total + cnt end end
  local all = 1
  for i = 1, n1 do all = all * (n2 + i) / i end
  return total / all
end

-- With exactly two tie groups (sizes t0, t1) go-moremath counts the arrangements with
-- doubled U1 <= twoU by a closed sum over r2, the sample-1 items in the second group, up
-- to (twoU - n1 (t0 - n1)) / (t0 + t1) divided with Go's truncation toward zero. When twoU
-- is below every attainable value that bound is 0, not negative, and the r2 = 0 term still
-- counts: benchstat's p-value then is not the exact one, and pgolua prints benchstat's.
local function two_groups_count(t0, t1, n1, twoU)
  local num = twoU - n1 * (t0 - n1)
  local hi = num >= 0 and num // (t0 + t1) or -((-num) // (t0 + t1))
  local sum = 0.0
  for r2 = math.max(0, n1 - t0), hi do sum = sum + choose(t0, n1 - r2) * choose(t1, r2) end
  return sum
end

-- Without ties the number of arrangements with U1 = u is the coefficient of q^u in the
-- Gaussian binomial [N choose n1]_q = prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i); only the
-- coefficients up to `limit` are kept. Returns P(U1 <= limit).
local function exact_cdf_noties(n1, n2, limit)
  local p = { [0] = 1.0 }
  for u = 1, limit do p[u] = 0.0 end
  for i = 1, n1 do
    for u = i, limit do p[u] = p[u] + p[u - i] end          -- divide by (1 - q^i)
    local m = n2 + i
    for u = limit, m, -1 do p[u] = p[u] - p[u - m] end      -- times (1 - q^m)
  end
  local total = 0.0
  for u = 0, limit do total = total + p[u] end
  local all = 1
  for i = 1, n1 do all = all * (n2 + i) / i end
  return total / all
end

--- Two-sided Mann-Whitney U test of x (baseline, n1) against y (n2).
-- @treturn[1] number U1 (the U statistic of x; a multiple of 0.5)
-- @treturn[1] number two-sided p-value
-- @treturn[2] nil, message ("all samples are equal", "sample is too small"), code
function M.utest(x, y)
  local n1, n2 = #x, #y
  if n1 == 0 or n2 == 0 then return nil, "sample is too small", "too_small" end
  local a, b = sorted_copy(x), sorted_copy(y)
  -- merge, grouping equal values; rank sums with mid-ranks
  local i, j, pos = 1, 1, 0
  local r1 = 0
  local sizes = {}
  local ties = false
  while i <= n1 or j <= n2 do
    local v
    if j > n2 or (i <= n1 and a[i] < b[j]) then v = a[i] else v = b[j] end
    local c1, c2 = 0, 0
    while i <= n1 and a[i] == v do c1 = c1 + 1; i = i + 1 end
    while j <= n2 and b[j] == v do c2 = c2 + 1; j = j + 1 end
    local t = c1 + c2
    if t == 0 then break end   -- NaN: cannot be ranked
    local first, last = pos + 1, pos + t
    r1 = r1 + c1 * (first + last) / 2
    sizes[#sizes + 1] = t
    if t > 1 then ties = true end
    pos = pos + t
  end
  if pos ~= n1 + n2 then return nil, "sample contains NaN", "nan" end
  local u1 = r1 - n1 * (n1 + 1) / 2
  local u2 = n1 * n2 - u1
  local us = u1 < u2 and u1 or u2
  local exact
  if ties then exact = n1 <= 25 and n2 <= 25 else exact = n1 <= 50 and n2 <= 50 end
  if exact then
    if #sizes == 1 then return nil, "all samples are equal", "all_equal" end
    if u1 == u2 then return u1, 1 end
    local p
    if ties and #sizes == 2 then
      p = two_groups_count(sizes[1], sizes[2], n1, floor(2 * us + 0.5)) / choose(n1 + n2, n1)
    elseif ties then p = exact_cdf(sizes, n1, n2, floor(2 * us + 0.5))
    else p = exact_cdf_noties(n1, n2, floor(us + 0.5)) end
    return u1, 2 * p
  end
  local t = 0
  for _, s in ipairs(sizes) do t = t + (s * s * s - s) end
  local N = n1 + n2
  local mu = n1 * n2 / 2
  local sigma = sqrt(n1 * n2 * ((N + 1) - t / (N * (N - 1))) / 12)
  if sigma == 0 then return nil, "all samples are equal", "all_equal" end
  local d = u1 - mu
  if d > 0 then d = d - 0.5 elseif d < 0 then d = d + 0.5 end
  local z = d / sigma
  local cdf = M.norm_cdf(z)
  local p = 2 * math.min(cdf, 1 - cdf)
  return u1, p
end

-- Smallest attainable two-sided p-value with two samples of size n: 2/C(2n, n).
local min_p = {}
for n = 1, 9 do min_p[n] = 2 / choose(2 * n, n) end

--- The smallest sample size (per side) at which the U test can reach p <= alpha:
-- n, ">=" or 10, ">".
function M.utest_min_samples(alpha)
  for n = 1, 9 do
    if min_p[n] <= alpha then return n, ">=" end
  end
  return 10, ">"
end

M.choose = choose

return M
