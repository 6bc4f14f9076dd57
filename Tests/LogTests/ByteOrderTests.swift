import Foundation
import Log
import Testing

/// Ids and string values compare and hash by their UTF-8 bytes, never by Unicode
/// canonical equivalence (Specs/query/semantics.md §1).
@Suite("Byte-wise strings, ids and numbers")
struct ByteOrderTests {
    static let composed = "\u{e9}"  // é as one scalar
    static let decomposed = "e\u{301}"  // e + combining acute: canonically equivalent, other bytes

    @Test("canonically-equivalent string ids are different ids")
    func stringIDs() {
        #expect(Self.composed == Self.decomposed, "Swift String equality is canonical equivalence")
        let a = DocumentID.string(Self.composed), b = DocumentID.string(Self.decomposed)
        #expect(a != b)
        #expect(Set([a, b]).count == 2)
        #expect([a: 1, b: 2].count == 2)
        // Byte order: "e" (0x65) < "é" (0xC3 0xA9).
        #expect(b < a && !(a < b))
    }

    @Test("string ids order by unsigned bytes, not by Swift's string order")
    func stringIDOrder() {
        let ids = ["b", "a", "\u{e9}", "Z", "e\u{301}", "ab", "", "\u{10000}", "\u{ffff}"].map { DocumentID.string($0) }
        let bytes = ids.sorted().map { Array($0.description.utf8) }
        #expect(bytes == bytes.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test("UUID ids order by their bytes, which is the order of their text")
    func uuidOrder() {
        let uuids = (0..<200).map { _ in UUID() }
        let sorted = uuids.map(DocumentID.uuid).sorted()
        #expect(sorted.map(\.description) == uuids.map { $0.uuidString.lowercased() }.sorted())
        #expect(Set(sorted).count == 200)
    }

    @Test("string values are equal, hashed and ordered by bytes")
    func stringValues() {
        let a = AttributeValue.string(Self.composed), b = AttributeValue.string(Self.decomposed)
        #expect(a != b)
        #expect(Set([a, b, .array([a]), .array([b])]).count == 4)
        #expect(AttributeValue.compare(b, a) == -1)
        #expect(AttributeValue.compare(a, a) == 0)
        #expect(!AttributeValue.filterEquals(a, b))
    }

    @Test("integers and floats compare exactly", arguments: [
        (AttributeValue.int(9_007_199_254_740_993), AttributeValue.float(9_007_199_254_740_992), 1),  // 2^53 + 1 > 2^53
        (.int(Int64.max), .float(9_223_372_036_854_775_808), -1),  // 2^63 - 1 < 2^63
        (.int(Int64.min), .float(-9_223_372_036_854_775_808), 0),
        (.int(-1), .float(-0.5), -1), (.int(0), .float(-0.0), 0), (.int(3), .float(2.5), 1),
        (.uint(UInt64.max), .float(18_446_744_073_709_551_616), -1),  // 2^64 - 1 < 2^64
        (.uint(9_223_372_036_854_775_809), .float(9_223_372_036_854_775_808), 1),
        (.float(-1e300), .uint(0), -1), (.float(1e300), .int(5), 1),
    ])
    func exactNumbers(a: AttributeValue, b: AttributeValue, expected: Int) {
        #expect(AttributeValue.compare(a, b) == expected)
        #expect(AttributeValue.compare(b, a) == -expected)
        #expect(AttributeValue.filterEquals(a, b) == (expected == 0))
    }

    @Test("filter keys make by-value-equal numbers hash-equal, and nothing else")
    func filterKeys() {
        let values: [AttributeValue] = [
            .int(1), .float(1), .float(1.5), .uint(UInt64.max), .float(18_446_744_073_709_549_568), .uint(18_446_744_073_709_549_568),
            .int(0), .float(-0.0), .int(-3), .float(-3), .float(1e300), .string("1"), .bool(true), .null, .array([.int(1)]),
            .int(9_007_199_254_740_993), .float(9_007_199_254_740_992),
        ]
        for a in values {
            for b in values {
                #expect((a.filterKey == b.filterKey) == AttributeValue.filterEquals(a, b), "\(a) vs \(b)")
            }
        }
    }
}
