-- pgo.refresh: capture CPU profiles, check them and replace default.pgo only when every
-- check passes, with provenance in the profile and a pull-request body. The machinery of
-- recipes/refresh.lua; the recipe holds the policy (thresholds, which checks run, its own
-- accept()) and the command line.
--
--   local res, exit = pgo.refresh.run { sources = { files = { "a.pgo" } }, out = "default.pgo" }
--   io.write(pgo.refresh.text(res))        -- or pgo.json.encode(res): the JSON contract
--
-- res: status (replaced | unchanged | dry_run | rejected | inconclusive | error), exit (0,
-- 1 error, 2 rejected or inconclusive), error, code (of an error: pgo.capture's and
-- pgo.replace's codes, "inconclusive", so a caller adds its own advice), out, src, dry_run,
-- sources, previous, capture, checks, rejected_by, blend, compact, stale, drift, written,
-- provenance, provenance_line, pr_body, pr_body_markdown, notes, hints, symlink. On every
-- exit but "replaced" the target is byte-identical and no temporary file is left behind.
--
-- Messages name this module's options (src, max_stale, ...), never a command's flags; each
-- situation where one of the caller's options is the way out adds a code to res.hints:
--   no_module          no src and no go.mod above out: the stale check is skipped
--   module_unreadable  the module found above out cannot be read (res.code says why)
--   blend_current      merge_existing, but the current profile cannot be blended with
--   symlink            out is a symbolic link that is replaced by a regular file
--   pr_body            the PR body cannot go where it was to go
-- so a recipe says which of its flags does it (its ADVICE, by res.code and res.hints).
local options = require "pgo.options"
local capture = require "pgo.capture"
local replace = require "pgo.replace"
local provenance = require "pgo.provenance"
local json = require "pgo.json"
local units = require "pgo.units"
local fs = require "pgo.fs"
local repo = require "pgo.repo"
local audit = require "pgo.audit"
local symbols = require "pgo.symbols"
local checks = require "pgo.checks"

local refresh = {}

local EXIT = { ok = 0, error = 1, failed = 2 }

local SPEC = { sources = "table", capture = "table", out = "string", src = "string",
  min_bytes = "number|false", min_samples = "number|false", max_stale = function(v)
    return v == false or (math.type(v) ~= nil and v >= 0 and v <= 1), "false or a number from 0 to 1"
  end,
  health = "boolean", health_opts = "table", merge_existing = "number", compact = "integer",
  skip_unchanged = "boolean", dry_run = "boolean", pr_body = "string|false", pr_body_name = "string",
  follow_symlink = "boolean", source_opts = "table", drift_opts = "table", accept = "function",
  stale_seconds = "number" }

local pct = units.pct

-- {=====================================================================================
-- Checks: each {name, ok, figure, threshold, message[, skipped][, inconclusive]}

-- A check of the run in pgo.checks' form: verdict from ok (nil: skipped), message as advice.
local function check(name, ok, figure, threshold, message, code)
  return checks.new { name = name, verdict = ok == nil and "skipped" or (ok and "pass" or "fail"),
    figure = figure, threshold = threshold, advice = message, code = code }
end

local function minimum(name, figure, threshold, unit, short)
  if not threshold then return check(name, nil, figure, false, "off") end
  local ok = figure >= threshold
  return check(name, ok, figure, threshold, ok and ("%d %s (at least %d)"):format(figure, unit, threshold)
    or ("only %d %s, at least %d %s"):format(figure, unit, threshold, short))
end

-- The capture's checks, in order: cpu_profile and start_lines stop the rest (nothing else
-- means anything then); the others all run, so one rejection names every problem.
local function check_capture(s, p, facts)
  local list = {}
  local function add(c) list[#list + 1] = c end
  local kind_ok, kind_msg = p:require_cpu("go build -pgo")    -- the library's one message
  add(check("cpu_profile", kind_ok == true, p:info().kind, "cpu", kind_ok and "a CPU profile" or kind_msg))
  if not kind_ok then return list end
  local edges, emsg, ecode = p:edges()
  if not edges then
    add(check("start_lines", false, ecode or "error", "start lines", "go build -pgo rejects it: " .. tostring(emsg), ecode))
    return list
  end
  facts.edges = #edges
  add(check("start_lines", true, true, "start lines", "functions carry start lines (go build -pgo reads it)"))
  add(check("call_edges", #edges > 0, #edges, 1,
    #edges > 0 and ("%d call edges"):format(#edges) or "no call edges: PGO has nothing to act on"))
  add(minimum("min_samples", facts.samples, s.min_samples, "samples",
    "needed: capture longer or from more instances"))
  add(minimum("min_bytes", facts.bytes, s.min_bytes, "bytes encoded", "expected: an idle or cut-short capture"))
  if s.health ~= false then
    local hopts = {}
    for k, v in pairs(s.health_opts or {}) do hopts[k] = v end
    -- checked above, each once
    hopts.cpu_profile, hopts.start_lines, hopts.min_samples = false, false, false
    for _, c in ipairs(audit.health(p, hopts).checks) do add(c) end
  end
  local own = s.accept and s.accept(p, facts)
  if own then add(check(own.name, false, own.figure, own.threshold, own.message or "rejected by accept()")) end
  return list
end

-- The stale check of the profile about to be written, and the stale report.
local function check_stale(s, p)
  if s.max_stale == false then return check("max_stale", nil, nil, false, "off") end
  if not s.syms then
    return check("max_stale", nil, nil, s.max_stale, "skipped: no Go module to check against", "no_module")
  end
  local r = audit.stale(p, s.syms, { main_package = s.main_package, max_stale = s.max_stale })
  if r.verdict == "inconclusive" then   -- files the scan could not see, or not this program's source
    local c = check("max_stale", false, r.cum_fraction, s.max_stale, ("cannot tell against %s: %s")
      :format(s.src, r.why), "inconclusive")
    c.inconclusive = true
    return c, r
  end
  local ok = r.cum_fraction <= s.max_stale
  local names = {}
  for i = 1, math.min(3, #r.functions) do names[i] = r.functions[i].name end
  local head = ("%s of the samples (cum) run through functions gone from %s (at most %s)")
    :format(pct(r.cum_fraction), s.src, pct(s.max_stale))
  return check("max_stale", ok, r.cum_fraction, s.max_stale, ok and head or ("%s: %s%s; the service runs "
    .. "older code than the source: capture after the deploy"):format(head, table.concat(names, ", "),
    #r.functions > 3 and (" and %d more"):format(#r.functions - 3) or "")), r
end

--- The reason a failed check gives: "name: figure, threshold >= N: advice" (or "needs X"
-- for a threshold that is not a number).
function refresh.why(c)
  return ("%s: %s, %s %s: %s"):format(c.name, checks.value_text(c, c.figure),
    type(c.threshold) == "number" and "threshold" or "needs", checks.threshold_text(c), c.advice)
end

-- }=====================================================================================

-- {=====================================================================================
-- The run

-- The facts people read about a profile: samples (pgo.profile's one figure), sample
-- records, duration and top function; nil, message, code for a profile with no samples.
local function facts_of(p)
  local rows, msg, code = p:top { n = 1 }
  if not rows then return nil, msg, code end
  local info = p:info()
  return { samples = info.samples or 0, sample_records = info.sample_records,
    duration_s = info.duration_ns / 1e9, top_function = rows[1] and rows[1].name or nil }
end

-- Where the profile goes and what it is checked against: s.out, s.src, s.syms,
-- s.main_package; nil, message, code.
local function locate(s, notes, hints)
  if s.src and s.max_stale ~= false then
    local syms, err, code = symbols.go_source(s.src, s.source_opts)
    if not syms then return nil, err, code end
    s.syms = syms
  end
  if not s.out then
    local note
    s.out, note = repo.default_profile(s.src or ".", { syms = s.syms })
    if note then notes[#notes + 1] = note end
  end
  if s.max_stale ~= false and not s.src then
    s.src = repo.module_root(fs.dirname(s.out))
    if s.src then
      local syms, err, code = symbols.go_source(s.src, s.source_opts)
      if not syms then
        hints[#hints + 1] = "module_unreadable"
        return nil, ("%s (the Go module above %s, which the stale check reads; src names another, "
          .. "max_stale = false skips the check)"):format(err, s.out), code
      end
      s.syms = syms
    else
      hints[#hints + 1] = "no_module"
      notes[#notes + 1] = ("no src given and no go.mod above %s: the stale check is skipped (src names "
        .. "the Go module)"):format(fs.dirname(s.out))
    end
  end
  if s.syms then s.main_package = repo.main_package(s.syms, s.src, fs.dirname(s.out)) end
  return true
end

-- The current profile: fills res.previous; returns it (or nil), or false, message, code
-- when a blend needs it and it cannot be had.
local function current(s, res, notes)
  if not fs.exists(s.out) then
    res.previous = { exists = false }
    if s.merge_existing then
      notes[#notes + 1] = s.out .. " does not exist yet: no blend (merge_existing), the new profile is written alone"
    end
    return nil
  end
  local p, err, code = refresh.load_current(s.out)
  if p and s.merge_existing and p:info().kind ~= "cpu" then
    local kind = p:info().kind
    p:close()
    res.hints[#res.hints + 1] = "blend_current"
    return false, ("%s is a %s profile, not a CPU profile: it cannot be blended with (merge_existing)")
      :format(s.out, kind), "not_cpu"
  elseif p then
    local f = facts_of(p)
    res.previous = { exists = true, samples = f.samples, top_function = f.top_function }
    return p
  end
  res.previous = { exists = true, error = err }
  if s.merge_existing then
    res.hints[#res.hints + 1] = "blend_current"
    return false, err .. " (merge_existing blends with the current profile)", code
  end
  notes[#notes + 1] = "the current profile does not load; it will be replaced: " .. err
  return nil
end

--- The profile at path if it is one a refresh can build on: it decodes and holds samples
-- (one that decodes but holds nothing is as broken as one that does not). p or nil,
-- message, code.
function refresh.load_current(path)
  local p, err, code = require("pgo.profile").load(path)
  if not p then return nil, err, code end
  local f, ferr, fcode = facts_of(p)
  if not f then
    p:close()
    return nil, ("%s: %s"):format(path, ferr), fcode
  end
  return p
end

local function drift_of(before, final, s, notes)
  local ok, d = pcall(audit.drift, before, final, s.drift_opts)
  if ok and d then
    return { changes_compiler_decisions = d.changes_compiler_decisions,
      reasons = json.array(d.reasons), hot_sites_jaccard = d.hot_sites.jaccard,
      weighted_hot_edges = d.hot_edges.weighted, edge_overlap = d.edge_overlap,
      hot_functions_entered = #d.hot_functions.entered, hot_functions_left = #d.hot_functions.left,
      devirt_targets_changed = #d.devirt_targets }
  end
  notes[#notes + 1] = "cannot compare with the current profile: " .. tostring(d)
end

-- The extra section of the PR body: the checks and the compiler drift (numbers and check
-- names only; every cell is a code span or a number).
local function pr_extra(res)
  local lines = { "", "#### Checks (`pgo.refresh`)", "", checks.render(res.checks, "markdown") }
  if res.blend then
    lines[#lines + 1] = ("Blended with the previous profile: %s new, %s previous (of %d samples)")
      :format(pct(res.blend.weight, 0), pct(1 - res.blend.weight, 0), res.blend.new_total)
  end
  if res.drift then
    local d = res.drift
    lines[#lines + 1] = ("Compiler drift: hot call sites Jaccard %.2f, edge overlap %.2f; %s.")
      :format(d.hot_sites_jaccard, d.edge_overlap, d.changes_compiler_decisions
        and ("changes " .. table.concat(d.reasons, ", ")) or "no change in the compiler's decisions")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Everything from capture to replace; fills res, returns the exit code.
local function run(s, res, notes, tx_of)
  local function fail(msg, code)
    res.status, res.code = "error", code
    res.error = ("%s; %s not replaced"):format(tostring(msg), s.out or "the target")
    return EXIT.error
  end
  local ok, err, code = locate(s, notes, res.hints)
  if not ok then return fail(err, code) end
  res.out, res.src = s.out, s.src or false
  local tx
  tx, err, code = replace.begin(s.out, { follow_symlink = s.follow_symlink, stale_seconds = s.stale_seconds })
  if not tx then return fail(err, code) end
  tx_of(tx)
  if tx.link then
    res.symlink = { link = s.out, points_to = tx.link, followed = s.follow_symlink or false }
    notes[#notes + 1] = s.follow_symlink and ("%s is a symbolic link: the new profile is written "
      .. "through it, into %s"):format(s.out, tx.link) or ("%s is a symbolic link to %s: it will be "
      .. "replaced by a regular file (%s itself is left as it is; follow_symlink writes through "
      .. "the link)"):format(s.out, tx.link, tx.link)
    if not s.follow_symlink then res.hints[#res.hints + 1] = "symlink" end
  end
  if s.pr_body and s.pr_body ~= "-" and not s.dry_run then
    local dir = fs.dirname(s.pr_body)
    local st = fs.stat(dir)
    if not st or st.type ~= "directory" then
      res.hints[#res.hints + 1] = "pr_body"
      return fail(("the PR body's directory %s does not exist (pr_body %s)"):format(dir, s.pr_body), "not_found")
    end
    ok, err, code = replace.preflight(dir, s.pr_body, { stale_seconds = s.stale_seconds })
    if not ok then return fail(err, code) end
  end

  local before, berr, bcode = current(s, res, notes)
  if before == false then return fail(berr, bcode) end

  -- capture and merge
  local capture_opts = {}
  for k, v in pairs(s.capture or {}) do capture_opts[k] = v end
  capture_opts.dir = capture_opts.dir or tx.dir
  local p, info, ccode = capture.profile(s.sources, capture_opts)
  if not p then return fail(info, ccode) end
  for _, n in ipairs(info.notes) do notes[#notes + 1] = n end
  local fields = info.fields
  res.sources = json.array(info.labels)
  local facts, ferr, fcode = facts_of(p)
  if not facts then return fail(("%s: %s"):format(table.concat(info.labels, " + "), ferr), fcode) end
  local encoded, eerr, ecode = p:encode()
  if not encoded then return fail(eerr, ecode) end
  facts.bytes, facts.instances, facts.sources = #encoded, info.instances, info.labels
  res.capture = facts

  -- the checks: of the capture, then stale of what will be written
  res.checks = json.array(check_capture(s, p, facts))
  local final, passed, usable = p, true, false
  for _, c in ipairs(res.checks) do
    passed = passed and c.ok
    if c.name == "start_lines" then usable = c.ok end     -- a CPU profile the compiler reads
  end
  if passed and s.merge_existing and before then
    local m, binfo, mcode = replace.blend(p, before, s.merge_existing)
    if not m then return fail(binfo, mcode) end
    final, res.blend = m, binfo
    local edges, emsg, e2 = final:edges()
    if not edges then
      res.checks[#res.checks + 1] = { name = "blend_start_lines", ok = false, figure = e2,
        threshold = "start lines", message = "the blend with the current profile: go build -pgo rejects it: " .. emsg }
    end
  end
  if usable then
    local c, report = check_stale(s, final)
    res.checks[#res.checks + 1] = c
    if report then
      res.stale = { cum_fraction = report.cum_fraction, flat_fraction = report.flat_fraction,
        stale_cum = report.stale_cum, total = report.total, module = report.module, functions = json.array() }
      for i = 1, math.min(10, #report.functions) do
        local f = report.functions[i]
        res.stale.functions[i] = { name = f.name, flat = f.flat, cum = f.cum }
      end
    end
  end
  local failed = {}
  for _, c in ipairs(res.checks) do
    if not c.ok then failed[#failed + 1] = c end
  end
  if #failed == 1 and failed[1].inconclusive then   -- neither fresh nor stale: keep the target
    res.status, res.code = "inconclusive", "inconclusive"
    res.error = ("%s; %s kept (max_stale = false skips the check)"):format(failed[1].message, s.out)
    return EXIT.failed
  end
  if #failed > 0 then
    res.status, res.rejected_by = "rejected", json.array()
    local why = {}
    for _, c in ipairs(failed) do
      res.rejected_by[#res.rejected_by + 1] = c.name
      why[#why + 1] = refresh.why(c)
    end
    res.error = ("new profile rejected by %s; %s not replaced"):format(table.concat(why, "; "), s.out)
    return EXIT.failed
  end

  -- the profile to write
  if s.compact then
    local cp, cinfo, cc = final:compact_for_pgo { frames = s.compact }
    if not cp then return fail(cinfo, cc) end
    final, res.compact = cp, { frames = s.compact }
  end
  if before then res.drift = drift_of(before, final, s, notes) end
  if s.skip_unchanged then
    if res.drift and not res.drift.changes_compiler_decisions then
      res.status = "unchanged"
      return EXIT.ok
    elseif not res.drift then
      notes[#notes + 1] = res.previous.exists
        and "the current profile cannot be compared with (skip_unchanged): replacing it"
        or "no current profile to compare with (skip_unchanged): writing the first one"
    end
  end

  -- provenance, in the profile before it is written
  local wf = assert(facts_of(final))   -- checked above: it has samples
  fields.top_function, fields.samples = wf.top_function, math.tointeger(wf.samples) or wf.samples
  if res.blend then fields.blend = ("%g new + %g previous"):format(s.merge_existing, 1 - s.merge_existing) end
  if s.compact then fields.compact_frames = s.compact end
  res.provenance_line = provenance.record(final, fields)
  res.provenance = provenance.read(final)
  local bytes, werr, wcode = final:encode()
  if not bytes then return fail(werr, wcode) end
  res.written = { bytes = #bytes, samples = wf.samples, top_function = wf.top_function }
  local body = provenance.pr_body(before, final, res.provenance) .. pr_extra(res)
  res.pr_body_markdown = body

  -- Both staged before either is renamed, so a full disk fails the run with the target
  -- untouched; the profile is flushed to the disk and decoded back first.
  local staged, serr, scode = tx:stage(bytes, { what = "the new profile", verify = "profile" })
  if not staged then return fail(serr, scode) end
  if s.pr_body == nil and not s.dry_run then
    local dir, derr, dcode = fs.mkdtemp(os.getenv("TMPDIR") or "/tmp", "pgolua-refresh")
    if not dir then
      res.hints[#res.hints + 1] = "pr_body"
      return fail("cannot make a directory for the PR body: " .. tostring(derr) .. " (pr_body names a file)", dcode)
    end
    s.pr_body = dir .. "/" .. (s.pr_body_name or "pr.md")
  end
  local body_staged
  if s.pr_body and s.pr_body ~= "-" and not s.dry_run then
    body_staged, serr, scode = tx:stage(body, { what = "the PR body", sync = false }, s.pr_body)
    if not body_staged then return fail(serr, scode) end
  end
  if s.pr_body == "-" then res.pr_body = "-" end
  if s.dry_run then
    res.status = "dry_run"
    return EXIT.ok
  end
  ok, err, code = tx:commit(staged)
  if not ok then return fail(err, code) end
  res.status = "replaced"
  if body_staged then
    ok, err, code = tx:commit(body_staged)
    if not ok then
      res.status, res.code = "error", code
      res.error = ("%s was replaced, but the PR body was not written: %s"):format(s.out, err)
      return EXIT.error
    end
    res.pr_body = s.pr_body
  end
  return EXIT.ok
end

--- Capture, check and replace. spec: sources (pgo.capture's), capture (pgo.capture's
-- options), out (default: pgo.repo.default_profile of src or "."), src (the Go module the
-- stale check reads; default: the go.mod above out), min_bytes, min_samples, max_stale
-- (numbers, or false = off), health (false = no pgo.audit.health checks), health_opts
-- (its thresholds; false turns one off), merge_existing (weight W of the new profile in a
-- blend with the current one), compact (leaf frames kept), skip_unchanged, dry_run,
-- pr_body (a path, "-" or false; nil: pr_body_name in a new directory under $TMPDIR),
-- follow_symlink, source_opts (pgo.symbols.go_source's), drift_opts (pgo.audit.drift's),
-- accept (function(p, facts) returning nil or a failed check), stale_seconds. Returns
-- res, exit (see the module comment); raises only on misuse.
function refresh.run(spec)
  spec = options.check("run", 1, spec, SPEC)
  if type(spec.sources) ~= "table" or not capture.has_source(spec.sources) then
    error("bad argument #1 to 'run' (sources: no source)", 2)
  end
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  local notes = {}
  local res = { out = s.out, src = s.src or false, dry_run = s.dry_run or false, hints = json.array() }
  local tx
  local done, exit = xpcall(run, debug.traceback, s, res, notes, function(t) tx = t end)
  if tx then tx:close() end                      -- every path: nothing staged is left
  if not done then                               -- Ctrl-C, or a bug
    local msg = tostring(exit)
    res.status, exit = "error", EXIT.error
    res.error = msg:find("interrupted!", 1, true) and "interrupted; nothing replaced" or ("BUG: " .. msg)
  end
  res.exit, res.notes = exit, json.array(notes)
  return res, exit
end

--- res as the text refresh prints (empty when nothing was captured).
function refresh.text(res)
  local lines = {}
  local function w(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  if res.capture then
    local c = res.capture
    w("refresh: %s -> %s", table.concat(res.sources or {}, " + "), res.out)
    w("  capture       %d samples over %.1f s%s, %d bytes encoded; top %s", c.samples, c.duration_s,
      c.instances and (", " .. units.plural(c.instances, "instance")) or "", c.bytes, tostring(c.top_function))
  end
  if res.checks then lines[#lines + 1] = checks.render(res.checks, "text"):gsub("\n$", "") end
  local b = res.blend
  if b then
    w("  blend         %g new (%d of %d target), %g current (%d of %d target): %d samples", b.weight,
      b.new_part, math.floor(b.target_new + 0.5), 1 - b.weight, b.existing_part,
      math.floor(b.target_existing + 0.5), b.total)
  end
  if res.compact then w("  compact       %d leaf frames per sample", res.compact.frames) end
  local d = res.drift
  if d then
    w("  drift         %s (hot call sites Jaccard %.2f, edge overlap %.2f)", d.changes_compiler_decisions
      and ("changes " .. table.concat(d.reasons, ", ")) or "same compiler decisions", d.hot_sites_jaccard,
      d.edge_overlap)
  end
  local wr, out = res.written, res.out
  if res.status == "replaced" then
    w("replaced %s: %d samples, %d bytes, top %s%s", out, wr.samples, wr.bytes, tostring(wr.top_function),
      res.pr_body and res.pr_body ~= "-" and ("; PR body " .. res.pr_body) or "")
  elseif res.status == "unchanged" then
    w("unchanged: %s kept: the new profile makes the same compiler decisions (hot call sites, "
      .. "hot callees, devirtualization targets)", out)
  elseif res.status == "dry_run" then
    w("dry run: would replace %s: %d samples, %d bytes, top %s (nothing written)", out, wr.samples,
      wr.bytes, tostring(wr.top_function))
  elseif res.status == "inconclusive" then
    w("CANNOT TELL whether the new profile is stale: %s kept", out)
  elseif res.status == "rejected" then
    w("REJECTED by %s: %s not replaced", table.concat(res.rejected_by, ", "), out)
  end
  return #lines > 0 and (table.concat(lines, "\n") .. "\n") or ""
end

return refresh
