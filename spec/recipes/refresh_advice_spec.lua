-- recipes/refresh.lua's advice: pgo.refresh names each situation by a code (res.code,
-- res.hints) and says what to do in its own options' terms; the recipe's ADVICE table
-- adds the flag of its own, for each code. Every flag the advice names is one --help lists.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture
local q = helpers.shq

local RECIPE = q(helpers.root .. "/recipes/refresh.lua")

local function refresh(args, tmpdir)
  return helpers.run("TMPDIR=" .. q(tmpdir) .. " " .. q(helpers.pgolua) .. " " .. RECIPE .. " " .. args)
end

describe("recipes/refresh.lua: advice by code, naming its own flags", function()
  local dir, help
  setup(function() help = assert(helpers.run(q(helpers.pgolua) .. " " .. RECIPE .. " --help")) end)
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  local input = F("profiles/shop.p1.pgo")
  local function go_module(at, name, code)
    assert(os.execute("mkdir -p " .. q(at)))
    helpers.write_file(at .. "/go.mod", "module " .. name .. "\n\ngo 1.21\n")
    helpers.write_file(at .. "/main.go", code)
  end
  local function copy(from, to) assert(helpers.run("cp " .. q(from) .. " " .. q(to))) end

  -- code: the situation; setup(dir) prepares it and returns the arguments; exit; says:
  -- the advice the recipe adds (a note, or the error's tail).
  local CASES = {
    { code = "no_module", exit = 0, says = "note: --src DIR names the Go module to check against",
      setup = function() return "--dry-run --pr-body off" end },
    { code = "module_unreadable (and go_syntax)", exit = 1,
      says = "note: --src DIR names another module, --max-stale off skips the stale check",
      also = "; --lenient reads such files as far as they go",
      setup = function(d)
        go_module(d, "example.com/shop", "package main\n\nvar s = `unterminated\n")
        return "--pr-body off"
      end },
    { code = "inconclusive", exit = 2, says = " kept (max_stale = false skips the check); --max-stale off skips "
        .. "the stale check",
      setup = function(d)
        go_module(d .. "/other", "example.com/other", "package other\n\nfunc F() {}\n")
        return "--pr-body off --src " .. q(d .. "/other")
      end },
    { code = "blend_current (not_cpu)", exit = 1, says = "note: without --merge-existing the current profile is replaced",
      setup = function(d)
        copy(F("bad/heap.pb.gz"), d .. "/default.pgo")
        return "--pr-body off --merge-existing 0.5"
      end },
    { code = "blend_current (does not load)", exit = 1,
      says = "note: without --merge-existing the current profile is replaced",
      setup = function(d)
        copy(F("bad/truncated.pgo"), d .. "/default.pgo")
        return "--pr-body off --merge-existing 0.5"
      end },
    { code = "symlink", exit = 0, says = "note: --follow-symlink writes through the link",
      setup = function(d)
        copy(input, d .. "/real.pgo")
        assert(os.execute("ln -s real.pgo " .. q(d .. "/default.pgo")))
        return "--pr-body off --dry-run"
      end },
    { code = "pr_body (its directory)", exit = 1, says = "note: --pr-body PATH puts it elsewhere, off skips it",
      setup = function(d) return "--pr-body " .. q(d .. "/no/such/pr.md") end },
    { code = "pr_body (no directory under $TMPDIR)", exit = 1,
      says = "note: --pr-body PATH puts it elsewhere, off skips it", tmpdir = "/no/such",
      setup = function() return "" end },
  }

  for _, case in ipairs(CASES) do
    it(case.code, function()
      local args = case.setup(dir)
      local target = dir .. "/default.pgo"
      local before = pgo.fs.exists(target) and helpers.read_file(target)
      local _, err, code = refresh("--file " .. q(input) .. " --out " .. q(target) .. " " .. args,
        case.tmpdir and (dir .. case.tmpdir) or dir)
      assert.equal(case.exit, code, err)
      assert.matches(case.says, err, 1, true)
      if case.also then assert.matches(case.also, err, 1, true) end
      for flag in (case.says .. (case.also or "")):gmatch("%-%-%a[%w-]*") do
        assert.matches("\n%s*" .. flag:gsub("%-", "%%-") .. "[%s,]", help, nil, false, flag .. " not in --help")
      end
      if case.exit ~= 0 then     -- the target as it was
        assert.equal(before, pgo.fs.exists(target) and helpers.read_file(target))
      end
    end)
  end
end)
