-- pgo.capture (lua/pgo/capture.lua): every source into one merged profile and its
-- provenance fields. HTTP sources are the recipe specs' (spec/recipes/refresh_spec.lua,
-- against spec/support/fakeserver.go); here files, a refused connection and misuse.
local helpers = require "helpers"
local pgo = require "pgo"

local F = helpers.fixture

describe("pgo.capture", function()
  it("merges files into one profile, with provenance fields and labels", function()
    local a, b = F("profiles/shop.p1.pgo"), F("profiles/shop.p2.pgo")
    local p, info = pgo.capture.profile { files = { a, b } }
    assert.truthy(p, info)
    assert.equal(assert(pgo.load(a)):info().samples + assert(pgo.load(b)):info().samples, p:info().samples)
    assert.equal("file://" .. a .. " and 1 more", info.fields.source)
    assert.equal(2, info.fields.instances)
    assert.equal("pgo.merge of 2 files", info.fields.aggregated_via)
    assert.same({ "2 files" }, info.labels)
    assert.same({}, info.notes)
    assert.equal(2, #info.fields.window)
  end)

  it("records source_name instead of the source", function()
    local _, info = pgo.capture.profile({ files = { F("profiles/shop.p1.pgo") } }, { source_name = "api" })
    assert.equal("api", info.fields.source)
    assert.same({ "api" }, info.labels)
  end)

  it("returns nil, message, code for a file that is missing or not a profile", function()
    local p, msg, code = pgo.capture.profile { files = { "/nonexistent/x.pgo" } }
    assert.is_nil(p)
    assert.equal("not_found", code)
    assert.matches("/nonexistent/x.pgo", msg, 1, true)
    p, msg, code = pgo.capture.profile { files = { F("bad/truncated.pgo") } }
    assert.is_nil(p)
    assert.matches("gzip stream ends early", msg, 1, true)
    assert.equal("string", type(code))
  end)

  it("applies max_decompressed to files too", function()
    local p, _, code = pgo.capture.profile({ files = { F("profiles/shop.p1.pgo") } }, { max_decompressed = 100 })
    assert.is_nil(p)
    assert.equal("too_large", code)
  end)

  it("fails a refused connection with the transfer's code (no retries)", function()
    local p, msg, code = pgo.capture.profile({ urls = { "http://127.0.0.1:1/" } },
      { seconds = 1, retries = 0, quiet = true })
    assert.is_nil(p)
    assert.matches("connection refused", msg, 1, true)
    assert.equal("string", type(code))
  end)

  it("takes its transport defaults from pgo.fetch.defaults, the one table", function()
    assert.equal(pgo.fetch.defaults, pgo.capture.defaults)
    local d = pgo.fetch.defaults
    local retries, backoff = d.retries, d.backoff
    local function attempts()
      local p, _, _, meta = pgo.capture.profile({ urls = { "http://127.0.0.1:1/" } }, { seconds = 1, quiet = true })
      assert.is_nil(p)
      return meta.attempts
    end
    local ok, err = pcall(function()
      d.retries, d.backoff = 0, 0.01
      assert.equal(1, attempts())
      d.retries = 1
      assert.equal(2, attempts())
    end)
    d.retries, d.backoff = retries, backoff
    assert(ok, err)
  end)

  it("checks credentials before capturing", function()
    local ok, msg, code = pgo.capture.check_credentials { auth_env = "PGOLUA_SPEC_UNSET_VAR" }
    assert.is_nil(ok)
    assert.equal("auth", code)
    assert.matches("PGOLUA_SPEC_UNSET_VAR", msg, 1, true)
    assert.is_true(pgo.capture.check_credentials {})
  end)

  it("names URLs that carry a credential, redacted", function()
    local found = pgo.capture.typed_credentials { urls = { "http://ops:hunter2@127.0.0.1:1/", "http://127.0.0.1:2/" },
      pyroscope = { url = "http://127.0.0.1:3/?access_token=tok-123456" } }
    assert.equal(2, #found)
    assert.equal("urls", found[1].source)
    assert.equal("pyroscope", found[2].source)
    for _, f in ipairs(found) do
      assert.is_nil(f.message:find("hunter2", 1, true))
      assert.is_nil(f.message:find("tok-123456", 1, true))
      assert.matches("carries a credential", f.message, 1, true)
    end
    assert.same({}, pgo.capture.typed_credentials { urls = { "http://127.0.0.1:2/" } })
  end)

  it("raises on misuse: no source, an unknown source or option, a wrong type", function()
    assert.has_error(function() pgo.capture.profile {} end,
      "bad argument #1 to 'profile' (no source: files, urls, pyroscope or parca)")
    assert.has_error(function() pgo.capture.profile { file = { "x" } } end,
      "bad argument #1 to 'profile' (unknown option 'file')")
    assert.has_error(function() pgo.capture.profile({ files = { "x" } }, { secnds = 1 }) end,
      "bad argument #2 to 'profile' (unknown option 'secnds')")
    assert.has_error(function() pgo.capture.profile { pyroscope = { url = "http://x", selectr = "{}" } } end)
    assert.has_error(function() pgo.capture.profile({ files = { "x" } }, { retries = "2" }) end)
  end)
end)
