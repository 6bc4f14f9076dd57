import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// `explain` with `analyze` for each way a filtered ANN query can run over a segment with an
/// IVF index and a tail: IVF probing (unfiltered and with a broad filter, which widens inside
/// the lists), exact search over the matching rows (a selective filter), and the tail scanned
/// exactly. Compared with `Fixtures/golden/explain-analyze/<name>.txt` after timings, read
/// figures and segment names are normalised (re-record with `LAGOON_RECORD_GOLDEN=1`).
@Suite("explain analyze of filtered ANN strategies (golden files)")
struct ANNExplainGoldenTests {
    static let cases: [(name: String, filter: String)] = [
        ("ann_unfiltered", ""),
        ("ann_filter_broad_ivf", #", "filters": ["bucket", "Lt", 50]"#),
        ("ann_filter_selective_exact", #", "filters": ["bucket", "Eq", 3]"#),
    ]

    /// One segment of 2,500 rows (IVF trained) and a tail of 300 overwrites, from fixed seeds.
    static func engine() async throws -> Engine {
        var rng = SeededRandom(seed: 21)
        let engine = Engine(store: MemoryStore())
        try await ANNSegmentTests.write(engine, first: 0, count: 2500, &rng)
        #expect(try await engine.indexNow("ns"))
        try await ANNSegmentTests.write(engine, first: 100, count: 300, &rng)
        return engine
    }

    /// Drops what varies between runs: timings, the read-figures line, segment object names.
    static func normalised(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("io ") && !$0.hasPrefix("io:") }
            .map { line in
                line.replacing(/\stime=[0-9.]+(ms|µs|us|s)/, with: "")
                    .replacing(/segment [^ :()]+:/, with: "segment S:")
            }
            .joined(separator: "\n")
    }

    @Test("analyze text matches the golden file", arguments: cases.map(\.name))
    func golden(name: String) async throws {
        let filter = try #require(Self.cases.first { $0.name == name }?.filter)
        let engine = try await Self.engine()
        var rng = SeededRandom(seed: 22)
        let body = #"{"rank_by": ["vector", "ANN", \#(ANNSegmentTests.vector(&rng))], "top_k": 10, "analyze": true\#(filter)}"#
        let explain = try await engine.explain("ns", body: try ANNSegmentTests.json(body))
        let text = Self.normalised(explain.objectValue?["plan_text"]?.stringValue ?? "")
        let mismatch = GoldenFile.verify(text, at: GoldenFile.url("explain-analyze/\(name).txt"))
        if let mismatch { Issue.record(Comment(rawValue: mismatch)) }
    }
}
