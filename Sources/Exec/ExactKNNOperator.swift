import Kernels
public import Log
public import Planner
public import Segments

/// Computes the exact distance from the query vector to every candidate row the child
/// produces. Cosine distance is 1 − cos, using the stored 1/‖v‖ of each row.
public final class ExactKNNOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let projection: NamespaceProjection
    private let metric: DistanceMetric
    private let query: [Float]
    private let inverseQueryNorm: Float

    public init(child: any PhysicalOperator, metric: DistanceMetric, query: [Float], context: ExecutionContext) {
        self.child = child
        projection = context.projection
        self.metric = metric
        self.query = query
        let norm = VectorDistance.squaredNorm(query).squareRoot()
        inverseQueryNorm = norm > 0 ? 1 / norm : 0
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard let vectors = projection.vectors else { return nil }
            while let input = try child.next() {
                actuals.rowsExamined += input.count
                let candidates = input.rows.filter { projection.hasVector[Int($0)] }
                if candidates.isEmpty { continue }
                return RowBatch(rows: candidates, scores: distances(candidates, vectors))
            }
            return nil
        }
    }

    /// Distances for rows that may span chunks; each run of rows inside one chunk is scored
    /// with one kernel call (a contiguous range when the run has no gaps).
    private func distances(_ rows: [Int32], _ vectors: ChunkedColumn<Float>) -> [Float] {
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
                                out[i] = 1 - out[i] * projection.inverseNorms[row] * inverseQueryNorm
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
