import Foundation
import Exec
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// Differential tests: one engine folds its log into segments (flushes and compactions at
/// random points), another never indexes and answers every query from the full-replay
/// projection (the oracle). Every query must answer the same on both.
@Suite("segments vs the full-replay projection")
struct SegmentDifferentialTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    static let words = ["rock", "music", "stone", "river", "blue", "jazz", "quiet", "loud", "song", "paper", "glass", "tree"]
    static let kinds = ["noun", "verb", "adj"]

    /// A random write body touching ids 0..<60 (upserts, patches, deletes, delete by filter).
    static func randomWrite(_ rng: inout SeededRandom) -> String {
        func text() -> String { (0..<Int.random(in: 1...6, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") }
        func vector() -> String { "[" + (0..<4).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]" }
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5:
            let rows = (0..<Int.random(in: 1...8, using: &rng)).map { _ -> String in
                let id = Int.random(in: 0..<60, using: &rng)
                let vectorPart = Int.random(in: 0..<5, using: &rng) == 0 ? "" : #", "vector": \#(vector())"#
                let kind = Int.random(in: 0..<6, using: &rng) == 0 ? "" : #", "kind": "\#(kinds.randomElement(using: &rng)!)""#
                return #"{"id": \#(id)\#(vectorPart), "text": "\#(text())", "n": \#(Int.random(in: 0..<20, using: &rng))\#(kind)}"#
            }
            return #"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "cosine_distance", "schema": {"text": {"type": "string", "full_text_search": true}}}"#
        case 5..<7:
            let rows = (0..<Int.random(in: 1...5, using: &rng)).map { _ in
                #"{"id": \#(Int.random(in: 0..<60, using: &rng)), "n": \#(Int.random(in: 0..<20, using: &rng))}"#
            }
            return #"{"patch_rows": [\#(rows.joined(separator: ","))]}"#
        case 7..<9:
            let ids = (0..<Int.random(in: 1...4, using: &rng)).map { _ in String(Int.random(in: 0..<60, using: &rng)) }
            return #"{"deletes": [\#(ids.joined(separator: ","))]}"#
        default:
            return #"{"delete_by_filter": ["n", "Eq", \#(Int.random(in: 0..<20, using: &rng))]}"#
        }
    }

    static func queries(_ rng: inout SeededRandom) -> [String] {
        let q = "[" + (0..<4).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]"
        let word = words.randomElement(using: &rng)!, other = words.randomElement(using: &rng)!
        let kind = kinds.randomElement(using: &rng)!
        let n = Int.random(in: 0..<20, using: &rng)
        return [
            #"{"top_k": 100, "include_attributes": true}"#,
            #"{"rank_by": ["vector", "ANN", \#(q)], "top_k": 7, "include_attributes": ["n", "kind"]}"#,
            #"{"rank_by": ["vector", "kNN", \#(q)], "top_k": 5, "filters": ["kind", "Eq", "\#(kind)"]}"#,
            #"{"rank_by": ["text", "BM25", "\#(word) \#(other)"], "top_k": 10, "include_attributes": ["text"]}"#,
            #"{"rank_by": ["Sum", [["text", "BM25", "\#(word)"], ["text", "BM25", "\#(other)"]]], "top_k": 8}"#,
            #"{"rank_by": ["n", "desc"], "top_k": 12, "filters": ["Or", [["n", "Lt", \#(n)], ["kind", "In", ["noun", "adj"]]]]}"#,
            #"{"rank_by": ["text", "BM25", "\#(word)"], "top_k": 10, "filters": ["kind", "NotEq", "\#(kind)"]}"#,
            #"{"top_k": 50, "filters": ["text", "Glob", "*\#(word)*"], "include_attributes": ["n"]}"#,
        ]
    }

    /// Rows as comparable (id, score, attributes) triples; rows whose score ties the last
    /// returned score are compared as a set (ties may legitimately order differently).
    static func normalized(_ response: JSONValue) -> (ranked: [String], boundary: Set<String>) {
        let rows = response.objectValue?["rows"]?.arrayValue ?? []
        func score(_ row: JSONValue) -> Double? {
            guard let value = row.objectValue?["$dist"] else { return nil }
            return value.doubleValue ?? value.intValue.map(Double.init)
        }
        func key(_ row: JSONValue) -> String {
            var object = row.objectValue ?? JSONObject()
            let s = score(row)
            object["$dist"] = nil
            return String(decoding: JSONWriter.write(.object(object)), as: UTF8.self) + (s.map { String(format: "|%.4f", $0) } ?? "")
        }
        guard let last = rows.last, let lastScore = score(last) else { return (rows.map(key), []) }
        let ranked = rows.filter { abs((score($0) ?? 0) - lastScore) > 1e-4 }.map(key)
        let boundary = Set(rows.filter { abs((score($0) ?? 0) - lastScore) <= 1e-4 }.map { row -> String in
            String(format: "%.4f", score(row) ?? 0)
        })
        return (ranked, boundary)
    }

    @Test("random writes, flushes and compactions answer like the full replay", arguments: [1, 2, 3] as [UInt64])
    func differential(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        var options = EngineOptions()
        options.indexer.compactionFanIn = 3
        let indexed = Engine(store: MemoryStore(), options: options)
        let oracle = Engine(store: MemoryStore())
        var flushes = 0
        for step in 0..<60 {
            let body = try Self.json(Self.randomWrite(&rng))
            _ = try await indexed.write("ns", body: body)
            _ = try await oracle.write("ns", body: body)
            if Int.random(in: 0..<4, using: &rng) == 0 {
                if try await indexed.indexNow("ns") { flushes += 1 }
            }
            guard step % 6 == 5 else { continue }
            for query in Self.queries(&rng) {
                let a = Self.normalized(try await indexed.query("ns", body: try Self.json(query)))
                let b = Self.normalized(try await oracle.query("ns", body: try Self.json(query)))
                #expect(a.ranked == b.ranked, "seed \(seed) step \(step): \(query)")
                #expect(a.boundary == b.boundary, "seed \(seed) step \(step): \(query)")
            }
        }
        #expect(flushes > 3, "the test must actually build segments")
        let manifest = try await indexed.snapshot("ns").manifest
        #expect(manifest.segmentList.count < options.indexer.compactionFanIn, "compaction keeps the segment count bounded")
        #expect(manifest.rowCount == (try await oracle.snapshot("ns").manifest.rowCount))
    }

    @Test("a restarted engine reads segments and the tail without the indexed WAL entries")
    func coldStartReadsSegments() async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 1, "text": "rock music", "vector": [1, 0]}, {"id": 2, "text": "jazz", "vector": [0, 1]}], "schema": {"text": {"type": "string", "full_text_search": true}}}"#))
        #expect(try await engine.indexNow("ns"))
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 3, "text": "rock", "vector": [1, 1]}], "deletes": [2]}"#))
        let manifest = try await engine.snapshot("ns").manifest
        #expect(manifest.segmentList.count == 1)
        #expect(manifest.wal.count == 1, "the manifest lists only the unindexed tail")
        // Indexed WAL entries are not needed any more: a new node must not read them.
        for key in try await store.listAll(prefix: "ns/ns/wal/").map(\.key) where !manifest.wal.contains(where: { $0.key == key }) {
            try await store.delete(key)
        }
        let restarted = Engine(store: store)
        let rows = try await restarted.query("ns", body: try Self.json(#"{"rank_by": ["text", "BM25", "rock"], "top_k": 10}"#))
        let ids = (rows.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
        #expect(Set(ids) == [1, 3])
        let all = try await restarted.query("ns", body: try Self.json(#"{"top_k": 10}"#))
        #expect((all.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue } == [1, 3])
    }
}
