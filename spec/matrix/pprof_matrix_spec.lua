-- The Go version matrix, live: for every toolchain of PGOLUA_GO_VERSIONS (Makefile
-- GO_VERSIONS: Debian's 1.23, /usr/local/go, go1.27.3 through GOTOOLCHAIN) and for pprof
-- HEAD (scripts/gotool.sh pprof), the real `go tool pprof` / `go tool preprofile` run on
-- the fixtures and on profiles pgolua writes, beside pgo.report, pgo.merge_files,
-- p:diff and pgo.compiler. Outputs are cached by tool version + input content
-- (spec/support/gomatrix.lua), so only the first run pays for the tools.
--
-- Layouts: each Go's pprof is compared with pgo.report.layout_for_go(its version) ("go1.23"
-- up to 1.23, "go1.24", "head" from 1.25, as pprof HEAD). GO_VERSIONS="go1.24.0 go1.25.0"
-- checks the two boundaries.
local helpers = require "helpers"
local gomatrix = require "support.gomatrix"
local pgo = require "pgo"
local compiler = require "pgo.compiler"

local F = helpers.fixture

local function layout_of(v) return pgo.report.layout_for_go(v.name) end

-- Compare line by line so a failure names the line, then byte for byte.
local function assert_text(want, got, label)
  local w, g = {}, {}
  for l in want:gmatch("(.-)\n") do w[#w + 1] = l end
  for l in got:gmatch("(.-)\n") do g[#g + 1] = l end
  for i = 1, math.max(#w, #g) do assert.equal(w[i], g[i], ("%s, line %d"):format(label, i)) end
  assert.equal(want, got, label)
end

local PROFILES = { "profiles/shop.steady.pgo", "profiles/shop.p2.pgo", "profiles/shop.startup.pgo",
  "profiles/micro.pgo", "profiles/go1.19/shop.steady.pgo", "thirdparty/grpc-anon.pprof" }

-- pprof flags and the pgo.report.top options that mean the same.
local TOPS = {
  { "-top -nodecount=20", { n = 20 } },
  { "-top -cum -nodecount=20", { n = 20, cum = true } },
  { "-top -nodecount=15 -focus=cache", { n = 15, focus = "cache" } },
  { "-top -nodecount=15 -ignore=runtime -hide=sha256", { n = 15, ignore = "runtime", hide = "sha256" } },
  { "-top -nodecount=10 -tagfocus=endpoint=/slow", { n = 10, tagfocus = "endpoint=/slow" } },
}

-- The checks of one pprof (a Go toolchain's or HEAD), `run(args, files)` running it.
local function pprof_checks(name, layout, run)
  for _, rel in ipairs(PROFILES) do
    it(name .. ": -top with and without filters, -tags: " .. rel, function()
      local p = assert(pgo.load(F(rel)))
      for _, t in ipairs(TOPS) do
        local want, err, code = run(t[1], { F(rel) })
        assert.equal(0, code, err)
        local opts = { pprof = layout }
        for k, v in pairs(t[2]) do opts[k] = v end
        local got, warnings = pgo.report.top(p, opts)
        assert_text(want, got, rel .. " " .. t[1])
        -- pprof's stderr notes (e.g. a tag filter that matched nothing) are the warnings
        local notes = {}
        for l in err:gmatch("[^\n]+") do notes[#notes + 1] = l end
        assert.same(notes, warnings, rel .. " " .. t[1] .. " stderr")
      end
      local want = run("-tags", { F(rel) })
      assert_text(want, (pgo.report.tags(p, { pprof = layout })), rel .. " -tags")
    end)
  end

  it(name .. ": -top of three profiles merged is -top of pgo.merge_files", function()
    local files = { F("profiles/shop.p1.pgo"), F("profiles/shop.p2.pgo"), F("profiles/shop.p3.pgo") }
    local want, err, code = run("-top -nodecount=25", files)
    assert.equal(0, code, err)
    local m = assert(pgo.merge_files(files))
    assert_text(want, (pgo.report.top(m, { n = 25, pprof = layout })), "merge p1 p2 p3")
  end)

  it(name .. ": -top -base is p:diff", function()
    local p1, p2 = F("profiles/shop.p1.pgo"), F("profiles/shop.p2.pgo")
    local want, err, code = run("-top -nodecount=20 -base=" .. helpers.shq(p1), { p2 })
    assert.equal(0, code, err)
    local d = assert(assert(pgo.load(p2)):diff(assert(pgo.load(p1))))
    assert_text(want, (pgo.report.top(d, { n = 20, pprof = layout })), "p2 -base p1")
  end)

  it(name .. ": reads what pgolua writes with the same -top", function()
    local dir = helpers.tmpdir()
    for _, rel in ipairs { "profiles/shop.steady.pgo", "thirdparty/grpc-anon.pprof" } do
      local p = assert(pgo.load(F(rel)))
      local out = dir .. "/" .. rel:match("[^/]+$")
      assert.is_true(p:write(out))
      local want, err, code = run("-top -nodecount=20", { out })
      assert.equal(0, code, err)
      assert_text(want, (pgo.report.top(p, { n = 20, pprof = layout })), rel .. " written")
    end
    helpers.rm_rf(dir)
  end)
end

describe("#matrix go tool pprof and preprofile of each Go", function()
  for _, v in ipairs(gomatrix.versions()) do
    if v.missing then
      it(v.entry, function() pending("not available: " .. v.missing) end)
    else
      pprof_checks(v.name .. " pprof", layout_of(v),
        function(args, files) return gomatrix.pprof(v, args, files) end)

      it(v.name .. ": go tool preprofile is pgo.compiler.preprofile_file", function()
        for _, rel in ipairs { "profiles/shop.steady.pgo", "profiles/micro.pgo",
          "thirdparty/grpc-anon.pprof", "expected/merge/merged.pgo", "bad/nosamples.pgo",
          "profiles/go1.19/micro.pgo", "bad/heap.pb.gz", "bad/truncated.pgo" } do
          local want, _, code = gomatrix.preprofile(v, F(rel))
          local got = compiler.preprofile_file(F(rel))
          if code == 0 then
            assert.equal(want, got, rel)
          else
            assert.is_nil(got, rel .. ": Go failed, pgolua did not")
          end
        end
      end)
    end
  end
end)

describe("#matrix pprof HEAD", function()
  local head, why = gomatrix.pprof_head()
  if not head then
    it("pprof HEAD", function() pending("scripts/gotool.sh pprof failed: " .. tostring(why)) end)
    return
  end
  pprof_checks(head.name, "head",
    function(args, files) return gomatrix.pprof_head_run(head, args, files) end)
end)
