import Log
import Planner
import Testing

/// Long arrays of fractional numbers parse into the compact `.doubles` form (8 bytes per
/// number instead of a 24-byte value), and everything reading them sees the same values.
@Suite struct CompactNumberArrayTests {
    static let vectorText = "[" + (0..<384).map { String(Double($0) / 100 + 0.005) }.joined(separator: ",") + "]"

    @Test func vectorsParseCompactlyAndDecodeTheSame() throws {
        let parsed = try JSONParser.parse(Array(Self.vectorText.utf8))
        guard case .doubles(let values) = parsed else {
            Issue.record("a 384-number array should parse compactly, got \(parsed.kindName)")
            return
        }
        #expect(values.count == 384 && values[1] == 0.015)
        #expect(parsed == .array(values.map { .double($0) }), "equal to the tree form")
        let vector = try VectorDecoding.decode(parsed, at: JSONPath("v"), dimension: nil)
        #expect(vector == values.map { Float($0) })
        #expect(String(decoding: JSONWriter.write(parsed), as: UTF8.self) == String(decoding: JSONWriter.write(.array(values.map { .double($0) })), as: UTF8.self))
    }

    @Test func shortMixedOrIntegerArraysStayTrees() throws {
        for text in ["[0.5, 1.5]", "[" + (0..<20).map(String.init).joined(separator: ",") + "]", "[1.5" + String(repeating: ", 2.5", count: 20) + ", 3]"] {
            let parsed = try JSONParser.parse(Array(text.utf8))
            if case .doubles = parsed { Issue.record("\(text) must keep its element kinds") }
        }
    }

    @Test func attributeArraysOfFloatsDecodeAsBefore() throws {
        let parsed = try JSONParser.parse(Array(Self.vectorText.utf8))
        let value = try AttributeValueDecoding.decode(parsed, at: JSONPath("a"))
        #expect(value == .array((0..<384).map { .float(Double($0) / 100 + 0.005) }))
        let nested = try JSONParser.parse(Array(("[" + Self.vectorText + "]").utf8))
        #expect(throws: (any Error).self) { _ = try AttributeValueDecoding.decode(nested, at: JSONPath("a")) }
    }
}
