-- Integration: the Time: header follows TZ exactly as the real `go tool pprof` (Go 1.23)
-- prints it: same local time, same zone abbreviation. Pending without Go 1.23.
local helpers = require "helpers"

local q = helpers.shq
local PROFILE = helpers.fixture("profiles/shop.steady.pgo")
local GO = "/usr/lib/go-1.23/bin/go"

describe("Time: under TZ", function()
  if not io.open(GO, "rb") then
    it("needs Go 1.23", function() pending("no Go at " .. GO) end)
    return
  end
  for _, tz in ipairs { "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC", "" } do
    it("prints what pprof prints with TZ=" .. tz, function()
      local want, _, wcode = helpers.run("cd / && TZ=" .. q(tz) .. " HOME=/tmp " .. q(GO) ..
        " tool pprof -top -nodecount=5 " .. q(PROFILE))
      local got, err, code = helpers.run("TZ=" .. q(tz) .. " " .. q(helpers.pgolua) ..
        " recipes/top.lua --pprof go1.23 -n 5 " .. q(PROFILE))
      assert.equal(0, wcode)
      assert.equal(0, code, err)
      assert.equal(want, got)
    end)
  end
  it("is the zone's local time (New York: 4:32am EST for 09:32 UTC)", function()
    local got = helpers.run("TZ=America/New_York " .. q(helpers.pgolua) .. " recipes/top.lua --pprof go1.23 -n 1 " .. q(PROFILE))
    assert.matches("\nTime: Nov 21, 2026 at 4:32am (EST)\n", got, 1, true)
  end)
end)
