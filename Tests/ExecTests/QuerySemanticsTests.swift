import Exec
import Log
import Planner
import Store
import Testing

/// End-to-end checks of Specs/query/semantics.md decisions through the Engine.
@Suite struct QuerySemanticsTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    static func rows(_ response: JSONValue) -> [JSONObject] {
        (response.objectValue?["rows"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    static func ids(_ response: JSONValue) -> [Int64] {
        rows(response).compactMap { $0["id"]?.intValue }
    }

    @Test func inAndNotInWithThirtyThousandValues() async throws {
        let engine = Engine(store: MemoryStore())
        let docs = (0..<200).map { #"{"id": \#($0), "n": \#($0 * 7)}"# }.joined(separator: ",")
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [\#(docs)]}"#))
        // Odd values, some of them written as floats: numbers match by value.
        let values = (0..<30_000).map { $0 % 4 == 1 ? "\(2 * $0 + 1).0" : "\(2 * $0 + 1)" }.joined(separator: ",")
        let inResult = try await engine.query("ns", body: try Self.json(#"{"filters": ["n", "In", [\#(values)]], "top_k": 1000}"#))
        let expected = (0..<200).filter { ($0 * 7) % 2 == 1 }.map(Int64.init)
        #expect(Self.ids(inResult) == expected)
        let notIn = try await engine.query("ns", body: try Self.json(#"{"filters": ["n", "NotIn", [\#(values)]], "top_k": 1000}"#))
        #expect(Self.ids(notIn) == (0..<200).filter { ($0 * 7) % 2 == 0 }.map(Int64.init))
    }

    @Test func multiQueryHonoursTopLevelAsOfAndVectorEncoding() async throws {
        let engine = Engine(store: MemoryStore())
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 1, "vector": [1, 0]}]}"#))
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 2, "vector": [0, 1]}]}"#))
        let body = #"{"queries": [{"include_attributes": ["vector"]}], "as_of": 1, "vector_encoding": "base64"}"#
        let response = try await engine.multiQuery("ns", body: try Self.json(body))
        let results = response.objectValue?["results"]?.arrayValue ?? []
        let rows = results.first.map(Self.rows) ?? []
        #expect(rows.compactMap { $0["id"]?.intValue } == [1], "as_of 1 holds only the first document")
        #expect(rows.first?["vector"]?.stringValue != nil, "vector_encoding base64 answers vectors as strings")
        let refused = await #expect(throws: LagoonError.self) {
            try await engine.multiQuery("ns", body: try Self.json(#"{"queries": [{"as_of": 1}]}"#))
        }
        #expect(refused?.code == .badRequest)
    }

    @Test func canonicallyEquivalentIDsAreTwoDocuments() async throws {
        let engine = Engine(store: MemoryStore())
        let outcome = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": "\u00e9", "n": 1}, {"id": "e\u0301", "n": 2}]}"#))
        #expect(outcome.upserted.count == 2)
        let response = try await engine.query("ns", body: try Self.json(#"{"rank_by": ["id", "asc"], "include_attributes": ["n"]}"#))
        #expect(Self.rows(response).compactMap { $0["n"]?.intValue } == [2, 1], "byte order: \"e\" (0x65) before \"é\" (0xC3)")
        let eq = try await engine.query("ns", body: try Self.json(#"{"filters": ["id", "Eq", "e\u0301"], "include_attributes": ["n"]}"#))
        #expect(Self.rows(eq).compactMap { $0["n"]?.intValue } == [2])
    }

    @Test func datetimesCompareByInstant() async throws {
        let engine = Engine(store: MemoryStore())
        _ = try await engine.write("ns", body: try Self.json(#"""
            {"schema": {"when": "datetime"}, "upsert_rows": [
                {"id": 1, "when": "2024-01-01T10:00:00+02:00"}, {"id": 2, "when": "2024-01-01T09:00:00Z"},
                {"id": 3, "when": "2024-01-01T07:30:00-01:00"}]}
            """#))
        // Instants: 1 = 08:00Z, 2 = 09:00Z, 3 = 08:30Z.
        let ordered = try await engine.query("ns", body: try Self.json(#"{"rank_by": ["when", "asc"], "include_attributes": ["when"]}"#))
        #expect(Self.ids(ordered) == [1, 3, 2])
        #expect(Self.rows(ordered).first?["when"]?.stringValue == "2024-01-01T08:00:00.000Z")
        let after = try await engine.query("ns", body: try Self.json(#"{"filters": ["when", "Gt", "2024-01-01T10:15:00+02:00"]}"#))
        #expect(Self.ids(after) == [2, 3])
    }
}
