import Kernels

// Lloyd's k-means with k-means++ seeding over one contiguous row-major matrix.
//
// Distances are squared Euclidean, computed as ‖c‖² − 2·x·c (the ‖x‖² term is the same for
// every centroid, so the argmin needs only one dot product per pair: `BatchScorer.dotAllFast`
// over the centroid matrix). Empty clusters are re-seeded by splitting the largest one
// (faiss's rule: two copies of its centroid nudged apart), so k clusters survive.

/// The generator of sampling and seeding: SplitMix64, so a build is reproducible by seed.
typealias IVFRandom = SplitMix64

extension SplitMix64 {
    /// `count` distinct values of `0..<n` (partial Fisher–Yates), in random order.
    mutating func sample(_ count: Int, from n: Int) -> [Int] {
        if count >= n { return Array(0..<n) }
        var picked: [Int: Int] = [:]  // sparse Fisher–Yates: position → value swapped in
        var out: [Int] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let j = i + next(below: n - i)
            let vj = picked[j] ?? j
            out.append(vj)
            picked[j] = picked[i] ?? i
        }
        return out
    }
}

enum KMeans {
    /// Trains `k` centroids (row-major, `k × dimension`) on the `count` rows of `points`.
    /// `k` is clamped to `1...count`; `count` must be positive.
    static func train(points: UnsafeBufferPointer<Float>, count: Int, dimension: Int, k requested: Int,
                      iterations: Int, rng: inout IVFRandom) -> [Float] {
        precondition(count > 0 && dimension > 0)
        let k = max(1, min(requested, count))
        var centroids = seedPlusPlus(points: points, count: count, dimension: dimension, k: k, rng: &rng)
        var labels = [Int32](repeating: -1, count: count)
        var previous = labels
        for _ in 0..<iterations {
            assign(points: points, count: count, dimension: dimension, centroids: centroids, labels: &labels)
            if labels == previous { break }  // converged: the means would not move
            update(points: points, count: count, dimension: dimension, labels: labels, centroids: &centroids, rng: &rng)
            previous = labels
        }
        return centroids
    }

    /// k-means++: the first centroid uniformly, each next one with probability proportional to
    /// the squared distance to the nearest centroid chosen so far.
    static func seedPlusPlus(points: UnsafeBufferPointer<Float>, count: Int, dimension: Int, k: Int,
                             rng: inout IVFRandom) -> [Float] {
        var centroids = [Float](repeating: 0, count: k * dimension)
        var nearest = [Float](repeating: .infinity, count: count)
        var fresh = [Float](repeating: 0, count: count)
        var chosen = rng.next(below: count)
        for c in 0..<k {
            centroids.withUnsafeMutableBufferPointer { dst in
                for j in 0..<dimension { dst[c * dimension + j] = points[chosen * dimension + j] }
            }
            if c == k - 1 { break }
            var total = 0.0
            let q = UnsafeBufferPointer(rebasing: points[(chosen * dimension)..<((chosen + 1) * dimension)])
            fresh.withUnsafeMutableBufferPointer { out in
                BatchScorer.l2SquaredAll(query: q, matrix: points, dimension: dimension, rows: 0..<count, into: out)
            }
            for i in 0..<count {
                if fresh[i] < nearest[i] { nearest[i] = fresh[i] }
                total += Double(nearest[i])
            }
            if total <= 0 {  // every point coincides with a centroid: any point will do
                chosen = rng.next(below: count)
                continue
            }
            var target = rng.nextUnit() * total
            chosen = count - 1
            for i in 0..<count {
                target -= Double(nearest[i])
                if target < 0 { chosen = i; break }
            }
        }
        return centroids
    }

    /// Squared norms of the centroid rows.
    static func squaredNorms(_ centroids: [Float], dimension: Int) -> [Float] {
        let k = centroids.count / dimension
        return centroids.withUnsafeBufferPointer { c in
            (0..<k).map { VectorDistance.squaredNorm(UnsafeBufferPointer(rebasing: c[($0 * dimension)..<(($0 + 1) * dimension)])) }
        }
    }

    /// `labels[i]` = the nearest centroid of row `i`.
    static func assign(points: UnsafeBufferPointer<Float>, count: Int, dimension: Int, centroids: [Float],
                       labels: inout [Int32]) {
        let k = centroids.count / dimension
        let norms = squaredNorms(centroids, dimension: dimension)
        var dots = [Float](repeating: 0, count: k)
        centroids.withUnsafeBufferPointer { c in
            dots.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    let q = UnsafeBufferPointer(rebasing: points[(i * dimension)..<((i + 1) * dimension)])
                    BatchScorer.dotAllFast(query: q, matrix: c, dimension: dimension, rows: 0..<k, into: out)
                    var best = 0
                    var bestScore = Float.infinity
                    for j in 0..<k {
                        let s = norms[j] - 2 * out[j]
                        if s < bestScore { bestScore = s; best = j }
                    }
                    labels[i] = Int32(best)
                }
            }
        }
    }

    /// Moves every centroid to the mean of its rows; re-seeds empty clusters by splitting the
    /// largest.
    static func update(points: UnsafeBufferPointer<Float>, count: Int, dimension: Int, labels: [Int32],
                       centroids: inout [Float], rng: inout IVFRandom) {
        update(count: count, dimension: dimension, labels: labels, centroids: &centroids, rng: &rng) {
            UnsafeBufferPointer(rebasing: points[($0 * dimension)..<(($0 + 1) * dimension)])
        }
    }

    /// `update` over rows handed out one at a time by `row` (valid until its next call).
    static func update(count: Int, dimension: Int, labels: [Int32], centroids: inout [Float], rng: inout IVFRandom,
                       row: (Int) -> UnsafeBufferPointer<Float>) {
        let k = centroids.count / dimension
        var sums = [Float](repeating: 0, count: k * dimension)
        var sizes = [Int](repeating: 0, count: k)
        sums.withUnsafeMutableBufferPointer { s in
            for i in 0..<count {
                let c = Int(labels[i])
                sizes[c] += 1
                VectorArithmetic.add(row(i), into: UnsafeMutableBufferPointer(rebasing: s[(c * dimension)..<((c + 1) * dimension)]))
            }
            for c in 0..<k where sizes[c] > 0 {
                VectorArithmetic.scale(UnsafeMutableBufferPointer(rebasing: s[(c * dimension)..<((c + 1) * dimension)]),
                                       by: 1 / Float(sizes[c]))
            }
        }
        // Keep the previous centroid for empty clusters, then split the largest into them.
        for c in 0..<k where sizes[c] > 0 {
            for j in 0..<dimension { centroids[c * dimension + j] = sums[c * dimension + j] }
        }
        for c in 0..<k where sizes[c] == 0 {
            guard let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] }), sizes[largest] > 1 else { break }
            let epsilon: Float = 1.0 / 1024
            for j in 0..<dimension {
                let v = centroids[largest * dimension + j]
                let nudge = (j & 1 == 0 ? epsilon : -epsilon) * (rng.next() & 1 == 0 ? 1 : -1)
                centroids[c * dimension + j] = v * (1 + nudge)
                centroids[largest * dimension + j] = v * (1 - nudge)
            }
            sizes[c] = sizes[largest] / 2
            sizes[largest] -= sizes[c]
        }
    }
}
