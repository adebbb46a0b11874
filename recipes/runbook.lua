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
--   sections appear and in what order, the commands shown, thresholds). The facts come
--   from the library (pgo.diagnose.repository, pgo.diagnose.gain; health is pgo.checks).
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
-- Thresholds over the library's one table (pgo.checks.defaults), e.g. { max_gc = false }:
-- doctor and refresh read the same table, so the three agree on the same profile.
local THRESHOLDS = {}
-- ---------------------------------------------------------------------------------------

local units = require "pgo.units"
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

-- Markdown sections: each appends lines to w (facts: pgo.diagnose.repository's)

local sections = {}
local function present(facts)
  local list = {}
  for _, e in ipairs(facts.profiles) do if e.present then list[#list + 1] = e end end
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
        units.duration(e.duration_s) or "?")
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

local function refresh_command(path)
  return code((REFRESH_COMMAND:gsub("PROFILE", function() return recipe.shell_word(path) end)))
end

function sections.refresh(facts, w)
  w(H .. "# Refresh")
  w("")
  w("- Cadence: " .. md(facts.cadence))
  for _, e in ipairs(facts.profiles) do
    if not e.present then
      w("- " .. code(e.path) .. ": not there yet; create it with " .. refresh_command(e.path))
    end
  end
  for _, e in ipairs(present(facts)) do      -- what the provenance in the profile says
    local c = e.capture
    local function field(v) return not c.recorded and "unknown (no provenance recorded)" or v or "unknown" end
    w("- " .. code(e.path) .. ":")
    w("  - Capture source: " .. field(c.source and code(c.source)))
    w("  - Window: " .. field(c.window and code(c.window))
      .. (c.seconds and (" (" .. units.duration(c.seconds) .. " per instance)") or ""))
    w("  - Instances: " .. field(c.instances and tostring(math.floor(c.instances))))
    if c.aggregated_via then w("  - Aggregated via: " .. code(c.aggregated_via)) end
    w("  - Refresh with: " .. refresh_command(e.path))
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
  w("From the last A/B, " .. code(g.source) .. (g.note and (" (" .. g.note .. ")") or "") .. ":")
  w("")
  for line in g.section:gmatch("([^\n]*)\n") do w(line) end
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
    else
      -- the checks doctor's step 4 counts, by the same thresholds (pgo.checks)
      w(("- %s: %s%s"):format(code(e.path), e.health.ok and "healthy, " or "", md(e.health.summary)))
      for _, c in ipairs(e.health.checks) do
        if c.verdict == "fail" then w(("  - %s: %s"):format(md(c.name), md(c.advice))) end
      end
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
    local head = e.last_commit and ("# last commit that changed " .. e.path .. ": " .. e.last_commit)
      or facts.git and ("# " .. e.path .. " is not committed yet")
      or "# not a git repository here: find the commit in your repository"
    w(recipe.md_block({ head, e.rollback.find, e.rollback.revert }, "sh"))
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

local function main(args)
  local o, rc = recipe.parse(parser, args, out)
  if not o then return rc end
  if not o.top or o.top < 0 then return out:fail("--top must be a non-negative integer") end
  local facts, err = pgo.diagnose.repository(o.root, { thresholds = THRESHOLDS, top = o.top })
  if not facts then return out:fail(err) end
  facts.cadence, facts.title = o.cadence, TITLE
  facts.expected_gain, err = pgo.diagnose.gain(o.ab)
  if not facts.expected_gain then return out:fail(err) end
  local text = o.json and (recipe.json(facts) .. "\n") or markdown(facts)
  local ok, werr = recipe.write_file(o.out, text)
  if not ok then return out:fail(werr) end
  return recipe.EXIT.ok
end

os.exit(main(arg))
