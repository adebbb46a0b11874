-- Specs for pgo.checks: the one table of thresholds (and its policies), the check form,
-- the counts and summary every command prints, and the one renderer (text, markdown, JSON).
local helpers = require "helpers"
local checks = require "pgo.checks"
local audit = require "pgo.audit"
local cjson = require "cjson"

-- A list of three: one passing, one failing, one skipped.
local function sample_list()
  local list = {}
  checks.add(list, { name = "min_samples", figure = 3561, threshold = 1000, verdict = "pass",
    advice = "3561 samples" })
  checks.add(list, { name = "max_gc", figure = 0.42, threshold = 0.3, verdict = "fail",
    advice = "42% of samples are garbage collection", evidence = { "runtime.gcDrain 30%" } })
  checks.add(list, { name = "min_duration", figure = 0, threshold = 10, verdict = "skipped",
    advice = "the profile records no duration; not checked" })
  return list
end

describe("pgo.checks", function()
  describe("thresholds", function()
    it("has one default per name, and health_defaults is the health group of it", function()
      local d = checks.defaults()
      assert.equal(1000, d.min_samples)
      assert.equal(0.10, d.max_stale)
      assert.same(checks.defaults(nil, "health"), audit.health_defaults())
      assert.is_nil(audit.health_defaults().max_stale)
      assert.equal(13, #checks.names("health"))
      assert.equal("cpu_profile", checks.names("health")[1])
    end)

    it("lays a named policy over the defaults, and raises on an unknown one", function()
      assert.equal(30000, checks.defaults("fleet").min_samples)
      assert.equal(30000, audit.health_defaults("fleet").min_samples)
      assert.equal(0.3, checks.defaults("fleet").max_gc)
      assert.has_error(function() checks.defaults("huge") end,
        "bad argument #1 to 'defaults' (no policy 'huge')")
    end)

    it("takes a recipe's overrides: a number, false (off), true (the default)", function()
      local t = checks.thresholds { policy = "fleet", max_gc = false, min_duration = 30, start_lines = true }
      assert.equal(30000, t.min_samples)
      assert.is_false(t.max_gc)
      assert.equal(30, t.min_duration)
      assert.is_true(t.start_lines)
      assert.equal(0.75, t.max_dominant)
      assert.has_error(function() checks.thresholds { min_sample = 5 } end,
        "bad argument #1 to 'thresholds' (no check named 'min_sample')")
      assert.has_error(function() checks.thresholds { max_gc = "high" } end,
        "bad argument #1 to 'thresholds' (option 'max_gc' must be a number or boolean, got string)")
    end)

    it("compares a figure by the bound of its name", function()
      assert.equal("pass", checks.compare("min_samples", 1000, 1000))
      assert.equal("fail", checks.compare("min_samples", 999, 1000))
      assert.equal("pass", checks.compare("max_gc", 0.3, 0.3))
      assert.equal("fail", checks.compare("max_gc", 0.31, 0.3))
      assert.equal("skipped", checks.compare("max_gc", 0.9, false))
    end)
  end)

  describe("a list", function()
    it("gives each check a verdict, advice and the older ok / message / skipped", function()
      local list = sample_list()
      assert.equal("pass", list[1].verdict)
      assert.is_true(list[1].ok)
      assert.equal("3561 samples", list[1].message)
      assert.equal("samples", list[1].unit)
      assert.is_false(list[2].ok)
      assert.is_true(list[3].skipped)
      assert.is_true(list[3].ok)
      assert.equal(list[2], checks.find(list, "max_gc"))
      assert.is_nil(checks.find(list, "nothing"))
    end)

    it("counts the checks that ran, and says so in one sentence", function()
      local list = sample_list()
      assert.same({ pass = 1, warn = 0, fail = 1, skipped = 1, run = 2, total = 3 }, checks.counts(list))
      assert.equal("1 of 2 checks failed: max_gc", checks.summary(list))
      assert.is_false(checks.ok(list))
      list[2] = checks.new { name = "max_gc", verdict = "warn", advice = "much GC" }
      assert.equal("1 check passed, 1 warning: max_gc", checks.summary(list))
      assert.is_true(checks.ok(list))
      assert.equal("0 checks passed", checks.summary({}))
    end)

    it("raises on misuse: an unknown field, no advice, another verdict", function()
      assert.has_error(function() checks.new { name = "x", verdict = "pass", advice = "a", mesage = "b" } end,
        "bad argument #1 to 'new' (unknown option 'mesage')")
      assert.has_error(function() checks.new { name = "x", verdict = "pass" } end,
        "bad argument #1 to 'new' (a check needs a name and advice)")
      assert.has_error(function() checks.new { name = "x", verdict = "ok", advice = "a" } end,
        "bad argument #1 to 'new' (verdict must be pass, warn, fail or skipped, got ok)")
    end)
  end)

  describe("render", function()
    it("writes text: a mark per check, evidence below, the counts last", function()
      local text = checks.render(sample_list(), "text", { numbered = true })
      assert.equal("  \u{2713} 1. min_samples: 3561 samples\n"
        .. "  \u{2717} 2. max_gc: 42% of samples are garbage collection\n"
        .. "       runtime.gcDrain 30%\n"
        .. "  - 3. min_duration: the profile records no duration; not checked\n"
        .. "1 failed, 0 warnings, 1 passed, 1 skipped\n", text)
    end)

    it("escapes control characters from outside text in the terminal", function()
      local text = checks.render({ checks.new { name = "x", verdict = "pass", advice = "a\27[31mb" } }, "text")
      assert.matches("a\\x1b[31mb", text, 1, true)
    end)

    it("writes markdown: the summary, then a table with units and bounds", function()
      local text = checks.render(sample_list(), "markdown")
      assert.matches("^1 of 2 checks failed: max%\\_gc%.\n\n| check | result | figure | threshold | advice |\n", text)
      assert.matches("\n| `min_samples` | pass | `3561` | `>= 1000` | 3561 samples |\n", text, 1, true)
      assert.matches("\n| `max_gc` | **FAIL** | `42.00%` | `<= 30.00%` |", text, 1, true)
      assert.matches("\n| `min_duration` | skipped | `0.0 s` | `>= 10.0 s` |", text, 1, true)
      local evil = checks.render({ checks.new { name = "x|y", verdict = "pass", advice = "[a](http://e) @team" } }, "markdown")
      assert.matches("| `x\\|y` |", evil, 1, true)
      assert.matches("\\[a\\](http://e) @\u{2060}team |", evil, 1, true)
    end)

    it("writes JSON with verdicts, figures, thresholds, counts and the summary", function()
      local doc = cjson.decode(checks.render(sample_list(), "json"))
      assert.is_false(doc.ok)
      assert.equal("1 of 2 checks failed: max_gc", doc.summary)
      assert.same({ pass = 1, warn = 0, fail = 1, skipped = 1 }, doc.counts)
      assert.same({ name = "max_gc", verdict = "fail", figure = 0.42, threshold = 0.3,
        advice = "42% of samples are garbage collection", evidence = { "runtime.gcDrain 30%" } }, doc.checks[2])
      assert.matches('"checks":[]', checks.render({}, "json"), 1, true)
      assert.has_error(function() checks.render({}, "html") end,
        "bad argument #2 to 'render' (format must be text, markdown or json, got html)")
      assert.has_error(function() checks.render({}, "text", { numbred = true }) end,
        "bad argument #3 to 'render' (unknown option 'numbred')")
    end)
  end)

  it("is the form of pgo.audit.health's checks", function()
    local p = assert(require("pgo").load(helpers.fixture("profiles/shop.steady.pgo")))
    local h = audit.health(p, { policy = "fleet" })
    assert.equal("1 of 13 checks failed: min_samples", checks.summary(h.checks))
    assert.equal("fail", checks.find(h.checks, "min_samples").verdict)
    assert.equal(">= 30000", checks.threshold_text(checks.find(h.checks, "min_samples")))
  end)
end)
