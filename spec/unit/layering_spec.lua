-- The layers of the C code (README, Layout): include/pgolua/ holds the core's
-- headers only (no Lua in them); the core (src/core, profile, symbols, net) includes no
-- binding or host header; and libcurl is initialised by the first transfer, not by
-- loading the library (pgo.version).
local helpers = require("spec.helpers")
local shq = helpers.shq

-- The text of every file matching 'pattern' under 'dir' (a shell glob), by path.
local function sources(glob)
  local t = {}
  for path in helpers.run("ls " .. glob):gmatch("[^\n]+") do t[path] = helpers.read_file(path) end
  return t
end

describe("layers", function()
  it("include/pgolua holds core headers only: none mentions Lua", function()
    local n = 0
    for path, text in pairs(sources("include/pgolua/*.h")) do
      n = n + 1
      assert.is_nil(text:find("#include <lua", 1, true), path)
      assert.is_nil(text:find("lua_State", 1, true), path)
    end
    assert.is_true(n > 0)
  end)

  it("the core includes no binding, host or generated-Lua header", function()
    for path, text in pairs(sources("src/core/*.c src/profile/*.c src/symbols/*.c src/net/*.c")) do
      for inc in text:gmatch('#include%s*["<]([^">]+)[">]') do
        assert.is_nil(inc:match("^lua") or inc:match("lua_%w+%.h$") or inc:match("embedded%.h$")
          or inc:match("repl%.h$"), path .. " includes " .. inc)
      end
    end
  end)

  it("the network layer moves bytes: it knows nothing of profiles or merging", function()
    for path, text in pairs(sources("src/net/*.c include/pgolua/net.h include/pgolua/http1.h "
        .. "include/pgolua/loaddriver.h")) do
      for inc in text:gmatch('#include%s*["<]([^">]+)[">]') do
        assert.is_nil(inc:match("profile%.h$") or inc:match("merge%.h$"), path .. " includes " .. inc)
      end
      assert.is_nil(text:find("pgo_merger", 1, true), path)
      assert.is_nil(text:find("pgo_profile_decode", 1, true), path)
    end
  end)
end)

describe("libcurl initialisation", function()
  local function run(code)
    return helpers.pgolua_run("-e " .. shq(code))
  end

  it("is not done by require 'pgo' nor by pgo.version", function()
    local out, err, code = run('local pgo = require "pgo"; io.write(pgo.version, " ", '
      .. 'tostring(debug.getregistry()["pgolua.curl"]))')
    assert.are.equal(0, code, err)
    assert.matches("^%S+ nil$", out)
  end)

  it("is done once by the first transfer", function()
    local out, err, code = run('local net = require "pgo.core.net"; '
      .. 'local r, msg, c = net.request{url = "http://127.0.0.1:1/", timeout = 2}; '
      .. 'io.write(tostring(r), " ", c, " ", tostring(debug.getregistry()["pgolua.curl"]))')
    assert.are.equal(0, code, err)
    assert.are.equal("nil connect true", out)
  end)
end)
