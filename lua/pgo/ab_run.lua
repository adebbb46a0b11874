-- pgo.ab_run: the interleaved benchmark runner of an A/B of -pgo=off against a profile.
-- Each side is built once (`go test -c`), then the two test binaries run in turn, round by
-- round, so a drift of the machine (other load, heat, frequency) falls on both sides
-- instead of on whichever side ran last. The output is plain `go test -bench` text:
-- `benchstat off.txt on.txt` in the save directory reads it.
--
--   local run = pgo.ab_run.benchmarks{ packages = {"./internal/work"}, profile = "x.pgo",
--     dir = ".", save_dir = "ab" (default: M.save_dir()), count = 10, bench = ".",
--     benchtime = "1s",
--     order = "alternate" | "shuffle", go = "go", progress = function(line) end }
--   -> { dir =, files = {off =, on =}, sides = {off = "-pgo=off", on = "-pgo=/abs/x.pgo"},
--        binaries = { {package =, dir =, off = {path =, sha256 =}, on = {...},
--                      same_code = bool (M.same_code)} },
--        same_code = true when every package's two binaries hold the same code, rounds = { "off on", "on off", ... },
--        go =, go_version =, manifest = "<dir>/ab-run.json" }
--    | nil, message, code
--   codes: bad_profile, go_list, build_failed, no_tests, run_failed, io.
--
-- Save directory layout: off.txt, on.txt (benchmark output, every round appended),
-- off.stderr, on.stderr, bin/<n>-off.test, bin/<n>-on.test (the binaries measured) and
-- ab-run.json (commands, hashes, the order of every round).
--
-- Order: "alternate" runs the rounds in ABBA blocks (off on, on off, on off, off on, ...):
-- a linear drift cancels within each block of four. "shuffle" draws each round's order at
-- random (os.time seed, recorded). A run fails when its binary exits non-zero or prints
-- a FAIL line or a panic: a side with a missing benchmark would otherwise compare fewer
-- benchmarks and look clean.
local fs = require "pgo.fs"
local recipe = require "pgo.recipe"

local M = {}

local function argerror(msg) error("bad argument #1 to 'benchmarks' (" .. msg .. ")", 3) end

--- The go command the user would run: `go` from PATH, else $GO, else nil.
function M.go_command()
  for d in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local st = fs.stat(d .. "/go")
    if st and st.type == "file" then return d .. "/go" end
  end
  local env = os.getenv("GO")
  if env and env ~= "" then return env end
  return nil
end

local function absolute(path, base)
  if path:sub(1, 1) == "/" then return path end
  base = base or fs.realpath(".") or "."
  return base .. "/" .. path:gsub("^%./", "")
end

--- The lines of a run's output that show it failed: "--- FAIL", "FAIL", "panic:".
function M.failure_lines(text)
  local bad = {}
  for line in (text or ""):gmatch("[^\n]+") do
    if line:match("^%-%-%- FAIL") or line:match("^FAIL") or line:match("^panic: ") then
      bad[#bad + 1] = line
    end
  end
  return bad
end

local function tail(text, n)
  local lines = {}
  for l in (text or ""):gmatch("[^\n]+") do lines[#lines + 1] = "  " .. l end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

-- The bytes of a binary's .text section (its machine code), or nil.
local function text_bytes(path)
  local info = require("pgo.symbols").binary(path)
  for _, sec in ipairs(info and info.sections or {}) do
    if sec.name == ".text" and sec.offset then
      local f = io.open(path, "rb")
      if not f then return nil end
      f:seek("set", sec.offset)
      local bytes = f:read(sec.file_size)
      f:close()
      return bytes
    end
  end
  return nil
end

--- Whether two binaries hold the same machine code (.text byte for byte): then the
-- profile changed nothing they run, and any measured difference between them is noise.
-- Their files still differ in the build ID and the recorded -pgo setting.
function M.same_code(a, b)
  local ta = text_bytes(a)
  return ta ~= nil and ta == text_bytes(b)
end

local function sha256(path)
  local r = fs.run({ "sha256sum", "--", path }, { capture = true, stderr = false })
  return r and r.status == 0 and r.output:match("^(%x+)") or nil
end

-- { {import =, dir =} } of the packages, from `go list` in dir.
local function remove_tree(d)
  fs.run({ "rm", "-rf", "--", d }, { stdout = false, stderr = false })
end

--- The save directory: path (created when missing) or, when nil, a new private temporary
-- directory under $TMPDIR. Returns its absolute path, or nil, message, "io".
function M.save_dir(path)
  if path then
    local r, err = fs.run({ "mkdir", "-p", "--", path }, { stdout = false })
    if not r or r.status ~= 0 then
      return nil, "cannot create " .. path .. (err and (": " .. err) or ""), "io"
    end
    return absolute(path)
  end
  local tmp = os.getenv("TMPDIR")
  local d, err = fs.mkdtemp((tmp and tmp ~= "") and tmp or "/tmp", "pgolua-ab")
  if not d then return nil, "cannot create a temporary directory: " .. tostring(err), "io" end
  return d
end

--- Run two shell commands (the user's own, as typed) alternately, count times each,
-- appending their output to old.txt and new.txt in save_dir: {old =, new =, count =,
-- dir =, save_dir =, progress =} -> {dir =, files = {old =, new =}} | nil, message, code.
function M.commands(opts)
  local dir, err = M.save_dir(opts.save_dir)
  if not dir then return nil, err, "io" end
  local files = { old = dir .. "/old.txt", new = dir .. "/new.txt" }
  for _, f in pairs(files) do recipe.write_file(f, "") end
  for i = 1, opts.count or 1 do
    for _, side in ipairs { "old", "new" } do
      if opts.progress then opts.progress(("run %d of %d, %s: %s"):format(i, opts.count or 1,
        side, opts[side])) end
      local r, rerr = fs.run({ "/bin/sh", "-c", opts[side] }, { dir = opts.dir,
        stdout = files[side], append = true })
      if not r or r.status ~= 0 then
        if not opts.save_dir then remove_tree(dir) end
        return nil, ("the %s command failed (%s): %s"):format(side, r and (r.signal and
          ("signal " .. r.signal) or ("exit status " .. r.status)) or tostring(rerr),
          opts[side]), "run_failed"
      end
    end
  end
  return { dir = dir, files = files }
end

local function list_packages(go, packages, dir)
  local argv = { go, "list", "-f", "{{.ImportPath}}\t{{.Dir}}" }
  for _, p in ipairs(packages) do argv[#argv + 1] = p end
  local r, err = fs.run(argv, { dir = dir, capture = true, stderr = false })
  if not r then return nil, ("cannot run %s: %s"):format(go, err), "go_list" end
  if r.status ~= 0 then
    return nil, ("go list %s failed in %s: check the package paths"):format(
      table.concat(packages, " "), dir or "."), "go_list"
  end
  local list = {}
  for import, pdir in r.output:gmatch("([^\t\n]+)\t([^\n]+)") do
    list[#list + 1] = { import = import, dir = pdir }
  end
  return list
end

local known = { packages = true, profile = true, dir = true, save_dir = true, count = true,
  bench = true, benchtime = true, order = true, go = true, progress = true }

local run_benchmarks

--- Build both sides once and run them interleaved. See the top of the file. A temporary
-- save directory (no save_dir given) is removed when the run fails.
function M.benchmarks(opts)
  local run, err, code, created = run_benchmarks(opts)
  if not run and created then remove_tree(created) end
  return run, err, code
end

function run_benchmarks(opts)
  if type(opts) ~= "table" then argerror("table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known[k] then argerror("unknown option '" .. tostring(k) .. "'") end
  end
  if type(opts.packages) ~= "table" or #opts.packages == 0 then argerror("packages: a list") end
  if type(opts.profile) ~= "string" then argerror("profile: a file name") end
  local count = opts.count or 10
  if math.type(count) ~= "integer" or count < 1 then argerror("count: a positive integer") end
  local order = opts.order or "alternate"
  if order ~= "alternate" and order ~= "shuffle" then argerror("order: alternate or shuffle") end
  local progress = opts.progress or function() end
  local go = opts.go or M.go_command()
  if not go then return nil, "no go command: put go on PATH or set $GO", "go_list" end
  local profile = fs.realpath(opts.profile)
  if not profile then
    return nil, ("profile %s: no such file"):format(opts.profile), "bad_profile"
  end
  local pkgs, perr, pcode = list_packages(go, opts.packages, opts.dir)
  if not pkgs then return nil, perr, pcode end
  local save, serr = M.save_dir(opts.save_dir)
  if not save then return nil, serr, "io" end
  local created = not opts.save_dir and save or nil
  local ok, err = M.save_dir(save .. "/bin")
  if not ok then return nil, err, "io", created end

  local run = { dir = save, go = go, rounds = recipe.array(), binaries = recipe.array(),
    files = { off = save .. "/off.txt", on = save .. "/on.txt" },
    sides = { off = "-pgo=off", on = "-pgo=" .. profile }, manifest = save .. "/ab-run.json" }
  local v = fs.run({ go, "version" }, { capture = true, stderr = false })
  run.go_version = v and v.output:gsub("%s+$", "") or "?"

  -- build: one binary per package and side
  for i, p in ipairs(pkgs) do
    local b = { package = p.import, dir = p.dir }
    for _, side in ipairs { "off", "on" } do
      local path = ("%s/bin/%d-%s.test"):format(save, i, side)
      progress(("build %s %s"):format(run.sides[side], p.import))
      local log = save .. "/build-" .. side .. ".log"
      local r, rerr = fs.run({ go, "test", "-c", "-o", path, run.sides[side], p.import },
        { dir = opts.dir, stdout = log, stderr = log, append = true })
      if not r or r.status ~= 0 then
        return nil, ("go test -c %s %s failed%s"):format(run.sides[side], p.import,
          r and (":\n" .. tail(recipe.read_file(log), 15)) or (": " .. tostring(rerr))),
          "build_failed", created
      end
      if not fs.exists(path) then
        return nil, ("%s has no test files: nothing to benchmark"):format(p.import),
          "no_tests", created
      end
      b[side] = { path = path, sha256 = sha256(path) }
    end
    b.same_code = M.same_code(b.off.path, b.on.path)
    run.same_code = (run.same_code ~= false) and b.same_code
    run.binaries[i] = b
  end

  for _, side in ipairs { "off", "on" } do
    local okw, werr = recipe.write_file(run.files[side], "")
    if not okw then return nil, werr, "io", created end
    recipe.write_file(save .. "/" .. side .. ".stderr", "")
  end
  local seed = os.time()
  if order == "shuffle" then math.randomseed(seed); run.seed = seed end
  local scratch = save .. "/run.txt"
  for round = 1, count do
    local k = (round - 1) % 4
    local first_off = (order == "alternate" and (k == 0 or k == 3))
      or (order == "shuffle" and math.random(2) == 1)
    local sides = first_off and { "off", "on" } or { "on", "off" }
    run.rounds[round] = table.concat(sides, " ")
    progress(("round %d of %d: %s"):format(round, count, run.rounds[round]))
    for _, side in ipairs(sides) do
      for _, b in ipairs(run.binaries) do
        recipe.write_file(scratch, "")
        local r, rerr = fs.run({ b[side].path, "-test.run=^$",
          "-test.bench=" .. (opts.bench or "."), "-test.count=1",
          "-test.benchtime=" .. (opts.benchtime or "1s") },
          { dir = b.dir, stdout = scratch, stderr = save .. "/" .. side .. ".stderr",
            append = true })
        local text = recipe.read_file(scratch) or ""
        local bad = M.failure_lines(text)
        if not r or r.status ~= 0 or #bad > 0 then
          return nil, ("%s (%s) failed in round %d (%s):\n%s"):format(b.package,
            run.sides[side], round, r and (r.signal and ("signal " .. r.signal)
              or ("exit status " .. r.status)) or tostring(rerr), tail(text, 15)),
          "run_failed", created
        end
        -- through the temp-file API, like every write of the library (small files)
        local okw, werr = recipe.write_file(run.files[side], (recipe.read_file(run.files[side]) or "") .. text)
        if not okw then return nil, werr, "io", created end
      end
    end
  end
  os.remove(scratch)
  recipe.write_file(run.manifest, recipe.json(run) .. "\n")
  return run
end

return M
