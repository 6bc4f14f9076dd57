import Exec
import Log
import Planner
import Store
import Testing

/// The indexer pass prunes manifest versions beyond `retainVersions`; the namespace keeps
/// answering, writing and listing its (shortened) history.
@Suite struct RetentionTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func indexerPrunesOldVersionsAndWritesContinue() async throws {
        let store = MemoryStore()
        var options = EngineOptions()
        options.retainVersions = 4
        let engine = Engine(store: store, options: options)
        for i in 0..<20 { _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": \#(i), "n": \#(i)}]}"#)) }
        #expect(try await engine.indexNow("ns"))
        let kept = try await store.listAll(prefix: "ns/ns/manifest/").filter { !$0.key.hasSuffix("CURRENT") }
        #expect(kept.count == 4)
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 99}]}"#))
        let rows = try await Engine(store: store).query("ns", body: try Self.json(#"{"top_k": 100}"#))
        #expect(rows.objectValue?["rows"]?.arrayValue?.count == 21)
        let history = try await engine.history("ns", limit: 100).objectValue?["versions"]?.arrayValue ?? []
        #expect(history.count == 5, "history reaches back to the oldest retained version")
        await #expect(throws: LagoonError.self) { _ = try await engine.query("ns", body: try Self.json(#"{"as_of": 2}"#)) }
    }
}
