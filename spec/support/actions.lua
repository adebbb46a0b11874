-- actions: runs a GitHub Actions workflow's jobs on this machine, the way a runner would,
-- for the specs of examples/ci: jobs in `needs` order, each step's `run:` under the shell
-- GitHub uses (`bash -e` by default, `bash --noprofile --norc -eo pipefail` for
-- `shell: bash`), `${{ }}` expressions of the few forms the samples use, GITHUB_ENV,
-- GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, step and job `if:`, and local stand-ins
-- for the actions they use (checkout from a local repository, setup-go, cache,
-- upload/download-artifact). Anything else raises, so a sample cannot use what is not
-- emulated without the spec saying so.
--
--   local actions = require "support.actions"
--   local run = actions.run_workflow("examples/ci/pgo-ab.yml", {
--     root = dir,            -- where workspaces, runner temp dirs and artifacts go
--     repo = path,           -- the git repository actions/checkout clones
--     go_bin = dir,          -- prepended to PATH by actions/setup-go
--     env = {...},           -- overrides of the workflow's env block (a team's edits)
--     secrets = {...}, inputs = {...}, github = {token = ..., event = {...}},
--     path = {...},          -- directories put first on PATH (stand-ins such as gh)
--   })
--   run.jobs.ab.result ("success" | "failure" | "skipped"), run.jobs.ab.steps[i].log,
--   run.log (every step's output), run.files (every file a job left, for secret scans)
local helpers = require "helpers"
local lyaml = require "lyaml"

local actions = {}
local shq = helpers.shq

-- {===================================================================================
-- Expressions: literals, context paths, ==, !=, &&, ||, (), always/success/failure()

local function tokenize(s)
  local toks, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "'" then
      local j = s:find("'", i + 1, true)
      assert(j, "unterminated string in expression: " .. s)
      toks[#toks + 1] = {kind = "str", value = s:sub(i + 1, j - 1)}
      i = j + 1
    else
      local op = s:match("^[=!]=", i) or s:match("^&&", i) or s:match("^||", i)
        or s:match("^[()]", i)
      if op then
        toks[#toks + 1] = {kind = "op", value = op}
        i = i + #op
      else
        local word = s:match("^[%w_%-%.]+", i)
        assert(word, "unsupported expression syntax at '" .. s:sub(i) .. "'")
        toks[#toks + 1] = {kind = "word", value = word}
        i = i + #word
      end
    end
  end
  return toks
end

local function truthy(v) return v ~= nil and v ~= false and v ~= "" end

-- Evaluates 'expr' against the contexts 'ctx' (secrets, env, github, steps, ...).
local function evaluate(expr, ctx)
  local toks, pos = tokenize(expr), 1
  local function peek() return toks[pos] and toks[pos].value end
  local function next_tok() pos = pos + 1; return toks[pos - 1] end
  local or_expr
  local function primary()
    local t = assert(next_tok(), "unexpected end of expression: " .. expr)
    if t.kind == "str" then return t.value end
    if t.value == "(" then
      local v = or_expr()
      assert(next_tok().value == ")", "missing ) in " .. expr)
      return v
    end
    if peek() == "(" then                   -- a status function
      next_tok()
      assert(next_tok().value == ")", "functions take no arguments here: " .. expr)
      local failed = ctx.job_failed
      if t.value == "always" then return true end
      if t.value == "success" then return not failed end
      if t.value == "failure" then return failed end
      error("unsupported function " .. t.value .. "() in " .. expr)
    end
    if t.value == "true" then return true elseif t.value == "false" then return false end
    local v = ctx
    for part in t.value:gmatch("[^.]+") do
      if type(v) ~= "table" then return nil end
      v = v[part]
    end
    if type(v) == "number" then v = tostring(v) end
    return v
  end
  local function comparison()
    local a = primary()
    local op = peek()
    if op == "==" or op == "!=" then
      next_tok()
      local b = primary()
      local eq = tostring(a or "") == tostring(b or "")
      return (op == "==") == eq
    end
    return a
  end
  local function and_expr()
    local v = comparison()
    while peek() == "&&" do
      next_tok()
      local w = comparison()
      v = truthy(v) and w or v
    end
    return v
  end
  function or_expr()
    local v = and_expr()
    while peek() == "||" do
      next_tok()
      local w = and_expr()
      if not truthy(v) then v = w end
    end
    return v
  end
  local v = or_expr()
  assert(pos > #toks, "trailing tokens in expression: " .. expr)
  return v
end

-- Replaces every ${{ expr }} in 's'.
local function interpolate(s, ctx)
  if type(s) ~= "string" then return s end
  return (s:gsub("%${{(.-)}}", function(e)
    local v = evaluate(e, ctx)
    if v == nil or v == false then return "" end
    return tostring(v)
  end))
end

actions.evaluate, actions.interpolate = evaluate, interpolate

-- }===================================================================================

local function sh(cmd)
  local out, err, code = helpers.run("(" .. cmd .. ")")   -- helpers.run redirects the last command's stdin
  assert(code == 0, cmd .. "\n" .. out .. err)
  return out
end

-- "k=v" lines and "k<<EOF ... EOF" blocks of a GITHUB_OUTPUT or GITHUB_ENV file.
local function read_kv(path)
  local t = {}
  local f = io.open(path, "rb")
  if not f then return t end
  local text = f:read("a")
  f:close()
  local lines = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  local i = 1
  while i <= #lines do
    local k, delim = lines[i]:match("^([^=<]+)<<(.+)$")
    if k then
      local buf = {}
      i = i + 1
      while i <= #lines and lines[i] ~= delim do buf[#buf + 1] = lines[i]; i = i + 1 end
      t[k] = table.concat(buf, "\n")
    else
      local key, v = lines[i]:match("^([^=]+)=(.*)$")
      if key then t[key] = v end
    end
    i = i + 1
  end
  return t
end

local function merged(...)
  local t = {}
  for _, src in ipairs{...} do for k, v in pairs(src or {}) do t[k] = v end end
  return t
end

-- {===================================================================================
-- The actions the samples use

local uses = {}

uses["actions/checkout"] = function(job, with)
  sh("git clone -q " .. shq(job.opts.repo) .. " " .. shq(job.workspace))
  -- Like the real action: the token is persisted in .git/config for later git commands
  -- unless persist-credentials is false, and removed when the job ends.
  if with["persist-credentials"] ~= false then
    local token = with.token or job.ctx.github.token
    sh("git -C " .. shq(job.workspace) .. " config http.https://github.com/.extraheader "
      .. shq("AUTHORIZATION: basic " .. token))
    job.cleanup[#job.cleanup + 1] = "git -C " .. shq(job.workspace)
      .. " config --unset-all http.https://github.com/.extraheader"
  end
end

uses["actions/setup-go"] = function(job)
  table.insert(job.path, 1, job.opts.go_bin)
end

uses["actions/cache"] = function(job, with, step_outputs)
  local store = job.opts.root .. "/cache/" .. with.key:gsub("[^%w._-]", "_")
  if select(3, helpers.run("test -d " .. shq(store))) == 0 then
    sh("mkdir -p " .. shq(with.path) .. " && cp -a " .. shq(store) .. "/. " .. shq(with.path))
    step_outputs["cache-hit"] = "true"
  else
    step_outputs["cache-hit"] = "false"
    -- saved when the job succeeds, as the action's post step does
    job.on_success[#job.on_success + 1] = "mkdir -p " .. shq(store) .. " && cp -a "
      .. shq(with.path) .. "/. " .. shq(store)
  end
end

uses["actions/upload-artifact"] = function(job, with)
  local dest = job.opts.root .. "/artifacts/" .. with.name
  sh("mkdir -p " .. shq(dest))
  for p in with.path:gmatch("[^\n]+") do
    p = p:gsub("^%s+", ""):gsub("%s+$", "")
    helpers.run("cp -a " .. shq(p) .. (p:sub(-1) == "/" and "." or "") .. " " .. shq(dest) .. "/")
  end
end

uses["actions/download-artifact"] = function(job, with)
  local src = job.opts.root .. "/artifacts/" .. with.name
  sh("mkdir -p " .. shq(with.path) .. " && cp -a " .. shq(src) .. "/. " .. shq(with.path))
end

-- }===================================================================================

-- Runs one `run:` step; returns its exit status and output (stdout and stderr together).
local function run_step(job, step, n, env)
  local shell = step.shell or job.defaults_shell
  local argv
  if shell == "bash" then
    argv = "bash --noprofile --norc -eo pipefail"
  elseif shell == nil then
    argv = "bash -e"                        -- GitHub's default: no pipefail
  else
    error("shell " .. tostring(shell) .. " is not emulated")
  end
  local script = job.temp .. "/_step" .. n .. ".sh"
  helpers.write_file(script, interpolate(step.run, job.ctx))
  local vars = {}
  for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. shq(v) end
  table.sort(vars)
  local path = table.concat(job.path, ":")
  local cmd = "cd " .. shq(job.workspace) .. " && env " .. table.concat(vars, " ")
    .. " PATH=" .. shq(path) .. ":\"$PATH\" " .. argv .. " " .. shq(script)
  local log = script .. ".log"                -- stdout and stderr interleaved, as on GitHub
  local _, _, code = helpers.run("((" .. cmd .. ") >" .. shq(log) .. " 2>&1)")
  local out = helpers.read_file(log)
  os.remove(script)
  os.remove(log)
  return code, out
end

-- Runs the job 'name' of workflow 'wf'; fills run.jobs[name].
local function run_job(wf, name, run, opts)
  local spec = wf.jobs[name]
  local result = {steps = {}, outputs = {}}
  run.jobs[name] = result
  local needs = {}
  for _, n in ipairs(type(spec.needs) == "table" and spec.needs or {spec.needs}) do
    needs[n] = {result = run.jobs[n].result, outputs = run.jobs[n].outputs}
  end
  local ctx = {
    secrets = opts.secrets or {}, inputs = opts.inputs or {}, github = opts.github or {},
    env = merged(wf.env, opts.env), needs = needs, steps = {},
    runner = {os = "Linux", temp = nil}, job_failed = false,
  }
  for _, n in pairs(needs) do if n.result ~= "success" then ctx.job_failed = true end end
  local cond = spec["if"] and evaluate(spec["if"]:gsub("^%${{(.*)}}$", "%1"), ctx)
  if (spec["if"] and not truthy(cond)) or (not spec["if"] and ctx.job_failed) then
    result.result = "skipped"
    return
  end
  local job = {
    opts = opts, ctx = ctx, path = {}, cleanup = {}, on_success = {},
    workspace = opts.root .. "/" .. name .. "/workspace",
    temp = opts.root .. "/" .. name .. "/temp",
    defaults_shell = wf.defaults and wf.defaults.run and wf.defaults.run.shell,
  }
  for _, p in ipairs(opts.path or {}) do job.path[#job.path + 1] = p end
  sh("mkdir -p " .. shq(job.temp) .. " " .. shq(job.workspace))
  ctx.runner.temp = job.temp
  local files = {}
  for _, f in ipairs{"output", "env", "path", "summary"} do
    files[f] = job.temp .. "/_github_" .. f
    helpers.write_file(files[f], "")
  end
  local job_env = merged(wf.env, opts.env, spec.env)
  for n, step in ipairs(spec.steps) do
    local r = {name = step.name or step.uses or ("step " .. n), log = ""}
    result.steps[n] = r
    local step_outputs = {}
    local run_it
    if step["if"] then
      run_it = truthy(evaluate(step["if"]:gsub("^%${{(.*)}}$", "%1"), ctx))
    else
      run_it = not ctx.job_failed
    end
    if not run_it then
      r.result = "skipped"
    else
      for k, v in pairs(read_kv(files.env)) do job_env[k] = v end
      for p in (helpers.read_file(files.path)):gmatch("[^\n]+") do table.insert(job.path, 1, p) end
      helpers.write_file(files.path, "")
      helpers.write_file(files.output, "")
      ctx.env = merged(job_env)
      local env = merged(job_env)
      for k, v in pairs(step.env or {}) do env[k] = interpolate(tostring(v), ctx) end
      for k, v in pairs(env) do env[k] = interpolate(tostring(v), ctx) end
      env.CI, env.GITHUB_ACTIONS = "true", "true"
      env.GITHUB_WORKSPACE, env.RUNNER_TEMP, env.RUNNER_OS = job.workspace, job.temp, "Linux"
      env.GITHUB_OUTPUT, env.GITHUB_ENV = files.output, files.env
      env.GITHUB_PATH, env.GITHUB_STEP_SUMMARY = files.path, files.summary
      if step.uses then
        local action = step.uses:match("^([^@]+)@")
        local handler = assert(uses[action], "action " .. step.uses .. " is not emulated")
        local with = {}
        for k, v in pairs(step.with or {}) do
          with[k] = type(v) == "string" and interpolate(v, ctx) or v
        end
        handler(job, with, step_outputs)
        r.result = "success"
      else
        local code, out = run_step(job, step, n, env)
        r.log, r.code = out, code
        r.result = code == 0 and "success" or "failure"
        for k, v in pairs(read_kv(files.output)) do step_outputs[k] = v end
        run.log = run.log .. "== " .. name .. ": " .. r.name .. "\n" .. out
      end
      if r.result == "failure" then ctx.job_failed = true end
    end
    if step.id then ctx.steps[step.id] = {outputs = step_outputs, outcome = r.result} end
  end
  result.result = ctx.job_failed and "failure" or "success"
  if result.result == "success" then
    for _, c in ipairs(job.on_success) do sh(c) end
  end
  for _, c in ipairs(job.cleanup) do helpers.run(c) end
  for k, v in pairs(spec.outputs or {}) do result.outputs[k] = interpolate(v, ctx) end
  result.summary = helpers.read_file(files.summary)
  result.workspace, result.temp = job.workspace, job.temp
end

-- Loads and runs every job of the workflow file 'path' (see the header for 'opts').
function actions.run_workflow(path, opts)
  local wf = actions.load(path)
  local run = {jobs = {}, log = "", workflow = wf}
  local done, order = {}, {}
  local function visit(name)
    if done[name] then return end
    done[name] = true
    local needs = wf.jobs[name].needs
    for _, n in ipairs(type(needs) == "table" and needs or {needs}) do visit(n) end
    order[#order + 1] = name
  end
  local names = {}
  for name in pairs(wf.jobs) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do visit(name) end
  for _, name in ipairs(order) do run_job(wf, name, run, opts) end
  return run
end

-- The workflow as a table (YAML 1.1: the `on` key reads as true).
function actions.load(path)
  return lyaml.load(helpers.read_file(path))
end

return actions
