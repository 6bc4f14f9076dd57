public import Foundation
public import Kernels
public import Log
public import Store

/// Which rows a filtered search may return, by segment ordinal.
public enum IVFFilter {
    /// Rows whose ordinal is a member (ordinals at or past `count` are not members).
    case bitset(Bitset)
    /// Rows for which the predicate holds (called once per row of each probed list).
    case predicate((Int) -> Bool)

    /// Writes the in-list positions and ordinals of the rows that pass into the scratch
    /// buffers (each at least `listOrdinals.count` long); returns how many passed.
    func select(_ listOrdinals: UnsafeBufferPointer<Int32>, positions: inout [Int32], ordinals: inout [Int32]) -> Int {
        var n = 0
        switch self {
        case .bitset(let members):
            for (i, o) in listOrdinals.enumerated() where Int(o) < members.count && members.contains(Int(o)) {
                positions[n] = Int32(i)
                ordinals[n] = o
                n += 1
            }
        case .predicate(let keep):
            for (i, o) in listOrdinals.enumerated() where keep(Int(o)) {
                positions[n] = Int32(i)
                ordinals[n] = o
                n += 1
            }
        }
        return n
    }
}

/// One search's scoring of probed lists (exact f32, or quantised then re-ranked).
protocol IVFListScanner {
    /// Rows that can be returned so far (widening continues while fewer than k).
    var found: Int { get }
    var listsProbed: Int { get }
    /// Rows scored (those passing the filter).
    var vectorsScanned: Int { get }
    mutating func scan(list: Int) throws
    /// The best rows with their exact distances, best first.
    mutating func results() throws -> [ScoredOrdinal]
}

/// The answer of one search, best first, plus what it cost (for `explain`).
public struct IVFSearchResult: Sendable {
    /// Ascending distance, ties by ascending ordinal; `score` is the metric's distance,
    /// computed exactly as the exact path does (`IVFIndex.cosineDistance` for cosine).
    public var neighbors: [ScoredOrdinal]
    /// Lists scanned, including lists added by widening.
    public var listsProbed: Int
    /// Distances computed.
    public var vectorsScanned: Int
}

/// An IVF-Flat index over one segment's vectors, working directly over its encoded bytes
/// (Specs/format/ivf.md). Immutable and thread-safe: any number of searches may run at once.
///
/// ```swift
/// switch IVFIndex.build(vectors: matrix, dimension: 384, ordinals: rows, ordinalBound: n, metric: .cosineDistance) {
/// case .trained(let index): segmentParts.append(index.bytes)
/// case .pending(let reason): print(reason)   // scan exactly meanwhile
/// }
/// let index = try IVFIndex(decoding: partBytes)
/// let top = index.search(query, k: 10, probes: index.probes(forRecall: 0.95))
/// ```
public final class IVFIndex: Sendable {
    /// The decoded head: metric, dimension, centroids, recall curve, list directory.
    public let head: IVFHead
    /// Where the list blocks are read from: in memory, or a local file.
    let storage: IVFListBytes
    /// Per row in list order: ordinal, inverse norm; and where each list starts.
    let rows: IVFListRows
    /// Names the index in errors.
    let object: String
    private let centroidNorms: [Float]
    let largestList: Int
    /// The derived 8-bit copy of the lists the first pass scans.
    let quantized: IVFQuantizedLists
    /// The derived 8-bit copy of the centroids that picks the lists to probe.
    private let centroidCodes = IVFCentroidCodesCache()

    public var metric: DistanceMetric { head.metric }
    public var dimension: Int { head.dimension }
    public var listCount: Int { head.listCount }
    public var vectorCount: Int { head.vectorCount }
    public var recallCurve: IVFRecallCurve { head.recallCurve }

    /// The index's bytes when it is held in memory (nil when its lists are read from a file).
    public var residentBytes: Data? {
        if case .resident(let bytes) = storage { return bytes }
        return nil
    }

    /// Decodes and verifies an index held in memory. With `verifyLists` every list's checksum
    /// and ordinals are checked too (a pass over all bytes); without, only the head is. Bytes
    /// whose start is not 4-byte aligned are copied once so the float blocks can be read in place.
    public convenience init(decoding bytes: Data, object: String = "ivf", verifyLists: Bool = true) throws {
        let aligned = bytes.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
        let data = aligned ? bytes : bytes.withUnsafeBytes { Data($0) }  // one copy into a fresh, aligned buffer
        let head = try data.withUnsafeBytes { raw in
            let head = try IVFHead.decode(raw, object: object)
            guard raw.count == head.totalLength else {
                throw FormatError(.corrupt, object: object, "\(raw.count) bytes, the head describes \(head.totalLength)")
            }
            if verifyLists {
                for list in 0..<head.listCount {
                    try head.verify(list: list, block: UnsafeRawBufferPointer(rebasing: raw[head.byteRange(ofList: list)]), object: object)
                    if head.storesCodes {
                        try head.verifyCodes(list: list, block: UnsafeRawBufferPointer(rebasing: raw[head.codeByteRange(ofList: list)]), object: object)
                    }
                }
            }
            return head
        }
        try self.init(head: head, storage: .resident(data), object: object, checked: verifyLists)
    }

    /// Opens an index whose bytes a local file holds (Specs/format/ivf.md §2, ranged reads):
    /// reads and checks the head, reads each list's ordinals and norms (and, for a version 1
    /// index, samples rows for the 8-bit copy's ranges); codes and vectors are read when
    /// searches need them, each list's block checked against its checksum when first read.
    public convenience init(reading reader: LocalRangeReader, object: String = "ivf") throws {
        guard reader.length >= IVFHead.headerSize else {
            throw FormatError(.corrupt, object: object, "\(reader.length) bytes is shorter than an IVF header")
        }
        let header = try reader.read(at: 0, count: IVFHead.headerSize)
        let headLength = try header.withUnsafeBytes { try IVFHead.headLength(header: $0, object: object) }
        guard headLength <= reader.length else {
            throw FormatError(.corrupt, object: object, "head of \(headLength) bytes in an index of \(reader.length)")
        }
        do {
            // Mapped rather than read: the head is mostly centroids (2 MB at 1,375 × 384), which
            // decoding copies out once; a read would first copy them into zero-filled memory
            // (a restarted node's first query paid ~2 ms for that).
            let mapping = try? reader.mapped(at: 0, count: headLength)
            let headBytes = try mapping.flatMap { $0.count == headLength ? $0 : nil } ?? reader.read(at: 0, count: headLength)
            let head = try headBytes.withUnsafeBytes { try IVFHead.decode($0, object: object) }
            guard reader.length == head.totalLength else {
                throw FormatError(.corrupt, object: object, "\(reader.length) bytes, the head describes \(head.totalLength)")
            }
            try self.init(head: head, storage: .file(reader, checked: IVFCheckedLists(listCount: head.listCount)), object: object, checked: false)
        } catch let error as FormatError {
            reader.reportDamage()  // a cache drops its copy
            throw error
        }
    }

    /// `checked`: every list and codes block passed its checksum already.
    private init(head: IVFHead, storage: IVFListBytes, object: String, checked: Bool) throws {
        self.head = head
        self.storage = storage
        self.object = object
        // Opening reads every list's ordinals and norms (and, for a version 1 index, a sample
        // of rows). The sample's thousands of scattered reads go through a mapping of the file
        // (see `forSampling`); without a sample, one positional read per list costs less than
        // faulting a page in per list (1,375 lists: ~3 ms against 6–9 ms on a restarted node).
        let sampled = head.quantizerRanges == nil ? storage.forSampling() : storage
        rows = try IVFListRows(head: head, object: object) { list, prefix in try sampled.readPrefix(head, list: list, into: prefix) }
        centroidNorms = KMeans.squaredNorms(head.centroids, dimension: head.dimension)
        largestList = head.lists.map(\.count).max() ?? 0
        quantized = try IVFQuantizedLists(head: head, rows: rows, storage: storage, checked: checked) { [rows] row, buffer, body in
            let list = rows.list(containing: row)
            try sampled.withVector(head, list: list, position: row - rows.listStart[list], buffer, object: object, unchecked: true, body)
        }
    }

    /// Memory this index holds: the resident bytes (none when file-backed), the centroids,
    /// the row fields and the 8-bit copy once every list is encoded.
    public var heldBytes: Int {
        (residentBytes?.count ?? 0) + 4 * head.centroids.count + rows.heldBytes + quantized.memoryBytes
    }

    /// The 8-bit quantiser's ranges: from the head (format version 2), else sampled on open.
    public var quantizerRanges: IVFQuantizerRanges { quantized.ranges }

    /// Memory held by the derived quantised copy (beside `bytes`): about a quarter of the
    /// vectors for an index that does not store its codes, next to nothing for one that does.
    public var quantizedMemoryBytes: Int { quantized.memoryBytes }

    /// Whether the 8-bit first pass reads the index's stored codes (format version 3) rather
    /// than encoding its vectors.
    public var readsStoredCodes: Bool { quantized.readsStoredCodes }

    /// How many times more often real queries miss a true neighbour than the build-time
    /// estimate says. The estimate queries with the segment's own rows, which sit closer to
    /// their neighbours than typical queries: on WordNet-117k (sentence queries against
    /// definitions) the measured miss rate was 1.5–2.2× the estimate, so targets are met with
    /// this margin.
    public static let queryMissFactor = 2.5

    /// The fewest probes that reach `target` recall@10: the curve is asked for a miss rate
    /// `queryMissFactor` times smaller than `1 − target`. Within 1...listCount.
    public func probes(forRecall target: Double) -> Int {
        let estimate = 1 - (1 - target) / Self.queryMissFactor
        return min(listCount, max(1, recallCurve.probes(forRecall: estimate)))
    }

    /// Cosine distance exactly as the exact path computes it: 1 − dot · (1/‖v‖) · (1/‖q‖),
    /// multiplied left to right, not clamped (so both paths agree bit for bit).
    @inlinable
    public static func cosineDistance(dot: Float, inverseNorm: Float, inverseQueryNorm: Float) -> Float {
        1 - dot * inverseNorm * inverseQueryNorm
    }

    /// How many candidates per wanted row the quantised first pass keeps for exact re-ranking.
    /// A true neighbour is lost only when the 8-bit estimate pushes it below the best
    /// `k × rerankFactor` estimates; measured on WordNet-117k (k = 10) at 4 the loss is nil.
    public static let rerankFactor = 4

    /// How a search scores the probed lists.
    public enum Scan: Sendable {
        /// 8-bit estimates over the derived quantised copy, then exact f32 distances for the
        /// best `k × rerankFactor` (the default, with `IVFIndex.rerankFactor`: a quarter of the
        /// memory traffic).
        case quantized(rerankFactor: Int)
        /// Exact f32 distances for every row of every probed list.
        case exact
    }

    /// The `k` nearest rows among the lists of the `probes` nearest centroids. When fewer than
    /// `k` rows (that pass `filter`) were found, further lists are probed in centroid order
    /// until `k` are found or every list was probed, so `k` rows come back whenever `k` match.
    /// With a filter, lists are also added until as many matching rows were scored as the
    /// probed lists hold in all (Specs/format/ivf.md §5). Scores are exact whichever `scan`.
    ///
    /// - Precondition: `query.count == dimension`, `k >= 0`.
    public func search(_ query: [Float], k: Int, probes: Int, filter: IVFFilter? = nil) throws -> IVFSearchResult {
        try search(query, k: k, probes: probes, filter: filter, scan: .quantized(rerankFactor: Self.rerankFactor))
    }

    /// `search` with an explicit scan (benchmarks and tests compare both).
    /// Throws `FormatError` (`corrupt`) when a list read from a file fails its checksum, and
    /// `StoreError` when the read itself fails.
    public func search(_ query: [Float], k: Int, probes: Int, filter: IVFFilter?, scan mode: Scan) throws -> IVFSearchResult {
        precondition(query.count == dimension, "IVFIndex.search: query has \(query.count) floats, index has \(dimension)")
        precondition(k >= 0, "IVFIndex.search: negative k")
        guard k > 0 else { return IVFSearchResult(neighbors: [], listsProbed: 0, vectorsScanned: 0) }
        switch mode {
        case .exact:
            var scan = ListScan(index: self, query: query, k: k, filter: filter)
            return try probe(query, k: k, probes: probes, filter: filter, inverseQueryNorm: scan.inverseQueryNorm, &scan)
        case .quantized(let factor):
            var scan = QuantizedScan(index: self, query: query, k: k, candidates: k * max(1, factor), filter: filter)
            return try probe(query, k: k, probes: probes, filter: filter, inverseQueryNorm: scan.exact.inverseQueryNorm, &scan)
        }
    }

    /// Runs `scan` over the nearest lists, widening as `search` describes.
    private func probe<S: IVFListScanner>(_ query: [Float], k: Int, probes: Int, filter: IVFFilter?, inverseQueryNorm: Float,
                                          _ scan: inout S) throws -> IVFSearchResult {
        let initial = min(listCount, max(1, probes))
        let first = nearestLists(query, inverseQueryNorm: inverseQueryNorm, count: initial)
        // A filter widens the scan until it has scored as many matching rows as the unfiltered
        // scan of the same probes would score: the scoring work (and, for a filter unrelated to
        // the geometry, the recall) then matches the unfiltered search's, and a selective filter
        // ends up as an exact scan of its matching rows.
        let budget = filter == nil ? 0 : first.reduce(0) { $0 + head.lists[$1.ordinal].count }
        for c in first { try scan.scan(list: c.ordinal) }
        if (scan.found < k || scan.vectorsScanned < budget) && initial < listCount {
            let centroidScores = self.centroidScores(query, inverseQueryNorm: inverseQueryNorm)
            var probed = [Bool](repeating: false, count: listCount)
            for c in first { probed[c.ordinal] = true }
            let rest = (0..<listCount).sorted { (centroidScores[$0], $0) < (centroidScores[$1], $1) }
            for list in rest where !probed[list] && (scan.found < k || scan.vectorsScanned < budget) {
                try scan.scan(list: list)
            }
        }
        return IVFSearchResult(neighbors: try scan.results(), listsProbed: scan.listsProbed, vectorsScanned: scan.vectorsScanned)
    }

    /// `search` with the probes the recall curve picks for `recallTarget`.
    public func search(_ query: [Float], k: Int, recallTarget: Double, filter: IVFFilter? = nil) throws -> IVFSearchResult {
        try search(query, k: k, probes: probes(forRecall: recallTarget), filter: filter)
    }

    /// The `count` lists whose centroids score best (`centroidScores`, ties by lower list),
    /// best first. Large indexes estimate every centroid's score from its 8-bit copy, then
    /// score exactly the best `count` + a margin of the estimates (a quarter more, at least 16):
    /// the 8-bit error moves a centroid by a rank or two, so the exact top `count` is among them
    /// and the answer is the one the exact scores of every centroid would give.
    public func nearestLists(_ query: [Float], inverseQueryNorm: Float, count: Int) -> [ScoredOrdinal] {
        let shortlist = count + max(16, count / 4)
        var nearest = TopKSelector(k: count)
        guard shortlist * 4 < listCount else {
            centroidScores(query, inverseQueryNorm: inverseQueryNorm).withUnsafeBufferPointer { nearest.insert(scores: $0, baseOrdinal: 0) }
            return nearest.sortedResults()
        }
        let scale: Float = metric == .cosineDistance ? 2 * inverseQueryNorm : 2
        var estimates = TopKSelector(k: shortlist)
        var scores = [Float](repeating: 0, count: listCount)
        query.withUnsafeBufferPointer { q in
            scores.withUnsafeMutableBufferPointer { out in
                centroidCodes.codes(head).estimateDots(q, into: out)
                for j in 0..<listCount { out[j] = centroidNorms[j] - scale * out[j] }
                estimates.insert(scores: UnsafeBufferPointer(out), baseOrdinal: 0)
            }
            let candidates = estimates.sortedResults().map { Int32($0.ordinal) }
            head.centroids.withUnsafeBufferPointer { c in
                candidates.withUnsafeBufferPointer { rows in
                    scores.withUnsafeMutableBufferPointer { out in
                        let dots = UnsafeMutableBufferPointer(rebasing: out[0..<rows.count])
                        BatchScorer.dotAllFast(query: q, matrix: c, dimension: dimension, ordinals: rows, into: dots)
                        for i in 0..<rows.count { dots[i] = centroidNorms[Int(rows[i])] - scale * dots[i] }
                        nearest.insert(scores: UnsafeBufferPointer(dots), ordinals: rows)
                    }
                }
            }
        }
        return nearest.sortedResults()
    }

    /// ‖c‖² − 2·q'·c per centroid, where q' is the query in the training space (unit length for
    /// cosine): the squared distance to each centroid up to a constant.
    private func centroidScores(_ query: [Float], inverseQueryNorm: Float) -> [Float] {
        var scores = [Float](repeating: 0, count: listCount)
        let scale: Float = metric == .cosineDistance ? 2 * inverseQueryNorm : 2
        query.withUnsafeBufferPointer { q in
            head.centroids.withUnsafeBufferPointer { c in
                scores.withUnsafeMutableBufferPointer { out in
                    BatchScorer.dotAllFast(query: q, matrix: c, dimension: dimension, rows: 0..<listCount, into: out)
                    for j in 0..<listCount { out[j] = centroidNorms[j] - scale * out[j] }
                }
            }
        }
        return scores
    }

    /// Per-search state: the query, the bounded heap and scratch buffers sized for the largest
    /// list, so scanning allocates nothing per list or per row.
    struct ListScan: IVFListScanner {
        let index: IVFIndex
        let query: [Float]
        let inverseQueryNorm: Float
        let filter: IVFFilter?
        var top: TopKSelector
        var scores: [Float]
        var positions: [Int32]
        var ordinals: [Int32]
        /// Blocks and vectors read from a file-backed index.
        let buffer = IVFReadBuffer()
        var listsProbed = 0
        var vectorsScanned = 0
        /// Rows kept (a NaN distance is never kept, so this may trail `vectorsScanned`).
        var found: Int { top.count }

        /// Without `scratch` the scan can only compute single distances (`distance`).
        init(index: IVFIndex, query: [Float], k: Int, filter: IVFFilter?, scratch: Bool = true) {
            self.index = index
            self.query = query
            let norm = VectorDistance.squaredNorm(query).squareRoot()
            inverseQueryNorm = norm > 0 ? 1 / norm : 0
            self.filter = filter
            top = TopKSelector(k: k)
            scores = scratch ? [Float](repeating: 0, count: index.largestList) : []
            positions = filter == nil || !scratch ? [] : [Int32](repeating: 0, count: index.largestList)
            ordinals = positions
        }

        mutating func results() -> [ScoredOrdinal] { top.sortedResults() }

        /// The exact distance of row `row` (in list order), as `scan` computes it.
        func distance(row: Int) throws -> Float {
            let rows = index.rows
            let list = rows.list(containing: row)
            let cosine = index.metric == .cosineDistance
            return try index.withVector(list: list, position: row - rows.listStart[list], buffer) { vector in
                var out: Float = 0
                query.withUnsafeBufferPointer { q in
                    withUnsafeMutablePointer(to: &out) { o in
                        let one = UnsafeMutableBufferPointer(start: o, count: 1)
                        if cosine {
                            BatchScorer.dotAll(query: q, matrix: vector, dimension: vector.count, rows: 0..<1, into: one)
                            o.pointee = IVFIndex.cosineDistance(dot: o.pointee, inverseNorm: rows.inverseNorms[row], inverseQueryNorm: inverseQueryNorm)
                        } else {
                            BatchScorer.l2SquaredAll(query: q, matrix: vector, dimension: vector.count, rows: 0..<1, into: one)
                        }
                    }
                }
                return out
            }
        }

        mutating func scan(list: Int) throws {
            listsProbed += 1
            let count = index.head.lists[list].count
            guard count > 0 else { return }
            let start = index.rows.listStart[list]
            let matched = index.rows.ordinals.withUnsafeBufferPointer { all in
                filter.map { $0.select(UnsafeBufferPointer(rebasing: all[start..<(start + count)]), positions: &positions, ordinals: &ordinals) } ?? count
            }
            guard matched > 0 else { return }
            vectorsScanned += matched
            let layout = index.head.layout(ofList: list)
            let d = index.dimension
            let cosine = index.metric == .cosineDistance
            let qinv = inverseQueryNorm
            try index.withBlock(list, buffer) { block in
                let matrix = UnsafeBufferPointer(start: (block.baseAddress! + layout.vectorsOffset).assumingMemoryBound(to: Float.self), count: count * d)
                index.rows.ordinals.withUnsafeBufferPointer { all in
                    index.rows.inverseNorms.withUnsafeBufferPointer { norms in
                        let listOrdinals = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
                        let inv = cosine ? UnsafeBufferPointer(rebasing: norms[start..<(start + count)]) : norms
                        query.withUnsafeBufferPointer { q in
                            scores.withUnsafeMutableBufferPointer { out in
                                let out = UnsafeMutableBufferPointer(rebasing: out[0..<matched])
                                if matched == count {
                                    if cosine {
                                        BatchScorer.dotAll(query: q, matrix: matrix, dimension: d, rows: 0..<count, into: out)
                                        for i in 0..<count {
                                            out[i] = IVFIndex.cosineDistance(dot: out[i], inverseNorm: inv[i], inverseQueryNorm: qinv)
                                        }
                                    } else {
                                        BatchScorer.l2SquaredAll(query: q, matrix: matrix, dimension: d, rows: 0..<count, into: out)
                                    }
                                    top.insert(scores: UnsafeBufferPointer(out), ordinals: listOrdinals)
                                } else {
                                    positions.withUnsafeBufferPointer { p in
                                        let p = UnsafeBufferPointer(rebasing: p[0..<matched])
                                        if cosine {
                                            BatchScorer.dotAll(query: q, matrix: matrix, dimension: d, ordinals: p, into: out)
                                            for i in 0..<matched {
                                                out[i] = IVFIndex.cosineDistance(dot: out[i], inverseNorm: inv[Int(p[i])], inverseQueryNorm: qinv)
                                            }
                                        } else {
                                            BatchScorer.l2SquaredAll(query: q, matrix: matrix, dimension: d, ordinals: p, into: out)
                                        }
                                        ordinals.withUnsafeBufferPointer { ords in
                                            top.insert(scores: UnsafeBufferPointer(out), ordinals: UnsafeBufferPointer(rebasing: ords[0..<matched]))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
