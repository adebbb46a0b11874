-- pgo.inline on fresh compiler output: build the shop (fixtures/gosrc/shop-v1, copied to a
-- temporary directory) with Go 1.23 twice, -pgo=off and -pgo=<profiles/shop.steady.pgo>,
-- with -gcflags='example.com/shop/...=-m=2', and diff the decisions.
--
-- Tagged #integration: it needs a Go toolchain (helpers.go(), Go 1.21+; pending without
-- it). Two builds of the shop: a few seconds with a warm build cache.
local helpers = require "helpers"
local inline = require "pgo.inline"

local shq = helpers.shq

describe("pgo.inline on a real PGO build #integration", function()
  local go = helpers.go()
  local tmp, off_text, on_text, build_err

  setup(function()
    if not go then return end
    tmp = helpers.tmpdir()
    local src = tmp .. "/shop"
    local profile = tmp .. "/shop.steady.pgo"
    assert(os.execute("cp -R " .. shq(helpers.fixture("gosrc/shop-v1")) .. " " .. shq(src) ..
      " && chmod -R u+w " .. shq(src) .. " && cp " ..
      shq(helpers.fixture("profiles/shop.steady.pgo")) .. " " .. shq(profile)))
    -- -trimpath gives the module-relative positions the fixtures have
    local env = "GOTOOLCHAIN=local GOPROXY=off GOWORK=off GOFLAGS='-trimpath -buildvcs=false' " ..
      "GOCACHE=${GOCACHE:-${HOME:-" .. tmp .. "}/.cache/go-build} "
    local function build(pgo)
      local _, err, code = helpers.run("cd " .. shq(src) .. " && " .. env .. shq(go) ..
        " build -pgo=" .. pgo .. " -gcflags=" .. shq("example.com/shop/...=-m=2") ..
        " -o /dev/null ./cmd/shop")
      if code ~= 0 then build_err = "go build -pgo=" .. pgo .. " failed:\n" .. err end
      return err
    end
    off_text = build("off")
    on_text = build(shq(profile))
  end)

  teardown(function()
    if tmp then helpers.rm_rf(tmp) end
  end)

  it("lists the PGO devirtualization of c.Get among the PGO-only decisions", function()
    if not go then
      pending("Go 1.21+ not found (helpers.go()); this test builds fixtures/gosrc/shop-v1")
      return
    end
    assert.is_nil(build_err)
    local d = inline.diff(off_text, on_text)
    local found
    for _, s in ipairs(d.pgo_only) do
      if s.line:find("PGO devirtualizing interface call c.Get to cache.(*RedisCache).Get", 1, true) then
        found = s
      end
    end
    assert.is_truthy(found, "not in pgo_only:\n" .. inline.format(d.pgo_only))
    assert.are.equal("pgo_devirtualize", found.kind)
    assert.are.equal("cache.(*RedisCache).Get", found.callee)
    -- and the inlining the hot budget allowed, with the compiler's reason
    local hot
    for _, s in ipairs(d.pgo_only) do
      if s.kind == "inline" and s.callee == "lookupBatch" then hot = s end
    end
    assert.is_truthy(hot)
    assert.are.equal("hot", hot.budget)
    assert.matches("^can inline lookupBatch with cost %d+$", hot.reason)
  end)

  it("agrees with the fixtures' oracle on the same Go version", function()
    if not go then
      pending("Go 1.21+ not found (helpers.go()); this test builds fixtures/gosrc/shop-v1")
      return
    end
    assert.is_nil(build_err)
    local v = helpers.run(shq(go) .. " version")
    if not v:find("go1.23", 1, true) then
      pending("the oracle was made with Go 1.23.5; this is " .. v)
      return
    end
    local d = inline.diff(off_text, on_text)
    assert.are.equal(helpers.read_file(helpers.fixture("expected/inline/pgo-only.txt")),
      inline.format(d.pgo_only))
    assert.are.equal(helpers.read_file(helpers.fixture("expected/inline/nopgo-only.txt")),
      inline.format(d.nopgo_only))
  end)
end)
