#!/usr/bin/env pgolua
-- stale.lua: how much of a CPU profile points at code that no longer exists in a source
--   tree (renamed, moved or deleted functions), the stale functions that weigh most, and
--   whether the profile should be refreshed. A CI job runs it against the branch's tree.
-- Run:   pgolua recipes/stale.lua PROFILE --src DIR [--max-stale F] [--top N]
--          [--include-tests] [--lenient] [--main-package PATH] [--json]
-- Exit:  0 fresh (stale cum share at or under the threshold), 3 stale: over the
--        threshold (refresh the profile), 2 inconclusive (files the scan could not read
--        could hold the profile's functions, or the tree is not the profile's module),
--        1 error (unreadable profile, not a Go module, bad option; the library's message
--        on stderr).
-- Adapt: copy this file; change the values under "ADAPT" below (the threshold, which
--   share it applies to, how many functions to print, the recommendation). Everything
--   else is library code (pgo.audit.stale, pgo.symbols.go_source).
local pgo = require "pgo"
local recipe = require "pgo.recipe"
local units = require "pgo.units"
local argparse = require "argparse"
local pct = units.pct

-- ADAPT ---------------------------------------------------------------------------------
-- The threshold applies to the cum share: samples with any stale function on the stack
-- (each sample once). Flat (the leaf only) underestimates: a renamed caller loses its
-- inlining and devirtualization decisions even when its callees still exist.
local MAX_STALE = pgo.checks.defaults().max_stale   -- the library's: refresh above 10% (cum)
local DEFAULT_TOP = 10              -- stale functions printed (0 = all)
local SOURCE_OPTS = { lenient = false }   -- lenient = true (or --lenient) skips files with syntax errors
-- Decide from the report (pgo.audit.stale's table, its verdict against max_stale)
-- whether to ask for a refresh.
local function needs_refresh(report)
  return report.verdict == "stale"
end
-- The sentence printed (and put in JSON) for people.
local function recommendation(report, max_stale, stale)
  if report.verdict == "inconclusive" then
    return "could not tell: " .. report.why
  end
  if stale then
    return ("refresh the profile: %s of the samples (cum) run through functions that are gone "
      .. "from the source (threshold %s); PGO decisions for them are lost until the next capture")
      :format(pct(report.cum_fraction), pct(max_stale))
  end
  return ("no refresh needed: %s of the samples (cum) are stale, at or under the threshold %s")
    :format(pct(report.cum_fraction), pct(max_stale))
end
-- ---------------------------------------------------------------------------------------

local out = recipe.new("stale")

local parser = argparse("pgolua stale",
  "Share of a CPU profile that no longer matches the source, and the stale functions.")
parser:argument("profile", "The profile (default.pgo or any CPU profile).")
parser:option("--src", "Root of the Go module to check against (holds go.mod).")
  :count(1)
parser:option("--max-stale", "Refresh threshold on the stale cum share (0..1).",
  tostring(MAX_STALE)):convert(tonumber)
parser:option("--top", "Stale functions to print (0 = all; JSON always has all).",
  tostring(DEFAULT_TOP)):convert(math.tointeger)
parser:flag("--include-tests", "Count functions declared in _test.go files as present.")
parser:flag("--lenient", "Skip Go files with syntax errors (listed as unreadable) instead of failing.")
parser:option("--main-package", "Import path of the binary's package main, when the module has several.")
parser:flag("--json", "Print JSON instead of text.")
parser:epilog("Exit: 0 fresh, 3 stale (over --max-stale), 2 inconclusive (cannot tell), 1 error.")

-- The text report.
local function print_text(o, report, stale, advice)
  -- function names, module paths and the profile's path are outside text: control
  -- characters are shown escaped, never sent raw to the terminal
  local w = function(line) io.write(pgo.report.terminal_text(line), "\n") end
  w(("stale: %s against %s (module %s)"):format(o.profile, o.src, report.module or "?"))
  w(("  stale flat  %7s  %d of %d samples: the leaf function is gone")
    :format(pct(report.flat_fraction), report.stale_flat, report.total))
  w(("  stale cum   %7s  %d of %d samples: a stale function is on the stack")
    :format(pct(report.cum_fraction), report.stale_cum, report.total))
  w(("  own code    %7s flat, %s cum of the %d samples that run the module's code")
    :format(pct(report.own_flat_fraction), pct(report.own_cum_fraction), report.own_total))
  local list = report.functions
  if #list == 0 then
    w("no stale functions")
  else
    local n = (o.top == 0 or o.top > #list) and #list or o.top
    w(("%s%s, by cum:"):format(units.plural(#list, "stale function"), n < #list and (", top " .. n) or ""))
    w(("  %8s %7s %8s %7s  %s"):format("flat", "flat%", "cum", "cum%", "function"))
    for i = 1, n do
      local f = list[i]
      w(("  %8d %7s %8d %7s  %s"):format(f.flat, pct(f.flat / report.total),
        f.cum, pct(f.cum / report.total), f.name))
      if f.how and f.how ~= "not found in the source" then
        w(("  %33s  (%s: %s)"):format("", f.belongs_to or "?", f.how))
      end
    end
  end
  for _, f in ipairs(report.inconclusive) do
    local more = #f.functions > 3 and (", and %d more"):format(#f.functions - 3) or ""
    w(("could not read %s (%s): it could hold %s%s"):format(f.path, f.reason,
      table.concat(f.functions, ", ", 1, math.min(3, #f.functions)), more))
  end
  local label = { stale = "STALE: ", fresh = "fresh: ", inconclusive = "INCONCLUSIVE: " }
  w(label[report.verdict] .. advice)
end

local function main(args)
  local o, code = recipe.parse(parser, args, out)
  if not o then return code end
  if not o.max_stale or o.max_stale < 0 or o.max_stale > 1 then
    return out:fail("--max-stale must be a number between 0 and 1 (a fraction: 0.10 = 10%)")
  end
  if not o.top or o.top < 0 then return out:fail("--top must be a non-negative integer") end

  local p, err = pgo.load(o.profile)
  if not p then return out:fail(err) end
  local cpu, cerr = p:require_cpu("stale")
  if not cpu then return out:fail(o.profile .. ": " .. cerr) end
  local sopts = { include_tests = o.include_tests or nil }
  for k, v in pairs(SOURCE_OPTS) do sopts[k] = v end
  sopts.lenient = o.lenient or sopts.lenient
  local syms, serr, scode = pgo.symbols.go_source(o.src, sopts)
  if scode == "go_syntax" and not sopts.lenient then
    return out:fail(serr .. "\nfix the file, or pass --lenient to skip files with syntax errors")
  end
  if not syms then return out:fail(serr) end

  local report = pgo.audit.stale(p, syms, { main_package = o.main_package, max_stale = o.max_stale })
  local stale = needs_refresh(report)
  local exit = stale and recipe.EXIT.over_threshold or
    report.verdict == "inconclusive" and recipe.EXIT.failed or recipe.EXIT.ok
  local advice = recommendation(report, o.max_stale, stale)

  if o.json then
    local functions = recipe.array()
    for i, f in ipairs(report.functions) do
      functions[i] = { name = f.name, flat = f.flat, cum = f.cum, flat_fraction = f.flat / report.total,
        cum_fraction = f.cum / report.total, belongs_to = f.belongs_to, how = f.how }
    end
    io.write(recipe.json {
      profile = o.profile, src = o.src, module = report.module, sample_type = report.sample_type,
      total = report.total, stale_flat = report.stale_flat, stale_cum = report.stale_cum,
      flat_fraction = report.flat_fraction, cum_fraction = report.cum_fraction, own_total = report.own_total,
      own_flat_fraction = report.own_flat_fraction, own_cum_fraction = report.own_cum_fraction,
      functions = functions, unknown = recipe.array(report.unknown), threshold = o.max_stale,
      threshold_on = "cum_fraction", verdict = report.verdict, inconclusive = recipe.array(report.inconclusive),
      samples = p:info().samples, stale = stale, refresh_recommended = stale, recommendation = advice, exit = exit,
    }, "\n")
  else
    print_text(o, report, stale, advice)
  end
  return exit
end

os.exit(main(arg))
