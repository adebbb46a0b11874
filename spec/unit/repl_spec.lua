-- The interactive prompt (src/host/repl.c), driven through a real pseudo-terminal: each
-- test starts ./pgolua in a detached tmux session on a tmux server of its own (socket in
-- a temporary directory), types with send-keys and reads the screen with capture-pane,
-- polling until the expected text shows up. Tagged #repl (they need tmux and take a few
-- seconds), but run by default; `busted --exclude-tags=repl` skips them.
local helpers = require("spec.helpers")

local shq = helpers.shq

local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function sleep(s) os.execute("sleep " .. s) end

local has_tmux = sh("command -v tmux")

-- A pgolua prompt running in tmux. Fields: dir (temporary directory, also $HOME),
-- history (the history file), status (file receiving the exit status), socket (the
-- tmux server's socket, inside dir).
local Session = {}
Session.__index = Session

local function tmux(self, args)
  return "tmux -f /dev/null -S " .. shq(self.socket) .. " " .. args
end

-- Starts pgolua in a new session. opts.history: history file to use (default: a new
-- file in the session's directory).
local function start(opts)
  opts = opts or {}
  local self = setmetatable({ prompt_pattern = "pgo>" }, Session)
  self.dir = helpers.tmpdir()
  self.socket = self.dir .. "/tmux.sock"    -- a server of our own, removed with dir
  self.history = opts.history or (self.dir .. "/history")
  self.status = self.dir .. "/status"
  local inner = "env HOME=" .. shq(self.dir) .. " PGOLUA_HISTORY=" .. shq(self.history)
    .. " " .. shq(helpers.pgolua) .. "; echo $? > " .. shq(self.status)
  assert(sh(tmux(self, "new-session -d -x 200 -y 50 -c " .. shq(helpers.root) .. " "
    .. shq(inner))), "cannot start tmux")
  self:wait_for("pgo>")
  return self
end

-- The visible screen, trailing blank lines removed.
function Session:screen()
  local p = io.popen(tmux(self, "capture-pane -p 2>/dev/null"))
  local s = p:read("a")
  p:close()
  return (s:gsub("\n+$", ""))
end

-- Polls the screen until it contains 'text' (plain) or until 'timeout' seconds; returns
-- the screen, or fails the test showing it.
function Session:wait_for(text, timeout)
  local screen
  for _ = 1, math.floor((timeout or 5) / 0.05) do
    screen = self:screen()
    if screen:find(text, 1, true) then return screen end
    sleep(0.05)
  end
  error(("timed out waiting for %q; screen:\n%s"):format(text, screen), 2)
end

-- Types literal text.
function Session:type(text)
  assert(sh(tmux(self, "send-keys -l " .. shq(text))))
end

-- Presses keys given by tmux names (Enter, Tab, C-c, C-d, Up).
function Session:press(...)
  for _, key in ipairs{ ... } do assert(sh(tmux(self, "send-keys " .. key))) end
end

-- How many prompts (first or second) the screen shows.
function Session:prompts()
  local n = 0
  for _ in ("\n" .. self:screen()):gmatch("\n" .. self.prompt_pattern) do n = n + 1 end
  return n
end

-- Waits until the screen shows more than 'n' prompts: the line was handled and the
-- prompt is back, so what is typed next is not type-ahead.
function Session:wait_prompt(n, timeout)
  for _ = 1, math.floor((timeout or 5) / 0.05) do
    if self:prompts() > n then return end
    sleep(0.05)
  end
  error("timed out waiting for a prompt; screen:\n" .. self:screen(), 2)
end

-- Types a line, presses Enter and waits for the next prompt.
function Session:line(text)
  local n = self:prompts()
  self:type(text)
  self:press("Enter")
  self:wait_prompt(n)
end

-- Is the tmux session (hence pgolua) still there?
function Session:alive()
  return sh(tmux(self, "has-session"))
end

-- Waits for pgolua to exit; returns its exit status, or nil after 'timeout' seconds.
function Session:exit_status(timeout)
  for _ = 1, math.floor((timeout or 5) / 0.05) do
    local f = io.open(self.status, "r")
    if f then
      local s = f:read("a")
      f:close()
      if s:match("%d") then return tonumber(s:match("%d+")) end
    end
    sleep(0.05)
  end
end

function Session:stop()
  sh(tmux(self, "kill-server"))
  helpers.rm_rf(self.dir)
end

-- Entries of a libedit history file: "_HiStOrY_V2_" first, then one line per entry
-- with characters such as space and newline written as \ooo octal escapes.
local function history_entries(path)
  local f = io.open(path, "r")
  if not f then return {} end
  local entries = {}
  for l in f:lines() do
    if l ~= "_HiStOrY_V2_" then
      entries[#entries + 1] = l:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end)
    end
  end
  f:close()
  return entries
end

describe("pgolua interactive prompt", function()
  local s

  before_each(function()
    if not has_tmux then pending("tmux is not installed") end
  end)

  after_each(function()
    if s then s:stop() end
    s = nil
  end)

  it("#repl prints the value of an expression", function()
    s = start()
    s:line("1+1")
    local screen = s:wait_for("pgo> 1+1\n2\npgo>")
    assert.matches("pgo> 1%+1\n2\npgo>", screen)
  end)

  it("#repl prints several values on one line, and nil", function()
    s = start()
    s:line("1, 'two', nil")
    s:wait_for("nil\npgo>")
    -- print separates with tabs; the terminal shows them as spaces
    assert.matches("\n1%s+two%s+nil\npgo>", s:screen())
  end)

  it("#repl runs statements and treats a leading '=' as return", function()
    s = start()
    s:line("x = 20")
    s:line("=x + 1")
    assert.matches("pgo> x = 20\npgo> =x %+ 1\n21\npgo>", s:wait_for("\n21\n"))
  end)

  it("#repl prints tables readably, keys sorted", function()
    s = start()
    s:line('t = {b = {1, 2, 3}, a = 1, s = "x y"}')
    s:line("t")
    local screen = s:wait_for('{ a = 1, b = { 1, 2, 3 }, s = "x y" }')
    assert.matches('pgo> t\n{ a = 1, b = { 1, 2, 3 }, s = "x y" }\npgo>', screen, 1, true)
  end)

  it("#repl has the global pgo loaded", function()
    s = start()
    s:line("type(pgo)")
    assert.matches("pgo> type%(pgo%)\ntable\n", s:wait_for("\ntable\n"))
  end)

  it("#repl reads a multi-line chunk with the second prompt", function()
    s = start()
    s:line("function f()")
    s:wait_for("pgo>>")
    s:line("return 42 end")
    s:line("f()")
    local screen = s:wait_for("\n42\n")
    assert.matches("pgo> function f%(%)\npgo>> return 42 end\npgo> f%(%)\n42\npgo>", screen)
  end)

  it("#repl prints errors with a traceback but without the program name", function()
    s = start()
    s:line('error("oops")')
    local screen = s:wait_for("stack traceback:")
    assert.matches('pgo> error%("oops"%)\nstdin:1: oops\nstack traceback:\n', screen)
    assert.is_nil(screen:find("pgolua:", 1, true))
  end)

  it("#repl uses _PROMPT and _PROMPT2 when set", function()
    s = start()
    s:type('_PROMPT = "lua% "; _PROMPT2 = "more% "')
    s:press("Enter")
    s:wait_for("\nlua%")
    s.prompt_pattern = "[lm][uo][ar]e?%%"
    s:line("if true then")
    s:wait_for("more%")
    s:line("end")
    assert.matches("more%% end\nlua%%", s:wait_for("end\nlua%"))
  end)

  it("#repl writes compiled lines to the history file at once, and only those", function()
    s = start()
    s:line("hx = 1")
    s:line("hx + 1")
    s:wait_for("\n2\n")
    s:line("hx = = 3")                     -- a syntax error: not kept
    s:wait_for("unexpected symbol")
    s:line("function hf()")
    s:line("return 1 end")
    s:line("   ")                          -- blank: not kept
    s:line("=hx")                          -- kept as typed
    s:line("hx")
    s:wait_for("pgo> hx\n1")
    assert.is_true(s:alive())              -- written while running, not at exit
    assert.are.same({ "hx = 1", "hx + 1", "function hf()\nreturn 1 end", "=hx", "hx" },
      history_entries(s.history))
  end)

  it("#repl loads the history at start", function()
    local dir = helpers.tmpdir()
    local history = dir .. "/history"
    s = start{ history = history }
    s:line("remembered = 7")
    s:wait_for("pgo> remembered = 7\npgo>")
    s:press("C-d")
    assert.are.equal(0, s:exit_status())
    s:stop()
    s = start{ history = history }
    s:press("Up")
    s:wait_for("pgo> remembered = 7")
    s:press("Enter")
    s:line("remembered")
    assert.matches("\n7\npgo>", s:wait_for("\n7\n"))
    helpers.rm_rf(dir)
  end)

  it("#repl completes table fields with Tab", function()
    s = start()
    s:line("tt = {alpha = 1, beta = 2}")
    s:type("tt.al")
    s:press("Tab")
    s:wait_for("pgo> tt.alpha")
    s:press("Enter")
    assert.matches("pgo> tt%.alpha\n1\npgo>", s:wait_for("tt.alpha\n1\n"))
  end)

  it("#repl completes library functions with Tab", function()
    s = start()
    s:type("string.fo")
    s:press("Tab")
    s:wait_for("pgo> string.format")
    s:type('("%03d", 5)')
    s:press("Enter")
    assert.matches('string%.format%("%%03d", 5%)\n005\n', s:wait_for("\n005\n"))
  end)

  it("#repl completes fields of the preloaded pgo library", function()
    s = start()
    s:type("pgo.lo")
    s:press("Tab")
    s:wait_for("pgo> pgo.load")
    s:press("Enter")
    assert.matches("pgo> pgo%.load\nfunction: ", s:wait_for("\nfunction: "))
  end)

  it("#repl completes methods after ':' through the metatable's __index", function()
    s = start()
    s:line("C = {}; C.__index = C; function C:hello() return 'hi' end; obj = setmetatable({}, C)")
    s:type("obj:hel")
    s:press("Tab")
    s:wait_for("pgo> obj:hello")
    s:type("()")
    s:press("Enter")
    assert.matches("pgo> obj:hello%(%)\nhi\n", s:wait_for("\nhi\n"))
  end)

  it("#repl lists pgo's modules before their first use, without internal names", function()
    s = start()
    s:type("pgo.")
    s:press("Tab", "Tab")
    local screen = s:wait_for("pgo.report")
    for _, m in ipairs { "audit", "bench", "fetch", "flame", "help", "recipe", "symbols" } do
      assert.matches("pgo%." .. m .. "%s", screen)
    end
    s:press("C-c")
    s:wait_prompt(0)
    s:line('p = pgo.load("examples/profiles/demo.pgo")')
    s:type("p:")
    s:press("Tab", "Tab")
    screen = s:wait_for("p:top")
    assert.is_nil(screen:find("p:_", 1, true), screen)
  end)

  it("#repl completes the fields of a module not loaded yet", function()
    s = start()
    s:type("pgo.flame.fol")
    s:press("Tab")
    s:wait_for("pgo> pgo.flame.folded")
  end)

  it("#repl completes file names inside strings", function()
    s = start()
    s:type('x = "examples/pro')
    s:press("Tab")
    s:wait_for('pgo> x = "examples/profiles/')
    s:type('demo.p')
    s:press("Tab")
    s:wait_for('pgo> x = "examples/profiles/demo.pgo')
  end)

  it("#repl prints a report without echoing its empty list of warnings", function()
    s = start()
    s:line('pgo.report.top(pgo.load("examples/profiles/demo.pgo"), {n = 1})')
    local screen = s:wait_for("Showing top 1 nodes")
    assert.matches("runtime%.asyncPreempt\npgo>$", screen)
  end)

  it("#repl prints the reference entry of a function with help()", function()
    s = start()
    s:line("help(pgo.load)")
    local screen = s:wait_for("### `pgo.load(")
    assert.matches("Reads a gzip%-compressed", screen)
    s:line('pgo.help "p:top"')
    s:wait_for("### `p:top(")
  end)

  it("#repl lists the candidates on a second Tab", function()
    s = start()
    s:type("string.f")
    s:press("Tab", "Tab")
    local screen = s:wait_for("string.format")
    assert.matches("string%.find%s+string%.format", screen)
  end)

  it("#repl interrupts a running chunk with Ctrl-C and returns to the prompt", function()
    s = start()
    local n = s:prompts()
    s:type("while true do end")
    s:press("Enter")
    s:wait_for("pgo> while true do end")
    sleep(0.3)                             -- let the loop start
    s:press("C-c")
    s:wait_for("interrupted!")
    s:wait_prompt(n)
    s:line("1+2")
    local screen = s:wait_for("\n3\n")
    assert.matches("interrupted!\nstack traceback:\n.*\npgo> 1%+2\n3\npgo>", screen)
    assert.is_true(s:alive())
  end)

  it("#repl drops the line being typed on Ctrl-C", function()
    s = start()
    local n = s:prompts()
    s:type("this is not lua")
    s:wait_for("pgo> this is not lua")
    s:press("C-c")
    s:wait_prompt(n)
    s:line("2*21")
    local screen = s:wait_for("\n42\n")
    assert.matches("pgo> 2%*21\n42\n", screen)
    assert.is_nil(screen:find("syntax error", 1, true))
    assert.is_nil(screen:find("unexpected", 1, true))
  end)

  it("#repl leaves with status 0 on Ctrl-D at an empty prompt", function()
    s = start()
    s:press("C-d")
    assert.are.equal(0, s:exit_status())
    for _ = 1, 100 do
      if not s:alive() then break end
      sleep(0.05)
    end
    assert.is_false(s:alive())
  end)
end)

describe("pgolua without a terminal", function()
  it("runs the standard input as a script when there is no script", function()
    local out, err, code = helpers.pgolua_run("", "print(1+1)\nprint(...)")
    assert.are.equal("2\n\n", out)
    assert.are.equal("", err)
    assert.are.equal(0, code)
  end)

  it("reads lines without editing with -i and prints the values", function()
    local out, err, code = helpers.pgolua_run("-i", "x = 3\nx * 2\nt = {1, 2}\nt\n")
    assert.matches("^pgolua %S+ %(Lua 5%.4", out)
    assert.matches("\npgo> pgo> 6\npgo> pgo> { 1, 2 }\npgo> \n$", out)
    assert.are.equal("", err)
    assert.are.equal(0, code)
  end)
end)

describe("pgo.repl", function()
  local repl = require("pgo.repl")

  describe("pgo.repl.format()", function()
    it("shows strings, numbers, booleans and nil as print does", function()
      assert.are.equal("a b", repl.format("a b"))
      assert.are.equal("42", repl.format(42))
      assert.are.equal("1.5", repl.format(1.5))
      assert.are.equal("true", repl.format(true))
      assert.are.equal("nil", repl.format(nil))
      assert.matches("^function: ", repl.format(print))
    end)

    it("shows a table as a constructor, sequence first, then keys sorted", function()
      assert.are.equal("{}", repl.format({}))
      assert.are.equal("{ a = 1, b = { 1, 2, 3 } }", repl.format({ b = { 1, 2, 3 }, a = 1 }))
      assert.are.equal('{ 10, 20, [5] = 50, x = "y" }', repl.format({ 10, 20, [5] = 50, x = "y" }))
    end)

    it("quotes strings and keys that are not names inside tables", function()
      assert.are.equal('{ s = "x\\ny" }', repl.format({ s = "x\ny" }))
      assert.are.equal('{ ["end"] = 2, ["not a name"] = 1, [true] = 0 }',
        repl.format({ ["not a name"] = 1, ["end"] = 2, [true] = 0 }))
    end)

    it("bounds the depth to 3 levels of tables", function()
      assert.are.equal("{ { { {...} } } }", repl.format({ { { { 1 } } } }))
      assert.are.equal("{ {...} }", repl.format({ { 1 } }, { depth = 1 }))
    end)

    it("shows at most 40 entries, then ...", function()
      local t = {}
      for i = 1, 50 do t[i] = i end
      local s = repl.format(t)
      assert.matches("\n  40,\n  %.%.%.\n}$", s)
      assert.is_nil(s:find("41", 1, true))
      assert.are.equal("{ 1, 2, 3, ... }", repl.format({ 1, 2, 3, 4, 5 }, { width = 3 }))
    end)

    it("breaks a table that does not fit on a line into one entry per line", function()
      local long = string.rep("x", 90)
      assert.are.equal('{\n  a = 1,\n  long = "' .. long .. '"\n}', repl.format({ a = 1, long = long }))
    end)

    it("prints values with __tostring through it, also inside tables", function()
      local obj = setmetatable({}, { __tostring = function() return "pgo.thing (3 items)" end })
      assert.are.equal("pgo.thing (3 items)", repl.format(obj))
      assert.are.equal("{ obj = pgo.thing (3 items) }", repl.format({ obj = obj }))
    end)

    it("survives a failing __tostring", function()
      local bad = setmetatable({}, { __tostring = function() error("broken") end })
      assert.matches("^<table: __tostring failed: .*broken>$", repl.format(bad))
    end)

    it("marks a table inside itself", function()
      local t = {}
      t.self = t
      assert.are.equal("{ self = <cycle> }", repl.format(t))
    end)

    it("does not run __index or __pairs", function()
      local t = setmetatable({ a = 1 }, {
        __index = function() error("ran __index") end,
        __pairs = function() error("ran __pairs") end,
      })
      assert.are.equal("{ a = 1 }", repl.format(t))
    end)

    it("rejects options that are not a table", function()
      assert.has_error(function() repl.format(1, "deep") end,
        "bad argument #2 to 'format' (table expected, got string)")
    end)
  end)
end)

describe("pgo.repl.results()", function()
  local repl = require "pgo.repl"

  it("leaves out the empty tables a report returns after its text", function()
    assert.equal("line 1\nline 2", repl.results("line 1\nline 2\n", {}))
    assert.equal("1\t{}", repl.results(1, {}))       -- not a report: every value shows
    assert.equal('text\t{ "w" }', repl.results("text", { "w" }))
    assert.equal("", repl.results(""))
  end)
end)

describe("pgo.help", function()
  local pgo = require "pgo"

  it("finds the entry of a function by name or by value, from the embedded docs/api.md", function()
    local byname = assert(pgo.help.entry("load"))
    assert.matches("^### `pgo%.load%(", byname)
    assert.equal(byname, pgo.help.entry(pgo.load))
    assert.equal(byname, pgo.help.entry("pgo.load"))
    assert.matches("^### `p:top%(", pgo.help.entry(pgo.profile.methods.top))
    assert.matches("^%- `p:scale%(factor%)`", pgo.help.entry("p:scale"))
    assert.matches("pgo.flame.svg", pgo.help.entry(pgo.flame.svg), 1, true)
    assert.equal(require("pgo.core.docs").api, helpers.read_file(helpers.root .. "/docs/api.md"))
  end)

  it("says when there is no entry", function()
    local ok, msg = pgo.help.entry("no_such_function")
    assert.is_nil(ok)
    assert.equal("no entry for 'no_such_function' in docs/api.md; help() lists the sections", msg)
    ok, msg = pgo.help.entry(print)
    assert.is_nil(ok)
    assert.equal("no entry: that function is not a documented part of pgo", msg)
  end)
end)
