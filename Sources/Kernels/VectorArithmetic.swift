// Element-wise vector updates used by k-means (centroid sums and means) and normalisation.
//
// Same shape as `_FloatSpan`'s reductions: validate once per call, then 16-lane loads and a
// scalar tail. The destination is written through `UnsafeMutableRawPointer.storeBytes`, so
// the loops need no second handle type.

/// In-place `acc += x` and `v *= s` over `Float` vectors.
public enum VectorArithmetic {
    /// `acc[i] += x[i]` for every `i`. Counts must match (checked, traps otherwise).
    @inlinable
    public static func add(_ x: UnsafeBufferPointer<Float>, into acc: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == acc.count, "VectorArithmetic.add: length mismatch \(x.count) vs \(acc.count)")
        guard let a = acc.baseAddress else { return }
        let src = _FloatSpan(x)
        let dst = UnsafeMutableRawPointer(a)
        let n = x.count
        var i = 0
        while i &+ 16 <= n {
            let sum = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) + src.load16(i)
            dst.storeBytes(of: sum, toByteOffset: i &* 4, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < n {
            a[i] += src[i]
            i &+= 1
        }
    }

    /// `v[i] *= factor` for every `i`.
    @inlinable
    public static func scale(_ v: UnsafeMutableBufferPointer<Float>, by factor: Float) {
        guard let a = v.baseAddress else { return }
        let dst = UnsafeMutableRawPointer(a)
        let f = SIMD16<Float>(repeating: factor)
        let n = v.count
        var i = 0
        while i &+ 16 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) * f
            dst.storeBytes(of: x, toByteOffset: i &* 4, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < n {
            a[i] *= factor
            i &+= 1
        }
    }

    // MARK: Safe wrappers

    /// `acc[i] += x[i]` over arrays of equal count.
    @inlinable
    public static func add(_ x: [Float], into acc: inout [Float]) {
        x.withUnsafeBufferPointer { px in acc.withUnsafeMutableBufferPointer { add(px, into: $0) } }
    }

    /// `v[i] *= factor`.
    @inlinable
    public static func scale(_ v: inout [Float], by factor: Float) {
        v.withUnsafeMutableBufferPointer { scale($0, by: factor) }
    }
}
