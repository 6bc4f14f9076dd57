import Foundation
import Kernels
import LagoonTestSupport
import Log
import Segments
import Store
import Testing

/// A segment with an IVF index stores its vectors once, in the index's lists; row reads and
/// exact-scan placements find them there (Specs/format/segment.md, `vectors` and `ivf`).
@Suite("Segment vectors from IVF lists")
struct IndexedVectorsTests {
    static let dimension = 6

    /// 1,300 rows, every ninth without a vector; ids shuffled so rows are not in write order.
    static func documents() -> [Document] {
        var rng = SeededRandom(seed: 5)
        return (0..<1300).shuffled(using: &rng).map { id in
            let vector: [Float]? = id % 9 == 4 ? nil : (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) }
            return Document(id: .uint(UInt64(id)), vector: vector, attributes: ["n": .int(Int64(id))])
        }
    }

    static func open(_ bytes: Data, _ request: SegmentPartRequest) async throws -> Segment {
        let store = MemoryStore()
        try await store.put("seg", bytes, condition: .none)
        let segment = try await Segment.open(key: "seg", size: bytes.count, store: store)
        try await segment.load(request, store: store)
        return segment
    }

    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func rowsAndPlacementsReadTheLists(metric: DistanceMetric) async throws {
        let documents = Self.documents()
        let bytes = try SegmentBuilder.build(documents, config: NamespaceConfig(distanceMetric: metric, dimension: Self.dimension),
                                             minSeq: 1, maxSeq: 1)
        let segment = try await Self.open(bytes, SegmentPartRequest(vectors: true))
        #expect(segment.hasVectorIndex && segment.hasVectors && segment.vectorIndex != nil)
        #expect(segment.vectorCountLowerBound == 0, "no vectors part beside the ivf part")
        let vectors = try #require(segment.vectors)
        let byID = Dictionary(uniqueKeysWithValues: documents.map { ($0.id, $0.vector) })
        #expect(vectors.readsIndexLists && vectors.count == byID.values.filter { $0 != nil }.count)
        var numbers = Set<Int>()
        for row in 0..<segment.rowCount {
            let expected = byID[segment.ids[row]]!
            #expect(try vectors.vector(ofRow: row) == expected)
            #expect(vectors.hasVector(row: row) == (expected != nil))
            if let n = vectors.vectorNumber(ofRow: row) { numbers.insert(n) }
        }
        #expect(numbers == Set(0..<vectors.count), "vector numbers are a bijection")

        // A placement of every third row: each wanted vector is found once, at its position.
        let wanted = stride(from: 0, to: segment.rowCount, by: 3).map(Int32.init)
        let placement = vectors.placement(of: wanted)
        #expect(placement.rows == wanted.filter { vectors.hasVector(row: Int($0)) })
        var found = [Int](repeating: 0, count: placement.rows.count)
        let expectedVectors = try placement.rows.map { try vectors.vector(ofRow: Int($0)) }
        try vectors.forEachBlock(placement) { block in
            guard let entries = block.entries else { Issue.record("IVF placements map entries"); return }
            for (i, position) in block.positions.enumerated() {
                let entry = Int(entries[i])
                found[entry] += 1
                let p = Int(position)
                let stored = Array(block.matrix[(p * Self.dimension)..<((p + 1) * Self.dimension)])
                #expect(stored == expectedVectors[entry])
                if metric == .cosineDistance {
                    let norm = VectorDistance.squaredNorm(stored).squareRoot()
                    #expect(block.inverseNorms[p] == (norm > 0 ? 1 / norm : 0))
                } else {
                    #expect(block.inverseNorms.isEmpty)
                }
            }
            #expect(zip(block.positions, block.positions.dropFirst()).allSatisfy { $0 < $1 }, "positions ascend within a list")
        }
        #expect(found.allSatisfy { $0 == 1 })
    }

    @Test func fewVectorsKeepTheVectorsPart() async throws {
        let documents = Array(Self.documents().prefix(200))
        let bytes = try SegmentBuilder.build(documents, config: NamespaceConfig(distanceMetric: .cosineDistance, dimension: Self.dimension),
                                             minSeq: 1, maxSeq: 1)
        let segment = try await Self.open(bytes, SegmentPartRequest(vectors: true))
        #expect(!segment.hasVectorIndex && segment.hasVectors && segment.vectorCountLowerBound > 0)
        let vectors = try #require(segment.vectors)
        #expect(!vectors.readsIndexLists)
        let placement = vectors.placement(of: (0..<Int32(segment.rowCount)).map { $0 })
        var blocks = 0
        try vectors.forEachBlock(placement) { block in
            blocks += 1
            #expect(block.entries == nil && block.firstEntry == 0 && block.positions.count == placement.rows.count)
        }
        #expect(blocks == 1, "the vectors part is one block")
    }

    /// A build whose rows wait in a temporary file while the index is written (the large
    /// segments of flushes and compactions) writes the same bytes as one that keeps them in
    /// memory; a spill that cannot happen fails the build, not the process.
    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func spilledRowsWriteTheSameSegment(metric: DistanceMetric) async throws {
        let config = NamespaceConfig(distanceMetric: metric, dimension: Self.dimension)
        var inMemory = IVFBuildOptions()
        inMemory.spillRowsFromBytes = .max
        var spilled = IVFBuildOptions()
        spilled.spillRowsFromBytes = 0
        let kept = try SegmentBuilder.build(Self.documents(), config: config, minSeq: 1, maxSeq: 1, ivfOptions: inMemory)
        let written = try SegmentBuilder.build(Self.documents(), config: config, minSeq: 1, maxSeq: 1, ivfOptions: spilled)
        #expect(written == kept)
        #expect(try await Self.open(written, SegmentPartRequest(vectors: true)).vectorIndex != nil)

        let rows = SegmentRows(documents: Self.documents())
        guard case .trained(var draft) = IVFIndex.draft(vectors: rows.vectors, dimension: Self.dimension, ordinals: rows.vectorRows,
                                                        ordinalBound: rows.count, metric: metric) else {
            Issue.record("1,300 rows train an index")
            return
        }
        #expect(throws: (any Error).self) { try draft.spillRows(directory: "/nonexistent-lagoon-directory") }
    }
}
