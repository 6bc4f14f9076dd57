import Foundation
import LagoonTestSupport
import Log
import Planner
import Testing

/// Write bodies that used to be accepted and then broke something later (issue 6).
@Suite("WriteRequestDecoder hardening")
struct WriteHardeningTests {
    static func decode(_ text: String, config: NamespaceConfig = WriteRequestDecoderTests.existing) throws -> WriteRequest {
        try WriteRequestDecoder.decode(parseJSON(text), config: config)
    }

    static func message(_ text: String, config: NamespaceConfig = WriteRequestDecoderTests.existing) -> String? {
        WriteRequestDecoderTests.message(text, config: config)
    }

    static func vectorBody(dimension: Int) -> String {
        #"{"upsert_rows": [{"id": 1, "vector": ["# + Array(repeating: "0.5", count: dimension).joined(separator: ",") + "]}]}"
    }

    @Test("the first vector of a namespace gets the same dimension cap as a declared type")
    func inferredDimensionCap() throws {
        let fresh = NamespaceConfig()
        let message = Self.message(Self.vectorBody(dimension: 4_000_000), config: fresh)
        #expect(message == "upsert_rows[0].vector: a vector has at most 16384 dimensions, got 4000000")
        #expect(Self.message(Self.vectorBody(dimension: 16_385), config: fresh)?.hasPrefix("upsert_rows[0].vector: a vector has at most 16384") == true)
        // The largest allowed dimension is inferred as before.
        let request = try Self.decode(Self.vectorBody(dimension: 16_384), config: fresh)
        #expect(request.config.dimension == 16_384)
        // Base64 vectors are capped before decoding too.
        let huge = Data(count: 4 * 16_385).base64EncodedString()
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "vector": "\#(huge)"}]}"#, config: fresh)?
            .hasPrefix("upsert_rows[0].vector: a vector has at most 16384 dimensions") == true)
        // The declared path keeps its own message.
        #expect(Self.message(#"{"schema": {"vector": "[20000]f32"}}"#, config: fresh)?.hasPrefix("schema.vector.type:") == true)
    }

    @Test("vector values must stay finite through squared norms and distances")
    func vectorMagnitude() {
        let fresh = NamespaceConfig()
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "vector": [3e38, 3e38]}]}"#, config: fresh)?
            .hasPrefix("upsert_rows[0].vector[0]: vector values must be at most") == true)
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "vector": [1e16, -1e16]}]}"#, config: fresh) == nil)
    }

    @Test("mixed-type arrays are rejected; numbers unify", arguments: [
        (#"{"upsert_rows": [{"id": 1, "mixed": ["a", 1, true, 2.5]}]}"#, "upsert_rows[0].mixed[1]: array elements must all have one type"),
        (#"{"upsert_rows": [{"id": 1, "mixed": [true, "a"]}]}"#, "upsert_rows[0].mixed[1]: array elements must all have one type"),
        (#"{"upsert_columns": {"id": [1], "mixed": [[1, null, "x"]]}}"#, "upsert_columns.mixed[0][2]: array elements must all have one type"),
        (#"{"upsert_rows": [{"id": 1, "n": [1, 18446744073709551615, -1]}]}"#, "upsert_rows[0].n[2]: expected uint, got int"),
    ])
    func mixedArrays(body: String, expected: String) {
        let message = Self.message(body, config: NamespaceConfig())
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("numbers in an array unify to one element type, and the first value is coerced to it")
    func numericArrays() throws {
        let request = try Self.decode(#"{"upsert_rows": [{"id": 1, "xs": [1, 2.5, null]}, {"id": 2, "xs": [3]}]}"#, config: NamespaceConfig())
        #expect(request.config.schema["xs"]?.type == "[]float")
        #expect(request.upserts[0].attributes["xs"] == .array([.float(1), .float(2.5), .null]))
        #expect(request.upserts[1].attributes["xs"] == .array([.float(3)]))
    }

    @Test("full-text k1 and b are bounded", arguments: [
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"k1": 1e400}}}}"#, "schema.t.full_text_search.k1: must be a number in [0, 100]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"k1": 101}}}}"#, "schema.t.full_text_search.k1: must be a number in [0, 100]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"k1": -1}}}}"#, "schema.t.full_text_search.k1: must be a number in [0, 100]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"b": 1.5}}}}"#, "schema.t.full_text_search.b: must be a number in [0, 1]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"b": -1e400}}}}"#, "schema.t.full_text_search.b: must be a number in [0, 1]"),
    ])
    func fullTextBounds(body: String, expected: String) {
        let message = Self.message(body, config: NamespaceConfig())
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("optional fields sent as null are absent")
    func nullsMeanAbsent() throws {
        let request = try Self.decode(#"""
            {"upsert_rows": [{"id": 1, "count": 2}], "deletes": null, "delete_by_filter": null, "schema": null,
             "distance_metric": null, "return_affected_ids": null, "upsert_condition": null, "patch_by_filter": null,
             "disable_backpressure": null}
            """#)
        #expect(request.upserts.count == 1)
        #expect(request.deleteByFilter == nil && request.upsertCondition == nil && request.patchByFilter == nil)
        #expect(!request.changesConfig)
        let schema = try Self.decode(#"{"schema": {"t": {"type": "string", "filterable": null, "full_text_search": {"k1": null, "b": 0.5}}, "u": null}}"#,
                                     config: NamespaceConfig())
        #expect(schema.config.schema["t"]?.fullTextSearch?.k1 == 1.2)
        #expect(schema.config.schema["t"]?.fullTextSearch?.b == 0.5)
        #expect(schema.config.schema["u"] == nil)
        // In a patch, null still removes the attribute.
        let patch = try Self.decode(#"{"patch_rows": [{"id": 1, "count": null}]}"#)
        #expect(patch.patches.first?.attributes["count"] == .null)
    }

    @Test("datetimes are stored in one canonical UTC form")
    func datetimesNormalised() throws {
        let request = try Self.decode(#"""
            {"upsert_rows": [{"id": 1, "when": "2024-03-01T01:30:00+02:00"}, {"id": 2, "when": "2024-02-29"},
                             {"id": 3, "when": "2024-02-29T23:59:59.123456Z"}]}
            """#)
        #expect(request.upserts.map { $0.attributes["when"] } == [
            .string("2024-02-29T23:30:00.000Z"), .string("2024-02-29T00:00:00.000Z"), .string("2024-02-29T23:59:59.123Z"),
        ])
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "when": "2024-02-30"}]}"#) == "upsert_rows[0].when: \"2024-02-30\" is not an RFC 3339 datetime")
    }

    @Test("datetime filter operands in write conditions are normalised")
    func datetimeConditions() throws {
        let request = try Self.decode(#"{"upsert_rows": [{"id": 1}], "upsert_condition": ["when", "Lt", "2024-03-01T01:30:00+02:00"]}"#)
        #expect(request.upsertCondition == .condition(attribute: "when", op: .lt, operand: .value(.string("2024-02-29T23:30:00.000Z"))))
        #expect(Self.message(#"{"delete_by_filter": ["when", "In", ["2024-01-01", "soon"]]}"#) ==
            "delete_by_filter[2][1]: \"soon\" is not an RFC 3339 datetime")
    }

    @Test("ids that differ only in Unicode normalisation are two documents")
    func byteDistinctIDs() throws {
        var strings = NamespaceConfig()
        strings.idKind = .string
        let request = try Self.decode(#"{"upsert_rows": [{"id": "\u00e9"}, {"id": "e\u0301"}]}"#, config: strings)
        #expect(request.upserts.count == 2)
        #expect(request.upserts[0].id != request.upserts[1].id)
        #expect(Set(request.upserts.map(\.id)).count == 2)
    }

    @Test("attribute names must be NFC, so canonically-equivalent names never both exist")
    func attributeNamesNFC() throws {
        let fresh = NamespaceConfig()
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "e\u0301": 1}]}"#, config: fresh)?
            .hasPrefix("upsert_rows[0].e\u{301}: attribute name \"e\u{301}\" is not in Unicode NFC") == true)
        // Both spellings in one row: the JSON object keeps both keys, and the decomposed one is refused.
        #expect(Self.message(#"{"upsert_rows": [{"id": 1, "\u00e9": 1, "e\u0301": 2}]}"#, config: fresh)?.contains("not in Unicode NFC") == true)
        #expect(Self.message(#"{"schema": {"e\u0301": "int"}}"#, config: fresh)?.hasPrefix("schema.e\u{301}: attribute name") == true)
        #expect(Self.message(#"{"delete_by_filter": ["e\u0301", "Eq", 1]}"#, config: fresh)?.hasPrefix("delete_by_filter[0]: attribute name") == true)
        let composed = try Self.decode(#"{"upsert_rows": [{"id": 1, "\u00e9": 1, "名前": "x"}]}"#, config: fresh)
        #expect(composed.config.schema["\u{e9}"]?.type == "int")
    }
}
