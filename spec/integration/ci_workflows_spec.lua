-- The CI samples of examples/ci, run on this machine by spec/support/actions.lua: each
-- workflow's steps in order, with GitHub's shells, against a copy of examples/service as
-- the team's repository (its origin a local bare repository) and the real service on
-- 127.0.0.1 as "staging". pgolua itself is installed the way the samples do it: fetched
-- by commit SHA (from a local clone of this tree) and built once, then cached.
-- Shows: the build assertion and the A/B pass on a healthy tree; a failing benchmark
-- fails the A/B job; refresh pushes a branch and opens a pull request (a stand-in gh)
-- without any secret value in any output or file; write access only where git pushes.
local helpers = require "helpers"
local servers = require "support.servers"

local shq = helpers.shq
local go = helpers.go()
local has_yaml = pcall(require, "lyaml")
local skip = not go and "Go >= 1.21 not found (make deps)"
  or not has_yaml and "lua-yaml not installed (make deps)"
  or os.getenv("PGOLUA_BIN") and "builds pgolua from scratch; not repeated under another binary"

local SAMPLES = helpers.root .. "/examples/ci/"

-- Secret values made at run time: the check that none appears in any file would otherwise
-- find them in this spec's own copy inside the checked-out pgolua.
math.randomseed(os.time())
local function secret(prefix) return prefix .. ("%x%x"):format(math.random(1 << 30), os.time()) end
local GITHUB_TOKEN = secret("ghs_SPEC")
local STAGING_TOKEN = secret("pgoSPECstaging")

local function sh(cmd)
  local out, err, code = helpers.run("(" .. cmd .. ")")   -- helpers.run redirects the last command's stdin
  assert(code == 0, cmd .. "\n" .. out .. err)
  return out
end

local GIT = "git -c user.name=spec -c user.email=spec@localhost -c init.defaultBranch=main "

-- A git repository at 'dir' holding a copy of 'src' with the demo profile (a profile of
-- examples/service) as cmd/service/default.pgo, committed, and a bare clone of it as its
-- origin; returns the origin's path.
local function team_repo(src, dir)
  sh("mkdir -p " .. shq(dir) .. " && cp -R " .. shq(src) .. "/. " .. shq(dir))
  sh("cp " .. shq(helpers.root .. "/examples/profiles/demo.pgo") .. " " .. shq(dir .. "/cmd/service/default.pgo"))
  sh("cd " .. shq(dir) .. " && " .. GIT .. "init -q && " .. GIT .. "add -A && " .. GIT
    .. "commit -qm 'the service'")
  sh(GIT .. "clone -q --bare " .. shq(dir) .. " " .. shq(dir .. ".git"))
  return dir .. ".git"
end

-- Every file under 'dir' (binary or not) that contains 'value'.
local function files_containing(dir, value)
  local out = helpers.run("grep -rlF -e " .. shq(value) .. " " .. shq(dir))
  return out
end

;(skip and pending or describe)(skip or "#integration CI samples (examples/ci)", function()
  local actions = require "support.actions"
  local pgo = require "pgo"
  local tmp, pgolua_git, pgolua_sha, origin, go_bin

  -- The options every workflow run gets: the team's changes to the env block.
  local function options(name, extra)
    local o = {
      root = tmp .. "/runs/" .. name, repo = origin, go_bin = go_bin,
      env = {
        PGOLUA_GIT = "file://" .. pgolua_git, PGOLUA_SHA = pgolua_sha,
        MAIN_PKG = "./cmd/service", PROFILE = "cmd/service/default.pgo", SERVICE_BIN = "bin/service",
      },
      github = {token = GITHUB_TOKEN, event = {}},
      secrets = {}, inputs = {}, path = {},
    }
    for k, v in pairs(extra or {}) do
      if k == "env" then for ek, ev in pairs(v) do o.env[ek] = ev end else o[k] = v end
    end
    -- the cache of pgolua's build is shared between the runs, as on GitHub
    sh("mkdir -p " .. shq(o.root) .. " && ln -sfn " .. shq(tmp .. "/cache") .. " " .. shq(o.root .. "/cache"))
    return o
  end

  setup(function()
    tmp = helpers.tmpdir()
    sh("mkdir -p " .. shq(tmp .. "/cache"))
    go_bin = go:match("^(.*)/go$") or sh("dirname \"$(command -v go)\""):gsub("\n$", "")
    -- pgolua as the samples fetch it: this tree (with its uncommitted changes) committed
    -- in a clone, pinned by the clone's commit SHA.
    pgolua_git = tmp .. "/pgolua-src"
    sh("git clone -q " .. shq(helpers.root) .. " " .. shq(pgolua_git))
    sh("cd " .. shq(helpers.root) .. " && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C " .. shq(pgolua_git))
    sh("cd " .. shq(pgolua_git) .. " && " .. GIT .. "add -A && (" .. GIT .. "diff --cached --quiet || " .. GIT .. "commit -qm 'working tree')")
    pgolua_sha = sh("git -C " .. shq(pgolua_git) .. " rev-parse HEAD"):match("%x+")
    origin = team_repo(helpers.root .. "/examples/service", tmp .. "/service")
  end)
  teardown(function()
    servers.cleanup()
    helpers.rm_rf(tmp)
  end)

  it("every workflow runs its steps under bash -eo pipefail and writes only where it pushes", function()
    for _, f in ipairs{"pgo-build.yml", "pgo-ab.yml", "pgo-refresh.yml"} do
      local wf = actions.load(SAMPLES .. f)
      assert.are.equal("bash", wf.defaults.run.shell, f)
      for k, v in pairs(wf.permissions) do assert.are_not.equal("write", v, f .. " workflow " .. k) end
      for name, job in pairs(wf.jobs) do
        local pushes, text = false, ""
        for _, step in ipairs(job.steps) do
          text = text .. (step.run or "")
          if step.uses and step.uses:match("^actions/checkout@") then
            -- credentials stay on disk only in a job that pushes
            local persisted = not (step.with and step.with["persist-credentials"] == false)
            pushes = pushes or persisted
          end
        end
        local writes = false
        for _, v in pairs(job.permissions or {}) do writes = writes or v == "write" end
        assert.are.equal(text:find("git push", 1, true) ~= nil, writes, f .. " job " .. name)
        assert.are.equal(writes, pushes, f .. " job " .. name .. ": persisted credentials")
        -- pinned by SHA, never a moving branch; only the packages to run and build pgolua
        assert.is_nil(text:find("--branch", 1, true), f)
        for sets in text:gmatch("deps%.sh\"?([^\n]*)") do
          assert.matches("^ run[ %w]*$", sets, nil, f)
        end
      end
    end
  end)

  it("passes actionlint (the pinned one of scripts/gotools.pins)", function()
    local bin, err, code = helpers.run("GO=" .. shq(go) .. " scripts/gotool.sh actionlint")
    assert.are.equal(0, code, err)
    local out, lint_err, lint_code = helpers.run(shq(bin:gsub("\n$", "")) .. " "
      .. shq(SAMPLES .. "pgo-build.yml") .. " " .. shq(SAMPLES .. "pgo-ab.yml") .. " "
      .. shq(SAMPLES .. "pgo-refresh.yml"))
    assert.are.equal(0, lint_code, out .. lint_err)
  end)

  it("pgo-build builds with the profile, asserts it from the build info, audits staleness", function()
    local run = actions.run_workflow(SAMPLES .. "pgo-build.yml", options("build"))
    assert.are.equal("success", run.jobs.build.result, run.log)
    assert.matches("bin/service: go1%.%d+[^\n]*built with %-pgo=default%.pgo", run.log)
  end)

  it("pgo-ab compares the two sides and passes the gate on a healthy tree", function()
    local run = actions.run_workflow(SAMPLES .. "pgo-ab.yml",
      options("ab", {env = {BENCH_PKGS = "./internal/...", COUNT = "2", BENCHTIME = "20ms"}}))
    assert.are.equal("success", run.jobs.ab.result, run.log)
    -- two rounds of 20 ms cannot settle much: "too noisy to tell" is a warning, not a failure
    assert.is_truthy(run.jobs.ab.summary:find("Gate passed", 1, true)
      or run.jobs.ab.summary:find("too noisy to tell", 1, true), run.jobs.ab.summary)
    local art = tmp .. "/runs/ab/artifacts/pgo-ab"
    local saved = {}
    for _, f in ipairs(helpers.listing(art)) do saved[f] = true end
    for _, f in ipairs{"ab.json", "ab.md", "off.txt", "on.txt"} do assert.truthy(saved[f], f) end
    assert.truthy(helpers.read_file(art .. "/on.txt"):find("\nPASS", 1, true))
  end)

  it("pgo-ab fails when a benchmark fails, and still uploads what it has", function()
    local broken = tmp .. "/service-broken"
    sh("cp -R " .. shq(helpers.root .. "/examples/service") .. " " .. shq(broken))
    local pkg = sh("cd " .. shq(broken) .. " && ls -d internal/*/ | head -n 1"):gsub("\n$", "")
    local name = pkg:match("internal/([^/]+)/")
    helpers.write_file(broken .. "/" .. pkg .. "broken_test.go", "package " .. name .. "\n\n"
      .. 'import "testing"\n\nfunc BenchmarkBroken(b *testing.B) { b.Fatal("broken benchmark") }\n')
    local broken_origin = team_repo(broken, tmp .. "/broken-team")
    local run = actions.run_workflow(SAMPLES .. "pgo-ab.yml", options("ab-broken",
      {repo = broken_origin, env = {BENCH_PKGS = "./internal/...", COUNT = "2", BENCHTIME = "20ms"}}))
    assert.are.equal("failure", run.jobs.ab.result, run.log)
    local step = run.jobs.ab.steps[5]
    assert.are.equal("failure", step.result, step.log)
    assert.matches("%(%-pgo=off%) failed in round 1", run.log)   -- the reason, in the log
    assert.matches("broken benchmark", run.log)
    assert.are.equal("success", run.jobs.ab.steps[6].result)   -- the upload ran anyway
  end)

  describe("pgo-refresh against the service on 127.0.0.1", function()
    local has_source_name = helpers.pgolua_run("refresh --help"):find("--source-name", 1, true)
    if not has_source_name then
      pending("needs `pgolua refresh --source-name` (the provenance part of issue 12)")
      return
    end

    it("pushes the refreshed profile and opens a PR; no secret appears anywhere", function()
      local svc
      servers.guard(function() svc = servers.start_service(servers.build_service(go), 2) end)
      local token = STAGING_TOKEN
      local gh_dir = tmp .. "/gh"
      sh("mkdir -p " .. shq(gh_dir))
      -- A stand-in for the gh CLI: records its arguments and the body it was given.
      helpers.write_file(gh_dir .. "/gh", table.concat({
        "#!/bin/sh",
        'echo "gh $*" >> ' .. shq(gh_dir .. "/calls"),
        '[ -n "$GH_TOKEN" ] || { echo "gh: no GH_TOKEN" >&2; exit 4; }',
        'case "$1 $2" in "pr view") exit 1;; esac',
        'while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" ' .. shq(gh_dir .. "/body.md") .. '; shift; done',
      }, "\n") .. "\n")
      sh("chmod +x " .. shq(gh_dir .. "/gh"))
      local opts = options("refresh", {
        env = {REFRESH_ARGS = "--min-samples 10 --min-bytes 1000 --health off"},
        secrets = {PGO_STAGING_URL = svc.base, PGO_STAGING_TOKEN = token},
        inputs = {seconds = "3"}, path = {gh_dir},
      })
      local run = actions.run_workflow(SAMPLES .. "pgo-refresh.yml", opts)
      svc:stop()
      assert.are.equal("success", run.jobs.capture.result, run.log)
      assert.are.equal("replaced", run.jobs.capture.outputs.status)
      assert.are.equal("success", run.jobs["pull-request"].result, run.log)
      -- the schedule event names no default branch: the PR's base is the fallback
      assert.matches("gh pr create %-%-base main %-%-head pgo/refresh%-default%-pgo",
        helpers.read_file(gh_dir .. "/calls"))
      -- the branch reached origin, with the new profile whose provenance names the source
      local pushed = tmp .. "/pushed.pgo"
      sh("git -C " .. shq(origin) .. " show pgo/refresh-default-pgo:cmd/service/default.pgo > " .. shq(pushed))
      local p = assert(pgo.load(pushed))
      local prov = pgo.provenance.read(p)
      assert.are.equal("staging", prov.source)
      -- no secret value in any output or file: logs, the PR body, every file the jobs
      -- left (workspaces, temporary directories, artifacts), the pushed profile's comments
      local secrets = {svc.base, svc.base:match("//(.*)$"), token, opts.github.token}
      local texts = {run.log, helpers.read_file(gh_dir .. "/body.md"),
        table.concat(p:info().comments, "\n"), sh("git -C " .. shq(origin) .. " log -p --all")}
      for _, s in ipairs(secrets) do
        for i, text in ipairs(texts) do
          assert.is_nil(text:find(s, 1, true), ("secret %q in output %d"):format(s, i))
        end
        assert.are.equal("", files_containing(opts.root, s), "secret " .. s)
      end
    end)
  end)
end)
