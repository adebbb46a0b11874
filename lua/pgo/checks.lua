-- pgo.checks: what every command that judges a profile or a repository reports, in one
-- form: a list of named checks, each with its figure, its threshold, a verdict and advice;
-- the one table of default thresholds (with named policies); and the one renderer (text,
-- markdown, JSON). refresh, doctor, runbook, stale and pgo.audit.health all use it, so the
-- same file gets the same figures, the same bars and the same count everywhere.
--
--   local checks = require "pgo.checks"
--   local t = checks.thresholds { policy = "fleet", max_gc = false }   -- defaults + policy + yours
--   local list = {}
--   checks.add(list, { name = "min_samples", figure = 3561, threshold = t.min_samples,
--     verdict = checks.compare("min_samples", 3561, t.min_samples), advice = "3561 samples" })
--   checks.summary(list)                 -> "1 check passed"
--   io.write(checks.render(list, "text"))     -- or "markdown", "json"
--
-- Verdicts: "pass", "warn" (worth a look, not a failure), "fail", "skipped" (not run:
-- turned off, or what it needs is missing; advice says which).
local options = require "pgo.options"
local units = require "pgo.units"

local checks = {}

checks.VERDICTS = { "pass", "warn", "fail", "skipped" }
local IS_VERDICT = { pass = true, warn = true, fail = true, skipped = true }

-- {=====================================================================================
-- Thresholds

-- Every threshold the library and the recipes judge by, in report order. unit says how a
-- figure and its threshold print; the bound (>= or <=) follows from the min_/max_ prefix.
-- group "health" is pgo.audit.health's (and pgo.audit.health_defaults'); a check without a
-- default is a yes/no check (true runs it, false turns it off).
local THRESHOLDS = {
  { name = "cpu_profile", group = "health" },          -- info().kind == "cpu"
  { name = "start_lines", group = "health" },          -- Function.start_line present (Go 1.20+)
  -- samples (pgo.profile's figure): 1000 = 10 s of CPU at 100 Hz; below it the hot call
  -- sites are drawn from noise. One instance at a third of a CPU gives ~2000 in 60 s.
  { name = "min_samples", default = 1000, unit = "samples", group = "health" },
  { name = "min_duration", default = 10, unit = "seconds", group = "health" },
  { name = "min_utilization", default = 0.05, unit = "cpus", group = "health" },  -- CPUs busy
  { name = "max_dominant", default = 0.75, unit = "share", group = "health" },  -- one function
  { name = "max_benchmark", default = 0.5, unit = "share", group = "health" },  -- under testing.(*B)
  { name = "max_startup", default = 0.2, unit = "share", group = "health" },    -- package init
  { name = "max_idle", default = 0.5, unit = "share", group = "health" },       -- idle scheduler
  { name = "min_top10", default = 0.2, unit = "share", group = "health" },      -- flat share of top 10
  { name = "max_cgo", default = 0.3, unit = "share", group = "health" },
  { name = "max_syscall", default = 0.3, unit = "share", group = "health" },
  { name = "max_gc", default = 0.3, unit = "share", group = "health" },
  -- stale cum share against the source: refresh rejects, stale exits 3 and doctor warns
  -- above max_stale; doctor fails above max_stale_fail (most PGO decisions are lost)
  { name = "max_stale", default = 0.10, unit = "share", group = "stale" },
  { name = "max_stale_fail", default = 0.50, unit = "share", group = "stale" },
  -- doctor: package main's share of the module's hot call-site weight, above which a
  -- benchmark of package main cannot show what PGO does (go test renames main.*)
  { name = "max_main_share", default = 0.25, unit = "share", group = "bench" },
}
local BY_NAME = {}
for _, t in ipairs(THRESHOLDS) do BY_NAME[t.name] = t end

--- Named policies: thresholds that differ from the defaults for one kind of capture.
-- fleet: a long capture merged from many instances must carry 300 s of CPU.
checks.policies = { fleet = { min_samples = 30000 } }

--- The names of the known checks in report order (only those of group, when given).
function checks.names(group)
  local list = {}
  for _, t in ipairs(THRESHOLDS) do
    if group == nil or t.group == group then list[#list + 1] = t.name end
  end
  return list
end

local function policy_of(fname, argn, policy)
  if policy == nil then return {} end
  local over = checks.policies[policy]
  if not over then
    error(("bad argument #%d to '%s' (no policy '%s')"):format(argn, fname, tostring(policy)), 3)
  end
  return over
end

--- The default thresholds by check name (a new table; yes/no checks are absent), with a
-- policy's thresholds over them when policy names one (checks.policies); only those of
-- group when given ("health", "stale", "bench").
function checks.defaults(policy, group)
  local over = policy_of("defaults", 1, policy)
  local t = {}
  for _, c in ipairs(THRESHOLDS) do
    if group == nil or c.group == group then
      local v = over[c.name]
      if v == nil then v = c.default end
      t[c.name] = v
    end
  end
  return t
end

--- The thresholds a command judges by: the defaults, then opts.policy's, then each
-- opts[name] (a number; false turns the check off; true keeps the default). Unknown
-- names raise, so a misspelt override never goes unnoticed. Returns a new table where
-- an off check is false and a yes/no check that runs is true.
function checks.thresholds(opts)
  opts = opts or {}
  options.argument("thresholds", 1, opts, "table")
  local over = policy_of("thresholds", 1, opts.policy)
  local t = {}
  for _, c in ipairs(THRESHOLDS) do
    local v = opts[c.name]
    if v == nil or v == true then
      v = over[c.name]
      if v == nil then v = c.default end
      if v == nil then v = true end
    end
    t[c.name] = v
  end
  for k, v in pairs(opts) do
    if k ~= "policy" then
      if not BY_NAME[k] then
        error(("bad argument #1 to 'thresholds' (no check named '%s')"):format(tostring(k)), 2)
      end
      local want = BY_NAME[k].default and "number|boolean" or "boolean"
      local problem = options.problem({ [k] = v }, { [k] = want })
      if problem then error(("bad argument #1 to 'thresholds' (%s)"):format(problem), 2) end
    end
  end
  return t
end

--- The verdict of figure against a threshold of the check called name: "pass" or "fail"
-- by its bound (min_ >=, max_ <=, otherwise equal), "skipped" when threshold is false or
-- nil.
function checks.compare(name, figure, threshold)
  if threshold == nil or threshold == false then return "skipped" end
  local ok
  if name:match("^min_") then ok = figure >= threshold
  elseif name:match("^max_") then ok = figure <= threshold
  else ok = figure == threshold end
  return ok and "pass" or "fail"
end

-- }=====================================================================================

-- {=====================================================================================
-- Lists of checks (plain arrays of plain tables, so they encode and copy as they are)

local CHECK_FIELDS = { name = "string", verdict = "string", figure = "any", threshold = "any",
  advice = "string", title = "string", evidence = "table", code = "string", unit = "string" }

--- A check: fields as given (name, verdict and advice required; figure, threshold, title,
-- evidence = a list of lines, code = an error code, unit = how to print figure and
-- threshold: "samples", "seconds", "cpus", "share"; known names have one), and for older
-- callers ok (verdict is not "fail"), message (= advice) and skipped (verdict "skipped").
-- Misuse (an unknown field, a missing name or advice, another verdict) raises.
function checks.new(fields)
  options.argument("new", 1, fields, "table")
  options.check("new", 1, fields, CHECK_FIELDS)
  if not fields.name or not fields.advice then
    error("bad argument #1 to 'new' (a check needs a name and advice)", 2)
  end
  if not IS_VERDICT[fields.verdict] then
    error(("bad argument #1 to 'new' (verdict must be pass, warn, fail or skipped, got %s)")
      :format(tostring(fields.verdict)), 2)
  end
  local c = {}
  for k, v in pairs(fields) do c[k] = v end
  c.unit = c.unit or (BY_NAME[c.name] and BY_NAME[c.name].unit)
  c.ok = c.verdict ~= "fail"
  c.message = c.advice
  c.skipped = c.verdict == "skipped" or nil
  return c
end

--- Append checks.new(fields) to list; returns the check.
function checks.add(list, fields)
  options.argument("add", 1, list, "table")
  local c = checks.new(fields)
  list[#list + 1] = c
  return c
end

--- The check called name in list, or nil.
function checks.find(list, name)
  for _, c in ipairs(list) do
    if c.name == name then return c end
  end
  return nil
end

--- { pass = n, warn = n, fail = n, skipped = n, run = checks not skipped, total = #list }
function checks.counts(list)
  local n = { pass = 0, warn = 0, fail = 0, skipped = 0, total = #list }
  for _, c in ipairs(list) do n[c.verdict] = n[c.verdict] + 1 end
  n.run = n.total - n.skipped
  return n
end

--- True when no check of list failed (warnings and skipped checks allowed).
function checks.ok(list) return checks.counts(list).fail == 0 end

--- One sentence over list, counting the checks that ran: "13 checks passed",
-- "1 of 13 checks failed: max_gc", "13 checks passed, 1 warning: max_idle".
function checks.summary(list)
  local n = checks.counts(list)
  local failed, warned = {}, {}
  for _, c in ipairs(list) do
    if c.verdict == "fail" then failed[#failed + 1] = c.name end
    if c.verdict == "warn" then warned[#warned + 1] = c.name end
  end
  local s
  if n.fail > 0 then
    s = ("%d of %s failed: %s"):format(n.fail, units.plural(n.run, "check"), table.concat(failed, ", "))
  else
    s = units.plural(n.run - n.warn, "check") .. " passed"
  end
  if n.warn > 0 then
    s = s .. (", %s: %s"):format(units.plural(n.warn, "warning"), table.concat(warned, ", "))
  end
  return s
end

-- }=====================================================================================

-- {=====================================================================================
-- Rendering

--- A figure or threshold of a check as people read it: 3561 samples -> "3561",
-- seconds -> "12.3 s", cpus -> "0.85 CPUs", share -> "19.01%"; false -> "off"; nil -> "".
function checks.value_text(c, v)
  if v == nil then return "" end
  if v == false then return "off" end
  if type(v) ~= "number" then return tostring(v) end
  local unit = c.unit
  if unit == "seconds" then return ("%.1f s"):format(v) end
  if unit == "cpus" then return ("%.2f CPUs"):format(v) end
  if unit == "share" then return units.pct(v) end
  if math.type(v) == "integer" or v == math.floor(v) then return ("%d"):format(v) end
  return ("%.4g"):format(v)
end

--- The threshold of a check with its bound: ">= 1000", "<= 30.00%", "off", or "".
function checks.threshold_text(c)
  local t = c.threshold
  if type(t) ~= "number" then return checks.value_text(c, t) end
  local bound = c.name:match("^min_") and ">= " or c.name:match("^max_") and "<= " or ""
  return bound .. checks.value_text(c, t)
end

checks.MARKS = { pass = "\u{2713}", warn = "!", fail = "\u{2717}", skipped = "-" }

-- text: one line per check ("  ✓ 1. title: advice"), its evidence below, then the counts.
local function render_text(list, opts)
  local safe = require("pgo.report").terminal_text   -- outside text never reaches a terminal raw
  local marks = opts.marks or checks.MARKS
  local out = {}
  if opts.title then out[#out + 1] = safe(opts.title) end
  for i, c in ipairs(list) do
    out[#out + 1] = ("  %s %s%s: %s"):format(marks[c.verdict], opts.numbered and (i .. ". ") or "",
      safe(c.title or c.name), safe(c.advice))
    for _, e in ipairs(c.evidence or {}) do out[#out + 1] = "       " .. safe(e) end
  end
  local n = checks.counts(list)
  out[#out + 1] = ("%d failed, %s, %d passed, %d skipped")
    :format(n.fail, units.plural(n.warn, "warning"), n.pass, n.skipped)
  return table.concat(out, "\n") .. "\n"
end

-- markdown: the summary, then a table; every value from outside is inert.
local function render_markdown(list, opts)
  local md = require "pgo.markdown"
  local out = {}
  if opts.title then out[#out + 1] = md.text(opts.title); out[#out + 1] = "" end
  out[#out + 1] = md.text(checks.summary(list)) .. "."
  out[#out + 1] = ""
  out[#out + 1] = "| check | result | figure | threshold | advice |"
  out[#out + 1] = "|---|---|---|---|---|"
  local word = { pass = "pass", warn = "warn", fail = "**FAIL**", skipped = "skipped" }
  for _, c in ipairs(list) do
    local fig, thr = checks.value_text(c, c.figure), checks.threshold_text(c)
    out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(md.code(c.name, true), word[c.verdict],
      fig == "" and "" or md.code(fig, true), thr == "" and "" or md.code(thr, true), md.text(c.advice))
  end
  return table.concat(out, "\n") .. "\n"
end

--- list as plain data for a JSON report: { ok, summary, counts, checks = [ {name,
-- verdict, figure, threshold, advice[, title, evidence, code]} ] } (figure and threshold
-- as numbers, strings or booleans; false = off).
function checks.to_json(list)
  local json = require "pgo.json"
  local rows = json.array()
  for _, c in ipairs(list) do
    rows[#rows + 1] = { name = c.name, verdict = c.verdict, figure = c.figure, threshold = c.threshold,
      advice = c.advice, title = c.title, code = c.code,
      evidence = c.evidence and json.array(c.evidence) or nil }
  end
  local n = checks.counts(list)
  return { ok = n.fail == 0, summary = checks.summary(list), checks = rows,
    counts = { pass = n.pass, warn = n.warn, fail = n.fail, skipped = n.skipped } }
end

local RENDER_OPTS = { title = "string", numbered = "boolean", marks = "table" }

--- list rendered as format: "text" (a line per check with its mark ✓ ! ✗ -, evidence
-- indented below, then "N failed, N warnings, N passed, N skipped"), "markdown" (the
-- summary and a table: check, result, figure, threshold, advice) or "json" (one line,
-- checks.to_json). opts: title (a first line), numbered (text: "1. " before each title),
-- marks (text: a mark per verdict). Ends with a newline, except JSON.
function checks.render(list, format, opts)
  options.argument("render", 1, list, "table")
  opts = options.check("render", 3, opts, RENDER_OPTS)
  if format == "text" then return render_text(list, opts) end
  if format == "markdown" then return render_markdown(list, opts) end
  if format == "json" then return require("pgo.json").encode(checks.to_json(list)) end
  error(("bad argument #2 to 'render' (format must be text, markdown or json, got %s)")
    :format(tostring(format)), 2)
end

-- }=====================================================================================

return checks
