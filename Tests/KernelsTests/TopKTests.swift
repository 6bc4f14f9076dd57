import Kernels
import Testing

@Suite("TopKSelector vs sort-and-take")
struct TopKTests {
    /// Reference: sort all (score, ordinal) pairs, NaN dropped, and take the first k.
    static func reference(_ scores: [Float], ordinals: [Int]? = nil, k: Int) -> [ScoredOrdinal] {
        let ords = ordinals ?? Array(scores.indices)
        let all = zip(scores, ords)
            .filter { !$0.0.isNaN }
            .map { ScoredOrdinal(score: $0.0, ordinal: $0.1) }
            .sorted { ($0.score, $0.ordinal) < ($1.score, $1.ordinal) }
        return Array(all.prefix(k))
    }

    /// Scores drawn from few distinct values so ties are common.
    static func tiedScores(_ n: Int, distinct: UInt64, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.next() % distinct) * 0.25 - 3 }
    }

    @Test(arguments: [0, 1, 2, 5, 64, 100, 1000], [2, 50, 1_000_000] as [UInt64])
    func batchInsertMatchesReference(k: Int, distinct: UInt64) {
        let scores = Self.tiedScores(5000, distinct: distinct, seed: UInt64(k) &* 31 &+ distinct)
        var top = TopKSelector(k: k)
        scores.withUnsafeBufferPointer { all in
            // Uneven batches, ordinals continue across batches.
            var start = 0
            var size = 1
            while start < all.count {
                let end = min(all.count, start + size)
                top.insert(scores: UnsafeBufferPointer(rebasing: all[start..<end]), baseOrdinal: start)
                start = end
                size = size * 3 + 1
            }
        }
        #expect(top.sortedResults() == Self.reference(scores, k: k))
        #expect(top.count == min(k, scores.count))
    }

    @Test(arguments: [1, 7, 100, 1000])
    func singleInsertIsOrderIndependent(k: Int) {
        let scores = Self.tiedScores(3000, distinct: 20, seed: UInt64(k))
        var rng = SplitMix64(seed: 4242 &+ UInt64(k))
        let order = Array(scores.indices).shuffled(using: &rng)
        var top = TopKSelector(k: k)
        for i in order { top.insert(score: scores[i], ordinal: i) }
        #expect(top.sortedResults() == Self.reference(scores, k: k))
    }

    @Test func thresholdIsInfinityUntilFullThenWorstKept() {
        var top = TopKSelector(k: 3)
        #expect(top.threshold == .infinity)
        top.insert(score: 5, ordinal: 0)
        top.insert(score: 1, ordinal: 1)
        #expect(top.threshold == .infinity)
        #expect(!top.isFull)
        top.insert(score: 3, ordinal: 2)
        #expect(top.isFull)
        #expect(top.threshold == 5)
        #expect(top.insert(score: 6, ordinal: 3) == false)
        #expect(top.insert(score: 2, ordinal: 4) == true)
        #expect(top.threshold == 3)
        // Tie with the worst kept: lower ordinal wins, higher loses.
        #expect(top.insert(score: 3, ordinal: 9) == false)
        #expect(top.insert(score: 3, ordinal: 0) == true)
        #expect(top.sortedResults().map(\.ordinal) == [1, 4, 0])
    }

    @Test func kZeroKeepsNothing() {
        var top = TopKSelector(k: 0)
        #expect(top.insert(score: -.infinity, ordinal: 0) == false)
        [Float](repeating: -1, count: 10).withUnsafeBufferPointer { top.insert(scores: $0, baseOrdinal: 0) }
        #expect(top.sortedResults().isEmpty)
    }

    @Test func nanIsNeverKept() {
        var top = TopKSelector(k: 4)
        let scores: [Float] = [.nan, 1, .nan, 0, 2, .nan]
        scores.withUnsafeBufferPointer { top.insert(scores: $0, baseOrdinal: 10) }
        #expect(top.insert(score: .nan, ordinal: 0) == false)
        #expect(top.sortedResults() == [
            ScoredOrdinal(score: 0, ordinal: 13), ScoredOrdinal(score: 1, ordinal: 11),
            ScoredOrdinal(score: 2, ordinal: 14),
        ])
    }

    @Test(arguments: [1, 10, 250])
    func ordinalBatchMatchesReference(k: Int) {
        var rng = SplitMix64(seed: 77 &+ UInt64(k))
        let scores = Self.tiedScores(2000, distinct: 15, seed: UInt64(k) &+ 5)
        let ordinals = (0..<scores.count).map { _ in Int32(rng.next() % 1_000_000) }
        var top = TopKSelector(k: k)
        scores.withUnsafeBufferPointer { s in
            ordinals.withUnsafeBufferPointer { o in top.insert(scores: s, ordinals: o) }
        }
        #expect(top.sortedResults() == Self.reference(scores, ordinals: ordinals.map(Int.init), k: k))
    }

    @Test(arguments: [1, 10, 500])
    func mergeEqualsSingleSelector(k: Int) {
        let scores = Self.tiedScores(4000, distinct: 40, seed: 900 &+ UInt64(k))
        var parts = [TopKSelector](repeating: TopKSelector(k: k), count: 4)
        for (i, s) in scores.enumerated() { parts[i % 4].insert(score: s, ordinal: i) }
        var merged = TopKSelector(k: k)
        for p in parts { merged.merge(p) }
        #expect(merged.sortedResults() == Self.reference(scores, k: k))
    }

    @Test func largestKByNegation() {
        // Documented idiom: insert -similarity to keep the k largest.
        let sims: [Float] = [0.1, 0.9, 0.5, 0.9, 0.3]
        var top = TopKSelector(k: 2)
        for (i, s) in sims.enumerated() { top.insert(score: -s, ordinal: i) }
        #expect(top.sortedResults().map { ($0.ordinal, -$0.score) }.elementsEqual([(1, 0.9), (3, 0.9)], by: ==))
    }

    @Test func removeAllResets() {
        var top = TopKSelector(k: 2)
        top.insert(score: 1, ordinal: 1)
        top.insert(score: 2, ordinal: 2)
        top.removeAll()
        #expect(top.count == 0 && top.threshold == .infinity)
        top.insert(score: 9, ordinal: 9)
        #expect(top.sortedResults() == [ScoredOrdinal(score: 9, ordinal: 9)])
    }
}
