-- Integration: recipes/ab.lua against examples/service with Go 1.23.
--   --go-test: the package benchmarks of ./internal/work in a temporary copy of the
--     service whose cmd/service/default.pgo is examples/profiles/demo.pgo, -pgo=off
--     against --profile that file (the recommended form: go test's -pgo=auto ignores
--     default.pgo for a library package), --count 3 --benchtime 100ms.
--   live load: the service built once, started twice on 127.0.0.1 port 0 (the port read
--     from its log), --rounds 2 --duration 1; then the gate against a B that is gone.
-- Needs Go >= 1.21 (helpers.go()); pending without it. About 25 s with a warm build cache.
-- Every service started here is stopped by pid: B in its test, the rest in teardown.
local helpers = require "helpers"
local cjson = require "cjson"
local servers = require "support.servers"

local q = helpers.shq
local go = helpers.go()

local RECIPE = q(helpers.root .. "/recipes/ab.lua")
-- Go without network or toolchain downloads; helpers.go() first in PATH (the recipe takes
-- the go on PATH, then $GO)
local function env(tmp)
  return "PATH=" .. q((go or "go"):match("^(.*)/[^/]*$") or ".") .. ":$PATH GOTOOLCHAIN=local GOPROXY=off GOWORK=off "
    .. "GOFLAGS=-buildvcs=false GOCACHE=${GOCACHE:-${HOME:-" .. tmp .. "}/.cache/go-build} "
end

local function ab(args, tmp)
  return helpers.run(env(tmp) .. q(helpers.pgolua) .. " " .. RECIPE .. " " .. args)
end

describe("#integration recipes/ab.lua on examples/service", function()
  if not go then
    pending("Go >= 1.21 not found (install golang-1.23-go from bookworm-backports: make deps)")
    return
  end

  local tmp, a, b
  setup(function()
    tmp = helpers.tmpdir()
    servers.guard(function()
      local bin = servers.build_service(go)
      a = servers.start_service(bin, 0)      -- -load 0: no self-load, only ours
      b = servers.start_service(bin, 0)
    end)
  end)
  teardown(function()
    servers.cleanup()
    if tmp then helpers.rm_rf(tmp) end
  end)

  it("--go-test compares ./internal/work without and with the service's profile", function()
    local mod = tmp .. "/service"
    assert(os.execute("cp -R " .. q(helpers.root .. "/examples/service") .. " " .. q(mod)))
    assert(os.execute("cp " .. q(helpers.root .. "/examples/profiles/demo.pgo") .. " "
      .. q(mod .. "/cmd/service/default.pgo")))
    local save = tmp .. "/saved"
    local out, err, code = ab("--go-test ./internal/work --dir " .. q(mod)
      .. " --profile " .. q(mod .. "/cmd/service/default.pgo")
      .. " --count 3 --benchtime 100ms --save-dir " .. q(save), tmp)
    assert.equal(0, code, err)
    assert.matches("pkg: example.com/pgolua-demo/internal/work\n", out, 1, true)
    assert.matches("│%s+off%.txt%s+│%s+on%.txt%s+│", out)
    assert.matches("vs base", out, 1, true)
    for _, name in ipairs { "Lookup", "Digest", "Catalog" } do
      assert.matches("\n" .. name .. "%-%d+%s[^\n]- ± [^\n]- ± [^\n]- %(p=%d%.%d+ n=3%)", out)
    end
    assert.matches("\ngeomean%s", out)
    -- each side built once, the rounds interleaved, the binaries kept
    assert.matches("ab: build -pgo=off example.com/pgolua-demo/internal/work\n", err, 1, true)
    assert.matches("ab: build -pgo=" .. mod .. "/cmd/service/default.pgo example.com/", err, 1, true)
    assert.matches("ab: round 2 of 3: on off\n", err, 1, true)
    assert.matches("A/B: off.txt built with -pgo=off, on.txt built with -pgo=" .. mod
      .. "/cmd/service/default.pgo; 3 rounds, the two binaries alternating (ABBA)", out, 1, true)
    local off = helpers.read_file(save .. "/off.txt")
    assert.matches("\nBenchmarkLookup%-%d+%s+%d+%s+[%d.]+ ns/op", off)
    assert.matches("\npkg: example%.com/pgolua%-demo/internal/work\n", off)
    assert.truthy(helpers.read_file(save .. "/bin/1-on.test"))
    -- the saved files compare the same way as JSON, with a headline geomean
    local js, jerr, jcode = ab(q(save .. "/off.txt") .. " " .. q(save .. "/on.txt") .. " --json", tmp)
    assert.equal(0, jcode, jerr)
    local doc = cjson.decode(js)
    assert.equal(3, #doc.comparisons)
    assert.equal(3, doc.geomean_benchmarks)
    assert.equal("number", type(doc.geomean_delta_pct))
  end)

  it("live load: prints medians per side, the difference with its interval, the verdict", function()
    local out, err, code = ab("--url-a " .. q(a.url("/lookup")) .. " --url-b " .. q(b.url("/lookup"))
      .. " --rounds 2 --duration 1", tmp)
    assert.equal(0, code, err)
    assert.matches("A  " .. a.url("/lookup") .. "\n", out, 1, true)
    assert.matches("B  " .. b.url("/lookup") .. "\n", out, 1, true)
    assert.matches("2 rounds of 1s per side in ABBA order", out, 1, true)
    assert.matches("\n%s*requests/s%s+[%d.]+%s+[%d.]+\n", out)
    assert.matches("\n%s*p50%s", out)
    assert.matches("\n%s*errors%s+0%s+0\n", out)
    -- one estimate, with its interval and how it is computed
    local pct = "[%+%-][%d.]+%%"
    assert.matches("\nB vs A requests/s: " .. pct .. " %(95%% CI " .. pct .. " %.%. " .. pct
      .. "%)\n  how: per round, the ratio B/A of requests/s", out)
    assert.matches("It is not the ratio of the two medians.", out, 1, true)
    -- the verdict names the one reason that applies
    local verdict, reason = out:match("\nverdict: (%S+): ([^\n]+)")
    local reasons = { b_faster = "lies above", a_faster = "lies below",
      no_difference = "lies within", inconclusive = "crosses the" }
    assert.truthy(reasons[verdict], out)
    assert.matches(reasons[verdict], reason, 1, true)
    -- JSON: one round without warm-up
    local js, jerr, jcode = ab("--url-a " .. q(a.url("/healthz")) .. " --url-b "
      .. q(b.url("/healthz")) .. " --rounds 1 --duration 0.5 --warmup 0 --json", tmp)
    assert.equal(0, jcode, jerr)
    local doc = cjson.decode(js)
    assert.equal("live", doc.mode)
    assert.equal("inconclusive", doc.verdict)           -- one round: no interval
    assert.is_true(doc.a.rps > 0 and doc.b.rps > 0)
    assert.equal(1, #doc.rounds)
    assert.same({ a = 0, b = 0 }, doc.errors)
    assert.is_true(doc.gate.ok)
  end)

  it("live --gate fails (exit 3) when B stops answering", function()
    local url_b = b.url("/lookup")
    b:stop()
    local out, err, code = ab("--url-a " .. q(a.url("/lookup")) .. " --url-b " .. q(url_b)
      .. " --rounds 2 --duration 0.5 --warmup 0 --gate", tmp)
    assert.equal(3, code, err)
    assert.matches("\ngate FAILED: B failed %d+ requests, A none\n", out)
    assert.matches("\nverdict: inconclusive: requests failed %(A 0, B %d+%)", out)
  end)
end)
