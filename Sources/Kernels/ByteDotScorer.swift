// One integer query against many rows of UInt8 codes (a scalar-quantised matrix).
//
// The first pass of a quantised IVF scan reads 1 byte per dimension instead of 4: the f32 scan
// of the probed lists is bound by memory bandwidth, so a quarter of the bytes is most of the
// speed-up. Sixteen codes are one load of four 32-bit lanes; each byte is masked out into a
// 32-bit lane and multiplied by a query value that is also known to fit in 15 unsigned bits,
// the shape LLVM lowers to one `pmaddwd` per four products on the baseline x86-64 target
// (SSE2). Other shapes measured worse: 32-bit products of a sign-extended query compile to
// `pmuludq` emulation, and even/odd 16-bit halves to shuffles around `pmaddwd`.
//
// Query values may be negative, so the kernel multiplies by `value + bias` (non-negative) and
// subtracts `bias × Σ codes` of the row, precomputed once per row (`codeSum`). Sums wrap
// (`&+`) and are exact whenever the true result fits in Int32, which `maxQueryMagnitude`
// guarantees.
//
// Where the CPU has AVX2 (`KernelISA.best`), the C kernel widens 16 codes to 16-bit lanes
// (`vpmovzxbw`) and multiplies them by the signed query values directly (`vpmaddwd`, 16
// products per instruction, no bias), two rows per pass sharing the query loads. Integer
// sums are exact, so both paths return the same numbers.

internal import CKernels

/// A query prepared for `ByteDotScorer`: every value plus `bias`, in the kernel's lane order.
public struct ByteDotQuery: Sendable {
    /// `values[j] + bias`, permuted within every whole block of 16 (see `init`).
    public let lanes: [Int32]
    public let bias: Int32
    /// The values as given (the AVX2 kernel's operand).
    public let values: [Int16]

    /// - Precondition: every `|value| <= ByteDotScorer.maxQueryMagnitude(dimension: values.count)`.
    public init(_ values: [Int16]) {
        let bias = Int32(ByteDotScorer.biasLimit)
        precondition(values.allSatisfy { abs(Int32($0)) <= bias }, "ByteDotQuery: a value beyond ±\(bias)")
        // Within a block, lane l of the 32-bit load holds codes 4l…4l+3; byte b of every lane
        // is multiplied by lanes[4b…4b+3], so lanes[4b + l] is the value of code 4l + b.
        var lanes = values.map { Int32($0) + bias }
        let whole = values.count / 16 * 16
        for block in stride(from: 0, to: whole, by: 16) {
            for b in 0..<4 {
                for l in 0..<4 { lanes[block + 4 * b + l] = Int32(values[block + 4 * l + b]) + bias }
            }
        }
        self.lanes = lanes
        self.bias = bias
        self.values = values
    }
}

/// Integer dot products of a `ByteDotQuery` with rows of `UInt8` codes.
public enum ByteDotScorer {
    /// The bias keeps `value + bias` within 15 bits.
    @usableFromInline static let biasLimit = 16_383

    /// The largest `|query[i]|` for which the sum over `dimension` codes fits in Int32.
    @inlinable
    public static func maxQueryMagnitude(dimension: Int) -> Int {
        min(biasLimit, Int(Int32.max) / (255 * max(1, dimension)))
    }

    /// Σ codes of one row, as the kernels need per row (`codeSums`).
    @inlinable
    public static func codeSum(_ row: UnsafeBufferPointer<UInt8>) -> Int32 {
        row.reduce(Int32(0)) { $0 &+ Int32($1) }
    }

    /// `out[i] = Σⱼ value[j] · codes[(rows.lowerBound + i) · dimension + j]` for every row in
    /// `rows`; `codeSums[r]` is `codeSum` of row `r`.
    ///
    /// - Precondition: `dimension > 0`, `query.lanes.count == dimension`, the rows lie inside
    ///   `codes` and `codeSums`, `out.count >= rows.count`.
    public static func dotAll(query: ByteDotQuery, codes: UnsafeBufferPointer<UInt8>, codeSums: UnsafeBufferPointer<Int32>,
                              dimension: Int, rows: Range<Int>, into out: UnsafeMutableBufferPointer<Int32>,
                              isa: KernelISA = .best) {
        precondition(dimension > 0 && query.lanes.count == dimension, "ByteDotScorer: query has \(query.lanes.count) values, dimension is \(dimension)")
        precondition(rows.lowerBound >= 0 && rows.upperBound <= min(codes.count / dimension, codeSums.count),
                     "ByteDotScorer: rows \(rows) outside \(codes.count / dimension) rows")
        precondition(out.count >= rows.count, "ByteDotScorer: output holds \(out.count), need \(rows.count)")
        guard let c = codes.baseAddress, let o = out.baseAddress else { return }
        if isa == .avx2 {
            return query.values.withUnsafeBufferPointer { q in
                lagoon_byte_dot_range_avx2(q.baseAddress!, c, dimension, rows.lowerBound, rows.count, o)
            }
        }
        let bias = query.bias
        query.lanes.withUnsafeBufferPointer { lanes in
            let q = lanes.baseAddress!
            var offset = rows.lowerBound &* dimension
            for i in 0..<rows.count {
                o[i] = _dot(q, c + offset, dimension) &- bias &* codeSums[rows.lowerBound &+ i]
                offset &+= dimension
            }
        }
    }

    /// `out[i] = Σⱼ value[j] · codes[rows[i] · dimension + j]` for arbitrary row numbers.
    ///
    /// - Precondition: as for the range variant; every row is checked (a corrupt row traps).
    public static func dotAll(query: ByteDotQuery, codes: UnsafeBufferPointer<UInt8>, codeSums: UnsafeBufferPointer<Int32>,
                              dimension: Int, rows: UnsafeBufferPointer<Int32>, into out: UnsafeMutableBufferPointer<Int32>,
                              isa: KernelISA = .best) {
        precondition(dimension > 0 && query.lanes.count == dimension, "ByteDotScorer: query has \(query.lanes.count) values, dimension is \(dimension)")
        precondition(out.count >= rows.count, "ByteDotScorer: output holds \(out.count), need \(rows.count)")
        let rowCount = min(codes.count / dimension, codeSums.count)
        guard let c = codes.baseAddress else { return }
        if isa == .avx2 {
            for r in rows { precondition(r >= 0 && Int(r) < rowCount, "ByteDotScorer: row \(r) outside 0..<\(rowCount)") }
            guard let o = out.baseAddress, let r = rows.baseAddress else { return }
            return query.values.withUnsafeBufferPointer { q in
                lagoon_byte_dot_rows_avx2(q.baseAddress!, c, dimension, r, rows.count, o)
            }
        }
        let bias = query.bias
        query.lanes.withUnsafeBufferPointer { lanes in
            let q = lanes.baseAddress!
            for i in 0..<rows.count {
                let r = Int(rows[i])
                precondition(r >= 0 && r < rowCount, "ByteDotScorer: row \(r) outside 0..<\(rowCount)")
                out[i] = _dot(q, c + r &* dimension, dimension) &- bias &* codeSums[r]
            }
        }
    }

    /// Σ lanes·codes over `n` values (lanes in `ByteDotQuery` order), 16 at a time, then a
    /// scalar tail. The `& 0x7FFF` tells LLVM the lanes fit in 15 bits (they do), which is what
    /// lets it use `pmaddwd`.
    @inline(__always)
    internal static func _dot(_ q: UnsafePointer<Int32>, _ c: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        @inline(__always) func lanes(_ i: Int) -> SIMD4<Int32> {
            UnsafeRawPointer(q + i).loadUnaligned(as: SIMD4<Int32>.self) & 0x7FFF
        }
        var a0 = SIMD4<Int32>(), a1 = SIMD4<Int32>()
        var j = 0
        while j &+ 16 <= n {
            let x = UnsafeRawPointer(c + j).loadUnaligned(as: SIMD4<UInt32>.self)
            let c0 = SIMD4<Int32>(truncatingIfNeeded: x & 0xFF)
            let c1 = SIMD4<Int32>(truncatingIfNeeded: (x &>> 8) & 0xFF)
            let c2 = SIMD4<Int32>(truncatingIfNeeded: (x &>> 16) & 0xFF)
            let c3 = SIMD4<Int32>(truncatingIfNeeded: x &>> 24)
            a0 = a0 &+ c0 &* lanes(j) &+ c1 &* lanes(j &+ 4)
            a1 = a1 &+ c2 &* lanes(j &+ 8) &+ c3 &* lanes(j &+ 12)
            j &+= 16
        }
        var s = (a0 &+ a1).wrappedSum()
        while j < n {
            s = s &+ Int32(c[j]) &* q[j]
            j &+= 1
        }
        return s
    }
}
