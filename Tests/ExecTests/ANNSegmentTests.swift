import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Segments
import Store
import Testing

/// ANN through the engine: segments with an IVF index, a tail scanned exactly, deletes and
/// overwrites in between, filters of every selectivity — against exact kNN as the oracle.
@Suite("ANN over segments vs exact kNN")
struct ANNSegmentTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }
    static let dimension = 16

    static func vector(_ rng: inout SeededRandom) -> String {
        "[" + (0..<dimension).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]"
    }

    /// Writes `count` documents with ids from `first`, `bucket` = id % 100 (for filters).
    static func write(_ engine: Engine, first: Int, count: Int, _ rng: inout SeededRandom) async throws {
        for start in stride(from: first, to: first + count, by: 500) {
            let rows = (start..<min(first + count, start + 500)).map { id in
                #"{"id": \#(id), "vector": \#(vector(&rng)), "bucket": \#(id % 100)}"#
            }
            _ = try await engine.write("ns", body: try json(#"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "cosine_distance"}"#))
        }
    }

    static func ids(_ response: JSONValue) -> [Int64] {
        (response.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
    }

    @Test func recallAndFiltersAcrossSegmentsAndTail() async throws {
        var rng = SeededRandom(seed: 11)
        let engine = Engine(store: MemoryStore())
        try await Self.write(engine, first: 0, count: 2500, &rng)
        #expect(try await engine.indexNow("ns"))
        try await Self.write(engine, first: 2500, count: 1500, &rng)
        _ = try await engine.write("ns", body: try Self.json(#"{"deletes": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}"#))
        #expect(try await engine.indexNow("ns"))
        try await Self.write(engine, first: 100, count: 300, &rng)   // overwrites rows of the first segment, left in the tail
        let manifest = try await engine.snapshot("ns").manifest
        #expect(!manifest.segmentList.isEmpty && manifest.wal.count == 1, "segments hold the first writes; the overwrites stay in the tail")

        let explain = try await engine.explain("ns", body: try Self.json(#"{"rank_by": ["vector", "ANN", \#(Self.vector(&rng))], "top_k": 10}"#))
        let planText = explain.objectValue?["plan_text"]?.stringValue ?? ""
        #expect(planText.contains("ANN metric=cosine_distance dims=16 strategy=ivf"), "\(planText)")

        for filter in ["", #", "filters": ["bucket", "Eq", 7]"#, #", "filters": ["bucket", "Lt", 10]"#, #", "filters": ["bucket", "Lt", 50]"#] {
            var hits = 0, total = 0
            for _ in 0..<20 {
                let q = Self.vector(&rng)
                let ann = Self.ids(try await engine.query("ns", body: try Self.json(#"{"rank_by": ["vector", "ANN", \#(q)], "top_k": 10\#(filter)}"#)))
                let exact = Self.ids(try await engine.query("ns", body: try Self.json(#"{"rank_by": ["vector", "kNN", \#(q)], "top_k": 10\#(filter)}"#)))
                #expect(ann.count == exact.count, "ANN returns k whenever k match (filter \(filter))")
                #expect(ann.allSatisfy { !(1...10).contains($0) }, "deleted rows never come back")
                hits += Set(ann).intersection(exact).count
                total += exact.count
            }
            #expect(Double(hits) / Double(total) >= 0.9, "recall@10 \(Double(hits) / Double(total)) with filter \(filter)")
        }
        let analyzed = try await engine.explain("ns", body: try Self.json(#"{"rank_by": ["vector", "ANN", \#(Self.vector(&rng))], "top_k": 10, "filters": ["bucket", "Eq", 3], "analyze": true}"#))
        let analyzedText = analyzed.objectValue?["plan_text"]?.stringValue ?? ""
        #expect(analyzedText.contains("exact over"), "a 1% filter scans its rows exactly: \(analyzedText)")
    }

    @Test func fewVectorsArePendingAndScannedExactly() async throws {
        var rng = SeededRandom(seed: 12)
        let engine = Engine(store: MemoryStore())
        try await Self.write(engine, first: 0, count: 50, &rng)
        #expect(try await engine.indexNow("ns"))
        let explain = try await engine.explain("ns", body: try Self.json(#"{"rank_by": ["vector", "ANN", \#(Self.vector(&rng))], "top_k": 10}"#))
        let text = explain.objectValue?["plan_text"]?.stringValue ?? ""
        #expect(text.contains("ExactKNN") && text.contains("ann_fallback"), "\(text)")
        let q = Self.vector(&rng)
        let ann = Self.ids(try await engine.query("ns", body: try Self.json(#"{"rank_by": ["vector", "ANN", \#(q)], "top_k": 10}"#)))
        let exact = Self.ids(try await engine.query("ns", body: try Self.json(#"{"rank_by": ["vector", "kNN", \#(q)], "top_k": 10}"#)))
        #expect(ann == exact)
    }
}

@Suite struct ResidentStateTests {
    @Test func queriesForMissingNamespacesLeaveNoState() async throws {
        let engine = Engine(store: MemoryStore())
        for i in 0..<50 {
            await #expect(throws: LagoonError.self) { _ = try await engine.query("missing-\(i)", body: .object(JSONObject())) }
        }
        #expect(engine.residentNamespaces == 0)
    }
}

@Suite struct SparseTailTests {
    @Test("one row with many attributes does not make later rows pay for them")
    func wideRowThenNarrowRows() async throws {
        let engine = Engine(store: MemoryStore())
        let wide = (0..<2000).map { #""a\#($0)": \#($0)"# }.joined(separator: ", ")
        _ = try await engine.write("ns", body: try JSONParser.parse(Array(#"{"upsert_rows": [{"id": 0, \#(wide)}]}"#.utf8)))
        for i in 1...20 {
            _ = try await engine.write("ns", body: try JSONParser.parse(Array(#"{"upsert_rows": [{"id": \#(i), "b": \#(i)}]}"#.utf8)))
        }
        let tail = try await engine.snapshot("ns").projection
        #expect(tail.columns["a7"]?.count == 1, "only the row that has a7 stores it")
        #expect(tail.columns["b"]?.count == 20)
        #expect(tail.value("a7", row: 0) == .int(7) && tail.value("a7", row: 5) == .null)
        let rows = try await engine.query("ns", body: try JSONParser.parse(Array(#"{"filters": ["a1999", "Eq", 1999], "top_k": 5}"#.utf8)))
        #expect(rows.objectValue?["rows"]?.arrayValue?.count == 1)
    }
}

@Suite struct RecallEndpointTests {
    @Test func nonIntegerParametersAre400() async throws {
        let engine = Engine(store: MemoryStore())
        _ = try await engine.write("ns", body: try JSONParser.parse(Array(#"{"upsert_rows": [{"id": 1, "vector": [1, 0]}]}"#.utf8)))
        for body in [#"{"num": "5"}"#, #"{"top_k": 2.5}"#] {
            let error = await #expect(throws: LagoonError.self) { _ = try await engine.recall("ns", body: try JSONParser.parse(Array(body.utf8))) }
            #expect(error?.code == .badRequest, "\(body)")
        }
        let fine = try await engine.recall("ns", body: try JSONParser.parse(Array(#"{"num": 3, "top_k": 1}"#.utf8)))
        #expect(fine.objectValue?["avg_recall"]?.doubleValue == 1)
    }
}

@Suite struct SparseSegmentColumnTests {
    @Test func filtersOnARareAttributeAnswerLikeTheTail() async throws {
        let indexed = Engine(store: MemoryStore()), oracle = Engine(store: MemoryStore())
        let rows = (0..<200).map { i in i % 50 == 7 ? #"{"id": \#(i), "rare": "x\#(i)", "n": \#(i)}"# : #"{"id": \#(i), "n": \#(i)}"# }
        let body = try JSONParser.parse(Array(#"{"upsert_rows": [\#(rows.joined(separator: ","))]}"#.utf8))
        _ = try await indexed.write("ns", body: body)
        _ = try await oracle.write("ns", body: body)
        #expect(try await indexed.indexNow("ns"))
        for filter in [#"["rare", "Eq", "x57"]"#, #"["rare", "NotEq", "x57"]"#, #"["rare", "Eq", null]"#, #"["rare", "Glob", "x1*"]"#] {
            let query = try JSONParser.parse(Array(#"{"top_k": 300, "filters": \#(filter), "include_attributes": ["rare"]}"#.utf8))
            let a = try await indexed.query("ns", body: query).objectValue?["rows"]
            let b = try await oracle.query("ns", body: query).objectValue?["rows"]
            #expect(a == b, "\(filter)")
        }
    }
}
