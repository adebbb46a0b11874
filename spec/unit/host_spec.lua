-- The pgolua command line (src/host/main.c), tested black-box like lua/lua testes/main.lua:
-- write a chunk to a temporary file, run the binary, compare output and exit status.
local helpers = require("spec.helpers")

local run, shq = helpers.pgolua_run, helpers.shq

-- The recipes of the source tree by name ("ab doctor ..."), as the binary lists them.
local function recipe_names()
  local names = {}
  for _, f in ipairs(helpers.listing("recipes")) do names[#names + 1] = f:match("^(.+)%.lua$") end
  return table.concat(names, " ")
end

describe("pgolua command line", function()
  local dir

  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  -- Writes 'code' to a file in the temporary directory and returns its path.
  local function script(name, code)
    local path = dir .. "/" .. name
    helpers.write_file(path, code)
    return path
  end

  describe("script and arguments", function()
    it("sets arg[0] to the script and arg[1..] to its arguments", function()
      local s = script("args.lua", 'print(#arg, arg[0], arg[1], arg[2])')
      local out, err, code = run(shq(s) .. " one 'two words'")
      assert.are.equal("2\t" .. s .. "\tone\ttwo words\n", out)
      assert.are.equal("", err)
      assert.are.equal(0, code)
    end)

    it("puts the interpreter and the options at negative indices", function()
      local s = script("neg.lua", 'for i = -3, 0 do io.write(i, "=", arg[i], " ") end print()')
      local out, _, code = run("-e 'x=1' -- " .. shq(s) .. " a")
      assert.are.equal("-3=-e -2=x=1 -1=-- 0=" .. s .. " \n", out)
      assert.are.equal(0, code)
    end)

    it("sets arg[0] to the interpreter and arg[1..] to the options when there is no script", function()
      -- arg[0] is the binary as invoked (pgolua, or pgolua-asan under `make asan`)
      local out, _, code = run("-e 'print(arg[0]:match(\"/(pgolua)[%w-]*$\"), arg[1], #arg, arg[-1])'")
      assert.are.equal("pgolua\t-e\t2\tnil\n", out)
      assert.are.equal(0, code)
    end)

    it("passes the script's arguments as '...'", function()
      local s = script("dots.lua", 'print(select("#", ...), ...)')
      local out = run(shq(s) .. " a b c")
      assert.are.equal("3\ta\tb\tc\n", out)
    end)

    it("runs the standard input for '-', with its arguments", function()
      local out, _, code = run("- x y", 'print(arg[0], ...)')
      assert.are.equal("-\tx\ty\n", out)
      assert.are.equal(0, code)
    end)

    it("runs the standard input when there is no script and stdin is not a terminal", function()
      local out, _, code = run("", "print(1 + 1)")
      assert.are.equal("2\n", out)
      assert.are.equal(0, code)
    end)

    it("takes the word after '--' as the script even when it starts with '-'", function()
      script("-dash.lua", 'print("dash", ...)')
      local out, _, code = helpers.run("cd " .. shq(dir) .. " && " .. shq(helpers.pgolua)
        .. " -- -dash.lua -v")
      assert.are.equal("dash\t-v\n", out)
      assert.are.equal(0, code)
    end)

    it("runs a file named '-' after '--' instead of stdin", function()
      local out, err, code = run("-- -", "print('stdin is not read')")
      assert.are.equal("", out)
      assert.are.equal(1, code)
      assert.matches("^pgolua: cannot open %-", err)
    end)
  end)

  describe("-e, -l, -W", function()
    it("runs -e chunks in order, attached or as the next word", function()
      local out, _, code = run("-e 'x = 1' -e'x = x + 1' -e 'print(x)'")
      assert.are.equal("2\n", out)
      assert.are.equal(0, code)
    end)

    it("runs -e before the script", function()
      local s = script("after.lua", "print(X)")
      assert.are.equal("set\n", (run("-e 'X=\"set\"' " .. shq(s))))
    end)

    it("requires -l mod into the global 'mod'", function()
      script("mymod.lua", 'return { name = "mymod" }')
      local out, err, code = helpers.run("cd " .. shq(dir) .. " && " .. shq(helpers.pgolua)
        .. " -l mymod -e 'print(mymod.name)'")
      assert.are.equal("mymod\n", out)
      assert.are.equal("", err)
      assert.are.equal(0, code)
    end)

    it("drops a version suffix after '-' from the global name", function()
      script("vermod-2.lua", 'return { name = "vermod" }')
      local out, _, code = helpers.run("cd " .. shq(dir) .. " && " .. shq(helpers.pgolua)
        .. " -l vermod-2 -e 'print(vermod.name)'")
      assert.are.equal("vermod\n", out)
      assert.are.equal(0, code)
    end)

    it("requires -l g=mod into the global 'g'", function()
      local out = run("-l s=string -e 'print(s.format(\"%03d\", 7), rawget(_G, \"string\") == s)'")
      assert.are.equal("007\ttrue\n", out)
    end)

    it("reports a missing -l module and exits 1", function()
      local _, err, code = run("-l no_such_module_xyz -e 'print(1)'")
      assert.are.equal(1, code)
      assert.matches("^pgolua: module 'no_such_module_xyz' not found", err)
    end)

    it("turns warnings on with -W", function()
      local _, err = run("-W -e 'warn(\"careful\")'")
      assert.are.equal("Lua warning: careful\n", err)
      local _, err2 = run("-e 'warn(\"careful\")'")
      assert.are.equal("", err2)
    end)
  end)

  describe("errors and exit status", function()
    it("exits with os.exit's status", function()
      local _, _, code = run("-e 'os.exit(3)'")
      assert.are.equal(3, code)
      local _, _, code2 = run("-e 'os.exit(true)'")
      assert.are.equal(0, code2)
      local _, _, code3 = run("-e 'os.exit(false)'")
      assert.are.equal(1, code3)
    end)

    it("prints 'pgolua: message' and a traceback on stderr and exits 1", function()
      local s = script("boom.lua", 'local function f() error("boom") end\nf()\n')
      local out, err, code = run(shq(s))
      assert.are.equal("", out)
      assert.are.equal(1, code)
      assert.are.equal("pgolua: " .. s .. ":1: boom\nstack traceback:\n", err:sub(1, #s + 34))
      assert.matches("in local 'f'", err, 1, true)
    end)

    it("prints a non-string error through its __tostring", function()
      local _, err, code = run([[-e 'error(setmetatable({}, {__tostring = function() return "custom object" end}))']])
      assert.are.equal(1, code)
      assert.matches("^pgolua: custom object\nstack traceback:\n", err)
    end)

    it("names the type of a non-string error without __tostring", function()
      local _, err, code = run("-e 'error({})'")
      assert.are.equal(1, code)
      assert.matches("^pgolua: %(error object is a table value%)\n", err)
    end)

    it("reports syntax errors with the chunk name", function()
      local _, err, code = run("-e 'x = = 1'")
      assert.are.equal(1, code)
      assert.matches("^pgolua: %(command line%):1: unexpected symbol near '='", err)
    end)

    it("stops at the first failing -e and does not run the script", function()
      local s = script("never.lua", 'print("ran")')
      local out, _, code = run("-e 'error(\"first\")' " .. shq(s))
      assert.are.equal("", out)
      assert.are.equal(1, code)
    end)
  end)

  describe("init variable", function()
    local function with_env(env, args, stdin)
      return helpers.run("env -u PGOLUA_INIT -u LUA_INIT_5_4 -u LUA_INIT " .. env .. " "
        .. shq(helpers.pgolua) .. " " .. args, stdin)
    end

    it("runs PGOLUA_INIT before the options", function()
      local out = with_env("PGOLUA_INIT='X = 41'", "-e 'print(X + 1)'")
      assert.are.equal("42\n", out)
    end)

    it("prefers PGOLUA_INIT over LUA_INIT_5_4 over LUA_INIT", function()
      assert.are.equal("p\n", (with_env("PGOLUA_INIT='print\"p\"' LUA_INIT_5_4='print\"54\"' LUA_INIT='print\"l\"'", "-e ''")))
      assert.are.equal("54\n", (with_env("LUA_INIT_5_4='print\"54\"' LUA_INIT='print\"l\"'", "-e ''")))
      assert.are.equal("l\n", (with_env("LUA_INIT='print\"l\"'", "-e ''")))
    end)

    it("runs a file given as @file", function()
      local f = script("init.lua", 'print("from file")')
      local out, _, code = with_env("PGOLUA_INIT=@" .. shq(f), "-e ''")
      assert.are.equal("from file\n", out)
      assert.are.equal(0, code)
    end)

    it("reports an error in the init code with the variable's name", function()
      local _, err, code = with_env("PGOLUA_INIT='error(\"bad init\")'", "-e 'print(1)'")
      assert.are.equal(1, code)
      assert.matches("^pgolua: PGOLUA_INIT:1: bad init", err)
    end)

    it("is ignored with -E, as are LUA_PATH and friends", function()
      local out = with_env("PGOLUA_INIT='print\"init\"' LUA_PATH='/nowhere/?.lua'",
        "-E -e 'print(package.path:find(\"/nowhere\", 1, true))'")
      assert.are.equal("nil\n", out)
      local out2 = with_env("LUA_PATH='/nowhere/?.lua'",
        "-e 'print(package.path:find(\"/nowhere\", 1, true) ~= nil)'")
      assert.are.equal("true\n", out2)
    end)
  end)

  describe("versions and usage", function()
    it("prints the versions with --version and exits 0", function()
      local out, err, code = run("--version")
      assert.are.equal(0, code)
      assert.are.equal("", err)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal(5, #lines)
      assert.matches("^pgolua %S+$", lines[1])
      assert.matches("^Lua 5%.4%.%d+$", lines[2])
      assert.matches("^protobuf%-c %d", lines[3])
      assert.matches("^zlib %d", lines[4])
      assert.matches("^libcurl %d", lines[5])
    end)

    it("does not run anything after --version", function()
      local out, _, code = run("--version -e 'print(\"no\")'")
      assert.are.equal(0, code)
      assert.is_nil(out:find("no", 1, true))
    end)

    it("prints the same versions with -v, then runs the rest", function()
      local version = run("--version")
      local out, _, code = run("-v -e 'print(\"after\")'")
      assert.are.equal(version .. "after\n", out)
      assert.are.equal(0, code)
      local only = run("-v", "print('stdin not run after -v')")
      assert.are.equal(version, only)
    end)

    it("rejects an unknown option with the usage text and status 1", function()
      local out, err, code = run("-x")
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^pgolua: unrecognized option '%-x'\nusage: pgolua %[options%] %[script %[args%]%]", err)
    end)

    it("rejects -e without its argument", function()
      local _, err, code = run("-e")
      assert.are.equal(1, code)
      assert.matches("^pgolua: '%-e' needs an argument\nusage: pgolua", err)
    end)

    it("rejects an unknown long option", function()
      local _, err, code = run("--frobnicate")
      assert.are.equal(1, code)
      assert.matches("^pgolua: unrecognized option '%-%-frobnicate'", err)
    end)

    it("prints the usage and the recipes built in on stdout with --help and -h", function()
      local out, err, code = run("--help")
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.matches("^usage: pgolua", out)
      assert.truthy(out:find("\nRecipes: " .. recipe_names() .. "\n", 1, true), out)
      assert.are.same({out, "", 0}, {run("-h")})
    end)
  end)

  describe("recipes", function()
    -- A copy of the binary in the temporary directory, with recipes/ next to it.
    local function installed_copy()
      local bin = dir .. "/bin/pgolua"
      assert(os.execute("mkdir -p " .. shq(dir .. "/bin/recipes") .. " && cp "
        .. shq(helpers.pgolua) .. " " .. shq(bin)))
      helpers.write_file(dir .. "/bin/recipes/hello.lua",
        'print("hello recipe", arg[0]:match("recipes/hello%.lua$"), ...)\nos.exit(4)')
      return bin
    end

    it("runs recipes/NAME.lua next to the executable for a NAME that is not a file", function()
      local bin = installed_copy()
      local out, err, code = helpers.run("cd / && " .. shq(bin) .. " hello a b")
      assert.are.equal("hello recipe\trecipes/hello.lua\ta\tb\n", out)
      assert.are.equal("", err)
      assert.are.equal(4, code)
    end)

    it("accepts the name with its .lua suffix", function()
      local bin = installed_copy()
      local out = helpers.run("cd / && " .. shq(bin) .. " hello.lua")
      assert.are.equal("hello recipe\trecipes/hello.lua\n", out)
    end)

    it("prefers the recipe over a file of the same name; ./NAME and NAME.lua run the file", function()
      local bin = installed_copy()
      helpers.write_file(dir .. "/hello", 'print("the file")')
      helpers.write_file(dir .. "/hello.lua", 'print("the .lua file")')
      local cd = "cd " .. shq(dir) .. " && " .. shq(bin)
      assert.are.equal("hello recipe\trecipes/hello.lua\n", (helpers.run(cd .. " hello")))
      assert.are.equal("the file\n", (helpers.run(cd .. " ./hello")))
      assert.are.equal("the .lua file\n", (helpers.run(cd .. " hello.lua")))
    end)

    it("runs a plain NAME that is no recipe as the file NAME, as lua(1) does", function()
      helpers.write_file(dir .. "/myscript", 'print("my script", ...)')
      local out, _, code = helpers.run("cd " .. shq(dir) .. " && " .. shq(helpers.pgolua) .. " myscript x")
      assert.are.equal("my script\tx\n", out)
      assert.are.equal(0, code)
    end)

    it("says 'cannot open' and where it looked for an unknown name", function()
      local out, err, code = run("no_such_recipe_xyz")
      assert.are.equal("", out)
      assert.are.equal(1, code)
      assert.matches("^pgolua: cannot open no_such_recipe_xyz", err)
      assert.matches("no recipe 'no_such_recipe_xyz'", err, 1, true)
      assert.matches("/usr/local/share/pgolua/recipes", err, 1, true)
      assert.matches("among the recipes built in: " .. recipe_names() .. ";", err, 1, true)
    end)

    it("does not look up recipes for a path", function()
      local _, err, code = run("./no_such_recipe_xyz")
      assert.are.equal(1, code)
      assert.matches("^pgolua: cannot open ./no_such_recipe_xyz: No such file or directory\n$", err)
    end)
  end)

  describe("busted compatibility", function()
    it("runs busted through --lua=./pgolua, failures giving a non-zero status", function()
      helpers.write_file(dir .. "/ok_spec.lua",
        'describe("t", function() it("adds", function() assert.are.equal(2, 1 + 1) end) end)')
      helpers.write_file(dir .. "/bad_spec.lua",
        'describe("t", function() it("fails", function() assert.are.equal(3, 1 + 1) end) end)')
      local busted = "cd " .. shq(dir) .. " && busted --lua=" .. shq(helpers.pgolua) .. " -o TAP "
      local out, _, code = helpers.run(busted .. "ok_spec.lua")
      assert.matches("ok 1 %- t adds", out)
      assert.are.equal(0, code)
      local out2, _, code2 = helpers.run(busted .. "bad_spec.lua")
      assert.matches("not ok 1 %- t fails", out2)
      assert.are_not.equal(0, code2)
    end)
  end)
end)
