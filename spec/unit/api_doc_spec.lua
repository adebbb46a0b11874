-- docs/api.md must name every public function and method, so the reference cannot drift
-- from the code. Names starting with "_" are internal.
local helpers = require "helpers"
local pgo = require "pgo"

local doc = helpers.read_file(helpers.root .. "/docs/api.md")

local function documented(name)
  return doc:find(name, 1, true) ~= nil
end

local function functions_of(t)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and not k:match("^_") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

describe("docs/api.md", function()
  it("documents every profile method as p:name", function()
    local missing = {}
    for _, name in ipairs(functions_of(pgo.profile.methods)) do
      if not documented("p:" .. name) then missing[#missing + 1] = "p:" .. name end
    end
    assert.same({}, missing)
  end)

  it("documents every top-level pgo function", function()
    local missing = {}
    for _, name in ipairs(functions_of(pgo)) do
      if not documented("pgo." .. name) then missing[#missing + 1] = "pgo." .. name end
    end
    assert.same({}, missing)
  end)

  for _, mod in ipairs { "report", "units", "flame", "symbols", "audit", "compiler", "fetch", "json", "options", "repo", "checks", "diagnose",
    "capture", "replace", "refresh",
    "backends", "fs", "provenance", "bench", "inline", "loadtest", "recipe" } do
    it("documents every function of pgo." .. mod, function()
      local ok, m = pcall(require, "pgo." .. mod)
      assert.is_true(ok, "pgo." .. mod .. " does not load: " .. tostring(m))
      local missing = {}
      for _, name in ipairs(functions_of(m)) do
        local full = "pgo." .. mod .. "." .. name
        if not documented(full) then missing[#missing + 1] = full end
      end
      assert.same({}, missing)
    end)
  end
end)
