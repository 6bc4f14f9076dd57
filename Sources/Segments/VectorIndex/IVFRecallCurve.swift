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

    /// - Parameters:
    ///   - points: the training-space matrix (`count × dimension`).
    ///   - listOf: the list of every row.
    ///   - cosine: true to rank by −dot (unit rows), false by squared Euclidean distance.
    static func measure(points: UnsafeBufferPointer<Float>, count: Int, dimension: Int, listOf: [Int32],
                        centroids: [Float], cosine: Bool, sampleSize: Int, rng: inout IVFRandom) -> [Float] {
        let listCount = centroids.count / dimension
        let sample = rng.sample(min(sampleSize, count), from: count)
        guard !sample.isEmpty, count > k else { return [] }
        let norms = KMeans.squaredNorms(centroids, dimension: dimension)
        var found = [Int](repeating: 0, count: listCount + 1)  // found[r]: true neighbours in the r-th nearest list
        var scores = [Float](repeating: 0, count: count)
        var centroidScores = [Float](repeating: 0, count: listCount)
        var rankOfList = [Int](repeating: 0, count: listCount)
        var top = TopKSelector(k: k)
        centroids.withUnsafeBufferPointer { c in
            for s in sample {
                let q = UnsafeBufferPointer(rebasing: points[(s * dimension)..<((s + 1) * dimension)])
                scores.withUnsafeMutableBufferPointer { out in
                    if cosine {
                        BatchScorer.dotAllFast(query: q, matrix: points, dimension: dimension, rows: 0..<count, into: out)
                        for i in 0..<count { out[i] = -out[i] }
                    } else {
                        BatchScorer.l2SquaredAll(query: q, matrix: points, dimension: dimension, rows: 0..<count, into: out)
                    }
                    out[s] = .infinity  // the query's own row is not its neighbour
                    top.removeAll()
                    top.insert(scores: UnsafeBufferPointer(out), baseOrdinal: 0)
                }
                centroidScores.withUnsafeMutableBufferPointer { out in
                    BatchScorer.dotAllFast(query: q, matrix: c, dimension: dimension, rows: 0..<listCount, into: out)
                    for j in 0..<listCount { out[j] = norms[j] - 2 * out[j] }
                }
                let order = (0..<listCount).sorted { (centroidScores[$0], $0) < (centroidScores[$1], $1) }
                for (r, list) in order.enumerated() { rankOfList[list] = r }
                for neighbour in top.sortedResults() { found[rankOfList[Int(listOf[neighbour.ordinal])]] += 1 }
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
