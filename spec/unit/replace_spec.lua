-- pgo.replace (lua/pgo/replace.lua): preflight, stage, verify, commit, sweep; blend.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture
local q = helpers.shq
local listing = helpers.listing

local function sh(cmd) assert(os.execute(cmd)) end

describe("pgo.replace", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  local good = function() return helpers.read_file(F("profiles/shop.p1.pgo")) end

  it("stages, verifies and commits: the target gets the bytes and keeps its mode, nothing else is left", function()
    local target = dir .. "/default.pgo"
    helpers.write_file(target, "old")
    sh("chmod 640 " .. q(target))
    local tx = assert(pgo.replace.begin(target))
    local staged = assert(tx:stage(good(), { what = "the new profile", verify = "profile" }))
    assert.truthy(staged.path:find("/%.pgolua%-refresh%.%w+$"), staged.path)
    assert.equal("old", helpers.read_file(target))          -- nothing replaced before commit
    assert.is_true(tx:commit(staged))
    tx:close()
    assert.equal(good(), helpers.read_file(target))
    assert.equal(tonumber("640", 8), pgo.fs.stat(target).mode & tonumber("777", 8))
    assert.same({ "default.pgo" }, listing(dir))
  end)

  it("refuses bytes that do not decode back as a profile; close leaves the target and no file", function()
    local target = dir .. "/default.pgo"
    helpers.write_file(target, "old")
    local tx = assert(pgo.replace.begin(target))
    local staged, msg, code = tx:stage("<html>not a profile</html>", { what = "the new profile", verify = "profile" })
    assert.is_nil(staged)
    assert.matches("^the new profile does not load back from ", msg)
    assert.equal("string", type(code))
    tx:close()
    assert.equal("old", helpers.read_file(target))
    assert.same({ "default.pgo" }, listing(dir))
  end)

  it("fails before anything is staged when the directory is missing or the target is a directory", function()
    local tx, msg, code = pgo.replace.begin(dir .. "/no/such/default.pgo")
    assert.is_nil(tx)
    assert.equal("not_found", code)
    assert.matches("the directory " .. dir .. "/no/such does not exist", msg, 1, true)
    tx, msg, code = pgo.replace.begin(dir)
    assert.is_nil(tx)
    assert.equal("is_directory", code)
    assert.matches("is a directory", msg, 1, true)
  end)

  it("sweeps killed runs' temporary files past the stale age, and keeps younger ones", function()
    helpers.write_file(dir .. "/.pgolua-refresh.old111", "x")
    helpers.write_file(dir .. "/.pgolua-refresh.new222", "x")
    sh(("touch -d @%d %s"):format(os.time() - 7200, q(dir .. "/.pgolua-refresh.old111")))
    assert(pgo.replace.begin(dir .. "/default.pgo", { stale_seconds = 600 }))
    assert.same({ ".pgolua-refresh.new222" }, listing(dir))
  end)

  it("maps a write error's errno through the one errno table (pgo.fs.errno_failure)", function()
    local _, msg, code = pgo.fs.errno_failure(27, "cannot write", dir .. "/x")   -- EFBIG
    assert.equal("no_space", code)
    assert.matches("^cannot write " .. dir .. "/x: File too large", msg)
    _, _, code = pgo.fs.errno_failure(13, "cannot write", dir .. "/x")          -- EACCES
    assert.equal("permission", code)
    assert.has_error(function() pgo.fs.errno_failure("27", "w", "p") end)
  end)

  describe("a target that is a symbolic link", function()
    local real, link
    before_each(function()
      sh("mkdir " .. q(dir .. "/shared"))
      real, link = dir .. "/shared/default.pgo", dir .. "/default.pgo"
      helpers.write_file(real, "shared profile")
      sh("ln -s shared/default.pgo " .. q(link))
    end)

    it("is replaced by a regular file by default, tx.link naming what it pointed to", function()
      local tx = assert(pgo.replace.begin(link))
      assert.equal(pgo.fs.realpath(real), tx.link)
      assert.is_true(tx:commit(assert(tx:stage(good(), { verify = "profile" }))))
      tx:close()
      assert.equal("shared profile", helpers.read_file(real))
      assert.equal(good(), helpers.read_file(link))
      assert.equal("", helpers.run("test -L " .. q(link) .. " && echo link"))
    end)

    it("is written through with follow_symlink: the link stays, the file it points to changes", function()
      local tx = assert(pgo.replace.begin(link, { follow_symlink = true }))
      assert.is_true(tx:commit(assert(tx:stage(good(), { verify = "profile" }))))
      tx:close()
      assert.equal(good(), helpers.read_file(real))
      assert.equal("link\n", helpers.run("test -L " .. q(link) .. " && echo link"))
      assert.same({ "default.pgo" }, listing(dir .. "/shared"))
    end)
  end)

  it("blends: W of the new total from the new profile, 1-W from the old", function()
    local new, old = assert(pgo.load(F("profiles/shop.p1.pgo"))), assert(pgo.load(F("profiles/shop.p2.pgo")))
    local m, info = pgo.replace.blend(new, old, 0.5)
    assert.truthy(m, info)
    assert.equal(new:info().samples, info.new_total)
    assert.equal(m:info().samples, info.total)
    assert.is_true(math.abs(info.new_share - 0.5) < 0.05, tostring(info.new_share))
    assert.has_error(function() pgo.replace.blend(new, old, 0) end)
  end)

  it("raises on misuse: an unknown option, a non-string target", function()
    assert.has_error(function() pgo.replace.begin(dir .. "/x", { follow_symlinks = true }) end,
      "bad argument #2 to 'begin' (unknown option 'follow_symlinks')")
    assert.has_error(function() pgo.replace.begin(42) end)
    local tx = assert(pgo.replace.begin(dir .. "/x"))
    assert.has_error(function() tx:stage("x", { verfy = "profile" }) end)
    tx:close()
  end)
end)
