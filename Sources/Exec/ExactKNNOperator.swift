import Kernels
public import Log
public import Planner
public import Segments

/// Computes the exact distance from the query vector to every candidate row the child
/// produces. Cosine distance is 1 − cos, using the stored 1/‖v‖ of each row.
public final class ExactKNNOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let scorer: ExactVectorScorer

    public init(child: any PhysicalOperator, metric: DistanceMetric, query: [Float], context: ExecutionContext) {
        self.child = child
        scorer = ExactVectorScorer(sources: context.sources, metric: metric, query: query)
        super.init(children: [child])
    }

    /// Rows of the segment being read, scored together once its batches are all in: a
    /// segment's vectors may live in IVF lists, and one placement over all its rows turns an
    /// unfiltered scan into whole-list kernel calls instead of a few rows per list per batch.
    private var collecting: RowBatch?
    private var ready: [RowBatch] = []

    public func next() throws -> RowBatch? {
        try measured {
            while ready.isEmpty {
                try Task.checkCancellation()
                let input = try child.next()
                if let held = collecting, held.source != input?.source {
                    collecting = nil
                    if let scored = try scorer.score(held) { ready.append(scored) }
                }
                guard let input else { break }
                actuals.rowsExamined += input.count
                if case .segment = scorer.sources[input.source] {
                    if collecting == nil { collecting = input } else { collecting!.rows += input.rows }
                } else if let scored = try scorer.score(input) {
                    ready.append(scored)
                }
            }
            return ready.isEmpty ? nil : ready.removeFirst()
        }
    }
}

/// Exact distances from one query vector to the rows of a batch (of one source), with the
/// source's own vector layout: tail chunks, or a segment's contiguous matrix.
struct ExactVectorScorer {
    let sources: [RowSource]
    let metric: DistanceMetric
    let query: [Float]
    let inverseQueryNorm: Float

    init(sources: [RowSource], metric: DistanceMetric, query: [Float]) {
        self.sources = sources
        self.metric = metric
        self.query = query
        let norm = VectorDistance.squaredNorm(query).squareRoot()
        inverseQueryNorm = norm > 0 ? 1 / norm : 0
    }

    func score(_ input: RowBatch) throws -> RowBatch? {
        precondition(input.source >= 0, "vector scans take batches of one source")
        switch sources[input.source] {
        case .tail(let projection):
            guard let vectors = projection.vectors else { return nil }
            let candidates = input.rows.filter { projection.hasVector[Int($0)] }
            guard !candidates.isEmpty else { return nil }
            // Vectors are stored by slot (rows without one take no space); slots grow with rows.
            let slots = candidates.map { projection.vectorSlot[Int($0)] }
            return RowBatch(source: input.source, rows: candidates, scores: distances(slots, vectors, projection.inverseNorms))
        case .segment(let view):
            return try segmentDistances(input, view.segment.vectors)
        }
    }

    /// Distances to segment rows, block by block of the segment's vector storage (its matrix,
    /// or its IVF lists): each block is one kernel call over the wanted positions, a plain
    /// range when they are consecutive (a whole list of an unfiltered scan).
    private func segmentDistances(_ input: RowBatch, _ vectors: SegmentVectors?) throws -> RowBatch? {
        guard let vectors else { return nil }
        let placement = vectors.placement(of: input.rows)
        guard !placement.rows.isEmpty else { return nil }
        var scores = [Float](repeating: 0, count: placement.rows.count)
        var scratch: [Float] = []
        let cosine = metric == .cosineDistance
        try query.withUnsafeBufferPointer { q in
            try scores.withUnsafeMutableBufferPointer { out in
                try vectors.forEachBlock(placement) { block in
                    let n = block.positions.count
                    func fill(_ into: UnsafeMutableBufferPointer<Float>) {
                        if let range = block.contiguous {
                            score(q, block.matrix, vectors.dimension, rows: range, into: into)
                        } else {
                            score(q, block.matrix, vectors.dimension, ordinals: block.positions, into: into)
                        }
                        if cosine {
                            for i in 0..<n {
                                into[i] = Self.cosineDistance(dot: into[i], inverseNorm: block.inverseNorms[Int(block.positions[i])],
                                                              inverseQueryNorm: inverseQueryNorm)
                            }
                        }
                    }
                    guard let entries = block.entries else {
                        fill(UnsafeMutableBufferPointer(rebasing: out[block.firstEntry..<(block.firstEntry + n)]))
                        return
                    }
                    if scratch.count < n { scratch = [Float](repeating: 0, count: n) }
                    scratch.withUnsafeMutableBufferPointer { s in
                        let s = UnsafeMutableBufferPointer(rebasing: s[0..<n])
                        fill(s)
                        for i in 0..<n { out[Int(entries[i])] = s[i] }
                    }
                }
            }
        }
        return RowBatch(source: input.source, rows: placement.rows, scores: scores)
    }

    /// 1 − cos, clamped at 0: rounding makes a vector's distance to itself a tiny negative
    /// number, and clients compute 1 − dist (Specs/query/semantics.md).
    @inline(__always)
    static func cosineDistance(dot: Float, inverseNorm: Float, inverseQueryNorm: Float) -> Float {
        max(0, 1 - dot * inverseNorm * inverseQueryNorm)
    }

    /// Distances for rows that may span chunks; each run of rows inside one chunk is scored
    /// with one kernel call (a contiguous range when the run has no gaps).
    private func distances(_ rows: [Int32], _ vectors: ChunkedColumn<Float>, _ inverseNorms: ChunkedColumn<Float>) -> [Float] {
        var scores = [Float](repeating: 0, count: rows.count)
        let dimension = vectors.width
        var start = 0
        query.withUnsafeBufferPointer { q in
            scores.withUnsafeMutableBufferPointer { out in
                while start < rows.count {
                    vectors.withChunk(containing: Int(rows[start])) { first, visible, matrix in
                        var end = start
                        while end < rows.count, Int(rows[end]) < first + visible { end += 1 }
                        let slice = UnsafeMutableBufferPointer(rebasing: out[start..<end])
                        let lo = Int(rows[start]) - first, hi = Int(rows[end - 1]) - first
                        if hi - lo + 1 == end - start {
                            score(q, matrix, dimension, rows: lo..<(hi + 1), into: slice)
                        } else if (end - start) * 3 >= hi - lo + 1 {
                            // Dense run (a filter kept a third or more): streaming over the
                            // whole range and keeping the wanted rows beats gathering them.
                            var dense = [Float](repeating: 0, count: hi - lo + 1)
                            dense.withUnsafeMutableBufferPointer { score(q, matrix, dimension, rows: lo..<(hi + 1), into: $0) }
                            for i in start..<end { out[i] = dense[Int(rows[i]) - first - lo] }
                        } else {
                            let local = rows[start..<end].map { $0 - Int32(first) }
                            local.withUnsafeBufferPointer { score(q, matrix, dimension, ordinals: $0, into: slice) }
                        }
                        if metric == .cosineDistance {
                            for i in start..<end {
                                let row = Int(rows[i])
                                out[i] = Self.cosineDistance(dot: out[i], inverseNorm: inverseNorms[row], inverseQueryNorm: inverseQueryNorm)
                            }
                        }
                        start = end
                    }
                }
            }
        }
        return scores
    }

    private func score(_ q: UnsafeBufferPointer<Float>, _ m: UnsafeBufferPointer<Float>, _ d: Int, rows: Range<Int>,
                       into out: UnsafeMutableBufferPointer<Float>) {
        switch metric {
        case .cosineDistance: BatchScorer.dotAll(query: q, matrix: m, dimension: d, rows: rows, into: out)
        case .euclideanSquared: BatchScorer.l2SquaredAll(query: q, matrix: m, dimension: d, rows: rows, into: out)
        }
    }

    private func score(_ q: UnsafeBufferPointer<Float>, _ m: UnsafeBufferPointer<Float>, _ d: Int, ordinals: UnsafeBufferPointer<Int32>,
                       into out: UnsafeMutableBufferPointer<Float>) {
        switch metric {
        case .cosineDistance: BatchScorer.dotAll(query: q, matrix: m, dimension: d, ordinals: ordinals, into: out)
        case .euclideanSquared: BatchScorer.l2SquaredAll(query: q, matrix: m, dimension: d, ordinals: ordinals, into: out)
        }
    }
}
