-- Black-box specs for recipes/refresh.lua: run ./pgolua recipes/refresh.lua on copies of
-- the fixture profiles (testdata/ is read-only; every target lives in a temporary
-- directory) and check exit status, output, the target's bytes and the directory listing
-- (no temporary file may be left behind). The HTTP sources (--url, a fleet, --pyroscope,
-- --parca) talk to spec/support/fakeserver.go on 127.0.0.1, built with Go when present;
-- every server started here is stopped in teardown.
local helpers = require "helpers"
local cjson = require "cjson"
local pgo = require "pgo"
local servers = require "support.servers"

local F = helpers.fixture
local q = helpers.shq
local go = helpers.go()

local RECIPE = q(helpers.root .. "/recipes/refresh.lua")

-- Where the runs of the current workspace put their outputs ($TMPDIR: the PR body).
local outputs

-- Run the recipe with an argument string (env: "NAME=value " prefix, dir: cwd).
local function refresh(args, env, dir)
  local cmd = (dir and ("cd " .. q(dir) .. " && ") or "") .. (env or "")
    .. (outputs and ("TMPDIR=" .. q(outputs) .. " ") or "") .. q(helpers.pgolua)
    .. " " .. RECIPE .. " " .. args
  return helpers.run(cmd)
end

local listing = helpers.listing

local function copy(src, dst) assert(helpers.run("cp " .. q(src) .. " " .. q(dst)) ~= nil) end

local function total(path, i)
  local p = assert(pgo.load(path))
  return p:info().totals[i or 1], p
end

-- A temporary directory holding a target default.pgo (a copy of `previous`, a fixture path)
-- and an "in" directory with copies of the input fixtures.
local function workspace(previous)
  local w = { dir = helpers.tmpdir(), inputs = helpers.tmpdir(), outputs = helpers.tmpdir() }
  outputs = w.outputs
  w.target = w.dir .. "/default.pgo"
  if previous then copy(previous, w.target) end
  w.before = previous and helpers.read_file(w.target)
  function w.input(rel)
    local path = w.inputs .. "/" .. rel:gsub("/", "_")
    if not pgo.fs.exists(path) then copy(F(rel), path) end
    return path
  end
  function w.rm() helpers.rm_rf(w.dir) helpers.rm_rf(w.inputs) helpers.rm_rf(w.outputs) end
  -- the PR body of the last run: pr.md in the newest directory refresh made under $TMPDIR
  function w.pr_body()
    local dirs = listing(w.outputs)
    assert(#dirs > 0, "no PR body under " .. w.outputs)
    table.sort(dirs, function(a, b) return pgo.fs.stat(w.outputs .. "/" .. a).mtime > pgo.fs.stat(w.outputs .. "/" .. b).mtime end)
    return w.outputs .. "/" .. dirs[1] .. "/pr.md"
  end
  return w
end

describe("recipes/refresh.lua", function()
  local w
  after_each(function() if w then w.rm() w = nil end end)

  describe("--file sources", function()
    it("merges three files, replaces the target, records provenance and writes the PR body", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      helpers.run("chmod 640 " .. q(w.target))
      local files = {}
      for _, n in ipairs { "p1", "p2", "p3" } do files[#files + 1] = "--file " .. q(w.input("profiles/shop." .. n .. ".pgo")) end
      local out, err, code = refresh(table.concat(files, " ") .. " --out " .. q(w.target))
      assert.equal(0, code, err)
      assert.matches("\nreplaced " .. w.target:gsub("%p", "%%%0") .. ": 6453 samples, %d+ bytes, top "
        .. "example%.com/shop/internal/cache%.mix; PR body " .. w.pr_body():gsub("%p", "%%%0") .. "\n$", out)
      assert.matches("note: no src given and no go.mod above " .. w.dir .. ": the stale check is skipped", err, 1, true)
      assert.matches("note: --src DIR names the Go module to check against", err, 1, true)
      assert.same({ "default.pgo" }, listing(w.dir))
      assert.equal(tonumber("640", 8), pgo.fs.stat(w.target).mode & tonumber("777", 8))

      local t, p = total(w.target)
      assert.equal(2136 + 2130 + 2187, t)
      local prov, all = pgo.provenance.read(p)
      assert.equal(1, #all)
      assert.equal("file://" .. w.input("profiles/shop.p1.pgo") .. " and 2 more", prov.source)
      assert.equal(3, prov.instances)
      assert.equal("pgo.merge of 3 files", prov.aggregated_via)
      assert.equal(p:top { n = 1 }[1].name, prov.top_function)
      assert.equal(6453, prov.samples)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:]+Z/%d%d%d%d%-%d%d%-%d%dT[%d:]+Z$", prov.window)
      assert.matches("^pgolua/", prov.tool)

      local body = helpers.read_file(w.pr_body())
      assert.matches("^### Update default.pgo\n", body)
      assert.matches("| Top function before | `example.com/shop/internal/cache.mix` (", body, 1, true)
      assert.matches("| Instances | 3 |", body, 1, true)
      assert.matches("| Aggregated via | `pgo.merge of 3 files` |", body, 1, true)
      assert.matches("| `min_samples` | pass | `6453` | `>= 1000` |", body, 1, true)
      assert.matches("| `max_stale` | skipped |", body, 1, true)
    end)

    it("writes every field with --json", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --json")
      assert.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.equal("replaced", doc.status)
      assert.equal(0, doc.exit)
      assert.equal(w.target, doc.out)
      assert.is_false(doc.src)
      assert.is_false(doc.dry_run)
      assert.same({ w.input("profiles/shop.p1.pgo") }, doc.sources)
      assert.equal(2136, doc.capture.samples)
      assert.equal(2060, doc.capture.sample_records)
      assert.equal(230, doc.capture.edges)
      assert.equal(1, doc.capture.instances)
      assert.truthy(doc.capture.bytes > 10240)
      assert.equal("example.com/shop/internal/cache.mix", doc.capture.top_function)
      local names = {}
      for _, c in ipairs(doc.checks) do
        names[#names + 1] = c.name
        assert.is_true(c.ok, c.name)
      end
      assert.same({ "cpu_profile", "start_lines", "call_edges", "min_samples", "min_bytes",
        "min_duration", "min_utilization", "max_dominant", "max_benchmark", "max_startup", "max_idle",
        "min_top10", "max_cgo", "max_syscall", "max_gc", "max_stale" }, names)
      assert.equal(1000, doc.checks[4].threshold)
      assert.equal(10240, doc.checks[5].threshold)
      assert.is_true(doc.checks[16].skipped)
      assert.equal(2136, doc.written.samples)
      assert.equal(#helpers.read_file(w.target), doc.written.bytes)
      assert.equal(w.pr_body(), doc.pr_body)   -- with the run's outputs, not beside the target
      assert.equal(helpers.read_file(w.pr_body()), doc.pr_body_markdown)
      assert.equal(1, doc.provenance.instances)
      assert.equal("none (one file)", doc.provenance.aggregated_via)
      assert.matches("^pgolua%-provenance: v=1; source=file://", doc.provenance_line)
      assert.same({ exists = true, samples = 3561, top_function = "example.com/shop/internal/cache.mix" },
        doc.previous)
      -- steady and p1 run the same paths in another mix: the same decisions within noise
      assert.is_false(doc.drift.changes_compiler_decisions)
      assert.same({ "no src given and no go.mod above " .. w.dir .. ": the stale check is skipped (src names "
        .. "the Go module)" }, doc.notes)
      assert.same({ "no_module" }, doc.hints)
      assert.equal("no_module", doc.checks[16].code)
    end)

    it("escapes the top function in the PR body: a name cannot inject markup", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local evil = "main.evil`|<img src=x onerror=alert(1)>| @team [x](http://example.com) *y*"
      local p = assert(pgo.load(F("profiles/shop.p1.pgo")))
      local renamed = p:rename { ["example.com/shop/internal/cache.mix"] = evil }
      local input = w.inputs .. "/evil.pgo"
      assert(renamed:write(input))
      local _, err, code = refresh("--file " .. q(input) .. " --out " .. q(w.target))
      assert.equal(0, code, err)
      local body = helpers.read_file(w.pr_body())
      local span = pgo.provenance.markdown_code(evil, true)
      assert.matches("| Top function after | " .. span .. " (", body, 1, true)
      -- the name appears only as that code span and inside the fenced provenance record
      -- (both inert), nowhere as markup
      local fence = body:match("\n(````*)text\n")
      assert.truthy(fence, body)
      local outside = body:gsub("\n" .. fence .. "text\n.-\n" .. fence .. "\n", "\n")
      local plain = outside:gsub(span:gsub("%p", "%%%0"), "")
      assert.is_nil(plain:find("<img", 1, true), plain)
      assert.is_nil(plain:find("@team", 1, true), plain)
      assert.is_nil(body:find("\n| Top function after | main.evil", 1, true))
      local _, newp = total(w.target)
      assert.equal(evil, pgo.provenance.read(newp).top_function)
    end)

    it("writes the first default.pgo when there is none, with --pr-body elsewhere", function()
      w = workspace(nil)
      local pr = w.inputs .. "/body.md"
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --pr-body " .. q(pr))
      assert.equal(0, code, err)
      assert.same({ "default.pgo" }, listing(w.dir))
      assert.equal(2136, (total(w.target)))
      assert.matches("| Top function before | (none: first profile) |", helpers.read_file(pr), 1, true)
    end)

    it("prints the PR body with --pr-body - and writes none with --pr-body off", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --pr-body -")
      assert.equal(0, code, err)
      assert.matches("\n### Update default.pgo\n", out, 1, true)
      assert.same({ "default.pgo" }, listing(w.dir))
      local _, err2, code2 = refresh("--file " .. q(w.input("profiles/shop.p2.pgo")) .. " --out "
        .. q(w.target) .. " --pr-body off")
      assert.equal(0, code2, err2)
      assert.same({ "default.pgo" }, listing(w.dir))
      assert.equal(2130, (total(w.target)))
    end)
  end)

  describe("rejections (exit 2, target byte-identical, nothing left behind)", function()
    local cases = {
      { what = "too few samples (bad/tiny5.pgo)", input = "bad/tiny5.pgo", check = "min_samples",
        says = "min_samples: 5, threshold >= 1000: only 5 samples" },
      { what = "not a CPU profile (bad/heap.pb.gz)", input = "bad/heap.pb.gz", check = "cpu_profile",
        says = "cpu_profile: heap, needs cpu: a heap profile, not a CPU profile" },
      { what = "no start lines (go1.19/shop.steady.pgo)", input = "profiles/go1.19/shop.steady.pgo",
        check = "start_lines", says = "start_lines: missing_start_line, needs start lines: go build "
          .. "-pgo rejects it: profile missing Function.start_line data" },
      { what = "stale against shop-v2 (19% cum)", input = "profiles/shop.steady.pgo", check = "max_stale",
        args = " --src " .. q(F("gosrc/shop-v2")) .. " --max-stale 0.1",
        says = "max_stale: 19.01%, threshold <= 10.00%: 19.01% of the samples (cum) run through "
          .. "functions gone from " .. F("gosrc/shop-v2") },
      { what = "smaller than --min-bytes", input = "profiles/shop.p1.pgo", check = "min_bytes",
        args = " --min-bytes 100000", pattern = "min_bytes: %d+, threshold >= 100000: only %d+ bytes encoded" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. case.what .. " by " .. case.check, function()
        w = workspace(F("profiles/shop.p2.pgo"))
        local out, err, code = refresh("--file " .. q(w.input(case.input)) .. " --out " .. q(w.target)
          .. (case.args or ""))
        assert.equal(2, code, err)
        assert.matches("refresh: new profile rejected by ", err, 1, true)
        if case.says then assert.matches(case.says, err, 1, true) end
        if case.pattern then assert.matches(case.pattern, err) end
        assert.matches(w.target .. " not replaced\n", err, 1, true)
        assert.matches("\nREJECTED by [^\n]*" .. case.check, out)
        assert.equal(w.before, helpers.read_file(w.target))
        assert.same({ "default.pgo" }, listing(w.dir))
      end)
    end

    it("names every failed check at once, and says so in JSON", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, _, code = refresh("--file " .. q(w.input("bad/tiny5.pgo")) .. " --out " .. q(w.target)
        .. " --json")
      assert.equal(2, code)
      local doc = cjson.decode(out)
      assert.equal("rejected", doc.status)
      assert.equal(2, doc.exit)
      assert.same({ "min_samples", "min_bytes", "min_duration", "max_dominant" }, doc.rejected_by)
      assert.matches("^new profile rejected by min_samples: 5, threshold >= 1000", doc.error)
      assert.is_nil(doc.written)
      assert.equal(w.before, helpers.read_file(w.target))
    end)

    it("rejects a stale profile when --src is found upward from --out (go.mod)", function()
      w = workspace(nil)
      helpers.run("cp -R " .. q(F("gosrc/shop-v2")) .. "/. " .. q(w.dir) .. " && chmod -R u+w " .. q(w.dir))
      local target = w.dir .. "/cmd/shop/default.pgo"
      copy(F("profiles/shop.p1.pgo"), target)
      local before = helpers.read_file(target)
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out " .. q(target))
      assert.equal(2, code, err)
      assert.matches("max_stale: 19.01%, threshold <= 10.00%", err, 1, true)
      assert.equal(before, helpers.read_file(target))
      assert.same({ "default.pgo", "handlers.go", "main.go" }, listing(w.dir .. "/cmd/shop"))
    end)
  end)

  describe("errors (exit 1, target byte-identical, nothing left behind)", function()
    it("exits 1 for a truncated file", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("bad/truncated.pgo")) .. " --out " .. q(w.target))
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("refresh: [^\n]*truncated%.pgo: the gzip stream ends early", err)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("exits 1 for a missing file, with JSON saying error", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local missing = w.inputs .. "/nope.pgo"
      local out, err, code = refresh("--file " .. q(missing) .. " --out " .. q(w.target) .. " --json")
      assert.equal(1, code)
      assert.matches("refresh: cannot open " .. missing .. ": No such file or directory", err, 1, true)
      local doc = cjson.decode(out)
      assert.equal("error", doc.status)
      assert.equal(1, doc.exit)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("exits 1 for an unreachable URL (connection refused on a closed loopback port)", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      -- a port a fake server listened on and gave back; without Go, port 1 (privileged,
      -- nothing listens there on a test machine)
      local url = go and servers.dead_url(servers.build_fake(go), "/") or "http://127.0.0.1:1/"
      local out, err, code = refresh("--url " .. q(url) .. " --seconds 1 --retries 0 --out " .. q(w.target))
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("refresh: http://127%.0%.0%.1:%d+/debug/pprof/profile%?seconds=1: connection refused", err)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("exits 1 on usage errors, before capturing anything", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local p1 = "--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target)
      for args, says in pairs {
        [""] = "no source: give --url, --pyroscope, --parca or --file",
        [p1 .. " --merge-existing 0"] = "--merge-existing must be a weight W with 0 < W <= 1",
        [p1 .. " --max-stale 2"] = "--max-stale must be a fraction between 0 and 1",
        [p1 .. " --min-samples lots"] = "--min-samples must be a sample count, or off; got lots",
        [p1 .. " --health-skip nope"] = "--health-skip nope: no such health check (min_duration, min_utilization,",
        [p1 .. " --health-skip min_samples"] = "use --min-samples off",
        [p1 .. " --health-skip max_stale"] = "--health-skip max_stale: no such health check",
        [p1 .. " --compact 1"] = "--compact FRAMES must be an integer of at least 2",
        [p1 .. " --src " .. q(w.inputs)] = "go.mod",
        [p1 .. " --auth-env PGOLUA_SPEC_UNSET_VAR"] = "--auth-env PGOLUA_SPEC_UNSET_VAR: the environment variable is not set or empty",
        ["--file x --out " .. q(w.inputs .. "/no/such/dir/default.pgo")] = "does not exist",
      } do
        local out, err, code = refresh(args)
        assert.equal(1, code, args)
        assert.equal("", out, args)
        assert.matches(says, err, 1, true)
      end
      -- with --json, a machine still gets a JSON answer
      local out, err, code = refresh(p1 .. " --merge-existing 2 --json")
      assert.equal(1, code)
      assert.matches("--merge-existing must be", err, 1, true)
      local doc = cjson.decode(out)
      assert.equal("error", doc.status)
      assert.equal(1, doc.exit)
      assert.matches("^%-%-merge%-existing must be", doc.error)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)
  end)

  describe("thresholds", function()
    it("turns checks off with off, 0 and --no-*, so tiny5 passes", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local input = q(w.input("bad/tiny5.pgo"))
      local _, err, code = refresh("--file " .. input .. " --out " .. q(w.target)
        .. " --min-samples off --no-min-bytes --health off")
      assert.equal(0, code, err)
      assert.equal(5, (total(w.target)))
      local out2, err2, code2 = refresh("--file " .. input .. " --out " .. q(w.target)
        .. " --no-min-samples --min-bytes 0 --no-health --json")
      assert.equal(0, code2, err2)
      local doc = cjson.decode(out2)
      assert.is_true(doc.checks[4].skipped)
      assert.is_false(doc.checks[4].threshold)
      assert.is_true(doc.checks[5].skipped)
    end)

    it("skips single health checks with --health-skip", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local args = "--file " .. q(w.input("bad/tiny5.pgo")) .. " --out " .. q(w.target)
        .. " --min-samples 1 --min-bytes 100"
      local _, err, code = refresh(args)
      assert.equal(2, code)
      assert.matches("rejected by min_duration: 0.2 s, threshold >= 10.0 s", err, 1, true)
      local _, err2, code2 = refresh(args .. " --health-skip min_duration --health-skip max_dominant")
      assert.equal(0, code2, err2)
    end)
  end)

  describe("modes", function()
    it("--dry-run does everything but the replace and writes nothing", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --dry-run")
      assert.equal(0, code, err)
      assert.matches("\ndry run: would replace " .. w.target .. ": 2136 samples, ", out, 1, true)
      assert.matches("(nothing written)\n", out, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
      local jout = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target)
        .. " --dry-run --json")
      local doc = cjson.decode(jout)
      assert.equal("dry_run", doc.status)
      assert.is_true(doc.dry_run)
      assert.is_nil(doc.pr_body)
      assert.matches("^### Update default.pgo", doc.pr_body_markdown)
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("--skip-unchanged keeps the target when the compiler's decisions would not change", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out "
        .. q(w.target) .. " --skip-unchanged")
      assert.equal(0, code, err)
      assert.matches("\nunchanged: " .. w.target .. " kept", out, 1, true)
      assert.matches("same compiler decisions", out, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
      local jout = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out " .. q(w.target)
        .. " --skip-unchanged --json")
      local doc = cjson.decode(jout)
      assert.equal("unchanged", doc.status)
      assert.equal(0, doc.exit)
      assert.is_false(doc.drift.changes_compiler_decisions)
      assert.same({}, doc.drift.reasons)
      -- a profile that changes the decisions (p3: /spike-heavy) is written
      local _, err3, code3 = refresh("--file " .. q(w.input("profiles/shop.p3.pgo")) .. " --out "
        .. q(w.target) .. " --skip-unchanged")
      assert.equal(0, code3, err3)
      assert.equal(2187, (total(w.target)))
    end)

    it("--merge-existing 0.5 scales new and current to half the new total each, then merges", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --merge-existing 0.5 --json")
      assert.equal(0, code, err)
      local doc = cjson.decode(out)
      local b = doc.blend
      assert.equal(0.5, b.weight)
      assert.equal(2136, b.new_total)
      assert.equal(2130, b.existing_total)
      assert.equal(1068, b.target_new)
      assert.equal(1068, b.target_existing)
      -- p:scale rounds each value: the parts are what the library gives for these factors
      local p1, p2 = pgo.load(F("profiles/shop.p1.pgo")), pgo.load(F("profiles/shop.p2.pgo"))
      local new_part = p1:scale(0.5):info().totals[1]
      local old_part = p2:scale(0.5 * 2136 / 2130):info().totals[1]
      assert.equal(new_part, b.new_part)
      assert.equal(old_part, b.existing_part)
      assert.equal(new_part + old_part, b.total)
      assert.near(new_part / (new_part + old_part), b.new_share, 1e-12)
      local t1, p = total(w.target)
      assert.equal(new_part + old_part, t1)
      -- cpu/nanoseconds scales without visible rounding: the blend holds the new CPU time
      assert.near(21.36e9, p:info().totals[2], 1e4)
      local prov = pgo.provenance.read(p)
      assert.equal("0.5 new + 0.5 previous", prov.blend)
      assert.equal(t1, prov.samples)
    end)

    it("--merge-existing without a current profile writes the new one alone, with a note", function()
      w = workspace(nil)
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --merge-existing 0.7")
      assert.equal(0, code, err)
      assert.matches("does not exist yet: no blend (merge_existing), the new profile is written alone", err, 1, true)
      assert.equal(2136, (total(w.target)))
    end)

    it("--merge-existing fails (exit 1) when the current profile does not load", function()
      w = workspace(F("bad/truncated.pgo"))
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --merge-existing 0.5")
      assert.equal(1, code)
      assert.matches("(merge_existing blends with the current profile)", err, 1, true)
      assert.matches("note: without --merge-existing the current profile is replaced", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("--compact keeps what the compiler reads: identical preprofile, provenance kept", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local input = w.input("profiles/shop.steady.pgo")
      local _, err, code = refresh("--file " .. q(input) .. " --out " .. q(w.target) .. " --compact 2")
      assert.equal(0, code, err)
      local _, p = total(w.target)
      assert.equal(assert(pgo.load(input)):preprofile(), p:preprofile())
      assert.truthy(#helpers.read_file(w.target) < #w.before / 3)
      assert.equal("2", pgo.provenance.read(p).compact_frames)
      -- and blends with a compacted current profile (one sample type) by compacting both
      local _, err2, code2 = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out "
        .. q(w.target) .. " --merge-existing 0.5 --json")
      assert.equal(0, code2, err2)
      local _, p2 = total(w.target)
      assert.equal(1, #p2:info().sample_types)
    end)

    it("defaults --out to default.pgo beside the only package main, and --src to its module", function()
      w = workspace(nil)
      helpers.run("cp -R " .. q(F("gosrc/shop-v1")) .. "/. " .. q(w.dir) .. " && chmod -R u+w " .. q(w.dir))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")), nil, w.dir)
      assert.equal(0, code, err)
      assert.matches("\n  \u{2713} max_stale: 0.00% of the samples (cum) run through functions gone from "
        .. w.dir, out, 1, true)
      assert.equal(3561, (total(w.dir .. "/cmd/shop/default.pgo")))
      assert.truthy(pgo.fs.exists(w.pr_body()))
      assert.is_false(pgo.fs.exists(w.dir .. "/cmd/shop/default.pgo.pr.md"))
      -- --src given, --out not: beside the package main of --src
      local _, err2, code2 = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --src " .. q(w.dir))
      assert.equal(0, code2, err2)
      assert.equal(2136, (total(w.dir .. "/cmd/shop/default.pgo")))
    end)
  end)

  describe("HTTP sources (spec/support/fakeserver.go)", function()
    if not go then
      pending("Go >= 1.21 not found: the fake server cannot be built (make deps)")
      return
    end
    local srv
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = F("profiles/shop.p1.pgo"),
          record = true, ports = 2 })
      end)
    end)
    teardown(function() servers.cleanup() end)

    it("sends user:password from --auth-file as Basic with --auth-type basic (Grafana Cloud)", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local cred = w.dir .. "/../cred"
      helpers.write_file(cred, "team-7:pa55word\n")
      os.execute("chmod 600 " .. q(cred))
      local out, err, code = refresh("--url " .. q(srv.base) .. " --seconds 1 --auth-file " .. q(cred)
        .. " --auth-type basic --out " .. q(w.target) .. " --json")
      os.remove(cred)
      assert.equal(0, code, err)
      local reqs = srv.requests()
      assert.same({ "Basic " .. require("pgo.core.net").base64_encode("team-7:pa55word") },
        reqs[#reqs].headers.Authorization)
      assert.is_nil((out .. err):find("pa55word", 1, true))
      local _, err2, code2 = refresh("--url " .. q(srv.base) .. " --auth-file x --auth-env Y --out "
        .. q(w.target))
      assert.equal(1, code2)
      assert.matches("give --auth-env or --auth-file, not both", err2, 1, true)
    end)

    it("captures one instance with --url, the token from --auth-env", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, err, code = refresh("--url " .. q(srv.base) .. " --seconds 2 --auth-env PGOLUA_SPEC_TOKEN"
        .. " --out " .. q(w.target) .. " --json", "PGOLUA_SPEC_TOKEN=s3cret ")
      assert.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.equal("replaced", doc.status)
      local prov = pgo.provenance.read((select(2, total(w.target))))
      assert.equal(srv.base .. "/debug/pprof/profile?seconds=2", prov.source)
      assert.equal(1, prov.instances)
      assert.equal(2, prov.seconds)
      assert.equal("none (one instance)", prov.aggregated_via)
      local reqs = srv.requests()
      local last = reqs[#reqs]
      assert.equal("/debug/pprof/profile", last.path)
      assert.equal("seconds=2", last.query)
      assert.same({ "Bearer s3cret" }, last.headers.Authorization)
      assert.is_nil(out:find("s3cret", 1, true))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("captures a fleet with repeated --url and merges it", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--url " .. q(srv.url("", 1)) .. " --url " .. q(srv.url("", 2))
        .. " --seconds 1 --out " .. q(w.target))
      assert.equal(0, code, err)
      local t, p = total(w.target)
      assert.equal(2 * 2136, t)
      local prov = pgo.provenance.read(p)
      assert.equal(2, prov.instances)
      assert.equal("pgo.fetch.fleet (pprof merge)", prov.aggregated_via)
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("fails the fleet (exit 1) when too few instances answer", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--url " .. q(srv.url("", 1)) .. " --url " .. q(srv.url("/fail/500", 2))
        .. " --seconds 1 --retries 0 --out " .. q(w.target))
      assert.equal(1, code)
      assert.matches("fleet capture failed: 1 of 2 captures succeeded, 2 needed", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("rejects an HTML page served as a profile (exit 1: not a profile)", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--url " .. q(srv.url("/fail/html200")) .. " --out " .. q(w.target)
        .. " --retries 0")
      assert.equal(1, code)
      assert.matches("not a pprof profile: it looks like HTML", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("pulls from Pyroscope with --selector and --tenant", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--pyroscope " .. q(srv.base) .. " --selector '{service_name=\"shop\"}'"
        .. " --tenant team-a --from now-1h --out " .. q(w.target))
      assert.equal(0, code, err)
      local prov = pgo.provenance.read((select(2, total(w.target))))
      assert.equal("Pyroscope SelectMergeStacktraces", prov.aggregated_via)   -- the modern RPC
      assert.equal('{service_name="shop"}', prov.selector)
      assert.is_nil(prov.instances)
      local reqs = srv.requests()
      local last = reqs[#reqs]
      assert.equal("/querier.v1.QuerierService/SelectMergeStacktraces", last.path)
      assert.same({ "team-a" }, last.headers["X-Scope-Orgid"])
      assert.truthy(last.body:find('{service_name="shop"}', 1, true))
    end)

    it("exits 1 when Pyroscope has no data for the selector", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--pyroscope " .. q(srv.base) .. " --selector '{service_name=\"none\"}'"
        .. " --tenant t --out " .. q(w.target))
      assert.equal(1, code)
      assert.matches("Pyroscope has no process_cpu:cpu:nanoseconds:cpu:nanoseconds data", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("pulls from Parca with --query", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local query = 'process_cpu:samples:count:cpu:nanoseconds:delta{job="shop"}'
      local _, err, code = refresh("--parca " .. q(srv.base) .. " --query " .. q(query) .. " --out " .. q(w.target))
      assert.equal(0, code, err)
      local prov = pgo.provenance.read((select(2, total(w.target))))
      assert.equal("Parca merge query", prov.aggregated_via)
      assert.equal(query, prov.query)
      local reqs = srv.requests()
      assert.equal("/api/profiles/query", reqs[#reqs].path)
      assert.matches("merge.query=process_cpu%3Asamples", reqs[#reqs].query, 1, true)
    end)

    it("merges different sources into one profile", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--url " .. q(srv.base) .. " --seconds 1 --file "
        .. q(w.input("profiles/shop.p3.pgo")) .. " --out " .. q(w.target))
      assert.equal(0, code, err)
      local t, p = total(w.target)
      assert.equal(2136 + 2187, t)
      local prov = pgo.provenance.read(p)
      assert.equal(2, prov.instances)
      assert.matches("^pgo%.merge of 2 sources %(", prov.aggregated_via)
    end)
  end)
  describe("broken profiles and the new flags", function()
    it("fails a profile without sample types in one line, exit 1, target untouched", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local bad = w.inputs .. "/m.pgo"
      helpers.write_file(bad, "\x32\x00")
      local out, err, code = refresh("--file " .. q(bad) .. " --out " .. q(w.target))
      assert.equal(1, code)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.matches("refresh: " .. bad:gsub("%p", "%%%0") .. ": the profile has no sample types", err)
      assert.is_nil(err:find("BUG", 1, true))
      assert.is_nil(err:find("traceback", 1, true))
      assert.equal("", out)
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("replaces a target without sample types with a good profile", function()
      w = workspace(nil)
      helpers.write_file(w.target, "\x32\x00")
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out "
        .. q(w.target) .. " --json")
      assert.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.equal("replaced", doc.status)
      assert.matches("no sample types", doc.previous.error)
      assert.equal(3561, (total(w.target)))
    end)

    it("records --source-name instead of the source in the provenance, PR body and output", function()
      w = workspace(F("profiles/shop.steady.pgo"))
      local input = w.input("profiles/shop.p1.pgo")
      local out, err, code = refresh("--file " .. q(input) .. " --source-name prod-api --out "
        .. q(w.target) .. " --json")
      assert.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.same({ "prod-api" }, doc.sources)
      assert.equal("prod-api", doc.provenance.source)
      assert.is_nil(helpers.read_file(w.pr_body()):find(input, 1, true))
      assert.is_nil(out:find(input, 1, true))
    end)

    it("checks --concurrency", function()
      w = workspace(nil)
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --concurrency 0 --out "
        .. q(w.target))
      assert.equal(1, code)
      assert.matches("--concurrency must be a positive integer", err, 1, true)
    end)
  end)
end)
