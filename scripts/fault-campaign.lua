#!/usr/bin/env pgolua
-- fault-campaign.lua: fault injection on recipes/refresh.lua (docs/reliability.md).
--
--   ./pgolua scripts/fault-campaign.lua [--runs 200] [--only kill|matrix] [--out FILE]
--                                       [--seed N] [--variants N] [--keep]
--   make faults                           (the same, with the figures into a file)
--
-- Two parts, each printed as a markdown table (stdout, and --out FILE):
--
-- * kill -9: --runs refreshes, alternately from --file (a merge of --variants profiles)
--   and from --url (the fake server dripping the same merge slowly), each killed with
--   SIGKILL after a random delay drawn over the whole run (calibrated first: the
--   slowest of three unkilled runs, plus 10%). After each: the target must be the old
--   profile byte for byte, or the complete new one (decoded: its sample total and a
--   provenance record); at most one temporary file may be left, and the next refresh,
--   once the leftover is older than the stale age (simulated with touch), must leave
--   none.
-- * the fault matrix: full disk (file size limit, small tmpfs), read-only directory,
--   permission denied, and the server faults of spec/support/fakeserver.go (reset
--   mid-body, slow drip, gzip bomb, oversized body, HTML 200, a heap profile). For each:
--   exit code, the first line of the error, whether the target is byte-identical, and
--   the temporary files left.
--
-- Sources come from examples/profiles/demo.pgo (in the repository); the URL cases need
-- Go 1.21+ (/usr/lib/go-1.23/bin/go or go on PATH) for the fake server, the tmpfs and
-- read-only cases root and mount(8), the permission case setpriv(1) when root. A part
-- that cannot run is skipped with the reason in the table. Exit: 0 when no run broke an
-- invariant, 1 when one did (the table says which), 2 on a usage or setup error.
local pgo = require "pgo"
local net = require "pgo.core.net"
local argparse = require "argparse"

-- {=====================================================================================
-- Where things are

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function absolute(path)
  local p = io.popen("cd " .. shq(path) .. " 2>/dev/null && pwd -P")
  local abs = p and p:read("l")
  if p then p:close() end
  return abs ~= "" and abs or nil
end

local ROOT = absolute((arg[0] or ""):match("^(.*)/scripts/[^/]*$") or ".")

-- The pgolua running this script (lua(1) puts the interpreter's name in arg[-1]), as an
-- absolute path: the runs happen in other directories.
local function interpreter()
  local name = os.getenv("PGOLUA_BIN") or arg[-1]
  if not name or not name:find("pgolua", 1, true) then return ROOT .. "/pgolua" end
  if not name:find("/", 1, true) then                 -- found on PATH
    local p = io.popen("command -v " .. shq(name))
    local found = p and p:read("l")
    if p then p:close() end
    return found or name
  end
  if name:sub(1, 1) == "/" then return name end
  return (absolute(name:match("^(.*)/[^/]*$")) or ".") .. "/" .. name:match("[^/]*$")
end
local PGOLUA = interpreter()
local RECIPE = ROOT .. "/recipes/refresh.lua"

-- spec/support/servers.lua starts and always stops the fake server; it reads the root and
-- the binary from spec/helpers.lua, which guesses them from $PWD: set them.
package.path = ROOT .. "/spec/?.lua;" .. package.path
local helpers = require "helpers"
helpers.root, helpers.pgolua = ROOT, PGOLUA
local servers = require "support.servers"

-- The stale age of src/core/fileio.c (PGO_TEMP_STALE_SECONDS): a leftover is backdated by
-- a minute more to stand for "the next refresh, a while later".
local STALE_SECONDS = 600
-- Default fetch limits of refresh.lua (MAX_BYTES): the oversized bodies are one byte more.
local MAX_BYTES = 256 * 1024 * 1024

-- }=====================================================================================

-- {=====================================================================================
-- Small helpers

local run = helpers.run                 -- (cmd [, stdin]) -> stdout, stderr, exit status

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function sh_ok(cmd)
  local _, err, code = run(cmd)
  return code == 0, err
end

-- The temporary files (names starting ".pgolua") in dir, sorted.
local function temp_files(dir)
  local out = run("ls -A " .. shq(dir))
  local names = {}
  for name in out:gmatch("[^\n]+") do
    if name:sub(1, 7) == ".pgolua" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- ".pgolua-refresh.k3x9q2" -> "pgolua-refresh"
local function temp_kind(name) return name:match("^%.(pgolua[%w-]*)%.") or name end

-- The first line of refresh's error on stderr ("refresh: ..." that is not a note).
local function first_error(stderr)
  for line in stderr:gmatch("[^\n]+") do
    if line:find("^refresh: ") and not line:find("^refresh: note: ") then
      return (line:gsub("^refresh: ", ""))
    end
  end
  return stderr:match("[^\n]+") or ""
end

-- A table cell: no pipes, line breaks or markup, at most n characters.
local function cell(s, n)
  s = tostring(s):gsub("[\r\n]+", " "):gsub("|", "\\|"):gsub("<", "&lt;"):gsub(">", "&gt;")
  if n and #s > n then s = s:sub(1, n - 3) .. "..." end
  return s
end

-- A fresh directory holding only the old profile as default.pgo; returns dir, target.
local function fresh_target(dir, old_path, mode)
  assert(sh_ok("rm -rf " .. shq(dir) .. " && mkdir -p " .. shq(dir) .. " && chmod " .. (mode or "755")
    .. " " .. shq(dir) .. " && cp " .. shq(old_path) .. " " .. shq(dir .. "/default.pgo")
    .. " && chmod 644 " .. shq(dir .. "/default.pgo")))
  return dir, dir .. "/default.pgo"
end

local function refresh_cmd(args)
  return shq(PGOLUA) .. " " .. shq(RECIPE) .. " " .. args
end

local function go_binary()
  for _, g in ipairs { "/usr/lib/go-1.23/bin/go", "go" } do
    local out = run(g .. " version")
    local minor = out:match("go1%.(%d+)")
    if minor and tonumber(minor) >= 21 then return g end
  end
end

-- }=====================================================================================

-- {=====================================================================================
-- Sources: variants of the demo profile (the hottest 40 functions shared, the rest renamed
-- per variant, so the merge grows with each and still has clear hot spots)

local function make_sources(work, variants)
  local base = assert(pgo.load(ROOT .. "/examples/profiles/demo.pgo"))
  local hot = {}
  for _, row in ipairs(base:top { n = 40 }) do hot[row.name] = true end
  assert(sh_ok("mkdir -p " .. shq(work .. "/src")))
  local files = {}
  for i = 1, variants do
    local v = assert(base:rename(function(name)
      if not hot[name] then return ("%s_v%d"):format(name, i) end
    end))
    files[i] = ("%s/src/v%02d.pgo"):format(work, i)
    assert(v:write(files[i]))
    v:close()
  end
  local merged = assert(pgo.merge_files(files))
  local served = work .. "/src/served.pgo"
  assert(merged:write(served))
  local src = {
    files = files, served = served, old = work .. "/src/old.pgo",
    total = merged:info().totals[1], served_bytes = #read(served),
  }
  merged:close()
  assert(sh_ok("cp " .. shq(ROOT .. "/examples/profiles/demo.pgo") .. " " .. shq(src.old)))
  src.old_bytes = read(src.old)
  src.file_args = {}
  for _, f in ipairs(files) do src.file_args[#src.file_args + 1] = "--file " .. shq(f) end
  src.file_args = table.concat(src.file_args, " ")
  return src
end

-- What the target is now: "old" (byte-identical), "new" (decodes, the source's sample
-- total, a provenance record), "missing" or "invalid" (with the reason).
local function target_state(target, src)
  local bytes = read(target)
  if not bytes then return "missing" end
  if bytes == src.old_bytes then return "old" end
  local p, err = pgo.load(target)
  if not p then return "invalid", err end
  local total, prov = p:info().totals[1], pgo.provenance.read(p)
  p:close()
  if total ~= src.total then return "invalid", ("%d samples, expected %d"):format(total, src.total) end
  if not prov then return "invalid", "no provenance record" end
  return "new"
end

-- }=====================================================================================

-- {=====================================================================================
-- kill -9

-- Start cmd, SIGKILL it after delay seconds; returns its exit status: 137 when the kill
-- landed, its own when it had finished (kill then finds a zombie or nothing; wait still
-- gives the real status).
local function run_and_kill(cmd, delay, log)
  local out = run(("(%s >%s 2>&1 </dev/null & p=$!; sleep %.3f; kill -KILL $p 2>/dev/null; "
    .. "wait $p; echo \"status=$?\")"):format(cmd, shq(log), delay))
  return tonumber(out:match("status=(%d+)"))
end

-- Run cmd to its end; returns its exit status and the seconds it took (the same shell
-- start-up as run_and_kill, so the delays cover the same span).
local function run_timed(cmd, log)
  local t0 = net.now()
  local out = run(("(%s >%s 2>&1 </dev/null & p=$!; wait $p; echo \"status=$?\")"):format(cmd, shq(log)))
  return tonumber(out:match("status=(%d+)")), net.now() - t0
end

local OUTCOMES = {
  { key = "finished", text = "finished before the kill (exit 0): target = the new profile, complete" },
  { key = "before_write", text = "killed before writing: target = the old profile, byte-identical" },
  { key = "while_writing", text = "killed while writing: target = the old profile, byte-identical" },
  { key = "after_replace", text = "killed after the replace: target = the new profile, complete" },
  { key = "violation", text = "**target missing, partial or not the new profile**" },
  { key = "other_exit", text = "**finished with an error before the kill**" },
}

local function kill_campaign(ctx, opts)
  local src, work = ctx.src, ctx.work
  local modes = { "file" }
  if ctx.fake then modes[2] = "url" end
  local dir = work .. "/kill"
  local url = ctx.fake and ctx.fake.url(("/fail/drip?chunk=%d&every=50")
    :format(math.max(1, src.served_bytes // 30)))
  local args = {
    file = src.file_args .. " --out " .. shq(dir .. "/default.pgo"),
    url = "--url " .. shq(url or "") .. " --seconds 1 --retries 0 --out " .. shq(dir .. "/default.pgo"),
  }
  local log = work .. "/kill.log"

  -- calibrate: the slowest of three unkilled runs per mode
  local duration = {}
  for _, mode in ipairs(modes) do
    duration[mode] = 0
    for _ = 1, 3 do
      fresh_target(dir, src.old)
      local status, took = run_timed(refresh_cmd(args[mode]), log)
      if status ~= 0 or target_state(dir .. "/default.pgo", src) ~= "new" then
        error(("calibration: refresh from --%s failed (status %s):\n%s"):format(mode, tostring(status),
          read(log) or ""), 0)
      end
      duration[mode] = math.max(duration[mode], took)
    end
  end

  local counts, temps_left = {}, {}
  for _, mode in ipairs(modes) do
    counts[mode] = {}
    for _, o in ipairs(OUTCOMES) do counts[mode][o.key] = 0 end
    temps_left[mode] = { one = 0, more = 0, cleaned = 0, kinds = {} }
  end
  local problems = {}
  for i = 1, opts.runs do
    local mode = modes[(i - 1) % #modes + 1]
    local _, target = fresh_target(dir, src.old)
    local delay = math.random() * duration[mode] * 1.1
    local status = run_and_kill(refresh_cmd(args[mode]), delay, log)
    local state, why = target_state(target, src)
    local temps = temp_files(dir)
    local outcome
    if status == 137 then
      if state == "old" then
        local writing = false
        for _, t in ipairs(temps) do
          if temp_kind(t):find("^pgolua%-refresh") then writing = true end
        end
        outcome = writing and "while_writing" or "before_write"
      elseif state == "new" then
        outcome = "after_replace"
      else
        outcome = "violation"
      end
    elseif status == 0 and state == "new" then
      outcome = "finished"
    elseif status == 0 then
      outcome = "violation"
    else
      outcome = "other_exit"
    end
    counts[mode][outcome] = counts[mode][outcome] + 1
    if outcome == "violation" or outcome == "other_exit" then
      problems[#problems + 1] = ("run %d (--%s, kill after %.3f s): status %s, target %s%s; %s"):format(i,
        mode, delay, tostring(status), state, why and (" (" .. why .. ")") or "",
        first_error(read(log) or ""))
    end
    local left = temps_left[mode]
    if #temps == 1 then left.one = left.one + 1 elseif #temps > 1 then left.more = left.more + 1 end
    if #temps > 1 then
      problems[#problems + 1] = ("run %d (--%s, kill after %.3f s): %d temporary files left: %s")
        :format(i, mode, delay, #temps, table.concat(temps, ", "))
    end
    for _, t in ipairs(temps) do left.kinds[temp_kind(t)] = (left.kinds[temp_kind(t)] or 0) + 1 end
    if #temps > 0 then
      -- a while later: the leftovers are older than the stale age; the next refresh (from
      -- the old profile, the quickest source) must leave nothing
      local stamp = os.time() - STALE_SECONDS - 60
      for _, t in ipairs(temps) do
        assert(sh_ok(("touch -d @%d %s"):format(stamp, shq(dir .. "/" .. t))))
      end
      local _, err, code = run(refresh_cmd("--file " .. shq(src.old) .. " --out " .. shq(target)))
      local after = temp_files(dir)
      if code == 0 and #after == 0 then
        left.cleaned = left.cleaned + 1
      else
        problems[#problems + 1] = ("run %d: the next refresh (exit %d) left %s: %s"):format(i, code,
          #after > 0 and table.concat(after, ", ") or "nothing", first_error(err))
      end
    end
    if opts.progress then
      io.stderr:write(("\rkill -9: %d/%d"):format(i, opts.runs))
      io.stderr:flush()
    end
  end
  if opts.progress then io.stderr:write("\r\27[K") end
  return { modes = modes, counts = counts, temps = temps_left, problems = problems,
    duration = duration, url = url }
end

local function kill_table(k, opts, src)
  local lines = {}
  local function w(s) lines[#lines + 1] = s end
  local runs = {}
  for _, mode in ipairs(k.modes) do
    runs[mode] = 0
    for _, n in pairs(k.counts[mode]) do runs[mode] = runs[mode] + n end
  end
  local head, rule = "| outcome |", "|---|"
  for _, mode in ipairs(k.modes) do
    head = head .. (" --%s (%d runs) |"):format(mode, runs[mode])
    rule = rule .. "---:|"
  end
  w(head .. " all |")
  w(rule .. "---:|")
  local function row(text, get)
    local line, sum = "| " .. text .. " |", 0
    for _, mode in ipairs(k.modes) do
      local n = get(mode)
      sum = sum + n
      line = line .. " " .. n .. " |"
    end
    w(line .. " " .. sum .. " |")
  end
  for _, o in ipairs(OUTCOMES) do row(o.text, function(m) return k.counts[m][o.key] end) end
  row("runs leaving one temporary file", function(m) return k.temps[m].one end)
  row("**runs leaving two or more**", function(m) return k.temps[m].more end)
  row(("leftovers gone after the next refresh (aged %d min)"):format((STALE_SECONDS + 60) // 60),
    function(m) return k.temps[m].cleaned end)
  w("")
  local kinds = {}
  for _, mode in ipairs(k.modes) do
    local names = {}
    for kind, n in pairs(k.temps[mode].kinds) do names[#names + 1] = ("`.%s.*` %d"):format(kind, n) end
    table.sort(names)
    kinds[#kinds + 1] = ("--%s: %s"):format(mode, #names > 0 and table.concat(names, ", ") or "none")
  end
  w("Temporary files left, by name: " .. table.concat(kinds, "; ") .. ".")
  w("")
  local cal = {}
  for _, mode in ipairs(k.modes) do cal[#cal + 1] = ("--%s %.2f s"):format(mode, k.duration[mode]) end
  w(("Kill delays uniform over 0..1.1 x the slowest of 3 unkilled runs (%s); the --file runs merge "
    .. "%d profiles (%d samples)%s."):format(table.concat(cal, ", "), #src.files, src.total,
    k.url and (", the --url runs receive the merge (%d bytes) in 30 chunks 50 ms apart")
      :format(src.served_bytes) or "; no --url runs: " .. tostring(opts.no_url)))
  if #k.problems > 0 then
    w("")
    w("Problems:")
    w("")
    for _, p in ipairs(k.problems) do w("- " .. cell(p)) end
  end
  return table.concat(lines, "\n")
end

-- }=====================================================================================

-- {=====================================================================================
-- The fault matrix

-- Each case: {fault, how, run = function(ctx, dir, target) -> stderr, status | nil, skip reason}
local function file_cmd(ctx, target, extra)
  return refresh_cmd(ctx.src.file_args .. " --out " .. shq(target) .. (extra or ""))
end

-- Mount a tmpfs of size at dir (root only); returns true or nil, reason.
local function mount_tmpfs(ctx, dir, size)
  if ctx.uid ~= 0 then return nil, "needs root for mount -t tmpfs" end
  local ok, err = sh_ok(("mkdir -p %s && mount -t tmpfs -o size=%s,mode=755 pgolua-faults %s")
    :format(shq(dir), size, shq(dir)))
  if not ok then return nil, "mount -t tmpfs failed: " .. err:gsub("%s+$", "") end
  ctx.mounts[#ctx.mounts + 1] = dir
  return true
end

local function unmount(ctx, dir)
  run("umount " .. shq(dir) .. " 2>/dev/null || umount -l " .. shq(dir))
  for i, m in ipairs(ctx.mounts) do
    if m == dir then table.remove(ctx.mounts, i) break end
  end
end

local LOCAL_CASES = {
  { fault = "disk full: file size limit", how = "`ulimit -f 64` (32 KiB in dash's 512-byte blocks), --file merge",
    run = function(ctx, _, target)
      local _, err, code = run("ulimit -f 64 && " .. file_cmd(ctx, target))
      return err, code
    end },
  { fault = "disk full: small tmpfs", how = "tmpfs of 128 KiB holding the old profile, --file merge",
    run = function(ctx, dir, target)
      local ok, why = mount_tmpfs(ctx, dir, "128k")
      if not ok then return nil, why end
      assert(sh_ok("cp " .. shq(ctx.src.old) .. " " .. shq(target)))
      local _, err, code = run(file_cmd(ctx, target))
      return err, code, function() unmount(ctx, dir) end
    end },
  { fault = "disk full while receiving a capture", how = "tmpfs of 128 KiB, --url (the merge, served whole)",
    url = true,
    run = function(ctx, dir, target)
      local ok, why = mount_tmpfs(ctx, dir, "128k")
      if not ok then return nil, why end
      assert(sh_ok("cp " .. shq(ctx.src.old) .. " " .. shq(target)))
      local _, err, code = run(refresh_cmd("--url " .. shq(ctx.fake.base) .. " --seconds 1 --retries 0 --out "
        .. shq(target)))
      return err, code, function() unmount(ctx, dir) end
    end },
  { fault = "read-only target directory", how = "tmpfs remounted read-only",
    run = function(ctx, dir, target)
      local ok, why = mount_tmpfs(ctx, dir, "1m")
      if not ok then return nil, why .. " (chmod 555 as a plain user is the permission case)" end
      assert(sh_ok("cp " .. shq(ctx.src.old) .. " " .. shq(target) .. " && mount -o remount,ro " .. shq(dir)))
      local _, err, code = run(file_cmd(ctx, target))
      return err, code, function() unmount(ctx, dir) end
    end },
  { fault = "permission denied", how = "directory 0755 of root, refresh as uid 65534 (setpriv)",
    run = function(ctx, dir, target)
      if ctx.uid == 0 then
        if not sh_ok("command -v setpriv") then return nil, "setpriv (util-linux) not found" end
        local _, err, code = run("setpriv --reuid=65534 --regid=65534 --clear-groups " .. file_cmd(ctx, target))
        return err, code
      end
      assert(sh_ok("chmod 555 " .. shq(dir)))
      local _, err, code = run(file_cmd(ctx, target))
      return err, code, function() run("chmod 755 " .. shq(dir)) end
    end },
}

local function url_case(fault, how, path, extra)
  return { fault = fault, how = how, url = true,
    run = function(ctx, _, target)
      local _, err, code = run(refresh_cmd("--url " .. shq(ctx.fake.url(path)) .. " --seconds 1 "
        .. (extra or "--retries 0") .. " --out " .. shq(target)))
      return err, code
    end }
end

local SERVER_CASES = {
  url_case("server reset mid-body", "`/fail/reset`: half the body, then RST; `--retries 1`",
    "/fail/reset", "--retries 1"),
  url_case("slow drip past the timeout", "`/fail/drip`: 16 bytes every 500 ms; `--timeout 3`",
    "/fail/drip?chunk=16&every=500", "--timeout 3 --retries 0"),
  url_case("gzip bomb", "`/fail/gzip-bomb`: 1.1 MiB inflating to 1.1 GiB", "/fail/gzip-bomb"),
  url_case("oversized body, size announced", "`/fail/big`: Content-Length 256 MiB + 1",
    ("/fail/big?bytes=%d&length=1"):format(MAX_BYTES + 1)),
  url_case("oversized body, streamed", "`/fail/big`: 256 MiB + 1 without Content-Length",
    ("/fail/big?bytes=%d"):format(MAX_BYTES + 1)),
  url_case("HTML page with status 200", "`/fail/html200`: a sign-in page", "/fail/html200"),
  url_case("heap profile instead of CPU", "`/fail/heap`: the server's inuse_space profile", "/fail/heap"),
}

local function matrix(ctx)
  local rows, problems = {}, {}
  local cases = {}
  for _, c in ipairs(LOCAL_CASES) do cases[#cases + 1] = c end
  for _, c in ipairs(SERVER_CASES) do cases[#cases + 1] = c end
  for i, c in ipairs(cases) do
    local dir = ("%s/matrix/%02d"):format(ctx.work, i)
    local row = { fault = c.fault, how = c.how }
    if c.url and not ctx.fake then
      row.skip = ctx.no_url
    else
      local _, target = fresh_target(dir, ctx.src.old)
      local before = read(target)
      local err, code, after = c.run(ctx, dir, target)
      if err == nil then
        row.skip = code
      else
        -- the table shows DIR and PORT, not this run's temporary paths and port
        local shown = first_error(err):gsub(dir:gsub("%p", "%%%0"), "DIR")
        if ctx.fake then shown = shown:gsub("127%.0%.0%.1:%d+", "127.0.0.1:PORT") end
        row.exit, row.error = code, shown
        row.identical = read(target) == before
        row.temps = #temp_files(dir)
        if row.exit == 0 or not row.identical or row.temps > 0 then
          problems[#problems + 1] = ("%s: exit %d, target %s, %d temporary files left"):format(c.fault,
            row.exit, row.identical and "byte-identical" or "CHANGED", row.temps)
        end
      end
      if after then after() end
    end
    rows[#rows + 1] = row
  end
  return rows, problems
end

local function matrix_table(rows, problems)
  local lines = { "| fault | how | exit | first line of the error | target byte-identical | temp files left |",
    "|---|---|---:|---|---|---:|" }
  for _, r in ipairs(rows) do
    if r.skip then
      lines[#lines + 1] = ("| %s | %s | - | skipped: %s | - | - |"):format(r.fault, r.how, cell(r.skip))
    else
      lines[#lines + 1] = ("| %s | %s | %d | %s | %s | %d |"):format(r.fault, r.how, r.exit,
        cell(r.error, 400), r.identical and "yes" or "**NO**", r.temps)
    end
  end
  if #problems > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Problems:"
    lines[#lines + 1] = ""
    for _, p in ipairs(problems) do lines[#lines + 1] = "- " .. cell(p) end
  end
  return table.concat(lines, "\n")
end

-- }=====================================================================================

-- {=====================================================================================
-- Main

local function machine()
  local cpus = run("nproc"):match("%d+") or "?"
  local model = (read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "unknown CPU"
  local kernel = run("uname -srm"):gsub("%s+$", "")
  local version = run(shq(PGOLUA) .. " --version"):match("[^\n]+") or "pgolua"
  return ("%s cores (%s), %s; %s"):format(cpus, model, kernel, version)
end

local function main()
  local parser = argparse("fault-campaign", "Fault injection on recipes/refresh.lua: kill -9 at "
    .. "random moments, and a matrix of disk, permission and server faults.")
  parser:option("--runs", "kill -9 runs.", "200"):convert(math.tointeger):argname("N")
  parser:option("--only", "Run one part only."):choices { "kill", "matrix" }
  parser:option("--out", "Also write the markdown report to this file."):argname("FILE")
  parser:option("--seed", "Seed of the kill delays (default: the clock)."):convert(math.tointeger):argname("N")
  parser:option("--variants", "Profiles merged by each --file run.", "24"):convert(math.tointeger):argname("N")
  parser:flag("--keep", "Keep the work directory.")
  local ok, o = parser:pparse(arg)
  if not ok then
    io.stderr:write(parser:get_usage(), "\n", "fault-campaign: ", o, "\n")
    return 2
  end
  if not o.runs or o.runs < 1 then io.stderr:write("fault-campaign: --runs must be a positive integer\n") return 2 end
  if not o.variants or o.variants < 1 then
    io.stderr:write("fault-campaign: --variants must be a positive integer\n")
    return 2
  end
  local seed = o.seed or os.time()
  math.randomseed(seed)

  local ctx = { mounts = {}, uid = tonumber(run("id -u"):match("%d+")) }
  ctx.work = helpers.tmpdir()
  assert(sh_ok("chmod 755 " .. shq(ctx.work)))  -- setpriv's uid 65534 reads the sources
  -- a copy of the binary: a rebuild during the campaign (make relinks ./pgolua in place)
  -- would otherwise fail runs with "Text file busy" or mix two versions
  local bin = ctx.work .. "/pgolua"
  assert(sh_ok(("cp %s %s && chmod 755 %s"):format(shq(PGOLUA), shq(bin), shq(bin))))
  PGOLUA = bin
  helpers.pgolua = bin
  local report = {}
  local failed = false
  local done, err = xpcall(function()
    ctx.src = make_sources(ctx.work, o.variants)
    local go = go_binary()
    if go then
      ctx.fake = servers.start_fake(servers.build_fake(go), { profile = ctx.src.served, max_life = "120m" })
    else
      ctx.no_url = "Go 1.21+ not found (make deps): no fake server"
    end
    local date = run("date -u +%Y-%m-%dT%H:%MZ"):gsub("%s+$", "")
    report[#report + 1] = ("Fault campaign of %s on %s: %s; seed %d."):format("recipes/refresh.lua", date,
      machine(), seed)
    if o.only ~= "matrix" then
      local k = kill_campaign(ctx, { runs = o.runs, progress = pgo.fs.isatty(io.stderr) })
      report[#report + 1] = "\n### kill -9 at a random moment (" .. o.runs .. " runs)\n"
      report[#report + 1] = kill_table(k, { no_url = ctx.no_url }, ctx.src)
      failed = failed or #k.problems > 0
    end
    if o.only ~= "kill" then
      local rows, problems = matrix(ctx)
      report[#report + 1] = "\n### Fault matrix\n"
      report[#report + 1] = matrix_table(rows, problems)
      failed = failed or #problems > 0
    end
  end, debug.traceback)
  for i = #ctx.mounts, 1, -1 do unmount(ctx, ctx.mounts[i]) end
  servers.cleanup()
  if not o.keep then helpers.rm_rf(ctx.work) end
  if not done then
    io.stderr:write("fault-campaign: ", tostring(err), "\n")
    if o.keep then io.stderr:write("fault-campaign: work directory kept: ", ctx.work, "\n") end
    return 2
  end
  local text = table.concat(report, "\n") .. "\n"
  io.write(text)
  if o.out then write(o.out, text) end
  if o.keep then io.stderr:write("fault-campaign: work directory kept: ", ctx.work, "\n") end
  return failed and 1 or 0
end

os.exit(main())
