-- Specs for pgo.audit: stale (profile vs. source), health (fit to be default.pgo), repo
-- (default.pgo placement, -pgo=off, binaries), match_name, and the lazy re-exports.
local helpers = require "helpers"
local pgo = require "pgo"
local audit = require "pgo.audit"
local symbols = require "pgo.symbols"

local F = helpers.fixture

local function load(rel) return assert(pgo.load(F(rel))) end

-- The stale names, flat and cum of expected/stale/shop.steady-vs-shop-v2.txt
local STALE_V2 = {
  { name = "main.checksumOrders", flat = 6, cum = 312 },
  { name = "example.com/shop/internal/pricing.TopK[go.shape.struct { ID uint64; SKU string; Qty int; Price example.com/shop/internal/pricing.Price }]",
    flat = 109, cum = 154 },
  { name = "example.com/shop/internal/catalog.walk", flat = 17, cum = 150 },
  { name = "example.com/shop/internal/pricing.TopK[go.shape.float64]", flat = 38, cum = 61 },
  { name = "main.checksumOrders.func1", flat = 0, cum = 2 },
}

-- "STALE_FLAT_SAMPLES 170 of 3561" and friends, read from the oracle itself
local function oracle_figures()
  local text = helpers.read_file(F("expected/stale/shop.steady-vs-shop-v2.txt"))
  return {
    functions = tonumber(text:match("\nSTALE_FUNCTIONS (%d+)")),
    flat = tonumber(text:match("\nSTALE_FLAT_SAMPLES (%d+) of")),
    cum = tonumber(text:match("\nSTALE_CUM_SAMPLES (%d+) of")),
    total = tonumber(text:match("\nSTALE_CUM_SAMPLES %d+ of (%d+)")),
    sum = tonumber(text:match("\nSUM_OF_STALE_CUM (%d+) of")),
  }
end

local function checks_by_name(h)
  local t = {}
  for _, c in ipairs(h.checks) do t[c.name] = c end
  return t
end

local function failed(h)
  local t = {}
  for _, c in ipairs(h.checks) do
    if not c.ok then t[#t + 1] = c.name end
  end
  return t
end

describe("pgo.audit", function()
  local steady, v1, v2
  setup(function()
    steady = load("profiles/shop.steady.pgo")
    v1 = assert(symbols.go_source(F("gosrc/shop-v1")))
    v2 = assert(symbols.go_source(F("gosrc/shop-v2")))
  end)

  describe("stale()", function()
    it("finds the oracle's 5 stale functions of shop.steady.pgo against shop-v2", function()
      local want = oracle_figures()
      assert.same({ functions = 5, flat = 170, cum = 677, total = 3561, sum = 679 }, want)
      local r = audit.stale(steady, v2)
      assert.equal(want.functions, #r.functions)
      assert.equal(want.flat, r.stale_flat)
      assert.equal(want.cum, r.stale_cum)
      assert.equal(want.total, r.total)
      assert.equal(want.sum, r.sum_of_stale_cum)
      local got = {}
      for _, f in ipairs(r.functions) do got[#got + 1] = { name = f.name, flat = f.flat, cum = f.cum } end
      assert.same(STALE_V2, got)                       -- ranked by cum
      assert.equal(170 / 3561, r.flat_fraction)
      assert.equal(677 / 3561, r.cum_fraction)
      assert.equal("samples", r.sample_type)
      assert.equal(1, r.sample_index)
      assert.equal("example.com/shop", r.module)
    end)

    it("measures against the module's own samples too (3195 touch module code)", function()
      local r = audit.stale(steady, v2)
      assert.equal(3195, r.own_total)                  -- "samples with any module frame 3195"
      assert.equal(1878, r.module_flat)                -- "all module frames: flat 1878"
      assert.equal(170 / 3195, r.own_flat_fraction)
      assert.equal(677 / 3195, r.own_cum_fraction)
      assert.equal(32, #r.module_functions)            -- "Module functions in profile: 32"
      local rows = {}
      for _, f in ipairs(r.module_functions) do rows[f.name] = f end
      assert.same({ name = "main.main.labeled.func2.1", flat = 0, cum = 1611, stale = false,
                    belongs_to = "main.main", inlined = { "labeled" },
                    how = "closure, created by inlining labeled into main" },
                  rows["main.main.labeled.func2.1"])
      assert.same({ 1356, 1364, false }, { rows["example.com/shop/internal/cache.mix"].flat,
                    rows["example.com/shop/internal/cache.mix"].cum,
                    rows["example.com/shop/internal/cache.mix"].stale })
      assert.same({ 154, 156, "main.(*server).handleSpike" }, { rows["main.(*server).handleSpike.func1"].flat,
                    rows["main.(*server).handleSpike.func1"].cum, rows["main.(*server).handleSpike.func1"].belongs_to })
      local walk = r.functions[3]
      assert.same({ name = "example.com/shop/internal/catalog.walk", flat = 17, cum = 150,
                    belongs_to = "example.com/shop/internal/catalog.walk", how = "not found in the source" }, walk)
      assert.equal("example.com/shop/internal/pricing.TopK[...]", r.functions[2].belongs_to)
      assert.equal("generic instantiation, not found in the source", r.functions[2].how)
    end)

    it("agrees with pprof's -focus on the stale names (the samples-touched total)", function()
      local r = audit.stale(steady, v2)
      local alts = {}
      for _, f in ipairs(r.functions) do
        alts[#alts + 1] = (f.name:gsub("[%.%[%]%(%)%*%+%?%^%$|\\{}]", "\\%0"))
      end
      local focused = steady:filter { focus = "^(" .. table.concat(alts, "|") .. ")$" }
      assert.equal(r.stale_cum, focused:info().totals[1])
    end)

    it("finds nothing stale against the source that ran (shop-v1)", function()
      local r = audit.stale(steady, v1)
      assert.same({ 0, 0, 0, 0, 0, 3561, 3195 }, { #r.functions, r.stale_flat, r.stale_cum, r.flat_fraction,
                    r.cum_fraction, r.total, r.own_total })
    end)

    it("reads Go 1.19 names: one TopK[...] for every shape, labeled's closures without the inliner's prefix", function()
      local old = load("profiles/go1.19/shop.steady.pgo")
      local r = audit.stale(old, v2)
      local names = {}
      for _, f in ipairs(r.functions) do names[#names + 1] = f.name end
      table.sort(names)
      assert.same({ "example.com/shop/internal/catalog.walk", "example.com/shop/internal/pricing.TopK[...]",
                    "main.checksumOrders", "main.checksumOrders.func1" }, names)
      assert.equal(0, #audit.stale(old, v1).functions)
    end)

    it("counts in the column asked for", function()
      local r = audit.stale(steady, v2, { sample_index = "cpu" })
      assert.same({ "cpu", 2, 1700000000, 6770000000, 35610000000 },
                  { r.sample_type, r.sample_index, r.stale_flat, r.stale_cum, r.total })
      assert.equal(677 / 3561, r.cum_fraction)
    end)

    it("does not call test functions stale when the source was scanned without tests", function()
      local micro = load("profiles/micro.pgo")
      local r = audit.stale(micro, v1)
      assert.same({}, r.functions)
      assert.same({ "example.com/shop/internal/textutil.BenchmarkCountWords" }, r.unknown)
      local with_tests = assert(symbols.go_source(F("gosrc/shop-v1"), { include_tests = true }))
      assert.same({}, audit.stale(micro, with_tests).unknown)
    end)

    it("raises on wrong arguments", function()
      assert.has_error(function() audit.stale({}, v2) end,
        "bad argument #1 to 'stale' (pgo.profile expected, got table)")
      assert.has_error(function() audit.stale(steady, "v2") end,
        "bad argument #2 to 'stale' (symbols from pgo.symbols.go_source expected, got string)")
      assert.has_error(function() audit.stale(steady, v2, { sample = 1 }) end,
        "bad argument #3 to 'stale' (unknown option 'sample')")
      assert.has_error(function() audit.stale(steady, v2, { sample_index = "bytes" }) end,
        "bad argument #2 to 'stale' (no sample type 'bytes' (the profile has: samples, cpu))")
    end)
  end)

  describe("match_name()", function()
    local syms
    setup(function()
      syms = {
        module = "example.com/m",
        functions = {
          ["example.com/m/p.F"] = { package = "example.com/m/p" },
          ["example.com/m/p.T.Value"] = { package = "example.com/m/p" },
          ["example.com/m/p.(*T).Ptr"] = { package = "example.com/m/p" },
          ["example.com/m/p.Sum[...]"] = { package = "example.com/m/p" },
          ["example.com/m/p.(*List[...]).Push"] = { package = "example.com/m/p" },
          ["example.com/m/p.init.0"] = { package = "example.com/m/p" },
          ["example.com/m/q.G"] = { package = "example.com/m/q" },
          ["example.com/m/v%2e2.H"] = { package = "example.com/m/v.2" },
          ["main.main"] = { package = "example.com/m/cmd/a" },
          ["main.helper"] = { package = "example.com/m/cmd/b" },
        },
        packages = {
          { prefix = "example.com/m/p", module = "example.com/m" },
          { prefix = "example.com/m/q", module = "example.com/m" },
          { prefix = "main", main = true, module = "example.com/m" },
        },
      }
    end)
    local function m(name, opts)
      local r = audit.match_name(name, syms, opts)
      if r == nil then return "not module" end
      return (r.declared and "ok " or "STALE ") .. r.belongs_to
    end

    it("maps every profile spelling to its declaration", function()
      local cases = {
        ["example.com/m/p.F"] = "ok example.com/m/p.F",
        ["example.com/m/p.F.func1"] = "ok example.com/m/p.F",
        ["example.com/m/p.F.func2.3.1"] = "ok example.com/m/p.F",
        ["example.com/m/p.F.gowrap1"] = "ok example.com/m/p.F",
        ["example.com/m/p.F.deferwrap2"] = "ok example.com/m/p.F",
        ["example.com/m/p.F-range1"] = "ok example.com/m/p.F",
        ["example.com/m/p.F-range1.func1"] = "ok example.com/m/p.F",
        ["example.com/m/p.T.Value"] = "ok example.com/m/p.T.Value",
        ["example.com/m/p.(*T).Value"] = "ok example.com/m/p.T.Value",    -- pointer wrapper
        ["example.com/m/p.(*T).Ptr-fm"] = "ok example.com/m/p.(*T).Ptr",
        ["example.com/m/p.(*T).Ptr.func1"] = "ok example.com/m/p.(*T).Ptr",
        ["example.com/m/p.T.Ptr"] = "STALE example.com/m/p.T.Ptr",
        ["example.com/m/p.Sum[go.shape.int]"] = "ok example.com/m/p.Sum[...]",
        ["example.com/m/p.Sum[...]"] = "ok example.com/m/p.Sum[...]",
        ["example.com/m/p.Sum[go.shape.struct { A example.com/m/p.T; B [2]int }].func1"] = "ok example.com/m/p.Sum[...]",
        ["example.com/m/p.(*List[go.shape.*uint8]).Push"] = "ok example.com/m/p.(*List[...]).Push",
        ["example.com/m/p.(*List[int]).Push"] = "ok example.com/m/p.(*List[...]).Push",
        ["example.com/m/p.init.0"] = "ok example.com/m/p.init.0",
        ["example.com/m/p.init.0.func1"] = "ok example.com/m/p.init.0",
        ["example.com/m/p.init.1"] = "STALE example.com/m/p.init.1",
        ["example.com/m/p.init"] = "ok example.com/m/p.init",
        ["example.com/m/p.init.func3"] = "ok example.com/m/p.init",
        ["example.com/m/p.glob..func1"] = "ok example.com/m/p.init",
        ["example.com/m/gone.init"] = "STALE example.com/m/gone.init",
        ["example.com/m/p.F.Gone.func1"] = "STALE example.com/m/p.F",       -- Gone is not declared
        ["example.com/m/p.F.G.func1"] = "ok example.com/m/p.F",             -- G: declared in q
        ["example.com/m/p.F.Value.func1"] = "STALE example.com/m/p.F",
        ["example.com/m/p.F.T.Value.func1"] = "ok example.com/m/p.F",        -- inlined method
        ["example.com/m/p.F.(*T).Ptr.func2"] = "ok example.com/m/p.F",
        ["example.com/m/p.F.q.func1"] = "STALE example.com/m/p.F",
        ["example.com/m/p.F.Gone.func1.1"] = "STALE example.com/m/p.F",
        ["example.com/m/gone.F.G.func1"] = "STALE example.com/m/gone.F",
        ["example.com/m/q.G.F.func1"] = "ok example.com/m/q.G",              -- F from package p
        ["example.com/m/v%2e2.H"] = "ok example.com/m/v%2e2.H",
        ["example.com/m/gone.F"] = "STALE example.com/m/gone.F",
        ["main.main"] = "ok main.main",
        ["main.main.helper.func2.1"] = "ok main.main",
        ["main.gone"] = "STALE main.gone",
        ["runtime.main"] = "not module",
        ["example.com/mother.F"] = "not module",
        ["example.com/m2/p.F"] = "not module",
        ["type:.eq.example.com/m/p.T"] = "not module",
        ["type..eq.main.T"] = "not module",
        ["sort.Slice"] = "not module",
        ["aeshashbody"] = "not module",
      }
      for name, want in pairs(cases) do
        assert.equal(want, m(name), name)
      end
    end)

    it("restricts main.* to one package main with opts.main_package", function()
      assert.equal("ok main.helper", m("main.helper"))
      assert.equal("STALE main.helper", m("main.helper", { main_package = "example.com/m/cmd/a" }))
      assert.equal("ok main.main", m("main.main", { main_package = "example.com/m/cmd/a" }))
    end)
  end)

  describe("health()", function()
    it("calls micro.pgo a microbenchmark profile dominated by one function", function()
      local h = audit.health(load("profiles/micro.pgo"))
      assert.is_false(h.ok)
      assert.same({ "min_samples", "min_duration", "max_dominant", "max_benchmark" }, failed(h))
      local c = checks_by_name(h)
      assert.equal(168 / 176, c.max_dominant.figure)
      assert.equal(0.75, c.max_dominant.threshold)
      assert.matches("textutil.CountWords alone accounts for 95.5%% of the samples", c.max_dominant.message)
      assert.equal(169 / 176, c.max_benchmark.figure)
      assert.equal(176, c.min_samples.figure)
    end)

    it("judges min_duration at the 0.1 s it shows (a 10 s capture may record 9.99 s)", function()
      local steady = load("profiles/shop.steady.pgo")     -- 20.178 s
      local c = checks_by_name(audit.health(steady, { min_duration = 20.2 }))
      assert.is_true(c.min_duration.ok)
      assert.equal("20.2 s captured", c.min_duration.message)
      c = checks_by_name(audit.health(steady, { min_duration = 20.25 }))
      assert.is_false(c.min_duration.ok)
      assert.matches("only 20.2 s %(at least 20.25 s%)", c.min_duration.message)
    end)

    it("calls shop.idle.pgo idle", function()
      local h = audit.health(load("profiles/shop.idle.pgo"))
      assert.same({ "min_samples", "min_utilization", "max_idle" }, failed(h))
      local c = checks_by_name(h)
      assert.equal(20 / 21, c.max_idle.figure)
      assert.matches("the scheduler idling", c.max_idle.message)
      assert.near(0.0105, c.min_utilization.figure, 0.0001)
    end)

    it("calls shop.startup.pgo a start-up capture", function()
      local h = audit.health(load("profiles/shop.startup.pgo"))
      assert.same({ "min_samples", "min_duration", "max_startup" }, failed(h))
      local c = checks_by_name(h)
      assert.equal(498 / 500, c.max_startup.figure)
      assert.matches("package initialisation", c.max_startup.message)
    end)

    it("finds shop.steady.pgo healthy with the defaults, short of the fleet policy's samples", function()
      assert.same({}, failed(audit.health(steady)))
      local h = audit.health(steady, { policy = "fleet" })
      assert.same({ "min_samples" }, failed(h))
      local c = checks_by_name(h)
      -- pgo.checks' form (verdict, advice, unit), with ok and message for older callers
      local advice = "only 3561 samples (35.6 s of CPU); at least 30000 recommended: capture longer or merge several profiles"
      assert.same({ name = "min_samples", verdict = "fail", ok = false, figure = 3561, threshold = 30000,
                    unit = "samples", advice = advice, message = advice },
                  c.min_samples)
      assert.equal(13, #h.checks)
      assert.is_true(audit.health(steady, { policy = "fleet", min_samples = 3000 }).ok)
      assert.is_false(audit.health(steady, { min_samples = 5000 }).ok)
      assert.is_true(audit.health(steady, { min_samples = false }).ok)
      assert.is_nil(checks_by_name(audit.health(steady, { min_samples = false })).min_samples)
    end)

    it("fails a Go 1.19 profile: no start lines, go build -pgo would refuse it", function()
      local h = audit.health(load("profiles/go1.19/shop.steady.pgo"))
      assert.same({ "start_lines" }, failed(h))
      assert.matches("no Function.start_line data", checks_by_name(h).start_lines.message)
      assert.same({}, failed(audit.health(load("profiles/go1.19/shop.steady.pgo"),
                                          { start_lines = false })))
    end)

    it("passes the 40344-sample production profile", function()
      local h = audit.health(load("thirdparty/grpc-anon.pprof"))
      assert.is_true(h.ok)
      assert.equal(40344, h.samples)
    end)

    it("rejects a heap profile as not a CPU profile and skips the rest", function()
      local h = audit.health(load("bad/heap.pb.gz"))
      assert.is_false(h.ok)
      assert.equal(1, #h.checks)
      assert.same({ "cpu_profile", false, "heap", "cpu" },
                  { h.checks[1].name, h.checks[1].ok, h.checks[1].figure, h.checks[1].threshold })
      assert.matches("not a CPU profile but a heap profile", h.checks[1].message)
    end)

    it("rejects tiny5.pgo for too few samples and nosamples.pgo for having none", function()
      local c = checks_by_name(audit.health(load("bad/tiny5.pgo")))
      assert.same({ false, 5 }, { c.min_samples.ok, c.min_samples.figure })
      local h = audit.health(load("bad/nosamples.pgo"))
      assert.same({ "min_samples", "min_duration", "has_samples" }, failed(h))
    end)

    it("raises on unknown options and bad values", function()
      assert.has_error(function() audit.health(steady, { min_sample = 5 }) end,
        "bad argument #2 to 'health' (unknown option 'min_sample')")
      assert.has_error(function() audit.health(steady, { max_gc = "high" }) end,
        "bad argument #2 to 'health' (option 'max_gc' must be a number or boolean, got string)")
      assert.equal(1000, audit.health_defaults().min_samples)
      assert.equal(30000, audit.health_defaults("fleet").min_samples)
      assert.has_error(function() audit.health(steady, { policy = "huge" }) end,
        "bad argument #2 to 'health' (no policy 'huge')")
    end)
  end)

  describe("repo()", function()
    local root
    local function write(rel, text)
      local dir = rel:match("^(.*)/[^/]*$")
      if dir then assert(os.execute("mkdir -p " .. helpers.shq(root .. "/" .. dir))) end
      helpers.write_file(root .. "/" .. rel, text)
    end
    local function copy(from, rel)
      write(rel, helpers.read_file(F(from)))
    end
    before_each(function()
      root = helpers.tmpdir()
      write("go.mod", "module example.com/r\n\ngo 1.22\n")
      write("cmd/api/main.go", "package main\nfunc main() {}\n")
      write("cmd/worker/main.go", "package main\nfunc main() {}\n")
      write("cmd/cron/main.go", "package main\nfunc main() {}\n")
      write("internal/x/x.go", "package x\nfunc X() {}\n")
      copy("profiles/shop.steady.pgo", "cmd/api/default.pgo")
      copy("profiles/shop.p1.pgo", "cmd/api/old.pgo")
      copy("profiles/micro.pgo", "cmd/worker/cpu.pgo")
      copy("profiles/shop.p2.pgo", "default.pgo")
      copy("bad/heap.pb.gz", "internal/x/default.pgo")
      write("bin/api.pgo", "\127ELF\2\1\1\0\0\0\0\0\0\0\0\0")
      write("Makefile", "build:\n\tgo build -pgo=off ./...\n# go build -pgo=off (a comment)\n" ..
                        "rel:\n\tGOFLAGS=-pgo=profiles/merged.pgo go build ./cmd/api\n")
      write(".github/workflows/ci.yml", "jobs:\n  b:\n    steps:\n      - run: go build -pgo off ./cmd/api\n")
      write("deploy/Dockerfile", "FROM golang\nRUN go build -pgo=auto ./cmd/api\n")
    end)
    after_each(function() helpers.rm_rf(root) end)

    local function codes(r)
      local t = {}
      for _, f in ipairs(r.findings) do
        t[#t + 1] = ("%s %s %s%s"):format(f.severity, f.code, f.path, f.line and (":" .. f.line) or "")
      end
      return t
    end

    it("reports placement, names, -pgo=off and stray files of a repository", function()
      local r = assert(audit.repo(root, { env = { GOFLAGS = "-trimpath -pgo=off" } }))
      assert.is_false(r.ok)
      assert.same({
        "error pgo_off .github/workflows/ci.yml:4",
        "error pgo_off_env GOFLAGS",
        "error pgo_off Makefile:2",
        "warning profile_wrong_name cmd/worker/cpu.pgo",
        "warning default_pgo_not_main default.pgo",
        "warning default_pgo_not_main internal/x/default.pgo",
        "info pgo_path Makefile:5",
        "info not_a_profile bin/api.pgo",
        "info profile_unused cmd/api/old.pgo",
        "info no_default_pgo cmd/cron",
      }, codes(r))
      local msgs = {}
      for _, f in ipairs(r.findings) do msgs[f.code .. " " .. f.path] = f.message end
      assert.equal("default.pgo is at the module root, which is not a package main: go build -pgo=auto ignores it; move it next to the main package (cmd/api, cmd/cron, cmd/worker)",
                   msgs["default_pgo_not_main default.pgo"])
      assert.equal("cmd/worker/cpu.pgo is beside package main example.com/r/cmd/worker but -pgo=auto only reads a file named default.pgo: rename it to cmd/worker/default.pgo",
                   msgs["profile_wrong_name cmd/worker/cpu.pgo"])
      assert.equal("bin/api.pgo is an executable (ELF), not a profile: ignored", msgs["not_a_profile bin/api.pgo"])
      assert.same({
        { dir = "cmd/api", path = "example.com/r/cmd/api", default_pgo = true,
          profile = { kind = "cpu", samples = 3561, duration_s = 20.178020955 } },
        { dir = "cmd/cron", path = "example.com/r/cmd/cron", default_pgo = false },
        { dir = "cmd/worker", path = "example.com/r/cmd/worker", default_pgo = false },
      }, r.mains)
      assert.equal(5, #r.profiles)
    end)

    it("is ok once the profiles are in place and nothing turns PGO off", function()
      os.remove(root .. "/Makefile")
      os.remove(root .. "/.github/workflows/ci.yml")
      os.remove(root .. "/default.pgo")
      os.remove(root .. "/internal/x/default.pgo")
      os.remove(root .. "/cmd/api/old.pgo")
      os.rename(root .. "/cmd/worker/cpu.pgo", root .. "/cmd/worker/default.pgo")
      local r = assert(audit.repo(root, { env = { GOFLAGS = "-trimpath" } }))
      assert.is_true(r.ok)
      assert.same({ "info not_a_profile bin/api.pgo", "info no_default_pgo cmd/cron" }, codes(r))
    end)

    it("flags a default.pgo beside main that is not a usable CPU profile, and unhealthy ones on request", function()
      copy("bad/heap.pb.gz", "cmd/cron/default.pgo")
      write("cmd/worker/default.pgo", "<h1>502</h1>")
      local r = assert(audit.repo(root, { env = {}, health = true }))
      local got = {}
      for _, f in ipairs(r.findings) do
        if f.code:match("^default_pgo_[iu]") then got[#got + 1] = f.severity .. " " .. f.path .. ": " .. f.message end
      end
      assert.equal(2, #got)   -- cmd/api/default.pgo passes the default thresholds
      assert.equal("error cmd/cron/default.pgo: cmd/cron/default.pgo is a heap profile, not a CPU profile: go build rejects it", got[1])
      assert.matches("^error cmd/worker/default.pgo: cmd/worker/default.pgo is not a usable profile: ", got[2])
    end)

    it("tells which binaries were built with PGO", function()
      local bins = { F("bin/shop.pgo"), F("bin/shop"), F("README.md") }
      local r = assert(audit.repo(root, { env = {}, binaries = bins }))
      if not symbols.has_binary() then
        assert.equal("unavailable", r.binaries[1].code)
        return
      end
      assert.same({ path = bins[1], pgo = "shop.steady.pgo", main_path = "example.com/shop/cmd/shop",
                    go_version = "go1.23.5" }, r.binaries[1])
      assert.same({ path = bins[2], pgo = false, main_path = "example.com/shop/cmd/shop",
                    go_version = "go1.23.5" }, r.binaries[2])
      local by = {}
      for _, f in ipairs(r.findings) do by[f.path] = f end
      assert.same({ "info", "binary_pgo" }, { by[bins[1]].severity, by[bins[1]].code })
      assert.same({ "warning", "binary_no_pgo" }, { by[bins[2]].severity, by[bins[2]].code })
      assert.same({ "warning", "binary_unreadable" }, { by[bins[3]].severity, by[bins[3]].code })
    end)

    it("warns when a binary of a main package with default.pgo was built without PGO", function()
      local shop = helpers.tmpdir()
      assert(os.execute(("cp -R %s/. %s/ && cp %s %s/cmd/shop/default.pgo"):format(
        helpers.shq(F("gosrc/shop-v1")), helpers.shq(shop), helpers.shq(F("profiles/shop.steady.pgo")),
        helpers.shq(shop))))
      local r = assert(audit.repo(shop, { env = {}, binaries = { F("bin/shop.nopgo"), F("bin/shop.pgo") } }))
      helpers.rm_rf(shop)
      assert.is_true(r.ok)
      if not symbols.has_binary() then return end
      assert.same({ "warning binary_no_pgo " .. F("bin/shop.nopgo"), "info binary_pgo " .. F("bin/shop.pgo") },
                  codes(r))
      assert.equal(F("bin/shop.nopgo") .. " (example.com/shop/cmd/shop) was built without PGO although " ..
                   "cmd/shop/default.pgo exists: built with -pgo=off, GOFLAGS, or before the profile was added",
                   r.findings[1].message)
    end)

    it("returns nil, message, code when root is not a module, and raises on misuse", function()
      local none, msg, code = audit.repo("/nonexistent/pgolua-spec")
      assert.is_nil(none)
      assert.equal("not_found", code)
      assert.matches("pgolua%-spec", msg)
      assert.has_error(function() audit.repo(root, { binary = {} }) end,
        "bad argument #2 to 'repo' (unknown option 'binary')")
    end)
  end)

  describe("re-exports", function()
    it("returns nil, message, 'unavailable' for a module that is not installed", function()
      local ok = pcall(require, "pgo.audit_pgo")
      if ok then
        assert.equal("function", type(audit.drift))
        return
      end
      local none, msg, code = audit.drift()
      assert.is_nil(none)
      assert.equal("unavailable", code)
      assert.matches("^audit.drift is not available: module pgo.audit_pgo failed to load", msg)
      none, msg, code = audit.devirt_shift()
      assert.is_nil(none)
      assert.equal("unavailable", code)
    end)

    it("is reachable as pgo.audit and pgo.symbols", function()
      assert.equal(audit, pgo.audit)
      assert.equal(symbols, pgo.symbols)
      assert.equal("function", type(audit.bloat))
    end)
  end)
end)
