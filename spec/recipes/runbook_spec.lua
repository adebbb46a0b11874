-- Black-box specs for recipes/runbook.lua: a temporary repository made from a copy of
-- gosrc/shop-v1 with profiles/shop.steady.pgo placed at cmd/shop/default.pgo (committed
-- with git when git is installed), then the markdown and JSON the recipe writes for it.
-- Also the pgo.recipe helpers the runbook's escaping relies on.
local helpers = require "helpers"
local cjson = require "cjson"

local F = helpers.fixture
local q = helpers.shq

local function runbook(args) return helpers.pgolua_run("recipes/runbook.lua " .. args) end

local function has_git()
  local _, _, code = helpers.run("git --version")
  return code == 0
end

-- The shop's v1 source with a default.pgo; profile_script (Lua run by ./pgolua with the
-- target path as arg[1]) writes the profile instead of a plain copy; git = commit it.
local function shop_repo(opts)
  opts = opts or {}
  local dir = helpers.tmpdir()
  helpers.run("cp -R " .. q(F("gosrc/shop-v1")) .. "/. " .. q(dir))
  local target = dir .. "/cmd/shop/default.pgo"
  if opts.profile_script then
    local script = dir .. "/.mkprofile.lua"
    helpers.write_file(script, opts.profile_script)
    local _, err, code = helpers.pgolua_run(q(script) .. " " .. q(target))
    assert(code == 0, err)
    os.remove(script)
  else
    helpers.run("cp " .. q(F("profiles/shop.steady.pgo")) .. " " .. q(target))
  end
  if opts.git then
    local git = "git -C " .. q(dir) .. " -c user.name=spec -c user.email=spec@example.com "
    helpers.run("git -C " .. q(dir) .. " init -q")
    helpers.run(git .. "add -A")
    local _, err, code = helpers.run(git .. "commit -q --no-verify -m 'add default.pgo'")
    assert(code == 0, err)
  end
  return dir
end

local function last_commit(dir)
  local out = helpers.run("git -C " .. q(dir) .. " log -1 --format=%h -- cmd/shop/default.pgo")
  return (out:gsub("%s+$", ""))
end

describe("recipes/runbook.lua", function()
  it("writes the PGO section: location, headings, rollback command with the last commit", function()
    if not has_git() then pending("git is not installed") return end
    local dir = shop_repo { git = true }
    local commit = last_commit(dir)
    local out, err, code = runbook("--root " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.truthy(commit:match("^%x+$"))
    for _, heading in ipairs { "## Profile-guided optimization (PGO)\n", "\n### Profile locations\n",
      "\n### Refresh\n", "\n### Measured effect (A/B)\n", "\n### Profile health\n", "\n### Top functions\n",
      "\n### Rollback\n", "\n### Emergency disable\n", "\n### When it breaks\n" } do
      assert.matches(heading, out, 1, true)
    end
    assert.matches("Module `example.com/shop`.", out, 1, true)
    assert.matches("| example.com/shop/cmd/shop | `cmd/shop/default.pgo` | cpu profile, 3561 samples over 20.2 s, "
      .. "last changed in `" .. commit .. "` |\n", out, 1, true)
    assert.matches("- Cadence: weekly\n", out, 1, true)
    assert.matches("  - Capture source: unknown (no provenance recorded)\n", out, 1, true)
    assert.matches("Not measured.", out, 1, true)
    -- pgo.checks' sentence: the count doctor's step 4 prints for the same profile
    assert.matches("- `cmd/shop/default.pgo`: healthy, 13 checks passed\n", out, 1, true)
    assert.matches("| 1 | 38.08% | 38.30% | example.com/shop/internal/cache.mix |\n", out, 1, true)
    assert.matches("| 2 | 4.32% | 4.38% | main.(\\*server).handleSpike.func1 |\n", out, 1, true)
    assert.matches("```sh\n# last commit that changed cmd/shop/default.pgo: " .. commit .. "\n"
      .. "git log -1 --format=%h -- cmd/shop/default.pgo\n"
      .. "git revert " .. commit .. "\n```\n", out, 1, true)
    assert.matches("`git checkout " .. commit .. "~1 -- cmd/shop/default.pgo`", out, 1, true)
    assert.matches("go build -pgo=off ./cmd/shop\n", out, 1, true)
    assert.matches("export GOFLAGS=-pgo=off\n", out, 1, true)
    assert.matches("`pgolua recipes/doctor.lua --binary BINARY --root .`", out, 1, true)
    assert.matches("`pgolua recipes/stale.lua cmd/shop/default.pgo --src .`", out, 1, true)
    assert.matches("`go version -m BINARY | grep -- -pgo=`", out, 1, true)
  end)

  it("writes the same facts as JSON", function()
    if not has_git() then pending("git is not installed") return end
    local dir = shop_repo { git = true }
    local commit = last_commit(dir)
    local out, err, code = runbook("--root " .. q(dir) .. " --json --cadence 'every release' --top 3")
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.equal("example.com/shop", doc.module)
    assert.equal("every release", doc.cadence)
    assert.is_true(doc.git)
    assert.equal(1, #doc.profiles)
    local pr = doc.profiles[1]
    assert.equal("example.com/shop/cmd/shop", pr.main_package)
    assert.equal("cmd/shop/default.pgo", pr.path)
    assert.is_true(pr.present)
    assert.equal("cpu", pr.kind)
    assert.equal(3561, pr.samples)
    assert.equal(commit, pr.last_commit)
    assert.equal("git revert " .. commit, pr.rollback.revert)
    assert.equal("git log -1 --format=%h -- cmd/shop/default.pgo", pr.rollback.find)
    assert.is_false(pr.capture.recorded)
    assert.is_true(pr.health.ok)   -- the library's defaults, the same as refresh's
    assert.equal("13 checks passed", pr.health.summary)   -- pgo.checks' JSON form
    assert.same({ pass = 13, warn = 0, fail = 0, skipped = 0 }, pr.health.counts)
    assert.equal("min_samples", pr.health.checks[3].name)
    assert.equal(3561, pr.health.checks[3].figure)
    assert.equal(3, #pr.top)
    assert.equal("example.com/shop/internal/cache.mix", pr.top[1].name)
    assert.is_false(doc.expected_gain.measured)
    assert.matches('"entries":[]', out, 1, true)
    assert.equal("GOFLAGS=-pgo=off", doc.disable.env)
  end)

  it("takes capture source, window and instances from the provenance in the profile", function()
    local dir = shop_repo { profile_script = [[
      local pgo = require "pgo"
      local p = assert(pgo.load(]] .. ("%q"):format(F("profiles/shop.steady.pgo")) .. [[))
      pgo.provenance.record(p, { source = "http://10.0.0.7:6060/debug/pprof/profile",
        window = { 1700000000, 1700000030 }, seconds = 30, instances = 3,
        aggregated_via = "pgo.fetch.fleet" })
      assert(p:write(arg[1]))
    ]] }
    local out, err, code = runbook("--root " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.matches("  - Capture source: `http://10.0.0.7:6060/debug/pprof/profile`\n", out, 1, true)
    assert.matches("  - Window: `2023-11-14T22:13:20Z/2023-11-14T22:13:50Z` (30 s per instance)\n", out, 1, true)
    assert.matches("  - Instances: 3\n", out, 1, true)
    assert.matches("  - Aggregated via: `pgo.fetch.fleet`\n", out, 1, true)
  end)

  it("escapes profile strings: a hostile function name renders as text", function()
    local evil = "# <img src=x onerror=alert(1)>|`x`[a](b) *y*"
    local dir = shop_repo { profile_script = [[
      local pgo = require "pgo"
      local p = assert(pgo.load(]] .. ("%q"):format(F("profiles/shop.steady.pgo")) .. [[))
      p = p:rename { ["example.com/shop/internal/cache.mix"] = ]] .. ("%q"):format(evil) .. [[ }
      assert(p:write(arg[1]))
    ]] }
    local out, err, code = runbook("--root " .. q(dir) .. " --top 1")
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.matches("| 1 | 38.08% | 38.30% | \\# &lt;img src=x onerror=alert(1)&gt;\\|\\`x\\`\\[a\\](b) \\*y\\* |\n",
      out, 1, true)
    assert.is_nil(out:find("<img", 1, true))
  end)

  it("says where to find the commit when the root is not a git repository", function()
    local dir = shop_repo()
    local out, _, code = runbook("--root " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(0, code)
    assert.matches("# not a git repository here: find the commit in your repository\n"
      .. "git log -1 --format=%h -- cmd/shop/default.pgo\n"
      .. "git revert <commit that changed cmd/shop/default.pgo>\n", out, 1, true)
  end)

  it("quotes a path with shell metacharacters in the commands it shows and runs", function()
    if not has_git() then pending("git is not installed") return end
    -- a module whose package main sits in a directory named  it's $(x)
    local dir = helpers.tmpdir()
    local odd = "it's $(touch pwned)"
    helpers.run("mkdir -p " .. q(dir .. "/" .. odd))
    helpers.write_file(dir .. "/go.mod", "module example.com/odd\n\ngo 1.21\n")
    helpers.write_file(dir .. "/" .. odd .. "/main.go", "package main\n\nfunc main() {}\n")
    helpers.run("cp " .. q(F("profiles/shop.steady.pgo")) .. " " .. q(dir .. "/" .. odd .. "/default.pgo"))
    local git = "git -C " .. q(dir) .. " -c user.name=spec -c user.email=spec@example.com "
    helpers.run("git -C " .. q(dir) .. " init -q && " .. git .. "add -A && " .. git .. "commit -q --no-verify -m x")
    local commit = (helpers.run("git -C " .. q(dir) .. " log -1 --format=%h"):gsub("%s+$", ""))
    local out, err, code = runbook("--root " .. q(dir) .. " --json")
    local pwned = io.open(dir .. "/pwned") ~= nil or io.open(helpers.root .. "/pwned") ~= nil
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.is_false(pwned)
    local pr = cjson.decode(out).profiles[1]
    assert.equal(commit, pr.last_commit)
    assert.equal([[git log -1 --format=%h -- 'it'\''s $(touch pwned)/default.pgo']], pr.rollback.find)
  end)

  it("reports the expected gain from benchstat text and from JSON", function()
    local dir = shop_repo()
    local out, err, code = runbook("--root " .. q(dir) .. " --ab " .. q(F("ab/benchstat.txt")))
    assert.equal(0, code, err)
    assert.matches("- geomean sec/op: -0.62% (example.com/shop/cmd/shop)\n", out, 1, true)
    assert.matches("- Get95-2 sec/op: ~ (no significant change) (example.com/shop/internal/cache)\n", out, 1, true)
    local ab = dir .. "/ab.json"
    helpers.write_file(ab, '{"geomean_delta_pct": -3.5}')
    out, err, code = runbook("--root " .. q(dir) .. " --ab " .. q(ab) .. " --json")
    assert.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.is_true(doc.expected_gain.measured)
    assert.equal(-3.5, doc.expected_gain.entries[1].delta_pct)
    -- recipes/ab.lua --json: verdicts with p and n, the sides as measured (pgo.ab renders it)
    local abjson = helpers.pgolua_run("recipes/ab.lua " .. q(F("ab/bench/off.txt")) .. " " ..
      q(F("ab/bench/on.txt")) .. " --json")
    helpers.write_file(ab, abjson)
    out, err, code = runbook("--root " .. q(dir) .. " --ab " .. q(ab))
    assert.equal(0, code, err)
    assert.matches("### Measured effect (A/B)\n", out, 1, true)
    assert.matches("- Significantly slower with the profile: none\n", out, 1, true)
    assert.matches("| LookupBatch-2 | sec/op | -0.04% | 0.684 | n=10 |", out, 1, true)
    assert.matches("a summary, not a test of significance", out, 1, true)
    helpers.write_file(ab, "{ not json")
    local _, err2, code2 = runbook("--root " .. q(dir) .. " --ab " .. q(ab))
    helpers.rm_rf(dir)
    assert.equal(1, code2)
    assert.matches("^runbook: .*ab%.json: not valid JSON", err2)
  end)

  it("writes --out atomically and nothing on stdout", function()
    local dir = shop_repo()
    local target = dir .. "/RUNBOOK-PGO.md"
    local out, err, code = runbook("--root " .. q(dir) .. " --out " .. q(target))
    local text = helpers.read_file(target)
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    assert.equal("", out)
    assert.matches("^## Profile%-guided optimization %(PGO%)\n", text)
  end)

  it("shows a missing default.pgo and exits 1 outside a Go module", function()
    local dir = helpers.tmpdir()
    helpers.run("cp -R " .. q(F("gosrc/shop-v1")) .. "/. " .. q(dir))
    local out, _, code = runbook("--root " .. q(dir))
    assert.equal(0, code)
    assert.matches("| example.com/shop/cmd/shop | `cmd/shop/default.pgo` | missing: builds without PGO |", out, 1, true)
    assert.matches("No default.pgo to roll back.", out, 1, true)
    os.remove(dir .. "/go.mod")
    local _, err, code2 = runbook("--root " .. q(dir))
    helpers.rm_rf(dir)
    assert.equal(1, code2)
    assert.matches("^runbook: .*go%.mod", err)
    local help, _, code3 = runbook("--help")
    assert.equal(0, code3)
    assert.matches("Usage: pgolua runbook", help, 1, true)
  end)
end)

describe("doctor and runbook on the same tree", function()
  -- one list (pgo.diagnose.health, pgo.checks): the same checks, figures and count
  for _, fixture in ipairs { "profiles/shop.steady.pgo", "profiles/shop.startup.pgo" } do
    it("report the same health checks of " .. fixture, function()
      local dir = helpers.tmpdir()
      helpers.run("cp -R " .. q(F("gosrc/shop-v1")) .. "/. " .. q(dir))
      helpers.run("cp " .. q(F(fixture)) .. " " .. q(dir .. "/cmd/shop/default.pgo"))
      local rout, rerr, rcode = runbook("--root " .. q(dir) .. " --json")
      local dout, derr = helpers.pgolua_run("recipes/doctor.lua --root " .. q(dir) .. " --json")
      local text = helpers.pgolua_run("recipes/doctor.lua --root " .. q(dir))
      local md = runbook("--root " .. q(dir))
      helpers.rm_rf(dir)
      assert.equal(0, rcode, rerr)
      local r = cjson.decode(rout).profiles[1].health
      local d = assert(cjson.decode(dout).health, derr)
      assert.same(r.counts, d.counts)
      assert.equal(r.summary, d.summary)
      assert.equal(13, #d.checks)
      for i, c in ipairs(d.checks) do
        assert.equal(c.name, r.checks[i].name)
        assert.equal(c.verdict, r.checks[i].verdict)
        assert.equal(c.figure, r.checks[i].figure)
        assert.equal(c.threshold, r.checks[i].threshold)
      end
      -- and the sentence people read is the same in both
      assert.matches("4. profile health: " .. d.summary .. "\n", text, 1, true)
      assert.matches("`cmd/shop/default.pgo`: " .. (d.ok and "healthy, " or "") .. r.summary:gsub("_", "\\_") .. "\n",
        md, 1, true)
    end)
  end

  it("counts a failing check once in both (shop.startup.pgo: 3 of 13)", function()
    local dir = helpers.tmpdir()
    helpers.run("cp -R " .. q(F("gosrc/shop-v1")) .. "/. " .. q(dir))
    helpers.run("cp " .. q(F("profiles/shop.startup.pgo")) .. " " .. q(dir .. "/cmd/shop/default.pgo"))
    local rout = runbook("--root " .. q(dir) .. " --json")
    helpers.rm_rf(dir)
    assert.equal("3 of 13 checks failed: min_samples, min_duration, max_startup",
      cjson.decode(rout).profiles[1].health.summary)
  end)
end)

describe("pgo.recipe", function()
  local recipe = require "pgo.recipe"

  it("makes profile strings inert in markdown", function()
    assert.equal("\\# &lt;b&gt;x&lt;/b&gt; \\| \\`c\\` \\[l\\](u) \\*e\\* a\\_b &amp; \\~s\\~ \\\\",
      recipe.md("# <b>x</b> | `c` [l](u) *e* a_b & ~s~ \\"))
    assert.equal("one two", recipe.md("one\ntwo"))
    assert.equal("``a`b``", recipe.md_code("a`b"))
    assert.equal("`a\\|b`", recipe.md_code("a|b", true))
    assert.equal("````\nx ``` y\n````", recipe.md_block("x ``` y"))
  end)

  it("quotes for the shell", function()
    assert.equal([['it'\''s $(x)']], recipe.shell_quote("it's $(x)"))
    assert.equal("cmd/shop/default.pgo", recipe.shell_word("cmd/shop/default.pgo"))
    assert.equal("'a b'", recipe.shell_word("a b"))
  end)

  it("writes empty marked arrays as [] and non-finite numbers as null", function()
    local doc = cjson.decode(recipe.json { a = recipe.array(), b = 0 / 0, c = { recipe.array() } })
    assert.equal(0, #doc.a)
    assert.equal(cjson.null, doc.b)
    assert.equal(0, #doc.c[1])
    assert.equal('{"a":[]}', recipe.json { a = recipe.array() })
    assert.equal("[[]]", recipe.json { recipe.array() })
  end)

  it("names exit codes and cleans Lua's argument errors", function()
    assert.same({ ok = 0, error = 1, failed = 2, over_threshold = 3 }, recipe.EXIT)
    assert.equal("string expected, got nil",
      recipe.clean_error("bad argument #1 to 'load' (string expected, got nil)"))
  end)
end)
