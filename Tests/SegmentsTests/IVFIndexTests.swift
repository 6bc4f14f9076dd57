import Foundation
import Kernels
import LagoonTestSupport
import Log
import Segments
import Testing

/// Seeded clustered data and an exact oracle that computes distances the way the exact path does.
struct IVFFixture {
    let dimension: Int
    let count: Int
    let vectors: [Float]
    let ordinals: [Int32]
    let ordinalBound: Int

    /// `count` rows around `clusters` random centres; ordinals are spread over `0..<2·count`
    /// (a segment whose other rows have no vector).
    init(count: Int, dimension: Int = 32, clusters: Int = 48, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let centres = rng.floats(clusters * dimension)
        var vectors: [Float] = []
        vectors.reserveCapacity(count * dimension)
        for _ in 0..<count {
            let c = Int.random(in: 0..<clusters, using: &rng)
            for j in 0..<dimension { vectors.append(centres[c * dimension + j] + 0.35 * rng.signedUnitFloat()) }
        }
        self.dimension = dimension
        self.count = count
        self.vectors = vectors
        ordinalBound = 2 * count
        ordinals = (0..<count).map { Int32(2 * $0 + ($0 % 3 == 0 ? 1 : 0)) }
        _ = centres
    }

    func queries(_ n: Int, seed: UInt64) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in
            let r = Int.random(in: 0..<count, using: &rng)
            return (0..<dimension).map { vectors[r * dimension + $0] + 0.2 * rng.signedUnitFloat() }
        }
    }

    func row(_ i: Int) -> [Float] { Array(vectors[(i * dimension)..<((i + 1) * dimension)]) }

    /// The exact path's distance (ExactKNNOperator): 1 − dot·(1/‖v‖)·(1/‖q‖), or ‖q − v‖².
    func distance(_ query: [Float], row i: Int, metric: DistanceMetric) -> Float {
        switch metric {
        case .euclideanSquared:
            return VectorDistance.l2Squared(query, row(i))
        case .cosineDistance:
            let qn = VectorDistance.squaredNorm(query).squareRoot()
            let vn = VectorDistance.squaredNorm(row(i)).squareRoot()
            return 1 - VectorDistance.dot(query, row(i)) * (vn > 0 ? 1 / vn : 0) * (qn > 0 ? 1 / qn : 0)
        }
    }

    /// Exact top-k over the rows whose ordinal passes `keep`.
    func exact(_ query: [Float], k: Int, metric: DistanceMetric, keep: (Int) -> Bool = { _ in true }) -> [ScoredOrdinal] {
        var top = TopKSelector(k: k)
        for i in 0..<count where keep(Int(ordinals[i])) {
            top.insert(score: distance(query, row: i, metric: metric), ordinal: Int(ordinals[i]))
        }
        return top.sortedResults()
    }

    func build(_ metric: DistanceMetric, options: IVFBuildOptions = IVFBuildOptions()) -> IVFIndex? {
        var options = options
        options.recallSampleSize = 200
        guard case .trained(let index) = IVFIndex.build(vectors: vectors, dimension: dimension, ordinals: ordinals,
                                                         ordinalBound: ordinalBound, metric: metric, options: options) else { return nil }
        return index
    }
}

@Suite("IVF index against an exact oracle")
struct IVFIndexTests {
    static let fixture = IVFFixture(count: 6_000, seed: 0x1F1F)
    static let cosine = fixture.build(.cosineDistance)
    static let euclidean = fixture.build(.euclideanSquared)

    static func index(_ metric: DistanceMetric) -> IVFIndex? { metric == .cosineDistance ? cosine : euclidean }

    @Test func handfulOfVectorsIsPendingNotAnError() {
        let few = IVFFixture(count: 5, seed: 7)
        let result = IVFIndex.build(vectors: few.vectors, dimension: few.dimension, ordinals: few.ordinals,
                                    ordinalBound: few.ordinalBound, metric: .cosineDistance)
        guard case .pending(let reason) = result else {
            Issue.record("5 vectors should not train an index")
            return
        }
        #expect(reason.contains("5 vectors"))
    }

    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func recallAtTheProbesTheCurvePicks(metric: DistanceMetric) throws {
        let f = Self.fixture
        let index = try #require(Self.index(metric))
        #expect(index.vectorCount == f.count)
        let probes = index.probes(forRecall: 0.95)
        #expect(probes < index.listCount, "the target should not need every list")
        var found = 0
        let queries = f.queries(200, seed: 0xBEEF)
        for q in queries {
            let truth = f.exact(q, k: 10, metric: metric)
            let got = try index.search(q, k: 10, probes: probes)
            #expect(got.neighbors.count == 10)
            #expect(got.listsProbed >= probes)
            found += Set(got.neighbors.map(\.ordinal)).intersection(truth.map(\.ordinal)).count
        }
        let recall = Double(found) / Double(10 * queries.count)
        #expect(recall >= 0.95, "recall@10 \(recall) at \(probes) probes of \(index.listCount)")
    }

    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func distancesAreTheExactPathsBitForBit(metric: DistanceMetric) throws {
        let f = Self.fixture
        let index = try #require(Self.index(metric))
        let rowOf = Dictionary(uniqueKeysWithValues: f.ordinals.enumerated().map { (Int($1), $0) })
        for q in f.queries(20, seed: 0xD15) {
            let got = try index.search(q, k: 10, probes: 4)
            for n in got.neighbors {
                let expected = f.distance(q, row: try #require(rowOf[n.ordinal]), metric: metric)
                #expect(n.score == expected, "ordinal \(n.ordinal): \(n.score) vs \(expected)")
            }
            #expect(got.neighbors == got.neighbors.sorted { $0.ranksBefore($1) })
        }
    }

    /// The quantised first pass only chooses which rows get exact distances: with a re-rank
    /// budget covering every probed row it returns exactly the exact scan's answer, and with
    /// the default budget nearly always (a true neighbour lost is a recall miss, never a wrong
    /// score).
    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func quantizedScanAgreesWithTheExactScan(metric: DistanceMetric) throws {
        let f = Self.fixture
        let index = try #require(Self.index(metric))
        let members = Bitset(count: f.ordinalBound, members: f.ordinals.map(Int.init).filter { $0 % 4 != 1 })
        var same = 0, total = 0
        for q in f.queries(100, seed: 0x0A8) {
            for filter in [nil, IVFFilter.bitset(members)] {
                let exact = try index.search(q, k: 10, probes: 6, filter: filter, scan: .exact)
                let everyRow = try index.search(q, k: 10, probes: 6, filter: filter, scan: .quantized(rerankFactor: f.count))
                #expect(everyRow.neighbors == exact.neighbors)
                #expect(everyRow.listsProbed == exact.listsProbed && everyRow.vectorsScanned == exact.vectorsScanned)
                let fast = try index.search(q, k: 10, probes: 6, filter: filter)
                same += fast.neighbors == exact.neighbors ? 1 : 0
                total += 1
            }
        }
        #expect(Double(same) >= 0.95 * Double(total), "default re-rank equals the exact scan on \(same)/\(total) searches")
    }

    @Test(arguments: [0.01, 0.1, 0.5])
    func filteredSearchReturnsKWheneverKMatch(selectivity: Double) throws {
        let f = Self.fixture
        let index = try #require(Self.cosine)
        var rng = SeededRandom(seed: UInt64(selectivity * 1000))
        let members = Bitset(count: f.ordinalBound, members: f.ordinals.map(Int.init).filter { _ in rng.chance(selectivity) })
        let matching = members.popcount
        var found = 0, expected = 0
        for q in f.queries(100, seed: 0xF117) {
            let truth = f.exact(q, k: 10, metric: .cosineDistance) { members.contains($0) }
            let got = try index.search(q, k: 10, recallTarget: 0.95, filter: .bitset(members))
            #expect(got.neighbors.count == min(10, matching))
            #expect(got.neighbors.allSatisfy { members.contains($0.ordinal) })
            let viaPredicate = try index.search(q, k: 10, recallTarget: 0.95, filter: .predicate { members.contains($0) })
            #expect(viaPredicate.neighbors == got.neighbors)
            found += Set(got.neighbors.map(\.ordinal)).intersection(truth.map(\.ordinal)).count
            expected += truth.count
        }
        let recall = Double(found) / Double(expected)
        #expect(recall >= 0.90, "filtered recall@10 \(recall) at selectivity \(selectivity) (\(matching) rows match)")
    }

    @Test func filterMatchingFewerThanKReturnsAllOfThem() throws {
        let f = Self.fixture
        let index = try #require(Self.euclidean)
        let chosen = [Int(f.ordinals[17]), Int(f.ordinals[4_000]), Int(f.ordinals[5_999])]
        let got = try index.search(f.row(0), k: 10, probes: 1, filter: .bitset(Bitset(count: f.ordinalBound, members: chosen)))
        #expect(Set(got.neighbors.map(\.ordinal)) == Set(chosen))
        #expect(got.listsProbed == index.listCount, "widening probes every list when fewer than k match")
    }

    /// The lists chosen through the 8-bit centroid copy are exactly the best by the exact
    /// centroid scores (‖c‖² − 2·q'·c with the fast dot product, ties by lower list).
    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func nearestListsMatchTheExactCentroidRanking(metric: DistanceMetric) throws {
        let index = try #require(Self.index(metric))
        let d = index.dimension
        let norms = (0..<index.listCount).map { VectorDistance.squaredNorm(Array(index.head.centroids[($0 * d)..<(($0 + 1) * d)])) }
        for query in Self.fixture.queries(20, seed: 0x11575) {
            let norm = VectorDistance.squaredNorm(query).squareRoot()
            let inverse: Float = norm > 0 ? 1 / norm : 0
            let scale: Float = metric == .cosineDistance ? 2 * inverse : 2
            var dots = [Float](repeating: 0, count: index.listCount)
            query.withUnsafeBufferPointer { q in
                index.head.centroids.withUnsafeBufferPointer { c in
                    dots.withUnsafeMutableBufferPointer {
                        BatchScorer.dotAllFast(query: q, matrix: c, dimension: d, rows: 0..<index.listCount, into: $0)
                    }
                }
            }
            let exact = (0..<index.listCount).map { ScoredOrdinal(score: norms[$0] - scale * dots[$0], ordinal: $0) }
                .sorted { $0.ranksBefore($1) }
            for count in [1, 5, 20, 30, index.listCount] {
                let got = index.nearestLists(query, inverseQueryNorm: inverse, count: count)
                #expect(got == Array(exact.prefix(count)), "\(metric), \(count) of \(index.listCount) lists")
            }
        }
    }

    @Test func kLargerThanTheIndexReturnsEveryRow() throws {
        let index = try #require(Self.euclidean)
        let got = try index.search(Self.fixture.row(3), k: 10_000, probes: 1)
        #expect(got.neighbors.count == Self.fixture.count)
    }

    @Test func listsAreBalancedAndTheCurveIsMonotone() throws {
        let index = try #require(Self.cosine)
        let sizes = index.head.lists.map(\.count)
        let mean = Double(index.vectorCount) / Double(index.listCount)
        #expect(sizes.allSatisfy { $0 > 0 })
        #expect(Double(sizes.max() ?? 0) <= 3 * mean + 1, "largest list \(sizes.max() ?? 0), mean \(mean)")
        let curve = index.recallCurve.recall
        #expect(!curve.isEmpty && zip(curve, curve.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(index.probes(forRecall: 0.5) <= index.probes(forRecall: 0.95))
        #expect(index.probes(forRecall: 1.0) <= index.listCount)
    }
}
