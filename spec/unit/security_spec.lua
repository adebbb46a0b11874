-- Security review specs (docs/security.md): each guarantee of that document has a test
-- here. Profiles, binaries, source trees, HTTP servers and continuous profilers are
-- untrusted; the user's flags and scripts are trusted.
--
--   1. programs run only from a reviewed list of call sites, never with outside text
--      spliced into a shell command (hostile names reach the program as one argument)
--   2. URL schemes: http and https only (file:// when allowed); redirects http/https only
--   3. TLS verification on by default; insecure is explicit and warns
--   4. secrets (URL user info, token query parameters, auth_env, auth_file, headers_env)
--      never appear in messages, metadata, progress, provenance or a PR body
--   5. temporary files: O_EXCL, 0600 (directories 0700), planted symbolic links not followed
--   6. profile strings are inert in markdown, SVG, JSON and on a terminal
--   7. resource limits: decompressed size, samples, stack depth, HTTP body, file sizes, ELF
--
-- Tests tagged #integration need Go (>= 1.21) to build spec/support/tlsserver.go (a
-- hostile HTTPS/HTTP server with a certificate generated at start-up) and
-- spec/support/fakeserver.go; without Go they are pending. Every server started here is
-- stopped by pid in teardown.
local helpers = require "helpers"
local cjson = require "cjson"
local pgo = require "pgo"
local pb = require "pbwriter"
local servers = require "support.servers"

local q = helpers.shq
local F = helpers.fixture
local go = helpers.go()
local NO_GO = "Go >= 1.21 not found (install golang-1.23-go: make deps); the test servers need it"
local TINY = F("pprof-examples/tiny.pb.gz")

local function find_plain(s, needle) return s:find(needle, 1, true) ~= nil end

-- Every file under the given top-level directories of the project with these extensions.
local function shipped_files(dirs, exts)
  local names = {}
  for _, d in ipairs(dirs) do
    local out = helpers.run("cd " .. q(helpers.root) .. " && find " .. q(d) .. " -type f")
    for path in out:gmatch("[^\n]+") do
      for _, e in ipairs(exts) do
        if path:sub(-#e) == e then names[#names + 1] = path break end
      end
    end
  end
  table.sort(names)
  return names
end

-- The code of a Lua file, line by line, with comments blanked (strings kept: a call site
-- inside a string is still worth a look). Block comments --[[ ]] are handled.
local function lua_code_lines(text)
  local lines, in_block = {}, nil
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local out, i, quote = {}, 1, nil
    if in_block then
      local e = line:find(in_block, 1, true)
      if e then i = e + #in_block; in_block = nil else i = #line + 1 end
    end
    while i <= #line do
      local c = line:sub(i, i)
      if quote then
        out[#out + 1] = c
        if c == "\\" then out[#out + 1] = line:sub(i + 1, i + 1); i = i + 1
        elseif c == quote then quote = nil end
      elseif c == '"' or c == "'" then
        quote = c
        out[#out + 1] = c
      elseif line:sub(i, i + 1) == "--" then
        local eq = line:match("^%-%-%[(=*)%[", i)
        if eq then
          local close = "]" .. eq .. "]"
          local e = line:find(close, i, true)
          if e then i = e + #close - 1 else in_block = close; break end
        else
          break
        end
      else
        out[#out + 1] = c
      end
      i = i + 1
    end
    lines[#lines + 1] = table.concat(out)
  end
  return lines
end

-- The code of a C file line by line, comments blanked and string and character literals
-- emptied ("" and ''), so neither a comment nor a message can pass for a call.
local function c_code_lines(text)
  local lines, cur, i, in_comment = {}, {}, 1, false
  while i <= #text do
    local c, two = text:sub(i, i), text:sub(i, i + 1)
    if c == "\n" then
      lines[#lines + 1] = table.concat(cur)
      cur = {}
    elseif in_comment then
      if two == "*/" then in_comment = false i = i + 1 end
    elseif two == "/*" then
      in_comment = true
      i = i + 1
    elseif two == "//" then
      local e = text:find("\n", i, true) or (#text + 1)
      i = e - 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= #text and text:sub(j, j) ~= c and text:sub(j, j) ~= "\n" do
        if text:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      cur[#cur + 1] = c .. c
      i = j
    else
      cur[#cur + 1] = c
    end
    i = i + 1
  end
  lines[#lines + 1] = table.concat(cur)
  return lines
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Call sites matching any of patterns in files: {"file: code", ...}.
local function call_sites(files, patterns, code_lines)
  local found = {}
  for _, f in ipairs(files) do
    local lines = code_lines(helpers.read_file(helpers.root .. "/" .. f))
    for _, line in ipairs(lines) do
      for _, pat in ipairs(patterns) do
        if line:find(pat) then found[#found + 1] = f .. ": " .. trim(line) break end
      end
    end
  end
  return found
end

-- A new empty directory below root named name (any bytes but "/" and NUL), made without a
-- shell.
local function mkdir(path)
  local r = assert(pgo.fs.run({ "mkdir", "-p", "--", path }))
  assert.equal(0, r.status, "mkdir " .. path)
end

-- Every file named like the marker anywhere under root (an injected command would create
-- one in whatever directory it ran in).
local function markers(root)
  local r = assert(pgo.fs.run({ "find", root, "-name", "PWNED*" }, { capture = true }))
  return r.output
end

local function basename(path) return (path:match("([^/]*)$")) end

-- Names that would run `touch PWNEDn` if they ever reached a shell unquoted or quoted badly.
local HOSTILE = {
  "it's'; touch PWNED1; echo '",
  "semi;touch PWNED2",
  "sub$(touch PWNED3)",
  "tick`touch PWNED4`",
  "line\ntouch PWNED5",
}

-- A hand-made CPU profile whose functions are called names[1..n] (one stack: names[1] is
-- the leaf), labels k=label; bytes.
local function named_profile(names, label)
  local fns, locs, stack = {}, {}, {}
  for i, n in ipairs(names) do
    fns[i] = { n, i }
    locs[i] = { lines = { { i, 10 + i } } }
    stack[i] = i
  end
  local samples = { { locs = stack, values = { 7, 70000000 }, label = label } }
  -- a second, smaller sample so every name has its own row in a top table
  for i = 2, #names do
    samples[#samples + 1] = { locs = { i }, values = { 1, 10000000 }, label = label }
  end
  return pb.cpu_profile { functions = fns, locations = locs, samples = samples }
end

-- {=====================================================================================
-- Test servers: spec/support/tlsserver.go (built once), started and stopped by pid

local tls = { built = nil, build_dir = nil, running = {} }

local function go_build(src, name)
  local dir = helpers.tmpdir()
  local bin = dir .. "/" .. name
  local _, err, code = helpers.run("cd " .. q(helpers.root) .. " && GOTOOLCHAIN=local GOPROXY=off "
    .. "GOFLAGS= GOCACHE=${GOCACHE:-${HOME:-/tmp}/.cache/go-build} " .. q(go) .. " build -o "
    .. q(bin) .. " " .. q(src))
  assert(code == 0, "building " .. src .. " failed:\n" .. err)
  return bin, dir
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local st = f:read("a")
  f:close()
  return not st:match("^%d+ %b() [ZX]")
end

local function stop_tls(h)
  if h.stopped then return end
  h.stopped = true
  os.execute("kill -TERM " .. h.pid .. " 2>/dev/null")
  for _ = 1, 60 do
    if not alive(h.pid) then break end
    os.execute("sleep 0.05")
  end
  if alive(h.pid) then os.execute("kill -KILL " .. h.pid .. " 2>/dev/null") end
  helpers.rm_rf(h.dir)
end

-- Start tlsserver. opts: plain (HTTP), host (the certificate's name), profile (served).
-- Returns {base, url(path), cert, requests() (text: "<uri> <Authorization>" lines), pid}.
local function start_tls(opts)
  opts = opts or {}
  if not tls.built then tls.built, tls.build_dir = go_build("spec/support/tlsserver.go", "tlsserver") end
  local dir = helpers.tmpdir()
  local args = { q(tls.built), "-state", q(dir .. "/state.json"), "-record", q(dir .. "/requests.txt"),
    "-profile", q(opts.profile or TINY), "-max-life", "5m" }
  if opts.plain then
    args[#args + 1] = "-plain"
  else
    args[#args + 1] = "-cert-out " .. q(dir .. "/cert.pem") .. " -host " .. q(opts.host or "127.0.0.1")
  end
  os.execute("setsid " .. table.concat(args, " ") .. " >" .. q(dir .. "/log") .. " 2>&1 </dev/null & echo $! >"
    .. q(dir .. "/pid"))
  local h = { dir = dir, pid = tonumber(helpers.read_file(dir .. "/pid"):match("%d+")) }
  tls.running[#tls.running + 1] = h
  local st
  for _ = 1, 300 do
    local f = io.open(dir .. "/state.json", "rb")
    if f then st = cjson.decode(f:read("a")) f:close() break end
    if not alive(h.pid) then break end
    os.execute("sleep 0.05")
  end
  assert(st, "tlsserver did not start: " .. (helpers.read_file(dir .. "/log") or ""))
  h.base = (opts.plain and "http" or "https") .. "://" .. st.addrs[1]
  h.addr = st.addrs[1]
  h.cert = dir .. "/cert.pem"
  function h.url(path) return h.base .. path end
  function h.requests()
    local f = io.open(dir .. "/requests.txt", "rb")
    if not f then return "" end
    local s = f:read("a")
    f:close()
    return s
  end
  return h
end

local function stop_all_tls()
  for _, h in ipairs(tls.running) do stop_tls(h) end
  tls.running = {}
end

local function cleanup_tls()
  stop_all_tls()
  if tls.build_dir then helpers.rm_rf(tls.build_dir) end
  tls.built, tls.build_dir = nil, nil
end

-- Run a Lua chunk in a fresh ./pgolua (env: "NAME=value " prefix); stdout, stderr, status.
local function pgolua_chunk(code, env)
  local path = os.tmpname()
  helpers.write_file(path, code)
  local out, err, status = helpers.run((env or "") .. q(helpers.pgolua) .. " " .. q(path))
  os.remove(path)
  return out, err, status
end

-- }=====================================================================================

describe("security: running programs (docs/security.md, 1)", function()
  -- Every place shipped code can start a program, each reviewed. A new call site fails
  -- this test until it is reviewed and added here with its reason; an entry whose code
  -- changed or went away fails too (review the new code, or drop the entry).
  local REVIEWED = {
    ["lua/pgo/fs.lua: fs.run = fsys.run"] = "pgo.fs.run is the C binding itself (src/lua/fsys.c)",
    ["lua/pgo/ab_run.lua: local r = fs.run({ \"sha256sum\", \"--\", path }, { capture = true, stderr = false })"] =
      "hashes a test binary the runner built; the path is one argument after --",
    ["lua/pgo/ab_run.lua: fs.run({ \"rm\", \"-rf\", \"--\", d }, { stdout = false, stderr = false })"] =
      "removes the directory mkdtemp made for this run; argv, the name after --",
    ["lua/pgo/ab_run.lua: local r, err = fs.run({ \"mkdir\", \"-p\", \"--\", path }, { stdout = false })"] =
      "--save-dir as one argument after --, no shell",
    ["lua/pgo/ab_run.lua: local r, rerr = fs.run({ \"/bin/sh\", \"-c\", opts[side] }, { dir = opts.dir,"] =
      "--run-old/--run-new are the user's own shell commands (trusted flags), run as typed; "
        .. "directory and output file are arguments, never spliced in",
    ["lua/pgo/ab_run.lua: local r, err = fs.run(argv, { dir = dir, capture = true, stderr = false })"] =
      "go list with an argument vector; each package pattern is one argument",
    ["lua/pgo/ab_run.lua: local v = fs.run({ go, \"version\" }, { capture = true, stderr = false })"] =
      "the go command (PATH, then $GO) asked its version; no outside text",
    ["lua/pgo/ab_run.lua: local r, rerr = fs.run({ go, \"test\", \"-c\", \"-o\", path, run.sides[side], p.import },"] =
      "go test -c with an argument vector; the profile, output path and package are single arguments",
    ["lua/pgo/ab_run.lua: local r, rerr = fs.run({ b[side].path, \"-test.run=^$\","] =
      "runs the test binary it built, -test.bench and -test.benchtime as single arguments",
    ["lua/pgo/diagnose.lua: local r = pgo.fs.run(argv, { capture = true, stderr = false, max_output = 65536 })"] =
      "git rev-parse / git log with an argument vector; root and path are single arguments",
    ["src/lua/fsys.c: rc = strchr(argv[0], '') || in_path(argv[0]) ? posix_spawnp(&pid, argv[0], &f.fa, &f.attr, argv,"] =
      "the implementation of pgo.fs.run: argv from a Lua table, never a shell",
  }
  local LUA = { "os%.execute", "io%.popen", "fsys%.run", "fs%.run%f[^%w_]" }
  local C = { "%f[%w_]system%s*%(", "%f[%w_]popen%s*%(", "%f[%w_]exec[lv]p?e?%s*%(",
    "%f[%w_]posix_spawnp?%s*%(", "%f[%w_]v?fork%s*%(", "%f[%w_]wordexp%s*%(" }

  it("lists every call site that runs a program, and each one is reviewed", function()
    local sites = call_sites(shipped_files({ "lua", "recipes" }, { ".lua" }), LUA, lua_code_lines)
    for _, s in ipairs(call_sites(shipped_files({ "src", "include" }, { ".c", ".h" }), C, c_code_lines)) do
      sites[#sites + 1] = s
    end
    local seen, unreviewed = {}, {}
    for _, s in ipairs(sites) do
      seen[s] = true
      if not REVIEWED[s] then unreviewed[#unreviewed + 1] = s end
    end
    assert.same({}, unreviewed, "new call sites that run a program: review each (no outside "
      .. "text in a shell command; prefer pgo.fs.run with an argv) and add it to REVIEWED")
    local stale = {}
    for s in pairs(REVIEWED) do if not seen[s] then stale[#stale + 1] = s end end
    table.sort(stale)
    assert.same({}, stale, "reviewed call sites that changed or went away: review the new code")
    -- the scanner itself sees through comments but not code: a commented-out call is no
    -- call site, a real one is
    assert.same({ "x " }, lua_code_lines("x -- os.execute('rm')"))
    assert.same({ "os.execute(cmd) ", "y" }, lua_code_lines("os.execute(cmd) --[[ io.popen\nio.popen ]]y"))
    assert.same({ "s = '-- os.execute' " }, lua_code_lines("s = '-- os.execute' -- x"))
    assert.truthy(c_code_lines("int a = system(cmd); // popen(x)")[1]:find("system%s*%("))
    assert.same({ " x = \"\"; y = ''; ", "", " z" },
      c_code_lines("/* system(cmd) */ x = \"popen(\\\"\"; y = '\\''; // fork()\n/* a\n*/ z"))
  end)

  it("has no os.tmpname and writes files only through the O_EXCL temp-file API", function()
    local files = shipped_files({ "lua", "recipes" }, { ".lua" })
    assert.same({}, call_sites(files, { "os%.tmpname" }, lua_code_lines))
    -- io.open for writing: only recipe.write_file's fallback for a host without pgo.fs
    -- (the pgolua binary always has it)
    local writes = call_sites(files, { "io%.open%b()" }, lua_code_lines)
    local for_writing = {}
    for _, s in ipairs(writes) do
      local mode = s:match("io%.open%(.-,%s*\"([^\"]*)\"%)")
      if mode and mode:find("[wa+]") then for_writing[#for_writing + 1] = s end
    end
    assert.same({ 'lua/pgo/recipe.lua: local f, err = io.open(tmp, "wb")' }, for_writing)
  end)

  it("pgo.fs.run hands hostile arguments over as single words, with no shell", function()
    local argv = { "printf", "%s\\0" }
    for _, h in ipairs(HOSTILE) do argv[#argv + 1] = h end
    local dir = helpers.tmpdir()
    local r = assert(pgo.fs.run(argv, { capture = true, dir = dir }))
    assert.equal(0, r.status)
    assert.equal(table.concat(HOSTILE, "\0") .. "\0", r.output)
    assert.equal("", markers(dir))
    helpers.rm_rf(dir)
    -- a program that cannot start: nil, message, code; NUL bytes are refused
    local none, msg, code = pgo.fs.run({ "pgolua-no-such-program" })
    assert.is_nil(none)
    assert.equal("not_found", code)
    assert.truthy(find_plain(msg, "cannot run pgolua-no-such-program: "), msg)
    assert.truthy(find_plain(msg, "(not found in PATH)"), msg)
    assert.has_error(function() pgo.fs.run({ "echo", "a\0b" }) end,
      "bad argument #1 to 'run' (element 2 holds a NUL byte)")
  end)

  describe("recipes/ab.lua with hostile names", function()
    local root
    before_each(function() root = helpers.tmpdir() end)
    after_each(function() helpers.rm_rf(root) end)

    -- A fake go that records its directory and argv (NUL after each word, \1 after each
    -- call): `go version`, `go list` (each pattern is its own import path, in the current
    -- directory), and `go test -c -o PATH`, which writes a test binary that records its own
    -- argv the same way and prints benchmarks.
    local function fake_go()
      local path = root .. "/fake go"
      helpers.write_file(path, [[#!/bin/sh
{ printf '%s\0' "$(pwd -P)" "$@"; printf '\001'; } >> "$FAKE_GO_LOG"
case "$1" in
version) echo "go version go1.23.5 linux/amd64" ;;
list) shift 3; for p in "$@"; do printf '%s\t%s\n' "$p" "$(pwd -P)"; done ;;
test)
  cat > "$4" <<'BIN'
#!/bin/sh
{ printf '%s\0' "$(pwd -P)" "$@"; printf '\001'; } >> "$FAKE_GO_LOG"
printf 'goos: linux\ngoarch: amd64\npkg: example.com/x\n'
printf 'BenchmarkA-8   100   1000 ns/op\n'
BIN
  chmod +x "$4" ;;
esac
]])
      assert(os.execute("chmod +x " .. q(path)))
      return path
    end

    it("--go-test, --dir, --save-dir, --profile and --bench reach go test intact", function()
      for i, h in ipairs(HOSTILE) do
        local work = root .. "/w" .. i
        local dir = work .. "/" .. h                -- --dir
        mkdir(dir)
        local profile = work .. "/" .. h .. ".pgo"  -- --profile
        helpers.write_file(profile, "not read by the fake go")
        local log = work .. "/go.log"
        local save = h .. " saved"                   -- --save-dir, relative to the cwd
        local out, err, code = helpers.run("cd " .. q(work) .. " && FAKE_GO_LOG=" .. q(log) .. " GO="
          .. q(fake_go()) .. " PATH=/usr/bin:/bin " .. q(helpers.pgolua) .. " "
          .. q(helpers.root .. "/recipes/ab.lua") .. " --go-test " .. q("./" .. h) .. " --dir "
          .. q(dir) .. " --save-dir " .. q(save) .. " --profile " .. q(profile) .. " --bench "
          .. q(h) .. " --count 1 --json")
        if h:find("\n", 1, true) then
          -- go list answers one package a line: a name with a line break cannot come back
          -- whole, so the run fails; what matters is that nothing ran (markers, below)
          assert.is_true(code ~= 0, out)
          goto next_name
        end
        assert.is_true(code == 0 or code == 4, err)     -- compared (one round: too noisy)
        assert.truthy(cjson.decode(out))
        local calls = {}
        for record in helpers.read_file(log):gmatch("(.-)\1") do
          local words = {}
          for w in record:gmatch("(.-)%z") do words[#words + 1] = w end
          calls[#calls + 1] = words
        end
        local builds, runs = {}, {}
        for _, c in ipairs(calls) do
          if c[2] == "test" then builds[#builds + 1] = c end
          if c[2] == "list" then assert.equal("./" .. h, c[#c]) ; assert.equal(dir, c[1]) end
          if c[2] and c[2]:match("^%-test%.run=") then runs[#runs + 1] = c end
        end
        assert.equal(2, #builds)
        for _, b in ipairs(builds) do
          assert.equal(dir, b[1])                       -- go ran in --dir
          assert.same({ "test", "-c", "-o" }, { b[2], b[3], b[4] })
          assert.equal("./" .. h, b[7])                 -- the package, one word
        end
        assert.equal("-pgo=off", builds[1][6])
        assert.equal("-pgo=" .. profile, builds[2][6])
        assert.equal(2, #runs)
        for _, r in ipairs(runs) do assert.equal("-test.bench=" .. h, r[3]) end
        assert.truthy(pgo.fs.exists(work .. "/" .. save .. "/on.txt"))
        ::next_name::
      end
      assert.equal("", markers(root))
    end)

    it("--run-old/--run-new: the user's commands run as typed, hostile --dir and --save-dir do not", function()
      for i, h in ipairs(HOSTILE) do
        local work = root .. "/r" .. i
        local dir = work .. "/" .. h
        mkdir(dir)
        helpers.write_file(dir .. "/bench.txt",
          "pkg: example.com/x\nBenchmarkA-8 100 1000 ns/op\nBenchmarkA-8 100 1001 ns/op\n")
        local _, err, code = helpers.run("cd " .. q(work) .. " && " .. q(helpers.pgolua) .. " "
          .. q(helpers.root .. "/recipes/ab.lua") .. " --run-old 'cat bench.txt' --run-new 'cat bench.txt'"
          .. " --dir " .. q(dir) .. " --save-dir " .. q(h .. " s"))
        assert.equal(0, code, err)
        assert.equal(helpers.read_file(dir .. "/bench.txt"), helpers.read_file(work .. "/" .. h .. " s/old.txt"))
      end
      assert.equal("", markers(root))
    end)

    it("the temporary save directory is made by mkdtemp: mode 0700, removed on failure", function()
      local tmp = root .. "/tmp"
      mkdir(tmp)
      local out, err, code = helpers.run("cd " .. q(root) .. " && TMPDIR=" .. q(tmp) .. " "
        .. q(helpers.pgolua) .. " " .. q(helpers.root .. "/recipes/ab.lua")
        .. " --run-old 'printf \"BenchmarkA 1 1 ns/op\\n\"' --run-new 'printf \"BenchmarkA 1 2 ns/op\\n\"' --json")
      assert.equal(0, code, err)
      local saved = cjson.decode(out).save_dir
      assert.matches("^" .. tmp:gsub("%p", "%%%0") .. "/pgolua%-ab%.%w%w%w%w%w%w$", saved)
      assert.equal(tonumber("700", 8), pgo.fs.stat(saved).mode)
      local _, _, code2 = helpers.run("cd " .. q(root) .. " && TMPDIR=" .. q(tmp) .. " "
        .. q(helpers.pgolua) .. " " .. q(helpers.root .. "/recipes/ab.lua")
        .. " --run-old 'exit 3' --run-new 'exit 3'")
      assert.equal(1, code2)
      local r = assert(pgo.fs.run({ "ls", "-A", tmp }, { capture = true }))
      assert.equal(basename(saved) .. "\n", r.output)   -- only the first run's
    end)
  end)

  describe("recipes/runbook.lua with a hostile module root", function()
    it("runs git with the root and the profile path as single arguments", function()
      local _, _, has_git = helpers.run("git --version")
      if has_git ~= 0 then pending("git is not installed") return end
      local top = helpers.tmpdir()
      for i, h in ipairs(HOSTILE) do
        local root = top .. "/" .. i .. h               -- the module root itself
        local main = root .. "/" .. h                   -- package main's directory
        mkdir(main)
        helpers.write_file(root .. "/go.mod", "module example.com/odd\n\ngo 1.21\n")
        helpers.write_file(main .. "/main.go", "package main\n\nfunc main() {}\n")
        helpers.write_file(main .. "/default.pgo", helpers.read_file(F("profiles/shop.steady.pgo")))
        local git = { "git", "-C", root, "-c", "user.name=spec", "-c", "user.email=spec@example.com" }
        local function g(...)
          local argv = { table.unpack(git) }
          for _, a in ipairs { ... } do argv[#argv + 1] = a end
          local r = assert(pgo.fs.run(argv, { capture = true, stderr = false }))
          assert.equal(0, r.status, table.concat(argv, " "))
          return r.output
        end
        g("init", "-q")
        g("add", "-A")
        g("commit", "-q", "--no-verify", "-m", "x")
        local commit = g("log", "-1", "--format=%h"):gsub("%s+$", "")
        local out, err, code = helpers.run("cd " .. q(top) .. " && " .. q(helpers.pgolua) .. " "
          .. q(helpers.root .. "/recipes/runbook.lua") .. " --root " .. q(root) .. " --json")
        assert.equal(0, code, err)
        local pr = cjson.decode(out).profiles[1]
        assert.equal(commit, pr.last_commit)      -- git really ran, with these names
      end
      assert.equal("", markers(top))
      helpers.rm_rf(top)
    end)
  end)

  it("doctor, stale and top take hostile paths without running anything", function()
    local top = helpers.tmpdir()
    for i, h in ipairs(HOSTILE) do
      local root = top .. "/" .. i .. h
      mkdir(root)
      helpers.write_file(root .. "/go.mod", "module example.com/odd\n\ngo 1.21\n")
      local prof = root .. "/" .. h .. ".pgo"
      helpers.write_file(prof, helpers.read_file(TINY))
      for _, cmd in ipairs {
        "recipes/doctor.lua --root " .. q(root) .. " --profile " .. q(prof),
        "recipes/stale.lua " .. q(prof) .. " --src " .. q(root),
        "recipes/top.lua " .. q(prof),
      } do
        local _, _, code = helpers.run("cd " .. q(root) .. " && " .. q(helpers.pgolua) .. " "
          .. q(helpers.root) .. "/" .. cmd)
        assert.is_true(code <= 3, cmd)
      end
    end
    assert.equal("", markers(top))
    helpers.rm_rf(top)
  end)
end)

-- {=====================================================================================

describe("security: URL schemes and redirects (docs/security.md, 2)", function()
  local REFUSED = { "gopher://127.0.0.1:1/x", "ftp://127.0.0.1:1/x", "dict://127.0.0.1:1/x",
    "scp://127.0.0.1:1/x", "sftp://127.0.0.1:1/x", "ldap://127.0.0.1:1/x", "telnet://127.0.0.1:1",
    "tftp://127.0.0.1:1/x", "smb://127.0.0.1:1/x", "GOPHER://127.0.0.1:1/x" }

  it("refuses every scheme but http and https with 'bad_url', before any connection", function()
    for _, url in ipairs(REFUSED) do
      local p, msg, code = pgo.fetch.profile(url, { quiet = true, retries = 0 })
      assert.is_nil(p, url)
      assert.equal("bad_url", code, url)
      assert.truthy(find_plain(msg, "not supported; use http or https"), msg)
    end
    local merged, _, code, results = pgo.fetch.fleet({ "gopher://127.0.0.1:1/", "dict://127.0.0.1:1/" },
      { quiet = true, retries = 0, min_success = 1 })
    assert.is_nil(merged)
    assert.equal("fleet_failed", code)
    for _, r in ipairs(results) do assert.equal("bad_url", r.code) end
    for _, b in ipairs { "pyroscope", "parca" } do
      local p, _, c = pgo.backends[b] { url = "gopher://127.0.0.1:1", quiet = true, retries = 0 }
      assert.is_nil(p)
      assert.equal("bad_url", c, b)
    end
  end)

  it("reads file:// only with allow_file = true", function()
    for _, url in ipairs { "file://" .. TINY, "FILE://" .. TINY } do
      local p, msg, code = pgo.fetch.profile(url, { quiet = true })
      assert.is_nil(p)
      assert.equal("bad_url", code)
      assert.truthy(find_plain(msg, "allow_file=true"), msg)
    end
    assert.truthy((pgo.fetch.profile("file://" .. TINY, { quiet = true, allow_file = true })))
  end)

  describe("#integration redirects", function()
    if not go then pending(NO_GO) return end
    local plain, fake
    setup(function()
      servers.guard(function()
        plain = start_tls { plain = true }
        fake = servers.start_fake(servers.build_fake(go), { profile = TINY })
      end)
    end)
    teardown(function() cleanup_tls() servers.cleanup() end)

    local function via(to) return plain.url("/redirect?to=" .. pgo.backends._qenc(to)) end

    it("follows a redirect to http (the route works)", function()
      assert.truthy((pgo.fetch.profile(via(plain.url("/debug/pprof/profile")),
        { quiet = true, seconds = false, retries = 0 })))
    end)

    it("refuses redirects to file://, gopher://, dict://, ftp:// and scp:// with 'redirect'", function()
      local targets = { "file:///etc/passwd", "gopher://127.0.0.1:1/x", "dict://127.0.0.1:1/d:x",
        "ftp://127.0.0.1:1/x", "scp://127.0.0.1:1/x" }
      for _, opts in ipairs { {}, { allow_file = true } } do
        opts.quiet, opts.seconds, opts.retries = true, false, 0
        for _, t in ipairs(targets) do
          local p, msg, code = pgo.fetch.profile(via(t), opts)
          assert.is_nil(p, t)
          assert.equal("redirect", code, t .. ": " .. tostring(msg))
        end
        local p, msg, code = pgo.fetch.profile(fake.url("/fail/redirect-file"), opts)
        assert.is_nil(p)
        assert.equal("redirect", code, msg)
        assert.truthy(find_plain(msg, "http and https only"), msg)
      end
    end)
  end)
end)

-- {=====================================================================================

describe("#integration security: TLS (docs/security.md, 3)", function()
  if not go then pending(NO_GO) return end
  local good, wrong_name
  setup(function()
    servers.guard(function()
      good = start_tls {}                              -- certificate for 127.0.0.1
      wrong_name = start_tls { host = "wrong.invalid" } -- a valid certificate, another name
    end)
  end)
  teardown(cleanup_tls)

  it("verifies by default: a self-signed certificate fails with 'tls'", function()
    local dir = helpers.tmpdir()
    local p, msg, code = pgo.fetch.profile(good.base, { quiet = true, retries = 0, seconds = false,
      dir = dir })
    assert.is_nil(p)
    assert.equal("tls", code)
    assert.truthy(find_plain(msg, "certificate"), msg)
    local merged, _, fcode, results = pgo.fetch.fleet({ good.base }, { quiet = true, retries = 0,
      seconds = false, dir = dir })
    assert.is_nil(merged)
    assert.equal("fleet_failed", fcode)
    assert.equal("tls", results[1].code)
    assert.equal("", helpers.run("ls -A " .. q(dir)))            -- no temp file left
    helpers.rm_rf(dir)
  end)

  it("trusts the generated certificate given as ca_file", function()
    local p = assert(pgo.fetch.profile(good.base, { quiet = true, seconds = false, ca_file = good.cert }))
    assert.equal(assert(pgo.load(TINY)):info().samples, p:info().samples)
  end)

  it("checks the host name even with the right CA: 'tls'", function()
    local p, msg, code = pgo.fetch.profile(wrong_name.base, { quiet = true, retries = 0,
      seconds = false, ca_file = wrong_name.cert })
    assert.is_nil(p)
    assert.equal("tls", code, msg)
  end)

  it("works with insecure = true only when asked, and warns on stderr", function()
    local out, err, code = pgolua_chunk(([[
      local p, msg = require("pgo").fetch.profile(%q, { insecure = true, quiet = true, seconds = false })
      print(p and "ok" or msg)]]):format(good.base))
    assert.equal(0, code, err)
    assert.equal("ok\n", out)
    assert.truthy(find_plain(err, "WARNING: TLS VERIFICATION IS OFF (insecure=true) for " .. good.base), err)
  end)
end)

-- {=====================================================================================

describe("#integration security: secrets (docs/security.md, 4)", function()
  if not go then pending(NO_GO) return end
  local https, http, fake, dead
  setup(function()
    servers.guard(function()
      https = start_tls {}
      http = start_tls { plain = true, profile = F("profiles/shop.p1.pgo") }
      fake = servers.start_fake(servers.build_fake(go), { profile = TINY })
      dead = servers.dead_url(servers.build_fake(go), "/debug/pprof/profile")
    end)
  end)
  teardown(function() cleanup_tls() servers.cleanup() end)

  -- Secrets by where they come from; each value is unique, so any leak is found.
  local S = {
    userinfo = "PW-userinfo-7f3a9c1e",
    query = "TOK-query-51d2e8aa",
    access = "TOK-access-0c9b2f11",
    api_key = "TOK-apikey-77e10d3b",
    encoded = "TOK-encoded-3b8c5a90",
    env = "ENV-token-c4d09a6f",
    file = "FILE-token-8e1b7702",
    header = "HDR-token-9a41c3de",
  }
  local function all_secrets()
    local t = {}
    for _, v in pairs(S) do t[#t + 1] = v end
    -- the form a server sees: Basic of user:password from the URL
    t[#t + 1] = require("pgo.core.net").base64_encode("spec:" .. S.userinfo)
    return t
  end

  local function assert_clean(where, text)
    for _, s in ipairs(all_secrets()) do
      assert.is_nil(text:find(s, 1, true), ("%s shows a secret (%s):\n%s"):format(where, s, text))
    end
  end

  -- A URL with the user info and query secrets: base .. path .. query.
  local function secret_url(base, path)
    return base:gsub("://", "://spec:" .. S.userinfo .. "@") .. path .. "?token=" .. S.query
      .. "&access_token=" .. S.access .. "&api_key=" .. S.api_key .. "&%74oken=" .. S.encoded .. "&x=1"
  end

  -- Run a capture in a fresh ./pgolua with a credential from how ("env": auth_env, "file":
  -- auth_file, "none": only the URL's user info) and headers_env, and print everything a script might show: message, code, meta as JSON and, on
  -- success, the provenance line and the PR body. Returns stdout, stderr.
  local function capture(url, extra, how)
    local secret_file = os.tmpname()
    helpers.write_file(secret_file, S.file .. "\n")
    local auth = how == "file" and ("auth_file = %q, "):format(secret_file)
      or how == "env" and 'auth_env = "SPEC_TOKEN", ' or ""
    local out, err = pgolua_chunk(([[
      local pgo = require "pgo"
      local cjson = require "cjson"
      local opts = { quiet = true, seconds = false, retries = 0, %sheaders_env = "SPEC_HEADERS",
        max_redirects = 0 %s }
      local p, a, code, meta = pgo.fetch.profile(%q, opts)
      if p then
        print("ok", cjson.encode(a))
        local fields = pgo.provenance.from_fetch(a)
        print(pgo.provenance.record(p, fields))
        print(pgo.provenance.pr_body(nil, p))
      else
        print(a, code, cjson.encode(meta or {}))
      end
      local merged, results = pgo.fetch.fleet({ %q }, opts)
      for _, r in ipairs(type(results) == "table" and results or {}) do
        print(r.ok, r.error, r.code, r.url)
      end
      print(tostring(merged), type(results) == "string" and results or "")]]):format(auth,
      extra or "", url, url), "SPEC_TOKEN=" .. q(S.env) .. " SPEC_HEADERS=" .. q("X-Api-Key: " .. S.header) .. " ")
    os.remove(secret_file)
    return out, err
  end

  it("never shows them when the capture fails: refused, 401/500 echoes, cut bodies, bad TLS", function()
    local cases = {
      { url = secret_url(dead:match("^(http://[^/]+)"), "/debug/pprof/profile"), code = "connect" },
      { url = secret_url(http.base, "/echo/401"), code = "http_status", echo = true },
      { url = secret_url(http.base, "/echo/500"), code = "http_status", echo = true },
      { url = secret_url(http.base, "/echo/cut"), code = "http_status", echo = true },
      { url = secret_url(http.base, "/echo/html"), code = "http_status", echo = true },
      { url = secret_url(https.base, "/echo/500"), code = "tls" },
      { url = secret_url(https.base, "/echo/500"), code = "http_status", extra = ", insecure = true",
        echo = true },
      { url = secret_url(fake.base, "/fail/echo-auth"), code = "http_status" },
    }
    for _, c in ipairs(cases) do
      for _, how in ipairs { "env", "file" } do
        local out, err = capture(c.url, c.extra, how)
        assert.truthy(find_plain(out, "\t" .. c.code .. "\t"), c.url .. "\n" .. out .. err)
        assert.truthy(find_plain(out, "REDACTED"), out)
        assert_clean("stdout", out)
        assert_clean("stderr", err)
      end
    end
    -- not vacuous: the servers did receive the credentials, and echoed them
    local seen = http.requests() .. https.requests()
    for _, s in ipairs { S.query, S.access, S.api_key, "Bearer " .. S.env, "Bearer " .. S.file } do
      assert.truthy(find_plain(seen, s), s)
    end
    -- libcurl's Basic header from the URL's user info, and headers_env's header, echoed
    local out, err = capture(http.base:gsub("://", "://spec:" .. S.userinfo .. "@") .. "/echo/500", nil, "none")
    assert.truthy(find_plain(out, "Authorization=Basic REDACTED"), out)
    assert.truthy(find_plain(out, "X-Api-Key=REDACTED"), out)
    assert_clean("stdout", out)
    assert_clean("stderr", err)
  end)

  it("never shows the first characters of a token that an excerpt's cut lands in", function()
    -- "Bearer " is 7 bytes: with pad bytes of filler before it, the 200-byte excerpt keeps
    -- 193 - pad characters of the token
    for pad = 188, 192 do
      local out, err = capture(http.base .. "/echo/cut?pad=" .. pad, nil, "env")
      assert.truthy(find_plain(out, "\thttp_status\t"), out .. err)
      local kept = 193 - pad
      assert.truthy(find_plain(out, "xBearer " .. ("REDACTED"):sub(1, kept) .. "..."), out)   -- redacted, then cut
      assert.is_nil(out:find("x" .. S.env:sub(1, kept), 1, true), "pad " .. pad .. ":\n" .. out)
      assert.is_nil(err:find("x" .. S.env:sub(1, kept), 1, true), err)
    end
  end)

  it("refuses a credential holding a tab or another control character, before sending it", function()
    for _, bad in ipairs { "ab\tcdefgh", "abcd\1efgh", "abcdefgh\127" } do
      local out = pgolua_chunk(([[
        local p, msg, code = require("pgo").fetch.profile(%q, { quiet = true, auth_env = "SPEC_TOKEN" })
        print(p, msg, code)]]):format(http.base .. "/echo/401"), "SPEC_TOKEN=" .. q(bad) .. " ")
      assert.truthy(find_plain(out, "holds a control character"), out)
      assert.truthy(find_plain(out, "\tauth"), out)
    end
    assert.is_nil(http.requests():find("abcd", 1, true))        -- nothing was sent
  end)

  it("never shows them on success: meta, provenance, PR body", function()
    local out, err = capture(secret_url(http.base, "/debug/pprof/profile"), nil, "env")
    assert.truthy(find_plain(out, "ok\t"), out .. err)
    assert.truthy(find_plain(out, "pgolua-provenance: v=1; source="), out)
    assert.truthy(find_plain(out, "### Update default.pgo"), out)
    assert_clean("stdout", out)
    assert_clean("stderr", err)
  end)

  it("never shows them in progress lines on a terminal", function()
    if not helpers.run("command -v script"):find("script") then
      pending("script(1) is not installed: no pseudo-terminal")
      return
    end
    local chunk = os.tmpname()
    helpers.write_file(chunk, ([[
      local p, msg = require("pgo").fetch.profile(%q, { seconds = false, retries = 0 })
      print(p and "ok" or msg)]]):format(secret_url(http.base, "/slow")))
    local out = helpers.run("script -qec " .. q(q(helpers.pgolua) .. " " .. q(chunk)) .. " /dev/null")
    os.remove(chunk)
    assert.truthy(find_plain(out, "received"), out)          -- a progress line was drawn
    assert.truthy(find_plain(out, "token=REDACTED"), out)
    assert_clean("the terminal", out)
  end)

  it("never shows them in recipes/refresh.lua's output, --json, the PR body or the profile", function()
    local dir = helpers.tmpdir()
    local target = dir .. "/default.pgo"
    helpers.write_file(target, helpers.read_file(F("profiles/shop.p2.pgo")))
    local function refresh(url, extra)
      return helpers.run("cd " .. q(dir) .. " && SPEC_TOKEN=" .. q(S.env) .. " " .. q(helpers.pgolua)
        .. " " .. q(helpers.root .. "/recipes/refresh.lua") .. " --url " .. q(url) .. " --seconds 1"
        .. " --retries 0 --auth-env SPEC_TOKEN --out " .. q(target) .. (extra or ""))
    end
    for _, extra in ipairs { "", " --json" } do
      local out, err, code = refresh(secret_url(http.base, "/echo/500"), extra)
      assert.equal(1, code)
      assert.truthy(find_plain(out .. err, "REDACTED"), out .. err)
      assert_clean("refresh stdout", out)
      assert_clean("refresh stderr", err)
    end
    local out, err, code = refresh(secret_url(http.base, "/debug/pprof/profile"), " --json --pr-body "
      .. q(dir .. "/pr.md"))
    assert.equal(0, code, err)
    assert_clean("refresh stdout", out)
    assert_clean("refresh stderr", err)
    assert_clean("the PR body", helpers.read_file(dir .. "/pr.md"))
    local p = assert(pgo.load(target))
    assert_clean("the profile's comments", table.concat(p:info().comments, "\n"))
    assert.truthy(find_plain(pgo.provenance.read(p).source, "token=REDACTED"))
    helpers.rm_rf(dir)
  end)

  it("does not carry a credential header to another host on a redirect unless asked", function()
    local other = start_tls { plain = true }
    local to = http.url("/redirect?to=" .. pgo.backends._qenc(other.url("/debug/pprof/profile")))
    local o = { quiet = true, seconds = false, retries = 0, headers = { ["X-Api-Key"] = S.header } }
    local p, msg, code = pgo.fetch.profile(to, o)
    assert.is_nil(p)
    assert.equal("redirect", code, msg)
    assert.equal("", other.requests())                       -- never contacted
    o.max_redirects = 1                                      -- the caller's explicit choice
    assert.truthy((pgo.fetch.profile(to, o)))
    assert.truthy(find_plain(other.requests(), "/debug/pprof/profile"))
    stop_tls(other)
  end)

  it("redacts credentials in URLs, with or without a scheme", function()
    local r = pgo.fetch.redact
    assert.equal("http://u:REDACTED@h:1/p?token=REDACTED&a=1", r("http://u:pw1234@h:1/p?token=t0k3n&a=1"))
    assert.equal("u:REDACTED@h:6060/x", r("u:pw1234@h:6060/x"))
    assert.equal("http://h/?%74oken=REDACTED&X-Amz-Signature=REDACTED",
      r("http://h/?%74oken=abcdef&X-Amz-Signature=abcdef"))
    assert.is_true(pgo.fetch._has_credentials("http://h/?api_key=abcd"))
    assert.is_false(pgo.fetch._has_credentials("http://h:6060/debug/pprof/profile?seconds=30"))
    -- a message cut inside a secret loses the part it kept (6 characters or more)
    assert.equal("HTTP 500: REDACTED...", pgo.fetch._scrub("HTTP 500: abcdefghij...", { "abcdefghijklmnop" }))
  end)
end)

-- {=====================================================================================

describe("security: temporary files (docs/security.md, 5)", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rm_rf(dir) end)

  local MODE = tonumber("777", 8)

  it("pgo.fs.tempfile: O_EXCL, mode 0600; pgo.fs.mkdtemp: mode 0700", function()
    local old = assert(pgo.fs.run({ "sh", "-c", "umask" }, { capture = true })).output
    local path, f = assert(pgo.fs.tempfile(dir, "spec"))
    f:close()
    assert.equal(tonumber("600", 8), pgo.fs.stat(path).mode & MODE)
    assert.matches("/%.pgolua%-spec%.%w+$", path)
    local d = assert(pgo.fs.mkdtemp(dir, "spec"))
    assert.equal(tonumber("700", 8), pgo.fs.stat(d).mode & MODE)
    assert.matches("/spec%.%w%w%w%w%w%w$", d)
    assert.truthy(old:match("%d+"))
  end)

  it("flame.write never writes through a planted symbolic link", function()
    local victim = dir .. "/victim"
    helpers.write_file(victim, "precious\n")
    local svg = dir .. "/f.svg"
    -- the predictable names an older flame.write used (path .. ".tmp" .. os.time())
    local now = os.time()
    for t = now - 2, now + 30 do
      assert(pgo.fs.run({ "ln", "-s", victim, svg .. ".tmp" .. t }))
    end
    local p = assert(pgo.load(TINY))
    assert.is_true(pgo.flame.write(p, svg))
    assert.equal("precious\n", helpers.read_file(victim))
    assert.truthy(find_plain(helpers.read_file(svg), "<svg"))
  end)

  it("an atomic write replaces a planted symbolic link at the target, never its target", function()
    local victim = dir .. "/victim"
    helpers.write_file(victim, "precious\n")
    local target = dir .. "/default.pgo"
    assert(pgo.fs.run({ "ln", "-s", victim, target }))
    local p = assert(pgo.load(TINY))
    assert.is_true(p:write(target))
    assert.equal("precious\n", helpers.read_file(victim))
    assert.equal("file", pgo.fs.stat(target).type)
    assert.truthy(pgo.load(target))
  end)

  describe("#integration fetch keep_temp", function()
    if not go then pending(NO_GO) return end
    local srv
    setup(function() servers.guard(function() srv = start_tls { plain = true } end) end)
    teardown(cleanup_tls)

    it("keeps the captured body in a 0600 file created beside dest", function()
      local _, meta = assert(pgo.fetch.profile(srv.base, { quiet = true, seconds = false,
        keep_temp = true, dest = dir .. "/default.pgo" }))
      assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/%.pgolua%-fetch%.%w+$", meta.temp_path)
      assert.equal(tonumber("600", 8), pgo.fs.stat(meta.temp_path).mode & MODE)
      local merged, results = assert(pgo.fetch.fleet({ srv.base, srv.base }, { quiet = true,
        seconds = false, keep_temp = true, dir = dir }))
      assert.truthy(merged)
      for _, r in ipairs(results) do
        assert.equal(tonumber("600", 8), pgo.fs.stat(r.temp_path).mode & MODE)
      end
    end)
  end)
end)

-- {=====================================================================================

describe("security: profile strings stay inert (docs/security.md, 6)", function()
  local EVIL = {
    "</svg><script>alert(1)</script>",
    "x](javascript:alert(1))",
    "a`b``c",
    "p|q|r",
    "two\nlines\r\n# heading",
    "<!-- hidden",
    "@channel @octocat",
    "\27]0;owned\7\27[2J\27[1A",
    "&amp; & <b>",
    "\239\191\191 bad \255 utf8",
  }
  local p
  setup(function() p = assert(pgo.decode(named_profile(EVIL, "\27[31mred"))) end)

  -- a markdown cell is exactly one code span: a fence, text without that fence or a line
  -- break, the fence
  local function inert_code_span(cell)
    local fence, body = cell:match("^(`+)(.*)%1$")
    assert.truthy(fence, "not a code span: " .. cell)
    assert.is_nil(body:find(fence, 1, true), cell)
    assert.is_nil(body:find("[\r\n]"), cell)
  end

  -- the cells of a markdown table row, split at unescaped "|"
  local function cells(row)
    local out, cur, i = {}, {}, 1
    while i <= #row do
      local c = row:sub(i, i)
      if c == "\\" then cur[#cur + 1] = row:sub(i, i + 1) i = i + 1
      elseif c == "|" then out[#out + 1] = table.concat(cur) cur = {}
      else cur[#cur + 1] = c end
      i = i + 1
    end
    out[#out + 1] = table.concat(cur)
    return out
  end

  it("markdown: the PR body puts every profile and server string in a code span", function()
    local prov = { source = "http://h/x?token=abcdef`](javascript:alert(1)) @octocat", window = "<!--",
      instances = 2, seconds = 30, aggregated_via = "x|y\n# z" }
    local body = pgo.provenance.pr_body(p, p, prov)
    local rows = {}
    for line in body:gmatch("[^\n]+") do
      if line:sub(1, 2) == "| " then rows[#rows + 1] = line end
    end
    assert.equal(9, #rows)                                   -- header + 8 facts
    for i, row in ipairs(rows) do
      local c = cells(row)
      assert.equal(4, #c, row)                               -- "", key, value, ""
      local v = c[3]:match("^ (.-) $")
      if i > 1 and v:find("`") then inert_code_span(v:match("^(`+.-`+)")) end
    end
    -- outside the code spans and the fenced record, no markup but our own
    local rest = body:gsub("\n(`+)text\n.-\n%1\n", "\n"):gsub("(`+).-%1", "")
    for tag in rest:gmatch("<([^>]*)>") do
      assert.truthy(({ details = true, summary = true, ["/summary"] = true, ["/details"] = true })[tag], tag)
    end
    assert.is_nil(rest:find("](", 1, true))
    assert.is_nil(rest:find("@%w"))
    assert.is_nil(body:find("abcdef", 1, true))             -- the token was redacted
    assert.truthy(find_plain(body, "REDACTED"))
    assert.is_nil(body:find("\27", 1, true))
    -- the provenance record sits in a fence longer than any backtick run inside
    local fence = body:match("\n(`+)text\n")
    assert.truthy(#fence >= 3)
  end)

  it("markdown: the runbook and the A/B gate table escape names", function()
    local dir = helpers.tmpdir()
    mkdir(dir .. "/cmd/app")
    helpers.write_file(dir .. "/go.mod", "module example.com/app\n\ngo 1.21\n")
    helpers.write_file(dir .. "/cmd/app/main.go", "package main\n\nfunc main() {}\n")
    helpers.write_file(dir .. "/cmd/app/default.pgo", named_profile(EVIL))
    local out, err, code = helpers.pgolua_run("recipes/runbook.lua --root " .. q(dir) .. " --top 20")
    helpers.rm_rf(dir)
    assert.equal(0, code, err)
    local table_rows = 0
    for line in out:gmatch("[^\n]+") do
      if line:match("^| %d+ |") then
        table_rows = table_rows + 1
        assert.equal(6, #cells(line), line)                  -- no cell escaped its column
      end
    end
    assert.equal(#EVIL, table_rows)                          -- and no row its line
    for _, raw in ipairs { "<script", "<!--", "\27", "@channel", "@octocat" } do
      assert.is_nil(out:find(raw, 1, true), raw)
    end
    assert.is_nil(out:find("[^\\]%]%("), "an unescaped ](")   -- no link can open
    -- the A/B gate's table of regressions: a benchmark named to inject
    local bench = helpers.tmpdir()
    for side, ns in pairs { old = 1000, new = 2000 } do
      local lines = { "pkg: example.com/x" }
      for i = 1, 10 do
        lines[#lines + 1] = ("BenchmarkA@octocat|<b>](javascript:x)`-8 100 %d ns/op"):format(ns + i)
      end
      helpers.write_file(bench .. "/" .. side .. ".txt", table.concat(lines, "\n") .. "\n")
    end
    local ab_out, ab_err, ab_code = helpers.pgolua_run("recipes/ab.lua " .. q(bench .. "/old.txt") .. " "
      .. q(bench .. "/new.txt") .. " --markdown --gate")
    helpers.rm_rf(bench)
    assert.equal(3, ab_code, ab_err)
    local escaped = "A@\u{2060}octocat\\|&lt;b&gt;\\](javascript:x)\\`"
    local row = ab_out:match("\n(| A[^\n]*| sec/op |[^\n]*)")      -- the verdict table
    assert.equal(9, #cells(row), row)                        -- 7 columns, none escaped
    assert.truthy(find_plain(row, escaped), row)
    local gate = ab_out:match("\n(%*%*Gate FAILED%*%*[^\n]*)")
    assert.truthy(gate, ab_out)
    assert.truthy(find_plain(gate, escaped), gate)
    local outside = ab_out:gsub("``[^\n]-``", "")                -- what is not in code spans
    for _, raw in ipairs { "<b>", "@octocat" } do assert.is_nil(outside:find(raw, 1, true), raw) end
    assert.is_nil(outside:find("[^\\]%](javascript"), "an unescaped ](")
  end)

  it("SVG: names are text, never markup", function()
    local svg = pgo.flame.svg(p)
    -- the page's own two scripts, and nothing of the profile in them: a configuration of
    -- numbers, and the interaction code, byte for byte the library's constant
    local config, code
    svg = svg:gsub('<script type="application/json" id="pgo%-config">([^<]*)</script>', function(c)
      config = c; return "" end, 1)
    svg = svg:gsub("<script type=\"text/ecmascript\"><!%[CDATA%[\n(.-)%]%]></script>", function(c)
      code = c; return "" end, 1)
    assert.truthy(config and config:match('^{[%w":,.%-%(%)]*}$'), config)
    assert.equal(require "pgo.flame_script", code)
    local tags = { ["?xml"] = true, svg = true, defs = true, linearGradient = true, stop = true,
      style = true, rect = true, text = true, g = true, title = true, tspan = true }
    for tag in svg:gmatch("<[/]?([%w:%?]+)") do assert.truthy(tags[tag], "unexpected element " .. tag) end
    for ent in svg:gmatch("&([^;%s]*);?") do
      assert.truthy(({ amp = true, lt = true, gt = true, quot = true, ["#39"] = true })[ent], ent)
    end
    assert.is_nil(svg:find("[%z\1-\8\11\12\14-\31]"))
    assert.is_nil(svg:find("\239\191\191", 1, true))       -- U+FFFF is no XML character
    assert.truthy(utf8.len(svg))
    assert.truthy(find_plain(svg, "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
  end)

  it("JSON: names round-trip exactly and no control character is raw", function()
    local json = pgo.report.top_json(p)
    assert.is_nil(json:find("[%z\1-\31]"))
    local names = {}
    for _, r in ipairs(cjson.decode(json).rows) do names[r.name] = true end
    for i = 1, 9 do assert.truthy(names[EVIL[i]], EVIL[i]) end   -- the last is not UTF-8
  end)

  it("terminal: top, tags, stale and doctor never print a raw control character", function()
    local text = pgo.report.top(p)
    assert.is_nil(text:find("[%z\1-\9\11-\31\127]"))
    assert.truthy(find_plain(text, "\\x1b]0;owned\\x07\\x1b[2J"))
    assert.truthy(find_plain(text, "two\\x0alines\\x0d\\x0a# heading"))
    local tags = pgo.report.tags(p)
    assert.truthy(find_plain(tags, "\\x1b[31mred"), tags)
    assert.is_nil(tags:find("[%z\1-\9\11-\31\127]"))
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/go.mod", "module example.com/app\n\ngo 1.21\n")
    -- functions of the module, so that stale lists them (they are not in its source)
    local in_module = {}
    for i, n in ipairs(EVIL) do in_module[i] = "example.com/app." .. n end
    helpers.write_file(dir .. "/evil.pgo", named_profile(in_module, "\27[31mred"))
    for _, cmd in ipairs {
      "recipes/top.lua " .. q(dir .. "/evil.pgo"),
      "recipes/stale.lua " .. q(dir .. "/evil.pgo") .. " --src " .. q(dir) .. " --top 0",
      "recipes/doctor.lua --root " .. q(dir) .. " --profile " .. q(dir .. "/evil.pgo"),
    } do
      local out, err = helpers.pgolua_run(cmd)
      assert.is_nil((out .. err):find("\27", 1, true), cmd .. ":\n" .. out .. err)
      if not cmd:find("doctor", 1, true) then
        assert.truthy(find_plain(out, "\\x1b]0;owned"), cmd .. ":\n" .. out)   -- the name was shown
      end
    end
    helpers.rm_rf(dir)
    -- ordinary names are untouched (pprof's text, byte for byte)
    assert.equal("example.com/shop/internal/cache.(*Cache).Get µs é",
      pgo.report.terminal_text("example.com/shop/internal/cache.(*Cache).Get µs é"))
    assert.equal("\\u009b[2J \\u202eevil \\x9b", pgo.report.terminal_text("\194\155[2J \226\128\174evil \155"))
  end)

  it("benchstat markdown (lua/pgo/bench.lua) keeps a benchmark name in its code span", function()
    local dir = helpers.tmpdir()
    for _, side in ipairs { "old", "new" } do
      helpers.write_file(dir .. "/" .. side .. ".txt",
        "pkg: example.com/x`](javascript:alert(2))\nBenchmarkA`](javascript:alert(1))`-8 100 1000 ns/op\n"
        .. "BenchmarkA`](javascript:alert(1))`-8 100 1000 ns/op\n")
    end
    local out = helpers.pgolua_run("recipes/ab.lua " .. q(dir .. "/old.txt") .. " " .. q(dir .. "/new.txt")
      .. " --markdown")
    helpers.rm_rf(dir)
    local rows = 0
    for line in out:gmatch("[^\n]+") do
      if line:find("alert(1)", 1, true) then
        rows = rows + 1
        local cell = line:match("^| (.-) |")
        if cell:sub(1, 1) == "`" then
          inert_code_span(cell)                 -- benchstat's table: a code span
        else                                    -- the verdict table: escaped text
          assert.is_nil(cell:find("[^\\]`"), cell)
          assert.is_nil(cell:find("[^\\]%]%("), cell)
        end
      end
    end
    assert.truthy(rows > 0, out)
  end)
end)

-- {=====================================================================================

describe("security: resource limits (docs/security.md, 7)", function()
  -- a profile with n samples of a depth-deep stack
  local function profile_bytes(n, depth)
    local names = {}
    for i = 1, depth do names[i] = "main.f" .. i end
    local fns, locs, stack = {}, {}, {}
    for i, nm in ipairs(names) do fns[i] = { nm, 1 } locs[i] = { lines = { { i, 1 } } } stack[i] = i end
    local samples = {}
    for i = 1, n do samples[i] = { locs = stack, values = { 1, 10000000 } } end
    return pb.cpu_profile { functions = fns, locations = locs, samples = samples }
  end

  it("max_samples: one over the limit is 'too_large', naming the limit", function()
    assert.truthy(pgo.decode(profile_bytes(10, 2), { max_samples = 10 }))
    local p, msg, code = pgo.decode(profile_bytes(11, 2), { max_samples = 10 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "more than 10 samples (limit max_samples)"), msg)
  end)

  it("max_decompressed: a field claiming more bytes than the limit is 'too_large', naming it", function()
    -- a valid first field, then sample_type claiming 1 GiB with only 2 bytes behind it
    local bytes = "\x50\x01\x0a\x80\x80\x80\x80\x04xx"
    local p, msg, code = pgo.decode(bytes, { max_decompressed = 1024 * 1024 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "claims 1073741824 bytes, more than max_decompressed (1048576)"), msg)
  end)

  it("max_stack_depth: one frame over is 'too_large'", function()
    assert.truthy(pgo.decode(profile_bytes(1, 5), { max_stack_depth = 5 }))
    local p, msg, code = pgo.decode(profile_bytes(1, 6), { max_stack_depth = 5 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "6 frames, over the limit of 5 (max_stack_depth)"), msg)
  end)

  it("max_decompressed: raw bytes, files and gzip bombs one byte over are 'too_large'", function()
    local raw = profile_bytes(1, 2)
    assert.truthy(pgo.decode(raw, { max_decompressed = #raw }))
    local p, msg, code = pgo.decode(raw, { max_decompressed = #raw - 1 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "max_decompressed"), msg)
    -- a gzip bomb: 64 KiB strings of zeros, 16 MiB in all, compressed about 1000 to 1
    local fields = pb.valid_profile()
    local big = string.rep("\0", 65536)
    for _ = 1, 256 do fields[#fields + 1] = { 6, "bytes", big } end
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/bomb", pb.encode(fields))
    assert.equal(0, assert(pgo.fs.run({ "gzip", "-9", dir .. "/bomb" })).status)
    local gz = helpers.read_file(dir .. "/bomb.gz")
    assert.truthy(#gz < 100 * 1024)
    p, msg, code = pgo.decode(gz, { max_decompressed = 1024 * 1024 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "decompresses to more than 1048576 bytes"), msg)
    p, msg, code = pgo.load(dir .. "/bomb.gz", { max_decompressed = 1024 * 1024 })
    assert.equal("too_large", code, msg)
    -- the file itself over the limit: refused before it is read whole
    p, msg, code = pgo.load(dir .. "/bomb.gz", { max_decompressed = #gz - 1 })
    assert.is_nil(p)
    assert.equal("too_large", code)
    assert.truthy(find_plain(msg, "larger than " .. (#gz - 1) .. " bytes"), msg)
    helpers.rm_rf(dir)
  end)

  it("Go source: a file over max_file_bytes is skipped and said so", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/go.mod", "module example.com/m\n\ngo 1.21\n")
    helpers.write_file(dir .. "/big.go", "package m\n\nfunc Big() {}\n//" .. string.rep("x", 2000) .. "\n")
    helpers.write_file(dir .. "/small.go", "package m\n\nfunc Small() {}\n")
    local s = assert(pgo.symbols.go_source(dir, { max_file_bytes = 1000 }))
    helpers.rm_rf(dir)
    assert.truthy(s.functions["example.com/m.Small"])
    assert.is_nil(s.functions["example.com/m.Big"])
    assert.same({ { path = "big.go", reason = "larger than max_file_bytes (1000)", kind = "too_large",
                    package = "example.com/m" } }, s.skipped)
  end)

  it("a source tree's FIFOs and links to devices are skipped, never read (no hang, no 1 GiB read)", function()
    local dir = helpers.tmpdir()
    mkdir(dir .. "/cmd/a")
    helpers.write_file(dir .. "/go.mod", "module example.com/m\n\ngo 1.21\n")
    helpers.write_file(dir .. "/cmd/a/main.go", "package main\n\nfunc main() {}\n")
    for _, argv in ipairs { { "mkfifo", dir .. "/cmd/a/default.pgo" }, { "mkfifo", dir .. "/cmd/a/x.go" },
      { "ln", "-s", "/dev/zero", dir .. "/cmd/a/zero.go" }, { "ln", "-s", "/dev/zero", dir .. "/Makefile" },
      { "ln", "-s", "/dev/zero", dir .. "/cmd/a/cpu.pgo" } } do
      assert.equal(0, assert(pgo.fs.run(argv)).status)
    end
    for _, recipe in ipairs { "doctor.lua --root ", "runbook.lua --root ", "stale.lua /dev/null --src " } do
      local _, err, code = helpers.run("timeout 60 " .. q(helpers.pgolua) .. " " .. q(helpers.root
        .. "/recipes/") .. recipe .. q(dir))
      assert.is_true(code ~= 124 and code < 4, recipe .. " (exit " .. code .. "): " .. err)
    end
    local out = helpers.run("timeout 60 " .. q(helpers.pgolua) .. " -e " .. q(([[
      local r = assert(require("pgo").audit.repo(%q))
      for _, f in ipairs(r.findings) do print(f.code, f.path) end]]):format(dir)))
    helpers.rm_rf(dir)
    assert.truthy(find_plain(out, "no_default_pgo\tcmd/a"), out)   -- the FIFO is no default.pgo
  end)

  describe("ELF binaries", function()
    local elf
    setup(function() elf = helpers.read_file(F("bin/shop.pgo")) end)

    -- elf with one field of .symtab's section header replaced (ELF64 little-endian)
    local function patch_symtab(field_off, value)
      local shoff = string.unpack("<I8", elf, 0x28 + 1)
      local shentsize, shnum = string.unpack("<I2I2", elf, 0x3A + 1)
      for i = 0, shnum - 1 do
        local h = shoff + i * shentsize
        if string.unpack("<I4", elf, h + 4 + 1) == 2 then      -- SHT_SYMTAB
          return elf:sub(1, h + field_off) .. string.pack("<I8", value) .. elf:sub(h + field_off + 9)
        end
      end
      error("no .symtab in the fixture")
    end

    it("max_size: a binary one byte over is 'too_large'", function()
      local size = #elf
      assert.truthy(pgo.symbols.binary(F("bin/shop.pgo"), { max_size = size }))
      local b, msg, code = pgo.symbols.binary(F("bin/shop.pgo"), { max_size = size - 1 })
      assert.is_nil(b)
      assert.equal("too_large", code)
      assert.truthy(find_plain(msg, "larger than " .. (size - 1) .. " bytes"), msg)
      assert.truthy(find_plain(msg, "raise the limit (max_size)"), msg)   -- the option to raise
    end)

    it("a symbol table claiming more than the file holds is 'invalid', with the offset", function()
      local sb = require "pgo.symbols_binary"
      assert.equal("symtab", assert(sb.decode_binary(elf)).source)
      for _, v in ipairs { { 0x20, 1 << 40 }, { 0x20, -1 }, { 0x18, -4096 } } do
        local b, msg, code = sb.decode_binary(patch_symtab(v[1], v[2]))
        assert.is_nil(b)
        assert.equal("invalid", code)
        assert.truthy(find_plain(msg, "extends past the end of the file"), msg)
      end
      local b, msg, code = sb.decode_binary(patch_symtab(0x38, 1))     -- entry size 1
      assert.is_nil(b)
      assert.equal("invalid", code)
      assert.truthy(find_plain(msg, "entry size 1 is below 24 bytes"), msg)
      -- far more section headers than the file can hold
      b, msg, code = sb.decode_binary(elf:sub(1, 0x3C) .. string.pack("<I2", 0xfff0) .. elf:sub(0x3F))
      assert.is_nil(b)
      assert.equal("invalid", code, msg)
    end)
  end)

  describe("#integration HTTP bodies and backends", function()
    if not go then pending(NO_GO) return end
    local fake
    setup(function()
      servers.guard(function() fake = servers.start_fake(servers.build_fake(go), { profile = TINY }) end)
    end)
    teardown(function() servers.cleanup() end)

    it("max_bytes: a body one byte over is 'too_large', announced or streamed", function()
      local o = { quiet = true, seconds = false, retries = 0, max_bytes = 100000 }
      for _, length in ipairs { "", "&length=1" } do
        local p, msg, code = pgo.fetch.profile(fake.url("/fail/big?bytes=100001" .. length), o)
        assert.is_nil(p)
        assert.equal("too_large", code, msg)
        assert.truthy(find_plain(msg, "larger than 100000 bytes (max_bytes"), msg)
      end
      local _, msg100k, code100k = pgo.fetch.profile(fake.url("/fail/big?bytes=100000"), o)
      assert.are_not.equal("too_large", code100k, msg100k)
    end)

    it("fetch, fleet, Pyroscope and Parca answers obey the decoding limits", function()
      local o = { quiet = true, seconds = false, retries = 0, max_decompressed = 10 }
      local _, msg, code = pgo.fetch.profile(fake.base, o)
      assert.equal("too_large", code, msg)
      local _, _, fcode, results = pgo.fetch.fleet({ fake.base }, o)
      assert.equal("fleet_failed", fcode)
      assert.equal("too_large", results[1].code)
      local _, pmsg, pcode = pgo.backends.pyroscope { url = fake.base, tenant = "t", quiet = true,
        retries = 0, max_decompressed = 10 }
      assert.equal("too_large", pcode, pmsg)
      local _, amsg, acode = pgo.backends.parca { url = fake.base, quiet = true, retries = 0,
        max_decompressed = 10 }
      assert.equal("too_large", acode, amsg)
    end)
  end)
end)

describe("security: credentials typed on the command line (docs/security.md, 4)", function()
  it("refresh warns that --url's credential is visible in ps, and still never shows it", function()
    local dir = helpers.tmpdir()
    local _, err, code = helpers.pgolua_run("recipes/refresh.lua --seconds 1 --out "
      .. helpers.shq(dir .. "/default.pgo")
      .. " --url 'http://ops:hunter2-secret@127.0.0.1:1/debug?access_token=tok-123456'")
    helpers.rm_rf(dir)
    assert.equal(1, code, err)
    assert.truthy(err:find("carries a credential on the command line, where other users can see it (ps)",
      1, true), err)
    assert.truthy(err:find("--auth-env", 1, true), err)
    assert.is_nil(err:find("hunter2", 1, true), err)
    assert.is_nil(err:find("tok-123456", 1, true), err)
  end)

  it("refresh says nothing of the kind for a URL without credentials", function()
    local dir = helpers.tmpdir()
    local _, err = helpers.pgolua_run("recipes/refresh.lua --seconds 1 --out "
      .. helpers.shq(dir .. "/default.pgo") .. " --url http://127.0.0.1:1/")
    helpers.rm_rf(dir)
    assert.is_nil(err:find("carries a credential", 1, true), err)
  end)
end)
