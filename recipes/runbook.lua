#!/usr/bin/env pgolua
-- runbook.lua: write the PGO section of a service runbook (markdown): where each
--   default.pgo lives, how and how often it is refreshed and where it was captured, the
--   gain the last A/B measured, the profile's health and hottest functions, how to roll
--   it back, how to switch PGO off in an emergency, and where to look when it breaks.
-- Run:   pgolua recipes/runbook.lua [--root DIR] [--cadence TEXT] [--ab FILE]
--          [--top N] [--out FILE] [--json]
--          (--ab: the last A/B result, `pgolua recipes/ab.lua --json` output or benchstat text)
-- Exit:  0 written, 1 error (not a Go module, unreadable --ab file, cannot write --out).
--        A missing or unhealthy default.pgo is reported in the text, not in the exit code.
-- Adapt: copy this file; change the values under "ADAPT" below (cadence, headings, which
--   sections appear and in what order, the commands shown). Everything else is library
--   code (pgo.audit.repo, pgo.audit.health, p:top, pgo.provenance).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local argparse = require "argparse"

-- ADAPT ---------------------------------------------------------------------------------
local DEFAULT_CADENCE = "weekly"
local DEFAULT_TOP = 10                  -- hottest functions listed per profile
local TITLE = "Profile-guided optimization (PGO)"
local H = "##"                          -- heading level of the section (subsections: H .. "#")
-- The sections, in order; drop one to leave it out. Each is a function below.
local SECTIONS = { "locations", "refresh", "gain", "health", "top", "rollback", "disable",
  "troubleshooting" }
-- How a refresh is run here (shown as a command; PROFILE is replaced by the path).
local REFRESH_COMMAND = "pgolua recipes/refresh.lua --url http://SERVICE:6060 --out PROFILE"
local HEALTH_OPTS = nil                 -- thresholds for pgo.audit.health (nil = defaults)
-- ---------------------------------------------------------------------------------------

local out = recipe.new("runbook")
local md = recipe.md   -- inert markdown, mentions included (pgo.markdown.text)
local code = recipe.md_code

local parser = argparse("pgolua runbook", "Write the PGO section of a service runbook (markdown).")
parser:option("--root", "Root of the Go module (holds go.mod).", ".")
parser:option("--cadence", "How often the profile is refreshed.", DEFAULT_CADENCE)
parser:option("--ab", "Last A/B result: recipes/ab.lua --json output, or benchstat text.")
parser:option("--top", "Hottest functions listed per profile.", tostring(DEFAULT_TOP))
  :convert(math.tointeger)
parser:option("--out", "Write to this file instead of standard output.")
parser:flag("--json", "Write the same facts as JSON instead of markdown.")
parser:epilog("Exit: 0 written, 1 error (not a Go module, unreadable --ab file, cannot write --out).")

-- {=====================================================================================
-- Facts

local function join(root, rel)
  if rel == "." or rel == "" then return root end
  return (root:gsub("/+$", "")) .. "/" .. rel
end

-- Run git with these arguments (an argument vector: no shell, so a root or path holding
-- ' ; $() ` or a newline stays one argument); the first line of its output, or nil. The
-- tree is not ours to trust: core.fsmonitor (a command its .git/config may name) is off.
local function git_line(args)
  local argv = { "git", "-c", "core.fsmonitor=false" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local r = pgo.fs.run(argv, { capture = true, stderr = false, max_output = 65536 })
  if not r or r.status ~= 0 then return nil end
  local line = r.output:match("^[^\n]*")
  if line and line ~= "" then return line end
end

-- The abbreviated hash of the last commit that changed rel under root (nil outside git).
local function last_commit(root, rel)
  if git_line { "-C", root, "rev-parse", "--is-inside-work-tree" } ~= "true" then
    return nil, false
  end
  return git_line { "-C", root, "log", "-1", "--format=%h", "--", rel }, true
end

-- Capture facts from the profile's provenance comments (pgo.provenance, when present).
local function capture_facts(p)
  local ok, prov_mod = pcall(require, "pgo.provenance")
  if not ok or type(prov_mod) ~= "table" or type(prov_mod.read) ~= "function" then
    return nil
  end
  local done, prov = pcall(prov_mod.read, p)
  if done and type(prov) == "table" then return prov end
end

local function seconds_text(s)
  if type(s) ~= "number" then return nil end
  if s >= 120 then return ("%.1f min"):format(s / 60) end
  return ("%g s"):format(math.floor(s * 10 + 0.5) / 10)
end

-- The gain of the last A/B: { measured, source, entries = { {scope, label, delta_pct,
-- text, significant} } }, or nil, message.
local function read_ab(path)
  local text, err = recipe.read_file(path)
  if not text then return nil, err end
  local entries = {}
  if text:match("^%s*{") then
    local cjson = require "cjson"
    local ok, doc = pcall(cjson.decode, text)
    if not ok or type(doc) ~= "table" then
      return nil, ("%s: not valid JSON: %s"):format(path, tostring(doc))
    end
    -- recipes/ab.lua --json: the library renders it (verdicts, p and n, sides as built)
    if type(doc.comparisons) == "table" then
      local ok, section = pcall(pgo.ab.runbook_section, doc)
      if ok then
        return { measured = true, source = path, section = section, entries = recipe.array(),
          comparisons = doc.comparisons }
      end
    end
    -- top-level summary fields of other tools' JSON
    local pct = doc.geomean_delta_pct or (type(doc.geomean_delta) == "number" and doc.geomean_delta * 100)
    if type(pct) == "number" then
      entries[#entries + 1] = { scope = "all", label = "geomean", delta_pct = pct,
        text = ("%+.2f%%"):format(pct) }
    else
      -- any "geomean" inside: pgo.bench's JSON report ({column, ratio, text} per column)
      -- or a table with delta / delta_pct / text
      local function walk(t, scope, depth)
        if depth > 20 or type(t) ~= "table" then return end
        local here = scope
        if type(t.config) == "table" then
          for _, kv in ipairs(t.config) do
            if type(kv) == "table" and kv.key == "pkg" then here = kv.value end
          end
        end
        local g = t.geomean
        if type(g) == "table" then
          local list = g[1] and g or { g }
          for _, e in ipairs(list) do
            if type(e) == "table" then
              local d = e.delta_pct or (type(e.delta) == "number" and e.delta * 100)
                or (type(e.ratio) == "number" and (e.ratio - 1) * 100)
              if type(d) == "number" then
                entries[#entries + 1] = { scope = here or "all", label = "geomean " .. (t.unit or ""),
                  delta_pct = d, text = type(e.text) == "string" and e.text or ("%+.2f%%"):format(d) }
              end
            end
          end
        end
        for k, v in pairs(t) do
          if k ~= "geomean" and type(v) == "table" then walk(v, here, depth + 1) end
        end
      end
      walk(doc, nil, 0)
    end
  else
    -- benchstat text: "pkg:" lines, a unit header, geomean lines; rows stand in for a
    -- table without a geomean (a single benchmark)
    local pkg, unit, rows, had_geomean = nil, nil, {}, false
    local function flush()
      if not had_geomean then
        for _, r in ipairs(rows) do entries[#entries + 1] = r end
      end
      rows, had_geomean = {}, false
    end
    for line in text:gmatch("[^\n]+") do
      local p = line:match("^pkg:%s+(%S+)")
      if p then flush(); pkg = p end
      local u = line:match("^%s*\u{2502}%s*(%S+/%S+)%s")
      if u then unit = u end
      local g = line:match("^geomean%s.-([%+%-]%d+%.?%d*%%)%s*$")
      if g then
        had_geomean = true
        entries[#entries + 1] = { scope = pkg or "all", label = "geomean " .. (unit or ""),
          delta_pct = tonumber(g:sub(1, -2)), text = g, significant = true }
      elseif line:match("%(p=[%d%.]+ n=") then
        local name = line:match("^(%S+)")
        local d = line:match("([%+%-]%d+%.?%d*%%)%s+%(p=")
        rows[#rows + 1] = { scope = pkg or "all", label = name .. " " .. (unit or ""),
          delta_pct = d and tonumber(d:sub(1, -2)) or 0, text = d or "~ (no significant change)",
          significant = d ~= nil }
      end
    end
    flush()
  end
  return { measured = #entries > 0, source = path, entries = entries }
end

-- Everything the runbook says, as plain data (what --json prints).
local function gather(o)
  local repo, err = pgo.audit.repo(o.root, { env = {} })
  if not repo then return nil, err end
  local facts = { root = o.root, module = repo.module, cadence = o.cadence, title = TITLE,
    profiles = recipe.array(), findings = recipe.array() }
  for _, f in ipairs(repo.findings) do
    if f.severity ~= "info" then
      facts.findings[#facts.findings + 1] = { severity = f.severity, code = f.code, path = f.path,
        message = f.message }
    end
  end
  local any_git = false
  for _, m in ipairs(repo.mains) do
    local rel = m.dir == "." and "default.pgo" or (m.dir .. "/default.pgo")
    local e = { main_package = m.path, dir = m.dir, path = rel, present = m.default_pgo,
      top = recipe.array() }
    if m.default_pgo then
      local p, perr = pgo.load(join(o.root, rel))
      if not p then
        e.error = perr
      else
        local info = p:info()
        e.kind, e.samples, e.duration_s = info.kind, m.profile and m.profile.samples, info.duration_ns / 1e9
        local prov = capture_facts(p)
        e.provenance = prov
        e.capture = {
          source = prov and prov.source or nil,
          window = prov and prov.window or nil,
          instances = prov and prov.instances or nil,
          seconds = prov and prov.seconds or nil,
          aggregated_via = prov and prov.aggregated_via or nil,
          recorded = prov ~= nil,
        }
        if info.kind == "cpu" then
          local h = pgo.audit.health(p, HEALTH_OPTS)
          e.health = { ok = h.ok, failed = recipe.array(), passed = 0 }
          for _, c in ipairs(h.checks) do
            if c.ok then e.health.passed = e.health.passed + 1
            else e.health.failed[#e.health.failed + 1] = { name = c.name, message = c.message } end
          end
          local done, rows = pcall(p.top, p, { n = o.top })
          if done then
            for _, r in ipairs(rows) do
              e.top[#e.top + 1] = { name = r.name, flat_pct = r.flat_pct, cum_pct = r.cum_pct,
                inline = r.inline or nil }
            end
          end
        end
        p:close()
      end
      local commit, in_git = last_commit(o.root, rel)
      any_git = any_git or in_git
      e.last_commit = commit
      e.rollback = {
        find = "git log -1 --format=%h -- " .. recipe.shell_word(rel),
        revert = "git revert " .. (commit or "<commit that changed " .. rel .. ">"),
        restore = commit and ("git checkout %s~1 -- %s"):format(commit, recipe.shell_word(rel)) or nil,
      }
    end
    facts.profiles[#facts.profiles + 1] = e
  end
  facts.git = any_git
  if o.ab then
    local ab, aerr = read_ab(o.ab)
    if not ab then return nil, aerr end
    ab.entries = recipe.array(ab.entries)
    facts.expected_gain = ab
  else
    facts.expected_gain = { measured = false, entries = recipe.array() }
  end
  local mains = {}
  for _, m in ipairs(repo.mains) do mains[#mains + 1] = "./" .. (m.dir == "." and "" or m.dir) end
  facts.disable = {
    build = "go build -pgo=off " .. (mains[1] and recipe.shell_word(mains[1]) or "./..."),
    env = "GOFLAGS=-pgo=off",
  }
  return facts
end

-- }=====================================================================================

-- {=====================================================================================
-- Markdown sections: each appends lines to w

local sections = {}
local function present(facts)
  local list = {}
  for _, e in ipairs(facts.profiles) do
    if e.present then list[#list + 1] = e end
  end
  return list
end

function sections.locations(facts, w)
  w(H .. "# Profile locations")
  w("")
  if #facts.profiles == 0 then
    w("No package main in this module: there is nothing for `go build -pgo=auto` to use.")
    return
  end
  w("`go build` (default `-pgo=auto`) uses the file named `default.pgo` in the directory of each main package.")
  w("")
  w("| Main package | Profile | State |")
  w("| --- | --- | --- |")
  for _, e in ipairs(facts.profiles) do
    local state
    if not e.present then state = "missing: builds without PGO"
    elseif e.error then state = "unusable: " .. md(e.error)
    else
      state = ("%s profile, %s samples over %s"):format(md(e.kind), tostring(e.samples or "?"),
        seconds_text(e.duration_s) or "?")
      if e.last_commit then state = state .. ", last changed in " .. code(e.last_commit, true) end
    end
    w(("| %s | %s | %s |"):format(md(e.main_package), code(e.path, true), state))
  end
  if #facts.findings > 0 then
    w("")
    w("Findings of the repository audit:")
    w("")
    for _, f in ipairs(facts.findings) do w(("- %s: %s"):format(f.severity, md(f.message))) end
  end
end

function sections.refresh(facts, w)
  w(H .. "# Refresh")
  w("")
  w("- Cadence: " .. md(facts.cadence))
  for _, e in ipairs(facts.profiles) do
    if not e.present then
      w("- " .. code(e.path) .. ": not there yet; create it with "
        .. code((REFRESH_COMMAND:gsub("PROFILE", function() return recipe.shell_word(e.path) end))))
    end
  end
  for _, e in ipairs(present(facts)) do
    w("- " .. code(e.path) .. ":")
    local c = e.capture
    if not c or not c.recorded then
      w("  - Capture source: unknown (no provenance recorded)")
      w("  - Window: unknown (no provenance recorded)")
      w("  - Instances: unknown (no provenance recorded)")
    else
      w("  - Capture source: " .. (c.source and code(c.source) or "unknown"))
      w("  - Window: " .. (c.window and code(c.window) or "unknown") ..
        (c.seconds and (" (" .. seconds_text(c.seconds) .. " per instance)") or ""))
      w("  - Instances: " .. (c.instances and tostring(math.floor(c.instances)) or "unknown"))
      if c.aggregated_via then w("  - Aggregated via: " .. code(c.aggregated_via)) end
    end
    w("  - Refresh with: " .. code((REFRESH_COMMAND:gsub("PROFILE", function() return recipe.shell_word(e.path) end))))
  end
  w("")
  w("A refresh captures, merges and validates new profiles, replaces the file atomically, "
    .. "records provenance in the profile and writes the pull-request body.")
end

function sections.gain(facts, w)
  w(H .. "# Measured effect (A/B)")
  w("")
  local g = facts.expected_gain
  if not g.measured then
    w(g.source and ("Not measured: no geomean or benchmark delta found in " .. code(g.source) .. ".")
      or "Not measured. Run `pgolua recipes/ab.lua` (PGO off against `-pgo=auto`) and pass its `--json` output with `--ab`.")
    return
  end
  if g.section then
    w("From the last A/B, " .. code(g.source) .. ":")
    w("")
    for line in g.section:gmatch("([^\n]*)\n") do w(line) end
    return
  end
  w("From the last A/B, " .. code(g.source) .. " (negative time per op is faster):")
  w("")
  for _, e in ipairs(g.entries) do
    local delta = e.significant == false and "~ (no significant change)"
      or ("%+.2f%%"):format(e.delta_pct)
    w(("- %s: %s%s"):format(md((e.label:gsub("%s+$", ""))), delta,
      e.scope ~= "all" and (" (" .. md(e.scope) .. ")") or ""))
  end
end

function sections.health(facts, w)
  w(H .. "# Profile health")
  w("")
  local list = present(facts)
  if #list == 0 then w("No default.pgo to check.") return end
  for _, e in ipairs(list) do
    if e.error then
      w(("- %s: unusable: %s"):format(code(e.path), md(e.error)))
    elseif not e.health then
      w(("- %s: a %s profile, not a CPU profile: go build rejects it"):format(code(e.path), md(e.kind or "?")))
    elseif e.health.ok then
      w(("- %s: healthy (%d checks passed)"):format(code(e.path), e.health.passed))
    else
      w(("- %s: %d of %d checks failed:"):format(code(e.path), #e.health.failed,
        #e.health.failed + e.health.passed))
      for _, c in ipairs(e.health.failed) do w(("  - %s: %s"):format(md(c.name), md(c.message))) end
    end
  end
end

function sections.top(facts, w)
  w(H .. "# Top functions")
  w("")
  local list = present(facts)
  if #list == 0 then w("No default.pgo.") return end
  for _, e in ipairs(list) do
    if #e.top > 0 then
      w("Hottest functions in " .. code(e.path) .. " (flat, as `go tool pprof -top`):")
      w("")
      w("| # | flat% | cum% | Function |")
      w("| ---: | ---: | ---: | --- |")
      for i, r in ipairs(e.top) do
        w(("| %d | %.2f%% | %.2f%% | %s%s |"):format(i, r.flat_pct, r.cum_pct, md(r.name),
          r.inline and " (inline)" or ""))
      end
      w("")
    end
  end
end

function sections.rollback(facts, w)
  w(H .. "# Rollback")
  w("")
  local list = present(facts)
  if #list == 0 then w("No default.pgo to roll back.") return end
  w("Revert the commit that last changed the profile; the next build uses the previous profile.")
  w("")
  for _, e in ipairs(list) do
    local lines = {}
    if e.last_commit then
      lines[#lines + 1] = "# last commit that changed " .. e.path .. ": " .. e.last_commit
    elseif facts.git then
      lines[#lines + 1] = "# " .. e.path .. " is not committed yet"
    else
      lines[#lines + 1] = "# not a git repository here: find the commit in your repository"
    end
    lines[#lines + 1] = e.rollback.find
    lines[#lines + 1] = e.rollback.revert
    w(recipe.md_block(lines, "sh"))
    if e.rollback.restore then
      w("")
      w("If that commit changed more than the profile, restore only the file and commit it: "
        .. code(e.rollback.restore))
    end
    w("")
  end
end

function sections.disable(facts, w)
  w(H .. "# Emergency disable")
  w("")
  w("Build without PGO (the profile stays in the repository, nothing else changes):")
  w("")
  w(recipe.md_block({ facts.disable.build, "# or, for every build in an environment (CI, Dockerfile):",
    "export " .. facts.disable.env }, "sh"))
  w("")
  w("Remove the flag once the cause is fixed; `pgolua recipes/doctor.lua` reports any "
    .. "`-pgo=off` left in GOFLAGS, Makefiles, CI files or Dockerfiles.")
end

function sections.troubleshooting(facts, w)
  w(H .. "# When it breaks")
  w("")
  local p = present(facts)[1]
  local path = p and recipe.shell_word(p.path) or "cmd/SERVICE/default.pgo"
  w("- PGO seems to do nothing: `pgolua recipes/doctor.lua --binary BINARY --root .` walks the "
    .. "ladder (built with -pgo?, usable profile, stale, health, -pgo=off, location, benchmark names).")
  w("- Code changed a lot since the capture: " .. code("pgolua recipes/stale.lua " .. path .. " --src .")
    .. " (exit 3 above the threshold: refresh).")
  w("- Which profile a binary was built with: `go version -m BINARY | grep -- -pgo=`, or "
    .. "`pgolua -e 'print(require(\"pgo\").buildinfo(\"BINARY\").settings[\"-pgo\"])'`.")
  w("- The build fails while reading the profile (\"profile missing Function.start_line data\", "
    .. "\"not a CPU profile\"): roll back (above), then refresh from a Go 1.20+ service.")
end

local function markdown(facts)
  local lines = {}
  local function w(s) lines[#lines + 1] = s end
  w(H .. " " .. TITLE)
  w("")
  w(("Module %s. Written by `pgolua recipes/runbook.lua`; regenerate it after every refresh.")
    :format(facts.module and code(facts.module) or "(unknown)"))
  for _, name in ipairs(SECTIONS) do
    local fn = sections[name]
    if not fn then error("BUG: no runbook section named " .. tostring(name), 0) end
    w("")
    fn(facts, w)
  end
  local text = table.concat(lines, "\n"):gsub("\n\n\n+", "\n\n"):gsub("\n+$", "")
  return text .. "\n"
end

-- }=====================================================================================

local function main(args)
  local o, rc = recipe.parse(parser, args, out)
  if not o then return rc end
  if not o.top or o.top < 0 then return out:fail("--top must be a non-negative integer") end
  local facts, err = gather(o)
  if not facts then return out:fail(err) end
  local text = o.json and (recipe.json(facts) .. "\n") or markdown(facts)
  local ok, werr = recipe.write_file(o.out, text)
  if not ok then return out:fail(werr) end
  return recipe.EXIT.ok
end

os.exit(main(arg))
