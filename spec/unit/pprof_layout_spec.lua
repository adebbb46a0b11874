-- Specs for the default pprof layout of pgo.report (lua/pgo/report.lua): the layout of the
-- pprof vendored in each Go release, the newest Go installed (fake Go roots: a folder with
-- a VERSION file and bin/go), and PGOLUA_PPROF_LAYOUT. The real releases' layouts are
-- checked against their pprof by spec/matrix/pprof_matrix_spec.lua.
local helpers = require "helpers"
local report = require "pgo.report"

local shq = helpers.shq

-- A fake Go root: <dir>/<name>/VERSION (when version is given) and an executable bin/go.
local function fake_root(dir, name, version)
  local root = dir .. "/" .. name
  assert(os.execute("mkdir -p " .. shq(root .. "/bin")))
  helpers.write_file(root .. "/bin/go", "#!/bin/sh\nexit 1\n")
  assert(os.execute("chmod +x " .. shq(root .. "/bin/go")))
  if version then helpers.write_file(root .. "/VERSION", version .. "\ntime 2026-01-01T00:00:00Z\n") end
  return root
end

describe("pgo.report.layout_for_go()", function()
  it("maps each Go release to the layout of the pprof it vendors", function()
    assert.equal("go1.23", report.layout_for_go("go1.19.13"))
    assert.equal("go1.23", report.layout_for_go("go1.23.5"))
    assert.equal("go1.24", report.layout_for_go("go1.24.0"))
    assert.equal("go1.24", report.layout_for_go("go1.24rc2"))
    assert.equal("head", report.layout_for_go("go1.25.0"))
    assert.equal("head", report.layout_for_go("go1.26.8"))
    assert.equal("head", report.layout_for_go("go1.27.3"))
  end)

  it("gives nil for what is not a Go release", function()
    assert.is_nil(report.layout_for_go("devel go1.27-abcdef"))
    assert.is_nil(report.layout_for_go("1.26.8"))
    assert.is_nil(report.layout_for_go(""))
    assert.is_nil(report.layout_for_go(nil))
  end)
end)

describe("pgo.report.newest_go()", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("takes the newest of GOROOT, every go on PATH and the fixed roots", function()
    local old = fake_root(dir, "old", "go1.23.5")
    local new = fake_root(dir, "new", "go1.26.8")
    local mid = fake_root(dir, "mid", "go1.25.3")
    local path = old .. "/bin:" .. new .. "/bin"
    assert.same({ "go1.26.8", new }, { report.newest_go{ path = path, goroot = mid, roots = {} } })
    assert.same({ "go1.25.3", mid }, { report.newest_go{ path = old .. "/bin", goroot = mid, roots = {} } })
    assert.same({ "go1.26.8", new }, { report.newest_go{ path = "", goroot = old, roots = { new } } })
  end)

  it("compares patch releases as numbers, a release candidate before its .0", function()
    local p9 = fake_root(dir, "p9", "go1.26.9")
    local p10 = fake_root(dir, "p10", "go1.26.10")
    local rc = fake_root(dir, "rc", "go1.27rc1")
    local r0 = fake_root(dir, "r0", "go1.27.0")
    assert.equal("go1.26.10", (report.newest_go{ path = "", goroot = "", roots = { p10, p9 } }))
    assert.equal("go1.26.10", (report.newest_go{ path = "", goroot = "", roots = { p9, p10 } }))
    assert.equal("go1.27rc1", (report.newest_go{ path = "", goroot = "", roots = { p10, rc } }))
    assert.equal("go1.27.0", (report.newest_go{ path = "", goroot = "", roots = { rc, r0 } }))
  end)

  it("follows a symbolic link to go on PATH to its root (as Debian's /usr/bin/go)", function()
    local root = fake_root(dir, "lib/go-1.24", "go1.24.2")
    assert(os.execute("mkdir -p " .. shq(dir .. "/usrbin") .. " && ln -s " .. shq(root .. "/bin/go")
      .. " " .. shq(dir .. "/usrbin/go")))
    assert.same({ "go1.24.2", root },
      { report.newest_go{ path = dir .. "/usrbin", goroot = "", roots = {} } })
  end)

  it("skips roots without a VERSION file or with a line that is no release", function()
    local none = fake_root(dir, "none")
    local devel = fake_root(dir, "devel", "devel go1.28-0123abcd Mon Jan 1 2026")
    local junk = fake_root(dir, "junk", "\0\1\2")
    assert.is_nil(report.newest_go{ path = none .. "/bin:" .. dir .. "/missing", goroot = devel,
      roots = { junk, dir .. "/nowhere" } })
  end)
end)

describe("pgo.report.default_layout()", function()
  -- a pgolua process with env and the Go roots it may look at
  local function default_in(env, roots)
    local list = {}
    for i, r in ipairs(roots) do list[i] = ("%q"):format(r) end
    local script = "local r = require 'pgo.report'; r.GO_ROOTS = {" .. table.concat(list, ",")
      .. "}; io.write(r.default_layout(), ' ', r.time(0))"
    return helpers.run("env " .. env .. " TZ=UTC " .. shq(helpers.pgolua) .. " -e " .. shq(script))
  end
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("follows the newest Go installed", function()
    local old = fake_root(dir, "old", "go1.23.5")
    local mid = fake_root(dir, "mid", "go1.24.1")
    local new = fake_root(dir, "new", "go1.27.3")
    local env = "-u PGOLUA_PPROF_LAYOUT GOROOT= PATH=" .. shq(old .. "/bin:/usr/bin:/bin")
    assert.same({ "go1.23 Jan 1, 1970 at 12:00am (UTC)", "", 0 }, { default_in(env, {}) })
    assert.same({ "go1.24 1970-01-01 00:00:00 UTC", "", 0 }, { default_in(env, { mid }) })
    assert.same({ "head 1970-01-01 00:00:00 UTC", "", 0 }, { default_in(env, { mid, new }) })
  end)

  it("is pprof HEAD's layout when no Go is found", function()
    local out = default_in("-u PGOLUA_PPROF_LAYOUT GOROOT= PATH=/nonexistent", {})
    assert.matches("^head ", out)
  end)

  it("is PGOLUA_PPROF_LAYOUT when set, and a bad value says what to set", function()
    local new = fake_root(dir, "new", "go1.27.3")
    assert.matches("^go1%.23 ", (default_in("PGOLUA_PPROF_LAYOUT=go1.23 GOROOT=" .. shq(new), {})))
    assert.matches("^go1%.24 ", (default_in("PGOLUA_PPROF_LAYOUT=go1.24 GOROOT=" .. shq(new), {})))
    local out, err, code = default_in("PGOLUA_PPROF_LAYOUT=go1.26 GOROOT=" .. shq(new), {})
    assert.equal("", out)
    assert.not_equal(0, code)
    assert.matches('PGOLUA_PPROF_LAYOUT is "go1.26": set it to "go1.23" or "go1.24" or "head"', err,
      1, true)
  end)

  it("is the layout report.top uses when opts.pprof is absent", function()
    local pgo = require "pgo"
    local p = assert(pgo.load(helpers.fixture("pprof-examples/tiny.pb.gz")))
    assert.equal(report.top(p, { pprof = report.default_layout() }), report.top(p))
    assert.equal(report.tags(p, { pprof = report.default_layout() }), report.tags(p))
  end)
end)
