-- Specs for pgo.flame (lua/pgo/flame.lua): folded stacks and the SVG flame graphs, plain
-- and differential, and recipes/flame.lua. The #chromium tests render the SVGs in headless
-- Chromium (pending without it) and keep their screenshots in build/flame-shots/.
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

-- Frames of an SVG: {name = first line of the title, title = hover text (second line),
-- x, y, width = numbers, fill = colour, label = text}.
local function frames(svg)
  local out = {}
  local body = svg:match('<g id="frames">\n(.-)\n</g>\n')
  for g in body:gmatch('<g>(.-)</g>') do
    out[#out + 1] = {
      name = g:match("<title>(.-)\n"),
      title = g:match("<title>.-\n(.-)</title>"),
      y = tonumber(g:match(' y="([%d.]+)"')),
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
  local body = svg:gsub("^<%?xml.-%?>", ""):gsub("<!%[CDATA%[.-%]%]>", "")
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

-- A frame of a parsed SVG by name (the first one drawn).
local function by_name(fr)
  local by = {}
  for _, f in ipairs(fr) do by[f.name] = by[f.name] or f end
  return by
end

-- tiny.pb.gz, cpu column: 507 samples of 10ms; main.main 507 (self 1), main.bar>main.baz
-- 150, main.foo 314 (self 305, >main.bar 9), main.rec>rec>rec 40, main.tiny 2.
describe("pgo.flame.svg()", function()
  it("draws one frame per call-tree node, widths proportional to cum", function()
    local svg, n = flame.svg(tiny())
    -- all, main, foo, foo>bar, bar, bar>baz, rec, rec>rec, rec>rec>rec, tiny
    assert.equal(10, n)
    local fr = frames(svg)
    assert.equal(10, #fr)
    assert.is_true(well_formed(svg))
    local by = by_name(fr)
    assert.equal(1180, by.all.width)                       -- width 1200 minus padding
    assert.is_true(math.abs(by["main.foo"].width - 1180 * 314 / 507) < 0.01)
    assert.equal("main.main", by["main.main"].label)
  end)

  it("gives cum and flat with their shares of the total in the hover text", function()
    local by = by_name(frames(flame.svg(tiny())))
    assert.equal(("cum 3.14s (%.2f%%), flat 3.05s (%.2f%%)"):format(314 / 5.07, 305 / 5.07),
      by["main.foo"].title)
  end)

  it("labels frames with the name without its import path directories", function()
    assert.equal("ssa.(*Value).copyInto", flame.short_name("cmd/compile/internal/ssa.(*Value).copyInto"))
    assert.equal("runtime.mallocgc", flame.short_name("runtime.mallocgc"))
    assert.equal("b.(*T).M", flame.short_name("github.com/a/b.(*T).M"))
    -- slashes in type arguments belong to the type, not to the function's package
    assert.equal("y.F[go.shape.*example.com/z.T]", flame.short_name("example.com/x/y.F[go.shape.*example.com/z.T]"))
    assert.equal("slices.Sort[...]", flame.short_name("slices.Sort[...]"))
    local p = assert(tiny():rename { ["main.foo"] = "example.com/shop/cart.Total" })
    local by = by_name(frames(flame.svg(p)))
    assert.equal("cart.Total", by["example.com/shop/cart.Total"].label)
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
      if fills[f.name] then assert.equal(fills[f.name], f.fill) end
      fills[f.name] = f.fill
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
    local outside_cdata = svg:gsub("<!%[CDATA%[.-%]%]>", "")
    assert.is_nil(outside_cdata:find("<script>", 1, true))
    assert.is_nil(svg:find("<b>", 1, true))
    assert.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;", svg, 1, true)
    assert.matches("bad\u{FFFD}utf8?ctl", svg, 1, true)
    assert.truthy(utf8.len(svg))
    assert.is_true(well_formed(svg))
    assert.equal(10, #frames(svg))
  end)

  it("truncates labels with '..' to fit", function()
    local truncated = 0
    for _, f in ipairs(frames(flame.svg(tiny(), { width = 200 }))) do
      if f.label then
        assert.is_true(#f.label * 12 * 0.59 <= f.width, f.label)
        if f.label:match("%.%.$") then truncated = truncated + 1 end
      end
    end
    assert.is_true(truncated > 0)
  end)

  it("merges callees narrower than min_width into one frame, nothing drawn above it", function()
    -- 1180 px / 507 samples: main.rec is 93.1 px, main.tiny 4.65 px, together 97.7 px
    local fr = frames(flame.svg(tiny(), { min_width = 95 }))
    local by = by_name(fr)
    assert.is_nil(by["main.rec"])
    assert.is_nil(by["main.tiny"])
    local merged = by["[2 merged]"]
    assert.is_table(merged)
    assert.is_true(math.abs(merged.width - 1180 * 42 / 507) < 0.01)
    assert.matches("2 callees narrower than the threshold, merged (largest: main.rec, main.tiny)",
      merged.title, 1, true)
    assert.equal(by["main.foo"].y, merged.y)
    -- together narrower than the threshold: dropped with everything above them
    local _, n = flame.svg(tiny(), { min_width = 100 })
    assert.equal(5, n)                               -- all, main, bar, baz, foo
  end)

  it("takes its height from the depth of the frames drawn, not of the profile", function()
    for _, mw in ipairs { 0.5, 95, 400 } do
      local svg = flame.svg(tiny(), { min_width = mw })
      local height = tonumber(svg:match('<svg[^>]- height="(%d+)"'))
      local top, bottom = math.huge, 0
      for _, f in ipairs(frames(svg)) do
        top, bottom = math.min(top, f.y), math.max(bottom, f.y)
      end
      assert.equal(72, top)                          -- the deepest frame under the header
      assert.equal(height - 30 - 16, bottom)         -- the root just above the footer
    end
  end)

  it("draws an icicle graph with the root at the top", function()
    local svg = flame.svg(tiny(), { icicle = true })
    local by = by_name(frames(svg))
    assert.equal(72, by.all.y)
    assert.is_true(by["main.main"].y > by.all.y)
    assert.matches('"icicle":true', svg, 1, true)
  end)

  it("carries the script: zoom, search, reset, and the #s= / #zoom= address", function()
    local svg = flame.svg(tiny())
    local script = svg:match("<!%[CDATA%[(.-)%]%]>")
    assert.equal(require "pgo.flame_script", script:sub(2))
    for _, id in ipairs { "reset", "search", "clear", "matched", "details", "header" } do
      assert.matches('id="' .. id .. '"', svg, 1, true)
    end
  end)

  it("rejects unknown options, wrong types and a base that is not a profile", function()
    local p = tiny()
    assert.has_error(function() flame.svg(p, { colour = "red" }) end,
      "bad argument #2 to 'svg' (unknown option 'colour')")
    assert.has_error(function() flame.svg(p, { min_width = "1" }) end,
      "bad argument #2 to 'svg' (option 'min_width' must be a number, got string)")
    assert.has_error(function() flame.svg(p, { base = {} }) end,
      "bad argument #2 to 'svg' (option 'base' must be a pgo.profile)")
    assert.has_error(function() flame.svg(p, { base = p, widths = "old" }) end,
      "bad argument #2 to 'svg' (option 'widths' must be \"new\" or \"base\")")
    assert.has_error(function() flame.svg("p") end)
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
    assert.has_error(function() flame.write(p, dir .. "/g.svg", { sample_index = "nope" }) end,
      "write: no sample type 'nope' (the profile has: samples, cpu)")
    helpers.rm_rf(dir)
  end)

  it("is also pgo.report.flamegraph", function()
    local dir = helpers.tmpdir()
    assert.is_true(pgo.report.flamegraph(tiny(), dir .. "/r.svg", { icicle = true }))
    assert.equal(flame.svg(tiny(), { icicle = true }), helpers.read_file(dir .. "/r.svg"))
    helpers.rm_rf(dir)
  end)
end)

describe("pgo.flame.svg{base=}: differential flame graph", function()
  -- new: tiny without main.foo (314 of 507 samples gone): main.bar grows from 150/507 to
  -- 150/193 of the samples, main.rec from 40/507 to 40/193.
  local function pair()
    local base = tiny()
    return assert(base:drop { regex = "^main\\.foo$" }), base
  end

  it("draws the new profile's widths, coloured by the change of cum share", function()
    local new, base = pair()
    local svg = flame.svg(new, { base = base })
    assert.is_true(well_formed(svg))
    local by = by_name(frames(svg))
    assert.is_nil(by["main.foo"])
    assert.equal(1180, by.all.width)
    local a, b = 150 / 193 * 100, 150 / 507 * 100
    assert.matches(("cum %.2f%% (base %.2f%%, %+.2f pts)"):format(a, b, a - b), by["main.bar"].title, 1, true)
    assert.equal("rgb(255,35,35)", by["main.bar"].fill)      -- the largest change: full red
    assert.matches("^rgb%(255,", by["main.rec"].fill)        -- grew less: lighter red
    assert.are_not.equal(by["main.bar"].fill, by["main.rec"].fill)
    assert.equal("rgb(235,235,235)", by.all.fill)             -- 100% in both
    assert.matches(">cpu differential flame graph</text>", svg, 1, true)
  end)

  it("with widths = \"base\" shows what disappeared, in blue", function()
    local new, base = pair()
    local by = by_name(frames(flame.svg(new, { base = base, widths = "base" })))
    assert.is_table(by["main.foo"])
    assert.matches(",255%)$", by["main.foo"].fill)
    assert.matches(("cum %.2f%% (new 0.00%%, %+.2f pts)"):format(314 / 5.07, -314 / 5.07),
      by["main.foo"].title, 1, true)
  end)

  it("compares shares: a profile against itself scaled is unchanged everywhere", function()
    local p = tiny()
    for _, f in ipairs(frames(flame.svg(assert(p:scale(3)), { base = p }))) do
      assert.equal("rgb(235,235,235)", f.fill, f.name)
    end
  end)
end)

describe("recipes/flame.lua", function()
  local recipe = helpers.root .. "/recipes/flame.lua"

  it("writes a plain, an icicle and a differential graph", function()
    local dir = helpers.tmpdir()
    local out, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " " .. helpers.shq(X("tiny.pb.gz"))
      .. " -o " .. helpers.shq(dir .. "/a.svg"))
    assert.equal(0, code, err)
    assert.equal("flame: wrote " .. dir .. "/a.svg\n", out)
    assert.equal(flame.svg(tiny(), { width = 1200 }), helpers.read_file(dir .. "/a.svg"))
    _, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " --icicle --diff "
      .. helpers.shq(F("profiles/shop.p1.pgo")) .. " " .. helpers.shq(F("profiles/shop.p2.pgo"))
      .. " -o " .. helpers.shq(dir .. "/d.svg"))
    assert.equal(0, code, err)
    local svg = helpers.read_file(dir .. "/d.svg")
    assert.matches("differential flame graph", svg, 1, true)
    assert.matches('"icicle":true', svg, 1, true)
    helpers.rm_rf(dir)
  end)

  it("fails with the library's message and status 1", function()
    local dir = helpers.tmpdir()
    local _, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " " .. helpers.shq(dir .. "/none.pgo"))
    assert.equal(1, code)
    assert.matches("^flame: cannot open ", err)
    _, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " " .. helpers.shq(X("tiny.pb.gz"))
      .. " --sample-index nope -o " .. helpers.shq(dir .. "/a.svg"))
    assert.equal(1, code)
    assert.equal("flame: write: no sample type 'nope' (the profile has: samples, cpu)\n", err)
    _, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " " .. helpers.shq(X("tiny.pb.gz"))
      .. " -o " .. helpers.shq(dir .. "/no/such/dir/a.svg"))
    assert.equal(1, code)
    assert.matches("^flame: ", err)
    _, err, code = helpers.pgolua_run(helpers.shq(recipe) .. " --min-width=-1 " .. helpers.shq(X("tiny.pb.gz")))
    assert.equal(1, code)
    assert.equal("flame: --min-width must be a number of pixels, 0 or more\n", err)
    helpers.rm_rf(dir)
  end)
end)

-- {=====================================================================================
-- Rendering in headless Chromium (#chromium): a page loads the SVG in a 1400x800 frame
-- and reports what a person would see (the root's box, frames shown, frames highlighted,
-- the search result); --dump-dom prints it. Screenshots go to build/flame-shots/.

local CHROMIUM = "/usr/bin/chromium"
local SHOTS = helpers.root .. "/build/flame-shots"

local HARNESS = [[
<html><body><pre id="out">pending</pre><script>
var f = document.createElement("iframe");
f.width = 1400; f.height = 800;
f.onload = function () {
  var d = f.contentDocument, w = f.contentWindow, res = { frames: 0, shown: 0, matched: 0 };
  d.querySelectorAll("#frames > g").forEach(function (g) {
    var r = g.getElementsByTagName("rect")[0], b = r.getBoundingClientRect();
    var title = g.getElementsByTagName("title")[0].textContent;
    res.frames++;
    if (g.style.display !== "none" && b.width > 0 && b.top >= 0 && b.bottom <= w.innerHeight) res.shown++;
    if (r.getAttribute("fill") === "rgb(230,0,230)") res.matched++;
    if (title.indexOf("all\n") === 0) res.root = { top: b.top, bottom: b.bottom, width: b.width };
  });
  res.search = d.getElementById("matched").textContent;
  res.height = w.innerHeight;
  document.getElementById("out").textContent = JSON.stringify(res);
};
f.src = decodeURIComponent(location.hash.slice(1));
document.body.appendChild(f);
</script></body></html>
]]

local function chromium(dir, args)
  return helpers.run(helpers.shq(CHROMIUM) .. " --headless --no-sandbox --disable-gpu"
    .. " --disable-quic --no-first-run --disable-background-networking"
    .. " --disable-component-update --disable-sync --user-data-dir="
    .. helpers.shq(dir .. "/chromium-profile") .. " " .. args)
end

-- What the page shows of the SVG at path with the address fragment (e.g. "s=ssa").
local function seen(dir, path, fragment)
  helpers.write_file(dir .. "/harness.html", HARNESS)
  local url = "file://" .. dir .. "/harness.html#" .. path .. "%23" .. (fragment or "")
  local out, err, code = chromium(dir, "--allow-file-access-from-files --dump-dom " .. helpers.shq(url))
  assert.equal(0, code, err)
  local json = out:match('<pre id="out">(.-)</pre>')
  assert.is_string(json, out)
  return require("cjson").decode(json)
end

-- Screenshot of the SVG (with the fragment) at 1400x900 into build/flame-shots/name.
local function screenshot(dir, path, fragment, name)
  os.execute("mkdir -p " .. helpers.shq(SHOTS))
  local png = SHOTS .. "/" .. name
  local _, err, code = chromium(dir, "--window-size=1400,900 --screenshot=" .. helpers.shq(png)
    .. " " .. helpers.shq("file://" .. path .. "#" .. (fragment or "")))
  assert.equal(0, code, err)
  local data = helpers.read_file(png)
  assert.equal("\137PNG", data:sub(1, 4))
  -- a blank 1400x900 page compresses to a few kilobytes; a drawn graph does not
  assert.is_true(#data > 30000, png .. " is only " .. #data .. " bytes")
end

-- Go's own compiler profile (the default.pgo `go build` uses for cmd/compile).
local function compiler_profile()
  local goroot = helpers.run("go env GOROOT")
  local path = goroot:gsub("%s+$", "") .. "/src/cmd/compile/default.pgo"
  return io.open(path) and path or nil
end

describe("flame graphs in headless Chromium #chromium", function()
  local dir
  before_each(function()
    if not io.open(CHROMIUM) then pending("chromium is not installed") end
    dir = helpers.tmpdir()
  end)
  after_each(function() if dir then helpers.rm_rf(dir) end end)

  it("shows Go's compiler profile under 1 MB with the root in view, and highlights a search", function()
    local pgo_path = compiler_profile()
    if not pgo_path then pending("no Go toolchain with cmd/compile/default.pgo in PATH") return end
    local p = assert(pgo.load(pgo_path))
    local svg = dir .. "/compile.svg"
    assert.is_true(flame.write(p, svg))
    local size = #helpers.read_file(svg)
    assert.is_true(size < 1000000, "SVG is " .. size .. " bytes")
    local r = seen(dir, svg, "s=ssa")
    assert.is_table(r.root, "no root frame")
    assert.is_true(r.root.top >= 0 and r.root.bottom <= r.height, "root out of view")
    assert.is_true(r.root.width > 900)
    assert.equal(r.frames, r.shown)
    assert.is_true(r.matched > 10)
    assert.matches('^Matched "ssa": %d+ frames, %d+%.%d%d%% of the total$', r.search)
    screenshot(dir, svg, "", "compile.png")
    screenshot(dir, svg, "s=ssa", "compile-search.png")
  end)

  it("zooms to a frame named in the address and can be reset", function()
    local svg = dir .. "/tiny.svg"
    assert.is_true(flame.write(tiny(), svg))
    local r = seen(dir, svg, "zoom=main.foo")
    -- main.foo, main.foo>main.bar, and main.main and all below it (full width, faded)
    assert.equal(4, r.shown)
    assert.equal(1180, math.floor(r.root.width + 0.5))
    assert.equal(10, seen(dir, svg, "").shown)
  end)

  it("shows a differential graph of two real profiles", function()
    local svg = dir .. "/diff.svg"
    local base = assert(pgo.load(F("profiles/shop.p1.pgo")))
    local new = assert(pgo.load(F("profiles/shop.p3.pgo")))
    assert.is_true(flame.write(new, svg, { base = base }))
    local r = seen(dir, svg, "s=^net/http")
    assert.is_table(r.root)
    assert.is_true(r.root.top >= 0 and r.root.bottom <= r.height, "root out of view")
    assert.is_true(r.matched > 0)
    screenshot(dir, svg, "", "diff.png")
    screenshot(dir, svg, "s=^net/http", "diff-search.png")
  end)
end)
