-- pgo.markdown: strings from outside (profiles, benchmark logs, servers, paths) written
-- into markdown that a pull request, a runbook or a CI summary renders. A function name
-- is attacker-controlled in the worst case; it must render as itself and do nothing else:
-- no link, image, HTML, table break, heading, list, emphasis or @-mention.
--
--   markdown.text(s)               -> inert text (escaped)
--   markdown.code(s, in_table)     -> a code span that s cannot close early
--   markdown.block(text, lang)     -> a fenced code block that text cannot close early
local markdown = {}

local HTML = { ["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;" }

-- A word joiner (U+2060) after "@" keeps "@octocat" or "@channel" from notifying anyone;
-- it is invisible where the text renders.
local function no_mentions(s) return (s:gsub("@", "@\u{2060}")) end

--- s as inert markdown text: backslash, backtick, |, [, ], *, _ and ~ get a backslash;
-- <, > and & become entities; a leading #, - or + is escaped; control characters (line
-- breaks included) become spaces, so a value never leaves its line or its table cell;
-- "@" cannot mention anyone.
function markdown.text(s)
  s = tostring(s)
  s = s:gsub("%c", " ")
  s = s:gsub("[\\`|%[%]%*_~]", "\\%0")
  s = s:gsub("[<>&]", HTML)
  s = s:gsub("^([#%-%+])", "\\%1")
  return no_mentions(s)
end

--- s as a code span: the fence is longer than any run of backticks inside, and a value
-- starting or ending with a backtick or a space is padded (CommonMark strips one space
-- from each side); control characters become spaces; with in_table, | is escaped so a
-- table row stays one row (GitHub tables need it even inside code spans). Nothing inside
-- a code span links or mentions. The empty string is shown as "∅".
function markdown.code(s, in_table)
  s = tostring(s):gsub("%c", " ")
  if s == "" then return "`\u{2205}`" end
  if in_table then s = s:gsub("|", "\\|") end
  local longest = 0
  for run in s:gmatch("`+") do longest = math.max(longest, #run) end
  local fence = ("`"):rep(longest + 1)
  if s:find("^[` ]") or s:find("[` ]$") then s = " " .. s .. " " end
  return fence .. s .. fence
end

--- text (a string, or a list of lines) as a fenced code block: the fence is longer than
-- any run of backticks inside; control characters other than line breaks become spaces.
function markdown.block(text, lang)
  if type(text) == "table" then text = table.concat(text, "\n") end
  text = tostring(text):gsub("[%z\1-\9\11-\31\127]", " "):gsub("\n+$", "")
  local longest = 2
  for run in text:gmatch("`+") do longest = math.max(longest, #run) end
  local fence = ("`"):rep(longest + 1)
  return fence .. (lang or "") .. "\n" .. text .. "\n" .. fence
end

return markdown
