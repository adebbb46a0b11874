-- pgo.profile: the profile class, defined here and nowhere else. The C half
-- (pgo.core.profile, src/lua/profile.c and the binding files it gathers) holds the
-- decoded profile and its exact, heavy methods; this file adds the friendly ones, so
-- `require "pgo.profile"` alone gives every method and a one-line __tostring:
--
--   p:info()                       header, counts, kind, and the samples figure
--   p:samples_total()              samples (see below), or nil for a profile with no such figure
--   p:require_cpu(what)            true, or nil, message, "not_cpu" for a heap/goroutine/... profile
--   p:drop{...}, p:reweight{...}, p:delta(base)   (lua/pgo/edit.lua)
--
-- One vocabulary: "samples" is the samples/count total, what `go tool pprof` counts and
-- what PGO weighs; a profile without that column (Pyroscope, Parca) gets it as its
-- cpu/nanoseconds total divided by the sampling period. The Sample messages of the
-- protobuf are "sample records" (info.sample_records).
local core = require "pgo.core.profile"
local edit = require "pgo.edit"
local units = require "pgo.units"

local profile = core
local methods = core.methods

-- The kind of profile, from its sample and period types (as pprof and the Go runtime
-- name them).
local function classify(info)
  local types = {}
  for _, st in ipairs(info.sample_types) do types[st.type] = st.unit end
  local period = info.period_type.type
  if types.cpu or period == "cpu" then return "cpu" end
  if types.inuse_space or types.alloc_space then
    return types.inuse_space and "heap" or "allocs"
  end
  if types.goroutine or period == "goroutine" then return "goroutine" end
  if types.threadcreate or period == "threadcreate" then return "threadcreate" end
  if types.contentions or types.delay then
    return period == "contentions" and "mutex" or "block"
  end
  return "unknown"
end

-- samples from the header and the column totals (see the module comment); nil when the
-- profile has neither a samples/count nor a cpu/nanoseconds column with a period.
local function samples_figure(self, info)
  local cpu
  for i, st in ipairs(info.sample_types) do
    if st.type == "samples" and st.unit == "count" then return self:total { sample_index = i } end
    if st.type == "cpu" and st.unit == "nanoseconds" then cpu = i end
  end
  if cpu and info.period > 0 and info.period_type.unit == "nanoseconds" then
    return math.floor(self:total { sample_index = cpu } / info.period + 0.5)
  end
  return nil
end

--- The header and counts of a profile: sample_types, default_sample_type, period_type,
-- period, duration_ns, time_ns, comments, sample_records (Sample messages), locations,
-- functions, ...; kind ("cpu", "heap", ...); samples (the samples/count total, or cpu
-- time / period; nil when the profile has neither).
function methods.info(self)
  local info = self:_info()
  info.sample_records = info.samples
  info.kind = classify(info)
  info.samples = samples_figure(self, info)
  return info
end

--- The samples figure alone (see info).
function methods.samples_total(self)
  return self:info().samples
end

--- true for a CPU profile; nil, message, "not_cpu" for any other kind. what names the
-- command or use in the message ("refresh", "the stale audit"); every command that reads
-- a CPU profile rejects the others with this one message.
function methods.require_cpu(self, what)
  local kind = self:info().kind
  if kind == "cpu" then return true end
  return nil, ("a %s profile, not a CPU profile: %s needs a CPU profile (net/http/pprof serves one "
    .. "at /debug/pprof/profile; `go test -cpuprofile` writes one)"):format(kind, what or "this"),
    "not_cpu"
end

for name, f in pairs(edit.methods) do methods[name] = f end

-- "cpu profile: 30s, 3561 samples, 35.61s total, 120 functions"
core.metatable.__tostring = function(self)
  if self:is_closed() then return "pgo.profile (closed)" end
  local info = self:info()
  local di = 1
  for i, st in ipairs(info.sample_types) do
    if st.type == info.default_sample_type then di = i end
  end
  local st = info.sample_types[di]
  local total = st and units.scaled(info.totals[di], st.unit) or "0"
  local count = info.samples and units.plural(info.samples, "sample")
    or units.plural(info.sample_records, "sample record")
  return string.format("%s profile: %s, %s, %s total, %s",
    info.kind, units.scaled(info.duration_ns, "nanoseconds"), count, total,
    units.plural(info.functions, "function"))
end

return profile
