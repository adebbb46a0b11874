-- A loaded profile keeps its stacks flat until an operation needs the prefix tree
-- (docs/api.md, pgo.decode): the operations that read the flat form must agree with the
-- same operations after the tree is built, and flat stacks must combine exactly.
local helpers = require "helpers"
local pgo = require "pgo"
local pb = require "pbwriter"

local function fresh() return (assert(pgo.load(helpers.fixture("profiles/shop.steady.pgo")))) end
local function with_tree()
  local p = fresh()
  assert(p:scale(1))                   -- the edits walk the tree: it is built now
  assert.equal("tree", p:stack_form())
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

  it("top, filters, tags, samples, encode, merge, diff and compact never build the tree", function()
    local p = fresh()
    assert.equal("flat", p:stack_form())
    assert(p:top{ cum = true, granularity = "lines" })
    local f = assert(p:filter{ focus = "main", hide = "runtime", tagfocus = "." })
    assert.equal("flat", f:stack_form())
    assert(p:tags())
    for _ in p:samples() do end
    assert(p:encode())
    local m = assert(pgo.merge(p, fresh()))
    local d = assert(p:diff(fresh(), { diff_base = true }))
    local c = assert(p:compact())
    assert.equal("flat", p:stack_form())
    for _, q in ipairs { m, d, c, p:clone() } do assert.equal("flat", q:stack_form()) end
  end)

  it("merge, diff and compact of flat inputs give the bytes and top of tree inputs", function()
    local flat1, flat2 = fresh(), fresh()
    local tree1, tree2 = with_tree(), with_tree()
    assert.equal(pgo.merge(tree1, tree2):encode(), pgo.merge(flat1, flat2):encode())
    assert.equal(pgo.merge(tree1, flat2):encode(), pgo.merge(flat1, flat2):encode())
    assert.equal(tree1:diff(tree2, { diff_base = true }):encode(),
      flat1:diff(flat2, { diff_base = true }):encode())
    assert.equal(tree1:compact():encode(), flat1:compact():encode())
    local ct, cti = tree1:compact_for_pgo()
    local cf, cfi = flat1:compact_for_pgo()
    assert.equal(ct:encode(), cf:encode())
    assert.same(cti, cfi)
    assert.equal("flat", cf:stack_form())
    assert.equal(ct:compact_for_pgo{ frames = 2 }:encode(), cf:compact_for_pgo{ frames = 2 }:encode())
    for _, o in ipairs { { focus = "main" }, { ignore = "runtime", hide = "sync" },
                         { show_from = "main", prune_from = "runtime" } } do
      assert.equal(tree1:filter(o):encode(), flat1:filter(o):encode())
      assert.same(tree1:filter(o):top{ n = 0 }, flat1:filter(o):top{ n = 0 })
    end
    local merged = pgo.merge(flat1, flat2)
    local t = assert(merged:top{ n = 0 })
    assert(merged:scale(1))                -- now walked as a tree
    assert.equal("tree", merged:stack_form())
    assert.same(t, merged:top{ n = 0 })
    local samples = {}
    for values, stack in pgo.merge(flat1, flat2):samples() do
      samples[#samples + 1] = table.concat(stack, ",") .. "=" .. values[1]
    end
    local tree_samples = {}
    for values, stack in merged:samples() do
      tree_samples[#tree_samples + 1] = table.concat(stack, ",") .. "=" .. values[1]
    end
    assert.same(tree_samples, samples)
  end)

  it("encode writes a flat profile whose deepest stack is its last one", function()
    -- the encoder sizes its stack buffer from the flat runs: the last run counts too
    local fns = { { "main.a", 1 }, { "main.b", 1 }, { "main.c", 1 } }
    local locs = { { lines = { { 1, 2 } } }, { lines = { { 2, 3 } } }, { lines = { { 3, 4 } } } }
    local deep = {}
    for i = 1, 40 do deep[i] = (i % 3) + 1 end
    local bytes = pb.cpu_profile { functions = fns, locations = locs, samples = {
      { locs = { 1 }, values = { 1, 10 } }, { locs = deep, values = { 2, 20 } } } }
    local p = assert(pgo.decode(bytes))
    assert.equal("flat", p:stack_form())
    local q = assert(pgo.decode(p:encode()))
    local depths = {}
    for values, stack in q:samples() do depths[values[1]] = #stack end
    assert.same({ [1] = 1, [2] = 40 }, depths)
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
  it("stacks whose location ids differ only above bit 32 stay apart", function()
    -- the decoder keys stacks by the file's ids and mixes in only their low 32 bits, so
    -- these stacks share a key: only the compare of their locations tells them apart
    local big = 1 << 32
    local strings = { "", "samples", "count", "main.a", "main.b", "main.c", "main.d", "a.go" }
    local f = { { 1, "msg", { { 1, "varint", 1 }, { 2, "varint", 2 } } } }
    local function sample(ids, v)
      local m = {}
      for _, id in ipairs(ids) do m[#m + 1] = { 1, "varint", id } end
      m[#m + 1] = { 2, "varint", v }
      f[#f + 1] = { 2, "msg", m }
    end
    sample({ 1, 2 }, 1); sample({ 1 + big, 2 + big }, 2); sample({ 1, 2 + big }, 4)
    sample({ 1 + big, 2 + big }, 8); sample({ 1, 2 }, 16)
    for fn, id in ipairs { 1, 2, 1 + big, 2 + big } do   -- location id -> main.a .. main.d
      f[#f + 1] = { 4, "msg", { { 1, "varint", id }, { 4, "msg", { { 1, "varint", fn }, { 2, "varint", 1 } } } } }
      f[#f + 1] = { 5, "msg", { { 1, "varint", fn }, { 2, "varint", fn + 2 }, { 4, "varint", 7 } } }
    end
    for _, str in ipairs(strings) do f[#f + 1] = { 6, "bytes", str } end
    local p = assert(pgo.decode(pb.encode(f)))
    assert.equal("flat", p:stack_form())
    local seen = {}
    for values, stack in p:samples() do seen[#seen + 1] = table.concat(stack, ",") .. "=" .. values[1] end
    table.sort(seen)
    assert.same({ "main.a,main.b=17", "main.a,main.d=4", "main.c,main.d=10" }, seen)
  end)
end)
