-- pgo.replace: replace a file (default.pgo, a PR body) so that readers see the old one or
-- the complete new one, never a part, and a failure leaves the old one byte-identical.
--
--   local tx = assert(pgo.replace.begin("cmd/api/default.pgo"))   -- preflight: fails now,
--   local staged = assert(tx:stage(bytes, { verify = "profile" }))  -- not after a capture
--   assert(tx:commit(staged))     -- rename over the target (fsync'd file and directory)
--   tx:close()                    -- on every path: removes what was staged and not committed
--
-- The transaction: begin() sweeps the temporary files killed runs left in the directory
-- (pgo.fs.sweep_temps) and creates one there, so a directory that takes no new file fails
-- before anything else is done; stage() writes into a ".pgolua-*" temporary file beside
-- the target (pgo.fs.tempfile, the one family the sweep knows), flushes it to the disk
-- and decodes it back; commit() renames it over the target (pgo.fs.replace). A staged
-- file stays open until it is committed or closed: the lock its descriptor holds tells a
-- concurrent run's sweep that it is live.
--
-- A target that is a symbolic link is replaced by a regular file (the link is gone; the
-- file it pointed to is untouched) unless follow_symlink = true, which writes through the
-- link into the file it points to. tx.link names the link's destination either way.
--
-- Failures return nil, message, code with pgo.fs's codes (permission, read_only, no_space,
-- not_found, is_directory, cross_device, io) plus invalid (a staged profile that does not
-- decode back); choose advice by code (replace.ADVICE holds the library's).
local options = require "pgo.options"
local fs = require "pgo.fs"
local profile = require "pgo.profile"

local replace = {}

--- Seconds after which a temporary file of a killed run is removed by the next begin().
replace.STALE_TEMP_SECONDS = 600

--- What a person can do, by failure code (the caller adds the flag that picks another place).
replace.ADVICE = {
  permission = "this user may not write there: fix the directory's permissions or run as its owner",
  read_only = "the file system is mounted read-only",
  no_space = "the disk is full or the file size limit (ulimit -f) was reached: free space there or raise the limit",
}

local BEGIN = { follow_symlink = "boolean", stale_seconds = "number", prefix = "string" }
local STAGE = { what = "string", verify = function(v)
  return v == "profile" or type(v) == "function", '"profile" or a function'
end, sync = "boolean" }

local Tx = {}
Tx.__index = Tx

local function basename(path) return (path:gsub("/+$", ""):match("([^/]*)$")) end

--- Whether dir takes a new file for target: sweeps the stale temporary files of killed
-- runs there first. true or nil, message, code.
function replace.preflight(dir, target, opts)
  options.argument("preflight", 1, dir, "string")
  opts = options.check("preflight", 3, opts, BEGIN)
  fs.sweep_temps(dir, opts.stale_seconds or replace.STALE_TEMP_SECONDS)
  local path, f, code = fs.tempfile(dir, opts.prefix or "pgolua-refresh")
  if not path then
    return nil, ("%s (where %s and its temporary files go)"):format(f, target or "the file"), code
  end
  f:close()
  os.remove(path)
  return true
end

--- A replace transaction for target. opts: follow_symlink, stale_seconds, prefix (of the
-- temporary files, default "pgolua-refresh"). Returns tx ({target, dir, write_to, link})
-- or nil, message, code (the target is a directory, its directory is missing or takes no
-- new file).
function replace.begin(target, opts)
  options.argument("begin", 1, target, "string")
  opts = options.check("begin", 2, opts, BEGIN)
  local st = fs.stat(target)
  if st and st.type == "directory" then
    return options.fail("is_directory", "%s: is a directory (name the file)", target)
  elseif st and st.type ~= "file" then
    return options.fail("not_regular", "%s: is not a regular file (a device, FIFO or socket): nothing "
      .. "replaces it", target)
  end
  local dir = fs.dirname(target)
  local dst = fs.stat(dir)
  if not dst or dst.type ~= "directory" then
    return options.fail("not_found", "%s: the directory %s does not exist", target, dir)
  end
  local tx = setmetatable({ target = target, dir = dir, write_to = target, staged = {},
    prefix = opts.prefix or "pgolua-refresh" }, Tx)
  if st then
    local real, rdir = fs.realpath(target), fs.realpath(dir)
    if real and rdir and real ~= (rdir == "/" and "" or rdir) .. "/" .. basename(target) then
      tx.link = real                  -- the target is a symbolic link to real
      if opts.follow_symlink then tx.write_to, tx.dir = real, fs.dirname(real) end
    end
  end
  local ok, err, code = replace.preflight(tx.dir, tx.write_to, { stale_seconds = opts.stale_seconds,
    prefix = tx.prefix })
  if not ok then return nil, err, code end
  return tx
end

-- Write bytes to the open temporary file; true or nil, message, code.
local function write_all(f, path, bytes)
  local ok, err, errno = f:write(bytes)
  if ok then ok, err, errno = f:flush() end
  if ok then return true end
  if math.type(errno) == "integer" and errno > 0 then return fs.errno_failure(errno, "cannot write", path) end
  return nil, ("cannot write %s: %s"):format(path, tostring(err)), "io"
end

--- Stage bytes for dest (default the transaction's target) in a new temporary file beside
-- it. opts: what (for messages, "the new profile"), sync (flush to the disk, default
-- true), verify ("profile": must decode back with pgo.load; or a function(path) returning
-- true or nil, message). Returns the staged file ({path, dest}) or nil, message, code.
function Tx:stage(bytes, opts, dest)
  options.argument("stage", 1, bytes, "string")
  opts = options.check("stage", 2, opts, STAGE)
  dest = dest or self.write_to
  local what = opts.what or "the new file"
  local dir = dest == self.write_to and self.dir or fs.dirname(dest)
  local path, f, code = fs.tempfile(dir, self.prefix)
  if not path then return nil, ("cannot write %s: %s"):format(what, f), code end
  local staged = { path = path, dest = dest, file = f }
  self.staged[#self.staged + 1] = staged
  local ok, err, ecode = write_all(f, path, bytes)
  if ok and opts.sync ~= false then ok, err, ecode = fs.fsync(path) end
  if not ok then return nil, ("cannot write %s (%d bytes): %s"):format(what, #bytes, err), ecode end
  if opts.verify == "profile" then
    local p, perr, pcode = profile.load(path)
    if not p then return nil, ("%s does not load back from %s: %s"):format(what, path, perr), pcode end
    p:close()
  elseif opts.verify then
    local vok, verr = opts.verify(path)
    if not vok then return nil, ("%s: %s"):format(what, tostring(verr)), "invalid" end
  end
  return staged
end

--- Rename a staged file over its destination (its mode kept). true or nil, message, code;
-- on failure the destination is untouched.
function Tx:commit(staged)
  local ok, err, code = fs.replace(staged.path, staged.dest)
  if not ok then return nil, ("cannot replace %s: %s"):format(staged.dest, err), code end
  staged.file:close()
  staged.committed = true
  return true
end

--- Close the transaction: every staged file not committed is closed and removed.
function Tx:close()
  for _, s in ipairs(self.staged) do
    if not s.committed then
      if io.type(s.file) == "file" then s.file:close() end
      os.remove(s.path)
    end
  end
  self.staged = {}
end

-- {=====================================================================================
-- Blending with the profile being replaced

-- The column PGO weighs edges by: samples/count, else cpu/nanoseconds, else the first.
local function weight_column(p)
  local types = p:info().sample_types
  for _, want in ipairs { { "samples", "count" }, { "cpu", "nanoseconds" } } do
    for i, st in ipairs(types) do
      if st.type == want[1] and st.unit == want[2] then return i end
    end
  end
  return 1
end

--- new and old scaled to W and 1-W of new's total T (the weight column) with p:scale,
-- then merged. p:scale rounds each value half away from zero, so each part's total is
-- W*T and (1-W)*T only up to half a sample per stack. Profiles of different sample types
-- (e.g. old written compacted) are both brought to the compiler's shape first. Returns the
-- blend and {weight, new_total, existing_total, existing_factor, target_new,
-- target_existing, new_part, existing_part, total, new_share, converted}, or nil,
-- message, code.
function replace.blend(new, old, w)
  if type(w) ~= "number" or not (w > 0 and w <= 1) then
    error("bad argument #3 to 'blend' (a weight 0 < w <= 1 expected)", 2)
  end
  local tn = new:total { sample_index = weight_column(new) }
  local to = old:total { sample_index = weight_column(old) }
  if to == 0 then return options.fail("empty", "the current profile holds no samples: nothing to blend with") end
  local f_old = (1 - w) * tn / to
  local a, err, code = new:scale(w)
  if not a then return nil, err, code end
  local b, err2, code2 = old:scale(f_old)
  if not b then return nil, err2, code2 end
  local m, merr, mcode = profile.merge { a, b }
  local shape
  if not m and mcode == "incompatible" then
    shape = "compact_for_pgo (sample types differed)"
    local ca, cerr, ccode = a:compact_for_pgo {}
    local cb, cerr2, ccode2 = b:compact_for_pgo {}
    if not ca or not cb then
      return nil, "cannot blend with the current profile: " .. tostring(cerr or cerr2), ccode or ccode2
    end
    m, merr, mcode = profile.merge { ca, cb }
    a, b = ca, cb
  end
  if not m then return nil, "cannot blend with the current profile: " .. merr, mcode end
  local info = { weight = w, new_total = tn, existing_total = to, existing_factor = f_old,
    target_new = w * tn, target_existing = (1 - w) * tn,
    new_part = a:total { sample_index = weight_column(a) },
    existing_part = b:total { sample_index = weight_column(b) },
    total = m:total { sample_index = weight_column(m) }, converted = shape }
  info.new_share = info.total > 0 and info.new_part / info.total or 0
  return m, info
end

-- }=====================================================================================

return replace
