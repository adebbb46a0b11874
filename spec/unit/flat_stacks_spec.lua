-- A loaded profile keeps its stacks flat until an operation needs the prefix tree
-- (docs/api.md, pgo.decode): the operations that read the flat form must agree with the
-- same operations after the tree is built, and flat stacks must combine exactly.
local helpers = require "helpers"
local pgo = require "pgo"
local pb = require "pbwriter"

local function fresh() return assert(pgo.load(helpers.fixture("profiles/shop.steady.pgo"))) end
local function with_tree()
  local p = fresh()
  assert(p:top())                      -- top walks the tree: it is built now
  return p
end

describe("flat stacks", function()
  it("preprofile, edges and hot call sites agree with the tree form", function()
    local flat, tree = fresh(), with_tree()
    assert.equal(tree:preprofile(), flat:preprofile())
    assert.same(tree:edges(), fresh():edges())
    assert.same(tree:hot_callsites(), fresh():hot_callsites())
  end)

  it("info, total and tags agree with the tree form", function()
    local flat, tree = fresh(), with_tree()
    assert.same(tree:info(), flat:info())
    assert.same({ tree:total() }, { flat:total() })
    assert.same({ tree:tags() }, { fresh():tags() })
  end)

  it("a profile used flat first then walked gives the same top and bytes", function()
    local p = fresh()
    assert(p:preprofile())
    assert.same(with_tree():top(), p:top())
    assert.equal(with_tree():encode(), p:encode())
  end)

  it("identical stacks with identical labels combine; any difference keeps samples apart", function()
    local fns = { { "main.a", 1 }, { "main.b", 1 } }
    local locs = { { lines = { { 1, 2 } } }, { lines = { { 2, 3 } } } }
    local function s(stack, v, label) return { locs = stack, values = { v, v * 10 }, label = label } end
    local bytes = pb.cpu_profile { functions = fns, locations = locs, samples = {
      s({ 1, 2 }, 1), s({ 1, 2 }, 2), s({ 2, 1 }, 4), s({ 1 }, 8), s({ 1, 2, 1 }, 16),
      s({ 1, 2 }, 32, "x"), s({ 1, 2 }, 64, "x"), s({}, 128),
    } }
    local p = assert(pgo.decode(bytes))
    assert.equal(8, p:info().sample_records)     -- Sample messages
    assert.equal(255, p:info().samples)          -- the samples/count total
    local seen = {}
    for values, stack, labels in p:samples() do
      seen[#seen + 1] = table.concat(stack, ",") .. "|" .. (labels.k or "") .. "=" .. values[1]
    end
    table.sort(seen)
    assert.same({ "main.a,main.b,main.a|=16", "main.a,main.b|=3", "main.a,main.b|x=96",
      "main.a|=8", "main.b,main.a|=4", "|=128" }, seen)
  end)
end)
