-- Specs for pgo.symbols_binary.buildinfo(), format_version_m(), parse_version_m() and
-- go_quote() (src/symbols/buildinfo.c, src/lua/symbols.c, lua/pgo/symbols_binary.lua).
-- Oracles: fixtures/bin/*.version-m.txt (`go version -m` of each binary, Go 1.23.5,
-- including two builds that were not kept), README "Build info", and blobs built here
-- byte by byte in both build-info layouts (Go 1.18+ inline strings, Go 1.13-1.17
-- pointers) following the reference, section f.
local helpers = require "helpers"
local sb = require "pgo.symbols_binary"

local BIN = function(name) return helpers.fixture("bin/" .. name) end

-- {=====================================================================================
-- Small ELF files built byte by byte (spec/support/elfwriter.lua).
local build_elf = require("support.elfwriter").build

local MAGIC = "\255 Go buildinf:"
local SENT_START = "\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
local SENT_END = "\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2"

local function uvarint(n)
  local t = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    t[#t + 1] = string.char(n > 0 and (b | 0x80) or b)
  until n == 0
  return table.concat(t)
end

local function framed(modinfo) return SENT_START .. modinfo .. SENT_END end

-- Go 1.18+ blob: header, then the version and the module info as varint-length strings.
local function inline_blob(vers, mod)
  local b = MAGIC .. "\8\2" .. string.rep("\0", 16) .. uvarint(#vers) .. vers .. uvarint(#mod) .. mod
  return b .. string.rep("\0", (16 - #b % 16) % 16)
end

-- Go 1.13-1.17 blob at address addr: two pointers to Go string headers (data, len).
local function pointer_blob(addr, vers, mod, ps, be)
  local E, W = be and ">" or "<", ps == 8 and "I8" or "I4"
  local hv, hm = addr + 32, addr + 32 + 2 * ps
  local dv = addr + 32 + 4 * ps
  local hdr = MAGIC .. string.char(ps, be and 1 or 0) .. string.pack(E .. W .. W, hv, hm)
  hdr = hdr .. string.rep("\0", 32 - #hdr)
  return hdr .. string.pack(E .. W .. W .. W .. W, dv, #vers, dv + #vers, #mod) .. vers .. mod
end

local function bi_elf(blob, o)
  o = o or {}
  return build_elf { bits = o.bits, be = o.be, no_sections = o.no_sections, sections = {
    { name = ".text", flags = 6, addr = 0x401000, data = string.rep("\0", 32) },
    { name = o.name or ".go.buildinfo", flags = 3, addr = 0x600000, data = blob },
  } }
end

-- Every field of two build-info tables, compared one by one.
local function assert_same_info(want, got, label)
  assert.are.equal(want.go_version, got.go_version, label)
  assert.are.equal(want.path, got.path, label)
  assert.are.same(want.main, got.main, label)
  assert.are.same(want.deps, got.deps, label)
  assert.are.same(want.settings_list, got.settings_list, label)
  assert.are.same(want.settings, got.settings, label)
end

-- {=====================================================================================

describe("pgo.symbols_binary", function()
  describe("buildinfo()", function()
    for _, name in ipairs { "shop", "shop.nopgo", "shop.pgo", "shop.stripped" } do
      it(("matches `go version -m %s` field by field"):format(name), function()
        local info = assert(sb.buildinfo(BIN(name)))
        local text = helpers.read_file(BIN(name .. ".version-m.txt"))
        local want = assert(sb.parse_version_m(text))[1]
        assert.are.equal(name, want.file)
        assert_same_info(want, info, name)
        assert.are.equal("go1.23.5", info.go_version)
        assert.are.equal("example.com/shop/cmd/shop", info.path)
        assert.are.same({ path = "example.com/shop", version = "(devel)", sum = "" }, info.main)
        assert.are.same({}, info.deps)
        assert.are.equal("true", info.settings["-trimpath"])
        assert.are.equal("1", info.settings.CGO_ENABLED)
        assert.are.equal("amd64", info.settings.GOARCH)
        assert.are.equal("v1", info.settings.GOAMD64)
      end)

      it(("formats `go version -m %s` byte for byte"):format(name), function()
        local info = assert(sb.buildinfo(BIN(name)))
        assert.are.equal(helpers.read_file(BIN(name .. ".version-m.txt")),
          sb.format_version_m(info, name))
      end)
    end

    it("records the profile's base name under -trimpath and none without PGO", function()
      assert.are.equal("shop.steady.pgo", assert(sb.buildinfo(BIN("shop.pgo"))).settings["-pgo"])
      assert.are.equal("shop.steady.pgo", assert(sb.buildinfo(BIN("shop.stripped"))).settings["-pgo"])
      assert.is_nil(assert(sb.buildinfo(BIN("shop"))).settings["-pgo"])
      assert.is_nil(assert(sb.buildinfo(BIN("shop.nopgo"))).settings["-pgo"])
    end)

    it("keeps the settings in the binary's order (re-sorted by key when -pgo is set)", function()
      local function keys(name)
        local t = {}
        for i, s in ipairs(assert(sb.buildinfo(BIN(name))).settings_list) do t[i] = s.key end
        return table.concat(t, " ")
      end
      assert.are.equal("-buildmode -compiler -trimpath DefaultGODEBUG CGO_ENABLED GOARCH GOOS GOAMD64",
        keys("shop"))
      assert.are.equal("-buildmode -compiler -pgo -trimpath CGO_ENABLED DefaultGODEBUG GOAMD64 GOARCH"
        .. " GOOS", keys("shop.pgo"))
    end)

    it("returns the raw module info", function()
      local info = assert(sb.buildinfo(BIN("shop.pgo")))
      assert.are.equal(1, info.modinfo:find(
        "path\texample.com/shop/cmd/shop\nmod\texample.com/shop\t(devel)\t\n", 1, true))
      assert.are.equal("build\tGOOS=linux\n", info.modinfo:sub(-17))
    end)

    it("returns nil, message, 'not_go' for an ELF file not built by Go", function()
      local info, msg, code = sb.buildinfo(helpers.pgolua)
      assert.is_nil(info)
      assert.are.equal("not_go", code)
      assert.matches("not a Go executable: no Go build info", msg)
      assert.are.equal(helpers.pgolua .. ": ", msg:sub(1, #helpers.pgolua + 2))
    end)

    it("says 'a Go binary without build info' when there is a pclntab but no blob", function()
      local tab = string.pack("<I4BBBB", 0xfffffff1, 0, 0, 1, 8) .. string.rep("\0", 64)
      local elf = build_elf { sections = { { name = ".gopclntab", addr = 0x500000, data = tab } } }
      local info, msg, code = sb.decode_buildinfo(elf)
      assert.is_nil(info)
      assert.are.equal("not_go", code)
      assert.matches("a Go binary without build info", msg)
    end)

    it("returns nil, message, code for missing and non-ELF files", function()
      local info, msg, code = sb.buildinfo(BIN("nothing-here"))
      assert.is_nil(info)
      assert.are.equal("not_found", code)
      assert.matches("nothing%-here", msg)
      info, msg, code = sb.buildinfo(BIN("BUILDS.txt"))
      assert.is_nil(info)
      assert.are.equal("not_elf", code)
      assert.matches("BUILDS%.txt: not an ELF file", msg)
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() sb.buildinfo() end,
        "bad argument #1 to 'buildinfo' (string expected, got no value)")
      assert.has_error(function() sb.format_version_m({}, 3) end,
        "bad argument #2 to 'format_version_m' (string expected, got number)")
    end)
  end)

  describe("decode_buildinfo() on built blobs", function()
    local MOD = "path\texample.com/app\nmod\texample.com/app\tv1.0.0\th1:abc=\n"
      .. "dep\texample.com/dep\tv1.2.3\th1:def=\ndep\texample.com/old\tv0.1.0\n"
      .. "=>\t../old\t(devel)\t\nbuild\t-pgo=\"/a b/default.pgo\"\nbuild\tGOOS=linux\n"

    local function check(info)
      assert.are.equal("go1.17.13", info.go_version)
      assert.are.equal("example.com/app", info.path)
      assert.are.same({ path = "example.com/app", version = "v1.0.0", sum = "h1:abc=" }, info.main)
      assert.are.same({
        { path = "example.com/dep", version = "v1.2.3", sum = "h1:def=" },
        { path = "example.com/old", version = "v0.1.0", sum = "",
          replace = { path = "../old", version = "(devel)", sum = "" } },
      }, info.deps)
      assert.are.equal("/a b/default.pgo", info.settings["-pgo"])
    end

    it("reads the Go 1.18+ inline layout", function()
      check(assert(sb.decode_buildinfo(bi_elf(inline_blob("go1.17.13", framed(MOD))))))
    end)

    it("reads a varint length longer than one byte", function()
      local long = MOD .. string.rep("build\tX=" .. string.rep("y", 90) .. "\n", 300)
      local info = assert(sb.decode_buildinfo(bi_elf(inline_blob("go1.17.13", framed(long)))))
      assert.is_true(#long > 1 << 14)                        -- a three-byte varint
      assert.are.equal(302, #info.settings_list)
      assert.are.equal(long, info.modinfo)
    end)

    for _, v in ipairs { { 8, false, 64 }, { 4, false, 32 }, { 8, true, 64 }, { 4, true, 32 } } do
      local ps, be, bits = v[1], v[2], v[3]
      it(("reads the Go 1.13-1.17 pointer layout, %d-bit %s"):format(bits, be and "big-endian"
        or "little-endian"), function()
        local blob = pointer_blob(0x600000, "go1.17.13", framed(MOD), ps, be)
        check(assert(sb.decode_buildinfo(bi_elf(blob, { bits = bits, be = be }))))
      end)
    end

    it("finds the blob in the first writable segment without a .go.buildinfo section", function()
      local blob = inline_blob("go1.17.13", framed(MOD))
      check(assert(sb.decode_buildinfo(bi_elf(blob, { name = ".data" }))))
      check(assert(sb.decode_buildinfo(bi_elf(blob, { no_sections = true }))))
      -- at a 16-byte boundary further in
      check(assert(sb.decode_buildinfo(bi_elf(string.rep("\0", 48) .. blob, { name = ".data" }))))
    end)

    it("treats module info without its sentinels as none", function()
      local info = assert(sb.decode_buildinfo(bi_elf(inline_blob("go1.21.0", MOD))))
      assert.are.equal("go1.21.0", info.go_version)
      assert.are.equal("", info.path)
      assert.is_nil(info.main)
      assert.are.same({}, info.settings_list)
      assert.are.equal("x: go1.21.0\n", sb.format_version_m(info, "x"))
    end)

    it("fails with 'not_go' for an empty version and 'invalid' for cut strings", function()
      local info, msg, code = sb.decode_buildinfo(bi_elf(inline_blob("", framed(MOD))))
      assert.is_nil(info)
      assert.are.equal("not_go", code)
      assert.matches("has no Go version", msg)
      local blob = inline_blob("go1.21.0", framed(MOD))
      info, msg, code = sb.decode_buildinfo(bi_elf(blob:sub(1, 60)))
      assert.is_nil(info)
      assert.are.equal("invalid", code)
      assert.matches("module info of the build info at file offset 0x%x+ runs past the end", msg)
      info, msg, code = sb.decode_buildinfo(bi_elf(MAGIC .. "\8\2" .. string.rep("\0", 16) .. "\255"))
      assert.are.equal("invalid", code)
      assert.matches("Go version string", msg)
      info, msg, code = sb.decode_buildinfo(bi_elf(MAGIC .. "\3\0" .. string.rep("\0", 16)))
      assert.are.equal("invalid", code)
      assert.matches("pointer size 3", msg)
    end)

    it("fails with 'not_go' when no blob is there", function()
      local info, msg, code = sb.decode_buildinfo(bi_elf(string.rep("\0", 64)))
      assert.is_nil(info)
      assert.are.equal("not_go", code)
      assert.matches("in section %.go%.buildinfo", msg)
      -- the magic must sit at a multiple of 16
      info, msg, code = sb.decode_buildinfo(bi_elf("\0" .. inline_blob("go1.21.0", "")))
      assert.are.equal("not_go", code)
    end)
  end)

  describe("module info lines (parse_version_m)", function()
    local function parse(lines)
      return sb.parse_version_m("f: go1.23.5\n" .. lines)
    end

    it("unquotes Go-quoted keys and values", function()
      local infos = assert(parse("\tbuild\t-ldflags=\"-X \\\"main.v=a b\\\" -X main.w=c\"\n"
        .. "\tbuild\t\"a key\"=`raw \"v\"`\n\tbuild\tE=\"\\x41\\101\\u00e9\\U0001F600\\t\\\\\"\n"
        .. "\tbuild\tEMPTY=\n"))
      local s = infos[1].settings
      assert.are.equal('-X "main.v=a b" -X main.w=c', s["-ldflags"])
      assert.are.equal('raw "v"', s["a key"])
      assert.are.equal("AAé\u{1F600}\t\\", s.E)
      assert.are.equal("", s.EMPTY)
    end)

    it("ignores unknown lines and fails on malformed ones with the line number", function()
      local infos = assert(parse("\tpath\tp\n\tfoo\tbar\n\tbuild\tK=v\n"))
      assert.are.equal("v", infos[1].settings.K)
      for _, case in ipairs {
        { "\tpath\tp\n\tbuild\tnovalue\n", "line 2: build setting missing '=' after its key" },
        { "\tbuild\t=v\n", "line 1: build setting with an empty key" },
        { "\tbuild\tK=a b\n", "line 1: unquoted value \"a b\" must be quoted" },
        { "\tbuild\tK=\"a\n", "line 1: invalid quoted value" },
        { "\tbuild\t\"K\"v\n", "line 1: unexpected character 0x76 after a quoted key" },
        { "\tmod\tm\n", "line 1: expected 2 or 3 tab%-separated columns after \"mod\"; got 1" },
        { "\tdep\ta\tb\tc\td\te\n", "got more than 4" },
        { "\t=>\ta\tb\tc\n", "line 1: replacement %(=>%) with no module on the line before" },
        { "\tmod\ta\tb\n\t=>\ta\tb\n", "line 2: expected 3 tab%-separated columns for a replacement" },
        { "\tbuild\tK=\"\\q\"\n", "invalid quoted value" },
      } do
        local r, msg, code = parse(case[1])
        assert.is_nil(r, case[1])
        assert.are.equal("invalid", code)
        assert.matches(case[2], msg)
        assert.are.equal("f: build info line ", msg:sub(1, 19))
      end
    end)

    it("round-trips the two builds that were not kept", function()
      for _, name in ipairs { "shop.pgo-auto", "shop.pgo-auto-notrimpath" } do
        local text = helpers.read_file(BIN(name .. ".version-m.txt"))
        local info = assert(sb.parse_version_m(text))[1]
        assert.are.equal(text, sb.format_version_m(info, name))
      end
      local auto = assert(sb.parse_version_m(helpers.read_file(BIN("shop.pgo-auto.version-m.txt"))))[1]
      assert.are.equal("default.pgo", auto.settings["-pgo"])
      local abs = assert(sb.parse_version_m(
        helpers.read_file(BIN("shop.pgo-auto-notrimpath.version-m.txt"))))[1]
      assert.are.equal("<module-dir>/cmd/shop/default.pgo", abs.settings["-pgo"])
      assert.are.equal("", abs.settings.CGO_CFLAGS)
      assert.is_nil(abs.settings["-trimpath"])
    end)

    it("reads several binaries from one output", function()
      local text = helpers.read_file(BIN("shop.version-m.txt"))
        .. helpers.read_file(BIN("shop.pgo.version-m.txt"))
      local infos = assert(sb.parse_version_m(text))
      assert.are.equal(2, #infos)
      assert.are.equal("shop", infos[1].file)
      assert.are.equal("shop.pgo", infos[2].file)
    end)
  end)

  describe("format_version_m()", function()
    it("writes a replaced module with its => line and the empty line Go prints after it", function()
      local info = {
        go_version = "go1.23.5", path = "example.com/app/cmd/app",
        main = { path = "example.com/app", version = "(devel)", sum = "" },
        deps = { { path = "example.com/dep", version = "v1.2.3", sum = "",
          replace = { path = "/tmp/gt/dep", version = "(devel)", sum = "" } },
          { path = "golang.org/x/sys", version = "v0.1.0", sum = "h1:x=" } },
        settings_list = { { key = "-ldflags", value = '-X "main.v=a b"' },
          { key = "-pgo", value = "/a b/default.pgo" }, { key = "a=b", value = "" } },
      }
      assert.are.equal("app1: go1.23.5\n\tpath\texample.com/app/cmd/app\n"
        .. "\tmod\texample.com/app\t(devel)\t\n\tdep\texample.com/dep\tv1.2.3\n"
        .. "\t=>\t/tmp/gt/dep\t(devel)\t\n\t\n\tdep\tgolang.org/x/sys\tv0.1.0\th1:x=\n"
        .. "\tbuild\t-ldflags=\"-X \\\"main.v=a b\\\"\"\n\tbuild\t-pgo=\"/a b/default.pgo\"\n"
        .. "\tbuild\t\"a=b\"=\n", sb.format_version_m(info, "app1"))
      -- and back
      local back = assert(sb.parse_version_m(sb.format_version_m(info, "app1")))[1]
      assert.are.same(info.deps, back.deps)
      assert.are.same(info.settings_list, back.settings_list)
    end)
  end)

  describe("go_quote()", function()
    it("quotes as Go's strconv.Quote", function()
      assert.are.equal('"plain"', sb.go_quote("plain"))
      assert.are.equal('"a\\"b\\\\c"', sb.go_quote('a"b\\c'))
      assert.are.equal('"\\a\\b\\f\\n\\r\\t\\v"', sb.go_quote("\a\b\f\n\r\t\v"))
      assert.are.equal('"\\x00\\x1f\\x7f"', sb.go_quote("\0\31\127"))
      assert.are.equal('"é😀"', sb.go_quote("é\u{1F600}"))
      assert.are.equal('"\\u00a0\\u00ad\\u2028\\ufeff"', sb.go_quote("\u{a0}\u{ad}\u{2028}\u{feff}"))
      assert.are.equal('"\\xff\\xc3("', sb.go_quote("\xff\xc3("))
      assert.are.equal('"\\U000f0000"', sb.go_quote("\u{f0000}"))
    end)
  end)
end)
