// Distances between two float vectors of equal length.
//
// The loops live in `_FloatSpan` (the module's one unsafe handle); this type validates the
// inputs once per call and exposes both a zero-copy `UnsafeBufferPointer` entry point for hot
// callers and safe `[Float]` wrappers for everyone else.
//
// Results are not bit-identical to a left-to-right scalar sum: the SIMD loop reassociates the
// additions (64 partial sums, then a tree). Expect relative differences around 1e-6.

/// Dot product, squared Euclidean distance and squared norm over `Float` vectors.
public enum VectorDistance {
    /// Σ a[i]·b[i]. `a` and `b` must have the same count (checked, traps otherwise).
    @inlinable
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "VectorDistance.dot: length mismatch \(a.count) vs \(b.count)")
        return _FloatSpan(a).dot(_FloatSpan(b))
    }

    /// Σ (a[i] − b[i])². `a` and `b` must have the same count (checked, traps otherwise).
    @inlinable
    public static func l2Squared(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "VectorDistance.l2Squared: length mismatch \(a.count) vs \(b.count)")
        return _FloatSpan(a).l2Squared(_FloatSpan(b))
    }

    /// Σ a[i]².
    @inlinable
    public static func squaredNorm(_ a: UnsafeBufferPointer<Float>) -> Float {
        _FloatSpan(a).squaredNorm()
    }

    // MARK: Safe wrappers

    /// Σ a[i]·b[i] over arrays of equal count.
    @inlinable
    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in dot(pa, pb) } }
    }

    /// Σ (a[i] − b[i])² over arrays of equal count.
    @inlinable
    public static func l2Squared(_ a: [Float], _ b: [Float]) -> Float {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in l2Squared(pa, pb) } }
    }

    /// Σ a[i]².
    @inlinable
    public static func squaredNorm(_ a: [Float]) -> Float {
        a.withUnsafeBufferPointer { squaredNorm($0) }
    }
}
