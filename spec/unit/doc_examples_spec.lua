-- README.md and docs/api.md against the binary: every `pgo.` name they mention exists,
-- every ```lua block compiles, README's REPL session runs and prints what it shows, its
-- library screen compiles, its banner is the binary's. Names and examples are checked,
-- not the prose, so the documents can change freely.
local helpers = require "helpers"
local pgo = require "pgo"

local DOCS = { "README.md", "docs/api.md" }

local function read(rel) return helpers.read_file(helpers.root .. "/" .. rel) end

-- The value at a dotted path under pgo ("pgo.flame.svg"), through the lazy loader.
local function resolve(path)
  local v = pgo
  for part in path:gmatch("[^.]+", 5) do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

-- Every pgo.a.b name in code spans and code blocks of text (without a trailing call).
local function pgo_names(text)
  local seen, list = {}, {}
  local code = {}
  for span in text:gmatch("`([^`\n]+)`") do code[#code + 1] = span end
  for block in text:gmatch("```%w*\n(.-)```") do code[#code + 1] = block end
  for _, c in ipairs(code) do
    c = c:gsub("[%w_.:]*<TAB>", " ")                       -- "pgo.lo<TAB>" shows typing, not a name
    for name in c:gmatch("%f[%w_.]pgo%.[%a_][%w_]*[%w_.]*") do
      name = name:gsub("%.$", "")
      if not seen[name] then seen[name] = true; list[#list + 1] = name end
    end
  end
  return list
end

describe("documentation against the binary", function()
  for _, doc in ipairs(DOCS) do
    it(doc .. ": every pgo.* name it shows exists", function()
      local missing = {}
      for _, name in ipairs(pgo_names(read(doc))) do
        if resolve(name) == nil and not pcall(require, name) then missing[#missing + 1] = name end
      end
      assert.same({}, missing)
    end)

    it(doc .. ": every ```lua example compiles", function()
      local bad = {}
      for block in read(doc):gmatch("```lua\n(.-)```") do
        local fn, err = load(block, "=example", "t", {})
        if not fn then bad[#bad + 1] = err end
      end
      assert.same({}, bad)
    end)
  end

  it("README's banner is the one the binary prints", function()
    local out = helpers.run("echo | " .. helpers.shq(helpers.pgolua) .. " -i")
    local banner = out:match("^(pgolua [^\n]-Ctrl%-C interrupts)")
    assert.is_string(banner, out)
    local readme_banner = read("README.md"):match("\n%s*(pgolua [^\n]-Ctrl%-C interrupts)")
    assert.is_string(readme_banner, "README.md shows no banner")
    -- the version differs between builds (README: "<git describe>"); the rest must not
    assert.equal(banner:gsub("^pgolua %S+", "pgolua VERSION"),
      readme_banner:gsub("^pgolua <git describe>", "pgolua VERSION"))
  end)

  it("README's REPL session gives the outputs it shows", function()
    local block = read("README.md"):match("\n(    %$ %./pgolua\n.-)\n\n")
    assert.is_string(block, "README.md has no REPL session")
    local inputs, expected = {}, {}
    for line in block:gmatch("[^\n]+") do
      line = line:sub(5)
      local typed = line:match("^pgo> (.*)")
      if typed then
        inputs[#inputs + 1] = typed
        expected[#inputs] = {}
      elseif #inputs > 0 then
        table.insert(expected[#inputs], line)
      end
    end
    assert.is_true(#inputs >= 3)
    local out = helpers.run("cd " .. helpers.shq(helpers.root) .. " && " .. helpers.shq(helpers.pgolua) .. " -i",
      table.concat(inputs, "\n") .. "\n")
    -- tabs and runs of spaces compare equal
    local function norm(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end
    local seen = norm(out)
    for i, lines in ipairs(expected) do
      for _, l in ipairs(lines) do
        assert.truthy(seen:find(norm(l), 1, true), ("answer to %q: %q not in the output:\n%s")
          :format(inputs[i], l, out))
      end
    end
  end)

  it("README's library screen compiles as Lua", function()
    local block = read("README.md"):match("## The library in one screen\n\n(.-)\n\n[^ ]")
    assert.is_string(block)
    local fn, err = load(block:gsub("\n    ", "\n"):sub(5), "=README", "t", {})
    assert.is_function(fn, err)
  end)

  it("README's stale one-liner passes go_source's failure through", function()
    local dir = helpers.tmpdir()
    local p = assert(pgo.load(helpers.root .. "/examples/profiles/demo.pgo"))
    local want_msg, want_code = select(2, pgo.symbols.go_source(dir))
    local ok, msg, code = pgo.audit.stale(p, pgo.symbols.go_source(dir))
    assert.is_nil(ok)
    assert.equal(want_msg, msg)
    assert.equal(want_code, code)
    assert.matches("go.mod", msg, 1, true)
    helpers.rm_rf(dir)
  end)

  it("pgo.recipe is reachable from pgo", function()
    assert.equal(require "pgo.recipe", pgo.recipe)
    assert.same({ ok = 0, error = 1, failed = 2, over_threshold = 3 }, pgo.recipe.EXIT)
  end)
end)
