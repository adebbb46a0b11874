-- pgo.diagnose_gain: what the last A/B measured, for a runbook (pgo.diagnose.gain): the
-- JSON of recipes/ab.lua (rendered by pgo.ab.runbook_section: verdicts, p and n, sides as
-- built), a summary field of another tool's JSON (geomean_delta_pct, a geomean inside
-- pgo.bench's JSON report), or benchstat's text tables (their geomean lines; rows stand in
-- for a table without one).
local pgo = require "pgo"
local recipe = require "pgo.recipe"

local gain = {}

--- The gain of the last A/B: { measured, source, section (markdown lines), note (how to
-- read the entries, when there are some), entries = { {scope, label, delta_pct, text,
-- significant} } }, or nil, message, code.
function gain.read(path)
  local text, err = recipe.read_file(path)
  if not text then return nil, err end
  local entries = {}
  if text:match("^%s*{") then
    local cjson = require "cjson"
    local ok, doc = pcall(cjson.decode, text)
    if not ok or type(doc) ~= "table" then
      return nil, ("%s: not valid JSON: %s"):format(path, tostring(doc)), "invalid"
    end
    -- recipes/ab.lua --json: the library renders it (verdicts, p and n, sides as built)
    if type(doc.comparisons) == "table" then
      local ok, section = pcall(pgo.ab.runbook_section, doc)
      if ok then
        return { measured = true, source = path, section = section, entries = recipe.array(),
          comparisons = doc.comparisons }
      end
    end
    -- top-level summary fields of other tools' JSON
    local pct = doc.geomean_delta_pct or (type(doc.geomean_delta) == "number" and doc.geomean_delta * 100)
    if type(pct) == "number" then
      entries[#entries + 1] = { scope = "all", label = "geomean", delta_pct = pct,
        text = ("%+.2f%%"):format(pct) }
    else
      -- any "geomean" inside: pgo.bench's JSON report ({column, ratio, text} per column)
      -- or a table with delta / delta_pct / text
      local function walk(t, scope, depth)
        if depth > 20 or type(t) ~= "table" then return end
        local here = scope
        if type(t.config) == "table" then
          for _, kv in ipairs(t.config) do
            if type(kv) == "table" and kv.key == "pkg" then here = kv.value end
          end
        end
        local g = t.geomean
        if type(g) == "table" then
          local list = g[1] and g or { g }
          for _, e in ipairs(list) do
            if type(e) == "table" then
              local d = e.delta_pct or (type(e.delta) == "number" and e.delta * 100)
                or (type(e.ratio) == "number" and (e.ratio - 1) * 100)
              if type(d) == "number" then
                entries[#entries + 1] = { scope = here or "all", label = "geomean " .. (t.unit or ""),
                  delta_pct = d, text = type(e.text) == "string" and e.text or ("%+.2f%%"):format(d) }
              end
            end
          end
        end
        for k, v in pairs(t) do
          if k ~= "geomean" and type(v) == "table" then walk(v, here, depth + 1) end
        end
      end
      walk(doc, nil, 0)
    end
  else
    -- benchstat text: "pkg:" lines, a unit header, geomean lines; rows stand in for a
    -- table without a geomean (a single benchmark)
    local pkg, unit, rows, had_geomean = nil, nil, {}, false
    local function flush()
      if not had_geomean then
        for _, r in ipairs(rows) do entries[#entries + 1] = r end
      end
      rows, had_geomean = {}, false
    end
    for line in text:gmatch("[^\n]+") do
      local p = line:match("^pkg:%s+(%S+)")
      if p then flush(); pkg = p end
      local u = line:match("^%s*\u{2502}%s*(%S+/%S+)%s")
      if u then unit = u end
      local g = line:match("^geomean%s.-([%+%-]%d+%.?%d*%%)%s*$")
      if g then
        had_geomean = true
        entries[#entries + 1] = { scope = pkg or "all", label = "geomean " .. (unit or ""),
          delta_pct = tonumber(g:sub(1, -2)), text = g, significant = true }
      elseif line:match("%(p=[%d%.]+ n=") then
        local name = line:match("^(%S+)")
        local d = line:match("([%+%-]%d+%.?%d*%%)%s+%(p=")
        rows[#rows + 1] = { scope = pkg or "all", label = name .. " " .. (unit or ""),
          delta_pct = d and tonumber(d:sub(1, -2)) or 0, text = d or "~ (no significant change)",
          significant = d ~= nil }
      end
    end
    flush()
  end
  -- the markdown of the entries, as pgo.ab.runbook_section gives it for ab.lua's JSON
  local lines = {}
  for _, e in ipairs(entries) do
    local delta = e.significant == false and "~ (no significant change)" or ("%+.2f%%"):format(e.delta_pct)
    lines[#lines + 1] = ("- %s: %s%s\n"):format(recipe.md((e.label:gsub("%s+$", ""))), delta,
      e.scope ~= "all" and (" (" .. recipe.md(e.scope) .. ")") or "")
  end
  return { measured = #entries > 0, source = path, entries = recipe.array(entries),
    section = table.concat(lines), note = "negative time per op is faster" }
end

return gain
