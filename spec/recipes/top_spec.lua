-- Black-box specs for recipes/top.lua: run ./pgolua recipes/top.lua on the fixtures and
-- compare stdout with the oracles of Go 1.23.5's `go tool pprof` (--pprof go1.23), stderr
-- and exit status; the default layout follows the newest Go installed.
local helpers = require "helpers"

local F = helpers.fixture
local q = helpers.shq

local function top(args) return helpers.pgolua_run("recipes/top.lua --pprof go1.23 " .. args) end

describe("recipes/top.lua", function()
  it("prints go tool pprof -top -nodecount=20 exactly", function()
    for _, name in ipairs{ "shop.steady", "shop.idle", "micro" } do
      local out, err, code = top(q(F("profiles/" .. name .. ".pgo")) .. " -n 20")
      assert.equal(0, code, err)
      assert.equal("", err)
      assert.equal(helpers.read_file(F("expected/" .. name .. "/top.txt")), out)
    end
  end)

  it("sorts by cum with --cum", function()
    local out, _, code = top("--cum -n 20 " .. q(F("profiles/shop.startup.pgo")))
    assert.equal(0, code)
    assert.equal(helpers.read_file(F("expected/shop.startup/top-cum.txt")), out)
  end)

  it("passes --tagfocus on and prints pprof's note on stderr", function()
    local out, err, code = top(q(F("profiles/micro.pgo")) .. " --tagfocus endpoint=/slow")
    assert.equal(0, code)
    assert.equal(helpers.read_file(F("expected/micro/tagfocus-slow.txt")), out)
    assert.equal(helpers.read_file(F("expected/micro/tagfocus-slow.stderr.txt")), err)
    out = top(q(F("profiles/shop.steady.pgo")) .. " --tagfocus endpoint=/slow")
    assert.equal(helpers.read_file(F("expected/shop.steady/tagfocus-slow.txt")), out)
  end)

  it("applies --focus and --ignore", function()
    local out, _, code = top(q(F("profiles/shop.steady.pgo")) .. " --focus sha256 --ignore Write")
    assert.equal(0, code)
    assert.matches("\nActive filters:\n   focus=sha256\n   ignore=Write\n", out, 1, true)
    assert.is_nil(out:find("%(%*digest%)%.Write\n"))
  end)

  it("merges several files, as pprof does with several sources", function()
    local files = {}
    for _, n in ipairs{ "p1", "p2", "p3" } do
      files[#files + 1] = q(F("profiles/shop." .. n .. ".pgo"))
    end
    local out, err, code = top(table.concat(files, " "))
    if code == 1 and err:match("pgo%.merge") then
      pending("pgo.merge is not in this build: " .. err)
      return
    end
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(F("expected/merge/merged.top.txt")), out)
  end)

  it("subtracts --base, as pprof -base does", function()
    local out, err, code = top(q(F("profiles/shop.p2.pgo")) .. " --base "
      .. q(F("profiles/shop.p1.pgo")))
    if code == 1 and err:match("p:diff") then
      pending("p:diff is not in this build: " .. err)
      return
    end
    assert.equal(0, code, err)
    assert.equal(helpers.read_file(F("expected/diff/p2-base-p1.top.txt")), out)
  end)

  it("prints JSON with --json", function()
    local cjson = require "cjson"
    local out, _, code = top("--json -n 5 " .. q(F("profiles/shop.steady.pgo")))
    assert.equal(0, code)
    local doc = cjson.decode(out)
    assert.equal(5, #doc.rows)
    assert.equal("example.com/shop/internal/cache.mix", doc.rows[1].name)
    assert.equal(13560000000, doc.rows[1].flat)
    assert.equal("cpu", doc.header.type)
  end)

  it("accepts --granularity, --sample-index and --noinlines", function()
    local out, _, code = top("--granularity lines -n 1 " .. q(F("pprof-examples/tiny.pb.gz")))
    assert.equal(0, code)
    assert.matches("  main.foo main.go:22\n$", out)
    out = top("--sample-index samples " .. q(F("pprof-examples/tiny.pb.gz")))
    assert.matches("Total samples = 507 \n", out, 1, true)
    out = top("--noinlines " .. q(F("pprof-examples/tiny.pb.gz")))
    assert.is_nil(out:find("main.baz", 1, true))
  end)

  it("exits 1 with 'top: <message>' for an unreadable or broken profile", function()
    local out, err, code = top(q(F("bad/truncated.pgo")))
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("^top: .*truncated%.pgo: ", err)
    out, err, code = top("/nonexistent/cpu.pgo")
    assert.equal(1, code)
    assert.matches("^top: ", err)
    out, err, code = top(q(F("bad/empty.pgo")))
    assert.equal(1, code)
    assert.matches("^top: ", err)
  end)

  it("exits 1 on bad arguments and bad regexps", function()
    local _, err, code = top("")
    assert.equal(1, code)
    assert.matches("^top: missing argument 'files'", err)
    _, err, code = top(q(F("profiles/micro.pgo")) .. " -n x")
    assert.equal(1, code)
    assert.matches("^top: ", err)
    _, err, code = top(q(F("profiles/micro.pgo")) .. " --focus 'a('")
    assert.equal(1, code)
    assert.matches("^top: parsing focus regexp 'a%(': ", err)
    _, err, code = top(q(F("profiles/micro.pgo")) .. " --granularity words")
    assert.equal(1, code)
    assert.matches("^top: ", err)
  end)

  it("prints its help with --help and exits 0", function()
    local out, _, code = top("--help")
    assert.equal(0, code)
    assert.matches("^Usage: pgolua top ", out)
  end)
  it("prints the layout --pprof names, and by default the one PGOLUA_PPROF_LAYOUT names", function()
    local prof = q(F("profiles/shop.steady.pgo"))
    local old = top(prof .. " -n 3")
    local head, err, code = helpers.pgolua_run("recipes/top.lua --pprof head -n 3 " .. prof)
    assert.equal(0, code, err)
    assert.are_not.equal(old, head)   -- Time: is printed another way after Go 1.23
    assert.matches("\nTime: %d%d%d%d%-%d%d%-%d%d ", head)
    local env = helpers.run("PGOLUA_PPROF_LAYOUT=head " .. q(helpers.pgolua) .. " recipes/top.lua -n 3 " .. prof)
    assert.equal(head, env)
    env = helpers.run("PGOLUA_PPROF_LAYOUT=go1.23 " .. q(helpers.pgolua) .. " recipes/top.lua -n 3 " .. prof)
    assert.equal(old, env)
    local _, berr, bcode = helpers.pgolua_run("recipes/top.lua --pprof go1.22 " .. prof)
    assert.equal(1, bcode)
    assert.matches("go1.23", berr, 1, true)
  end)
end)
