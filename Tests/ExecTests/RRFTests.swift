import Exec
import LagoonTestSupport
import Log
import Planner
import Testing

@Suite("reciprocal-rank fusion")
struct RRFTests {
    static func fused(_ lists: [[String]], k: Double = 60, weights: [Double]? = nil) -> [(String, Double)] {
        ReciprocalRankFusion.fuse(lists, rankConstant: k, weights: weights).map { ($0.id, $0.score) }
    }

    @Test("scores are Σ w / (k + rank) with ranks from 1")
    func handComputed() {
        let result = Self.fused([["a", "b", "c"], ["c", "a"]])
        // a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62.
        #expect(result.map(\.0) == ["a", "c", "b"])
        #expect(result[0].1 == 1.0 / 61 + 1.0 / 62)
        #expect(result[1].1 == 1.0 / 63 + 1.0 / 61)
        #expect(result[2].1 == 1.0 / 62)
    }

    @Test("weights scale each list's contribution")
    func weights() {
        let result = Self.fused([["a", "b"], ["b", "c"]], k: 10, weights: [2, 0.5])
        // a: 2/11, b: 2/12 + 0.5/11, c: 0.5/12.
        let expected: [(String, Double)] = [("b", 2.0 / 12 + 0.5 / 11), ("a", 2.0 / 11), ("c", 0.5 / 12)]
        #expect(result.map(\.0) == expected.map(\.0))
        for (r, e) in zip(result, expected) { #expect(abs(r.1 - e.1) < 1e-15) }

        // A zero weight leaves the list's ids in the result with no contribution.
        let muted = Self.fused([["a"], ["z", "a"]], k: 1, weights: [0, 1])
        #expect(muted.map(\.0) == ["z", "a"])
        #expect(muted.map(\.1) == [0.5, 1.0 / 3])
    }

    @Test("rank constant 0 gives 1/rank; ties keep first appearance")
    func tiesAndZeroConstant() {
        let result = Self.fused([["x", "y"], ["y", "x"], ["p"]], k: 0)
        // x and y both 1 + 1/2; p 1: the tie keeps x (seen first) before y.
        #expect(result.map(\.0) == ["x", "y", "p"])
        #expect(result.map(\.1) == [1.5, 1.5, 1])
        #expect(Self.fused([["q"], ["r"], ["s"]]).map(\.0) == ["q", "r", "s"])
        #expect(Self.fused([]).isEmpty)
        #expect(Self.fused([[], []]).isEmpty)
    }

    @Test("multi-query rerank_by RRF through the engine")
    func engineFusion() async throws {
        let harness = QueryHarness()
        try await harness.write("hybrid", #"""
            {"schema": {"text": {"type": "string", "full_text_search": true}}, "distance_metric": "euclidean_squared",
             "upsert_rows": [
                {"id": 1, "vector": [0, 0], "text": "fox", "n": 5},
                {"id": 2, "vector": [1, 0], "text": "fox fox", "n": 4},
                {"id": 3, "vector": [2, 0], "text": "dog", "n": 3},
                {"id": 4, "vector": [3, 0], "text": "fox dog cat bird", "n": 2},
                {"id": 5, "vector": [4, 0], "text": "bird", "n": 1}]}
            """#)
        let queries = #"[{"rank_by": ["vector", "kNN", [0, 0]], "top_k": 3}, {"rank_by": ["text", "BM25", "fox"], "top_k": 3}, {"rank_by": ["n", "asc"], "top_k": 3}]"#
        // Each list on its own, to derive the expected fusion.
        let lists = try await [
            harness.query("hybrid", #"{"rank_by": ["vector", "kNN", [0, 0]], "top_k": 3}"#).map(\.id),
            harness.query("hybrid", #"{"rank_by": ["text", "BM25", "fox"], "top_k": 3}"#).map(\.id),
            harness.query("hybrid", #"{"rank_by": ["n", "asc"], "top_k": 3}"#).map(\.id),
        ]
        #expect(lists == [[1, 2, 3], [2, 1, 4], [5, 4, 3]])

        for (weights, limit) in [(nil, nil), ([1.0, 2, 0.5], 4), ([0.0, 0, 1], 2)] as [([Double]?, Int?)] {
            var rerank = #"["RRF", {"rank_constant": 10"#
            if let weights { rerank += #", "weights": \#(jsonText(.array(weights.map { .double($0) })))"# }
            rerank += "}]"
            let limitText = limit.map { #", "limit": \#($0)"# } ?? ""
            let response = try await harness.engine.multiQuery("hybrid", body: parseJSON(#"{"queries": \#(queries), "rerank_by": \#(rerank)\#(limitText)}"#))
            let results = try #require(response.objectValue?["results"]?.arrayValue)
            #expect(results.count == 1)
            let rows = try QueryHarness.rows(results.first?.objectValue?["rows"])

            let expected = ReciprocalRankFusion.fuse(lists, rankConstant: 10, weights: weights)
            var scores: [UInt64: Double] = [:]
            for (i, list) in lists.enumerated() {
                for (rank, id) in list.enumerated() { scores[id, default: 0] += (weights?[i] ?? 1) / (10 + Double(rank + 1)) }
            }
            let count = min(limit ?? 3, scores.count)
            #expect(rows.count == count)
            #expect(rows.map(\.id) == expected.prefix(count).map(\.id))
            for row in rows { #expect(abs((row.dist ?? -1) - scores[row.id]!) < 1e-12, "id \(row.id)") }
        }

        // Without rerank_by, each query keeps its own result list.
        let separate = try await harness.engine.multiQuery("hybrid", body: parseJSON(#"{"queries": \#(queries)}"#))
        let results = try #require(separate.objectValue?["results"]?.arrayValue)
        #expect(try results.map { try QueryHarness.rows($0.objectValue?["rows"]).map(\.id) } == lists)
    }
}
