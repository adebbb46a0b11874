-- Integration: Go's regular expressions in filters. Every pattern below runs through the
-- real `go tool pprof -top -focus=P` (Go 1.23 at /usr/lib/go-1.23, and /usr/local/go when
-- present) and `recipes/top.lua --focus P`: the outputs must be identical. Patterns Go's
-- regexp rejects must be rejected by both. A missing Go tree is pending with a message.
-- pgolua prints in each Go's pprof layout (--pprof), so the whole output is compared.
local helpers = require "helpers"

local q = helpers.shq
local PROFILE = helpers.fixture("profiles/shop.steady.pgo")

-- RE2 syntax pprof users write: groups, flags, classes, Unicode, escapes, anchors, lazy
-- and counted repetition.
local PATTERNS = {
  "(?:gcDrain|mallocgc)", "(?i)MALLOCGC", "\\d", "func\\d+$", "^runtime\\.", "^main\\.",
  "\\bsha256\\b", "\\.\\(\\*\\w+\\)\\.", "scan.*?object", "(?s)a.b", "\\pL+\\.\\pL+",
  "\\p{Lu}\\w*Store", "[[:upper:]][[:lower:]]+Cache", "\\Qruntime.(*mspan)\\E", "mallocgc$",
  "(?U)a+b", "s{2}", "\\w+/\\w+\\.", "(?P<pkg>internal)/cache", "(?i:SORT)\\.", "[^a-z]Get$",
  "\\x2e\\(\\*", "\\A(?:runtime|sync)\\.", "gcDrain\\z", "(?m)^net/http", "[\\d]+x",
  "\\S+Handler", "(?i)json|SHA", "crypto/(sha256|md5)", "\\Bmix\\b", "\\p{Greek}", "a{1000}",
  "(?-i:Lookup)", "[[:^alpha:]]ix", "\\.func\\d+\\.\\d+$", "[\\p{Lu}&&[^A]]", "(?i)ü|\\x{FC}",
  "runtime\\.(?:mallocgc|memmove|memclrNoHeapPointers)$", "^(sort|slices)\\.",
}
-- What Go's regexp rejects: pprof fails, so must pgolua (with a message saying why).
local REJECTED = {
  ["(a)\\1"] = "backreference", ["foo(?=bar)"] = "lookahead", ["(?<!x)y"] = "lookbehind",
  ["a++"] = "invalid nested repetition operator", ["(?>a)"] = "atomic group", ["\\e"] = "invalid escape sequence \\e",
  ["a{1001}"] = "invalid repeat count",
}

local function pprof(go, pattern)
  return helpers.run("cd / && HOME=/tmp " .. q(go) .. " tool pprof -top -nodecount=12 -focus=" ..
    q(pattern) .. " " .. q(PROFILE))
end

-- pgolua prints in the layout of the Go it is compared with (pgo.report.layout_for_go)
local function top(pattern, layout)
  return helpers.pgolua_run("recipes/top.lua -n 12 --pprof " .. layout .. " --focus " .. q(pattern) ..
    " " .. q(PROFILE))
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

for _, goroot in ipairs { "/usr/lib/go-1.23", "/usr/local/go" } do
  local go = goroot .. "/bin/go"
  local version = exists(goroot .. "/VERSION") and helpers.read_file(goroot .. "/VERSION") or ""
  local layout = require("pgo.report").layout_for_go(version:match("^go[%d.]+")) or "go1.23"
  describe("RE2 filters against " .. go .. " tool pprof", function()
    if not exists(go) then
      it("needs " .. go, function() pending("no Go at " .. goroot) end)
      return
    end

    it(#PATTERNS .. " patterns give pprof's output exactly", function()
      local differ = {}
      for _, pat in ipairs(PATTERNS) do
        local want, _, wcode = pprof(go, pat)
        local got, err, code = top(pat, layout)
        assert.equal(0, wcode, pat)
        if want ~= got or code ~= 0 then differ[#differ + 1] = pat .. " (" .. err .. ")" end
      end
      assert.same({}, differ)
    end)

    it("rejects what Go's regexp rejects, saying why", function()
      for pat, why in pairs(REJECTED) do
        local _, _, wcode = pprof(go, pat)
        local _, err, code = top(pat, layout)
        assert.is_true(wcode ~= 0, "pprof accepted " .. pat)
        assert.equal(1, code, pat)
        assert.matches("parsing focus regexp '" .. pat .. "': " .. why, err, 1, true)
      end
    end)
  end)
end
