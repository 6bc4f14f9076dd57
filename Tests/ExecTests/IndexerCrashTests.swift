import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// Failpoint crash tests of flush and compaction: a crash at every durability step of an
/// indexer pass (segment written, deletion vectors written, manifest not yet committed, hint
/// not yet moved…) loses nothing: a restarted node answers exactly as before, and its indexer
/// converges.
@Suite("indexer crashes at every step")
struct IndexerCrashTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    static let writes = [
        #"{"upsert_rows": [{"id": 1, "vector": [1, 0], "text": "rock music"}, {"id": 2, "vector": [0, 1], "text": "quiet jazz"}, {"id": 3, "vector": [1, 1], "text": "rock"}], "schema": {"text": {"type": "string", "full_text_search": true}}}"#,
        #"{"upsert_rows": [{"id": 4, "vector": [0.5, 0.2], "text": "loud rock music"}]}"#,
    ]
    static let later = [
        #"{"upsert_rows": [{"id": 2, "vector": [0.1, 0.9], "text": "jazz again"}, {"id": 5, "vector": [0.3, 0.3], "text": "music"}], "deletes": [1]}"#,
        #"{"patch_rows": [{"id": 3, "text": "rock rock"}]}"#,
    ]
    static let queries = [
        #"{"top_k": 100, "include_attributes": true}"#,
        #"{"rank_by": ["text", "BM25", "rock music"], "top_k": 10}"#,
        #"{"rank_by": ["vector", "kNN", [1, 0.2]], "top_k": 10}"#,
    ]

    static func answers(_ engine: Engine) async throws -> [String] {
        var out: [String] = []
        for query in queries {
            var response = try await engine.query("ns", body: try json(query)).objectValue ?? JSONObject()
            response["performance"] = nil
            response["billing"] = nil
            out.append(String(decoding: JSONWriter.write(.object(response)), as: UTF8.self))
        }
        return out
    }

    /// The namespace as a crash test starts it: one segment (so the pass also writes a
    /// deletion vector and compacts with fan-in 2) and a tail with overwrites and a delete.
    static func prepare(_ store: any ObjectStore, options: EngineOptions) async throws -> Engine {
        let engine = Engine(store: store, options: options)
        for body in writes { _ = try await engine.write("ns", body: try json(body)) }
        #expect(try await engine.indexNow("ns"))
        for body in later { _ = try await engine.write("ns", body: try json(body)) }
        return engine
    }

    @Test func crashAtEveryStepOfFlushAndCompaction() async throws {
        var options = EngineOptions()
        options.indexer.compactionFanIn = 2
        let expected = try await Self.answers(try await Self.prepare(MemoryStore(), options: EngineOptions()))
        var step = 1
        var crashedPasses = 0
        while step < 500 {
            let disk = CrashSimulatingStore()
            let engine = try await Self.prepare(disk.open(), options: options)
            let before = disk.crashCount
            disk.crash(afterSteps: step)
            _ = try? await engine.indexNow("ns")
            guard disk.crashCount > before else { break }  // the pass finished before the armed step: all covered
            crashedPasses += 1
            let restarted = Engine(store: disk.open(), options: options)
            #expect(try await Self.answers(restarted) == expected, "crash at step \(step)")
            while try await restarted.indexNow("ns") {}
            let manifest = try await restarted.snapshot("ns").manifest
            #expect(manifest.wal.isEmpty && manifest.segmentList.count == 1, "the indexer converges after a crash at step \(step)")
            #expect(try await Self.answers(restarted) == expected, "after converging, crash at step \(step)")
            step += 1
        }
        #expect(crashedPasses > 10, "the pass has many durability steps; each was crashed once")
    }
}
