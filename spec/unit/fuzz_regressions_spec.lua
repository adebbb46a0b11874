-- Every fuzz target (fuzz/*.c) replayed under AddressSanitizer and UBSan without libFuzzer:
-- fuzz/replay.sh builds the target with gcc and fuzz/replay.c as its main, then runs it on
-- an empty input, its seeds (fuzz/seeds/<target>/) and every finding kept as a regression
-- (fuzz/regressions/<target>/); the regressions again under clang, whose sanitizers found
-- them. A sanitizer report, a failed oracle or a non-zero exit fails the spec. The first build of a checkout compiles the library once (objects are
-- shared by all targets, in build-fuzz/replay-obj); later runs only link.
-- The findings that led to fixes in the Lua half are also checked here through the API.
local helpers = require "helpers"

local function list(cmd)
  local out = helpers.run(cmd)
  local t = {}
  for line in out:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

local function have(tool)
  local _, _, code = helpers.run("command -v " .. tool)
  return code == 0
end

local targets = {}
for _, path in ipairs(list("ls fuzz/*.c")) do
  local name = path:match("^fuzz/([%w_]+)%.c$")
  if name and name ~= "replay" then targets[#targets + 1] = name end
end

local function tail(s, n)
  return #s > n and ("..." .. s:sub(-n)) or s
end

describe("fuzz regressions", function()
  local empty_dir

  setup(function()
    empty_dir = helpers.tmpdir()
    helpers.write_file(empty_dir .. "/empty", "")
  end)

  teardown(function() helpers.rm_rf(empty_dir) end)

  it("has the targets the issue names", function()
    local set = {}
    for _, t in ipairs(targets) do set[t] = true end
    for _, want in ipairs { "profile_decode", "bench_parse", "elf_symbols", "gosource_scan",
                            "net_base64", "regex_filter" } do
      assert.is_true(set[want] ~= nil, "missing fuzz target fuzz/" .. want .. ".c")
    end
  end)

  for _, target in ipairs(targets) do
    it(target .. " replays its seeds and regressions under ASan and UBSan", function()
      if not (have("gcc") and have("flock")) then
        pending("needs gcc and flock")
        return
      end
      local inputs = { helpers.shq(empty_dir .. "/empty") }
      local files = 1
      for _, dir in ipairs { "fuzz/seeds/" .. target, "fuzz/regressions/" .. target } do
        local here = list("find " .. helpers.shq(dir) .. " -type f 2>/dev/null")
        if #here > 0 then
          inputs[#inputs + 1] = helpers.shq(dir)
          files = files + #here
        end
      end
      local _, err, code = helpers.run("fuzz/replay.sh " .. target .. " " .. table.concat(inputs, " "))
      assert.not_matches("ERROR: AddressSanitizer", err, 1, true)
      assert.not_matches("runtime error:", err, 1, true)
      assert.not_matches("FINDING", err, 1, true)
      assert.equals(0, code, target .. ": " .. tail(err, 3000))
      assert.equals(tostring(files), err:match("replay: (%d+) inputs ran"), tail(err, 1000))
    end)

    -- The findings came from clang's sanitizers, which check more than gcc's (a NULL
    -- pointer plus 0, for one): replay them under clang as well.
    local regressions = "fuzz/regressions/" .. target
    local kept = list("find " .. helpers.shq(regressions) .. " -type f 2>/dev/null")
    if #kept > 0 then
      it(target .. " replays its regressions under clang's ASan and UBSan", function()
        if not (have("clang") and have("flock")) then
          pending("needs clang and flock")
          return
        end
        local _, err, code = helpers.run("CC=clang fuzz/replay.sh " .. target .. " "
                                         .. helpers.shq(regressions))
        assert.not_matches("ERROR: AddressSanitizer", err, 1, true)
        assert.not_matches("runtime error:", err, 1, true)
        assert.not_matches("FINDING", err, 1, true)
        assert.equals(0, code, target .. ": " .. tail(err, 3000))
        assert.equals(tostring(#kept), err:match("replay: (%d+) inputs ran"), tail(err, 1000))
      end)
    end
  end
end)

describe("fuzz findings in pgo.bench", function()
  local bench = require "pgo.bench"

  -- bench_parse: a benchmark name that is not UTF-8 made the text table's width
  -- computation fail (utf8.len returned nil). Go counts each invalid byte as one rune.
  it("lays out a name that is not UTF-8 as Go does: one column per invalid byte", function()
    local function report(name)
      local set = assert(bench.parse(("Benchmark%s 1 2 ns/op\nBenchmarkLonger 1 3 ns/op\n")
        :format(name), "old"))
      return (bench.report(bench.compare(set), { format = "text" }))
    end
    local valid = report("Xab")
    local invalid = report("X\255\254")
    assert.equals(valid, (invalid:gsub("X\255\254", "Xab")))
    assert.matches("X\255\254", invalid, 1, true)
  end)

  -- bench_parse: the JSON report copied such bytes as they were, which is not JSON text.
  it("writes bytes that are not UTF-8 as \\ufffd in the JSON report", function()
    local set = assert(bench.parse("cpu: a\226\128\nBenchmark\255 1 2 ns/op\n", "old"))
    local json = bench.report(bench.compare(set), { format = "json" })
    assert.is_truthy(utf8.len(json))
    local data = require("cjson").decode(json)
    assert.equals("a\u{fffd}\u{fffd}", data.tables[1].config[1].value)
    assert.equals("\u{fffd}", data.tables[1].rows[1].name)
  end)
end)
