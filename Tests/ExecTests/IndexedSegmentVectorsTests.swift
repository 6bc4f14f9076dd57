import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Segments
import Store
import Testing

/// A segment with an IVF index keeps its vectors once, in the index's lists: exact kNN,
/// filtered exact candidates and returned vectors read them there, and answer as the tail did
/// before the rows were indexed.
@Suite("Vectors of indexed segments read from the IVF lists")
struct IndexedSegmentVectorsTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }
    static let dimension = 8

    static func vector(_ rng: inout SeededRandom) -> [Float] { (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) } }
    static func text(_ v: [Float]) -> String { "[" + v.map { String($0) }.joined(separator: ",") + "]" }

    struct Row {
        var id: Int64
        var dist: Double
        var vector: [Double]?
    }

    static func rows(_ response: JSONValue) -> [Row] {
        (response.objectValue?["rows"]?.arrayValue ?? []).map { row in
            let o = row.objectValue
            return Row(id: o?["id"]?.intValue ?? -1, dist: o?["$dist"]?.doubleValue ?? .nan,
                       vector: o?["vector"]?.arrayValue?.compactMap(\.doubleValue))
        }
    }

    @Test(arguments: ["cosine_distance", "euclidean_squared"])
    func exactAnswersMatchTheTail(metric: String) async throws {
        var rng = SeededRandom(seed: UInt64(metric.count))
        let engine = Engine(store: MemoryStore())
        var stored: [Int64: [Float]] = [:]
        for start in stride(from: 0, to: 1600, by: 400) {
            let rows = (start..<(start + 400)).map { id -> String in
                // Every tenth row has no vector: the row map must say so.
                guard id % 10 != 3 else { return #"{"id": \#(id), "bucket": \#(id % 7)}"# }
                let v = Self.vector(&rng)
                stored[Int64(id)] = v
                return #"{"id": \#(id), "vector": \#(Self.text(v)), "bucket": \#(id % 7)}"#
            }
            _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "\#(metric)"}"#))
        }
        let queries = (0..<6).map { _ in Self.text(Self.vector(&rng)) }
        let bodies = queries.flatMap { q in
            ["", #", "filters": ["bucket", "Eq", 2]"#].map { #"{"rank_by": ["vector", "kNN", \#(q)], "top_k": 25, "include_attributes": ["vector"]\#($0)}"# }
        }
        var before: [[Row]] = []
        for body in bodies { before.append(Self.rows(try await engine.query("ns", body: try Self.json(body)))) }

        #expect(try await engine.indexNow("ns"))
        while try await engine.indexNow("ns") {}
        let snapshot = try await engine.snapshot("ns")
        #expect(snapshot.manifest.wal.isEmpty && snapshot.view.segments.count == 1)
        let segment = try #require(snapshot.view.segments.first?.segment)
        #expect(segment.hasVectorIndex && segment.hasVectors)
        #expect(segment.vectorCountLowerBound == 0, "no vectors part beside the ivf part")

        for (body, old) in zip(bodies, before) {
            let new = Self.rows(try await engine.query("ns", body: try Self.json(body)))
            #expect(new.map(\.id) == old.map(\.id), "\(body)")
            for (a, b) in zip(new, old) {
                #expect(abs(a.dist - b.dist) <= 1e-5)
                #expect(a.vector == b.vector)
                #expect(a.vector == stored[a.id].map { $0.map(Double.init) })
            }
        }
        let vectors = try #require(segment.vectors)
        #expect(vectors.readsIndexLists && vectors.count == stored.count)
        for row in 0..<segment.rowCount {
            guard case .uint(let id) = segment.ids[row] else { Issue.record("uint ids"); continue }
            #expect(try vectors.vector(ofRow: row) == stored[Int64(id)])
        }
    }
}
