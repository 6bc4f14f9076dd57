// 8-bit scalar quantisation with one range per dimension.
//
// Dimension j maps [minimum[j], minimum[j] + 255·step[j]] onto the codes 0…255, so a row is
// reconstructed as minimum + step · code. For a query q the dot product with a reconstructed row
// is Σ q·minimum + Σ (q·step)·code: a constant plus an integer dot product once q·step is
// rounded to Int16 (`QuantizedQuery`), which `ByteDotScorer` computes over the codes.

import CKernels

/// A per-dimension 8-bit quantiser trained from the rows it will encode.
public struct ScalarQuantizer: Sendable {
    public let dimension: Int
    /// Per dimension: the value of code 0.
    public let minimum: [Float]
    /// Per dimension: the value between consecutive codes (positive).
    public let step: [Float]

    public init(minimum: [Float], step: [Float]) {
        precondition(minimum.count == step.count && !minimum.isEmpty, "ScalarQuantizer: \(minimum.count) minima, \(step.count) steps")
        dimension = minimum.count
        self.minimum = minimum
        self.step = step
    }

    /// A quantiser covering every finite value of every row (`rows(i)` is row `i`, `count` rows;
    /// `scale(i)` multiplies row `i`, e.g. by its inverse norm). Non-finite values are ignored
    /// here and clamped when encoded.
    public init(dimension: Int, count: Int, row: (Int) -> UnsafeBufferPointer<Float>, scale: (Int) -> Float) {
        precondition(dimension > 0, "ScalarQuantizer: dimension must be positive")
        var low = [Float](repeating: .infinity, count: dimension)
        var high = [Float](repeating: -.infinity, count: dimension)
        for i in 0..<count { Self.widen(&low, &high, with: row(i), scale: scale(i)) }
        self.init(low: low, high: high)
    }

    /// Widens per-dimension ranges (start at +∞ / −∞) to cover `row · scale`'s finite values,
    /// for callers that visit the rows themselves (one at a time, from a file).
    public static func widen(_ low: inout [Float], _ high: inout [Float], with row: UnsafeBufferPointer<Float>, scale s: Float) {
        precondition(row.count >= low.count && low.count == high.count, "ScalarQuantizer.widen: length mismatch")
        guard let base = row.baseAddress else { return }
        low.withUnsafeMutableBufferPointer { low in
            high.withUnsafeMutableBufferPointer { high in
                lagoon_sq_widen(base, low.count, s, low.baseAddress!, high.baseAddress!)
            }
        }
    }

    /// `widen` as plain Swift: the reference the C loop is tested against.
    public static func widenReference(_ low: inout [Float], _ high: inout [Float], with row: UnsafeBufferPointer<Float>, scale s: Float) {
        for j in 0..<low.count {
            let x = row[j] * s
            guard x.isFinite else { continue }
            low[j] = Swift.min(low[j], x)
            high[j] = Swift.max(high[j], x)
        }
    }

    /// The quantiser whose codes span `low[j]…high[j]` per dimension (as `widen` left them).
    public init(low: [Float], high: [Float]) {
        precondition(!low.isEmpty && low.count == high.count, "ScalarQuantizer: \(low.count) lows, \(high.count) highs")
        var low = low
        var step = [Float](repeating: 1, count: low.count)
        for j in 0..<low.count {
            if low[j] > high[j] { low[j] = 0; continue }        // no finite value: anything decodes to 0
            let width = (high[j] - low[j]) / 255
            step[j] = width > 0 && width.isFinite ? width : 1  // a constant dimension: every code is 0
        }
        self.init(minimum: low, step: step)
    }

    /// Encodes `row · scale` into `dimension` codes: the nearest code, clamped to 0…255 (NaN → 0).
    public func encode(_ row: UnsafeBufferPointer<Float>, scale: Float, into codes: UnsafeMutableBufferPointer<UInt8>) {
        precondition(row.count == dimension && codes.count == dimension, "ScalarQuantizer.encode: length mismatch")
        minimum.withUnsafeBufferPointer { minimum in
            step.withUnsafeBufferPointer { step in
                lagoon_sq_encode(row.baseAddress!, dimension, scale, minimum.baseAddress!, step.baseAddress!, codes.baseAddress!)
            }
        }
    }

    /// `encode` as plain Swift: the reference the C loop is tested against.
    public func encodeReference(_ row: UnsafeBufferPointer<Float>, scale: Float, into codes: UnsafeMutableBufferPointer<UInt8>) {
        precondition(row.count == dimension && codes.count == dimension, "ScalarQuantizer.encode: length mismatch")
        for j in 0..<dimension {
            let t = (row[j] * scale - minimum[j]) / step[j] + 0.5
            codes[j] = t >= 255 ? 255 : (t > 0 ? UInt8(t) : 0)
        }
    }

    /// The query in code space: `Σ query·reconstruct(codes) ≈ offset + factor · Σ values·codes`.
    public func quantize(_ query: UnsafeBufferPointer<Float>) -> QuantizedQuery {
        precondition(query.count == dimension, "ScalarQuantizer.quantize: query has \(query.count) floats, dimension is \(dimension)")
        var weights = [Float](repeating: 0, count: dimension)
        var offset: Double = 0
        var largest: Float = 0
        for j in 0..<dimension {
            let q = query[j].isFinite ? query[j] : 0
            weights[j] = q * step[j]
            offset += Double(q) * Double(minimum[j])
            largest = Swift.max(largest, abs(weights[j]))
        }
        let limit = Float(ByteDotScorer.maxQueryMagnitude(dimension: dimension))
        let toInt = largest > 0 && largest.isFinite ? limit / largest : 0
        let values = weights.map { Int16(($0 * toInt).rounded()) }
        return QuantizedQuery(values: values, prepared: ByteDotQuery(values), factor: toInt > 0 ? 1 / toInt : 0, offset: Float(offset))
    }
}

/// A query rounded into a quantiser's code space (see `ScalarQuantizer.quantize`).
public struct QuantizedQuery: Sendable {
    /// Per dimension: round(query · step · 1/factor), within `ByteDotScorer.maxQueryMagnitude`.
    public let values: [Int16]
    /// `values` as `ByteDotScorer` takes them.
    public let prepared: ByteDotQuery
    /// Multiplies an integer dot product back into the query's units.
    public let factor: Float
    /// Σ query · minimum: the dot product with the all-zero code row.
    public let offset: Float

    /// The approximate dot product for an integer sum over a row's codes.
    @inlinable
    public func dot(_ integerSum: Int32) -> Float { offset + factor * Float(integerSum) }
}
