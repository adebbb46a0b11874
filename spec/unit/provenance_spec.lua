-- pgo.provenance: the provenance comment and the pull-request body.
local helpers = require "helpers"
local pgo = require "pgo"

local function tiny() return assert(pgo.load(helpers.fixture("pprof-examples/tiny.pb.gz"))) end

-- The markup-relevant skeleton of a markdown line: code spans (CommonMark: a backtick run
-- opens one that the next run of the same length closes) are replaced by "C", "\|" by
-- "E". What remains is what a renderer would interpret.
local function outside_code(line)
  local out, i = {}, 1
  while i <= #line do
    local a, b = line:find("`+", i)
    if not a then out[#out + 1] = line:sub(i) break end
    out[#out + 1] = line:sub(i, a - 1)
    local run = b - a + 1
    local j, close = b + 1, nil
    while true do
      local c, d = line:find("`+", j)
      if not c then break end
      if d - c + 1 == run then close = d break end
      j = d + 1
    end
    if not close then out[#out + 1] = line:sub(a) break end
    out[#out + 1] = "C"
    i = close + 1
  end
  return (table.concat(out):gsub("\\|", "E"))
end

describe("pgo.provenance", function()
  describe("format() and parse()", function()
    it("round-trip every value, even with separators, percent signs and line breaks", function()
      local fields = { source = "http://h:1/p?a=1;b=2", window = "2026-01-01T00:00:00Z/x",
        seconds = 30, instances = 3, aggregated_via = "merge; then %41 = \"x\"\nnext",
        top_function = "main.(*T).f;x=y", note = "ok" }
      local line = pgo.provenance.format(fields)
      assert.truthy(line:match("^pgolua%-provenance: v=1; source="))
      assert.is_nil(line:find("\n", 1, true))
      local back = pgo.provenance.parse(line)
      for k, v in pairs(fields) do assert.equal(v, back[k], k) end
      assert.equal(1, back.v)
      assert.equal("integer", math.type(back.instances))
    end)

    it("writes the documented keys first, in order", function()
      local line = pgo.provenance.format { zeta = "z", instances = 2, source = "s", alpha = "a" }
      assert.equal("pgolua-provenance: v=1; source=s; instances=2; alpha=a; zeta=z", line)
    end)

    it("renders a {start, stop} window as an ISO 8601 interval", function()
      local line = pgo.provenance.format { window = { 1767225600, 1767225630 } }
      assert.truthy(line:find("window=2026-01-01T00:00:00Z/2026-01-01T00:00:30Z", 1, true))
    end)

    it("redacts a password or token in the source URL", function()
      local line = pgo.provenance.format { source = "https://u:hunter22@h/x?token=abc123" }
      assert.is_nil(line:find("hunter22", 1, true))
      assert.is_nil(line:find("abc123", 1, true))
    end)

    it("ignores other comments and skips malformed items", function()
      assert.is_nil(pgo.provenance.parse("some comment"))
      local t = pgo.provenance.parse("pgolua-provenance: v=1; garbage; source=a%3Bb")
      assert.equal("a;b", t.source)
    end)

    it("raises on a bad field name or value", function()
      assert.has_error(function() pgo.provenance.format { ["Bad Key"] = 1 } end)
      assert.has_error(function() pgo.provenance.format { source = {} } end)
    end)
  end)

  describe("record() and read()", function()
    it("store the record in the profile's comments and read it back, also after a write", function()
      local p = tiny()
      local line = pgo.provenance.record(p, { source = "http://127.0.0.1:6060/debug/pprof/profile",
        window = { 1767225600, 1767225630 }, seconds = 30, instances = 1,
        aggregated_via = "none" })
      local comments = p:info().comments
      assert.equal(line, comments[#comments])
      local prov = pgo.provenance.read(p)
      assert.equal("http://127.0.0.1:6060/debug/pprof/profile", prov.source)
      assert.equal(30, prov.seconds)
      assert.equal("main.foo", prov.top_function)   -- the hottest function of tiny
      assert.truthy(prov.tool:match("^pgolua/"))
      assert.truthy(prov.recorded_at:match("^%d%d%d%d%-%d%d%-%d%dT"))
      local dir = helpers.tmpdir()
      assert.is_true(p:write(dir .. "/default.pgo"))
      local back = pgo.provenance.read(assert(pgo.load(dir .. "/default.pgo")))
      assert.same(prov, back)
      helpers.rm_rf(dir)
    end)

    it("returns the last record, and all of them", function()
      local p = tiny()
      pgo.provenance.record(p, { source = "first" })
      pgo.provenance.record(p, { source = "second" })
      local last, all = pgo.provenance.read(p)
      assert.equal("second", last.source)
      assert.equal(2, #all)
      assert.is_nil((pgo.provenance.read(tiny())))
    end)
  end)

  describe("from_fetch()", function()
    it("describes a single capture and a fleet", function()
      local one = pgo.provenance.from_fetch { url = "http://a/x", seconds = 30, window_start = 10,
        window_end = 40 }
      assert.equal("http://a/x", one.source)
      assert.equal(1, one.instances)
      assert.same({ 10, 40 }, one.window)
      local fleet = pgo.provenance.from_fetch { { ok = true, url = "http://a", window_start = 5,
        window_end = 35 }, { ok = true, url = "http://b", window_start = 6, window_end = 36 },
        { ok = false, url = "http://c" }, succeeded = 2, failed = 1, seconds = 30 }
      assert.equal(2, fleet.instances)
      assert.equal("http://a and 1 more", fleet.source)
      assert.same({ 5, 36 }, fleet.window)
      assert.equal(30, fleet.seconds)
    end)
  end)

  describe("pr_body()", function()
    it("shows source, window, duration per instance, aggregation and the top functions", function()
      local before, after = tiny(), tiny()
      local md = pgo.provenance.pr_body(before, after, { source = "http://127.0.0.1:6060",
        window = { 1767225600, 1767225630 }, seconds = 30, instances = 3,
        aggregated_via = "pgo.fetch.fleet" })
      assert.truthy(md:find("| Source | `http://127.0.0.1:6060` |", 1, true))
      assert.truthy(md:find("| Window | `2026-01-01T00:00:00Z/2026-01-01T00:00:30Z` |", 1, true))
      assert.truthy(md:find("| Duration per instance | 30 s |", 1, true))
      assert.truthy(md:find("| Instances | 3 |", 1, true))
      assert.truthy(md:find("| Aggregated via | `pgo.fetch.fleet` |", 1, true))
      assert.truthy(md:find("| Top function before | `main.foo` (", 1, true))
      assert.truthy(md:find("| Top function after | `main.foo` (", 1, true))
      assert.truthy(md:find("pgolua-provenance: v=1; source=", 1, true))
    end)

    it("reads the provenance from the profile when none is given; handles a first profile", function()
      local after = tiny()
      pgo.provenance.record(after, { source = "pyroscope", instances = 2 })
      local md = pgo.provenance.pr_body(nil, after)
      assert.truthy(md:find("| Source | `pyroscope` |", 1, true))
      assert.truthy(md:find("| Top function before | (none: first profile) |", 1, true))
      assert.truthy(md:find("| Duration per instance | 5 s |", 1, true))  -- 10 s over 2
    end)

    it("cannot be made to inject markup by a function name", function()
      local evil = "x`y``|z| [click](http://evil.example) <img src=x onerror=alert(1)> " ..
        "@octocat #1 **b** ~~s~~ www.evil.example\n## heading\r| a | b |"
      local after = assert(tiny():rename { ["main.foo"] = evil })
      local md = pgo.provenance.pr_body(nil, after, { source = "ok`|<b>", instances = 1,
        aggregated_via = "[x](y)" })
      for line in md:gmatch("[^\n]+") do
        if line:sub(1, 1) == "|" then
          local skel = outside_code(line)
          -- exactly the three pipes of a two-column row remain outside code spans
          local _, pipes = skel:gsub("|", "")
          assert.equal(3, pipes, line)
          for _, bad in ipairs { "<", ">", "[", "](", "@", "**", "~~", "www.", "http" } do
            assert.is_nil(skel:find(bad, 1, true), bad .. " outside a code span in: " .. line)
          end
        end
      end
      assert.is_nil(md:find("\n## heading", 1, true))
      -- the provenance record sits in a fence longer than any backtick run inside it
      local fence = md:match("\n(`+)text\n")
      assert.truthy(#fence >= 3)
      local body = md:match("\n" .. fence .. "text\n(.-)\n" .. fence .. "\n")
      assert.truthy(body, "the fence closes after the record")
      assert.is_nil(body:find("\n", 1, true))
    end)

    it("renders strings as code spans that survive backticks", function()
      assert.equal("`a`", pgo.provenance.markdown_code("a"))
      assert.equal("``a`b``", pgo.provenance.markdown_code("a`b"))
      assert.equal("```a``b```", pgo.provenance.markdown_code("a``b"))
      assert.equal("`` `x ``", pgo.provenance.markdown_code("`x"))
      assert.equal("`a\\|b`", pgo.provenance.markdown_code("a|b", true))
    end)
  end)
end)

describe("pgo.provenance.pr_body() sample counts", function()
  it("reports samples as pprof counts them, not Sample messages", function()
    local helpers = require "helpers"
    local pgo = require "pgo"
    local before = assert(pgo.load(helpers.fixture("profiles/shop.p1.pgo")))
    local after = assert(pgo.merge_files { helpers.fixture("profiles/shop.p1.pgo"),
      helpers.fixture("profiles/shop.p2.pgo") })
    local body = require("pgo.provenance").pr_body(before, after, { source = "files" })
    -- 2136 + 2130 samples; the files hold 2060 and 2006 Sample messages
    assert.matches("2136 / 4266", body, 1, true)
  end)
end)
