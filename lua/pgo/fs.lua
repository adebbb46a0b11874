-- pgo.fs: the file operations a release step needs, over pgo.fsys (src/lua/fsys.c).
--
--   local path, f = pgo.fs.tempfile("cmd/api")      -- "cmd/api/.pgolua.Xk3a9q", 0600
--   f:write(bytes); f:close()
--   assert(pgo.fs.replace(path, "cmd/api/default.pgo"))   -- fsync, rename, fsync dir
--   local r = pgo.fs.run({"git", "-C", root, "log", "-1"}, {capture = true})  -- no shell
--
-- Functions that touch the file system return true (or a value) on success and
-- nil, message, code on failure; codes: not_found, permission, is_directory, read_only,
-- no_space, cross_device, io. Wrong argument types raise.
local fsys = require "pgo.fsys"

local fs = {}

local function check_string(fname, i, v)
  if type(v) ~= "string" then
    error(("bad argument #%d to '%s' (string expected, got %s)"):format(i, fname, type(v)), 3)
  end
end

--- Replace target with tmp atomically: tmp is flushed (fsync) and given a mode (opts.mode,
-- else the target's current mode, else 0666 minus the umask), renamed over target (same
-- directory, so the rename is atomic) and the directory is flushed. On failure target is
-- untouched and tmp stays for the caller to remove. opts: {mode = 420 | "644"}.
function fs.replace(tmp, target, opts)
  check_string("replace", 1, tmp)
  check_string("replace", 2, target)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'replace' (table expected, got " .. type(opts) .. ")", 2)
  end
  return fsys.replace(tmp, target, opts and opts.mode)
end

--- A new empty file "<dir>/.pgolua-<prefix>.XXXXXX" (".pgolua.XXXXXX" without a prefix; a
-- prefix "pgolua-x" is taken as is), created with O_EXCL and mode 0600: every temporary
-- file is of the one family sweep_temps removes when its writer was killed. prefix: lower-
-- case letters, digits and '-'. Returns path, file (a Lua file handle open for writing);
-- the caller closes the handle and removes or replaces the file.
function fs.tempfile(dir, prefix)
  check_string("tempfile", 1, dir)
  if prefix ~= nil then check_string("tempfile", 2, prefix) end
  return fsys.tempfile(dir, prefix)
end

--- Remove the leftovers of killed pgolua runs in dir: ".pgolua*.XXXXXX" temporary files
-- of the current user that are regular files with one link, unchanged for
-- min_age_seconds, and not held open (locked) by a live process. Returns how many.
function fs.sweep_temps(dir, min_age_seconds)
  check_string("sweep_temps", 1, dir)
  return fsys.sweep_temps(dir, min_age_seconds)
end

--- Write data to path atomically (temporary file ".pgolua-write.XXXXXX" beside it, fsync,
-- rename; a killed run's one is swept by sweep_temps). The mode of an
-- existing file is kept; a new file gets mode (default 0666 minus the umask).
function fs.write_atomic(path, data, mode)
  check_string("write_atomic", 1, path)
  check_string("write_atomic", 2, data)
  return fsys.write_atomic(path, data, mode)
end

--- Remove a file; nil, message, "not_found" when it does not exist.
function fs.remove(path)
  check_string("remove", 1, path)
  return fsys.remove(path)
end

--- Whether path exists (any type).
function fs.exists(path)
  check_string("exists", 1, path)
  return fsys.exists(path)
end

--- {type = "file" | "directory" | "other", size =, mode =, mtime =} or nil, message, code.
function fs.stat(path)
  check_string("stat", 1, path)
  return fsys.stat(path)
end

--- Flush a file's data (or a directory's entries) to disk.
function fs.fsync(path)
  check_string("fsync", 1, path)
  return fsys.fsync(path)
end

--- The directory part of a path ("." when there is none).
function fs.dirname(path)
  check_string("dirname", 1, path)
  return fsys.dirname(path)
end

--- A new directory "<dir>/<prefix>.XXXXXX" (default prefix "pgolua"), mode 0700, created
-- exclusively with a random name (mkdtemp(3)). Returns its path; the caller removes it.
function fs.mkdtemp(dir, prefix)
  check_string("mkdtemp", 1, dir)
  if prefix ~= nil then check_string("mkdtemp", 2, prefix) end
  return fsys.mkdtemp(dir, prefix)
end

--- The absolute form of an existing path, with symbolic links, "." and ".." resolved.
function fs.realpath(path)
  check_string("realpath", 1, path)
  return fsys.realpath(path)
end

--- Run a program with an argument list, without a shell: argv = {"go", "test", pkg, ...}
-- (argv[1] is searched in PATH when it holds no "/"); no argument is ever split, quoted
-- or expanded, so a name holding ' ; $() ` or a newline stays one argument. stdin is
-- /dev/null. opts: dir (the program's working directory), stdout / stderr (a file path,
-- truncated, or appended to with append = true; false discards; nil shares ours),
-- capture = true (stdout returned as result.output, at most max_output bytes, default
-- 1 MiB; past that the pipe is closed: result.truncated is true and a program still
-- writing ends with SIGPIPE). Returns {status = exit status, or
-- signal = the signal that ended it, output =, truncated =}; nil, message, code
-- (not_found, permission, io, ...) when the program cannot be started.
fs.run = fsys.run   -- every argument and option is checked in C (src/lua/fsys.c: fsys_run)

--- nil, "<what> <path>: <reason>", code for an errno number that Lua's io returned (the
-- third result of f:write, f:flush, io.open), with the codes of every pgo.fs failure.
function fs.errno_failure(errno, what, path)
  if math.type(errno) ~= "integer" then
    error("bad argument #1 to 'errno_failure' (integer expected, got " .. type(errno) .. ")", 2)
  end
  check_string("errno_failure", 2, what)
  check_string("errno_failure", 3, path)
  return fsys.errno_failure(errno, what, path)
end

local STREAMS = { [io.stdin] = 0, [io.stdout] = 1, [io.stderr] = 2 }

--- Whether a stream (io.stdin, io.stdout, io.stderr) or a descriptor number is a terminal.
function fs.isatty(stream)
  local fd = STREAMS[stream] or stream
  if math.type(fd) ~= "integer" then
    error("bad argument #1 to 'isatty' (io.stdin/stdout/stderr or a descriptor expected)", 2)
  end
  return fsys.isatty(fd)
end

return fs
