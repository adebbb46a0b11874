-- The Go version matrix for the compiler: every toolchain of PGOLUA_GO_VERSIONS (see
-- spec/support/gomatrix.lua) builds the shop (testdata/gosrc/shop-v1) with -pgo=off and
-- with the steady profile, with -gcflags=-m=2 and -d=pgodebug=1; pgo.inline reads the
-- decisions, pgo.compiler's hot call sites match the compiler's threshold and hot-budget
-- functions, and pgo.symbols_binary reads the build info and pclntab of the binaries.
-- The Go build cache (under the user cache) makes a second run cheap.
local helpers = require "helpers"
local gomatrix = require "support.gomatrix"
local pgo = require "pgo"
local inline = require "pgo.inline"
local sb = require "pgo.symbols_binary"

local shq = helpers.shq

local function build(v, src, args, out)
  local _, err, code = helpers.run("cd " .. shq(src) .. " && GOFLAGS='-trimpath -buildvcs=false' "
    .. v.go .. " build " .. args .. " -o " .. shq(out) .. " ./cmd/shop")
  assert.equal(0, code, err)
  return err
end

describe("#matrix the compiler of each Go", function()
  local tmp, src, profile
  setup(function()
    tmp = helpers.tmpdir()
    src, profile = tmp .. "/shop", tmp .. "/shop.steady.pgo"
    assert(os.execute("cp -R " .. shq(helpers.fixture("gosrc/shop-v1")) .. " " .. shq(src) ..
      " && chmod -R u+w " .. shq(src) .. " && cp " ..
      shq(helpers.fixture("profiles/shop.steady.pgo")) .. " " .. shq(profile)))
  end)
  teardown(function() helpers.rm_rf(tmp) end)

  for _, v in ipairs(gomatrix.versions()) do
    if v.missing then
      it(v.entry, function() pending("not available: " .. v.missing) end)
    else
      it(v.name .. ": PGO devirtualizes c.Get and inlines lookupBatch on the hot budget", function()
        local m2 = shq("example.com/shop/...=-m=2")
        local off = build(v, src, "-pgo=off -gcflags=" .. m2, tmp .. "/off")
        local on = build(v, src, "-pgo=" .. shq(profile) .. " -gcflags=" .. m2, tmp .. "/on")
        local d = inline.diff(off, on)
        local devirt, hot
        for _, s in ipairs(d.pgo_only) do
          if s.kind == "pgo_devirtualize" and s.callee == "cache.(*RedisCache).Get" then devirt = s end
          if s.kind == "inline" and s.callee == "lookupBatch" then hot = s end
        end
        assert.is_truthy(devirt, "not in pgo_only:\n" .. inline.format(d.pgo_only))
        assert.is_truthy(hot, "not in pgo_only:\n" .. inline.format(d.pgo_only))
        assert.equal("hot", hot.budget)
      end)

      it(v.name .. ": -d=pgodebug=1 threshold and hot functions are pgolua's", function()
        local log = build(v, src, "-pgo=" .. shq(profile) .. " -gcflags="
          .. shq("example.com/shop/...=-d=pgodebug=1"), tmp .. "/dbg")
        local hot = assert(pgo.load(profile)):hot_callsites()
        assert.equal(hot.threshold, log:match("hot%-callsite%-thres%-from%-CDF=(%S+)"))
        local callees = {}
        for _, name in ipairs(hot.callees) do callees[name] = true end
        local n = 0
        for name in log:gmatch("hot%-node enabled increased budget=%d+ for func=([^\n]+)") do
          assert.is_true(callees[name], name)
          n = n + 1
        end
        assert.is_true(n > 0)
      end)

      it(v.name .. ": build info and pclntab of its binaries", function()
        local bin = tmp .. "/shop.pgo"
        build(v, src, "-pgo=" .. shq(profile), bin)
        local info = assert(sb.buildinfo(bin))
        assert.equal(v.name, info.go_version)
        assert.matches("shop%.steady%.pgo$", info.settings["-pgo"])
        local want = helpers.run(v.go .. " version -m " .. shq(bin))
        assert.equal(want, sb.format_version_m(info, bin))
        -- "auto" reads the ELF .symtab of this unstripped build; "pclntab" Go's own table
        for source, want_source in pairs { auto = "symtab", pclntab = "pclntab" } do
          local b = assert(sb.binary(bin, { source = source }))
          assert.equal(want_source, b.source)
          local names = {}
          for _, f in ipairs(b.functions) do names[f.name] = true end
          assert.is_true(names["main.main"], source)
          assert.is_true(names["example.com/shop/internal/cache.(*RedisCache).Get"], source)
        end
      end)
    end
  end
end)
