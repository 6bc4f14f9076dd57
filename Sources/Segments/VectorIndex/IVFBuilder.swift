import Foundation
import Kernels
public import Log

/// Knobs of the build. The defaults are what segments use; tests shrink them.
public struct IVFBuildOptions: Sendable {
    /// Lists to train; nil = min(round(4·√n), n / 32) (faiss's reference uses 4·√n: 1,372 for 117k).
    public var listCount: Int?
    /// Fewer vectors than this make a pending index (scanned exactly meanwhile).
    public var minimumVectors = 1_000
    /// Rows used as queries to measure the recall curve.
    public var recallSampleSize = 256
    /// Lloyd iterations per k-means run.
    public var iterations = 8
    /// Global Lloyd passes over every row after the per-cluster k-means (step 4 below).
    public var passes = 4
    /// Lists holding more than this many times the mean list size are split.
    public var maxListSizeFactor = 3.0
    /// A segment build moves rows of at least this many bytes to a temporary file once the
    /// index is trained, so the segment object is assembled without them in memory.
    public var spillRowsFromBytes = 32 << 20
    /// Seed of every random choice, so a build is reproducible.
    public var seed: UInt64 = 0x4956_4621_5345_4544

    public init() {}
}

/// A trained index, or why none was trained (never an error: the caller scans exactly).
public enum IVFBuildResult: Sendable {
    case trained(IVFIndex)
    case pending(reason: String)
}

/// `IVFBuildResult` before the index is written (`IVFIndex.draft`).
public enum IVFDraftResult: Sendable {
    case trained(IVFIndexDraft)
    case pending(reason: String)
}

// The build (Specs/format/ivf.md §3):
//   1. coarse k-means: √nlist centroids on a sample;
//   2. every row goes to its nearest coarse centroid (and remembers its 6 nearest);
//   3. each coarse cluster gets fine centroids in proportion to its size (k-means on its rows),
//      which keeps lists balanced and makes the expensive part of k-means ~√nlist times cheaper;
//   4. four Lloyd passes over all rows against the fine centroids of each row's 6 nearest coarse
//      clusters, then a final assignment the same way;
//   5. lists above `maxListSizeFactor` × the mean are split by k-means, empty lists dropped;
//   6. the recall curve is measured on a sample of rows.
// For cosine every step runs on unit-normalised copies of the rows; the lists store the rows
// as given plus their inverse norms, which is what the exact path computes with.
extension IVFIndex {
    /// Trains an index over `vectors` (row-major, `ordinals.count × dimension`), where row `i`
    /// is the segment row `ordinals[i]`; `build` writes it into memory, a segment writer
    /// straight into the segment.
    ///
    /// - Precondition: `dimension > 0`, `vectors.count == ordinals.count * dimension`, every
    ///   ordinal distinct and in `0..<ordinalBound`, `ordinalBound <= Int32.max + 1`.
    public static func draft(vectors: [Float], dimension: Int, ordinals: [Int32], ordinalBound: Int,
                             metric: DistanceMetric, options: IVFBuildOptions = IVFBuildOptions()) -> IVFDraftResult {
        precondition(dimension > 0, "IVFIndex.build: dimension must be positive")
        precondition(vectors.count == ordinals.count * dimension,
                     "IVFIndex.build: \(vectors.count) floats for \(ordinals.count) rows of \(dimension)")
        precondition(ordinalBound <= Int(Int32.max) + 1, "IVFIndex.build: ordinal bound \(ordinalBound) too large")
        let n = ordinals.count
        let minimum = max(options.minimumVectors, 2 * IVFRecallEstimator.k)
        guard n >= minimum else {
            return .pending(reason: "\(n) vectors; an IVF index is trained from \(minimum)")
        }
        let cosine = metric == .cosineDistance
        var rng = IVFRandom(seed: options.seed)
        let automatic = min(Int((4 * Double(n).squareRoot()).rounded()), n / 32)
        let nlist = max(1, min(n, options.listCount ?? automatic))

        // Training runs on unit-normalised rows for cosine, made on demand from `vectors`.
        let trainingNorms = cosine ? vectors.withUnsafeBufferPointer { IVFTrainingRows.inverseNorms(of: $0, dimension: dimension) } : nil
        let inverseNorms = trainingNorms ?? []
        var (centroids, labels) = vectors.withUnsafeBufferPointer { v in
            IVFTrainer(rows: IVFTrainingRows(v, inverseNorms: trainingNorms, dimension: dimension),
                       iterations: options.iterations, passes: options.passes)
                .train(listCount: nlist, maxListSizeFactor: options.maxListSizeFactor, rng: &rng)
        }
        // Drop empty lists (k-means re-seeds them, but splitting duplicates can leave some).
        var sizes = [Int](repeating: 0, count: centroids.count / dimension)
        for l in labels { sizes[Int(l)] += 1 }
        var remap = [Int32](repeating: -1, count: sizes.count)
        var kept: [Float] = []
        for (c, size) in sizes.enumerated() where size > 0 {
            remap[c] = Int32(kept.count / dimension)
            kept.append(contentsOf: centroids[(c * dimension)..<((c + 1) * dimension)])
        }
        centroids = kept
        for i in 0..<n { labels[i] = remap[Int(labels[i])] }
        let listCount = centroids.count / dimension

        let curve = vectors.withUnsafeBufferPointer { v in
            IVFRecallEstimator.measure(rows: IVFTrainingRows(v, inverseNorms: trainingNorms, dimension: dimension),
                                       listOf: labels, centroids: centroids, cosine: cosine,
                                       sampleSize: options.recallSampleSize, rng: &rng)
        }

        // Lists: rows in ascending ordinal order; their vectors stay in `vectors` until written.
        var members = [[Int]](repeating: [], count: listCount)
        for i in 0..<n { members[Int(labels[i])].append(i) }
        let lists: [IVFEncoder.List] = members.map { rows in
            let rows = rows.sorted { ordinals[$0] < ordinals[$1] }
            return IVFEncoder.List(ordinals: rows.map { ordinals[$0] }, norms: cosine ? rows.map { inverseNorms[$0] } : [], rows: rows)
        }
        // The quantiser's ranges, sampled from the rows in list order as a reader of a version 1
        // index would (stored, so opening the index reads no vectors).
        var listOfRow: [(list: Int, position: Int)] = []
        listOfRow.reserveCapacity(n)
        for (l, list) in lists.enumerated() { for p in 0..<list.ordinals.count { listOfRow.append((l, p)) } }
        var low = [Float](repeating: .infinity, count: dimension)
        var high = [Float](repeating: -.infinity, count: dimension)
        vectors.withUnsafeBufferPointer { v in
            for r in IVFQuantizedLists.rangeSample(rowCount: n) {
                let (l, p) = listOfRow[r]
                let row = lists[l].rows[p]
                ScalarQuantizer.widen(&low, &high, with: UnsafeBufferPointer(rebasing: v[(row * dimension)..<((row + 1) * dimension)]),
                                      scale: cosine ? lists[l].norms[p] : 1)
            }
        }
        return .trained(IVFIndexDraft(metric: metric, dimension: dimension, ordinalBound: ordinalBound, centroids: centroids,
                                      curve: curve, ranges: IVFQuantizerRanges(low: low, high: high), lists: lists, vectors: vectors))
    }

    /// `draft` written into memory and opened: an index held in memory.
    public static func build(vectors: [Float], dimension: Int, ordinals: [Int32], ordinalBound: Int,
                             metric: DistanceMetric, options: IVFBuildOptions = IVFBuildOptions()) -> IVFBuildResult {
        switch draft(vectors: vectors, dimension: dimension, ordinals: ordinals, ordinalBound: ordinalBound,
                     metric: metric, options: options) {
        case .pending(let reason):
            return .pending(reason: reason)
        case .trained(let draft):
            var bytes = Data(count: draft.encodedLength)
            do {
                try bytes.withUnsafeMutableBytes { try draft.write(into: $0) }
            } catch {
                fatalError("IVFIndex.build: a draft whose rows are in memory cannot fail to write: \(error)")
            }
            do {
                return .trained(try IVFIndex(decoding: bytes, object: "new ivf index", verifyLists: false))
            } catch {
                fatalError("IVFIndex.build wrote bytes it cannot read: \(error)")
            }
        }
    }
}

/// A trained index not yet written. Its length is known before any byte is, so a segment
/// writer can reserve the index's place inside the segment object and have it encoded there:
/// the build then never holds the segment's vectors twice (the matrix and the lists copied
/// from it) nor the index beside the object it is copied into.
public struct IVFIndexDraft: Sendable {
    let metric: DistanceMetric
    let dimension: Int
    let ordinalBound: Int
    let centroids: [Float]
    let curve: [Float]
    let ranges: IVFQuantizerRanges
    let lists: [IVFEncoder.List]
    /// The build's matrix, shared with the caller (not copied), until `spillRows` moves it.
    private var vectors: [Float]
    private var spilled: SpilledMatrix?
    let layout: IVFEncoder.Layout

    init(metric: DistanceMetric, dimension: Int, ordinalBound: Int, centroids: [Float], curve: [Float],
         ranges: IVFQuantizerRanges, lists: [IVFEncoder.List], vectors: [Float]) {
        self.metric = metric
        self.dimension = dimension
        self.ordinalBound = ordinalBound
        self.centroids = centroids
        self.curve = curve
        self.ranges = ranges
        self.lists = lists
        self.vectors = vectors
        layout = IVFEncoder.Layout(dimension: dimension, cosine: metric == .cosineDistance, curvePoints: curve.count, lists: lists)
    }

    /// Bytes of the encoded index (Specs/format/ivf.md).
    public var encodedLength: Int { layout.total }

    /// Bytes of the rows the lists are copied from while they are in memory.
    public var rowBytes: Int { vectors.count * 4 }

    /// Moves the rows to a temporary file (`SpilledMatrix`), so that writing the index holds
    /// them outside the process's memory; the matrix is freed once the caller drops its own
    /// reference to it.
    public mutating func spillRows(directory: String? = nil) throws {
        guard spilled == nil else { return }
        spilled = try SpilledMatrix(vectors, dimension: dimension, directory: directory ?? NSTemporaryDirectory())
        vectors = []
    }

    /// Encodes the index into `out`: exactly `encodedLength` zero-filled bytes at a 64-byte
    /// aligned address. Throws only when spilled rows cannot be read back.
    public func write(into out: UnsafeMutableRawBufferPointer) throws {
        let d = dimension
        if let spilled {
            try IVFEncoder.write(into: out, layout: layout, metric: metric, dimension: d, ordinalBound: ordinalBound,
                                 centroids: centroids, curve: curve, ranges: ranges, lists: lists) { row, to in
                try spilled.read(row: row, into: UnsafeMutableRawPointer(to))
            }
        } else {
            vectors.withUnsafeBufferPointer { v in
                IVFEncoder.write(into: out, layout: layout, metric: metric, dimension: d, ordinalBound: ordinalBound,
                                 centroids: centroids, curve: curve, ranges: ranges, lists: lists) { row, to in
                    to.update(from: v.baseAddress! + row * d, count: d)
                }
            }
        }
    }
}

/// Two-level k-means over the training-space rows (steps 1–5 above).
struct IVFTrainer {
    let rows: IVFTrainingRows
    let iterations: Int
    let passes: Int
    /// Coarse clusters each row remembers; its fine candidates are their centroids.
    let candidatesPerRow = 6

    var count: Int { rows.count }
    var dimension: Int { rows.dimension }

    /// Returns the centroids (`lists × dimension`) and every row's list.
    func train(listCount nlist: Int, maxListSizeFactor: Double, rng: inout IVFRandom) -> ([Float], [Int32]) {
        let coarseCount = max(1, Int(Double(nlist).squareRoot().rounded()))
        let coarse = kmeans(rows: rng.sample(min(count, 256 * coarseCount), from: count), k: coarseCount, rng: &rng)
        let m = min(candidatesPerRow, coarseCount)
        let nearestCoarse = nearest(m, of: coarse)

        // Fine centroids per coarse cluster, in proportion to its size (largest remainder).
        var members = [[Int]](repeating: [], count: coarseCount)
        for i in 0..<count { members[Int(nearestCoarse[i * m])].append(i) }
        var quota = members.map { min($0.count, Int(Double(nlist) * Double($0.count) / Double(count))) }
        var missing = nlist - quota.reduce(0, +)
        let byRemainder = members.indices.sorted {
            let a = Double(nlist) * Double(members[$0].count) / Double(count) - Double(quota[$0])
            let b = Double(nlist) * Double(members[$1].count) / Double(count) - Double(quota[$1])
            return (a, $1) > (b, $0)
        }
        while missing > 0 {
            var progressed = false
            for c in byRemainder where missing > 0 && quota[c] < members[c].count {
                quota[c] += 1
                missing -= 1
                progressed = true
            }
            if !progressed { break }
        }
        var centroids: [Float] = []
        var fineRange: [Range<Int>] = []
        for c in 0..<coarseCount {
            let start = centroids.count / dimension
            if quota[c] > 0 {
                let sample = members[c].count > 256 * quota[c] ? sampled(members[c], 256 * quota[c], &rng) : members[c]
                centroids += kmeans(rows: sample, k: quota[c], rng: &rng)
            }
            fineRange.append(start..<(centroids.count / dimension))
        }

        // Global Lloyd passes with each row's candidates limited to its nearest coarse clusters.
        var labels = [Int32](repeating: 0, count: count)
        for pass in 0...passes {
            assignPruned(centroids: centroids, nearestCoarse: nearestCoarse, m: m, fineRange: fineRange, labels: &labels)
            if pass < passes {
                withScratch { scratch in
                    KMeans.update(count: count, dimension: dimension, labels: labels, centroids: &centroids, rng: &rng) {
                        rows.row($0, scratch: scratch)
                    }
                }
            }
        }
        split(&centroids, &labels, cap: Int((maxListSizeFactor * Double(count) / Double(nlist)).rounded(.up)), rng: &rng)
        return (centroids, labels)
    }

    private func sampled(_ rows: [Int], _ n: Int, _ rng: inout IVFRandom) -> [Int] {
        rng.sample(n, from: rows.count).map { rows[$0] }
    }

    /// k-means on the given rows (gathered into one contiguous matrix).
    private func kmeans(rows members: [Int], k: Int, rng: inout IVFRandom) -> [Float] {
        let gathered = rows.gather(members)
        return gathered.withUnsafeBufferPointer {
            KMeans.train(points: $0, count: members.count, dimension: dimension, k: k, iterations: iterations, rng: &rng)
        }
    }

    /// A buffer for one training-space row.
    private func withScratch<T>(_ body: (UnsafeMutableBufferPointer<Float>) -> T) -> T {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension, body)
    }

    /// For every row, its `m` nearest centroids, nearest first (`count × m`).
    private func nearest(_ m: Int, of centroids: [Float]) -> [Int32] {
        let k = centroids.count / dimension
        let norms = KMeans.squaredNorms(centroids, dimension: dimension)
        var out = [Int32](repeating: 0, count: count * m)
        var dots = [Float](repeating: 0, count: k)
        var top = TopKSelector(k: m)
        withScratch { scratch in centroids.withUnsafeBufferPointer { c in
            for i in 0..<count {
                dots.withUnsafeMutableBufferPointer { d in
                    BatchScorer.dotAllFast(query: rows.row(i, scratch: scratch), matrix: c, dimension: dimension, rows: 0..<k, into: d)
                    for j in 0..<k { d[j] = norms[j] - 2 * d[j] }
                    top.removeAll()
                    top.insert(scores: UnsafeBufferPointer(d), baseOrdinal: 0)
                }
                for (t, e) in top.sortedResults().enumerated() { out[i * m + t] = Int32(e.ordinal) }
            }
        } }
        return out
    }

    private func assignPruned(centroids: [Float], nearestCoarse: [Int32], m: Int, fineRange: [Range<Int>], labels: inout [Int32]) {
        let norms = KMeans.squaredNorms(centroids, dimension: dimension)
        let widest = fineRange.map(\.count).max() ?? 0
        var dots = [Float](repeating: 0, count: widest)
        withScratch { scratch in centroids.withUnsafeBufferPointer { c in
            dots.withUnsafeMutableBufferPointer { d in
                for i in 0..<count {
                    let row = rows.row(i, scratch: scratch)
                    var best = Int32(0)
                    var bestScore = Float.infinity
                    for t in 0..<m {
                        let range = fineRange[Int(nearestCoarse[i * m + t])]
                        guard !range.isEmpty else { continue }
                        BatchScorer.dotAllFast(query: row, matrix: c, dimension: dimension, rows: range, into: d)
                        for (j, centroid) in range.enumerated() {
                            let s = norms[centroid] - 2 * d[j]
                            if s < bestScore { bestScore = s; best = Int32(centroid) }
                        }
                    }
                    labels[i] = best
                }
            }
        } }
    }

    /// Splits every list larger than `cap` into lists of about the mean size.
    private func split(_ centroids: inout [Float], _ labels: inout [Int32], cap: Int, rng: inout IVFRandom) {
        let listCount = centroids.count / dimension
        var members = [[Int]](repeating: [], count: listCount)
        for i in 0..<count { members[Int(labels[i])].append(i) }
        let mean = max(1, count / max(1, listCount))
        for (list, listRows) in members.enumerated() where listRows.count > max(cap, 1) {
            let parts = (listRows.count + mean - 1) / mean
            let gathered = rows.gather(listRows)
            var local = [Int32](repeating: 0, count: listRows.count)
            let sub = gathered.withUnsafeBufferPointer { g in
                let sub = KMeans.train(points: g, count: listRows.count, dimension: dimension, k: parts, iterations: iterations, rng: &rng)
                KMeans.assign(points: g, count: listRows.count, dimension: dimension, centroids: sub, labels: &local)
                return sub
            }
            // Part 0 takes over the list's slot; the others are appended.
            let firstNew = centroids.count / dimension
            for j in 0..<dimension { centroids[list * dimension + j] = sub[j] }
            centroids += sub[dimension...]
            for (i, r) in listRows.enumerated() {
                labels[r] = local[i] == 0 ? Int32(list) : Int32(firstNew + Int(local[i]) - 1)
            }
        }
    }
}
