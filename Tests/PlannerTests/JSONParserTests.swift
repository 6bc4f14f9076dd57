import LagoonTestSupport
import Planner
import Testing

@Suite("JSONParser and JSONWriter")
struct JSONParserTests {
    static func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    // MARK: Valid documents

    @Test("literals and whitespace")
    func literals() throws {
        #expect(try Self.parse("null") == .null)
        #expect(try Self.parse("true") == .bool(true))
        #expect(try Self.parse(" \t\r\nfalse \n") == .bool(false))
        #expect(try Self.parse("\"\"") == .string(""))
        #expect(try Self.parse("[]") == .array([]))
        #expect(try Self.parse("{ }") == .object(JSONObject()))
    }

    @Test("integers keep their exact value: int, uint above Int64.max, double beyond UInt64", arguments: [
        ("0", JSONValue.int(0)),
        ("-0", .int(0)),
        ("7", .int(7)),
        ("-42", .int(-42)),
        ("999999999999999999", .int(999_999_999_999_999_999)),
        ("-99999999999999999", .int(-99_999_999_999_999_999)),
        ("1000000000000000000", .int(1_000_000_000_000_000_000)),
        ("9223372036854775807", .int(Int64.max)),
        ("-9223372036854775808", .int(Int64.min)),
        ("9223372036854775808", .uint(9_223_372_036_854_775_808)),
        ("18446744073709551615", .uint(UInt64.max)),
        ("18446744073709551616", .double(18_446_744_073_709_551_616.0)),
        ("-9223372036854775809", .double(-9_223_372_036_854_775_809.0)),
    ])
    func integers(text: String, expected: JSONValue) throws {
        #expect(try Self.parse(text) == expected)
    }

    @Test("fractions and exponents are doubles", arguments: [
        ("1.5", 1.5), ("-0.25", -0.25), ("1e2", 100.0), ("1E2", 100.0), ("1.0", 1.0),
        ("2.5e-3", 0.0025), ("-1.5E+3", -1500.0), ("0.1", 0.1), ("123456789.123456789", 123_456_789.123456789),
        ("5e-324", Double.leastNonzeroMagnitude), ("1.7976931348623157e308", 1.7976931348623157e308),
    ])
    func doubles(text: String, expected: Double) throws {
        #expect(try Self.parse(text) == .double(expected))
    }

    @Test("an exponent beyond Double's range parses to infinity (decoders reject it later)")
    func hugeExponent() throws {
        #expect(try Self.parse("1e400") == .double(.infinity))
        #expect(try Self.parse("-1e400") == .double(-.infinity))
    }

    @Test("escapes", arguments: [
        (#""a\"b""#, "a\"b"),
        (#""back\\slash""#, "back\\slash"),
        (#""\/""#, "/"),
        (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"),
        (#""\u0000""#, "\u{0}"),
        (#""x\ud83d\ude00y""#, "x😀y"),
        (#""\uD834\uDD1E""#, "𝄞"),
        ("\"raw é 😀 UTF-8\"", "raw é 😀 UTF-8"),
        (#""prefix then escape \n""#, "prefix then escape \n"),
    ])
    func escapes(text: String, expected: String) throws {
        #expect(try Self.parse(text) == .string(expected))
    }

    @Test("objects keep key order; a repeated key keeps its first position and the last value")
    func objects() throws {
        let value = try Self.parse(#"{"b": 1, "a": [true, null], "c": {"d": "e"}, "b": 2}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a", "c"])
        #expect(object["b"] == .int(2))
        #expect(object["a"] == .array([.bool(true), .null]))
        #expect(object["c"]?.objectValue?["d"] == .string("e"))
        #expect(object["missing"] == nil)
    }

    @Test("JSONObject: overwrite keeps the position, removal keeps the order of the rest")
    func objectEditing() {
        var object = JSONObject([("a", .int(1)), ("b", .int(2)), ("c", .int(3))])
        object["b"] = .string("two")
        #expect(object.keys == ["a", "b", "c"])
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        #expect(object["c"] == .int(3))
        object["c"] = .null
        object["d"] = .bool(true)
        #expect(object.pairs.map(\.value) == [.string("two"), .null, .bool(true)])
        object["missing"] = nil
        #expect(object.count == 3)
        #expect(object == JSONObject([("b", .string("two")), ("c", .null), ("d", .bool(true))]))
        #expect(object != JSONObject([("c", .null), ("b", .string("two")), ("d", .bool(true))]), "order matters")
    }

    @Test("nesting up to maxDepth containers parses; one more fails without crashing")
    func depthLimit() throws {
        let depth = JSONParser.maxDepth
        let ok = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try Self.parse(ok)
        var levels = 0
        while case .array(let items) = value {
            levels += 1
            guard let first = items.first else { break }
            value = first
        }
        #expect(levels == depth)

        for count in [depth + 1, 10_000] {
            let deep = String(repeating: "[", count: count) + String(repeating: "]", count: count)
            let error = #expect(throws: JSONSyntaxError.self) { try Self.parse(deep) }
            #expect(error?.message.contains("nesting deeper than \(depth)") == true)
            #expect(error?.offset == depth)
        }
        let objects = String(repeating: #"{"a":"#, count: depth + 1) + "1" + String(repeating: "}", count: depth + 1)
        #expect(throws: JSONSyntaxError.self) { try Self.parse(objects) }
    }

    // MARK: Invalid documents

    @Test("malformed input is rejected with the byte offset where parsing stopped", arguments: [
        ("", 0, "unexpected end of input"),
        ("   ", 3, "unexpected end of input"),
        ("nul", 0, "unexpected end of input"),
        ("nulL", 0, "unexpected character"),
        ("True", 0, "unexpected character"),
        ("[1,]", 3, "unexpected character"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[1", 2, "expected ',' or ']'"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("{a:1}", 1, "expected a string key"),
        ("{\"a\":1,}", 7, "expected a string key"),
        ("{\"a\":1", 6, "expected ',' or '}'"),
        ("01", 1, "trailing characters"),
        ("1.", 2, "invalid number"),
        (".5", 0, "unexpected character"),
        ("-", 1, "invalid number"),
        ("+1", 0, "unexpected character"),
        ("1e", 2, "invalid number"),
        ("1e+", 3, "invalid number"),
        ("NaN", 0, "unexpected character"),
        ("Infinity", 0, "unexpected character"),
        ("[1] x", 4, "trailing characters"),
        ("1 2", 2, "trailing characters"),
        ("{\"a\":1}}", 7, "trailing characters"),
        ("\"abc", 4, "unterminated string"),
        ("\"a\\x\"", 4, "invalid escape"),
        ("\"\\u12\"", 3, "truncated \\u escape"),
        ("\"\\u12G4\"", 6, "invalid hex digit"),
        ("\"\\ud800\"", 7, "unpaired surrogate"),
        ("\"\\ud800x\"", 7, "unpaired surrogate"),
        ("\"\\ud800\\u0041\"", 13, "unpaired surrogate"),
        ("\"\\udc00\"", 7, "invalid \\u escape"),
        ("\"a\nb\"", 3, "control character in string"),
        ("\"tab\there\"", 5, "control character in string"),
    ])
    func malformed(text: String, offset: Int, message: String) {
        let error = #expect(throws: JSONSyntaxError.self) { try Self.parse(text) }
        #expect(error?.offset == offset)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
        #expect(error?.description.hasPrefix("invalid JSON at byte \(offset): ") == true)
    }

    /// The string scan skips eight plain bytes at a time: an escape, the closing quote or a
    /// control character at any offset of any word, and multi-byte UTF-8 beside them, must
    /// still be found exactly where the byte-by-byte scan would.
    @Test("strings: escapes, quotes and control characters at every offset of the word-at-a-time scan")
    func stringOffsets() throws {
        for length in 0..<40 {
            let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(ascii: "A") + UInt8($0 % 26))) })
            #expect(try Self.parse("\"\(plain)\"") == .string(plain))
            #expect(try Self.parse("[\"\(plain)\",\"é\(plain)€\"]") == .array([.string(plain), .string("é\(plain)€")]))
            for cut in 0...length {
                let head = String(plain.prefix(cut)), tail = String(plain.dropFirst(cut))
                #expect(try Self.parse("\"\(head)\\n\(tail)\"") == .string(head + "\n" + tail))
                #expect(try Self.parse("\"\(head)\\\"\(tail)\"") == .string(head + "\"" + tail))
                #expect(try Self.parse("\"\(head)\\u00e9\(tail)\"") == .string(head + "é" + tail))
                #expect(throws: JSONSyntaxError.self) { try Self.parse("\"\(head)\u{01}\(tail)\"") }
                #expect(throws: JSONSyntaxError.self) { try Self.parse("\"\(head)\t\(tail)\"") }
            }
            #expect(throws: JSONSyntaxError.self) { try Self.parse("\"\(plain)") }  // unterminated
        }
    }

    @Test("invalid UTF-8 and NUL bytes are rejected", arguments: [
        [0x22, 0xFF, 0x22] as [UInt8],
        [0x22, 0x61, 0xC3, 0x22],  // truncated two-byte sequence
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // an encoded surrogate
        [0x00],
        [0x31, 0x00],
        [0x22, 0x61, 0x00, 0x22],
    ])
    func invalidBytes(bytes: [UInt8]) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(bytes) }
    }

    // MARK: Writer

    @Test("writer output for each kind")
    func writerShapes() {
        let object = JSONObject([
            ("z", .null), ("b", .bool(false)), ("i", .int(-3)), ("u", .uint(UInt64.max)),
            ("d", .double(2.5)), ("whole", .double(3)), ("tiny", .double(1e-7)), ("inf", .double(.infinity)),
            ("s", .string("q\"\\\n\r\t\u{01}\u{1F}é")), ("a", .array([.int(1), .array([])])),
        ])
        let text = jsonText(.object(object))
        #expect(text == #"{"z":null,"b":false,"i":-3,"u":18446744073709551615,"d":2.5,"whole":3,"tiny":1e-07,"inf":null,"#
            + #""s":"q\"\\\n\r\t\u0001\u001fé","a":[1,[]]}"#)
    }

    /// What a value reads back as: integral doubles below 1e15 are written as integers.
    static func normalized(_ value: JSONValue) -> JSONValue {
        switch value {
        case .double(let v) where v == v.rounded() && abs(v) < 1e15: return .int(Int64(v))
        case .array(let items): return .array(items.map(normalized))
        case .object(let o): return .object(JSONObject(o.pairs.map { ($0.key, normalized($0.value)) }))
        default: return value
        }
    }

    static func randomString(_ rng: inout SeededRandom) -> String {
        let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{7}", "\u{1F}", "\u{7F}",
                                      "é", "€", "\u{2028}", "😀", "𝄞", "\u{FFFF}"]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...8, using: &rng) { s.append(rng.pick(pool)) }
        return String(s)
    }

    static func randomValue(_ rng: inout SeededRandom, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &rng) {
        case 0: return .null
        case 1: return .bool(rng.chance(0.5))
        case 2: return .int(Int64(bitPattern: rng.next()) >> Int64.random(in: 0...63, using: &rng))
        case 3: return .uint(UInt64(Int64.max) + 1 + rng.next() % UInt64(Int64.max))
        case 4:
            let v = Double(bitPattern: rng.next())
            return .double(v.isFinite ? v : Double(Int.random(in: -1000...1000, using: &rng)) / 8)
        case 5: return .string(randomString(&rng))
        case 6: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for _ in 0..<Int.random(in: 0...4, using: &rng) { o[randomString(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    @Test("write then parse gives the same value (integral doubles come back as integers)", arguments: 0..<20)
    func roundTrip(seed: UInt64) throws {
        var rng = SeededRandom(seed: 0xC0FFEE &+ seed)
        for _ in 0..<50 {
            let value = Self.randomValue(&rng, depth: 0)
            let bytes = JSONWriter.write(value)
            let parsed = try JSONParser.parse(bytes)
            #expect(parsed == Self.normalized(value), "\(jsonText(value))")
            #expect(JSONWriter.write(parsed) == bytes)
        }
    }

    @Test("doubles survive a round trip bit for bit")
    func doubleRoundTrip() throws {
        var rng = SeededRandom(seed: 99)
        for _ in 0..<2000 {
            let v = Double(bitPattern: rng.next())
            guard v.isFinite, v != v.rounded() || abs(v) >= 1e15 else { continue }
            let parsed = try JSONParser.parse(JSONWriter.write(.double(v)))
            #expect(parsed == .double(v), "\(v)")
        }
    }
}
