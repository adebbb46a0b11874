-- pgo.compiler.devirt_candidates / devirt_pick / has_ir, p:call_addresses() and
-- pgo.core.symbols.call_instructions (lua/pgo/compiler.lua, src/profile/calladdr.c,
-- src/symbols/callinsn.c, src/lua/callsites.c). Oracle: the shop binary the shop profiles
-- were captured from (testdata/bin, rebuilt byte for byte by scripts/testdata-bins.sh) and
-- the compiler's -d=pgodebug=2 lines for the shop's packages with shop.steady
-- (expected/pgodebug/pgodebug2.shop.txt); the live comparisons against the compiler are
-- in spec/integration/devirt_compiler_spec.lua.
local helpers = require "helpers"
local pgo = require "pgo"
local compiler = require "pgo.compiler"
local symbols = require "pgo.core.symbols"
local pb = require "pbwriter"

local F = helpers.fixture

describe("devirtualization candidates", function()
  local steady = assert(pgo.load(F("profiles/shop.steady.pgo")))
  local shop = F("bin/shop")

  -- internal/poll's shape (Go 1.23): ignoringEINTRIO(fn, ...) calls fn(fd, p) on its line
  -- 2; (*FD).Read passes syscall.Read, (*FD).Write syscall.Write, and both inline it, so
  -- the binary has no indirect call left. helper (inlined into both) calls syscall.Getpid
  -- statically; once (inlined into Read only) calls syscall.Getuid.
  local function copies_profile(caller)
    return assert(pgo.decode(pb.cpu_profile {
      functions = { { "syscall.Read", 10 }, { "syscall.Write", 20 },
        { caller, 740 }, { "internal/poll.(*FD).Read", 141 },
        { "internal/poll.(*FD).Write", 367 }, { "internal/poll.helper", 800 },
        { "syscall.Getpid", 50 }, { "internal/poll.once", 900 }, { "syscall.Getuid", 60 } },
      locations = {
        { addr = 0x10, lines = { { 1, 12 }, { 3, 742 }, { 4, 161 } } },
        { addr = 0x20, lines = { { 2, 22 }, { 3, 742 }, { 5, 381 } } },
        { addr = 0x30, lines = { { 7, 51 }, { 6, 801 }, { 4, 162 } } },
        { addr = 0x40, lines = { { 7, 51 }, { 6, 801 }, { 5, 382 } } },
        { addr = 0x50, lines = { { 9, 61 }, { 8, 901 }, { 4, 163 } } },
      },
      samples = { { locs = { 1 }, values = { 3, 30 } }, { locs = { 2 }, values = { 2, 20 } },
        { locs = { 3 }, values = { 4, 40 } }, { locs = { 4 }, values = { 4, 40 } },
        { locs = { 5 }, values = { 5, 50 } } },
    }))
  end
  local inlined_copies = copies_profile("internal/poll.ignoringEINTRIO")

  describe("p:call_addresses()", function()
    it("names every call instruction's edge as the compiler names it", function()
      local named = {}
      for _, e in ipairs(steady:edges()) do named[e.caller .. "\n" .. e.callee .. "\n" .. e.offset] = e.weight end
      local rows = steady:call_addresses()
      assert.is_true(#rows > 100)
      for _, r in ipairs(rows) do
        local w = named[r.caller .. "\n" .. r.callee .. "\n" .. r.offset]
        assert.is_truthy(w, r.caller .. " -> " .. r.callee)
        assert.is_true(r.weight <= w and r.address > 0)
      end
    end)

    it("lists inlined calls without an instruction, with the function they were inlined into", function()
      local got = {}
      for _, r in ipairs(assert(inlined_copies:call_addresses())) do
        -- the caller's source line, where a -m log names the call
        assert.equal("x.go", r.file)
        if r.caller == "internal/poll.ignoringEINTRIO" then assert.equal(742, r.line) end
        got[#got + 1] = ("%s:%d>%s %s %s:%s"):format(r.caller, r.offset, r.callee,
          tostring(r.inlined), tostring(r.outer), tostring(r.outer_offset))
      end
      table.sort(got)
      assert.same({
        "internal/poll.(*FD).Read:20>internal/poll.ignoringEINTRIO true nil:nil",
        "internal/poll.(*FD).Read:21>internal/poll.helper true nil:nil",
        "internal/poll.(*FD).Read:22>internal/poll.once true nil:nil",
        "internal/poll.(*FD).Write:14>internal/poll.ignoringEINTRIO true nil:nil",
        "internal/poll.(*FD).Write:15>internal/poll.helper true nil:nil",
        "internal/poll.helper:1>syscall.Getpid true internal/poll.(*FD).Read:21",
        "internal/poll.helper:1>syscall.Getpid true internal/poll.(*FD).Write:15",
        "internal/poll.ignoringEINTRIO:2>syscall.Read true internal/poll.(*FD).Read:20",
        "internal/poll.ignoringEINTRIO:2>syscall.Write true internal/poll.(*FD).Write:14",
        "internal/poll.once:1>syscall.Getuid true internal/poll.(*FD).Read:22",
      }, got)
    end)

    it("wraps the offsets of hostile line numbers (clean under UBSan)", function()
      local p = assert(pgo.decode(pb.cpu_profile {
        functions = { { "main.f", math.mininteger }, { "main.g", 1 } },
        locations = { { lines = { { 2, 5 }, { 1, math.maxinteger } } } },
        samples = { { locs = { 1 }, values = { 1, 10 } } },
      }))
      local rows = assert(p:call_addresses())
      assert.equal(1, #rows)
      assert.equal(math.maxinteger - math.mininteger, rows[1].offset)   -- wraps to -1
    end)

    it("adds hostile weights of one edge as pprof's int64 would, wrapping (clean under UBSan)", function()
      local p = assert(pgo.decode(pb.cpu_profile {
        functions = { { "main.f", 1 }, { "main.g", 1 } },
        locations = { { lines = { { 2, 5 }, { 1, 3 } } } },
        -- two labels keep the samples apart, so the two weights meet in call_addresses
        samples = { { locs = { 1 }, values = { math.maxinteger, math.maxinteger }, label = "a" },
                    { locs = { 1 }, values = { math.maxinteger, math.maxinteger }, label = "b" } },
      }))
      local rows = assert(p:call_addresses())
      assert.equal(1, #rows)
      assert.equal(-2, rows[1].weight)   -- 2 * (2^63 - 1) wrapped
    end)

    it("fails on a profile the compiler cannot read", function()
      local heap = assert(pgo.load(F("bad/heap.pb.gz")))
      local rows, msg, code = heap:call_addresses()
      assert.is_nil(rows)
      assert.equal("not_cpu", code)
      assert.matches("not a CPU profile", msg)
    end)
  end)

  describe("pgo.core.symbols.call_instructions()", function()
    it("tells direct calls from interface and function-value calls in the shop binary", function()
      local rows = steady:call_addresses()
      local addrs = {}
      for i, r in ipairs(rows) do addrs[i] = r.address end
      local kinds = assert(symbols.call_instructions(shop, addrs))
      assert.equal("amd64", kinds.arch)
      -- declared in Go, written in assembly: the compiler cannot inline them
      assert.is_true(kinds.assembly["runtime.memhash64"])
      assert.is_nil(kinds.assembly["runtime.mapaccess2_fast64"])
      local function kind_of(caller, offset, callee)
        for _, r in ipairs(rows) do
          if r.caller == caller and r.offset == offset and r.callee == callee then return kinds[r.address] end
        end
      end
      -- c.Get(k) on a cache.Cache; fn(n) over a catalog tree's closures; a static call
      assert.equal("interface", kind_of("main.lookupBatch", 3, "example.com/shop/internal/cache.(*RedisCache).Get"))
      assert.equal("func_value", kind_of("example.com/shop/internal/catalog.walk", 1,
        "example.com/shop/internal/catalog.SumPrices.func1"))
      assert.equal("direct", kind_of("main.checksumOrders", 10, "crypto/sha256.Sum256"))
      -- runtime.asyncPreempt is entered by a signal, not a call
      for _, r in ipairs(rows) do
        if r.callee == "runtime.asyncPreempt" then assert.equal("unknown", kinds[r.address]) end
      end
    end)

    it("returns nil, message, code for files it cannot read", function()
      local t, msg, code = symbols.call_instructions(F("profiles/shop.steady.pgo"), { 1 })
      assert.is_nil(t)
      assert.equal("not_elf", code)
      assert.matches("shop.steady.pgo", msg)
      t, msg, code = symbols.call_instructions(helpers.tmpdir() .. "/none", { 1 })
      assert.is_nil(t)
      assert.equal("not_found", code)
    end)

    it("raises on misuse", function()
      assert.has_error(function() symbols.call_instructions(shop, { "x" }) end)
      assert.has_error(function() symbols.call_instructions(shop, {}, { bogus = 1 }) end)
      assert.has_error(function() symbols.call_instructions(shop, {}, { max_size = 0 }) end)
    end)

    it("calls an address outside the binary unknown", function()
      local t = assert(symbols.call_instructions(shop, { 0, 1, 0x7fffffff }))
      assert.same({ "unknown", "unknown", "unknown" }, { t[0], t[1], t[0x7fffffff] })
    end)
  end)

  describe("pgo.compiler.devirt_candidates()", function()
    -- the compiler's picks for the shop's own packages: "call CALLER:OFFSET: hottest
    -- callee X" lines of -d=pgodebug=2 (each a PGO devirtualization unless X is a closure)
    local oracle = {}
    for line in assert(io.open(F("expected/pgodebug/pgodebug2.shop.txt"))):lines() do
      local caller, offset, callee = line:match(": call (%S+):(%d+): hottest callee (%S+) ")
      if caller and compiler.func_kind(callee) ~= "closure" then
        oracle[caller .. "\n" .. offset .. "\n" .. callee] = true
      end
    end

    it("with the binary, lists only sites the compiler devirtualizes, to its callee", function()
      local rows = assert(compiler.devirt_candidates(steady, { binary = shop }))
      assert.is_true(rows.exact)
      local shop_rows = 0
      for _, r in ipairs(rows) do
        assert.is_truthy(r.kind == "interface" or r.kind == "func_value")
        if r.caller:match("^main%.") or r.caller:match("^example%.com/shop/") then
          shop_rows = shop_rows + 1
          assert.is_true(oracle[r.caller .. "\n" .. r.offset .. "\n" .. r.callee], r.caller)
        end
      end
      -- mapaccess2_fast64's t.Hasher goes to runtime.memhash64 (assembly): not listed
      for _, r in ipairs(rows) do assert.are_not.equal("runtime.memhash64", r.callee) end
      -- lookupBatch's c.Get; h.Write in checksumOrders.func1 is direct in the binary (the
      -- compiler devirtualized it statically after inlining sha256.New): the build log
      -- tells (below)
      assert.equal(1, shop_rows)
    end)

    it("with the build log, adds the interface calls resolved statically after inlining: the compiler's list", function()
      -- -pgo=off -m=2 of the shop: "devirtualizing h.Write to *sha256.digest" at
      -- handlers.go:94, inside checksumOrders.func1 (h := sha256.New() was inlined)
      local log = helpers.read_file(F("expected/inline/off.txt"))
      local rows = assert(compiler.devirt_candidates(steady, { binary = shop, build_log = log }))
      local shop_rows = {}
      for _, r in ipairs(rows) do
        if r.caller:match("^main%.") or r.caller:match("^example%.com/shop/") then
          shop_rows[r.caller .. "\n" .. r.offset .. "\n" .. r.callee] = true
        end
      end
      assert.same(oracle, shop_rows)
      assert.has_error(function() compiler.devirt_candidates(steady, { build_log = log }) end)
      assert.has_error(function() compiler.devirt_candidates(steady, { binary = shop, build_log = {} }) end)
    end)

    it("lists a call its inlined copies resolved to different functions, as the compiler sees it before inlining", function()
      local rows = assert(compiler.devirt_candidates(inlined_copies, { binary = shop }))
      -- not helper's static call (one callee in every copy) nor once's (one copy only)
      assert.equal(1, #rows)
      assert.same({ caller = "internal/poll.ignoringEINTRIO", offset = 2, kind = "func_value",
        callee = "syscall.Read", weight = 3, site_weight = 5 }, rows[1])
      -- the same site in a function the binary says is written in assembly: not compiled
      -- (runtime.mcall's fn(gp) reaches runtime.park_m)
      local asm = assert(compiler.devirt_candidates(copies_profile("runtime.mcall"), { binary = shop }))
      assert.equal(0, #asm)
    end)

    it("with the build log, drops a pick the compiler cannot inline", function()
      local function rows_with(log)
        return assert(compiler.devirt_candidates(inlined_copies, { binary = shop, build_log = log }))
      end
      -- another package's function without an inline body (export data has none)
      assert.equal(0, #rows_with("# syscall\nsyscall/syscall_unix.go:10:6: cannot inline Read: " ..
        "unhandled op DEFER\n"))
      assert.equal(0, #rows_with("# syscall\nsyscall/syscall_unix.go:10:6: cannot inline Read: " ..
        "function too complex: cost 2001 exceeds budget 80\n"))
      -- syscall.Read is a hot callee: its budget is 2000, so a -pgo=off log's 81 inlines
      assert.equal(1, #rows_with("# syscall\nsyscall/syscall_unix.go:10:6: cannot inline Read: " ..
        "function too complex: cost 81 exceeds budget 80\n"))
      -- a pragma forbids it in any package; its own package has the body otherwise
      assert.equal(0, #rows_with("# syscall\nsyscall/syscall_unix.go:10:6: cannot inline Read: " ..
        "marked go:noinline\n"))
      assert.equal(1, #assert(compiler.devirt_candidates(copies_profile("syscall.ignoringEINTRIO"),
        { binary = shop, build_log = "# syscall\nsyscall/syscall_unix.go:10:6: cannot inline Read: " ..
          "unhandled op DEFER\n" })))
      assert.equal(1, #rows_with("# syscall\nsyscall/syscall_unix.go:10:6: can inline Read with cost 9 as: ...\n"))
      assert.equal(1, #rows_with("# other\nother/x.go:10:6: cannot inline Read: unhandled op DEFER\n"))
    end)

    it("without it, gives an upper bound holding every pick", function()
      local rows = assert(compiler.devirt_candidates(steady))
      assert.is_false(rows.exact)
      local ours = {}
      for _, r in ipairs(rows) do ours[r.caller .. "\n" .. r.offset .. "\n" .. r.callee] = true end
      for k in pairs(oracle) do assert.is_true(ours[k], k) end
    end)

    it("raises on misuse, returns the failure triple for a missing binary", function()
      assert.has_error(function() compiler.devirt_candidates(steady, { bogus = true }) end)
      assert.has_error(function() compiler.devirt_candidates(steady, { binary = 1 }) end)
      assert.has_error(function() compiler.devirt_candidates(steady:edges(), { binary = shop }) end)
      local rows, _, code = compiler.devirt_candidates(steady, { binary = helpers.tmpdir() .. "/none" })
      assert.is_nil(rows)
      assert.equal("not_found", code)
    end)
  end)

  describe("pgo.compiler.devirt_pick()", function()
    local function site(caller, callees)
      local s = { caller = caller, callees = {} }
      for i, c in ipairs(callees) do
        s.callees[i] = { callee = c[1], weight = c[2], kind = compiler.func_kind(c[1]) }
      end
      return s
    end

    it("follows findHotConcreteCallee: hottest of the method's name, IR first on a tie", function()
      local s = site("main.run", { { "main.A.Get", 5 }, { "main.B.Get", 7 }, { "main.C.Put", 9 } })
      assert.equal("main.B.Get", compiler.devirt_pick(s, "interface", "Get").callee)
      assert.equal("main.C.Put", compiler.devirt_pick(s, "interface", "Put").callee)
      -- a callee without IR as hot as the pick: the compiler prefers the one with IR
      s = site("main.run", { { "main.A.Get", 5 }, { "runtime.asyncPreempt", 5 } })
      assert.equal("main.A.Get", compiler.devirt_pick(s, "interface", "Get").callee)
      -- hotter: no pick
      s = site("main.run", { { "main.A.Get", 5 }, { "runtime.asyncPreempt", 6 } })
      assert.is_nil(compiler.devirt_pick(s, "interface", "Get"))
    end)

    it("never picks a closure, a method or memhash_varlen for a function value", function()
      assert.is_nil(compiler.devirt_pick(site("main.run", { { "main.run.func1", 9 }, { "main.f", 2 } }), "func_value"))
      assert.is_nil(compiler.devirt_pick(site("main.run", { { "main.T.M", 9 } }), "func_value"))
      local s = site("main.run", { { "main.f", 3 }, { "main.g", 9 } })
      assert.equal("main.f", compiler.devirt_pick(s, "func_value", nil, { ["main.f"] = true }).callee)
      assert.is_nil(compiler.devirt_pick(s, "func_value", nil, nil, { ["main.g"] = true }))
    end)

    it("gives a package's own functions IR, even the runtime's", function()
      assert.is_true(compiler.has_ir("runtime.park_m", "runtime.selparkcommit"))
      assert.is_false(compiler.has_ir("main.f", "runtime.selparkcommit"))
      assert.is_false(compiler.has_ir("net/http.serverHandler.ServeHTTP", "main.handler"))
      assert.is_false(compiler.has_ir("sort.partition_func", "main.run.func1"))
      assert.is_true(compiler.has_ir("main.run", "example.com/shop/internal/cache.(*RedisCache).Get"))
    end)

    it("with go list's import closures, sees only what a package imports", function()
      local imports = compiler.parse_imports(table.concat({
        "internal/reflectlite reflectlite: internal/abi unsafe",
        "context context: errors internal/reflectlite sync time",
        "bufio bufio: bytes errors io",
        "example.com/m/cmd/api main: bufio context net/http",
        "go: noise that is not a package line",
      }, "\n"))
      assert.is_true(imports.context["internal/reflectlite"])
      assert.is_true(imports.main["net/http"])
      assert.is_true(imports["example.com/m/cmd/api"].bufio)
      -- std's internal packages have IR for the std packages that import them
      assert.is_true(compiler.has_ir("context.WithValue", "internal/reflectlite.rtype.Comparable", imports))
      assert.is_false(compiler.has_ir("context.WithValue", "internal/reflectlite.rtype.Comparable"))
      -- bufio cannot see net/http; main can
      assert.is_false(compiler.has_ir("bufio.(*Writer).Flush", "net/http.checkConnErrorWriter.Write", imports))
      assert.is_true(compiler.has_ir("bufio.(*Writer).Flush", "net/http.checkConnErrorWriter.Write"))
      assert.is_true(compiler.has_ir("main.main", "net/http.(*Server).Serve", imports))
      -- the runtime's helpers stay without IR
      assert.is_false(compiler.has_ir("main.main", "runtime.asyncPreempt", imports))
      local s = site("bufio.(*Writer).Flush", { { "net/http.checkConnErrorWriter.Write", 9 }, { "bufio.(*Writer).Write", 2 } })
      assert.is_nil(compiler.devirt_pick(s, "interface", "Write", nil, nil, imports))
      assert.has_error(function() compiler.parse_imports(nil) end)
    end)
  end)
end)
