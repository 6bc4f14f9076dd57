import Exec
import Log
import Planner
import Store
import Testing

/// History lists the versions of the current incarnation, and `as_of` reads any of them.
@Suite struct HistoryTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    static func ids(_ response: JSONValue) -> [Int64] {
        (response.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
    }

    @Test func asOfReadsOldVersionsAndHistoryDescribesThem() async throws {
        let engine = Engine(store: MemoryStore())
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 1, "n": 1}, {"id": 2, "n": 1}]}"#))
        _ = try await engine.write("ns", body: try Self.json(#"{"schema": {"tag": "string"}}"#))
        _ = try await engine.write("ns", body: try Self.json(#"{"deletes": [1], "upsert_rows": [{"id": 3, "n": 2}]}"#))

        #expect(Self.ids(try await engine.query("ns", body: try Self.json("{}"))) == [2, 3])
        #expect(Self.ids(try await engine.query("ns", body: try Self.json(#"{"as_of": 1}"#))) == [1, 2])
        #expect(Self.ids(try await engine.query("ns", body: try Self.json(#"{"as_of": 2}"#))) == [1, 2])
        let missing = await #expect(throws: LagoonError.self) { try await engine.query("ns", body: try Self.json(#"{"as_of": 9}"#)) }
        #expect(missing?.code == .notFound)

        let history = try await engine.history("ns", limit: 10)
        let versions = history.objectValue?["versions"]?.arrayValue ?? []
        #expect(versions.compactMap { $0.objectValue?["version"]?.intValue } == [3, 2, 1])
        #expect(versions.compactMap { $0.objectValue?["change"]?.stringValue } == ["wal entry 2: 2 events", "config", "wal entry 1: 2 events"])
        #expect(versions.compactMap { $0.objectValue?["row_count"]?.intValue } == [2, 2, 2])
    }

    @Test func historyStopsAtAnEarlierIncarnation() async throws {
        let engine = Engine(store: MemoryStore())
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 1}]}"#))
        try await engine.deleteNamespace("ns")
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 5}]}"#))
        let versions = try await engine.history("ns", limit: 10).objectValue?["versions"]?.arrayValue ?? []
        #expect(versions.compactMap { $0.objectValue?["version"]?.intValue } == [3])
        #expect(versions.first?.objectValue?["change"]?.stringValue == "wal entry 2: 1 events")
        // The deleted incarnation's versions cannot be read back (their WAL objects are gone).
        let gone = await #expect(throws: LagoonError.self) { try await engine.query("ns", body: try Self.json(#"{"as_of": 1}"#)) }
        #expect(gone?.code == .notFound)
    }
}
