-- Files in the working directory (or on LUA_PATH) never stand in for pgolua's own code:
-- the library's modules come before package.path, and recipes before same-named files.
-- Checked for the binary of the source tree and for a copy that runs its embedded code.
local helpers = require("spec.helpers")
local shq = helpers.shq

describe("code planted in the working directory", function()
  local dir, copy

  before_each(function()
    dir = helpers.tmpdir()
    -- The planted code: a library stand-in, a submodule stand-in, and a `top` directory
    -- and file where the recipe name is looked up.
    local evil = 'io.stderr:write("PLANTED CODE RAN\\n") return {version = "planted"}'
    helpers.write_file(dir .. "/pgo.lua", evil)
    assert(os.execute("mkdir -p " .. shq(dir .. "/pgo") .. " " .. shq(dir .. "/top")))
    helpers.write_file(dir .. "/pgo/init.lua", evil)
    helpers.write_file(dir .. "/pgo/report.lua", evil)
    helpers.write_file(dir .. "/pgo/units.lua", evil)
    os.execute("cp " .. shq(helpers.root .. "/examples/profiles/demo.pgo") .. " " .. shq(dir .. "/cpu.pgo"))
    copy = dir .. "/bin/pgolua"
    assert(os.execute("mkdir -p " .. shq(dir .. "/bin") .. " && cp " .. shq(helpers.pgolua) .. " " .. shq(copy)))
  end)
  after_each(function() helpers.rm_rf(dir) end)

  -- Runs 'bin' with 'args' in the planted directory, LUA_PATH pointing there too.
  local function run_in_dir(bin, args)
    return helpers.run("cd " .. shq(dir) .. " && LUA_PATH='./?.lua;./?/init.lua;;' "
      .. shq(bin) .. " " .. args)
  end

  for _, which in ipairs{"source tree", "copied"} do
    local function bin() return which == "copied" and copy or helpers.pgolua end

    describe("with the " .. which .. " binary", function()
      it("loads the real library, not ./pgo.lua or ./pgo/", function()
        local out, err, code = run_in_dir(bin(),
          [[-e 'local pgo = require "pgo"; print(pgo.version, type(pgo.load), type(require("pgo.report").top))']])
        assert.are.equal(0, code, err)
        assert.are.equal("", err)
        local version = helpers.pgolua_run("--version"):match("^pgolua (%S+)")
        assert.are.equal(version .. "\tfunction\tfunction\n", out)
      end)

      it("runs the top recipe despite a `top` directory", function()
        local out, err, code = run_in_dir(bin(), "top -n 3 cpu.pgo")
        assert.are.equal(0, code, err)
        assert.is_nil(err:find("PLANTED", 1, true))
        assert.matches("Showing top 3 nodes out of %d+", out)
        assert.matches("runtime%.asyncPreempt", out)
      end)

      it("runs the top recipe despite a `top` file", function()
        helpers.rm_rf(dir .. "/top")
        helpers.write_file(dir .. "/top", 'print("PLANTED top file")')
        local out, err, code = run_in_dir(bin(), "top -n 1 cpu.pgo")
        assert.are.equal(0, code, err)
        assert.is_nil(out:find("PLANTED", 1, true))
        assert.matches("Showing top 1 nodes", out)
      end)
    end)
  end

  it("still lets a script load its own modules from package.path", function()
    helpers.write_file(dir .. "/mymod.lua", 'return {answer = 42}')
    local out, _, code = run_in_dir(helpers.pgolua, [[-e 'print(require("mymod").answer)']])
    assert.are.equal(0, code)
    assert.are.equal("42\n", out)
  end)
end)
