-- pgo.repo: where things live in a Go repository, for every recipe that asks: the module
-- root above a directory, the package main a default.pgo sits beside, and where
-- default.pgo goes. The full audit of a repository (go.work, nested modules, every main,
-- build files that switch PGO off) is pgo.audit.repo; this module answers the questions
-- recipes ask before they write.
--
--   repo.module_root("cmd/api")                 -> "/abs/module" or nil
--   repo.default_profile(".", {syms = syms})     -> "cmd/api/default.pgo", note
--   repo.main_package(syms, "/abs/module", "cmd/api") -> "example.com/x/cmd/api" or nil
--   repo.profile_path("cmd/api", "/abs/module") -> "/abs/module/cmd/api/default.pgo"
local fs = require "pgo.fs"
local options = require "pgo.options"

local repo = {}

-- dir as an absolute path without symbolic links; nil when it is not a directory.
local function absolute_dir(dir)
  local st = fs.stat(dir)
  if not st or st.type ~= "directory" then return nil end
  return (fs.realpath(dir))
end

--- The nearest directory holding go.mod, from dir upward, as an absolute path; nil when
-- there is none (or dir is not a directory).
function repo.module_root(dir)
  options.argument("module_root", 1, dir, "string")
  local d = absolute_dir(dir)
  while d do
    if fs.exists(d .. "/go.mod") then return d end
    if d == "/" then return nil end
    d = d:match("^(.*)/[^/]*$")
    if d == "" then d = "/" end
  end
end

local DEFAULT_PROFILE_OPTS = { syms = "table" }

--- Where default.pgo goes for the module at root: beside the only package main (what
-- `go build -pgo=auto` reads), else ./default.pgo with a note saying why. opts.syms: the
-- module's pgo.symbols.go_source result, when the caller has it. Returns path, note (nil
-- when there is nothing to say).
function repo.default_profile(root, opts)
  options.argument("default_profile", 1, root, "string")
  opts = options.check("default_profile", 2, opts, DEFAULT_PROFILE_OPTS)
  local r = require("pgo.audit").repo(root, { syms = opts.syms, env = {} })
  local mains = r and r.mains or {}
  if #mains == 1 then
    if mains[1].dir == "." then return root .. "/default.pgo" end
    return repo.profile_path(mains[1].dir, root ~= "." and root or nil)
  end
  if #mains > 1 then
    return "./default.pgo", ("%d main packages under %s: writing ./default.pgo, which go build "
      .. "-pgo=auto does not read; pass --out DIR/default.pgo"):format(#mains, root)
  end
  return "./default.pgo", r and ("no package main under " .. root .. ": writing ./default.pgo") or nil
end

--- Where go build -pgo=auto reads the profile of the package main in dir (relative to
-- the module root, "." for the root itself): "cmd/api/default.pgo"; with root, joined to
-- it ("/src/x/cmd/api/default.pgo").
function repo.profile_path(dir, root)
  options.argument("profile_path", 1, dir, "string")
  local rel = (dir == "." or dir == "") and "default.pgo" or (dir:gsub("/+$", "") .. "/default.pgo")
  if root == nil then return rel end
  options.argument("profile_path", 2, root, "string")
  return (root:gsub("/+$", "")) .. "/" .. rel
end

--- The import path of the package main declared in dir (a directory inside the module at
-- src), from syms (pgo.symbols.go_source); nil when dir holds none.
function repo.main_package(syms, src, dir)
  options.argument("main_package", 1, syms, "table")
  options.argument("main_package", 2, src, "string")
  options.argument("main_package", 3, dir, "string")
  local dir_abs, src_abs = absolute_dir(dir), absolute_dir(src)
  if not dir_abs or not src_abs then return nil end
  local rel = dir_abs == src_abs and "." or
    (dir_abs:sub(1, #src_abs + 1) == src_abs .. "/" and dir_abs:sub(#src_abs + 2)) or nil
  for _, pkg in ipairs(syms.packages or {}) do
    if pkg.main and pkg.dir == rel then return pkg.path end
  end
  return nil
end

return repo
