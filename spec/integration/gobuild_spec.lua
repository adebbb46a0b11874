-- Integration specs for pgo.symbols_binary against binaries built here with Go 1.23 from
-- fixtures/gosrc/shop-v1: buildinfo() against `go version -m`, binary() against
-- `go tool nm` and across stripping, bloat() between the builds without and with PGO.
--
-- Every test is tagged #integration: it needs a Go toolchain (helpers.go(), Go 1.21+)
-- and builds the shop four times (a few seconds each with a warm build cache, about a
-- minute cold); without Go the tests are pending. The builds happen once, in setup:
--   nopgo     GOFLAGS=-trimpath  go build -pgo=off
--   pgo       GOFLAGS=-trimpath  go build -pgo=<abs path of shop.steady.pgo>
--   stripped  GOFLAGS=-trimpath  go build -pgo=<abs path> -ldflags='-s -w'
--   auto      (no -trimpath)     cmd/shop/default.pgo + go build   (-pgo=auto)
-- and, when Debian's golang-1.19-go is installed, a small program twice with Go 1.19
-- (with and without -ldflags='-s -w') for the go1.18 pclntab layout.
local helpers = require "helpers"
local sb = require "pgo.symbols_binary"

local shq = helpers.shq

local function file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

describe("pgo.symbols_binary on fresh Go builds", function()
  local go = helpers.go()
  local tmp, src, profile, built, build_err
  local version_out = ""

  -- Run a go command in the module with the given GOFLAGS.
  local function gocmd(goflags, args)
    local env = "GOTOOLCHAIN=local GOFLAGS=" .. shq(goflags) .. " GOWORK=off"
    if not os.getenv("GOCACHE") and not os.getenv("HOME") then
      env = env .. " GOCACHE=" .. shq(tmp .. "/gocache")
    end
    return helpers.run("cd " .. shq(src) .. " && env " .. env .. " " .. shq(go) .. " " .. args)
  end

  setup(function()
    if not go then return end
    tmp = helpers.tmpdir()
    src = tmp .. "/shop"
    profile = tmp .. "/shop.steady.pgo"
    assert(os.execute("cp -R " .. shq(helpers.fixture("gosrc/shop-v1")) .. " " .. shq(src)
      .. " && chmod -R u+w " .. shq(src) .. " && cp " .. shq(helpers.fixture("profiles/shop.steady.pgo"))
      .. " " .. shq(profile)))
    local trim = "-trimpath -buildvcs=false"
    local steps = {
      { trim, "build -pgo=off -o ../nopgo ./cmd/shop" },
      { trim, "build -pgo=" .. shq(profile) .. " -o ../pgo ./cmd/shop" },
      { trim, "build -pgo=" .. shq(profile) .. " -ldflags='-s -w' -o ../stripped ./cmd/shop" },
      { "-buildvcs=false", "build -o ../auto ./cmd/shop", auto = true },
    }
    for _, s in ipairs(steps) do
      if s.auto then
        assert(os.execute("cp " .. shq(profile) .. " " .. shq(src .. "/cmd/shop/default.pgo")))
      end
      local _, err, code = gocmd(s[1], s[2])
      if code ~= 0 then
        build_err = "go " .. s[2] .. " failed: " .. err
        return
      end
    end
    version_out = helpers.run(shq(go) .. " version")
    built = true
  end)

  teardown(function()
    if tmp then helpers.rm_rf(tmp) end
  end)

  -- Pending without Go; a failed build fails the test with go's message.
  local function need_builds()
    if not go then
      pending("Go 1.21+ not found (install golang-1.23-go): these specs build the shop")
      return false
    end
    assert(built, build_err)
    return true
  end

  -- `go version -m NAME` run in tmp, as text and parsed.
  local function version_m(name)
    local out, err, code = helpers.run("cd " .. shq(tmp) .. " && " .. shq(go) .. " version -m " .. name)
    assert.are.equal(0, code, err)
    return out, assert(sb.parse_version_m(out))[1]
  end

  it("#integration reads the build info of every build exactly as `go version -m`", function()
    if not need_builds() then return end
    for _, name in ipairs { "nopgo", "pgo", "stripped", "auto" } do
      local text, want = version_m(name)
      local info = assert(sb.buildinfo(tmp .. "/" .. name))
      assert.are.equal(want.go_version, info.go_version, name)
      assert.are.equal(want.path, info.path, name)
      assert.are.same(want.main, info.main, name)
      assert.are.same(want.deps, info.deps, name)
      assert.are.same(want.settings_list, info.settings_list, name)
      assert.are.same(want.settings, info.settings, name)
      assert.are.equal(text, sb.format_version_m(info, name))
      assert.are.equal("example.com/shop/cmd/shop", info.path)
    end
  end)

  it("#integration records -pgo as Go does: none, the base name, the absolute path", function()
    if not need_builds() then return end
    assert.is_nil(assert(sb.buildinfo(tmp .. "/nopgo")).settings["-pgo"])
    assert.are.equal("shop.steady.pgo", assert(sb.buildinfo(tmp .. "/pgo")).settings["-pgo"])
    assert.are.equal("shop.steady.pgo", assert(sb.buildinfo(tmp .. "/stripped")).settings["-pgo"])
    local auto = assert(sb.buildinfo(tmp .. "/auto"))
    assert.are.equal(src .. "/cmd/shop/default.pgo", auto.settings["-pgo"])
    assert.is_nil(auto.settings["-trimpath"])
    assert.are.equal("", auto.settings.CGO_CFLAGS)
  end)

  it("#integration reads the stripped build's functions from its pclntab, equal to the"
    .. " unstripped build's", function()
    if not need_builds() then return end
    local s = assert(sb.binary(tmp .. "/stripped"))
    local p = assert(sb.binary(tmp .. "/pgo"))
    assert.are.equal("pclntab", s.source)
    assert.is_true(s.stripped)
    assert.are.equal("symtab", p.source)
    local pcl = {}
    for _, f in ipairs(s.functions) do pcl[f.name .. "@" .. f.entry] = f end
    local n = 0
    for _, f in ipairs(p.functions) do
      local g = pcl[f.name .. "@" .. f.entry]
      if f.name:match("^main%.") or f.name:match("^example%.com/shop/") then
        assert.is_table(g, f.name)
        assert.is_true(g.size >= f.size, f.name)
        n = n + 1
      end
    end
    assert.is_true(n >= 40)
    -- the two pclntabs are the same table
    local pp = assert(sb.binary(tmp .. "/pgo", { source = "pclntab" }))
    assert.are.equal(#pp.functions, #s.functions)
    for i, f in ipairs(pp.functions) do
      assert.are.equal(f.name, s.functions[i].name)
      assert.are.equal(f.entry, s.functions[i].entry)
    end
  end)

  it("#integration lists the text symbols `go tool nm` lists", function()
    if not need_builds() then return end
    local out, err, code = helpers.run(shq(go) .. " tool nm -size " .. shq(tmp .. "/pgo"))
    assert.are.equal(0, code, err)
    local want = {}
    for addr, size, ty, sym in out:gmatch("%s*(%x+)%s+(%d+)%s+(%a)%s([^\n]*)\n") do
      if (ty == "T" or ty == "t") and size ~= "0" and not sym:match("%(%.[^)]*%)$") then
        want[#want + 1] = sym:gsub("%.abi0$", "") .. "@" .. tonumber(addr, 16) .. "+" .. size
      end
    end
    local got = {}
    for _, f in ipairs(assert(sb.binary(tmp .. "/pgo")).functions) do
      got[#got + 1] = f.name:gsub("\u{b7}", ".") .. "@" .. f.entry .. "+" .. f.size
    end
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)

  it("#integration measures the size cost of PGO between the two builds", function()
    if not need_builds() then return end
    local a, b = tmp .. "/nopgo", tmp .. "/pgo"
    local r = assert(sb.bloat(a, b))
    local sa, sbz = file_size(a), file_size(b)
    assert.are.same({ before = sa, after = sbz, delta = sbz - sa, pct = (sbz - sa) * 100 / sa }, r.file)
    assert.is_true(r.file.delta > 0, "PGO should grow the shop")
    local g = r.growth_pct
    local verdict = g < 0 and "shrank" or g < 1 and "below" or g <= 3 and "inside" or "above"
    assert.are.equal(verdict, r.verdict)
    assert.is_false(r.a.pgo)
    assert.are.equal("shop.steady.pgo", r.b.pgo)
    assert.is_true(#r.growers > 0)
    assert.are.same({}, r.notes)
    -- Go 1.23.5 rebuilds the fixtures byte for byte (same source, -trimpath): then the
    -- README's numbers hold exactly.
    if version_out:match("go1%.23%.5 ") and sa == 8392747 then
      assert.are.equal(8498514, sbz)
      assert.are.equal("1.26", ("%.2f"):format(r.growth_pct))
      assert.are.equal("inside", r.verdict)
    end
    -- the stripped build: like-for-like function tables
    local s = assert(sb.bloat(a, tmp .. "/stripped", { metric = "functions" }))
    assert.are.equal("pclntab", s.a.source)
    assert.are.equal("pclntab", s.b.source)
  end)
end)

-- A small module with a method, a closure and a generic function, in dir.
local function write_hello(dir)
  helpers.write_file(dir .. "/go.mod", "module example.com/hello\n\ngo 1.19\n")
  helpers.write_file(dir .. "/main.go", [[
package main

import "fmt"

type T struct{ a int }

func (t *T) M() int { return t.a * 2 }

func Sum[N int | float64](xs ...N) (s N) {
	for _, x := range xs {
		s += x
	}
	return
}

func main() {
	t := &T{3}
	f := func() int { return t.M() }
	fmt.Println("hi", f(), Sum(1, 2), Sum(1.5, 2.5))
}
]])
end

-- Build the small program in dir with go and GOFLAGS=-trimpath; returns nil or a message.
local function build_hello(go, dir, args, extra_env)
  local env = "GOTOOLCHAIN=local GOFLAGS='-trimpath -buildvcs=false' GOWORK=off " .. (extra_env or "")
  if not os.getenv("GOCACHE") and not os.getenv("HOME") then
    env = env .. " GOCACHE=" .. shq(dir .. "/gocache")
  end
  local _, err, code = helpers.run("cd " .. shq(dir) .. " && env " .. env .. " " .. shq(go) .. " "
    .. args)
  if code ~= 0 then return "go " .. args .. " failed: " .. err end
end

-- Names and entries of f's functions that g has too, and the count of those missing.
local function missing_from(f, g)
  local G = {}
  for _, x in ipairs(g.functions) do G[x.name .. "@" .. x.entry] = x end
  local miss, n = {}, 0
  for _, x in ipairs(f.functions) do
    if G[x.name .. "@" .. x.entry] then n = n + 1 else miss[#miss + 1] = x.name end
  end
  return miss, n
end

-- Go 1.18/1.19 write the "go1.18" pclntab layout (magic 0xfffffff0, no startLine) and put
-- "[...]" for type arguments in pclntab names. Debian's golang-1.19-go provides the
-- toolchain (apt-get install golang-1.19-go); without it these tests are pending.
describe("pgo.symbols_binary on Go 1.19 builds", function()
  local go19 = "/usr/lib/go-1.19/bin/go"
  local have = helpers.run(shq(go19) .. " version"):match("go1%.19") ~= nil
  local tmp, built, build_err

  setup(function()
    if not have then return end
    tmp = helpers.tmpdir()
    write_hello(tmp)
    for _, args in ipairs { "build -o h19 .", "build -ldflags='-s -w' -o h19s ." } do
      build_err = build_hello(go19, tmp, args)
      if build_err then return end
    end
    built = true
  end)

  teardown(function()
    if tmp then helpers.rm_rf(tmp) end
  end)

  local function need_builds()
    if not have then
      pending("Go 1.19 not found at " .. go19 .. " (apt-get install golang-1.19-go)")
      return false
    end
    assert(built, build_err)
    return true
  end

  it("#integration reads the go1.18 pclntab layout, stripped and not, alike", function()
    if not need_builds() then return end
    local a = assert(sb.binary(tmp .. "/h19"))
    local s = assert(sb.binary(tmp .. "/h19s"))
    assert.are.equal("go1.18", a.pclntab)
    assert.are.equal("go1.18", s.pclntab)
    assert.are.equal("symtab", a.source)
    assert.are.equal("pclntab", s.source)
    assert.matches("^go1%.19", a.go_version)
    local P = {}
    for _, f in ipairs(s.functions) do P[f.name .. "@" .. f.entry] = f end
    local names = {}
    for _, f in ipairs(a.functions) do
      local g = P[f.name .. "@" .. f.entry]
      assert.is_table(g, f.name)
      assert.is_true(g.size >= f.size, f.name)
      names[f.name] = (names[f.name] or 0) + 1
    end
    assert.are.equal(1, names["main.main"])
    -- .symtab says main.Sum[go.shape.int_0] and main.Sum[go.shape.float64_0]; the Go 1.19
    -- pclntab, and so its profiles, say main.Sum[...] for both
    assert.are.equal(2, names["main.Sum[...]"])
  end)

  it("#integration reads Go 1.19 build info exactly as its `go version -m`", function()
    if not need_builds() then return end
    for _, name in ipairs { "h19", "h19s" } do
      local text, err, code = helpers.run("cd " .. shq(tmp) .. " && " .. shq(go19)
        .. " version -m " .. name)
      assert.are.equal(0, code, err)
      local info = assert(sb.buildinfo(tmp .. "/" .. name))
      assert.are.equal(text, sb.format_version_m(info, name))
      assert.are.equal("example.com/hello", info.path)
    end
  end)
end)

-- Position-independent executables: internally linked ones keep .gopclntab (its header's
-- textStart already relocated); externally linked ones (cgo, gcc) merge the table into
-- .data.rel.ro and leave textStart to a dynamic relocation.
describe("pgo.symbols_binary on PIE builds", function()
  local go = helpers.go()
  local gcc = helpers.run("command -v gcc") ~= ""
  local tmp, build_err, ext_err

  setup(function()
    if not go then return end
    tmp = helpers.tmpdir()
    write_hello(tmp)
    for _, args in ipairs { "build -buildmode=pie -o pie .",
      "build -buildmode=pie -ldflags='-s -w' -o pie_stripped ." } do
      build_err = build_hello(go, tmp, args)
      if build_err then return end
    end
    if not gcc then return end
    for _, args in ipairs { "build -buildmode=pie -ldflags=-linkmode=external -o ext .",
      "build -buildmode=pie -ldflags='-linkmode=external -s -w' -o ext_stripped ." } do
      ext_err = build_hello(go, tmp, args, "CGO_ENABLED=1")
      if ext_err then return end
    end
  end)

  teardown(function()
    if tmp then helpers.rm_rf(tmp) end
  end)

  it("#integration reads an internally linked PIE, stripped and not", function()
    if not go then
      pending("Go 1.21+ not found (install golang-1.23-go): these specs build PIEs")
      return
    end
    assert.is_nil(build_err, build_err)
    local a = assert(sb.binary(tmp .. "/pie"))
    local s = assert(sb.binary(tmp .. "/pie_stripped"))
    assert.is_true(a.pie)
    assert.is_true(s.pie)
    assert.are.equal("pclntab", s.source)
    local miss, n = missing_from(a, s)
    assert.are.same({}, miss)
    assert.is_true(n > 1000)
    local bi = assert(sb.buildinfo(tmp .. "/pie_stripped"))
    assert.are.equal("pie", bi.settings["-buildmode"])
  end)

  it("#integration reads an externally linked PIE whose table sits in .data.rel.ro", function()
    if not go or not gcc then
      pending("needs Go 1.21+ and gcc (external linking)")
      return
    end
    assert.is_nil(ext_err, ext_err)
    local a = assert(sb.binary(tmp .. "/ext"))
    local s = assert(sb.binary(tmp .. "/ext_stripped"))
    assert.are.equal("pclntab", s.source)
    local sections = {}
    for _, sec in ipairs(s.sections) do sections[sec.name] = true end
    assert.is_nil(sections[".gopclntab"])
    -- every Go function of the unstripped build is found at the same address
    local pa = assert(sb.binary(tmp .. "/ext", { source = "pclntab" }))
    local miss, n = missing_from(pa, s)
    assert.are.same({}, miss)
    assert.is_true(n > 1000)
    miss = missing_from(s, a)                 -- .symtab has the C functions too
    assert.are.same({}, miss)
    local main
    for _, f in ipairs(s.functions) do if f.name == "main.main" then main = f end end
    assert.is_table(main)
    assert.is_true(main.entry > 0x1000)
  end)
end)
