-- pgo: the pgolua library. The C modules (pgo.profile, ...) do the exact, heavy work;
-- this file gathers them into one table, with the Lua-side modules (pgo.report, ...).
-- The profile class, methods and summary included, is lua/pgo/profile.lua.
local profile = require "pgo.profile"

local pgo = {}

pgo.version = require("pgo.core.net").version   -- "pgolua <git describe>"

--- Load a profile from a file ("-" = standard input).
-- @treturn[1] profile
-- @treturn[2] nil, message, code
function pgo.load(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2)
  end
  return profile.load(path, opts)
end

--- Decode gzip or raw profile.proto bytes.
function pgo.decode(bytes, opts)
  if type(bytes) ~= "string" then
    error("bad argument #1 to 'decode' (string expected, got " .. type(bytes) .. ")", 2)
  end
  return profile.decode(bytes, opts)
end

pgo.profile = profile

-- Lua-side modules load on first use, so `require "pgo"` stays cheap.
local lazy = { report = "pgo.report", units = "pgo.units", json = "pgo.json",
  options = "pgo.options", checks = "pgo.checks" }

-- Merge, diff and edits (src/lua/transform.c, lua/pgo/edit.lua); flame graphs.
local edit = require "pgo.edit"
pgo.merge = profile.merge
pgo.merge_files = profile.merge_files
pgo.diff_table = edit.diff_table
lazy.flame = "pgo.flame"

-- The rest of the library, each in its own module, loaded on first use:
--   pgo.symbols   Go source and binary symbol tables (lua/pgo/symbols.lua over pgo.core.symbols)
--   pgo.audit     stale, health, repo, bloat, drift, devirt_shift (lua/pgo/audit.lua)
--   pgo.fetch     profile capture and fleets (lua/pgo/fetch.lua over pgo.core.net)
--   pgo.backends  Pyroscope, Parca, net/http/pprof, file:// (lua/pgo/backends.lua)
--   pgo.fs        replace, tempfile (lua/pgo/fs.lua over pgo.fsys)
--   pgo.provenance  provenance comments and the pull-request body
--   pgo.capture   every source into one merged profile (lua/pgo/capture.lua)
--   pgo.replace   the replace transaction: preflight, stage, verify, commit
--   pgo.refresh   capture, check and replace default.pgo (recipes/refresh.lua's machinery)
--   pgo.bench     Go benchmark parsing, benchstat statistics, CI gate
--   pgo.inline    -gcflags=-m=2 inline diff
--   pgo.loadtest  live load A/B (over pgo.core.net)
for _, name in ipairs { "symbols", "audit", "fetch", "backends", "fs", "provenance", "bench", "repo",
  "ab", "ab_run", "fetch_plan", "diagnose",
  "capture", "replace", "refresh",
  "inline", "loadtest", "compiler", "recipe", "help", "symbols_binary" } do
  lazy[name] = "pgo." .. name
end

-- Top-level shortcuts into those modules.
function pgo.preprofile(p, ...) return require("pgo.compiler").preprofile(p, ...) end
function pgo.buildinfo(path, ...) return require("pgo.symbols").buildinfo(path, ...) end
function pgo.load_test(opts) return require("pgo.loadtest").load_test(opts) end
function pgo.ab_load(opts) return require("pgo.loadtest").ab_load(opts) end
-- __lazy lists them for the REPL's completion and pgo.help before they are loaded.
setmetatable(pgo, {
  __lazy = lazy,
  __index = function(t, k)
    local name = lazy[k]
    if not name then return nil end
    local m = require(name)
    rawset(t, k, m)
    return m
  end,
})

return pgo
