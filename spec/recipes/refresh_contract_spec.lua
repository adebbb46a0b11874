-- The JSON contract of recipes/refresh.lua --json (docs/api.md, "pgo.refresh"): which
-- fields each status carries and nothing else, the form of every check; and a symbolic
-- link at --out (said in the output; --follow-symlink writes through it).
local helpers = require "helpers"
local cjson = require "cjson"
local pgo = require "pgo"

local F = helpers.fixture
local q = helpers.shq
local listing = helpers.listing

local RECIPE = q(helpers.root .. "/recipes/refresh.lua")

local function refresh(args, dir)
  local out, err, code = helpers.run("TMPDIR=" .. q(dir) .. " " .. q(helpers.pgolua) .. " " .. RECIPE .. " " .. args)
  return out, err, code
end

-- Every top-level field refresh's JSON may carry.
local FIELDS = { "status", "exit", "error", "code", "out", "src", "dry_run", "sources", "previous",
  "capture", "checks", "rejected_by", "blend", "compact", "stale", "drift", "written", "provenance",
  "provenance_line", "pr_body", "pr_body_markdown", "notes", "hints", "symlink" }
-- The fields each status must carry.
local REQUIRED = {
  replaced = { "status", "exit", "out", "src", "dry_run", "sources", "previous", "capture", "checks",
    "written", "provenance", "provenance_line", "pr_body", "pr_body_markdown", "notes", "hints" },
  rejected = { "status", "exit", "error", "out", "src", "dry_run", "sources", "previous", "capture",
    "checks", "rejected_by", "notes", "hints" },
  error = { "status", "exit", "error", "notes", "hints" },
}
local CHECK_FIELDS = { name = true, ok = true, verdict = true, figure = true, threshold = true,
  message = true, advice = true, skipped = true, unit = true, code = true, inconclusive = true }

local function assert_contract(doc)
  local allowed = {}
  for _, k in ipairs(FIELDS) do allowed[k] = true end
  for k in pairs(doc) do assert.truthy(allowed[k], "undocumented field " .. k) end
  for _, k in ipairs(REQUIRED[doc.status]) do assert.is_not_nil(doc[k], doc.status .. " without " .. k) end
  for _, c in ipairs(doc.checks or {}) do
    for k in pairs(c) do assert.truthy(CHECK_FIELDS[k], "check field " .. k) end
    assert.equal("string", type(c.name))
    assert.equal("boolean", type(c.ok))
    assert.truthy(({ pass = true, warn = true, fail = true, skipped = true })[c.verdict], c.verdict)
    assert.equal(c.advice, c.message)
  end
end

describe("recipes/refresh.lua --json contract", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("replaced: every documented field, checks in pgo.checks' form", function()
    local target = dir .. "/default.pgo"
    assert(helpers.run("cp " .. q(F("profiles/shop.steady.pgo")) .. " " .. q(target)))
    local out, err, code = refresh("--file " .. q(F("profiles/shop.p1.pgo")) .. " --out " .. q(target) .. " --json", dir)
    assert.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.equal("replaced", doc.status)
    assert_contract(doc)
    assert.equal(2136, doc.capture.samples)
    assert.equal(doc.capture.samples, doc.written.samples)
    assert.is_nil(doc.symlink)
  end)

  it("a team's copy, run from elsewhere, works against the library alone", function()
    local copy = dir .. "/tools/refresh.lua"
    assert(os.execute("mkdir " .. q(dir .. "/tools") .. " && cp " .. RECIPE .. " " .. q(copy)))
    local out, err, code = helpers.run("cd " .. q(dir) .. " && TMPDIR=" .. q(dir) .. " " .. q(helpers.pgolua) .. " "
      .. q(copy) .. " --file " .. q(F("profiles/shop.p1.pgo")) .. " --out default.pgo --pr-body off --json")
    assert.equal(0, code, err)
    assert.equal("replaced", cjson.decode(out).status)
    assert.equal(2136, assert(pgo.load(dir .. "/default.pgo")):info().samples)
  end)

  it("rejected and error: the fields they carry, error codes included", function()
    local target = dir .. "/default.pgo"
    local out, _, code = refresh("--file " .. q(F("bad/tiny5.pgo")) .. " --out " .. q(target) .. " --json", dir)
    assert.equal(2, code)
    local doc = cjson.decode(out)
    assert.equal("rejected", doc.status)
    assert_contract(doc)
    out, _, code = refresh("--file " .. q(dir .. "/missing.pgo") .. " --out " .. q(target) .. " --json", dir)
    assert.equal(1, code)
    doc = cjson.decode(out)
    assert.equal("error", doc.status)
    assert.equal("not_found", doc.code)
    assert_contract(doc)
  end)

  it("--lenient reads a Go file that does not parse as far as it goes; without it, exit 1", function()
    helpers.write_file(dir .. "/go.mod", "module example.com/shop\n\ngo 1.21\n")
    helpers.write_file(dir .. "/main.go", "package main\n\nvar s = `unterminated\n")
    local target = dir .. "/default.pgo"
    local input = q(F("profiles/shop.p1.pgo"))
    local _, err, code = refresh("--file " .. input .. " --out " .. q(target) .. " --pr-body off", dir)
    assert.equal(1, code, err)
    assert.matches("main.go: line 3: raw string literal not terminated", err, 1, true)
    assert.matches("--lenient reads such files as far as they go", err, 1, true)
    assert.is_false(pgo.fs.exists(target))
    local out
    out, err, code = refresh("--file " .. input .. " --out " .. q(target) .. " --pr-body off --lenient "
      .. "--max-stale 1 --json", dir)
    assert.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.equal("replaced", doc.status)
    assert.equal(dir, doc.src)
  end)

  describe("--out a symbolic link", function()
    local link, real
    before_each(function()
      assert(os.execute("mkdir " .. q(dir .. "/shared")))
      real, link = dir .. "/shared/default.pgo", dir .. "/default.pgo"
      assert(helpers.run("cp " .. q(F("profiles/shop.steady.pgo")) .. " " .. q(real)))
      assert(os.execute("ln -s shared/default.pgo " .. q(link)))
    end)

    it("says the link is replaced by a regular file, and leaves the file it pointed to as it was", function()
      local before = helpers.read_file(real)
      local out, err, code = refresh("--file " .. q(F("profiles/shop.p1.pgo")) .. " --out " .. q(link)
        .. " --pr-body off --json", dir)
      assert.equal(0, code, err)
      assert.matches(link .. " is a symbolic link to " .. pgo.fs.realpath(real) .. ": it will be replaced by "
        .. "a regular file", err, 1, true)
      assert.matches("note: --follow-symlink writes through the link", err, 1, true)
      assert.same({ "no_module", "symlink" }, cjson.decode(out).hints)
      local doc = cjson.decode(out)
      assert.same({ link = link, points_to = pgo.fs.realpath(real), followed = false }, doc.symlink)
      assert.equal(before, helpers.read_file(real))
      assert.equal("", helpers.run("test -L " .. q(link) .. " && echo link"))
      assert.equal(2136, assert(pgo.load(link)):info().samples)
      assert.same({ "default.pgo", "shared" }, listing(dir))    -- --pr-body off: no PR body under $TMPDIR
    end)

    it("writes through the link with --follow-symlink", function()
      local _, err, code = refresh("--file " .. q(F("profiles/shop.p1.pgo")) .. " --out " .. q(link)
        .. " --pr-body off --follow-symlink", dir)
      assert.equal(0, code, err)
      assert.matches("the new profile is written through it", err, 1, true)
      assert.equal("link\n", helpers.run("test -L " .. q(link) .. " && echo link"))
      assert.equal(2136, assert(pgo.load(real)):info().samples)
      assert.same({ "default.pgo" }, listing(dir .. "/shared"))
    end)
  end)
end)
