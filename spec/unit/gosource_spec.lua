-- Specs for pgo.symbols: the Go source scanner (go_source, scan_file, find_files) and the
-- lazy re-exports of pgo.symbols_binary.
local helpers = require "helpers"
local symbols = require "pgo.symbols"

local F = helpers.fixture

-- expected/stale/shop-vN.funcs.txt: "NAME<TAB>file:line[ (test)]" lines, by tools/gofuncs
local function read_funcs(path)
  local t = {}
  for line in io.lines(path) do
    if line ~= "" then t[#t + 1] = line end
  end
  return t
end

local function format_funcs(syms)
  local t = {}
  for _, name in ipairs(syms.list) do
    local f = syms.functions[name]
    t[#t + 1] = ("%s\t%s:%d%s"):format(name, f.file, f.line, f.test and " (test)" or "")
  end
  return t
end

local function names_of(file)
  local t = {}
  for _, d in ipairs(file.decls) do t[#t + 1] = d.name end
  return t
end

-- Write files = { ["rel/path.go"] = "text" } under a new temporary directory.
local function make_tree(files)
  local root = helpers.tmpdir()
  for rel, text in pairs(files) do
    local dir = rel:match("^(.*)/[^/]*$")
    if dir then assert(os.execute("mkdir -p " .. helpers.shq(root .. "/" .. dir))) end
    helpers.write_file(root .. "/" .. rel, text)
  end
  return root
end

describe("pgo.symbols", function()
  describe("go_source()", function()
    it("lists exactly the declarations of gosrc/shop-v1 that tools/gofuncs lists", function()
      local syms = assert(symbols.go_source(F("gosrc/shop-v1"), { include_tests = true }))
      assert.same(read_funcs(F("expected/stale/shop-v1.funcs.txt")), format_funcs(syms))
      assert.equal("example.com/shop", syms.module)
      assert.equal(35, #syms.list)
      assert.equal(8, syms.files)
      assert.equal(547, syms.lines)           -- wc -l over the 8 files
      assert.equal(0, syms.test_files_excluded)
      assert.same({}, syms.skipped)
    end)

    it("lists exactly the declarations of gosrc/shop-v2 (renames and the deleted TopK)", function()
      local syms = assert(symbols.go_source(F("gosrc/shop-v2"), { include_tests = true }))
      assert.same(read_funcs(F("expected/stale/shop-v2.funcs.txt")), format_funcs(syms))
      assert.is_nil(syms.functions["example.com/shop/internal/pricing.TopK[...]"])
      assert.same({ file = "cmd/shop/handlers.go", line = 94, package = "example.com/shop/cmd/shop" },
                  syms.functions["main.digestOrders"])
    end)

    it("leaves _test.go files out by default and counts them", function()
      local syms = assert(symbols.go_source(F("gosrc/shop-v1")))
      assert.equal(33, #syms.list)
      assert.is_nil(syms.functions["example.com/shop/internal/textutil.BenchmarkCountWords"])
      assert.equal(1, syms.test_files_excluded)
      assert.equal(7, syms.files)
      assert.same({ file = "internal/textutil/textutil.go", line = 6,
                    package = "example.com/shop/internal/textutil" },
                  syms.functions["example.com/shop/internal/textutil.CountWords"])
    end)

    it("describes every package: import path, name prefix, main or not", function()
      local syms = assert(symbols.go_source(F("gosrc/shop-v1")))
      local by_dir = {}
      for _, p in ipairs(syms.packages) do by_dir[p.dir] = p end
      assert.same({ path = "example.com/shop/cmd/shop", prefix = "main", name = "main",
                    dir = "cmd/shop", module = "example.com/shop", main = true, files = 2,
                    functions = 15, inits = 1 }, by_dir["cmd/shop"])
      assert.same({ path = "example.com/shop/internal/pricing",
                    prefix = "example.com/shop/internal/pricing", name = "pricing",
                    dir = "internal/pricing", module = "example.com/shop", main = false,
                    files = 1, functions = 4, inits = 0 }, by_dir["internal/pricing"])
      assert.equal(6, #syms.packages)
    end)

    it("numbers init functions per package in file-name order, non-test files first", function()
      local root = make_tree {
        ["go.mod"] = "module example.com/m\n",
        ["p/b.go"] = "package p\nfunc init() {}\nfunc init() {}\n",
        ["p/a.go"] = "package p\n\nfunc init() {}\n",
        ["p/a_test.go"] = "package p\nfunc init() {}\n",
        ["p/x_test.go"] = "package p_test\nfunc init() {}\nfunc TestX() {}\n",
        ["cmd/c/main.go"] = "package main\nfunc init() {}\nfunc main() {}\n",
        ["p/c.go"] = "package p\ntype T int\nfunc (T) init() {}\n",     -- a method, not an init
      }
      local syms = assert(symbols.go_source(root, { include_tests = true }))
      helpers.rm_rf(root)
      assert.same({
        "example.com/m/p.T.init", "example.com/m/p.init.0", "example.com/m/p.init.1",
        "example.com/m/p.init.2", "example.com/m/p.init.3", "example.com/m/p_test.TestX",
        "example.com/m/p_test.init.0", "main.init.0", "main.main",
      }, syms.list)
      assert.same({ file = "p/a.go", line = 3, package = "example.com/m/p" }, syms.functions["example.com/m/p.init.0"])
      assert.same({ file = "p/b.go", line = 3, package = "example.com/m/p" }, syms.functions["example.com/m/p.init.2"])
      assert.same({ file = "p/a_test.go", line = 2, package = "example.com/m/p", test = true },
                  syms.functions["example.com/m/p.init.3"])
    end)

    it("skips testdata, hidden, underscore, vendor and nested-module directories, and says why", function()
      local root = make_tree {
        ["go.mod"] = "// the module\nmodule \"example.com/m\" // quoted\n\ngo 1.22\n",
        ["a.go"] = "package m\nfunc Root() {}\n",
        ["testdata/t.go"] = "package t\nfunc T() {}\n",
        [".hidden/h.go"] = "package h\nfunc H() {}\n",
        ["_old/o.go"] = "package o\nfunc O() {}\n",
        ["vendor/github.com/x/y/y.go"] = "package y\nfunc Y() {}\n",
        ["tools/go.mod"] = "module example.com/m/tools\n",
        ["tools/t.go"] = "package main\nfunc main() {}\n",
        ["tools/sub/s.go"] = "package sub\nfunc S() {}\n",
        ["gen.go"] = "//go:build ignore\n\npackage main\nfunc main() {}\n",
        ["_skip.go"] = "package m\nfunc Skipped() {}\n",
        [".dot.go"] = "package m\nfunc Dot() {}\n",
      }
      local syms = assert(symbols.go_source(root, { include_nested = false }))
      assert.same({ "example.com/m.Root" }, syms.list)
      assert.same({ { path = "example.com/m", dir = ".", scanned = true },
                    { path = "example.com/m/tools", dir = "tools", scanned = false } }, syms.modules)
      local reasons = {}
      for _, s in ipairs(syms.skipped) do reasons[s.path] = s.reason end
      assert.same({
        [".hidden"] = "hidden directory",
        ["_old"] = "directory name starts with '_'",
        ["gen.go"] = "build constraint excludes it (//go:build ignore)",
        ["testdata"] = "testdata",
        ["tools"] = "nested module example.com/m/tools (its own go.mod; include_nested = false left it out)",
        ["vendor"] = "vendor (include_vendor = true to scan it)",
      }, reasons)

      local all = assert(symbols.go_source(root, { include_vendor = true }))
      helpers.rm_rf(root)
      assert.same({ "example.com/m.Root", "example.com/m/tools/sub.S", "github.com/x/y.Y", "main.main" },
                  all.list)
      assert.equal("tools/t.go", all.functions["main.main"].file)
      local mods = {}
      for _, p in ipairs(all.packages) do mods[p.path] = p.module end
      assert.same({ ["example.com/m"] = "example.com/m", ["example.com/m/tools"] = "example.com/m/tools",
                    ["example.com/m/tools/sub"] = "example.com/m/tools",
                    ["github.com/x/y"] = "example.com/m" }, mods)
    end)

    it("escapes the import path as the linker does ('.' in the last element -> %2e)", function()
      local root = make_tree {
        ["go.mod"] = "module example.com/pgo/devirtualize\n",
        ["mult.pkg/m.go"] = "package mult\nfunc MultFn() {}\n",
        ["a.b/c/d.go"] = "package c\nfunc D() {}\n",
      }
      local syms = assert(symbols.go_source(root))
      helpers.rm_rf(root)
      assert.same({ "example.com/pgo/devirtualize/a.b/c.D", "example.com/pgo/devirtualize/mult%2epkg.MultFn" },
                  syms.list)
    end)

    it("takes the module path from opts.module when there is no go.mod", function()
      local root = make_tree { ["x/x.go"] = "package x\nfunc X() {}\n" }
      local none, msg, code = symbols.go_source(root)
      assert.is_nil(none)
      assert.equal("no_go_mod", code)
      assert.matches("no go.mod", msg)
      local syms = assert(symbols.go_source(root, { module = "corp/app" }))
      helpers.rm_rf(root)
      assert.same({ "corp/app/x.X" }, syms.list)
    end)

    it("lists a name declared in several files (per-GOOS variants) once, the others under `also`", function()
      local root = make_tree {
        ["go.mod"] = "module m\n",
        ["p/f_linux.go"] = "//go:build linux\n\npackage p\n\nfunc F() {}\n",
        ["p/f_windows.go"] = "package p\nfunc F() {}\n",
      }
      local syms = assert(symbols.go_source(root))
      helpers.rm_rf(root)
      assert.same({ "m/p.F" }, syms.list)
      assert.same({ file = "p/f_linux.go", line = 5, package = "m/p",
                    also = { { file = "p/f_windows.go", line = 2, package = "m/p" } } },
                  syms.functions["m/p.F"])
      assert.equal(2, syms.declarations)
    end)

    it("fails on a syntax error with the file and line, or skips the file when lenient", function()
      local root = make_tree {
        ["go.mod"] = "module m\n",
        ["a.go"] = "package m\nfunc A() {}\n",
        ["b.go"] = "package m\n\nvar s = `never closed\nfunc B() {}\n",
      }
      local none, msg, code = symbols.go_source(root)
      assert.is_nil(none)
      assert.equal("go_syntax", code)
      -- what and where, no option no command has: a recipe advises its own flag by code
      assert.equal(root .. "/b.go: line 3: raw string literal not terminated (a `...` string runs to the end of the file); the scan of the source tree stops at this file", msg)
      local syms = assert(symbols.go_source(root, { lenient = true }))
      helpers.rm_rf(root)
      assert.same({ "m.A" }, syms.list)
      assert.equal("b.go", syms.skipped[1].path)
      assert.matches("^syntax error: line 3: raw string", syms.skipped[1].reason)
    end)

    it("returns nil, message, code for a missing root or a file", function()
      local none, msg, code = symbols.go_source("/nonexistent/pgolua-spec")
      assert.is_nil(none)
      assert.equal("not_found", code)
      assert.matches("/nonexistent/pgolua%-spec", msg)
      none, msg, code = symbols.go_source(F("gosrc/shop-v1/go.mod"))
      assert.is_nil(none)
      assert.equal("not_dir", code)
      assert.matches("not a directory", msg)
      local root = make_tree { ["go.mod"] = "go 1.22\n" }
      none, msg, code = symbols.go_source(root)
      helpers.rm_rf(root)
      assert.is_nil(none)
      assert.equal("bad_go_mod", code)
      assert.matches("no 'module' line", msg)
    end)

    it("raises on wrong argument types and unknown options", function()
      assert.has_error(function() symbols.go_source(42) end,
        "bad argument #1 to 'go_source' (string expected, got number)")
      assert.has_error(function() symbols.go_source(".", { include_test = true }) end,
        "bad argument #2 to 'go_source' (unknown option 'include_test')")
      assert.has_error(function() symbols.go_source(".", { lenient = "yes" }) end,
        "bad argument #2 to 'go_source' (option 'lenient' must be a boolean, got string)")
      assert.has_error(function() symbols.go_source(".", { max_file_bytes = 1.5 }) end,
        "bad argument #2 to 'go_source' (option 'max_file_bytes' must be a positive integer)")
    end)

    it("scans 100 copies of the shop (54,700 lines) and finds every declaration #slow", function()
      local root = helpers.tmpdir()
      helpers.write_file(root .. "/go.mod", "module example.com/big\n")
      local cmds, src = {}, helpers.shq(F("gosrc/shop-v1"))
      for i = 1, 100 do
        local dst = helpers.shq(("%s/c%03d"):format(root, i))
        cmds[#cmds + 1] = ("mkdir -p %s && cp -R %s/cmd %s/internal %s/"):format(dst, src, src, dst)
      end
      assert(os.execute(table.concat(cmds, " && ")))
      local syms = assert(symbols.go_source(root, { include_tests = true }))
      helpers.rm_rf(root)
      assert.equal(800, syms.files)
      assert.equal(54700, syms.lines)
      -- per copy: 35 declarations, but every copy's package main shares the "main." names
      assert.equal(100 * 20 + 15, #syms.list)
      assert.equal(3500, syms.declarations)
      assert.is_not_nil(syms.functions["example.com/big/c042/internal/pricing.TopK[...]"])
    end)
  end)

  describe("scan_file()", function()
    it("spells methods, pointer receivers, generics and parenthesised receivers", function()
      local f = assert(symbols.scan_file([[
package p

func F() {}
func (s *Server) Handle() {}
func (v Value) String() string { return "" }
func (l *List[T]) Push(v T) {}
func (m Map[K, V]) Get(k K) V { var v V; return v }
func (p (*Paren)) M() {}
func ((Twice)) N() {}
func (*Anon) O() {}
func TopK[T any, S ~[]T](s S, k int) S { return s }
func Asm(x int) int
func init() {}
func (_ *T2[_]) Blank() {}
]]))
      assert.equal("p", f.package)
      assert.equal(1, f.package_line)
      assert.same({ "F", "(*Server).Handle", "Value.String", "(*List[...]).Push", "Map[...].Get",
                    "(*Paren).M", "Twice.N", "(*Anon).O", "TopK[...]", "Asm", "init",
                    "(*T2[...]).Blank" }, names_of(f))
      assert.same({ name = "(*List[...]).Push", func = "Push", line = 6, receiver = "List",
                    pointer = true, generic = true }, f.decls[4])
      assert.same({ name = "TopK[...]", func = "TopK", line = 11, generic = true }, f.decls[9])
      assert.same({ name = "Value.String", func = "String", line = 5, receiver = "Value",
                    pointer = false, generic = false }, f.decls[3])
      assert.equal(14, f.lines)
    end)

    it("ignores func inside comments, strings, raw strings, runes and function bodies", function()
      local f = assert(symbols.scan_file(
        "package p // func NotThis()\n" ..
        "/* func NotInBlock() {}\n func NotInBlock2() {} */\n" ..
        "var s = \"func NotInString() {\\\" func X() \"\n" ..
        "var r = `\nfunc NotInRaw() {}\n`\n" ..
        "var q, dq, bq = '\"', '\\'', '`'\n" ..
        "var f func(int) int\n" ..
        "var g = func() {\n}\n" ..
        "var h =\n\tfunc() {}\n" ..
        "type H func()\n" ..
        "type I interface { M(func()) }\n" ..
        "func Outer() {\n\tfunc() {}()\n\tx := func() {}\n\t_ = x\n}\n" ..
        "var (\n\tv = func() {}\n)\n" ..
        "func After() {}\n"))
      assert.same({ "Outer", "After" }, names_of(f))
      assert.equal(16, f.decls[1].line)
      assert.equal(24, f.decls[2].line)
    end)

    it("counts lines across block comments, raw strings, CRLF and a missing final newline", function()
      local f = assert(symbols.scan_file("\239\187\191package p\r\n/*\r\n\r\n*/\r\nvar x = `a\r\nb`\r\nfunc A() {}\r\nfunc B() {}"))
      assert.same({ "A", "B" }, names_of(f))
      assert.equal(7, f.decls[1].line)
      assert.equal(8, f.decls[2].line)
      assert.equal(8, f.lines)
    end)

    it("accepts non-ASCII identifiers and semicolons between declarations", function()
      local f = assert(symbols.scan_file("package p; func Größe() {}; func (t *Typ) Méthode() {}; func z() {}"))
      assert.same({ "Größe", "(*Typ).Méthode", "z" }, names_of(f))
    end)

    it("evaluates build constraints with `ignore` false and every other tag unknown", function()
      local function ignored(header)
        local f = assert(symbols.scan_file(header .. "\npackage p\nfunc F() {}\n"))
        return f.build_ignore, #f.decls, f.has_constraint
      end
      assert.same({ true, 0, true }, { ignored("//go:build ignore") })
      assert.same({ true, 0, true }, { ignored("//go:build ignore && linux") })
      assert.same({ true, 0, true }, { ignored("//go:build (ignore) && !windows") })
      assert.same({ false, 1, true }, { ignored("//go:build ignore || linux") })
      assert.same({ false, 1, true }, { ignored("//go:build !ignore") })
      assert.same({ false, 1, true }, { ignored("//go:build linux && amd64") })
      assert.same({ true, 0, true }, { ignored("// +build ignore") })
      assert.same({ false, 1, true }, { ignored("// +build ignore linux") })
      assert.same({ true, 0, true }, { ignored("// +build ignore,linux") })
      assert.same({ false, 1, true }, { ignored("//go:build linux\n// +build ignore") })  -- go:build wins
      assert.same({ false, 1, false }, { ignored("// go:build ignore") })   -- not a directive
      assert.same({ false, 1, false }, { ignored("/*\n//go:build ignore\n*/") })
      assert.same({ false, 1, true }, { ignored("//go:build ((((") })        -- malformed: kept
      local after = assert(symbols.scan_file("package p\n//go:build ignore\nfunc F() {}\n"))
      assert.is_false(after.build_ignore)
      assert.equal(1, #after.decls)
    end)

    it("returns nil, message, 'go_syntax' for unterminated literals and a missing package clause", function()
      local cases = {
        { "package p\n/* open", "line 2: comment not terminated (a /* comment runs to the end of the file)" },
        { "package p\nvar s = \"abc\nfunc F() {}", "line 2: string literal not terminated" },
        { "package p\nvar r = 'x", "line 2: rune literal not terminated" },
        { "package p\n\nvar s = `x", "line 3: raw string literal not terminated (a `...` string runs to the end of the file)" },
        { "// only a comment\n", "line 2: expected 'package' clause, found end of file" },
        { "func F() {}\n", "line 1: expected 'package' clause, found 'func'" },
        { "package\n", "line 1: expected the package name after 'package'" },
        { "", "line 1: expected 'package' clause, found end of file" },
      }
      for _, c in ipairs(cases) do
        local r, msg, code = symbols.scan_file(c[1])
        assert.is_nil(r)
        assert.equal(c[2], msg)
        assert.equal("go_syntax", code)
      end
    end)

    it("survives arbitrary bytes (never raises, never reads past the end)", function()
      local seed = 12345
      local function rnd(n)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
      end
      local alphabet = { "package p\n", "func ", "(", ")", "[", "]", "{", "}", "*", "`", "\"", "'",
                         "\\", "/*", "*/", "//", "\n", "x", "T", ";", "//go:build ", "ignore", "!",
                         "&&", "||", "\0", "\255" }
      for _ = 1, 300 do
        local parts = {}
        for _ = 1, rnd(40) do parts[#parts + 1] = alphabet[rnd(#alphabet) + 1] end
        local text = table.concat(parts)
        local ok, r, msg, code = pcall(symbols.scan_file, text)
        assert.is_true(ok, r)
        assert.is_true(r ~= nil or code == "go_syntax", msg)
      end
    end)
  end)

  describe("find_files()", function()
    it("finds files by name, suffix and prefix, entering only the hidden directories asked for", function()
      local root = make_tree {
        ["Makefile"] = "", ["a/b/x.pgo"] = "", ["a/Dockerfile.prod"] = "",
        [".github/workflows/ci.yml"] = "", [".git/config.yml"] = "", ["vendor/v.pgo"] = "",
        ["testdata/t.pgo"] = "", ["node_modules/n.pgo"] = "", ["z.txt"] = "",
      }
      local found = assert(symbols.find_files(root, { names = { "Makefile" }, suffixes = { ".pgo", ".yml" },
                                                      prefixes = { "Dockerfile." }, hidden_dirs = { ".github" } }))
      assert.same({ ".github/workflows/ci.yml", "Makefile", "a/Dockerfile.prod", "a/b/x.pgo" }, found)
      found = assert(symbols.find_files(root, { suffixes = { ".pgo" }, include_vendor = true }))
      assert.same({ "a/b/x.pgo", "vendor/v.pgo" }, found)
      found = assert(symbols.find_files(root, { suffixes = { ".pgo" }, max_depth = 2 }))
      assert.same({}, found)
      helpers.rm_rf(root)
      local none, msg, code = symbols.find_files("/nonexistent/pgolua-spec", { names = { "x" } })
      assert.is_nil(none)
      assert.equal("not_found", code)
      assert.matches("No such file", msg)
    end)
  end)

  describe("binary() and buildinfo() (re-exported from pgo.symbols_binary)", function()
    it("read the build info of a PGO binary", function()
      if not symbols.has_binary() then
        local none, msg, code = symbols.buildinfo(F("bin/shop.pgo"))
        assert.is_nil(none)
        assert.equal("unavailable", code)
        assert.matches("pgo.symbols_binary", msg)
        return
      end
      local bi = assert(symbols.buildinfo(F("bin/shop.pgo")))
      assert.equal("shop.steady.pgo", bi.settings["-pgo"])
      assert.equal("example.com/shop/cmd/shop", bi.path)
      local plain = assert(symbols.buildinfo(F("bin/shop")))
      assert.is_nil(plain.settings["-pgo"])
      assert.equal("function", type(symbols.binary))
      assert.same(require("pgo").buildinfo(F("bin/shop.pgo")).settings, bi.settings)
    end)
  end)
end)
