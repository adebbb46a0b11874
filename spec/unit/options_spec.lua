-- pgo.options: the one option checker, and the unknown options it catches in the
-- functions that read the network (no server needed: the check comes first).
local pgo = require "pgo"
local options = require "pgo.options"

describe("pgo.options", function()
  local SPEC = { n = "integer", name = "string", seconds = "number|false",
    frac = function(v) return type(v) == "number" and v >= 0 and v <= 1, "a fraction" end }

  describe("check()", function()
    it("returns the table, or {} for nil", function()
      local t = { n = 3, name = "x", seconds = false, frac = 0.5 }
      assert.equal(t, options.check("f", 2, t, SPEC))
      assert.same({}, options.check("f", 2, nil, SPEC))
    end)

    it("raises on an unknown option, at the caller", function()
      local function f(opts) local o = options.check("f", 2, opts, SPEC); return o end
      local ok, err = pcall(function() f { nn = 1 } end)
      assert.is_false(ok)
      assert.matches("options_spec.lua:%d+: bad argument #2 to 'f' %(unknown option 'nn'%)$", err)
    end)

    it("raises on a wrong type or a value its test refuses", function()
      assert.has_error(function() options.check("f", 1, { n = 1.5 }, SPEC, 0) end,
        "bad argument #1 to 'f' (option 'n' must be an integer, got 1.5)")
      assert.has_error(function() options.check("f", 1, { seconds = true }, SPEC, 0) end,
        "bad argument #1 to 'f' (option 'seconds' must be a number or false, got boolean)")
      assert.has_error(function() options.check("f", 1, { frac = 2 }, SPEC, 0) end,
        "bad argument #1 to 'f' (option 'frac' must be a fraction, got 2)")
      assert.has_error(function() options.check("f", 1, "x", SPEC, 0) end,
        "bad argument #1 to 'f' (table expected, got string)")
    end)
  end)

  it("problem() names what is wrong without raising", function()
    assert.is_nil(options.problem({ n = 1 }, SPEC))
    assert.equal("unknown option 'x'", options.problem({ x = 1 }, SPEC))
  end)

  it("fail() gives nil, message, code", function()
    local v, msg, code = options.fail("not_cpu", "%s is a %s profile", "a.pgo", "heap")
    assert.is_nil(v)
    assert.equal("a.pgo is a heap profile", msg)
    assert.equal("not_cpu", code)
  end)

  describe("in the capture functions", function()
    it("pgo.fetch.profile and fleet raise on a misspelt option instead of capturing", function()
      assert.has_error(function() pgo.fetch.profile("http://127.0.0.1:1", { secnds = 1 }) end,
        "bad argument #2 to 'profile' (unknown option 'secnds')")
      assert.has_error(function() pgo.fetch.fleet({ "http://127.0.0.1:1" }, { timout = 2 }) end,
        "bad argument #2 to 'fleet' (unknown option 'timout')")
    end)

    it("every pgo.backends entry point raises on an unknown option", function()
      for _, f in ipairs { "pprof", "pyroscope", "parca", "file" } do
        assert.has_error(function() pgo.backends[f] { url = "http://127.0.0.1:1", nope = 1 } end,
          ("bad argument #1 to '%s' (unknown option 'nope')"):format(f))
      end
      assert.has_error(function()
        pgo.backends.fetch { urls = { "http://127.0.0.1:1" }, concurency = 2 }
      end, "bad argument #1 to 'fetch' (unknown option 'concurency')")
    end)
  end)
end)
