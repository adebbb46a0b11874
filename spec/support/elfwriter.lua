-- elfwriter: a minimal ELF writer for specs, to build small files that exercise one
-- layout at a time. Sections are laid out after the headers; every section with an
-- address and SHF_ALLOC is also mapped by a PT_LOAD segment.
--   spec = { bits = 64|32, be = bool, machine = n, no_sections = bool,
--            sections = { {name=, type=, flags=, addr=, data=, link=, entsize=}, ... } }
local M = {}

function M.build(spec)
  local is64 = (spec.bits or 64) == 64
  local E = spec.be and ">" or "<"
  local W = is64 and "I8" or "I4"
  local ehsize, phsize, shsize = is64 and 64 or 52, is64 and 56 or 32, is64 and 64 or 40
  local secs = spec.sections or {}
  local names, name_off, pos = { "\0" }, {}, 1
  for i, s in ipairs(secs) do
    name_off[i] = pos
    names[#names + 1] = s.name .. "\0"
    pos = pos + #s.name + 1
  end
  local shstr_name = pos
  names[#names + 1] = ".shstrtab\0"
  local shstrtab = table.concat(names)
  local loads = {}
  for i, s in ipairs(secs) do
    if (s.addr or 0) ~= 0 and (s.flags or 2) & 2 ~= 0 then loads[#loads + 1] = i end
  end
  local off = ehsize + #loads * phsize
  local body, offs = {}, {}
  local function pad16()
    local a = (off + 15) // 16 * 16
    body[#body + 1] = string.rep("\0", a - off)
    off = a
  end
  for i, s in ipairs(secs) do
    pad16()
    offs[i] = off
    body[#body + 1] = s.data
    off = off + #s.data
  end
  local shstr_at = off
  body[#body + 1] = shstrtab
  off = off + #shstrtab
  pad16()
  local shoff, nsec = off, #secs + 2
  local nos = spec.no_sections
  local hdr = "\127ELF" .. string.char(is64 and 2 or 1, spec.be and 2 or 1, 1) .. string.rep("\0", 9)
    .. string.pack(E .. "I2I2I4" .. W .. W .. W .. "I4I2I2I2I2I2I2", 2,
      spec.machine or (is64 and 62 or 3), 1, 0, #loads > 0 and ehsize or 0, nos and 0 or shoff,
      0, ehsize, phsize, #loads, shsize, nos and 0 or nsec, nos and 0 or nsec - 1)
  local ph = {}
  for _, i in ipairs(loads) do
    local s = secs[i]
    local f = s.flags or 2
    local pf = 4 | ((f & 1 ~= 0) and 2 or 0) | ((f & 4 ~= 0) and 1 or 0)
    if is64 then
      ph[#ph + 1] = string.pack(E .. "I4I4I8I8I8I8I8I8", 1, pf, offs[i], s.addr, s.addr, #s.data,
        #s.data, 16)
    else
      ph[#ph + 1] = string.pack(E .. "I4I4I4I4I4I4I4I4", 1, offs[i], s.addr, s.addr, #s.data,
        #s.data, pf, 16)
    end
  end
  local function shdr(name, ty, flags, addr, offset, size, link, entsize)
    if is64 then
      return string.pack(E .. "I4I4I8I8I8I8I4I4I8I8", name, ty, flags, addr, offset, size, link, 0,
        1, entsize)
    end
    return string.pack(E .. "I4I4I4I4I4I4I4I4I4I4", name, ty, flags, addr, offset, size, link, 0, 1,
      entsize)
  end
  local sh = { string.rep("\0", shsize) }
  for i, s in ipairs(secs) do
    sh[#sh + 1] = shdr(name_off[i], s.type or 1, s.flags or 2, s.addr or 0, offs[i], #s.data,
      s.link or 0, s.entsize or 0)
  end
  sh[#sh + 1] = shdr(shstr_name, 3, 0, 0, shstr_at, #shstrtab, 0, 0)
  local out = hdr .. table.concat(ph) .. table.concat(body)
  if not nos then out = out .. table.concat(sh) end
  return out
end

return M
