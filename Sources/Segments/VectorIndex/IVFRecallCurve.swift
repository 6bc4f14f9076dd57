import Kernels

/// Estimated recall@10 of an IVF index as a function of the number of probed lists, measured
/// when the index was built (Specs/format/ivf.md §4).
///
/// `recall[p - 1]` is the estimate for `p` probes. The curve stops at the first `p` where the
/// estimate reaches 1; beyond its end the estimate is 1.
public struct IVFRecallCurve: Sendable, Equatable {
    public let recall: [Float]

    public init(recall: [Float]) { self.recall = recall }

    /// The fewest probes whose estimated recall is at least `target` (at least 1). Targets the
    /// curve never reaches ask for one probe past its end (where the estimate is 1).
    public func probes(forRecall target: Double) -> Int {
        for (i, r) in recall.enumerated() where Double(r) >= target { return i + 1 }
        return recall.count + 1
    }

    /// The estimate for `probes` lists.
    public func recall(atProbes probes: Int) -> Double {
        guard probes >= 1 else { return 0 }
        return probes <= recall.count ? Double(recall[probes - 1]) : 1
    }
}

/// Measures the curve: each sampled row is a query, its exact top-10 among the other rows is
/// the truth, and a true neighbour counts as found at `p` probes when its list is among the
/// query's `p` nearest centroids. That is exactly IVF's recall: a probed true neighbour always
/// makes the IVF top-10, since every row ranked above it by the index also ranks above it exactly.
enum IVFRecallEstimator {
    static let k = 10

    /// Rows are scored against the sampled queries a block at a time (normalised once per
    /// block), so the measurement holds a block of training-space rows, not all of them.
    static let rowsPerBlock = 4_096

    /// - Parameters:
    ///   - rows: every row, in training space on demand.
    ///   - listOf: the list of every row.
    ///   - cosine: true to rank by −dot (unit rows), false by squared Euclidean distance.
    static func measure(rows: IVFTrainingRows, listOf: [Int32], centroids: [Float], cosine: Bool, sampleSize: Int,
                        rng: inout IVFRandom) -> [Float] {
        let count = rows.count, dimension = rows.dimension
        let listCount = centroids.count / dimension
        let sample = rng.sample(min(sampleSize, count), from: count)
        guard !sample.isEmpty, count > k else { return [] }
        // Each sampled query's exact top-k among the other rows, block by block.
        let queries = rows.gather(sample)
        var tops = [TopKSelector](repeating: TopKSelector(k: k), count: sample.count)
        var scores = [Float](repeating: 0, count: rowsPerBlock)
        for start in stride(from: 0, to: count, by: rowsPerBlock) {
            let end = min(count, start + rowsPerBlock)
            let normalised = rows.inverseNorms == nil ? [] : rows.gather(start..<end)
            normalised.withUnsafeBufferPointer { gathered in
                let m = rows.inverseNorms == nil ? UnsafeBufferPointer(rebasing: rows.vectors[(start * dimension)..<(end * dimension)]) : gathered
                queries.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { out in
                        for (t, s) in sample.enumerated() {
                            let query = UnsafeBufferPointer(rebasing: q[(t * dimension)..<((t + 1) * dimension)])
                            if cosine {
                                BatchScorer.dotAllFast(query: query, matrix: m, dimension: dimension, rows: 0..<(end - start), into: out)
                                for i in 0..<(end - start) { out[i] = -out[i] }
                            } else {
                                BatchScorer.l2SquaredAll(query: query, matrix: m, dimension: dimension, rows: 0..<(end - start), into: out)
                            }
                            if (start..<end).contains(s) { out[s - start] = .infinity }  // the query's own row is not its neighbour
                            tops[t].insert(scores: UnsafeBufferPointer(rebasing: out[0..<(end - start)]), baseOrdinal: start)
                        }
                    }
                }
            }
        }
        let norms = KMeans.squaredNorms(centroids, dimension: dimension)
        var found = [Int](repeating: 0, count: listCount + 1)  // found[r]: true neighbours in the r-th nearest list
        var centroidScores = [Float](repeating: 0, count: listCount)
        var rankOfList = [Int](repeating: 0, count: listCount)
        centroids.withUnsafeBufferPointer { c in
            queries.withUnsafeBufferPointer { q in
                for t in sample.indices {
                    let query = UnsafeBufferPointer(rebasing: q[(t * dimension)..<((t + 1) * dimension)])
                    centroidScores.withUnsafeMutableBufferPointer { out in
                        BatchScorer.dotAllFast(query: query, matrix: c, dimension: dimension, rows: 0..<listCount, into: out)
                        for j in 0..<listCount { out[j] = norms[j] - 2 * out[j] }
                    }
                    let order = (0..<listCount).sorted { (centroidScores[$0], $0) < (centroidScores[$1], $1) }
                    for (r, list) in order.enumerated() { rankOfList[list] = r }
                    for neighbour in tops[t].sortedResults() { found[rankOfList[Int(listOf[neighbour.ordinal])]] += 1 }
                }
            }
        }
        let truths = Float(sample.count * k)
        var curve: [Float] = []
        var cumulative = 0
        for r in 0..<listCount {
            cumulative += found[r]
            curve.append(Float(cumulative) / truths)
            if cumulative == sample.count * k { break }
        }
        return curve
    }
}
