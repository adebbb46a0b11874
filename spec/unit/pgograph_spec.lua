-- Specs for the compiler's view: p:edges(), p:preprofile() / pgo.preprofile(),
-- p:hot_callsites(), p:callsites() (src/profile/pgograph.c,
-- src/lua/pgograph.c) and pgo.compiler (lua/pgo/compiler.lua).
-- Oracles (Go 1.23.5, testdata/): expected/<profile>/preprofile.txt and the failure
-- outputs (`go tool preprofile`), expected/pgodebug/hot-callsites.txt and
-- pgodebug2.shop.txt (the compiler's -d=pgodebug output), pprof-examples/tiny.preprofile,
-- go-testdata/*.node_map (golang/go test data).
local helpers = require "helpers"
local pb = require "pbwriter"
local pgo = require "pgo"
local compiler = require "pgo.compiler"

local F = helpers.fixture

-- profile file -> its `go tool preprofile` output
local PREPROFILES = {
  { "profiles/shop.steady.pgo", "expected/shop.steady/preprofile.txt", 350 },
  { "profiles/shop.p1.pgo", "expected/shop.p1/preprofile.txt", 230 },
  { "profiles/shop.p2.pgo", "expected/shop.p2/preprofile.txt", 292 },
  { "profiles/shop.p3.pgo", "expected/shop.p3/preprofile.txt", 290 },
  { "profiles/shop.idle.pgo", "expected/shop.idle/preprofile.txt", 11 },
  { "profiles/shop.startup.pgo", "expected/shop.startup/preprofile.txt", 24 },
  { "profiles/micro.pgo", "expected/micro/preprofile.txt", 36 },
  { "expected/merge/merged.pgo", "expected/merge/merged.preprofile.txt", 490 },
  { "thirdparty/grpc-anon.pprof", "expected/thirdparty/grpc-anon.pprof/preprofile.txt", 1267 },
  { "pprof-examples/tiny.pb.gz", "pprof-examples/tiny.preprofile", 6 },
  { "bad/tiny5.pgo", "expected/bad/tiny5.pgo.preprofile.txt", 1 },
  { "bad/nosamples.pgo", "expected/bad/nosamples.pgo.preprofile.txt", 0 },
}

local function load(rel) return assert(pgo.load(F(rel))) end
local function read(rel) return helpers.read_file(F(rel)) end

-- A hand-made profile: functions {name, start_line}; locations {addr=, lines={{fn, line}}}
-- (innermost line first); samples {locs = {leaf..root}, values = {...}, label = "x"}.
local function build(spec) return assert(pgo.decode(pb.cpu_profile(spec))) end

local FNS = { { "main.main", 10 }, { "main.f", 20 }, { "main.g", 30 } }

-- The edges as "caller>callee@offset=weight" strings, for compact comparisons.
local function flat(edges)
  local out = {}
  for i, e in ipairs(edges) do
    out[i] = string.format("%s>%s@%d=%d", e.caller, e.callee, e.offset, e.weight)
  end
  return out
end

describe("pgo.profile compiler view", function()
  describe("p:edges()", function()
    it("extracts the worked example of reference e.3 from tiny", function()
      local edges = load("pprof-examples/tiny.pb.gz"):edges()
      assert.same({
        "main.main>main.foo@2=305",
        "main.bar>main.baz@3=150",      -- an inline edge inside one location
        "main.main>main.bar@2=150",
        "main.rec>main.rec@5=40",       -- only the two leaf frames of a deep recursion
        "main.foo>main.bar@2=9",
        "main.main>main.tiny@2=2",
      }, flat(edges))
      assert.equal(656, edges.total_weight)
      assert.equal("samples/count", edges.sample_type)
    end)

    it("gives the edge counts of every fixture", function()
      for _, c in ipairs(PREPROFILES) do
        local edges = load(c[1]):edges()
        assert.equal(c[3], #edges, c[1])
      end
    end)

    it("weights edges by the first samples/count or cpu/nanoseconds column", function()
      local function prof(types, values)
        return build { types = types, functions = FNS,
          locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
          samples = { { locs = { 1, 2 }, values = values } } }
      end
      local e = prof({ { "cpu", "nanoseconds" }, { "samples", "count" } }, { 50, 5 }):edges()
      assert.same({ "main.main>main.f@2=50" }, flat(e))
      assert.equal("cpu/nanoseconds", e.sample_type)
      e = prof({ { "alloc", "bytes" }, { "samples", "count" } }, { 999, 7 }):edges()
      assert.same({ "main.main>main.f@2=7" }, flat(e))
      local ok, msg, code = prof({ { "alloc", "bytes" } }, { 1 }):edges()
      assert.is_nil(ok)
      assert.equal("not_cpu", code)
      assert.matches("samples/count", msg, 1, true)
    end)

    it("keeps frames of one function on one line apart when their addresses differ", function()
      local p = build { functions = FNS,
        locations = { { addr = 0x10, lines = { { 2, 25 } } }, { addr = 0x20, lines = { { 2, 25 } } },
          { addr = 0x10, lines = { { 2, 25 } } } },
        samples = { { locs = { 1, 2 }, values = { 7, 70 } },   -- two PCs: an edge f -> f
          { locs = { 3, 1 }, values = { 4, 40 } } } }          -- one PC twice: no edge
      assert.same({ "main.f>main.f@5=7" }, flat(p:edges()))
    end)

    it("counts an edge once per sample and keeps edges whose weights cancel out", function()
      local p = build { functions = FNS,
        locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } }, { lines = { { 3, 31 } } } },
        samples = { { locs = { 1, 2 }, values = { 5, 50 }, label = "a" },
          { locs = { 1, 2 }, values = { -5, -50 }, label = "b" },
          { locs = { 3, 2 }, values = { 3, 30 } } } }
      assert.same({ "main.main>main.g@2=3", "main.main>main.f@2=0" }, flat(p:edges()))
      assert.equal(3, p:edges().total_weight)
    end)

    it("returns nil, Go's message, 'missing_start_line' without start lines", function()
      for _, name in ipairs { "shop.steady", "micro" } do
        local ok, msg, code = load("profiles/go1.19/" .. name .. ".pgo"):edges()
        assert.is_nil(ok)
        assert.equal("missing_start_line", code)
        local go = read("expected/go1.19/" .. name .. "/preprofile.stderr.txt")
        assert.equal("preprofile: error parsing profile: " .. msg .. "\n", go)
        assert.equal("1\n", read("expected/go1.19/" .. name .. "/preprofile.exitcode"))
      end
    end)

    it("treats a profile whose samples all weigh 0 as missing start lines, as Go does", function()
      local p = build { functions = FNS,
        locations = { { lines = { { 2, 22 } } }, { lines = { { 1, 12 } } } },
        samples = { { locs = { 1, 2 }, values = { 0, 0 } } } }
      local ok, _, code = p:edges()
      assert.is_nil(ok)
      assert.equal("missing_start_line", code)
    end)
  end)

  describe("pgo.preprofile()", function()
    it("equals `go tool preprofile` byte for byte on every fixture", function()
      for _, c in ipairs(PREPROFILES) do
        local p = load(c[1])
        local text = assert(pgo.preprofile(p))
        assert.equal(read(c[2]), text, c[1])
        assert.equal(text, p:preprofile())
      end
    end)

    it("is the header alone for a profile without samples", function()
      assert.equal("GO PREPROFILE V1\n", pgo.preprofile(load("bad/nosamples.pgo")))
    end)

    it("fails like Go on a heap and a goroutine profile (code not_cpu)", function()
      for _, name in ipairs { "heap.pb.gz", "goroutine.pb.gz" } do
        local text, msg, code = pgo.preprofile(load("bad/" .. name))
        assert.is_nil(text)
        assert.equal("not_cpu", code)
        assert.equal("preprofile: error parsing profile: " .. msg .. "\n",
          read("expected/bad/" .. name .. ".preprofile.stderr.txt"))
      end
    end)

    it("fails on go1.19 profiles with code missing_start_line", function()
      local text, msg, code = pgo.preprofile(load("profiles/go1.19/shop.steady.pgo"))
      assert.is_nil(text)
      assert.equal("missing_start_line", code)
      assert.matches("Go 1.20+ automatically adds this", msg, 1, true)
    end)

    it("raises on a non-profile argument", function()
      assert.has_error(function() pgo.preprofile("x") end,
        "bad argument #1 to 'preprofile' (pgo.profile expected, got string)")
    end)
  end)

  describe("pgo.compiler.preprofile_file()", function()
    it("gives the header for a zero-byte file and Go's output otherwise", function()
      assert.equal(read("expected/bad/empty.pgo.preprofile.txt"),
        compiler.preprofile_file(F("bad/empty.pgo")))
      assert.equal(read("pprof-examples/tiny.preprofile"),
        compiler.preprofile_file(F("pprof-examples/tiny.pb.gz")))
      local ok, msg, code = compiler.preprofile_file(F("bad/heap.pb.gz"))
      assert.is_nil(ok)
      assert.equal("not_cpu", code)
      assert.matches("heap.pb.gz: profile does not contain", msg, 1, true)
      ok, _, code = compiler.preprofile_file(F("bad/truncated.pgo"))
      assert.is_nil(ok)
      assert.is_string(code)
    end)
  end)

  describe("p:hot_callsites()", function()
    local steady = load("profiles/shop.steady.pgo")

    it("gives the compiler's hot set of the steady profile (hot-callsites.txt)", function()
      local hot = steady:hot_callsites { cdf = 99 }
      assert.equal(297, #hot)
      assert.equal(220, #hot.callees)
      assert.equal(350, hot.edges)
      assert.equal(5376, hot.total_weight)
      assert.equal("0.018601190476190476", hot.threshold)
      assert.equal(100 / 5376, hot.threshold_pct)
      local oracle = read("expected/pgodebug/hot-callsites.txt")
      assert.matches("hot-callsite-thres-from-CDF=" .. hot.threshold, oracle, 1, true)
      local rows = {}
      for line in oracle:gmatch("[^\n]+") do
        local rank, w, pct, cum, caller, callee, off =
          line:match("^(%d+) (%d+) ([%d.]+) ([%d.]+) (.-) %-> (.-) @(%-?%d+)$")
        if rank then
          rows[#rows + 1] = string.format("%s %s %s %s %s -> %s @%s", rank, w, pct, cum, caller,
            callee, off)
        end
      end
      assert.equal(297, #rows)
      for i, h in ipairs(hot) do
        assert.equal(rows[i], string.format("%d %d %.4f %.4f %s -> %s @%d", h.rank, h.weight,
          h.share * 100, h.cum_share * 100, h.caller, h.callee, h.offset))
      end
      -- the sorted hot callee list at the end of the oracle
      local listed = oracle:match("# hot callees %(sorted%)\n(.*)$")
      local want = {}
      for name in listed:gmatch("[^\n]+") do want[#want + 1] = name end
      local got = { table.unpack(hot.callees) }
      table.sort(got)
      assert.same(want, got)
    end)

    it("agrees with the compiler's -d=pgodebug=1 output", function()
      local log = read("expected/pgodebug/pgodebug1.all.txt")
      local printed = log:match("hot%-callsite%-thres%-from%-CDF=(%S+)")
      assert.equal(printed, steady:hot_callsites().threshold)
      -- every function the compiler gave the hot budget is one of our hot callees
      local hot = {}
      for _, name in ipairs(steady:hot_callsites().callees) do hot[name] = true end
      local n = 0
      for name in log:gmatch("hot%-node enabled increased budget=2000 for func=([^\n]+)") do
        assert.is_true(hot[name], name)
        n = n + 1
      end
      assert.is_true(n >= 198)
    end)

    it("walks tiny as reference e.6 does (5 hot edges at 99%, every edge at 100%)", function()
      local tiny = load("pprof-examples/tiny.pb.gz")
      local hot = tiny:hot_callsites()
      assert.equal(5, #hot)
      assert.equal("1.3719512195121952", hot.threshold)   -- 9 * 100 / 656
      assert.equal(4, hot.sites)
      assert.same({ "main.foo", "main.baz", "main.bar", "main.rec" }, hot.callees)
      local all = tiny:hot_callsites { cdf = 100 }
      assert.equal(6, #all)
      assert.equal(0, all.threshold_pct)
      assert.equal("0", all.threshold)
      local one = tiny:hot_callsites { cdf = 0 }
      assert.equal(1, #one)
      assert.equal(305 / 656, one[1].cum_share)
    end)

    it("equals pgo.compiler.hot_callsites over the same edges", function()
      for _, c in ipairs(PREPROFILES) do
        local p = load(c[1])
        for _, cdf in ipairs { 50, 90, 99, 99.9 } do
          local a, b = p:hot_callsites { cdf = cdf }, compiler.hot_callsites(p:edges(), { cdf = cdf })
          assert.same(a, b, c[1] .. " cdf " .. cdf)
        end
      end
    end)

    it("raises on a bad cdf or an unknown option", function()
      assert.has_error(function() steady:hot_callsites { cdf = 101 } end,
        "bad argument #1 to 'hot_callsites' (option 'cdf' must be a number between 0 and 100)")
      assert.has_error(function() steady:hot_callsites { cfd = 1 } end,
        "bad argument #1 to 'hot_callsites' (unknown option 'cfd')")
    end)

    it("returns nil, message, code where the compiler fails", function()
      local ok, _, code = load("profiles/go1.19/micro.pgo"):hot_callsites()
      assert.is_nil(ok)
      assert.equal("missing_start_line", code)
    end)
  end)

  describe("pgo.compiler.read_node_map()", function()
    it("reads inline_hot and recomputes its hot sets (90% -> 1 edge, 99% -> 3)", function()
      local edges = assert(compiler.read_node_map(read("go-testdata/inline_hot.pprof.node_map")))
      assert.equal(4, #edges)
      assert.equal(135, edges.total_weight)
      assert.same({ caller = "example.com/pgo/inline.A", callee = "example.com/pgo/inline.(*BS).NS",
        offset = 7, weight = 129 }, edges[1])
      local h90 = compiler.hot_callsites(edges, { cdf = 90 })
      assert.equal(1, #h90)
      assert.equal("95.55555555555556", h90.threshold)
      local h99 = compiler.hot_callsites(edges, { cdf = 99 })
      assert.equal(3, #h99)
      assert.equal(2 / 135, h99[3].share)
      assert.equal("1.4814814814814816", h99.threshold)
    end)

    it("reads devirt (17 edges, the 8/8 tie in caller order)", function()
      local text = read("go-testdata/devirt.pprof.node_map")
      local edges = assert(compiler.read_node_map(text))
      assert.equal(17, #edges)
      assert.equal("example.com/pgo/devirtualize.ExerciseFuncConcrete", edges[12].caller)
      assert.equal("example.com/pgo/devirtualize.ExerciseFuncField", edges[13].caller)
      assert.equal(8, edges[12].weight)
      assert.equal(8, edges[13].weight)
      assert.equal(text, compiler.format(edges))
    end)

    it("round-trips a profile's edges through format", function()
      local p = load("profiles/shop.p2.pgo")
      local text = compiler.format(p:edges())
      assert.equal(p:preprofile(), text)
      local edges = p:edges()
      edges.sample_type = nil
      assert.same(edges, compiler.read_node_map(text))
    end)

    it("returns nil, message, code on text the compiler rejects", function()
      local H = "GO PREPROFILE V1\n"
      local cases = {
        { "GO PREPROFILE V1\r\na\nb\n1 2\n", "not_preprofile", "GO PREPROFILE V1" },
        { "", "not_preprofile", "GO PREPROFILE V1" },
        { H .. "a\n", "bad_preprofile", "missing callee" },
        { H .. "a\nb\n", "bad_preprofile", "missing weight" },
        { H .. "a\nb\n1 2 3\n", "bad_preprofile", "not 'offset weight'" },
        { H .. "a\nb\n1  2\n", "bad_preprofile", "not 'offset weight'" },
        { H .. "a\nb\nx 2\n", "bad_preprofile", "bad call-site offset" },
        { H .. "a\nb\n1 0x2\n", "bad_preprofile", "bad weight" },
        { H .. "a\nb\n1 2\na\nb\n1 5\n", "bad_preprofile", "duplicate edge a -> b @1" },
      }
      for _, c in ipairs(cases) do
        local ok, msg, code = compiler.read_node_map(c[1])
        assert.is_nil(ok, c[1])
        assert.equal(c[2], code, c[1])
        assert.matches(c[3], msg, 1, true)
      end
      -- what Go's line scanner accepts: a trailing \r, no final newline, signs
      local edges = assert(compiler.read_node_map(H .. "a\r\nb\n-1 +2"))
      assert.same({ caller = "a", callee = "b", offset = -1, weight = 2 }, edges[1])
      assert.same({ total_weight = 0 }, compiler.read_node_map(H))
    end)
  end)

  describe("pgo.compiler.go_float()", function()
    it("prints float64 values as Go's %v does", function()
      local cases = {
        { 0.018601190476190476, "0.018601190476190476" }, { 100, "100" }, { 1e6, "1e+06" },
        { 123456, "123456" }, { 1234567, "1.234567e+06" }, { 0.0001, "0.0001" },
        { 0.00001234, "1.234e-05" }, { 1 / 3, "0.3333333333333333" },
        { 95.55555555555556, "95.55555555555556" }, { 0, "0" }, { 1e21, "1e+21" },
        { 12345678901234567890.0, "1.2345678901234567e+19" }, { 5e-324, "5e-324" },
        { 99.25925925925925, "99.25925925925925" }, { 9 * 100 / 656, "1.3719512195121952" },
        { -2.5, "-2.5" }, { 1 / 0, "+Inf" },
      }
      for _, c in ipairs(cases) do assert.equal(c[2], compiler.go_float(c[1])) end
    end)
  end)

  describe("p:callsites()", function()
    local steady = load("profiles/shop.steady.pgo")
    local function site(sites, caller, offset)
      for _, s in ipairs(sites) do
        if s.caller == caller and s.offset == offset then return s end
      end
    end

    it("shows the 95/5 interface call and the closure call of the shop", function()
      local sites = steady:callsites()
      local s = site(sites, "main.lookupBatch", 3)
      assert.equal(1376, s.weight)
      assert.same({
        { callee = "example.com/shop/internal/cache.(*RedisCache).Get", weight = 1298,
          share = 1298 / 1376, kind = "method" },
        { callee = "example.com/shop/internal/cache.(*MemCache).Get", weight = 78,
          share = 78 / 1376, kind = "method" },
      }, s.callees)
      assert.equal("example.com/shop/internal/cache.(*RedisCache).Get", s.dominant)
      assert.equal(1298 / 1376, s.dominant_share)
      assert.equal("method", s.dominant_kind)
      assert.is_true(s.speculate)
      assert.equal(s.dominant, s.target)
      assert.same({ { method = "Get", callee = s.dominant, weight = 1298 } }, s.interface_targets)

      local w = site(sites, "example.com/shop/internal/catalog.walk", 1)
      assert.equal(52, w.weight)
      assert.equal("example.com/shop/internal/catalog.SumPrices.func1", w.dominant)
      assert.equal(34, w.dominant_weight)
      assert.equal("example.com/shop/internal/catalog.Leaves.func1", w.callees[2].callee)
      assert.equal(18, w.callees[2].weight)
      assert.equal("closure", w.dominant_kind)
      assert.is_false(w.speculate)      -- Go 1.23 skips closure callees: not in pgo-only.txt
      assert.is_nil(w.target)
      assert.equal(19, #sites)
      for i = 2, #sites do assert.is_true(sites[i - 1].weight >= sites[i].weight) end
    end)

    it("matches every profile edge and hottest callee the devirtualizer printed", function()
      local sites = steady:callsites { min_callees = 1 }
      local log = read("expected/pgodebug/pgodebug2.shop.txt")
      local n = 0
      for caller, off, callee, weight in
          log:gmatch(": edge ([^\n]-):(%-?%d+) %-> ([^\n]-) %(weight (%d+)%)") do
        weight = tonumber(weight)
        if weight > 0 then              -- weight 0: the compiler's own IR edges
          local s = assert(site(sites, caller, tonumber(off)), caller)
          local found
          for _, c in ipairs(s.callees) do
            if c.callee == callee then found = c.weight end
          end
          assert.equal(weight, found, caller .. " -> " .. callee)
          n = n + 1
        end
      end
      assert.equal(7, n)
      local m = 0
      for caller, off, callee, weight in
          log:gmatch(": call ([^\n]-):(%-?%d+): hottest callee ([^\n]-) %(weight (%d+)%)") do
        local s = site(sites, caller, tonumber(off))
        assert.equal(callee, s.dominant)
        assert.equal(tonumber(weight), s.dominant_weight)
        m = m + 1
      end
      assert.equal(5, m)
      -- the compiler's "PGO devirtualizing" decisions are sites we speculate on
      for _, line in ipairs { "main.lookupBatch", "main.checksumOrders.func1" } do
        local s = site(sites, line, line == "main.lookupBatch" and 3 or 2)
        assert.is_true(s.speculate)
        assert.equal("method", s.dominant_kind)
      end
      assert.matches("PGO devirtualizing interface call c.Get to cache.(*RedisCache).Get",
        read("expected/inline/pgo-only.txt"), 1, true)
    end)

    it("equals pgo.compiler.callsites over the same edges", function()
      for _, rel in ipairs { "profiles/shop.steady.pgo", "thirdparty/grpc-anon.pprof" } do
        local p = load(rel)
        for _, min in ipairs { 1, 2, 3 } do
          assert.same(p:callsites { min_callees = min },
            compiler.callsites(p:edges(), { min_callees = min }))
        end
      end
    end)

    it("guesses one interface target per method name (devirt.node_map)", function()
      local edges = assert(compiler.read_node_map(read("go-testdata/devirt.pprof.node_map")))
      local sites = compiler.callsites(edges)
      local iface = site(sites, "example.com/pgo/devirtualize.ExerciseIface", 49)
      -- golang/go's TestPGODevirtualize expects Add.Add and mult.Mult.Multiply on line 101
      assert.same({
        { method = "Add", callee = "example.com/pgo/devirtualize.Add.Add", weight = 55 },
        { method = "Multiply", callee = "example.com/pgo/devirtualize/mult%2epkg.Mult.Multiply",
          weight = 40 },
      }, iface.interface_targets)
      local closure = site(sites, "example.com/pgo/devirtualize.ExerciseFuncClosure", 18)
      assert.is_false(closure.speculate)   -- "Closure callees not implemented" in Go 1.23
      local concrete = site(sites, "example.com/pgo/devirtualize.ExerciseFuncConcrete", 48)
      assert.equal("example.com/pgo/devirtualize.AddFn", concrete.target)
      assert.equal("function", concrete.dominant_kind)
    end)

    it("leaves the devirtualization list to pgo.compiler.devirt_candidates", function()
      -- `speculate` is a profile-only guess (any line with a non-closure hottest callee);
      -- the compiler's list needs the binary, so profiles have no method of that name
      assert.is_nil(pgo.profile.methods.devirt_candidates)
      local guesses = 0
      for _, s in ipairs(steady:callsites()) do if s.speculate then guesses = guesses + 1 end end
      local rows = assert(compiler.devirt_candidates(steady, { binary = F("bin/shop") }))
      assert.is_true(#rows < guesses)
    end)

    it("raises on a bad min_callees", function()
      assert.has_error(function() steady:callsites { min_callees = 0 } end,
        "bad argument #1 to 'callsites' (option 'min_callees' must be an integer >= 1)")
    end)
  end)

  describe("pgo.compiler.func_kind()", function()
    it("classifies linker symbol names like the C side", function()
      local cases = {
        { "main.main", "function" }, { "main.(*Circ).Area", "method" }, { "main.Sq.Area", "method" },
        { "main.main.func1", "closure" }, { "main.main.func1.1", "closure" },
        { "main.init.0", "function" }, { "main.glob..func1", "closure" },
        { "main.Sum[go.shape.int]", "function" }, { "main.(*List[go.shape.int]).Push", "method" },
        { "main.(*List[int]).Push-fm", "function" }, { "main.main.gowrap2", "closure" },
        { "main.main.deferwrap1", "closure" }, { "main.F-range1", "closure" },
        { "example.com/pgo/devirtualize/mult%2epkg.MultFn", "function" },
        { "example.com/shop/internal/pricing.TopK[go.shape.struct { ID uint64; Price example.com/shop/internal/pricing.Price }]", "function" },
        { "runtime.memhash_varlen", "function" }, { "main.order.key", "method" },
      }
      local edges = { total_weight = #cases }
      for i, c in ipairs(cases) do
        assert.equal(c[2], compiler.func_kind(c[1]), c[1])
        edges[i] = { caller = "x.caller", callee = c[1], offset = i, weight = 1 }
      end
      -- the C classifier, through a profile with these callees
      local fns, locs, samples = { { "x.caller", 1 } }, {}, {}
      for i, c in ipairs(cases) do
        fns[#fns + 1] = { c[1], 100 }
        locs[#locs + 1] = { lines = { { i + 1, 101 } } }
        locs[#locs + 1] = { lines = { { 1, 1 + i } } }
        samples[#samples + 1] = { locs = { 2 * i - 1, 2 * i }, values = { 1, 1 } }
      end
      local p = build { functions = fns, locations = locs, samples = samples }
      for _, s in ipairs(p:callsites { min_callees = 1 }) do
        assert.equal(cases[s.offset][2], s.dominant_kind, cases[s.offset][1])
      end
    end)
  end)
end)

describe("pgo.audit_pgo", function()
  local audit = require "pgo.audit_pgo"
  local p1 = assert(pgo.load(F("profiles/shop.p1.pgo")))
  local p3 = assert(pgo.load(F("profiles/shop.p3.pgo")))

  -- An edge list from {caller, callee, offset, weight} rows, through the preprofile text.
  local function edges(rows)
    local text = { compiler.HEADER }
    for _, r in ipairs(rows) do text[#text + 1] = string.format("%s\n%s\n%d %d\n", table.unpack(r)) end
    return assert(compiler.read_node_map(table.concat(text)))
  end
  local R, M = "cache.(*RedisCache).Get", "cache.(*MemCache).Get"

  describe("devirt_shift()", function()
    it("reports a 95% callee that fell to 35%", function()
      local old = edges { { "main.lookupBatch", R, 3, 95 }, { "main.lookupBatch", M, 3, 5 },
        { "main.main", "main.lookupBatch", 4, 100 } }
      local new = edges { { "main.lookupBatch", M, 3, 65 }, { "main.lookupBatch", R, 3, 35 },
        { "main.main", "main.lookupBatch", 4, 100 } }
      assert.same({ {
        caller = "main.lookupBatch", offset = 3, callee = R, old_share = 0.95, new_share = 0.35,
        old_weight = 100, new_weight = 100, new_dominant = M, new_dominant_share = 0.65,
        kind = "lost_dominance", method = "Get",
      } }, audit.devirt_shift(old, new))
      -- thresholds are options
      assert.same({}, audit.devirt_shift(old, new, { dominant = 0.96 }))
      assert.same({}, audit.devirt_shift(old, new, { min_weight = 101 }))
      local rows = audit.devirt_shift(old, new, { lost = 0.3 })
      assert.equal("target_changed", rows[1].kind)
      assert.same({}, audit.devirt_shift(old, old))
    end)

    it("follows the compiler's pick, not a share: 78/22 flipping to 22/78 is a shift", function()
      local old = edges { { "main.lookupBatch", R, 3, 78 }, { "main.lookupBatch", M, 3, 22 } }
      local new = edges { { "main.lookupBatch", R, 3, 22 }, { "main.lookupBatch", M, 3, 78 } }
      local rows = audit.devirt_shift(old, new)
      assert.equal(1, #rows)
      assert.same({ "Get", R, M }, { rows[1].method, rows[1].callee, rows[1].new_dominant })
      -- 60/40 becoming 55/45 keeps the pick: no shift
      local calm = edges { { "main.lookupBatch", R, 3, 55 }, { "main.lookupBatch", M, 3, 45 } }
      assert.same({}, audit.devirt_shift(edges { { "main.lookupBatch", R, 3, 60 },
        { "main.lookupBatch", M, 3, 40 } }, calm))
    end)

    it("knows where the compiler gives up: closures, and callees it has no IR for", function()
      -- catalog.walk calls a closure: 91% in p1, 56.5% in p3; never devirtualized
      for _, r in ipairs(audit.devirt_shift(p1, p3)) do
        assert.are_not.equal("example.com/shop/internal/catalog.walk", r.caller)
      end
      -- runtime.asyncPreempt (a signal's entry) hotter than the methods: no pick in new
      local old = edges { { "main.run", "main.double", 7, 80 }, { "main.run", "main.square", 7, 20 } }
      local new = edges { { "main.run", "main.double", 7, 30 }, { "main.run", "main.square", 7, 20 },
        { "main.run", "runtime.asyncPreempt", 7, 50 } }
      local rows = audit.devirt_shift(old, new)
      assert.equal(1, #rows)
      assert.same({ "func()", "main.double", false }, { rows[1].method, rows[1].callee, rows[1].new_dominant })
      assert.is_false(compiler.callsites(new)[1].speculate)
      assert.is_true(compiler.no_ir_callee("runtime.mallocgc"))
      assert.is_true(compiler.no_ir_callee("internal/runtime/syscall.Syscall6"))
      assert.is_false(compiler.no_ir_callee("runtime.GC"))
      assert.is_false(compiler.no_ir_callee("example.com/shop/internal/cache.(*RedisCache).Get"))
    end)
  end)

  describe("drift()", function()
    it("is a no-op for a profile against itself and against its compact form", function()
      for _, other in ipairs { p1, (p1:compact_for_pgo { frames = 2 }), p1:edges() } do
        local d = audit.drift(p1, other)
        assert.is_false(d.changes_compiler_decisions)
        assert.same({}, d.reasons)
        assert.equal(1, d.hot_sites.jaccard)
        assert.equal(1, d.hot_edges.jaccard)
        assert.equal(1, d.hot_edges.weighted)
        assert.near(1, d.edge_overlap, 1e-12)
        assert.same({ entered = {}, left = {} }, d.hot_functions)
        assert.same({}, d.devirt_targets)
        assert.same({}, d.devirt_shifts)
        assert.equal(d.old.threshold, d.new.threshold)
      end
    end)

    it("shows what changes from the fast-heavy p1 to the spike-heavy p3", function()
      local d = audit.drift(p1, p3)
      assert.is_true(d.changes_compiler_decisions)
      assert.same({ "hot call sites", "hot callees", "devirtualization targets" }, d.reasons)
      assert.same({ edges = 230, total_weight = 3539, hot_edges = 195,
        threshold = "0.028256569652444195", threshold_pct = 100 / 3539 }, d.old)
      assert.equal(290, d.new.edges)
      assert.equal(263, d.new.hot_edges)
      assert.is_true(d.hot_sites.jaccard > 0.3 and d.hot_sites.jaccard < 0.4)
      assert.is_true(d.hot_edges.weighted < d.hot_edges.jaccard)
      assert.is_true(d.edge_overlap > 0.3 and d.edge_overlap < 0.35)
      assert.equal(88, #d.hot_functions.entered)
      assert.equal(53, #d.hot_functions.left)
      local entered = {}
      for _, f in ipairs(d.hot_functions.entered) do entered[f] = true end
      assert.is_true(entered["sort.pdqsort_func"])            -- sorting of /spike
      assert.is_true(entered["runtime.(*mheap).alloc"])       -- and its allocation
      local left = {}
      for _, f in ipairs(d.hot_functions.left) do left[f] = true end
      assert.is_true(left["crypto/sha256.(*digest).Write"])  -- less /slow hashing
      -- the same result from the preprofile files alone
      local e1 = compiler.read_node_map(helpers.read_file(F("expected/shop.p1/preprofile.txt")))
      local e3 = compiler.read_node_map(helpers.read_file(F("expected/shop.p3/preprofile.txt")))
      e1.samples, e3.samples = p1:info().totals[1], p3:info().totals[1]   -- noise is per sample
      assert.same(d, audit.drift(e1, e3))
      -- only the sites with several callees
      local multi = audit.drift(p1, p3, { devirt_sites = "multi" })
      assert.equal(7, #multi.devirt_targets)
      assert.is_true(#multi.devirt_targets < #d.devirt_targets)
    end)

    it("sees a devirtualization change with identical hot sets, beyond noise only", function()
      local old = edges { { "main.lookupBatch", R, 3, 600 }, { "main.lookupBatch", M, 3, 400 } }
      local new = edges { { "main.lookupBatch", M, 3, 600 }, { "main.lookupBatch", R, 3, 400 } }
      local d = audit.drift(old, new)
      assert.same({ "devirtualization targets" }, d.reasons)
      assert.is_true(d.changes_compiler_decisions)
      local row = { caller = "main.lookupBatch", offset = 3, old = R, new = M,
        old_methods = "Get=" .. R, new_methods = "Get=" .. M, beyond_noise = true }
      assert.same({ row }, d.devirt_targets)
      assert.same({ row }, d.devirt_changes)
      -- 60 against 40 samples: a lead of 20 is 2 standard deviations (sqrt(100) = 10), a
      -- coin toss between two captures; the z = 3 band calls it unchanged, z = 1.9 not
      local o2 = edges { { "main.lookupBatch", R, 3, 60 }, { "main.lookupBatch", M, 3, 40 } }
      local n2 = edges { { "main.lookupBatch", M, 3, 60 }, { "main.lookupBatch", R, 3, 40 } }
      local d2 = audit.drift(o2, n2)
      assert.is_false(d2.changes_compiler_decisions)
      assert.is_false(d2.devirt_targets[1].beyond_noise)
      assert.same({}, d2.devirt_changes)
      assert.is_true(audit.drift(o2, n2, { noise_z = 1.9 }).changes_compiler_decisions)
    end)

    it("counts a hot edge entering the hot set only beyond noise: more than z^2 samples from none", function()
      local base = { { "main.a", "main.b", 1, 100 } }
      local function with(w)
        local t = { { "main.a", "main.b", 1, 100 } }
        if w then t[2] = { "main.c", "main.d", 2, w } end
        return edges(t)
      end
      local old = edges(base)
      old.samples = 1000
      local new9, new10 = with(9), with(10)
      new9.samples, new10.samples = 1000, 1000
      -- 9 against 0: |0 - 4.5| = 3 sd exactly (sd = sqrt(9 / 4)): not beyond z = 3
      assert.is_false(audit.drift(old, new9).changes_compiler_decisions)
      local d = audit.drift(old, new10)
      assert.same({ "hot call sites", "hot callees", "devirtualization targets" }, d.reasons)
      assert.same({ { caller = "main.c", callee = "main.d", offset = 2, old_weight = 0, new_weight = 10,
        hot = "entered" } }, d.hot_edges.moved)
      assert.has_error(function() audit.drift(old, new10, { noise_z = -1 }) end,
        "bad argument #3 to 'drift' (option 'noise_z' must be a non-negative number)")
    end)

    it("raises on a profile the compiler rejects and on unknown options", function()
      local old = assert(pgo.load(F("profiles/go1.19/micro.pgo")))
      assert.has_error(function() audit.drift(old, p1) end,
        "bad argument #1 to 'drift' (profile missing Function.start_line data (Go version of " ..
        "profiled application too old? Go 1.20+ automatically adds this to profiles))")
      assert.has_error(function() audit.drift(p1, p3, { cfd = 1 }) end,
        "bad argument #3 to 'drift' (unknown option 'cfd')")
      assert.has_error(function() audit.devirt_shift(p1, p3, { lost = 2 }) end,
        "bad argument #3 to 'devirt_shift' (option 'lost' must be a number between 0 and 1)")
    end)
  end)
end)

describe("p:edges() on a 1M-sample profile #slow", function()
  -- #slow: builds a 1,000,000-sample profile in Lua (a few seconds) to time the C walk
  it("takes well under a second", function()
    local out = {}
    local function varint(n)
      local b = {}
      repeat
        local x = n & 0x7f
        n = n >> 7
        if n ~= 0 then x = x | 0x80 end
        b[#b + 1] = string.char(x)
      until n == 0
      return table.concat(b)
    end
    local function field(num, payload) return varint(num << 3 | 2) .. varint(#payload) .. payload end
    out[#out + 1] = field(1, "\8\1\16\2")                 -- samples/count
    -- 1000 leaf x 1000 caller locations: every stack distinct; root main.main (loc 2001)
    local v, char = {}, string.char
    for id = 1, 2001 do v[id] = varint(id) end
    local root = v[2001]
    for leaf = 1, 1000 do
      local lv = v[leaf]
      for caller = 1001, 2000 do
        local ids = lv .. v[caller] .. root                -- every length is < 128
        out[#out + 1] = char(18, #ids + 4, 10, #ids) .. ids .. "\16\1"
      end
    end
    for id = 1, 2001 do
      local fn = id == 2001 and 100 or (id <= 1000 and 50 + id % 50 or id % 50)
      local line = field(4, "\8" .. varint(fn + 1) .. "\16" .. varint(100 + id % 7))
      out[#out + 1] = field(4, "\8" .. varint(id) .. "\24" .. varint(0x400000 + id * 16) .. line)
    end
    for fn = 0, 100 do
      out[#out + 1] = field(5, "\8" .. varint(fn + 1) .. "\16" .. varint(3 + fn) .. "\40" .. varint(90))
    end
    out[#out + 1] = field(6, "") .. field(6, "samples") .. field(6, "count")
    for fn = 0, 100 do out[#out + 1] = field(6, "pkg.F" .. fn) end
    local p = assert(pgo.decode(table.concat(out)))
    assert.equal(1000000, p:info().sample_records)
    local e = assert(p:edges())
    assert.equal(1000000, e.total_weight)
    -- caller location id (1001..2000) has function id % 50 and line 100 + id % 7: 350
    -- call sites, each calling the 50 leaf functions
    local sites = {}
    for _, x in ipairs(e) do sites[x.caller .. "@" .. x.offset] = true end
    local n = 0
    for _ in pairs(sites) do n = n + 1 end
    assert.equal(350, n)
    assert.equal(350 * 50, #e)
    local q = p:compact_for_pgo { frames = 2 }
    assert.equal(p:preprofile(), q:preprofile())
  end)
end)
