-- Specs for pgo.flame (lua/pgo/flame.lua): folded stacks and the SVG flame graph.
-- The #integration test renders the SVG in headless Chromium and is pending without it.
local helpers = require "helpers"
local pgo = require "pgo"
local flame = require "pgo.flame"

local F = helpers.fixture
local X = function(name) return F("pprof-examples/" .. name) end

local function tiny() return assert(pgo.load(X("tiny.pb.gz"))) end

local function count(s, needle)
  local n, i = 0, 1
  while true do
    local a, b = s:find(needle, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- Frames of an SVG: {title = hover text, width = number, fill = colour, label = text}.
local function frames(svg)
  local out = {}
  for g in svg:gmatch('<g class="frame">(.-)</g>') do
    out[#out + 1] = {
      title = g:match("<title>(.-)</title>"),
      x = tonumber(g:match('<rect x="([%d.]+)"')),
      width = tonumber(g:match('width="([%d.]+)"')),
      fill = g:match('fill="([^"]+)"'),
      label = g:match("<text[^>]*>(.-)</text>"),
    }
  end
  return out
end

-- A small well-formedness check: tags balance, attributes are quoted, every '&' starts an
-- entity, and no raw '<' appears in text.
local function well_formed(svg)
  local stack = {}
  local body = svg:gsub("^<%?xml.-%?>", "")
  for text, tag in body:gmatch("([^<]*)(<[^>]*>)") do
    if text:find("&", 1, true) then
      for amp in text:gmatch("&[^;]*;?") do
        if not (amp:match("^&%a+;$") or amp:match("^&#%d+;$")) then return false, "bad entity " .. amp end
      end
    end
    local close, name, rest = tag:match("^<(/?)([%w:_-]+)(.-)>$")
    if not name then return false, "bad tag " .. tag end
    if close == "/" then
      if table.remove(stack) ~= name then return false, "unbalanced </" .. name .. ">" end
    elseif not rest:match("/$") then
      stack[#stack + 1] = name
    end
    local attrs = rest:gsub("/$", "")
    if attrs:gsub('%s+[%w:_-]+="[^"<]*"', ""):match("%S") then return false, "bad attributes in " .. tag end
  end
  if #stack > 0 then return false, "unclosed <" .. stack[#stack] .. ">" end
  return true
end

describe("pgo.flame.folded()", function()
  it("gives one sorted line per stack, root first, inlined frames expanded", function()
    assert.equal(table.concat({
      "main.main 10000000",
      "main.main;main.bar;main.baz 1500000000",
      "main.main;main.foo 3050000000",
      "main.main;main.foo;main.bar 90000000",
      "main.main;main.rec;main.rec;main.rec 400000000",
      "main.main;main.tiny 20000000",
    }, "\n") .. "\n", flame.folded(tiny()))
  end)

  it("picks the column by sample type name or 1-based index", function()
    local p = tiny()
    local s = flame.folded(p, { sample_index = "samples" })
    assert.matches("\nmain.main;main.foo 305\n", s, 1, true)
    assert.equal(s, flame.folded(p, { sample_index = 1 }))
    local sum = 0
    for v in s:gmatch(" (%d+)\n") do sum = sum + tonumber(v) end
    assert.equal(507, sum)
    assert.has_error(function() flame.folded(p, { sample_index = "nope" }) end,
      "folded: no sample type 'nope' (the profile has: samples, cpu)")
  end)

  it("keeps the format intact for names with ';' or line breaks", function()
    local p = assert(tiny():rename { ["main.foo"] = "a;b\nc" })
    assert.matches("\nmain.main;a:b c 3050000000\n", flame.folded(p), 1, true)
  end)

  it("is the same as pgo.flame through the lazy pgo table", function()
    assert.equal(flame, pgo.flame)
  end)
end)

describe("pgo.flame.svg()", function()
  it("draws one frame per call-tree node, widths proportional to cum", function()
    local svg, n = flame.svg(tiny())
    -- all, main, foo, foo>bar, bar, bar>baz, rec, rec>rec, rec>rec>rec, tiny
    assert.equal(10, n)
    local fr = frames(svg)
    assert.equal(10, #fr)
    assert.equal(10, count(svg, "<title>") - 0)
    assert.is_true(well_formed(svg))
    local by = {}
    for _, f in ipairs(fr) do by[f.title:match("^(%S+)")] = by[f.title:match("^(%S+)")] or f end
    assert.equal(1180, by.all.width)                       -- width 1200 minus padding
    assert.is_true(math.abs(by["main.foo"].width - 1180 * 314 / 507) < 0.01)
    assert.equal("main.foo (3.14s, 61.93%; self 3.05s)", by["main.foo"].title)
    assert.equal("main.main", by["main.main"].label)
  end)

  it("has a title with type, duration and total", function()
    local svg = flame.svg(tiny())
    assert.matches(">cpu flame graph</text>", svg, 1, true)
    assert.matches(">cpu/nanoseconds, duration 10s, total 5.07s</text>", svg, 1, true)
    assert.matches(">samples/count, duration 10s, total 507</text>",
      flame.svg(tiny(), { sample_index = "samples" }), 1, true)
  end)

  it("is deterministic, with colours by name", function()
    local p = tiny()
    local a = flame.svg(p)
    assert.equal(a, flame.svg(p))
    local fills = {}
    for _, f in ipairs(frames(a)) do
      local name = f.title:match("^(%S+)")
      if fills[name] then assert.equal(fills[name], f.fill) end
      fills[name] = f.fill
      assert.matches("^rgb%(%d+,%d+,%d+%)$", f.fill)
    end
    assert.are_not.equal(fills["main.foo"], fills["main.main"])
  end)

  it("escapes every profile string: a function name cannot inject markup", function()
    local p = assert(tiny():rename {
      ["main.foo"] = "<script>alert('x')</script>&\"",
      ["main.bar"] = "bad\255utf8\1ctl",
    })
    local svg = flame.svg(p, { title = "<b>mine</b>" })
    assert.is_nil(svg:find("<script", 1, true))
    assert.is_nil(svg:find("<b>", 1, true))
    assert.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;", svg, 1, true)
    assert.matches("bad\u{FFFD}utf8?ctl", svg, 1, true)
    assert.truthy(utf8.len(svg))
    assert.is_true(well_formed(svg))
    assert.equal(10, #frames(svg))
  end)

  it("truncates labels with '..' to fit and drops frames too narrow to see", function()
    local svg, n = flame.svg(tiny(), { width = 200 })
    local truncated = 0
    for _, f in ipairs(frames(svg)) do
      if f.label then
        assert.is_true(#f.label * 12 * 0.59 <= f.width, f.label)
        if f.label:match("%.%.$") then truncated = truncated + 1 end
      end
    end
    assert.is_true(truncated > 0)
    local _, wide = flame.svg(tiny(), { min_width = 5 })
    assert.is_true(wide < n)                                 -- main.tiny is 4.65px wide
  end)

  it("writes the SVG to a file with write(p, path)", function()
    local dir = helpers.tmpdir()
    local p = tiny()
    assert.is_true(flame.write(p, dir .. "/f.svg"))
    assert.equal(flame.svg(p), helpers.read_file(dir .. "/f.svg"))
    local ok, msg, code = flame.write(p, dir .. "/missing/dir/f.svg")
    assert.is_nil(ok)
    assert.equal("io", code)
    assert.is_string(msg)
    helpers.rm_rf(dir)
  end)

  it("is also pgo.report.flamegraph when pgo.report exists", function()
    local ok, report = pcall(require, "pgo.report")
    if not ok or type(report) ~= "table" then
      pending("pgo.report is not available in this build (another module's work)")
      return
    end
    assert.is_function(report.flamegraph)
  end)

  it("renders in headless Chromium #integration", function()
    local chromium = "/usr/bin/chromium"
    if not io.open(chromium) then
      pending("chromium not installed (apt-get install -y chromium); renders the SVG headless")
      return
    end
    local dir = helpers.tmpdir()
    local p = assert(pgo.merge_files { F("profiles/shop.p1.pgo"), F("profiles/shop.p2.pgo") })
    assert.is_true(flame.write(p, dir .. "/shop.svg"))
    local _, err, code = helpers.run(helpers.shq(chromium) .. " --headless --no-sandbox"
      .. " --disable-gpu --disable-quic --no-first-run --disable-background-networking"
      .. " --disable-component-update --disable-sync --user-data-dir=" .. helpers.shq(dir .. "/profile")
      .. " --screenshot=" .. helpers.shq(dir .. "/shop.png") .. " --window-size=1200,800"
      .. " file://" .. dir .. "/shop.svg")
    assert.equal(0, code, err)
    local png = helpers.read_file(dir .. "/shop.png")
    assert.equal("\137PNG", png:sub(1, 4))
    assert.is_true(#png > 20000, "screenshot is only " .. #png .. " bytes")
    helpers.rm_rf(dir)
  end)
end)
