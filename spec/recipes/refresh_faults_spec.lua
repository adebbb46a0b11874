-- Fault injection on recipes/refresh.lua (docs/reliability.md): every fault of the matrix
-- of scripts/fault-campaign.lua as its own case (a full disk, a read-only or forbidden
-- directory, a server that resets, drips, bombs, oversends, answers HTML or a heap
-- profile), the sweep of stale temporary files, and a short kill -9 campaign. Each case
-- checks the exit code, that the message names what happened and what to do, that the
-- target is byte-identical and that no temporary file is left. refresh_spec.lua holds the
-- rejections and the ordinary HTTP sources; this file does not repeat them.
--
-- Targets live in temporary directories. Cases that need root (a tmpfs, a read-only
-- mount, setpriv to another uid) or Go (the fake server) are pending without them. Every
-- server started here is stopped in teardown.
local helpers = require "helpers"
local cjson = require "cjson"
local pgo = require "pgo"
local servers = require "support.servers"
local net = require "pgo.core.net"

local F = helpers.fixture
local q = helpers.shq
local go = helpers.go()
local IS_ROOT = helpers.run("id -u"):match("^0%s") ~= nil

local RECIPE = q(helpers.root .. "/recipes/refresh.lua")

-- The stale age of recipes/refresh.lua (STALE_TEMP_SECONDS).
local STALE_SECONDS = 600

-- Run the recipe with an argument string; prefix goes before the command (a ulimit, a
-- setpriv).
-- The PR body goes under $TMPDIR: one directory any user may write in (setpriv), removed
-- at the end.
local outputs = helpers.tmpdir()
helpers.run("chmod 1777 " .. q(outputs))
local function refresh(args, prefix)
  return helpers.run((prefix or "") .. "env TMPDIR=" .. q(outputs) .. " " .. q(helpers.pgolua) .. " "
    .. RECIPE .. " " .. args)
end

local listing = helpers.listing

local function temps(dir)
  local out = {}
  for _, n in ipairs(listing(dir)) do
    if n:sub(1, 7) == ".pgolua" then out[#out + 1] = n end
  end
  return out
end

local function sh(cmd)
  local _, err, code = helpers.run(cmd)
  assert(code == 0, cmd .. ": " .. err)
end

-- Backdate path's modification time by seconds.
local function age(path, seconds)
  sh(("touch -d @%d %s"):format(os.time() - seconds, q(path)))
end

-- A work area: dir (mode 0755) with default.pgo, a copy of `previous`; inputs in their own
-- directory, readable by any user (setpriv runs refresh as uid 65534).
local function workspace(previous)
  local w = { dir = helpers.tmpdir(), inputs = helpers.tmpdir(), mounts = {} }
  sh("chmod 755 " .. q(w.dir) .. " " .. q(w.inputs))
  w.target = w.dir .. "/default.pgo"
  function w.put(dir)
    sh("cp " .. q(previous) .. " " .. q(dir .. "/default.pgo") .. " && chmod 644 " .. q(dir .. "/default.pgo"))
  end
  w.put(w.dir)
  w.before = helpers.read_file(w.target)
  function w.input(rel)
    local path = w.inputs .. "/" .. rel:gsub("/", "_")
    if not pgo.fs.exists(path) then sh("cp " .. q(F(rel)) .. " " .. q(path) .. " && chmod 644 " .. q(path)) end
    return path
  end
  -- a tmpfs of size over dir (root only); false, reason when it cannot be mounted
  function w.tmpfs(size)
    if not IS_ROOT then return false, "needs root" end
    local _, err, code = helpers.run(("mount -t tmpfs -o size=%s,mode=755 pgolua-spec %s"):format(size, q(w.dir)))
    if code ~= 0 then return false, "mount -t tmpfs failed: " .. err end
    w.mounts[#w.mounts + 1] = w.dir
    w.put(w.dir)
    return true
  end
  function w.rm()
    for i = #w.mounts, 1, -1 do helpers.run("umount " .. q(w.mounts[i]) .. " || umount -l " .. q(w.mounts[i])) end
    helpers.run("chmod -R u+w " .. q(w.dir))
    helpers.rm_rf(w.dir)
    helpers.rm_rf(w.inputs)
  end
  return w
end

-- The common ending of every fault: exit code, the message, the target byte-identical, no
-- temporary file.
local function assert_untouched(w, code, err, want_code, says)
  assert.equal(want_code, code, err)
  for _, s in ipairs(says) do assert.matches(s, err, 1, true) end
  assert.matches(w.target .. " not replaced", err, 1, true)
  assert.equal(w.before, helpers.read_file(w.target))
  assert.same({}, temps(w.dir))
end

describe("recipes/refresh.lua under faults", function()
  teardown(function() helpers.rm_rf(outputs) end)
  local w
  after_each(function() if w then w.rm() w = nil end end)

  describe("the disk and the directory", function()
    it("a file size limit (RLIMIT_FSIZE): exit 1, says so; SIGXFSZ does not kill it", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      -- 20 KiB in dash's 512-byte blocks (40 KiB in bash's): the new profile is 46 KB
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out " .. q(w.target),
        "ulimit -f 40 && ")
      assert_untouched(w, code, err, 1, { "cannot write the new profile (", "File too large; the file size limit was reached",
        "raise the file size limit (ulimit -f), or choose another --out" })
    end)

    it("a full tmpfs: exit 1, says the disk is full", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local ok, why = w.tmpfs("64k")            -- the old 37 KB in, 46 KB do not fit beside it
      if not ok then pending(why) return end
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.steady.pgo")) .. " --out " .. q(w.target))
      assert_untouched(w, code, err, 1, { "cannot write the new profile (", "No space left on device",
        "free space in " .. w.dir .. " (captures are received there too)" })
    end)

    it("a read-only directory: exit 1 before anything is captured", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local ok, why = w.tmpfs("1m")
      if not ok then pending(why .. " for a read-only mount") return end
      sh("mount -o remount,ro " .. q(w.dir))
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target))
      assert.equal(1, code, err)
      assert.equal("", out)                    -- failed in the settings: nothing was captured
      assert.matches(("cannot create a temporary file in %s: Read-only file system; the file system is "
        .. "mounted read-only (where %s and its temporary files go)"):format(w.dir, w.target), err, 1, true)
      assert.matches("choose an --out on a writable file system", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)

    it("a directory this user may not write: exit 1 before anything is captured", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local prefix = ""
      if IS_ROOT then                            -- root ignores mode bits: be uid 65534
        if helpers.run("command -v setpriv") == "" then pending("setpriv (util-linux) not found") return end
        prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups "
      else
        sh("chmod 555 " .. q(w.dir))
      end
      local out, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target)
        .. " --json", prefix)
      assert.equal(1, code, err)
      assert.matches(("cannot create a temporary file in %s: Permission denied; check the file's permissions "
        .. "(where %s and its temporary files go)"):format(w.dir, w.target), err, 1, true)
      assert.matches("fix the directory's permissions, run as its owner, or choose another --out", err, 1, true)
      local doc = cjson.decode(out)
      assert.equal("error", doc.status)
      assert.is_nil(doc.capture)
      assert.equal(w.before, helpers.read_file(w.target))
      assert.same({ "default.pgo" }, listing(w.dir))
    end)
  end)

  describe("the server (spec/support/fakeserver.go)", function()
    if not go then
      pending("Go >= 1.21 not found: the fake server cannot be built (make deps)")
      return
    end
    local srv
    setup(function()
      servers.guard(function()
        srv = servers.start_fake(servers.build_fake(go), { profile = F("profiles/shop.steady.pgo"), record = true })
      end)
    end)
    teardown(function() servers.cleanup() end)

    local function capture(path, extra)
      return refresh("--url " .. q(srv.url(path)) .. " --seconds 1 " .. (extra or "--retries 0")
        .. " --out " .. q(w.target))
    end

    it("checks the directory before capturing: a forbidden one costs no capture", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local prefix = ""
      if IS_ROOT then
        if helpers.run("command -v setpriv") == "" then pending("setpriv (util-linux) not found") return end
        prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups "
      else
        sh("chmod 555 " .. q(w.dir))
      end
      local asked = #srv.requests()
      local _, err, code = refresh("--url " .. q(srv.base) .. " --seconds 1 --out " .. q(w.target), prefix)
      assert.equal(1, code, err)
      assert.matches("cannot create a temporary file in " .. w.dir, err, 1, true)
      assert.equal(asked, #srv.requests())
      assert.equal(w.before, helpers.read_file(w.target))
    end)

    it("a disk that fills while the capture is received: exit 1, says where captures go", function()
      w = workspace(F("profiles/shop.p1.pgo"))
      local ok, why = w.tmpfs("48k")           -- the old 28 KB in, the 46 KB capture does not fit
      if not ok then pending(why) return end
      local _, err, code = capture("/debug/pprof/profile")
      assert_untouched(w, code, err, 1, { "cannot write the temporary file: No space left on device",
        "free space in " .. w.dir .. " (captures are received there too)" })
    end)

    it("a connection reset in the middle of the body: exit 1 after the retries", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture("/fail/reset", "--retries 1")
      assert_untouched(w, code, err, 1, { "the connection broke in the middle of the body",
        "Connection reset by peer", "2 attempts broke off: check the server (or a proxy in between), then run again" })
    end)

    it("a slow drip past --timeout: exit 1, names the timeout and the option", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture("/fail/drip?chunk=16&every=500", "--retries 0 --timeout 2")
      assert_untouched(w, code, err, 1, { "no complete answer within 2 s (timeout;",
        "with refresh.lua: --timeout SECONDS (now 2 s)" })
    end)

    it("--timeout must leave room for the capture window", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, err, code = refresh("--url " .. q(srv.base) .. " --seconds 5 --timeout 5 --out " .. q(w.target))
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("--timeout 5 must be longer than --seconds 5", err, 1, true)
      assert.equal(w.before, helpers.read_file(w.target))
    end)

    it("a gzip bomb: exit 1 at the decompressed-size limit", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture("/fail/gzip-bomb")
      assert_untouched(w, code, err, 1, { "the profile decompresses to more than 1073741824 bytes (a gzip bomb",
        "refresh.lua's limits are MAX_BYTES and MAX_DECOMPRESSED, in the ADAPT section of your copy" })
    end)

    it("an oversized body announced by Content-Length: exit 1 before the body", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture(("/fail/big?bytes=%d&length=1"):format(256 * 1024 * 1024 + 1))
      assert_untouched(w, code, err, 1, { "the response is larger than 268435456 bytes (max_bytes; the server "
        .. "announced its size)", "refresh.lua's limits are MAX_BYTES" })
    end)

    it("an oversized body streamed without a length: exit 1 at the limit, the partial capture removed", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture(("/fail/big?bytes=%d"):format(256 * 1024 * 1024 + 1))
      assert_untouched(w, code, err, 1, { "the response is larger than 268435456 bytes (max_bytes)",
        "refresh.lua's limits are MAX_BYTES" })
    end)

    it("an HTML page with status 200, with --json: status error, what to check", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local out, err, code = capture("/fail/html200", "--retries 0 --json")
      assert_untouched(w, code, err, 1, { "not a pprof profile: it looks like HTML",
        "check the URL and the server's response" })
      local doc = cjson.decode(out)
      assert.equal("error", doc.status)
      assert.equal(1, doc.exit)
      assert.matches(w.target .. " not replaced$", doc.error)
    end)

    it("a heap profile served instead of a CPU profile: exit 2, says where the CPU profile is", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = capture("/fail/heap")
      assert_untouched(w, code, err, 2, { "rejected by cpu_profile: heap, needs cpu: a heap profile, not a "
        .. "CPU profile", "net/http/pprof serves one at /debug/pprof/profile" })
    end)

    it("never removes a concurrent refresh's live temporary file, however old it looks", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      -- refresh A waits for its capture (the server sends nothing for 8 s, then the
      -- profile) in the same directory; meanwhile its empty .pgolua-fetch file is
      -- backdated past the stale age and refresh B runs there. Only the lock A's open
      -- descriptor holds tells B's sweep that the file is live.
      local a_rc = w.inputs .. "/a.rc"
      helpers.run(("(%s %s --url %s --seconds 1 --timeout 120 --retries 0 --out %s --pr-body off >%s 2>&1; "
        .. "echo $? >%s) &"):format(q(helpers.pgolua), RECIPE,
        q(srv.url("/fail/drip?delay=8000&chunk=16384&every=10")), q(w.target), q(w.inputs .. "/a.log"), q(a_rc)))
      local live
      for _ = 1, 400 do
        for _, n in ipairs(temps(w.dir)) do
          if n:find("^%.pgolua%-fetch%.") then live = n end
        end
        if live or pgo.fs.exists(a_rc) then break end
        os.execute("sleep 0.05")
      end
      assert.truthy(live, "refresh A never started its capture")
      local path = w.dir .. "/" .. live
      age(path, 3600)
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target)
        .. " --pr-body off")
      assert.equal(0, code, err)
      local st = pgo.fs.stat(path)
      assert.truthy(st, "B's sweep removed A's live temporary file")
      -- still the backdated time: nothing was written to it before B was done, so the age
      -- did not protect it, the lock did
      assert.truthy(st.mtime < os.time() - 3000, "A received data before B ran: nothing was tested")
      for _ = 1, 1200 do
        if pgo.fs.exists(a_rc) and helpers.read_file(a_rc):match("%d") then break end
        os.execute("sleep 0.05")
      end
      assert.equal("0", helpers.read_file(a_rc):match("%d+"), helpers.read_file(w.inputs .. "/a.log"))
      local p = assert(pgo.load(w.target))
      assert.equal(assert(pgo.load(F("profiles/shop.steady.pgo"))):info().totals[1], p:info().totals[1])
      assert.same({ "default.pgo" }, listing(w.dir))
    end)
  end)

  describe("stale temporary files", function()
    it("the next refresh removes killed runs' leftovers past the stale age, and nothing else", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local stale = { ".pgolua-refresh.k3x9q2", ".pgolua-refresh-pr.a1b2c3", ".pgolua-fetch.zz99aa", ".pgolua.aaaaaa" }
      local kept = {
        ".pgolua-fetch.young1",                 -- younger than the stale age
        ".pgolua-fetch.notes.txt", ".pgoluax.abc123", ".pgolua-fetch.ABC123", ".default.pgo.backup", -- other shapes
        ".pgolua-linked.abc123", "linked",      -- two links: someone else holds it too
      }
      for _, n in ipairs(stale) do helpers.write_file(w.dir .. "/" .. n, "leftover") end
      for _, n in ipairs(kept) do
        if n ~= "linked" then helpers.write_file(w.dir .. "/" .. n, "keep") end
      end
      sh("ln " .. q(w.dir .. "/.pgolua-linked.abc123") .. " " .. q(w.dir .. "/linked"))
      sh("ln -s default.pgo " .. q(w.dir .. "/.pgolua-symlink.abc123"))
      kept[#kept + 1] = ".pgolua-symlink.abc123"
      for _, n in ipairs(stale) do age(w.dir .. "/" .. n, STALE_SECONDS + 60) end
      for _, n in ipairs(kept) do
        if n ~= ".pgolua-fetch.young1" then sh(("touch -h -d @%d %s"):format(os.time() - 7200, q(w.dir .. "/" .. n))) end
      end
      local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target))
      assert.equal(0, code, err)
      local want = { "default.pgo" }
      for _, n in ipairs(kept) do want[#want + 1] = n end
      table.sort(want)
      assert.same(want, listing(w.dir))
    end)

    it("a failed run removes its own temporary files at once (a rejection after the capture)", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local _, err, code = refresh("--file " .. q(w.input("bad/tiny5.pgo")) .. " --out " .. q(w.target))
      assert.equal(2, code, err)
      assert.same({ "default.pgo" }, listing(w.dir))
    end)
  end)

  describe("kill -9 at random moments", function()
    -- 20 runs (10 from --file, 10 from --url with Go), each killed after a random delay
    -- over the whole run: the target is the old profile or the complete new one, at most
    -- one temporary file is left, and the next refresh past the stale age leaves none
    local srv
    setup(function()
      if go then
        servers.guard(function()
          srv = servers.start_fake(servers.build_fake(go), { profile = F("profiles/shop.steady.pgo") })
        end)
      end
    end)
    teardown(function() servers.cleanup() end)

    -- Run refresh with args, SIGKILL it after delay seconds (never with no_kill); returns
    -- its exit status, 137 when the kill landed.
    local function kill_after(args, delay, log, no_kill)
      local kill = no_kill and "" or ("sleep %.3f; kill -KILL $p 2>/dev/null; "):format(delay)
      local out = helpers.run(("(%s %s %s >%s 2>&1 </dev/null & p=$!; %swait $p; echo \"status=$?\")")
        :format(q(helpers.pgolua), RECIPE, args, q(log), kill))
      return tonumber(out:match("status=(%d+)"))
    end

    it("leaves the old profile or the complete new one, never a partial or missing one", function()
      w = workspace(F("profiles/shop.p2.pgo"))
      local inputs = {}
      for _, n in ipairs { "p1", "p3", "steady" } do
        inputs[#inputs + 1] = "--file " .. q(w.input("profiles/shop." .. n .. ".pgo"))
      end
      local modes = { file = { args = table.concat(inputs, " "), total = 2136 + 2187 + 3561 } }
      if srv then
        modes.url = { args = "--url " .. q(srv.url("/fail/drip?chunk=4096&every=50")) .. " --seconds 1 --retries 0",
          total = 3561 }
      end
      local log = w.inputs .. "/run.log"
      math.randomseed(20)                       -- the same delays on every run of the spec
      local seen = {}
      for mode, m in pairs(modes) do
        m.args = m.args .. " --out " .. q(w.target)
        -- calibrate: one run to its end (the kill comes long after)
        local t0 = net.now()
        local status = kill_after(m.args, 0, log, true)
        assert.equal(0, status, helpers.read_file(log))
        m.duration = net.now() - t0
        for _ = 1, srv and 10 or 20 do
          helpers.rm_rf(w.dir)
          sh("mkdir -p " .. q(w.dir))
          w.put(w.dir)
          local delay = math.random() * m.duration
          status = kill_after(m.args, delay, log)
          assert.truthy(status == 137 or status == 0, ("--%s, kill after %.3f s: status %s\n%s")
            :format(mode, delay, tostring(status), helpers.read_file(log)))
          local bytes = helpers.read_file(w.target)
          if bytes == w.before then
            seen.old = true
          else
            local p, perr = pgo.load(w.target)
            assert.truthy(p, ("--%s, kill after %.3f s: the target does not load: %s"):format(mode, delay, tostring(perr)))
            assert.equal(m.total, p:info().totals[1])
            assert.truthy(pgo.provenance.read(p))
            seen.new = true
          end
          local left = temps(w.dir)
          assert.truthy(#left <= 1, table.concat(left, ", "))
          if #left > 0 then
            seen.leftover = true
            age(w.dir .. "/" .. left[1], STALE_SECONDS + 60)
            local _, err, code = refresh("--file " .. q(w.input("profiles/shop.p1.pgo")) .. " --out " .. q(w.target))
            assert.equal(0, code, err)
            assert.same({}, temps(w.dir))
          end
        end
      end
      assert.truthy(seen.old or seen.new)
    end)
  end)
end)
