-- Go's compiler profile (src/cmd/compile/default.pgo) against Go's own source: the whole
-- tree (module std, with cmd as a nested module) and src/cmd alone must agree about the
-- compiler's code. Needs the Go trees at /usr/lib/go-1.23 (Debian's golang-1.23-go) and
-- /usr/local/go; a missing one is skipped with a message.
local helpers = require "helpers"
local pgo = require "pgo"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function audit(goroot, sub)
  local p = assert(pgo.load(goroot .. "/src/cmd/compile/default.pgo"))
  local syms = assert(pgo.symbols.go_source(goroot .. "/" .. sub))
  return pgo.audit.stale(p, syms)
end

-- The stale functions of a report that belong to module cmd.
local function cmd_stale(r)
  local t = {}
  for _, f in ipairs(r.functions) do
    if f.name:match("^cmd/") then t[#t + 1] = f.name end
  end
  table.sort(t)
  return t
end

-- Whether the function or method a profile name stands for is defined in the package's
-- directory, in Go (`func F(`, `func (x *T) M(`) or assembly (`·F(`): the oracle that a
-- "stale" function is really gone.
local function defined_in_source(goroot, name)
  local pkg = name:match("^(.*/[^.]*)%.") or name:match("^([^.]*)%.")
  local rest = name:sub(#pkg + 2)
  local T, M = rest:match("^%(%*([%w_]+)[^)]*%)%.([%w_]+)")
  if not T then T, M = rest:match("^([%w_]+)%.([%w_]+)") end
  local re
  if T then
    re = "func \\([^)]*[ *]" .. T .. "(\\[[^]]*\\])?\\) " .. M .. "[[(]"
  else
    local F = rest:match("^([%w_]+)")
    re = "(func " .. F .. "[[(]|·" .. F .. "[(<])"
  end
  local out = helpers.run(("(cd %s 2>/dev/null && grep -lE %s *.go *.s 2>/dev/null; true)"):format(
    helpers.shq(goroot .. "/src/" .. pkg), helpers.shq(re)))
  return out ~= ""
end

for _, goroot in ipairs { "/usr/lib/go-1.23", "/usr/local/go" } do
  describe("stale audit of " .. goroot .. "/src/cmd/compile/default.pgo", function()
    if not exists(goroot .. "/src/cmd/compile/default.pgo") then
      it("needs " .. goroot, function() pending("no Go tree at " .. goroot) end)
      return
    end

    it("src and src/cmd agree on the compiler's code; every stale function is really gone", function()
      local whole, cmd = audit(goroot, "src"), audit(goroot, "src/cmd")
      assert.same(cmd_stale(whole), cmd_stale(cmd))
      assert.same({ "cmd" }, cmd.modules)
      assert.same({ "cmd", "std" }, whole.modules)
      for _, f in ipairs(whole.functions) do
        assert.is_false(defined_in_source(goroot, f.name), f.name .. " is reported stale but defined")
      end
      if goroot == "/usr/lib/go-1.23" then
        -- this profile was captured from this very source
        assert.is_true(whole.cum_fraction <= 0.001)
        assert.equal(whole.stale_cum, cmd.stale_cum)
        assert.equal("fresh", whole.verdict)
      end
    end)
  end)
end
