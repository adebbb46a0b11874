-- pgo.json: the library's one JSON encoder.
local json = require "pgo.json"

describe("pgo.json", function()
  describe("encode()", function()
    it("writes sorted keys, exact integers, shortest floats and null for NaN", function()
      assert.equal('{"a":1,"b":[1,2.5,null],"c":1700000000123456789,"d":0.1}',
        json.encode { d = 0.1, c = 1700000000123456789, b = { 1, 2.5, 0 / 0 }, a = 1 })
    end)

    it("does not escape / and escapes quotes, backslashes and controls", function()
      assert.equal('"a/b\\\\/c \\"q\\"\\n"', json.encode('a/b\\/c "q"\n'))
      assert.equal('{"url":"http://127.0.0.1:6060/debug/pprof/profile"}',
        json.encode { url = "http://127.0.0.1:6060/debug/pprof/profile" })
    end)

    it("writes [] for a marked empty table or a listed field, {} otherwise", function()
      assert.equal('{"e":{},"l":[],"rows":[]}',
        json.encode({ e = {}, l = json.array(), rows = {} }, { arrays = { rows = true } }))
    end)

    it("replaces each byte of invalid UTF-8 with U+FFFD", function()
      assert.equal('"a\u{FFFD}b\u{FFFD}"', json.encode("a\xffb\xc3"))
    end)

    it("writes json.null as null and takes a float formatter", function()
      assert.equal('[null,"x"]', json.encode { json.null, "x" })
      assert.equal('[1e+06]', json.encode({ 1e6 }, { float = function() return "1e+06" end }))
    end)

    it("raises on an unknown option", function()
      assert.has_error(function() json.encode({}, { pretty = true }) end,
        "bad argument #2 to 'encode' (unknown option 'pretty')")
    end)
  end)

  it("decode() returns the value, or nil, message, 'bad_json'", function()
    assert.same({ a = { 1, 2 } }, json.decode('{"a":[1,2]}'))
    local v, msg, code = json.decode("{nope")
    assert.is_nil(v)
    assert.matches("^not JSON", msg)
    assert.equal("bad_json", code)
  end)
end)
