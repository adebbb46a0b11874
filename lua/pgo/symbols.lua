-- pgo.symbols: symbol tables of Go code, spelled the way CPU profiles name functions.
--
--   symbols.go_source(root [, opts])  -> syms | nil, message, code   (a module's source)
--   symbols.binary(path [, opts])     -> table | nil, message, code   (pgo.symbols_binary)
--   symbols.buildinfo(path [, opts])  -> table | nil, message, code   (pgo.symbols_binary)
--   symbols.scan_file(text)           -> file | nil, message, code    (one file in memory)
--   symbols.find_files(root, spec)    -> {relative paths} | nil, message, code
--
-- go_source(root, opts) reads every .go file of the Go module rooted at `root` (the
-- directory holding go.mod) with a C scanner and returns
--
--   syms.module     "example.com/shop" (from go.mod, or opts.module)
--   syms.root       root as given
--   syms.functions  { [name] = { file = "cmd/shop/main.go", line = 30,
--                                 package = "example.com/shop/cmd/shop",
--                                 test = true (only for _test.go declarations),
--                                 also = { more declarations of the same name } }, ... }
--   syms.list       the names, sorted (byte order)
--   syms.packages   { { path, prefix, name, dir, module, main, files, functions, inits }, ... }
--                   path: import path as symbol names spell it ('.' in the last element
--                   escaped as %2e, ...); prefix: what the names start with ("main" for
--                   every package main, else path)
--   syms.files, syms.lines, syms.bytes, syms.declarations, syms.test_files_excluded
--   syms.skipped    { { path = "vendor", reason = "vendor (...)", kind, package }, ... }
--                   kind: "unreadable", "too_large", "syntax" (the scan cannot tell what
--                   the file declares; package: its directory's import path), "nested"
--                   (a nested module left out; package: its module path), "excluded"
--   syms.modules    { { path = "example.com/m", dir = ".", scanned = true }, ... }: the
--                   root's module and every nested one, and those of go.work's `use`
--   syms.asm_files  .s files read for the functions they define
--
-- Names: `path/pkg.Func`, `path/pkg.(*T).M`, `path/pkg.T.M`, generic functions and
-- methods of generic types as `pkg.TopK[...]`, `pkg.(*List[...]).Push` (Go 1.21+
-- profiles write one name per shape, `TopK[go.shape.float64]`: pgo.audit.stale reduces
-- those), `init` as `pkg.init.0`, `pkg.init.1` in declaration order (files in byte
-- order, non-test files before _test.go files, as the go command passes them), every
-- package main as `main.`.
--
-- opts (all optional):
--   include_tests   _test.go files too (package p and the external p_test); default false
--   include_vendor  vendor/ directories (their packages under their own import paths)
--   include_nested  directories with their own go.mod are scanned as modules of their
--                   own (their packages under their module path) unless this is false
--   lenient         a file with a syntax error (unterminated string or comment, no
--                   package clause) is listed in `skipped` instead of failing the scan
--   module          module path to use when there is no go.mod (GOPATH-style trees)
--   max_file_bytes  larger .go files are skipped (default 256 MiB)
--
-- A go.work at root adds the modules its `use` directives name (those outside root are
-- scanned and merged; root may then have no go.mod). Assembly (.s) files add the
-- functions their TEXT lines define, //go:linkname directives their target names.
--
-- Always skipped, as the go command does: testdata/, directories and files whose name
-- starts with '.' or '_', symbolic links to directories, and files whose build
-- constraint can never hold (`//go:build ignore`). Other build constraints are NOT
-- evaluated: files for every GOOS/GOARCH are read, which gives a superset of the
-- declarations of any one build (right for stale-profile detection). A name declared
-- in several such files is listed once (its first file), the others under `also`.
--
-- Errors (nil, message, code): not_found, not_dir, no_go_mod, bad_go_mod, io,
-- go_syntax (message names file and line), nomem.
local core = require "pgo.core.symbols"

local M = {}

local go_source_opts = {
  include_tests = "boolean", include_vendor = "boolean", include_nested = "boolean",
  lenient = "boolean", module = "string", max_file_bytes = "number",
}

local function check_opts(fname, argn, opts, known)
  local checked = require("pgo.options").check(fname, argn, opts, known, 4)   -- not a tail call: level 4 is the caller
  return checked
end

-- The directories named by `use` in root/go.work (nil when there is none), as written.
local function go_work_uses(root)
  local f = io.open(root .. "/go.work", "r")
  if not f then return nil end
  local text = f:read(1 << 20) or ""
  f:close()
  local uses, block = {}, false
  for line in text:gmatch("[^\n]*") do
    line = line:gsub("//.*$", ""):match("^%s*(.-)%s*$")
    if block then
      if line == ")" then block = false
      elseif line ~= "" then uses[#uses + 1] = line:match('^"(.*)"$') or line end
    elseif line == "use (" or line:match("^use%s*%($") then block = true
    else
      local d = line:match("^use%s+(.+)$")
      if d then uses[#uses + 1] = d:match('^"(.*)"$') or d end
    end
  end
  return uses
end

-- Whether a `use` directory lies inside root (then the tree walk has read it already).
local function inside(dir)
  return dir:sub(1, 1) ~= "/" and not dir:match("^%.%.") and not dir:match("/%.%.")
end

-- Add the scan `more` of directory dir (a go.work `use` outside root) to syms.
local function merge(syms, more, dir)
  for name, f in pairs(more.functions) do
    local have = syms.functions[name]
    if have then
      have.also = have.also or {}
      have.also[#have.also + 1] = f
    else
      syms.functions[name] = f
      syms.list[#syms.list + 1] = name
    end
    f.file = dir .. "/" .. f.file
  end
  table.sort(syms.list)
  for _, key in ipairs { "packages", "skipped", "modules" } do
    for _, e in ipairs(more[key]) do
      if key == "skipped" then e.path = dir .. "/" .. e.path end
      if key == "modules" or key == "packages" then e.dir = dir .. (e.dir == "." and "" or "/" .. e.dir) end
      syms[key][#syms[key] + 1] = e
    end
  end
  for _, k in ipairs { "files", "lines", "bytes", "declarations", "test_files_excluded", "asm_files" } do
    syms[k] = syms[k] + more[k]
  end
  syms.module = syms.module or more.module
end

--- Declarations of a Go module's source tree, spelled as in profiles.
-- @treturn[1] table syms (see the header of this file)
-- @treturn[2] nil, message, code
function M.go_source(root, opts)
  if type(root) ~= "string" then
    error("bad argument #1 to 'go_source' (string expected, got " .. type(root) .. ")", 2)
  end
  opts = check_opts("go_source", 2, opts, go_source_opts)
  if opts.max_file_bytes and (math.type(opts.max_file_bytes) ~= "integer" or opts.max_file_bytes <= 0) then
    error("bad argument #2 to 'go_source' (option 'max_file_bytes' must be a positive integer)", 2)
  end
  local syms, err, code = core.go_source(root, opts)
  if not syms or opts.module then return syms, err, code end
  for _, dir in ipairs(go_work_uses(root) or {}) do
    if not inside(dir) then
      local path = dir:sub(1, 1) == "/" and dir or root .. "/" .. dir
      local more, merr, mcode = core.go_source(path, opts)
      if not more then return nil, ("go.work: use %s: %s"):format(dir, merr), mcode end
      merge(syms, more, dir)
    end
  end
  return syms
end

--- Scan one Go file held in a string: {package, package_line, build_ignore,
-- has_constraint, lines, decls = {{name, func, line, receiver, pointer, generic}}}.
-- decl.name is spelled the profile way without the package ("(*T).M", "F[...]", "init").
function M.scan_file(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'scan_file' (string expected, got " .. type(text) .. ")", 2)
  end
  return core.go_scan_file(text)
end

local find_spec = {
  names = "table", suffixes = "table", prefixes = "table", hidden_dirs = "table",
  include_vendor = "boolean", max_depth = "number",
}

--- Files under root whose base name matches spec (names: exact, suffixes, prefixes),
-- relative to root, in byte order per directory. .git, node_modules, testdata, vendor
-- (unless include_vendor) and hidden directories other than spec.hidden_dirs (e.g.
-- {".github"}) are not entered.
function M.find_files(root, spec)
  if type(root) ~= "string" then
    error("bad argument #1 to 'find_files' (string expected, got " .. type(root) .. ")", 2)
  end
  spec = check_opts("find_files", 2, spec, find_spec)
  return core.go_find_files(root, spec)
end

-- The binary readers live in pgo.symbols_binary (another module); loaded on first use
-- so this module works without it.
local binary_mod, binary_err
local function symbols_binary()
  if binary_mod == nil and binary_err == nil then
    local ok, m = pcall(require, "pgo.symbols_binary")
    if ok then binary_mod = m else binary_err = tostring(m) end
  end
  return binary_mod, binary_err
end

local function unavailable(what, err)
  return nil, ("%s is not available: module pgo.symbols_binary failed to load (%s)")
    :format(what, (err or "?"):match("^[^\n]*")), "unavailable"
end

--- Function table of a Go ELF binary (pgo.symbols_binary.binary).
function M.binary(...)
  local m, err = symbols_binary()
  if not m or not m.binary then return unavailable("symbols.binary", err) end
  return m.binary(...)
end

--- Go build info of a binary (pgo.symbols_binary.buildinfo); also pgo.buildinfo.
function M.buildinfo(...)
  local m, err = symbols_binary()
  if not m or not m.buildinfo then return unavailable("symbols.buildinfo", err) end
  return m.buildinfo(...)
end

--- Whether pgo.symbols_binary loaded (binary and buildinfo work).
function M.has_binary()
  return symbols_binary() ~= nil
end

return M
