-- pgo.fs (lua/pgo/fs.lua over pgo.fsys, src/lua/fsys.c): temp files, atomic replace.
local helpers = require "helpers"
local pgo = require "pgo"

local function mode_of(path)
  return assert(pgo.fs.stat(path)).mode
end

local listing = helpers.listing

-- LeakSanitizer cannot run under ptrace: a sanitizer build run by strace checks no leaks.
local NO_LSAN = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "

describe("pgo.fs", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  it("is loaded from the source tree", function()
    assert.truthy(package.searchpath("pgo.fs", package.path):find("lua/pgo/fs.lua", 1, true))
  end)

  describe("tempfile()", function()
    it("creates a new hidden file of the family with mode 0600 and a writable handle", function()
      local path, f = pgo.fs.tempfile(dir, "cpu")
      assert.truthy(path:match("^" .. dir:gsub("%p", "%%%0") .. "/%.pgolua%-cpu%.[%w]+$"), path)
      assert.equal(io.type(f), "file")
      assert.equal(tonumber("600", 8), mode_of(path))
      assert.truthy(f:write("abc"))
      assert.truthy(f:close())
      assert.equal("abc", helpers.read_file(path))
      local path2, f2 = pgo.fs.tempfile(dir, "cpu")
      f2:close()
      assert.are_not.equal(path, path2)
    end)

    it("uses the prefix 'pgolua' by default", function()
      local path, f = pgo.fs.tempfile(dir)
      f:close()
      assert.truthy(path:find("/.pgolua.", 1, true))
    end)

    it("returns nil, message, code for a missing directory", function()
      local path, msg, code = pgo.fs.tempfile(dir .. "/missing")
      assert.is_nil(path)
      assert.equal("not_found", code)
      assert.truthy(msg:find("missing", 1, true))
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() pgo.fs.tempfile(42) end,
        "bad argument #1 to 'tempfile' (string expected, got number)")
      assert.has_error(function() pgo.fs.tempfile(dir, "a/b") end)
      assert.has_error(function() pgo.fs.tempfile(dir, "Default.pgo") end)   -- not a family word
    end)
  end)

  describe("replace()", function()
    it("says cross_device, as documented, when the temporary file is on another file system", function()
      local shm = "/dev/shm"
      local a = helpers.run("stat -c %d " .. helpers.shq(shm) .. " " .. helpers.shq(dir))
      local d1, d2 = a:match("^(%d+)\n(%d+)")
      if not d1 or d1 == d2 then pending("no second file system (/dev/shm) here") return end
      local tmp = shm .. "/pgolua-spec-" .. tostring(os.time())
      helpers.write_file(tmp, "new")
      local ok, msg, code = pgo.fs.replace(tmp, dir .. "/target")
      os.remove(tmp)
      assert.is_nil(ok)
      assert.equal("cross_device", code)
      assert.truthy(msg:find("one file system", 1, true), msg)
    end)

    it("renames the temp file over the target and keeps the target's mode", function()
      local target = dir .. "/default.pgo"
      helpers.write_file(target, "old")
      os.execute("chmod 640 " .. helpers.shq(target))
      local tmp, f = pgo.fs.tempfile(dir)
      f:write("new")
      f:close()
      assert.is_true(pgo.fs.replace(tmp, target))
      assert.equal("new", helpers.read_file(target))
      assert.equal(tonumber("640", 8), mode_of(target))
      assert.same({ "default.pgo" }, listing(dir))
    end)

    it("gives a new target 0666 minus the umask, or the mode asked for", function()
      local tmp, f = pgo.fs.tempfile(dir)
      f:close()
      assert.is_true(pgo.fs.replace(tmp, dir .. "/a.pgo"))
      local umask = tonumber((helpers.run("umask"):match("%d+")), 8)
      assert.equal(tonumber("666", 8) & ~umask, mode_of(dir .. "/a.pgo"))
      tmp, f = pgo.fs.tempfile(dir)
      f:close()
      assert.is_true(pgo.fs.replace(tmp, dir .. "/b.pgo", { mode = "644" }))
      assert.equal(tonumber("644", 8), mode_of(dir .. "/b.pgo"))
    end)

    it("leaves the target untouched when the temp file is missing", function()
      local target = dir .. "/default.pgo"
      helpers.write_file(target, "old")
      local ok, msg, code = pgo.fs.replace(dir .. "/nope", target)
      assert.is_nil(ok)
      assert.equal("not_found", code)
      assert.truthy(msg:find("nope", 1, true))
      assert.equal("old", helpers.read_file(target))
    end)

    it("fails on a target in a missing directory and keeps the temp file", function()
      local tmp, f = pgo.fs.tempfile(dir)
      f:close()
      local ok, _, code = pgo.fs.replace(tmp, dir .. "/no/such/dir/x.pgo")
      assert.is_nil(ok)
      assert.equal("not_found", code)
      assert.is_true(pgo.fs.exists(tmp))
    end)
  end)

  describe("write_atomic()", function()
    it("writes through a temporary file and leaves nothing else", function()
      assert.is_true(pgo.fs.write_atomic(dir .. "/body.md", "# hello\n"))
      assert.equal("# hello\n", helpers.read_file(dir .. "/body.md"))
      assert.same({ "body.md" }, listing(dir))
    end)
  end)

  describe("remove(), exists(), stat(), fsync(), dirname()", function()
    it("work on files and report missing ones", function()
      local p = dir .. "/x"
      assert.is_false(pgo.fs.exists(p))
      helpers.write_file(p, "12345")
      assert.is_true(pgo.fs.exists(p))
      local st = pgo.fs.stat(p)
      assert.equal("file", st.type)
      assert.equal(5, st.size)
      assert.equal("directory", pgo.fs.stat(dir).type)
      assert.is_true(pgo.fs.fsync(p))
      assert.is_true(pgo.fs.fsync(dir))
      assert.is_true(pgo.fs.remove(p))
      local ok, msg, code = pgo.fs.remove(p)
      assert.is_nil(ok)
      assert.equal("not_found", code)
      assert.truthy(msg:find(p, 1, true))
      local none, _, code2 = pgo.fs.stat(p)
      assert.is_nil(none)
      assert.equal("not_found", code2)
      assert.equal(dir, pgo.fs.dirname(p))
      assert.equal(".", pgo.fs.dirname("default.pgo"))
      assert.equal("/", pgo.fs.dirname("/x"))
    end)
  end)

  describe("isatty()", function()
    it("is false for a pipe and raises on a non-stream", function()
      local out = helpers.pgolua_run([[-e 'print(require("pgo").fs.isatty(io.stdout))']])
      assert.equal("false\n", out)
      assert.has_error(function() pgo.fs.isatty("x") end)
    end)
  end)
  describe("a request's temporary file (src/net/transport.c)", function()
    -- net.h promises the download is on the disk before the caller renames it into
    -- place: strace -y names the file of each fsync.
    it("is flushed with fsync before the request returns", function()
      if not helpers.strace() then pending("strace cannot run here (scripts/deps.sh test)") return end
      helpers.write_file(dir .. "/src", "profile bytes")
      local code = ("local r = assert(require('pgo.core.net').request{url = %q, allow_file = true,"
        .. " dir = %q}) io.write(r.temp_path)"):format("file://" .. dir .. "/src", dir)
      local temp, err, status = helpers.run((NO_LSAN .. "strace -f -y -o %s -e trace=fsync %s -e %s"):format(
        helpers.shq(dir .. "/log"), helpers.shq(helpers.pgolua), helpers.shq(code)))
      assert.equal(0, status, err)
      assert.truthy(temp:find("/.pgolua-fetch.", 1, true), temp)
      assert.equal("profile bytes", helpers.read_file(temp))
      local log = helpers.read_file(dir .. "/log")
      assert.truthy(log:find("fsync%(%d+<" .. temp:gsub("%p", "%%%0") .. ">%) = 0"), log)
    end)
  end)

  describe("sweep_temps", function()
    it("removes only aged, unlocked .pgolua* leftovers of this user", function()
      local dir = helpers.tmpdir()
      local q = helpers.shq
      local function touch(name, age)
        helpers.write_file(dir .. "/" .. name, "x")
        if age then helpers.run(("touch -d @%d %s"):format(os.time() - age, q(dir .. "/" .. name))) end
      end
      touch(".pgolua-refresh.abc123", 700)     -- stale: swept
      touch(".pgolua.zz9zz9", 700)             -- stale: swept
      touch(".pgolua-fetch.def456", 60)        -- young: kept
      touch(".pgolua-fetch.notes.txt", 700)    -- not a temp name: kept
      touch(".pgoluax.abc123", 700)            -- another family: kept
      touch("default.pgo", 700)
      helpers.run("ln -s default.pgo " .. q(dir .. "/.pgolua.lnk123"))   -- a link: kept
      local live, f = assert(pgo.fs.tempfile(dir, "pgolua-refresh"))     -- locked while open
      helpers.run(("touch -d @%d %s"):format(os.time() - 3600, q(live)))
      assert.equal(2, pgo.fs.sweep_temps(dir, 600))
      local names = listing(dir)
      f:close()
      helpers.rm_rf(dir)
      local live_name = live:match("[^/]+$")
      local want = { ".pgolua-fetch.def456", ".pgolua-fetch.notes.txt", ".pgolua.lnk123",
        ".pgoluax.abc123", "default.pgo", live_name }
      table.sort(want)
      assert.same(want, names)
    end)

    -- Each writer killed (SIGKILL, injected by strace as it enters fsync: after its
    -- data is written, before the rename) leaves its temporary file behind; every one is
    -- of the one family, and the sweep removes it.
    it("removes what a writer killed mid-write left, for every writer", function()
      if not helpers.strace() then pending("strace cannot run here (scripts/deps.sh test)") return end
      local profile = helpers.fixture("profiles/shop.p1.pgo")
      local writers = {
        ["p:write"] = ("require('pgo').load(%q):write(%q)"):format(profile, dir .. "/default.pgo"),
        write_atomic = ("require('pgo').fs.write_atomic(%q, 'x')"):format(dir .. "/body.md"),
        tempfile = ("local fs = require('pgo').fs local p, f = fs.tempfile(%q, 'cpu')"):format(dir)
          .. " f:write('x') f:flush() fs.fsync(p)",
      }
      for name, code in pairs(writers) do
        local _, err, status = helpers.run((NO_LSAN .. "strace -f -o /dev/null -e trace=fsync "
          .. "-e inject=fsync:signal=KILL %s -e %s"):format(helpers.shq(helpers.pgolua), helpers.shq(code)))
        assert.are_not.equal(0, status, name .. ": " .. err)
        local left = listing(dir)
        assert.equal(1, #left, name .. " left " .. table.concat(left, ", "))
        assert.truthy(left[1]:match("^%.pgolua%-[a-z0-9-]+%.[a-z0-9]+$"), name .. " left " .. left[1])
        assert.equal(1, pgo.fs.sweep_temps(dir, 0), name)
        assert.same({}, listing(dir))
      end
    end)

    it("returns 0 for a missing directory and raises on a bad age", function()
      assert.equal(0, pgo.fs.sweep_temps("/nonexistent/pgolua-spec", 600))
      assert.has_error(function() pgo.fs.sweep_temps("/tmp", -1) end)
      assert.has_error(function() pgo.fs.sweep_temps("/tmp") end)
    end)
  end)
end)
