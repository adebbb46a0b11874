-- Installation as a person does it (docs/host.md "Installing"): a tree owned by a user,
-- built by that user, installed by root; a release tarball; a Debian package installed
-- with apt in a clean Debian root. Needs root (skipped otherwise) and builds pgolua from
-- scratch, so it is skipped under `make asan` (PGOLUA_BIN set): it tests the Makefile
-- and the packaging, not memory safety.
local helpers = require("spec.helpers")
local shq = helpers.shq

local USER = "65534"    -- nobody: owns the copy of the tree, as a developer owns theirs
local is_root = helpers.run("id -u") == "0\n"
local skip = not is_root and "needs root (sudo make install)"
  or os.getenv("PGOLUA_BIN") and "builds from scratch; not repeated under another binary"

-- Runs 'cmd' in 'dir' as the unprivileged owner of the tree.
local function as_user(dir, cmd)
  return helpers.run("cd " .. shq(dir) .. " && HOME=" .. shq(dir) .. " setpriv --reuid=" .. USER
    .. " --regid=" .. USER .. " --clear-groups sh -c " .. shq(cmd))
end

local function as_root(dir, cmd)
  return helpers.run("cd " .. shq(dir) .. " && " .. cmd)
end

-- Every regular file under 'dir', relative, sorted.
local function files_under(dir)
  local out = helpers.run("(cd " .. shq(dir) .. " && find . -type f | LC_ALL=C sort)")
  local t = {}
  for f in out:gmatch("[^\n]+") do t[#t + 1] = f end
  return t
end

(skip and pending or describe)(skip or "installation", function()
  local tmp, tree, version

  setup(function()
    tmp = helpers.tmpdir()
    os.execute("chmod 755 " .. shq(tmp))
    tree = tmp .. "/src"
    -- The committed tree plus the working tree's changes to it, as a clone the user owns.
    assert(os.execute("git clone -q " .. shq(helpers.root) .. " " .. shq(tree)))
    assert(os.execute("cd " .. shq(helpers.root) .. " && git ls-files -z | xargs -0 tar -cf - | tar -xf - -C " .. shq(tree)))
    assert(os.execute("chown -R " .. USER .. ":" .. USER .. " " .. shq(tmp)))
    version = as_user(tree, "git describe --tags --always --dirty"):match("^(%S+)\n$")
    assert(version, "no git description of the copy")
    local _, err, code = as_user(tree, "make -j2 PREFIX=" .. shq(tmp .. "/prefix"))
    assert(code == 0, err)
  end)
  teardown(function() helpers.rm_rf(tmp) end)

  describe("sudo make install from a tree the user owns", function()
    local out, err, code
    setup(function()
      out, err, code = as_root(tree, "make install PREFIX=" .. shq(tmp .. "/prefix"))
    end)

    it("installs without rebuilding or writing anything in the tree as root", function()
      assert.are.equal(0, code, err)
      assert.is_nil(out:find("\nCC ", 1, true) or out:find("LINK", 1, true), out)
      assert.are.equal("", (helpers.run("find " .. shq(tree) .. " -uid 0")))
    end)

    it("reports the tree's real version", function()
      local v = helpers.run("cd / && " .. shq(tmp .. "/prefix/bin/pgolua") .. " --version")
      assert.are.equal("pgolua " .. version, v:match("^[^\n]+"))
      assert.is_nil(v:find("unknown", 1, true))
    end)

    it("lays out the binary, the man page and every recipe", function()
      local want = {"./bin/pgolua", "./share/man/man1/pgolua.1"}
      for _, r in ipairs(helpers.listing(helpers.root .. "/recipes")) do
        if r:match("%.lua$") then want[#want + 1] = "./share/pgolua/recipes/" .. r end
      end
      table.sort(want)
      assert.are.same(want, files_under(tmp .. "/prefix"))
      local man = helpers.read_file(tmp .. "/prefix/share/man/man1/pgolua.1")
      assert.is_nil(man:find("@%u[%u_]*@"))          -- every placeholder filled in
      assert.truthy(man:find(tmp .. "/prefix/share/pgolua/recipes", 1, true))
    end)

    it("runs the man page's examples as written, from a directory with cpu.pgo", function()
      local man = helpers.read_file(tmp .. "/prefix/share/man/man1/pgolua.1")
      local work = tmp .. "/work"
      assert(os.execute("mkdir -p " .. shq(work) .. " && cp -r " .. shq(helpers.root .. "/examples/service/.")
        .. " " .. shq(work) .. " && cp " .. shq(helpers.root .. "/examples/profiles/demo.pgo") .. " "
        .. shq(work .. "/cpu.pgo")))
      local n = 0
      for block in man:gmatch("%.SH EXAMPLES(.-)%.SH") do
        for lines in block:gmatch("%.nf\n(.-)%.fi") do
          for line in lines:gmatch("[^\n]+") do
            local cmd = line:gsub("\\%-", "-")
            local o, e, c = helpers.run("cd " .. shq(work) .. " && PATH=" .. shq(tmp .. "/prefix/bin")
              .. ":$PATH " .. cmd)
            assert.are.equal(0, c, cmd .. "\n" .. e)
            assert.is_nil(e:find("pgolua:", 1, true), cmd .. "\n" .. e)
            n = n + 1
            if cmd:match("^pgolua top") then assert.matches("Showing top 20 nodes", o) end
          end
        end
      end
      assert.is_true(n >= 3)
    end)

    it("is removed file by file by make uninstall", function()
      local _, e, c = as_root(tree, "make uninstall PREFIX=" .. shq(tmp .. "/prefix"))
      assert.are.equal(0, c, e)
      assert.are.same({}, files_under(tmp .. "/prefix"))
    end)
  end)

  -- make deb-check: apt installs the package in a clean Debian root (debootstrap, built
  -- once into the cache) and `pgolua top` runs there from /.
  local no_debootstrap = helpers.run("command -v debootstrap") == "" and "needs debootstrap"
  ;(no_debootstrap and pending or it)(no_debootstrap or
      "builds a .deb that apt installs in a clean Debian root, where pgolua top runs", function()
    local out, err, code = as_user(tree, "make deb")
    assert.are.equal(0, code, err)
    local deb = out:match("mkdeb: (%S+%.deb)")
    assert.truthy(deb, out)
    local info = helpers.run("dpkg-deb -f " .. shq(tree .. "/" .. deb) .. " Depends")
    for _, p in ipairs{"liblua5.4-0", "libcurl4", "libprotobuf-c1", "zlib1g", "libedit2",
                       "lua-argparse", "lua-cjson"} do
      assert.truthy(info:find(p, 1, true), p .. " missing from Depends: " .. info)
    end
    out, err, code = as_root(tree, "scripts/clean-root.sh " .. shq(deb))
    assert.are.equal(0, code, err)
    assert.are.equal("pgolua " .. version, out:match("^[^\n]+"))
    assert.matches("Showing top 5 nodes out of %d+", out)
    assert.matches("runtime%.asyncPreempt", out)
  end)

  it("builds and installs from the make dist tarball with the same version", function()
    local out, err, code = as_user(tree, "make dist")
    assert.are.equal(0, code, err)
    local tarball = out:match("dist: (%S+%.tar%.gz)")
    assert.truthy(tarball, out)
    local untar = tmp .. "/untar"
    _, err, code = as_user(tmp, "mkdir untar && tar -xzf " .. shq(tree .. "/" .. tarball) .. " -C untar")
    assert.are.equal(0, code, err)
    local top = untar .. "/pgolua-" .. version
    assert.are.equal(version .. "\n", helpers.read_file(top .. "/VERSION"))
    _, err, code = as_user(top, "make -j2 PREFIX=" .. shq(tmp .. "/prefix2"))
    assert.are.equal(0, code, err)
    _, err, code = as_root(top, "make install PREFIX=" .. shq(tmp .. "/prefix2"))
    assert.are.equal(0, code, err)
    local v = helpers.run("cd / && " .. shq(tmp .. "/prefix2/bin/pgolua") .. " --version")
    assert.are.equal("pgolua " .. version, v:match("^[^\n]+"))
  end)
end)
