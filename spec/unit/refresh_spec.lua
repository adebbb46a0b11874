-- pgo.refresh (lua/pgo/refresh.lua), the library under recipes/refresh.lua: in each
-- situation where a caller's option is the way out, the run says what happened in terms
-- of its own options (never a command's --flag) and names the situation by a stable code
-- (res.code, res.hints), by which a recipe adds the flag of its own.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture
local q = helpers.shq

-- Every text of res a person reads: the error, the notes, each check's advice.
local function texts(res)
  local all = { res.error }
  for _, n in ipairs(res.notes) do all[#all + 1] = n end
  for _, c in ipairs(res.checks or {}) do all[#all + 1] = c.advice end
  return all
end

local function assert_no_flag(res)
  for _, t in ipairs(texts(res)) do
    assert.is_nil(t:match("%-%-%a[%w-]*"), "a command's flag in: " .. t)
  end
end

describe("pgo.refresh.run: advice by code, in the library's terms", function()
  local dir, input
  before_each(function()
    dir = helpers.tmpdir()
    input = F("profiles/shop.p1.pgo")
  end)
  after_each(function() helpers.rm_rf(dir) end)

  local function run(spec)
    spec.sources = spec.sources or { files = { input } }
    spec.out = spec.out or dir .. "/default.pgo"
    if spec.pr_body == nil then spec.pr_body = false end
    spec.capture = { quiet = true }
    local res, exit = pgo.refresh.run(spec)
    assert_no_flag(res)
    return res, exit
  end

  local function copy(from, to) assert(helpers.run("cp -R " .. q(from) .. " " .. q(to))) end

  it("no_module: no src and no go.mod above out; the stale check is skipped", function()
    local res, exit = run {}
    assert.equal(0, exit, res.error)
    assert.same({ "no_module" }, res.hints)
    assert.equal("no src given and no go.mod above " .. dir .. ": the stale check is skipped (src names the "
      .. "Go module)", res.notes[1])
    local stale = res.checks[#res.checks]
    assert.equal("max_stale", stale.name)
    assert.equal("skipped", stale.verdict)
    assert.equal("no_module", stale.code)
  end)

  it("module_unreadable: the module above out does not parse; the code says why", function()
    helpers.write_file(dir .. "/go.mod", "module example.com/shop\n\ngo 1.21\n")
    helpers.write_file(dir .. "/main.go", "package main\n\nvar s = `unterminated\n")
    local res, exit = run {}
    assert.equal(1, exit)
    assert.equal("go_syntax", res.code)
    assert.same({ "module_unreadable" }, res.hints)
    assert.matches("the scan of the source tree stops at this file (the Go module above " .. dir
      .. "/default.pgo, which the stale check reads; src names another, max_stale = false skips the check)",
      res.error, 1, true)
    assert.is_false(pgo.fs.exists(dir .. "/default.pgo"))
  end)

  it("blend_current: merge_existing with a target that is not a CPU profile, or does not load", function()
    local target = dir .. "/default.pgo"
    copy(F("bad/heap.pb.gz"), target)
    local before = helpers.read_file(target)
    local res, exit = run { merge_existing = 0.5 }
    assert.equal(1, exit)
    assert.equal("not_cpu", res.code)
    assert.same({ "no_module", "blend_current" }, res.hints)
    assert.matches(target .. " is a heap profile, not a CPU profile: it cannot be blended with (merge_existing)",
      res.error, 1, true)
    copy(F("bad/truncated.pgo"), target)
    before = helpers.read_file(target)
    res, exit = run { merge_existing = 0.5 }
    assert.equal(1, exit)
    assert.same({ "no_module", "blend_current" }, res.hints)
    assert.matches("(merge_existing blends with the current profile)", res.error, 1, true)
    assert.equal(before, helpers.read_file(target))
    -- without merge_existing the same target is replaced
    res, exit = run {}
    assert.equal(0, exit, res.error)
    assert.equal("replaced", res.status)
  end)

  it("symlink: an out that is a link replaced by a regular file; none when follow_symlink", function()
    copy(input, dir .. "/real.pgo")
    assert(os.execute("ln -s real.pgo " .. q(dir .. "/default.pgo")))
    local res = run { dry_run = true }
    assert.same({ "no_module", "symlink" }, res.hints)
    assert.matches("(" .. dir .. "/real.pgo itself is left as it is; follow_symlink writes through the link)",
      res.notes[2], 1, true)
    res = run { dry_run = true, follow_symlink = true }
    assert.same({ "no_module" }, res.hints)
  end)

  it("pr_body: a PR body whose directory does not exist", function()
    local res, exit = run { pr_body = dir .. "/no/such/pr.md" }
    assert.equal(1, exit)
    assert.equal("not_found", res.code)
    assert.same({ "no_module", "pr_body" }, res.hints)
    assert.matches("the PR body's directory " .. dir .. "/no/such does not exist (pr_body " .. dir
      .. "/no/such/pr.md)", res.error, 1, true)
  end)

  it("inconclusive: source files the stale check cannot read keep the target, with a code", function()
    local src = dir .. "/src"
    copy(F("gosrc/shop-v1"), src)
    local target = dir .. "/default.pgo"
    copy(F("profiles/shop.steady.pgo"), target)
    local before = helpers.read_file(target)
    local res, exit = run { src = src, source_opts = { max_file_bytes = 200 } }
    assert.equal(2, exit, res.error)
    assert.equal("inconclusive", res.status)
    assert.equal("inconclusive", res.code)
    assert.matches("^cannot tell against " .. src:gsub("%p", "%%%0") .. ": [%d.]+%% of the samples "
      .. "%(cum%) run through functions the scan could not see %(%d+ unreadable, skipped or unparsable files?: ", res.error)
    assert.matches("; " .. target .. " kept (max_stale = false skips the check)", res.error, 1, true)
    assert.equal(before, helpers.read_file(target))
    assert.same({}, res.hints)
  end)

  it("skip_unchanged with nothing to compare with: says so, without a flag", function()
    local res, exit = run { skip_unchanged = true, dry_run = true }
    assert.equal(0, exit, res.error)
    assert.equal("no current profile to compare with (skip_unchanged): writing the first one", res.notes[2])
    -- the PR body names the library, not a recipe's path (a team's copy lives elsewhere)
    assert.matches("\n#### Checks (`pgo.refresh`)\n", res.pr_body_markdown, 1, true)
    assert.is_nil(res.pr_body_markdown:find("recipes/", 1, true))
  end)
end)
