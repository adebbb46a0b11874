-- pgo.ab: what an A/B of -pgo=off against a profile measured, said honestly. On top of
-- pgo.bench (benchstat's statistics) it gives every benchmark a verdict, gates on it and
-- renders the result for a terminal, a pull request, a runbook and JSON.
--
--   local doc, cmp = pgo.ab.compare_files(old, new, opts)   -- nil, message, code on bad input
--     old, new: pgo.bench.load arguments (path, "label=path", {path=, label=})
--     opts: alpha (0.05), threshold (0.05: the gate's regression bar and the spread a
--       verdict must resolve), min_effect (0.02: smaller significant changes count as no
--       difference), sides = {old = "-pgo=off", new = "-pgo=FILE"} (how each was built),
--       geomean_unit ("sec/op"), notes = {...} (warnings of the step that made the files),
--       rounds = n, order = "ABBA" (how the runs were interleaved, for the report)
--   pgo.ab.verdict(comparison, opts) -> {verdict =, direction =, reason =, settle =}
--   pgo.ab.text(doc, cmp, {gate = bool}), pgo.ab.markdown(doc, cmp, {gate = bool})
--   pgo.ab.runbook_section(doc)      -> markdown of a saved doc (ab.json), for a runbook
--   pgo.ab.exit_code(doc, gate)      -> pgo.ab.EXIT.*
--   pgo.ab.live_text(report, opts), pgo.ab.live_markdown(report, opts),
--   pgo.ab.live_gate(report, threshold) -> ok, reasons      (report: pgo.ab_load's)
--
-- Verdicts, per benchmark and unit:
--   faster / slower (time and per-second units; better / worse for others such as B/op):
--     p < alpha and the medians differ by at least min_effect;
--   no_difference: not significant while both sides' spread (benchstat's "± X%", the half
--     width of the median's 95% interval) is within threshold, so a change as large as
--     the threshold would have shown; or significant but under min_effect; or the two
--     builds hold the same machine code (pgo.ab_run.same_code), so a difference is noise;
--   too_noisy: not significant and a spread over threshold, or too few runs for an
--     interval (under 6) or for the test: `settle` says what would decide it.
-- Gate: "failed" on a significant regression beyond threshold, a benchmark present on one
-- side only, a run that failed (FAIL line, panic: pgo.ab_run.failure_lines), or nothing
-- compared; else "too_noisy" when a benchmark is too noisy to tell; else "ok".
local bench = require "pgo.bench"
local recipe = require "pgo.recipe"
local ab_run = require "pgo.ab_run"
local report = require "pgo.report"

local M = {}

--- Exit codes of an A/B (recipes/ab.lua): 3 the gate failed, 4 too noisy to tell.
M.EXIT = { ok = 0, error = 1, gate_failed = 3, too_noisy = 4 }

local huge = math.huge
local null = require("cjson").null

local function pct(x, d) return ("%+." .. (d or 2) .. "f%%"):format(x * 100) end
-- "±3%" from a spread in percent (null or infinite: the interval is open).
local function spread_text(p)
  if type(p) ~= "number" or p == huge then return "±∞" end
  return ("±%.0f%%"):format(p)
end
-- "n=10" or "n=10+8" (counts may come back from JSON as floats)
local function n_text(c)
  local a, b = ("%d"):format(math.floor(c.n1)), ("%d"):format(math.floor(c.n2))
  return a == b and ("n=" .. a) or ("n=" .. a .. "+" .. b)
end
local function p_text(c) return c.assume == "exact" and "exact" or ("p=%.3f"):format(c.p) end

local function config_object(config)
  local t = {}
  for _, kv in ipairs(config or {}) do
    if kv.value ~= "" then t[kv.key] = kv.value end
  end
  return t
end

local function speed_unit(unit, higher)
  return unit == "sec/op" or (higher and unit:match("/s$") ~= nil)
end

--- The verdict of one comparison (a record of cmp.comparisons). See the top of the file.
function M.verdict(c, opts)
  opts = opts or {}
  local alpha, threshold = opts.alpha or 0.05, opts.threshold or 0.05
  local min_effect = opts.min_effect or 0.02
  local speed = speed_unit(c.unit, c.higher_is_better)
  local v = {}
  local significant = c.assume == "exact" and c.delta ~= 0 or c.p < alpha
  if opts.same_code then
    v.verdict = "no_difference"
    v.reason = "the two builds hold the same machine code: the profile changed nothing here"
    return v
  end
  if significant and c.delta and math.abs(c.delta) >= min_effect then
    local better = (c.higher_is_better and c.delta > 0) or (not c.higher_is_better and c.delta < 0)
    v.direction = better and "better" or "worse"
    v.verdict = speed and (better and "faster" or "slower") or v.direction
    v.reason = ("%s (%s %s)"):format(pct(c.delta), p_text(c), n_text(c))
    return v
  end
  if significant then
    v.verdict = "no_difference"
    v.reason = ("%s is significant (%s) but under the %s that counts as a change")
      :format(pct(c.delta or 0), p_text(c), recipe.pct(min_effect, 0))
    return v
  end
  local need = bench.stats.ci_min_samples(0.95)
  local spread = math.max(c.spread_old or huge, c.spread_new or huge)
  if c.n1 < need or c.n2 < need then
    v.verdict = "too_noisy"
    v.reason = ("%s runs: too few for a confidence interval"):format(n_text(c))
    v.settle = ("more rounds: at least %d per side (--count)"):format(math.max(need, 10))
  elseif spread > threshold then
    v.verdict = "too_noisy"
    v.reason = ("not significant (%s) and the runs spread %s, wider than the %s to resolve")
      :format(p_text(c), spread_text(spread * 100), recipe.pct(threshold, 0))
    v.settle = "more rounds (--count), a longer --benchtime, a quieter machine, or CPU "
      .. "pinning (taskset -c N)"
  else
    v.verdict = "no_difference"
    v.reason = ("not significant (%s), runs spread %s: a %s change would have shown")
      :format(p_text(c), spread_text(spread * 100), recipe.pct(threshold, 0))
  end
  return v
end

-- Benchmarks present on one side only: { {name=, unit=, pkg=, side = label} }.
local function one_sided(cmp)
  local list = recipe.array()
  for _, t in ipairs(cmp.tables) do
    local pkg = config_object(t.config).pkg
    for _, row in ipairs(t.rows) do
      for j = 1, math.max(2, #t.columns) do
        if not row.cells[j] then
          local other = j == 1 and 2 or 1
          list[#list + 1] = { name = row.name, unit = t.unit, pkg = pkg or null,
            only_in = t.columns[other] or "?", missing_in = t.columns[j] or "?" }
        end
      end
    end
  end
  return list
end

-- Every warning once: notes of the step that made the files, parse errors, footnotes.
local function collect_warnings(cmp, extra)
  local list, seen = recipe.array(), {}
  local function add(w) if not seen[w] then seen[w] = true; list[#list + 1] = w end end
  for _, w in ipairs(extra or {}) do add(w) end
  for _, e in ipairs(cmp.errors or {}) do add(e) end
  for _, t in ipairs(cmp.tables) do
    local pkg = config_object(t.config).pkg
    local where = pkg and (" [pkg=" .. pkg .. "]") or ""
    for _, row in ipairs(t.rows) do
      for j, column in ipairs(t.columns) do
        for _, w in ipairs(row.cells[j] and row.cells[j].warnings or {}) do
          add(("%s%s %s (%s): %s"):format(row.name, where, t.unit, column, w))
        end
        for _, w in ipairs(row.comparisons[j] and row.comparisons[j].warnings or {}) do
          add(("%s%s %s: %s"):format(row.name, where, t.unit, w))
        end
      end
    end
  end
  return list
end

-- The geomean over the benchmarks with `unit` on both sides of new/old, minus 1, in %.
local function geomean_delta_pct(cmp, unit)
  local sum, n = 0, 0
  for _, c in ipairs(cmp.comparisons) do
    if c.unit == unit and c.old > 0 and c.new > 0 and c.old < huge and c.new < huge then
      sum, n = sum + math.log(c.new / c.old), n + 1
    end
  end
  if n == 0 then return nil, 0 end
  return (math.exp(sum / n) - 1) * 100, n
end

local known = { alpha = true, threshold = true, min_effect = true, sides = true,
  geomean_unit = true, notes = true, rounds = true, order = true, same_code = true }

--- Load two benchmark files, compare, judge, gate. Returns doc (plain data, the JSON
-- report) and cmp (pgo.bench.compare's), or nil, message, code.
function M.compare_files(old, new, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not known[k] then error("bad argument #3 to 'compare_files' (unknown option '"
      .. tostring(k) .. "')", 2) end
  end
  local alpha, threshold = opts.alpha or 0.05, opts.threshold or 0.05
  local sets, failed_runs = {}, recipe.array()
  for i, a in ipairs { old, new } do
    local s, err, code = bench.load(a)
    if not s then return nil, err, code end
    local f = s.files[1]
    if s.results == 0 then
      return nil, ("%s: no benchmark results (expected `go test -bench` output)"):format(f.path),
        "no_results"
    end
    for _, line in ipairs(ab_run.failure_lines(recipe.read_file(f.path))) do
      failed_runs[#failed_runs + 1] = f.label .. ": " .. line
    end
    sets[i] = s
  end
  local lo, ln = sets[1].files[1], sets[2].files[1]
  if lo.label == ln.label then
    return nil, ("both sides are labelled %s; name them with OLD=PATH NEW=PATH"):format(lo.label),
      "same_label"
  end
  local cmp = bench.compare(sets[1], sets[2], { alpha = alpha })
  local gunit = opts.geomean_unit or "sec/op"
  local gm, ngm = geomean_delta_pct(cmp, gunit)
  local doc = { mode = "files", old = { label = lo.label, path = lo.path },
    new = { label = ln.label, path = ln.path },
    sides = opts.sides or null, rounds = opts.rounds or null,
    order = opts.order or null, alpha = alpha, threshold = threshold,
    min_effect = opts.min_effect or 0.02, geomean_unit = gunit, geomean_delta_pct = gm or null,
    geomean_benchmarks = ngm, comparisons = recipe.array(), geomeans = recipe.array(),
    counts = { faster = 0, slower = 0, better = 0, worse = 0, no_difference = 0, too_noisy = 0 },
    one_sided = one_sided(cmp), failed_runs = failed_runs, same_code = opts.same_code or false,
    warnings = collect_warnings(cmp, opts.notes) }
  local regressions, noisy = recipe.array(), 0
  for _, c in ipairs(cmp.comparisons) do
    local cfg = config_object(c.config)
    local v = M.verdict(c, { alpha = alpha, threshold = threshold, min_effect = opts.min_effect,
      same_code = opts.same_code })
    doc.counts[v.verdict] = doc.counts[v.verdict] + 1
    local rec = { name = c.name, unit = c.unit, pkg = cfg.pkg or null, config = cfg,
      old = c.old, new = c.new, delta_pct = c.delta and c.delta * 100 or null, p = c.p,
      significant = c.significant, text = c.text, n_old = c.n1, n_new = c.n2,
      spread_old_pct = c.spread_old * 100, spread_new_pct = c.spread_new * 100,
      higher_is_better = c.higher_is_better, verdict = v.verdict, reason = v.reason,
      settle = v.settle or null }
    doc.comparisons[#doc.comparisons + 1] = rec
    if v.direction == "worse" and math.abs(c.delta) > threshold then
      regressions[#regressions + 1] = rec
    end
    if v.verdict == "too_noisy" then noisy = noisy + 1 end
  end
  for _, t in ipairs(cmp.tables) do
    local ra = t.geomean.ratios[2]
    if ra then
      local cfg = config_object(t.config)
      doc.geomeans[#doc.geomeans + 1] = { unit = t.unit, pkg = cfg.pkg or null, config = cfg,
        benchmarks = #t.rows, delta_pct = ra.ratio and (ra.ratio - 1) * 100 or null,
        text = ra.text }
    end
  end
  local reasons = recipe.array()
  for _, r in ipairs(regressions) do
    reasons[#reasons + 1] = ("%s %s: %+.2f%% (p=%.3f %s) is worse than the %s threshold")
      :format(r.name, r.unit, r.delta_pct, r.p, n_text { n1 = r.n_old, n2 = r.n_new },
        recipe.pct(threshold))
  end
  for _, m in ipairs(doc.one_sided) do
    reasons[#reasons + 1] = ("%s %s: only in %s, missing in %s (did it fail or panic there?)")
      :format(m.name, m.unit, m.only_in, m.missing_in)
  end
  for _, f in ipairs(failed_runs) do reasons[#reasons + 1] = "a run failed: " .. f end
  if #cmp.comparisons == 0 then
    reasons[#reasons + 1] = ("no benchmark is in both %s and %s"):format(lo.label, ln.label)
  end
  local status = #reasons > 0 and "failed" or noisy > 0 and "too_noisy" or "ok"
  doc.gate = { status = status, ok = status == "ok", threshold = threshold, alpha = alpha,
    reasons = reasons, failures = regressions, too_noisy = noisy,
    compared = #cmp.comparisons }
  return doc, cmp
end

--- The exit code of an A/B: 0 without the gate; with it 3 failed, 4 too noisy, 0 ok.
function M.exit_code(doc, gate)
  if not gate then return M.EXIT.ok end
  return ({ failed = M.EXIT.gate_failed, too_noisy = M.EXIT.too_noisy })[doc.gate.status]
    or M.EXIT.ok
end

-- {=====================================================================================
-- Rendering

local function sides_line(doc)
  local s = ("A/B: %s (baseline) against %s"):format(doc.old.label, doc.new.label)
  if doc.sides ~= null then
    s = ("A/B: %s built with %s, %s built with %s"):format(doc.old.label, doc.sides.old,
      doc.new.label, doc.sides.new)
  end
  if doc.rounds ~= null then
    s = s .. ("; %d rounds, the two binaries alternating (%s)"):format(doc.rounds,
      doc.order ~= null and doc.order or "interleaved")
  end
  return s
end

local SAME_CODE = "both builds hold the same machine code (.text byte for byte): the profile "
  .. "changed nothing here, and every difference above is noise"

local VERDICT_WORDS = { no_difference = "no difference", too_noisy = "too noisy to tell" }
local function verdict_word(v) return VERDICT_WORDS[v] or v end

local function change_text(r)
  if r.delta_pct == null then return "?" end
  return ("%+.2f%%"):format(r.delta_pct)
end

local function geomean_sentence(doc)
  if doc.geomean_delta_pct == null then return nil end
  local g = doc.geomean_delta_pct
  return ("geomean of %s over %d benchmark%s: %+.2f%% (%s; a summary, not a test of "
    .. "significance)"):format(doc.geomean_unit, doc.geomean_benchmarks,
    doc.geomean_benchmarks == 1 and "" or "s", g, g < 0 and "lower" or g > 0 and "higher"
    or "unchanged")
end

local function summary_sentence(doc)
  local c = doc.counts
  local parts = {}
  for _, k in ipairs { "faster", "better", "slower", "worse" } do
    if c[k] > 0 then parts[#parts + 1] = ("%d %s"):format(c[k], k) end
  end
  parts[#parts + 1] = ("%d no difference"):format(c.no_difference)
  parts[#parts + 1] = ("%d too noisy to tell"):format(c.too_noisy)
  return ("verdicts (alpha %g, n per side in each row): %s"):format(doc.alpha,
    table.concat(parts, ", "))
end

-- The gate's verdict: a heading ("gate passed") and what it rests on.
local function gate_sentence(doc)
  local g = doc.gate
  if g.status == "ok" then
    return "gate passed", ("no significant regression beyond %s and every benchmark decided "
      .. "(%d compared)"):format(recipe.pct(g.threshold), g.compared)
  elseif g.status == "too_noisy" then
    return "gate: too noisy to tell", ("%d comparison%s could not be decided (exit %d); "
      .. "see what would settle each"):format(g.too_noisy, g.too_noisy == 1 and "" or "s",
      M.EXIT.too_noisy)
  end
  return "gate FAILED", table.concat(g.reasons, "; ")
end

--- The report for a terminal: benchstat's table, the verdicts, the gate (opts.gate).
function M.text(doc, cmp, opts)
  opts = opts or {}
  local table_text = bench.report(cmp, { format = "text" })
  local l = { (table_text:gsub("[^\n]+", report.terminal_text)), sides_line(doc),
    summary_sentence(doc) }
  local rows = { "  benchmark\tunit\tchange\tp\tn\tspread old/new\tverdict\t" }
  for _, r in ipairs(doc.comparisons) do
    rows[#rows + 1] = ("  %s\t%s\t%s\t%s\t%s\t%s / %s\t%s"):format(report.terminal_text(r.name),
      r.unit, change_text(r), ("%.3f"):format(r.p), n_text { n1 = r.n_old, n2 = r.n_new },
      spread_text(r.spread_old_pct), spread_text(r.spread_new_pct),
      verdict_word(r.verdict)) .. "\t"
  end
  l[#l + 1] = table.concat(report.tabwrite(rows), "\n")
  for _, r in ipairs(doc.comparisons) do
    if r.verdict == "too_noisy" then
      l[#l + 1] = ("  %s %s: %s; to settle: %s"):format(report.terminal_text(r.name), r.unit,
        r.reason, r.settle)
    end
  end
  if doc.same_code then l[#l + 1] = SAME_CODE end
  l[#l + 1] = geomean_sentence(doc)
  if opts.gate then l[#l + 1] = table.concat({ gate_sentence(doc) }, ": ") end
  return table.concat(l, "\n") .. "\n"
end

local md = recipe.md

-- The verdict table in markdown, from a doc (also what the runbook shows).
local function verdict_rows(doc)
  local l = { "| benchmark | unit | change | p | n | spread old / new | verdict |",
    "| --- | --- | ---: | ---: | ---: | --- | --- |" }
  for _, r in ipairs(doc.comparisons) do
    local v = verdict_word(r.verdict)
    if r.verdict == "too_noisy" and r.settle ~= null then v = v .. " (" .. r.settle .. ")" end
    l[#l + 1] = ("| %s | %s | %s | %.3f | %s | %s / %s | %s |"):format(md(r.name), md(r.unit),
      change_text(r), r.p, n_text { n1 = r.n_old, n2 = r.n_new },
      spread_text(r.spread_old_pct), spread_text(r.spread_new_pct), md(v))
  end
  return l
end

local function sides_md(doc)
  if type(doc.sides) ~= "table" then
    return ("%s (baseline) against %s"):format(md(doc.old.label), md(doc.new.label))
  end
  local sides = doc.sides
  return ("%s = %s vs %s = %s"):format(md(doc.old.label), recipe.md_code(sides.old),
    md(doc.new.label), recipe.md_code(sides.new))
end

--- The report for a pull request: sides, benchstat's table, verdicts, gate (opts.gate).
function M.markdown(doc, cmp, opts)
  opts = opts or {}
  local l = { "**A/B**: " .. sides_md(doc) .. (doc.rounds ~= null and
    (", %d interleaved rounds"):format(doc.rounds) or "") .. ".", "",
    (bench.report(cmp, { format = "markdown" }):gsub("\n$", "")), "",
    md(summary_sentence(doc)) .. ".", "" }
  for _, row in ipairs(verdict_rows(doc)) do l[#l + 1] = row end
  if doc.same_code then l[#l + 1] = ""; l[#l + 1] = md(SAME_CODE) .. "." end
  local g = geomean_sentence(doc)
  if g then l[#l + 1] = ""; l[#l + 1] = md(g) .. "." end
  if opts.gate then
    l[#l + 1] = ""
    local head, body = gate_sentence(doc)
    l[#l + 1] = ("**%s**: %s."):format(md(head:gsub("^%l", string.upper)), md(body))
  end
  return table.concat(l, "\n") .. "\n"
end

local function names(doc, verdicts)
  local t = {}
  for _, r in ipairs(doc.comparisons) do
    if verdicts[r.verdict] then
      t[#t + 1] = ("%s %s %s (p=%.3f %s)"):format(md(r.name), md(r.unit), change_text(r), r.p,
        n_text { n1 = r.n_old, n2 = r.n_new })
    end
  end
  return #t > 0 and table.concat(t, ", ") or "none"
end

--- The A/B section of a runbook, from a doc as compare_files returns it or as ab.lua
-- --json saved it: what was measured, each verdict with p and n, never a slowdown as a gain.
function M.runbook_section(doc)
  local l = { "Measured with " .. sides_md(doc) .. ((doc.rounds and doc.rounds ~= null)
    and (", %d interleaved rounds"):format(doc.rounds) or "") .. ".", "",
    "- Significantly faster with the profile: " .. names(doc, { faster = true, better = true }),
    "- Significantly slower with the profile: " .. names(doc, { slower = true, worse = true }),
    "- No difference: " .. names(doc, { no_difference = true }),
    "- Too noisy to tell: " .. names(doc, { too_noisy = true }), "" }
  for _, row in ipairs(verdict_rows(doc)) do l[#l + 1] = row end
  local g = geomean_sentence(doc)
  if g then l[#l + 1] = ""; l[#l + 1] = md(g) .. "." end
  return table.concat(l, "\n") .. "\n"
end

-- }=====================================================================================

-- {=====================================================================================
-- Live load (a report of pgo.ab_load)

--- The live gate: ok, reasons. Fails when B's whole requests/s interval lies below
-- -threshold (significantly slower), or B failed requests that A served.
function M.live_gate(r, threshold)
  local reasons = {}
  local d = r.diff.rps
  if d.hi and d.hi < -threshold * 100 then
    reasons[#reasons + 1] = ("B serves %+.1f%% requests/s against A (%g%% CI %+.1f%% .. "
      .. "%+.1f%%), below -%s"):format(d.pct, r.confidence * 100, d.lo, d.hi,
      recipe.pct(threshold))
  end
  if r.errors.b > 0 and r.errors.a == 0 then
    reasons[#reasons + 1] = ("B failed %d requests, A none"):format(r.errors.b)
  end
  return #reasons == 0, reasons
end

local function live_estimate(r)
  local d = r.diff.rps
  if not d.pct then return "B vs A requests/s: no estimate (no round completed on both sides)" end
  return ("B vs A requests/s: %+.1f%%"):format(d.pct) .. (d.lo and
    (" (%g%% CI %+.1f%% .. %+.1f%%)"):format(r.confidence * 100, d.lo, d.hi)
    or " (no interval: one round)")
end

local function seconds(s, rps)
  if type(s) ~= "number" or (rps or 0) <= 0 then return "n/a" end
  if s < 1e-3 then return ("%.1fµs"):format(s * 1e6) end
  if s < 1 then return ("%.2fms"):format(s * 1e3) end
  return ("%.2fs"):format(s)
end

local function live_rows(r)
  return {
    { "requests/s", ("%.1f"):format(r.a.rps or 0), ("%.1f"):format(r.b.rps or 0) },
    { "p50", seconds(r.a.p50, r.a.rps), seconds(r.b.p50, r.b.rps) },
    { "p99", seconds(r.a.p99, r.a.rps), seconds(r.b.p99, r.b.rps) },
    { "errors", tostring(r.errors.a), tostring(r.errors.b) },
  }
end

local function setup_line(r, o)
  return ("%d rounds of %gs per side in ABBA order, %d connections, %gs warm-up"):format(
    #r.rounds, o.duration, o.connections, o.warmup)
end

--- A live A/B as plain data (the JSON report): pgo.ab_load's medians, diff, rounds, errors,
-- verdict, verdict_reason, method, plus the settings (opts as live_text) and the gate.
function M.live_data(r, opts)
  local function side(s) return { url = s.url, rps = s.rps, p50 = s.p50, p99 = s.p99 } end
  local ok, reasons = M.live_gate(r, opts.threshold)
  return { mode = "live", a = side(r.a), b = side(r.b), diff = r.diff, rounds = r.rounds,
    errors = r.errors, verdict = r.verdict, verdict_reason = r.verdict_reason,
    method = r.method, summary = r.summary, confidence = r.confidence,
    threshold = opts.threshold, duration = opts.duration, connections = opts.connections,
    warmup = opts.warmup, latency_unit = "s",
    gate = { enforced = opts.gate or false, ok = ok, failures = recipe.array(reasons) } }
end

--- A live A/B for a terminal. opts: duration, connections, warmup (as run), gate (bool),
-- threshold (the gate's).
function M.live_text(r, opts)
  local l = { "A  " .. r.a.url, "B  " .. r.b.url, setup_line(r, opts) }
  local rows = { "\tA (median)\tB (median)\t" }
  for _, row in ipairs(live_rows(r)) do rows[#rows + 1] = table.concat(row, "\t") .. "\t" end
  l[#l + 1] = table.concat(report.tabwrite(rows), "\n")
  l[#l + 1] = live_estimate(r)
  if r.diff.rps.pct then l[#l + 1] = "  how: " .. r.method end
  l[#l + 1] = ("verdict: %s: %s"):format(r.verdict, r.verdict_reason)
  if opts.gate then
    local ok, reasons = M.live_gate(r, opts.threshold)
    l[#l + 1] = ok and ("gate passed: B is not significantly slower than A by more than "
      .. recipe.pct(opts.threshold)) or ("gate FAILED: " .. table.concat(reasons, "; "))
  end
  return table.concat(l, "\n") .. "\n"
end

--- A live A/B in markdown; opts as live_text.
function M.live_markdown(r, opts)
  local l = { ("A: %s, B: %s; %s."):format(recipe.md_code(r.a.url), recipe.md_code(r.b.url),
    setup_line(r, opts)), "", "| | A (median) | B (median) |", "| --- | ---: | ---: |" }
  for _, row in ipairs(live_rows(r)) do
    l[#l + 1] = ("| %s | %s | %s |"):format(row[1], row[2], row[3])
  end
  l[#l + 1] = ""
  l[#l + 1] = "**" .. md(live_estimate(r)) .. "**"
    .. (r.diff.rps.pct and (": " .. md(r.method)) or "")
  l[#l + 1] = ""
  l[#l + 1] = ("**Verdict: %s**: %s."):format(md(r.verdict), md(r.verdict_reason))
  if opts.gate then
    local ok, reasons = M.live_gate(r, opts.threshold)
    l[#l + 1] = ""
    l[#l + 1] = ok and "**Gate passed**." or
      ("**Gate failed**: " .. md(table.concat(reasons, "; ")) .. ".")
  end
  return table.concat(l, "\n") .. "\n"
end

-- }=====================================================================================

return M
