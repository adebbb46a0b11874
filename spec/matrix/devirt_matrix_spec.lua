-- The Go version matrix for devirtualization: every toolchain of PGOLUA_GO_VERSIONS (see
-- spec/support/gomatrix.lua) builds spec/support/devirt, runs it at 78/22 and 22/78, and
-- builds it again with each profile and -gcflags='-m -d=pgodebug=2'.
-- pgo.compiler.devirt_candidates(p, {binary}) must list exactly the compiler's PGO
-- devirtualizations of the program's package (spec/support/devirt/oracle.lua); from Go
-- 1.25 on the compiler makes no pick of weight 0 (go.dev/issue/72092), so there the
-- lists must be equal with nothing set aside.
local helpers = require "helpers"
local gomatrix = require "support.gomatrix"
local oracle = require "support.devirt.oracle"
local pgo = require "pgo"

local shq = helpers.shq

describe("#matrix devirtualization by each Go", function()
  local tmp
  setup(function() tmp = helpers.tmpdir() end)
  teardown(function() helpers.rm_rf(tmp) end)

  for _, v in ipairs(gomatrix.versions()) do
    if v.missing then
      it(v.entry, function() pending("not available: " .. v.missing) end)
    else
      it(v.name .. ": the candidates are the compiler's devirtualizations at 78/22 and 22/78", function()
        local src = tmp .. "/" .. v.name
        assert(os.execute("cp -R " .. shq(helpers.root .. "/spec/support/devirt") .. " " .. shq(src)))
        local function sh(cmd)
          local out, err, code = helpers.run("cd " .. shq(src) .. " && GOPROXY=off " ..
            "GOFLAGS='-trimpath -buildvcs=false' " .. cmd)
          assert(code == 0, cmd .. " failed:\n" .. out .. err)
          return out .. err
        end
        sh(v.go .. " build -o devirt .")
        for _, mix in ipairs { 78, 22 } do
          local file = src .. "/mix" .. mix .. ".pgo"
          sh("./devirt -mix " .. mix .. " -seconds 2 -o " .. shq(file))
          local picked = oracle.decisions(sh(v.go .. " build -o /dev/null -pgo=" .. shq(file) ..
            " -gcflags=" .. shq("example.com/devirt=-m -d=pgodebug=2") .. " ."))
          local _, zero = oracle.check(v.name .. " devirt " .. mix, picked,
            assert(pgo.load(file)), src .. "/devirt", function(c) return c:match("^main%.") ~= nil end)
          if v.minor >= 25 then assert.equal(0, zero) end
        end
      end)
    end
  end
end)
