// One query against many rows of a contiguous row-major matrix.
//
// Matrix layout: row r occupies `matrix[r * dimension ..< (r + 1) * dimension]`. Only the rows
// addressed by a call are read, so `matrix.count` need not be a multiple of `dimension` as long
// as every addressed row lies inside it.
//
// Measured (x86-64, default SSE2 target, release, 117,659 × 384 f32 = 180 MB): the plain
// one-row-at-a-time loop over `_FloatSpan.dot` scans at ≈6 ms (≈30 GB/s), which is the memory
// bandwidth of the machine. A 4-rows-per-iteration variant sharing query loads was measured at
// 20–23 ms (SIMD16/SIMD8 accumulators spill on 16 xmm registers), so it is not used.
//
// Each row's score is computed by exactly the same arithmetic as `VectorDistance.dot` /
// `VectorDistance.l2Squared` on that row, so results are bit-identical across the range,
// ordinal and single-vector entry points.

internal import CKernels

/// Scores one query vector against many matrix rows, writing one score per row.
public enum BatchScorer {
    /// `dotAll` on the widest instruction set of the CPU (`KernelISA`): with AVX2 and FMA,
    /// four rows per pass share the query loads and products are fused, so the last bits may
    /// differ from `dotAll`'s. For rankings that are never compared with exact scores
    /// (centroids, k-means); scores a caller returns use `dotAll`.
    ///
    /// - Precondition: as for `dotAll(query:matrix:dimension:rows:into:)`.
    public static func dotAllFast(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        rows: Range<Int>,
        into out: UnsafeMutableBufferPointer<Float>,
        isa: KernelISA = .best
    ) {
        guard isa == .avx2 else {
            return dotAll(query: query, matrix: matrix, dimension: dimension, rows: rows, into: out)
        }
        _checkRange(query: query, matrix: matrix, dimension: dimension, rows: rows, out: out)
        guard !rows.isEmpty, let q = query.baseAddress, let m = matrix.baseAddress, let o = out.baseAddress else { return }
        lagoon_float_dot_range_avx2(q, m, dimension, rows.lowerBound, rows.count, o)
    }

    /// `out[i] = dot(query, row(rows.lowerBound + i))` for every row in `rows`.
    ///
    /// - Precondition: `dimension > 0`, `query.count == dimension`, `rows` lies inside the
    ///   matrix (`rows.upperBound * dimension <= matrix.count`), `out.count >= rows.count`.
    @inlinable
    public static func dotAll(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        rows: Range<Int>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        _checkRange(query: query, matrix: matrix, dimension: dimension, rows: rows, out: out)
        let q = _FloatSpan(query)
        let m = _FloatSpan(matrix)
        guard let o = out.baseAddress else { return }
        var offset = rows.lowerBound &* dimension
        for i in 0..<rows.count {
            o[i] = q.dot(m.slice(offset, dimension))
            offset &+= dimension
        }
    }

    /// `dotAllFast` for an arbitrary list of rows; every row's value is bit-identical to the
    /// one the range variant computes for it (same instruction set).
    ///
    /// - Precondition: as for `dotAll(query:matrix:dimension:ordinals:into:)`.
    public static func dotAllFast(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        ordinals: UnsafeBufferPointer<Int32>,
        into out: UnsafeMutableBufferPointer<Float>,
        isa: KernelISA = .best
    ) {
        guard isa == .avx2 else {
            return dotAll(query: query, matrix: matrix, dimension: dimension, ordinals: ordinals, into: out)
        }
        let rowCount = _checkOrdinals(query: query, matrix: matrix, dimension: dimension, ordinals: ordinals, out: out)
        for r in ordinals { precondition(r >= 0 && Int(r) < rowCount, "BatchScorer: ordinal \(r) outside 0..<\(rowCount)") }
        guard !ordinals.isEmpty, let q = query.baseAddress, let m = matrix.baseAddress, let o = out.baseAddress,
              let rows = ordinals.baseAddress else { return }
        lagoon_float_dot_rows_avx2(q, m, dimension, rows, ordinals.count, o)
    }

    /// `out[i] = l2Squared(query, row(rows.lowerBound + i))` for every row in `rows`.
    ///
    /// - Precondition: as for `dotAll(query:matrix:dimension:rows:into:)`.
    @inlinable
    public static func l2SquaredAll(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        rows: Range<Int>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        _checkRange(query: query, matrix: matrix, dimension: dimension, rows: rows, out: out)
        let q = _FloatSpan(query)
        let m = _FloatSpan(matrix)
        guard let o = out.baseAddress else { return }
        var offset = rows.lowerBound &* dimension
        for i in 0..<rows.count {
            o[i] = q.l2Squared(m.slice(offset, dimension))
            offset &+= dimension
        }
    }

    /// `out[i] = dot(query, row(ordinals[i]))` for an arbitrary list of row ordinals
    /// (any order, duplicates allowed).
    ///
    /// - Precondition: `dimension > 0`, `query.count == dimension`,
    ///   `out.count >= ordinals.count`, and every ordinal addresses a row inside the matrix.
    ///   Ordinals are checked one by one (one compare per row, negligible next to the row's
    ///   `dimension` multiply-adds), so a corrupt ordinal traps instead of reading stray memory.
    @inlinable
    public static func dotAll(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        ordinals: UnsafeBufferPointer<Int32>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let rowCount = _checkOrdinals(query: query, matrix: matrix, dimension: dimension, ordinals: ordinals, out: out)
        let q = _FloatSpan(query)
        let m = _FloatSpan(matrix)
        for i in 0..<ordinals.count {
            let r = Int(ordinals[i])
            precondition(r >= 0 && r < rowCount, "BatchScorer: ordinal \(r) outside 0..<\(rowCount)")
            out[i] = q.dot(m.slice(r &* dimension, dimension))
        }
    }

    /// `out[i] = l2Squared(query, row(ordinals[i]))` for an arbitrary list of row ordinals.
    ///
    /// - Precondition: as for `dotAll(query:matrix:dimension:ordinals:into:)`.
    @inlinable
    public static func l2SquaredAll(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        ordinals: UnsafeBufferPointer<Int32>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let rowCount = _checkOrdinals(query: query, matrix: matrix, dimension: dimension, ordinals: ordinals, out: out)
        let q = _FloatSpan(query)
        let m = _FloatSpan(matrix)
        for i in 0..<ordinals.count {
            let r = Int(ordinals[i])
            precondition(r >= 0 && r < rowCount, "BatchScorer: ordinal \(r) outside 0..<\(rowCount)")
            out[i] = q.l2Squared(m.slice(r &* dimension, dimension))
        }
    }

    // MARK: Argument checks (once per call)

    @inlinable
    internal static func _checkRange(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        rows: Range<Int>,
        out: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(dimension > 0, "BatchScorer: dimension must be positive")
        precondition(query.count == dimension, "BatchScorer: query has \(query.count) floats, dimension is \(dimension)")
        precondition(rows.lowerBound >= 0, "BatchScorer: negative row \(rows.lowerBound)")
        precondition(rows.upperBound <= matrix.count / dimension,
                     "BatchScorer: rows \(rows) outside matrix of \(matrix.count / dimension) rows")
        precondition(out.count >= rows.count, "BatchScorer: output holds \(out.count), need \(rows.count)")
    }

    /// Returns the number of whole rows in `matrix`.
    @inlinable
    internal static func _checkOrdinals(
        query: UnsafeBufferPointer<Float>,
        matrix: UnsafeBufferPointer<Float>,
        dimension: Int,
        ordinals: UnsafeBufferPointer<Int32>,
        out: UnsafeMutableBufferPointer<Float>
    ) -> Int {
        precondition(dimension > 0, "BatchScorer: dimension must be positive")
        precondition(query.count == dimension, "BatchScorer: query has \(query.count) floats, dimension is \(dimension)")
        precondition(out.count >= ordinals.count, "BatchScorer: output holds \(out.count), need \(ordinals.count)")
        return matrix.count / dimension
    }
}
