-- pgo.repo: where things live in a Go repository.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture

describe("pgo.repo", function()
  local dir
  before_each(function()
    dir = helpers.tmpdir()
    helpers.run("cp -R " .. helpers.shq(F("gosrc/shop-v1")) .. "/. " .. helpers.shq(dir))
  end)
  after_each(function() helpers.rm_rf(dir) end)

  it("module_root() finds go.mod upward, nil when there is none", function()
    local root = pgo.fs.realpath(dir)
    assert.equal(root, pgo.repo.module_root(dir .. "/cmd/shop"))
    assert.equal(root, pgo.repo.module_root(dir))
    assert.is_nil(pgo.repo.module_root("/"))
    assert.is_nil(pgo.repo.module_root(dir .. "/no/such/dir"))
    assert.has_error(function() pgo.repo.module_root(1) end,
      "bad argument #1 to 'module_root' (string expected, got number)")
  end)

  it("default_profile() is default.pgo beside the only package main", function()
    local path, note = pgo.repo.default_profile(dir)
    assert.equal(dir .. "/cmd/shop/default.pgo", path)
    assert.is_nil(note)
    assert.has_error(function() pgo.repo.default_profile(dir, { sym = {} }) end,
      "bad argument #2 to 'default_profile' (unknown option 'sym')")
  end)

  it("default_profile() writes ./default.pgo and says why when there is no package main", function()
    local empty = helpers.tmpdir()
    helpers.write_file(empty .. "/go.mod", "module example.com/lib\n\ngo 1.21\n")
    local path, note = pgo.repo.default_profile(empty)
    helpers.rm_rf(empty)
    assert.equal("./default.pgo", path)
    assert.matches("^no package main under ", note)
  end)

  it("main_package() names the package main declared in a directory", function()
    local syms = assert(pgo.symbols.go_source(dir))
    assert.equal("example.com/shop/cmd/shop", pgo.repo.main_package(syms, dir, dir .. "/cmd/shop"))
    assert.is_nil(pgo.repo.main_package(syms, dir, dir))
  end)
end)
