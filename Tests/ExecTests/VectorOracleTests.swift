import Exec
import LagoonTestSupport
import Log
import Planner
import Segments
import Testing

/// Exact nearest neighbours by brute force in Double: cosine distance 1 − cos (a zero
/// vector is at distance 1 from everything), euclidean_squared Σ(a−b)².
enum VectorOracle {
    static func distance(_ metric: DistanceMetric, _ a: [Float], _ b: [Float]) -> Double {
        switch metric {
        case .euclideanSquared:
            return zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
        case .cosineDistance:
            let dot = zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            return na == 0 || nb == 0 ? 1 : 1 - dot / (na * nb)
        }
    }
}

/// Emits fixed batches of rows (to drive one operator directly).
final class FixedRowsOperator: OperatorBase, PhysicalOperator {
    private var batches: [[Int32]]

    init(_ batches: [[Int32]]) {
        self.batches = batches
        super.init(children: [])
    }

    func next() throws -> RowBatch? {
        batches.isEmpty ? nil : RowBatch(source: 0, rows: batches.removeFirst())
    }
}

@Suite("exact kNN vs brute force")
struct VectorOracleTests {
    static let dimension = 8
    static let rowCount = 5200  // more than one 4096-row chunk

    struct Corpus {
        var rng: SeededRandom
        /// Live documents: vector (nil when the row has none) and group.
        var live: [UInt64: (vector: [Float]?, group: Int64)] = [:]

        mutating func document(_ id: UInt64) -> JSONValue {
            // The first rows have no vector (the vector column starts later), and so does
            // every 13th; one row holds a zero vector.
            let hasVector = id >= 5 && id % 13 != 0
            var vector = hasVector ? rng.floats(VectorOracleTests.dimension) : nil
            if id == 100 { vector = [Float](repeating: 0, count: VectorOracleTests.dimension) }
            let group = Int64(id % 7)
            live[id] = (vector, group)
            var object = JSONObject([("id", .int(Int64(id))), ("g", .int(group))])
            if let vector { object["vector"] = .array(vector.map { .double(Double($0)) }) }
            return .object(object)
        }
    }

    static func populate(_ harness: QueryHarness, _ namespace: String, metric: DistanceMetric, seed: UInt64) async throws -> Corpus {
        var corpus = Corpus(rng: SeededRandom(seed: seed))
        for range in [0..<2600, 2600..<UInt64(rowCount)] as [Range<UInt64>] {
            let rows = range.map { corpus.document($0) }
            try await harness.write(namespace, body: .object(JSONObject([
                ("distance_metric", .string(metric.rawValue)), ("upsert_rows", .array(rows)),
            ])))
        }
        // Replace 150 documents (new vectors, or none) and delete 150.
        var replaced: [JSONValue] = []
        for _ in 0..<150 {
            replaced.append(corpus.document(UInt64.random(in: 0..<UInt64(rowCount), using: &corpus.rng)))
        }
        try await harness.write(namespace, body: .object(JSONObject([("upsert_rows", .array(replaced))])))
        var deleted: [JSONValue] = []
        for _ in 0..<150 {
            let id = UInt64.random(in: 0..<UInt64(rowCount), using: &corpus.rng)
            corpus.live[id] = nil
            deleted.append(.int(Int64(id)))
        }
        try await harness.write(namespace, body: .object(JSONObject([("deletes", .array(deleted))])))
        return corpus
    }

    static let filters: [(json: String?, keep: @Sendable (UInt64, Int64) -> Bool)] = [
        (nil, { _, _ in true }),
        (#"["g", "Lt", 3]"#, { _, g in g < 3 }),
        (#"["Not", ["g", "Eq", 0]]"#, { _, g in g != 0 }),
        (#"["id", "Gte", 4000]"#, { id, _ in id >= 4000 }),
        (#"["And", [["id", "Gte", 4090], ["id", "Lt", 4100]]]"#, { id, _ in id >= 4090 && id < 4100 }),
    ]

    @Test("top-k ids and distances match brute force", arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func oracle(metric: DistanceMetric) async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, "vectors", metric: metric, seed: metric == .cosineDistance ? 1 : 2)
        var rng = SeededRandom(seed: 77)
        for round in 0..<4 {
            var query = rng.floats(Self.dimension)
            if round == 3 { query = corpus.live.values.compactMap(\.vector).first! }  // a stored vector: distance 0 at the top
            let vectorJSON = jsonText(.array(query.map { .double(Double($0)) }))
            for (filterJSON, keep) in Self.filters {
                var expected: [UInt64: Double] = [:]
                for (id, doc) in corpus.live where keep(id, doc.group) {
                    if let v = doc.vector { expected[id] = VectorOracle.distance(metric, query, v) }
                }
                for k in [1, 10, 100, 6000] {
                    for mode in ["kNN", "ANN"] {
                        let filter = filterJSON.map { #", "filters": \#($0)"# } ?? ""
                        let rows = try await harness.query("vectors", #"{"rank_by": ["vector", "\#(mode)", \#(vectorJSON)], "top_k": \#(k)\#(filter)}"#)
                        let problems = rankingProblems(rows, expected: expected, k: k, better: <)
                        #expect(problems.isEmpty, "\(metric) \(mode) k=\(k) filter=\(filterJSON ?? "none"): \(problems.prefix(5))")
                    }
                }
            }
        }
    }

    @Test("the operator scores arbitrary ascending row sets that span chunks, with and without gaps",
          arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func operatorAcrossChunks(metric: DistanceMetric) async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, "vectors", metric: metric, seed: 3)
        let projection = try await harness.engine.snapshot("vectors").projection
        #expect(projection.rowCount > 4096 + 150)
        let liveRows = (0..<projection.rowCount).filter { projection.alive[$0] }.map { Int32($0) }
        // Children hand over live rows in ascending order (rows without vectors drop out).
        let scorable = liveRows.filter { projection.hasVector[Int($0)] }
        let contiguous = (4096..<4200).first { start in (start..<start + 8).allSatisfy { scorable.contains(Int32($0)) } }
        let start = Int32(try #require(contiguous))
        let batches: [[Int32]] = [
            liveRows,  // everything at once: several chunks, gaps
            liveRows.filter { (4080..<4110).contains($0) },  // across the chunk boundary
            Array(start..<start + 8),  // contiguous within a chunk
            Array(Int32(4000)..<Int32(4200)).filter { projection.alive[Int($0)] },
            [liveRows.last!], [0, 1, 2].filter { projection.alive[$0] }.map { Int32($0) },
        ]
        var rng = SeededRandom(seed: 5)
        let query = rng.floats(Self.dimension)
        let op = ExactKNNOperator(child: FixedRowsOperator(batches), metric: metric, query: query,
                                  context: ExecutionContext(projection: projection))
        try op.open()
        defer { op.close() }
        var scored = 0
        var batchIndex = 0
        while let batch = try op.next() {
            #expect(batch.rows.count == batch.scores.count)
            for (row, score) in zip(batch.rows, batch.scores) {
                let id = projection.ids[Int(row)]
                guard case .uint(let raw) = id, let vector = corpus.live[raw]?.vector ?? nil else {
                    Issue.record("row \(row) (id \(id)) has no live vector but was scored")
                    continue
                }
                let expected = VectorOracle.distance(metric, query, vector)
                #expect(isClose(Double(score), expected), "row \(row): \(score) vs \(expected)")
                scored += 1
            }
            batchIndex += 1
        }
        // Every live row with a vector in each batch was scored.
        let withVector = batches.map { $0.filter { projection.alive[Int($0)] && projection.hasVector[Int($0)] }.count }
        #expect(scored == withVector.reduce(0, +))
        #expect(op.actuals.rowsExamined == batches.reduce(0) { $0 + $1.count })
    }

    @Test("rows without vectors take no vector space and are never returned")
    func vectorColumnStartsLate() async throws {
        let harness = QueryHarness()
        try await harness.write("late", #"{"upsert_rows": [{"id": 1, "g": 1}, {"id": 2, "g": 2}]}"#)
        try await harness.write("late", #"{"distance_metric": "euclidean_squared", "upsert_rows": [{"id": 3, "vector": [1, 0]}, {"id": 4, "vector": [0, 2]}, {"id": 5}]}"#)
        let rows = try await harness.query("late", #"{"rank_by": ["vector", "kNN", [0, 0]], "top_k": 10}"#)
        #expect(rows.map(\.id) == [3, 4])
        #expect(rows.map(\.dist) == [1, 4])
        let projection = try await harness.engine.snapshot("late").projection
        #expect(projection.hasVector == [false, false, true, true, false])
        #expect(projection.vectors?.count == 2, "only the two vectors are stored")
        #expect(projection.vectorSlot == [-1, -1, 0, 1, -1])
    }
}
