-- Specs for pgo.symbols_binary.binary() and bloat() (src/symbols/elf.c, pclntab.c,
-- src/lua/symbols.c, lua/pgo/symbols_binary.lua).
-- Oracles: the Go 1.23 binaries in fixtures/bin/ (shop.stripped is the same PGO build as
-- shop.pgo without .symtab; shop and shop.nopgo are byte-identical), README "Build info"
-- (PGO grew the binary by 1.26%, 8392747 -> 8498514 bytes), the profiles that bin/shop
-- wrote (their function names), and small ELF files built here byte by byte for the
-- pclntab layouts of Go 1.2, 1.16, 1.18 and 1.20 in both byte orders and word sizes.
-- Tests named #integration compare with `go tool nm` (Go 1.23) and are pending without it.
local helpers = require "helpers"
local sb = require "pgo.symbols_binary"

local BIN = function(name) return helpers.fixture("bin/" .. name) end

-- {=====================================================================================
-- Small ELF files built byte by byte (spec/support/elfwriter.lua).
local build_elf = require("support.elfwriter").build

local MAGIC = { ["go1.2"] = 0xfffffffb, ["go1.16"] = 0xfffffffa, ["go1.18"] = 0xfffffff0,
  ["go1.20"] = 0xfffffff1 }

-- A pclntab of the given layout. funcs = { {name=, entry=}, ... } in address order
-- (entry: an offset from text_start for go1.18+, a PC before); o = { ps = 4|8, be = bool,
-- text_start =, end_pc = }.
local function build_pclntab(layout, funcs, o)
  local ps, E = o.ps or 8, o.be and ">" or "<"
  local W = ps == 8 and "I8" or "I4"
  local head = string.pack(E .. "I4BBBB", MAGIC[layout], 0, 0, 1, ps)
  local names, noff, p = {}, {}, 0
  for i, f in ipairs(funcs) do
    noff[i] = p
    names[#names + 1] = f.name .. "\0"
    p = p + #f.name + 1
  end
  local nametab, nf, ft = table.concat(names), #funcs, {}
  if layout == "go1.18" or layout == "go1.20" then
    local nameoff = 8 + 8 * ps
    local pcln = nameoff + #nametab
    local recbase = (2 * nf + 1) * 4
    for i, f in ipairs(funcs) do ft[#ft + 1] = string.pack(E .. "I4I4", f.entry, recbase + (i - 1) * 44) end
    ft[#ft + 1] = string.pack(E .. "I4", o.end_pc)
    for i, f in ipairs(funcs) do
      ft[#ft + 1] = string.pack(E .. "I4i4", f.entry, noff[i]) .. string.rep("\0", 36)
    end
    return head .. string.pack(E .. W:rep(8), nf, 0, o.text_start or 0, nameoff, pcln, pcln, pcln,
      pcln) .. nametab .. table.concat(ft)
  elseif layout == "go1.16" then
    local nameoff = 8 + 7 * ps
    local pcln = nameoff + #nametab
    local recbase = (2 * nf + 1) * ps
    for i, f in ipairs(funcs) do
      ft[#ft + 1] = string.pack(E .. W .. W, f.entry, recbase + (i - 1) * (ps + 4))
    end
    ft[#ft + 1] = string.pack(E .. W, o.end_pc)
    for i, f in ipairs(funcs) do ft[#ft + 1] = string.pack(E .. W .. "i4", f.entry, noff[i]) end
    return head .. string.pack(E .. W:rep(7), nf, 0, nameoff, pcln, pcln, pcln, pcln) .. nametab
      .. table.concat(ft)
  end
  local recoff = 8 + ps + (2 * nf + 1) * ps + 4         -- go1.2
  local nameoff = recoff + nf * (ps + 4)
  for i, f in ipairs(funcs) do
    ft[#ft + 1] = string.pack(E .. W .. W, f.entry, recoff + (i - 1) * (ps + 4))
  end
  ft[#ft + 1] = string.pack(E .. W .. "I4", o.end_pc, 0)
  for i, f in ipairs(funcs) do ft[#ft + 1] = string.pack(E .. W .. "i4", f.entry, nameoff + noff[i]) end
  return head .. string.pack(E .. W, nf) .. table.concat(ft) .. nametab
end

-- An ELF file holding a pclntab section (and .text at text_addr).
local function go_elf(tab, o)
  o = o or {}
  local secs = {
    { name = ".text", type = 1, flags = 6, addr = o.text_addr or 0x401000, data = string.rep("\0", 64) },
    { name = o.section or ".gopclntab", type = 1, flags = 2, addr = 0x500000, data = tab },
  }
  for _, s in ipairs(o.extra or {}) do secs[#secs + 1] = s end
  return build_elf { bits = o.bits, be = o.be, machine = o.machine, sections = secs,
    no_sections = o.no_sections }
end

local TWO = { { name = "main.a", entry = 0x100 }, { name = "main.(*T).b", entry = 0x140 },
  { name = "type:.eq.main.T\u{b7}1", entry = 0x1a0 } }

local function names_entries(bin)
  local out = {}
  for i, f in ipairs(bin.functions) do out[i] = { f.name, f.entry, f.size } end
  return out
end

-- {=====================================================================================

describe("pgo.symbols_binary", function()
  local shop_pgo, shop_stripped, shop_pgo_pcln

  setup(function()
    shop_pgo = assert(sb.binary(BIN("shop.pgo")))
    shop_stripped = assert(sb.binary(BIN("shop.stripped")))
    shop_pgo_pcln = assert(sb.binary(BIN("shop.pgo"), { source = "pclntab" }))
  end)

  describe("binary()", function()
    it("reads an unstripped Go 1.23 binary from its .symtab", function()
      local b = shop_pgo
      assert.are.equal("symtab", b.source)
      assert.is_false(b.stripped)
      assert.are.equal("go1.23.5", b.go_version)
      assert.are.equal("amd64", b.arch)
      assert.are.equal("go1.20", b.pclntab)
      assert.is_false(b.pie)
      assert.are.equal(8498514, b.file_size)
      assert.are.equal(0x2a1c2e, b.text_size)           -- readelf -S: .text size
      assert.is_true(#b.functions > 6000)
    end)

    it("returns functions sorted by entry, each with a name, an entry and a size", function()
      for _, b in ipairs { shop_pgo, shop_stripped } do
        local prev, sum = -1, 0
        for _, f in ipairs(b.functions) do
          assert.is_string(f.name)
          assert.is_true(#f.name > 0)
          assert.is_true(f.entry >= prev)
          assert.is_true(f.size > 0)
          prev = f.entry
          sum = sum + f.size
        end
        assert.are.equal(sum, b.func_bytes)
      end
    end)

    it("reads a stripped binary (-ldflags='-s -w') from its pclntab", function()
      local b = shop_stripped
      assert.are.equal("pclntab", b.source)
      assert.is_true(b.stripped)
      assert.are.equal("go1.23.5", b.go_version)
      assert.are.equal("go1.20", b.pclntab)
      assert.are.equal(5775620, b.file_size)
    end)

    it("gives the main.* and example.com/shop/* functions of shop.pgo's .symtab exactly as the"
      .. " pclntab of shop.stripped (same PGO build)", function()
      local function pick(bin)
        local t, n = {}, 0
        for _, f in ipairs(bin.functions) do
          if f.name:match("^main%.") or f.name:match("^example%.com/shop/") then
            assert.is_nil(t[f.name], "duplicate " .. f.name)
            t[f.name] = f
            n = n + 1
          end
        end
        return t, n
      end
      local sym, n1 = pick(shop_pgo)
      local pcl, n2 = pick(shop_stripped)
      assert.are.equal(n1, n2)
      assert.is_true(n1 >= 40)
      for name, f in pairs(sym) do
        local g = pcl[name]
        assert.is_table(g, name)
        assert.are.equal(f.entry, g.entry, name)
        -- pclntab sizes run to the next function, so they include alignment padding
        assert.is_true(g.size >= f.size and g.size < f.size + 64, name)
      end
      assert.are.equal(3016, sym["main.(*server).handleSlow"].size)   -- go tool nm -size
      assert.are.equal(0x6a02c0, sym["main.(*server).handleSlow"].entry)
    end)

    it("agrees with itself: every .symtab function of shop.pgo is in its pclntab, and the"
      .. " pclntab of shop.pgo equals that of shop.stripped", function()
      assert.are.same(names_entries(shop_pgo_pcln), names_entries(shop_stripped))
      local P = {}
      for _, f in ipairs(shop_pgo_pcln.functions) do P[f.name .. "@" .. f.entry] = true end
      for _, f in ipairs(shop_pgo.functions) do
        assert.is_true(P[f.name .. "@" .. f.entry], f.name)
      end
    end)

    it("sizes pclntab functions as next entry - entry, the last one up to the table's end",
      function()
      local fs = shop_stripped.functions
      for i = 1, #fs - 1 do
        if fs[i + 1].entry ~= fs[i].entry then
          assert.are.equal(fs[i + 1].entry - fs[i].entry, fs[i].size, fs[i].name)
        end
      end
    end)

    it("spells names as profiles do: no .abi0, no host-section symbols, '·' kept", function()
      local names = {}
      for _, f in ipairs(shop_pgo.functions) do
        assert.is_nil(f.name:match("%.abi0$"), f.name)
        assert.is_nil(f.name:match("%(%.text[^)]*%)$"), f.name)
        names[f.name] = true
      end
      assert.is_true(names["internal/bytealg.Count"])              -- .symtab: ...Count.abi0
      assert.is_true(names["type:.eq.net.dialResult\u{b7}2"])       -- .symtab: ...dialResult.2
      assert.is_true(names["main.(*server).handleSlow-fm"])
      assert.is_true(names["example.com/shop/internal/debugsrv.init.0.func1"])
    end)

    it("knows every function the shop profiles name, except ones only ever inlined", function()
      local pgo = require "pgo"
      local bin = assert(sb.binary(BIN("shop")))                   -- the binary that ran
      local names = {}
      for _, f in ipairs(bin.functions) do names[f.name] = true end
      local p = assert(pgo.load(helpers.fixture("profiles/shop.steady.pgo")))
      local found = 0
      for _, row in ipairs(p:top { n = 100000 }) do
        if names[row.name] then found = found + 1
        else assert.is_true(row.inline, row.name .. " missing from the binary") end
      end
      assert.is_true(found >= 100)
      assert.is_true(names["main.(*server).handleSlow"])
    end)

    it("takes opts.source = 'pclntab' and rejects other sources", function()
      assert.are.equal("pclntab", shop_pgo_pcln.source)
      assert.is_false(shop_pgo_pcln.stripped)
      assert.has_error(function() sb.binary(BIN("shop"), { source = "dwarf" }) end,
        "option 'source' must be \"auto\" or \"pclntab\"")
    end)

    it("lists the sections with their sizes", function()
      local s = {}
      for _, sec in ipairs(shop_stripped.sections) do s[sec.name] = sec end
      assert.are.equal(0x1905f0, s[".gopclntab"].size)
      assert.are.equal(0x240, s[".go.buildinfo"].size)
      assert.are.equal(0, s[".bss"].file_size)
      assert.is_nil(s[".symtab"])
    end)

    it("reads an 8 MB binary (its speed is measured by make bench)", function()
      local b = assert(sb.binary(BIN("shop")))
      assert.is_true(#b.functions > 6000)
    end)

    it("returns nil, message, code for files it cannot use", function()
      local b, msg, code = sb.binary(BIN("no-such-binary"))
      assert.is_nil(b)
      assert.are.equal("not_found", code)
      assert.matches("no%-such%-binary", msg)

      b, msg, code = sb.binary(BIN("shop.version-m.txt"))
      assert.is_nil(b)
      assert.are.equal("not_elf", code)
      assert.matches("shop%.version%-m%.txt: not an ELF file", msg)

      b, msg, code = sb.binary(helpers.pgolua)               -- C, not Go
      assert.is_nil(b)
      assert.are.equal("not_go", code)
      assert.matches("not a Go binary: the ELF file has no %.gopclntab section", msg)

      b, msg, code = sb.decode_binary("\207\250\237\254" .. string.rep("\0", 60))
      assert.are.equal("not_elf", code)
      assert.matches("Mach%-O", msg)
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() sb.binary(42) end,
        "bad argument #1 to 'binary' (string expected, got number)")
      assert.has_error(function() sb.binary("x", "y") end,
        "bad argument #2 to 'binary' (table expected, got string)")
    end)
  end)

  describe("binary() on damaged files", function()
    local data
    setup(function() data = helpers.read_file(BIN("shop.stripped")) end)

    it("fails with 'invalid' or 'not_elf' for every cut of the file, never crashing", function()
      for _, n in ipairs { 0, 3, 16, 40, 63, 64, 100, 0x238, 0x400, 0x3bb080, 0x3bb090,
        0x3bb0c0, 0x400000, #data - 1 } do
        local b, msg, code = sb.decode_binary(data:sub(1, n))
        assert.is_nil(b, "cut at " .. n)
        assert.is_string(msg)
        assert.is_truthy(code == "invalid" or code == "not_elf", code .. " at " .. n)
      end
    end)

    it("reports a damaged ELF header with its offset", function()
      local d = data:sub(1, 4) .. "\9" .. data:sub(6)
      local b, msg, code = sb.decode_binary(d)
      assert.is_nil(b)
      assert.are.equal("invalid", code)
      assert.matches("at offset 4", msg)
    end)

    it("reports a damaged pclntab with the table's file offset", function()
      local at = 0x3bb080                                     -- .gopclntab of shop.stripped
      local d = data:sub(1, at + 7) .. "\3" .. data:sub(at + 9)  -- pointer size 3
      local b, msg, code = sb.decode_binary(d)
      assert.is_nil(b)
      assert.are.equal("invalid", code)
      assert.matches("pclntab at file offset 0x3bb080: pclntab pointer size %(offset 7%) is 3", msg)
    end)
  end)

  describe("binary() on pclntab layouts", function()
    for _, layout in ipairs { "go1.20", "go1.18" } do
      for _, v in ipairs { { 8, false, 64 }, { 4, false, 32 }, { 8, true, 64 }, { 4, true, 32 } } do
        local ps, be, bits = v[1], v[2], v[3]
        it(("reads the %s layout, %d-bit %s"):format(layout, bits, be and "big-endian" or "little-endian"),
          function()
          local tab = build_pclntab(layout, TWO, { ps = ps, be = be, text_start = 0x401000, end_pc = 0x1e0 })
          local machine = be and (bits == 64 and 21 or 20) or nil
          local b = assert(sb.decode_binary(go_elf(tab, { bits = bits, be = be, machine = machine })))
          assert.are.equal("pclntab", b.source)
          assert.are.equal(layout, b.pclntab)
          assert.is_true(b.stripped)
          assert.is_nil(b.go_version)
          assert.are.same({
            { "main.a", 0x401100, 0x40 }, { "main.(*T).b", 0x401140, 0x60 },
            { "type:.eq.main.T\u{b7}1", 0x4011a0, 0x40 } }, names_entries(b))
          if be then assert.are.equal(bits == 64 and "ppc64" or "ppc", b.arch) end
        end)
      end
    end

    for _, layout in ipairs { "go1.16", "go1.2" } do
      for _, v in ipairs { { 8, false, 64 }, { 4, true, 32 } } do
        local ps, be, bits = v[1], v[2], v[3]
        it(("reads the %s layout, %d-bit %s"):format(layout, bits, be and "big-endian" or "little-endian"),
          function()
          local funcs = { { name = "main.a", entry = 0x401100 }, { name = "main.b", entry = 0x401140 } }
          local tab = build_pclntab(layout, funcs, { ps = ps, be = be, end_pc = 0x401200 })
          local b = assert(sb.decode_binary(go_elf(tab, { bits = bits, be = be })))
          assert.are.equal(layout, b.pclntab)
          assert.are.same({ { "main.a", 0x401100, 0x40 }, { "main.b", 0x401140, 0xc0 } },
            names_entries(b))
        end)
      end
    end

    it("finds .data.rel.ro.gopclntab (PIE) and a table without section headers", function()
      local tab = build_pclntab("go1.20", TWO, { text_start = 0x401000, end_pc = 0x1e0 })
      local b = assert(sb.decode_binary(go_elf(tab, { section = ".data.rel.ro.gopclntab" })))
      assert.are.equal(3, #b.functions)
      b = assert(sb.decode_binary(go_elf(tab, { no_sections = true })))
      assert.are.equal("main.(*T).b", b.functions[2].name)
      assert.are.equal(0x401140, b.functions[2].entry)
      b = assert(sb.decode_binary(go_elf(tab, { section = ".rodata" })))      -- merged, scanned
      assert.are.equal(3, #b.functions)
    end)

    it("takes the text start from .text when the header leaves it to a relocation", function()
      local tab = build_pclntab("go1.20", TWO, { text_start = 0, end_pc = 0x1e0 })
      local b = assert(sb.decode_binary(go_elf(tab, { text_addr = 0x10000 })))
      assert.are.equal(0x10100, b.functions[1].entry)
    end)

    it("respells .symtab names from the pclntab and drops host-section symbols", function()
      local tab = build_pclntab("go1.20", TWO, { text_start = 0x401000, end_pc = 0x1e0 })
      local strs = "\0main.a.abi0\0main.(*T).b\0type:.eq.main.T.1\0runtime/cgo(.text)\0x_cgo_init\0"
      local function sym(name, value, size, ty)
        return string.pack("<I4BBI2I8I8", strs:find(name .. "\0", 1, true) - 1, ty or 0x12, 0, 1,
          value, size)
      end
      local symtab = string.rep("\0", 24) .. sym("main.a.abi0", 0x401100, 0x30)
        .. sym("main.(*T).b", 0x401140, 0x50) .. sym("type:.eq.main.T.1", 0x4011a0, 0x20)
        .. sym("runtime/cgo(.text)", 0x401000, 0x100) .. sym("x_cgo_init", 0x401000, 0x10)
        .. sym("x_cgo_init", 0x401010, 0, 0x12) .. sym("main.a.abi0", 0x401100, 0x30, 0x11)
      local extra = {
        { name = ".symtab", type = 2, flags = 0, data = symtab, link = 4, entsize = 24 },
        { name = ".strtab", type = 3, flags = 0, data = strs },
      }
      local b = assert(sb.decode_binary(go_elf(tab, { extra = extra })))
      assert.are.equal("symtab", b.source)
      assert.are.same({ { "x_cgo_init", 0x401000, 0x10 }, { "main.a", 0x401100, 0x30 },
        { "main.(*T).b", 0x401140, 0x50 }, { "type:.eq.main.T\u{b7}1", 0x4011a0, 0x20 } },
        names_entries(b))
    end)

    it("fails with 'invalid' and the offset for damaged tables", function()
      local function fails(tab, pattern)
        local b, msg, code = sb.decode_binary(go_elf(tab))
        assert.is_nil(b)
        assert.are.equal("invalid", code)
        assert.matches(pattern, msg)
      end
      local ok = build_pclntab("go1.20", TWO, { text_start = 0x401000, end_pc = 0x1e0 })
      -- nfunc far too large
      fails(ok:sub(1, 8) .. string.pack("<I8", 1 << 40) .. ok:sub(17), "more than fit in the table")
      -- entries out of order
      local bad = build_pclntab("go1.20", { TWO[2], TWO[1] }, { end_pc = 0x1e0 })
      fails(bad, "after the next one")
      -- a record that disagrees with the function table: change the functab entry of f1
      local pcln = string.unpack("<I8", ok, 8 + 7 * 8 + 1)
      fails(ok:sub(1, pcln) .. string.pack("<I4", 0x101) .. ok:sub(pcln + 5), "says it starts at")
      -- name offset out of range (first record's nameOff)
      local rec = pcln + (2 * 3 + 1) * 4
      fails(ok:sub(1, rec + 4) .. string.pack("<i4", 1 << 30) .. ok:sub(rec + 9), "name offset")
      -- cut table
      fails(ok:sub(1, 40), "cut short")
      fails(ok:sub(1, 6), "fewer than its 8%-byte header")
    end)
  end)

  describe("bloat()", function()
    local r
    setup(function() r = assert(sb.bloat(BIN("shop.nopgo"), BIN("shop.pgo"))) end)

    it("reports the file growth of the PGO build: 1.26%, inside the 1-3% band", function()
      assert.are.same({ before = 8392747, after = 8498514, delta = 105767,
        pct = (8498514 - 8392747) * 100 / 8392747 }, r.file)
      assert.are.equal("inside", r.verdict)
      assert.is_true(r.in_band)
      assert.are.equal("1.26", ("%.2f"):format(r.growth_pct))
      assert.are.equal("binary grew 1.26% (8392747 -> 8498514 bytes): inside the usual 1-3% band"
        .. " for PGO", r.summary)
      assert.are.same({}, r.notes)
    end)

    it("reports text and function bytes, and the -pgo settings", function()
      assert.are.same({ before = 0x297a6e, after = 0x2a1c2e, delta = 0x2a1c2e - 0x297a6e,
        pct = (0x2a1c2e - 0x297a6e) * 100 / 0x297a6e }, r.text)     -- readelf -S: .text
      assert.are.equal(r.functions.after - r.functions.before, r.functions.delta)
      assert.is_false(r.a.pgo)
      assert.are.equal("shop.steady.pgo", r.b.pgo)
      assert.are.equal("symtab", r.a.source)
    end)

    it("lists growers, shrinkers, new and removed functions consistently", function()
      local a = assert(sb.binary(BIN("shop.nopgo")))
      local b = shop_pgo
      local function sizes(bin)
        local t = {}
        for _, f in ipairs(bin.functions) do t[f.name] = (t[f.name] or 0) + f.size end
        return t
      end
      local sa, sb2 = sizes(a), sizes(b)
      assert.is_true(#r.growers > 0 and #r.growers <= 10)
      local prev = math.huge
      for _, g in ipairs(r.growers) do
        assert.are.equal(sa[g.name], g.before)
        assert.are.equal(sb2[g.name], g.after)
        assert.is_true(g.delta > 0 and g.delta <= prev)
        prev = g.delta
      end
      assert.are.equal("main.(*server).handleSlow", r.growers[7].name)   -- 1573 -> 3016
      for _, s in ipairs(r.shrinkers) do assert.is_true(s.delta < 0) end
      for _, f in ipairs(r.added) do assert.is_nil(sa[f.name]); assert.are.equal(sb2[f.name], f.size) end
      for _, f in ipairs(r.removed) do assert.is_nil(sb2[f.name]); assert.are.equal(sa[f.name], f.size) end
      -- total function bytes = before - removed + added + changes
      local changes = 0
      for name, s in pairs(sa) do if sb2[name] then changes = changes + sb2[name] - s end end
      assert.are.equal(r.functions.delta, r.added_bytes - r.removed_bytes + changes)
      assert.are.equal("runtime", r.packages[1].name)
    end)

    it("compares like with like when one binary is stripped", function()
      local s = assert(sb.bloat(BIN("shop.nopgo"), BIN("shop.stripped"), { metric = "text" }))
      assert.are.equal("pclntab", s.a.source)
      assert.are.equal("pclntab", s.b.source)
      assert.are.equal("inside", s.verdict)
      assert.matches("one binary is stripped", s.notes[1])
    end)

    it("says 'below' for identical builds and takes the band and top from opts", function()
      local s = assert(sb.bloat(BIN("shop"), BIN("shop.nopgo"), { top = 3 }))
      assert.are.equal(0, s.growth_pct)
      assert.are.equal("below", s.verdict)
      assert.are.equal(0, s.changed)
      assert.matches("both binaries have the same %-pgo setting", s.notes[1])
      s = assert(sb.bloat(BIN("shop.nopgo"), BIN("shop.pgo"), { top = 3, band = { 0.1, 1 } }))
      assert.are.equal("above", s.verdict)
      assert.are.equal(3, #s.growers)
      s = assert(sb.bloat(BIN("shop.pgo"), BIN("shop.nopgo")))
      assert.are.equal("shrank", s.verdict)
    end)

    it("returns the failure of reading either binary", function()
      local s, msg, code = sb.bloat(BIN("shop"), BIN("missing"))
      assert.is_nil(s)
      assert.are.equal("not_found", code)
      assert.matches("missing", msg)
      assert.has_error(function() sb.bloat(1, "x") end,
        "bad argument #1 to 'bloat' (string or table expected, got number)")
    end)
  end)

  describe("package_of()", function()
    it("cuts the package path off a function name", function()
      assert.are.equal("example.com/shop/internal/cache",
        sb.package_of("example.com/shop/internal/cache.(*MemCache).Get"))
      assert.are.equal("main", sb.package_of("main.main.func1"))
      assert.are.equal("main", sb.package_of("main.Sum[go.shape.float64]"))
      assert.are.equal("example.com/pgo/devirtualize/mult%2epkg",
        sb.package_of("example.com/pgo/devirtualize/mult%2epkg.MultFn"))
      assert.are.equal("main", sb.package_of("main.F[example.com/x.T]"))
      assert.is_nil(sb.package_of("x_cgo_init"))
    end)
  end)

  describe("go tool nm", function()
    it("#integration lists the same text symbols as binary() reads from .symtab", function()
      local go = helpers.go()
      if not go then
        pending("Go 1.21+ not found (install golang-1.23-go): go tool nm is the oracle")
        return
      end
      for _, name in ipairs { "shop", "shop.pgo" } do
        local out, err, code = helpers.run(helpers.shq(go) .. " tool nm -size -sort address "
          .. helpers.shq(BIN(name)))
        assert.are.equal(0, code, err)
        local want = {}
        for addr, size, ty, sym in out:gmatch("%s*(%x+)%s+(%d+)%s+(%a)%s([^\n]*)\n") do
          -- .symtab spelling -> profile spelling: nm shows ".abi0" and "." for "·"
          if (ty == "T" or ty == "t") and size ~= "0" and not sym:match("%(%.[^)]*%)$") then
            want[#want + 1] = sym:gsub("%.abi0$", "") .. "@" .. tonumber(addr, 16) .. "+" .. size
          end
        end
        local got = {}
        for _, f in ipairs(assert(sb.binary(BIN(name))).functions) do
          got[#got + 1] = f.name:gsub("\u{b7}", ".") .. "@" .. f.entry .. "+" .. f.size
        end
        table.sort(want)
        table.sort(got)
        assert.are.same(want, got)
      end
      local _, err = helpers.run(helpers.shq(go) .. " tool nm " .. helpers.shq(BIN("shop.stripped")))
      assert.matches("no symbols", err)                     -- and yet binary() reads it
    end)
  end)
end)

-- A message names the file once: the library's message says where, and the callers that
-- print it (doctor, pgo.audit) do not add the path again.
describe("messages about a file that is not a Go binary", function()
  local pgo = require "pgo"
  local not_go = helpers.pgolua                  -- an ELF file, not built by Go
  local function count(s, what)
    local n = 0
    for _ in s:gmatch((what:gsub("%p", "%%%0"))) do n = n + 1 end
    return n
  end

  it("name the path once in pgo.buildinfo and pgo.symbols.binary", function()
    local bi, msg, code = pgo.buildinfo(not_go)
    assert.is_nil(bi)
    assert.equal("not_go", code)
    assert.equal(1, count(msg, not_go), msg)
    local missing = not_go .. ".missing"
    local _, mmsg, mcode = pgo.buildinfo(missing)
    assert.equal("not_found", mcode)
    assert.equal(1, count(mmsg, missing), mmsg)
    if not require("pgo.symbols").has_binary() then return end
    local _, smsg, scode = pgo.symbols.binary(not_go)
    assert.equal("not_go", scode)
    assert.equal(1, count(smsg, not_go), smsg)
  end)

  it("name the path once in doctor's output (--binary, --bench)", function()
    local out = helpers.pgolua_run("doctor --binary " .. helpers.shq(not_go))
    local line = out:match("[^\n]*binary built with PGO[^\n]*")
    assert.truthy(line, out)
    assert.truthy(line:find("not a Go executable", 1, true), line)
    assert.equal(1, count(line, not_go), line)
    local _, err = helpers.pgolua_run(("doctor --binary %s --bench %s"):format(helpers.shq(not_go),
      helpers.shq(not_go)))
    assert.truthy(err:find("not a Go executable", 1, true), err)
    assert.equal(1, count(err, not_go), err)
  end)

  it("name the path once in pgo.audit's binary_unreadable finding", function()
    local root = helpers.tmpdir()
    helpers.write_file(root .. "/go.mod", "module example.com/m\n\ngo 1.23\n")
    local r = assert(pgo.audit.repo(root, { env = {}, binaries = { not_go } }))
    helpers.rm_rf(root)
    local found
    for _, f in ipairs(r.findings) do
      if f.code == "binary_unreadable" then found = f end
    end
    assert.truthy(found)
    assert.equal(1, count(found.message, not_go), found.message)
  end)
end)
