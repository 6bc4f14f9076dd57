// The one handle type behind which every raw-pointer float loop in `Kernels` lives.
//
// Everything public in this module validates its arguments once per call (lengths,
// dimensions, row ranges) and then hands a `_FloatSpan` to the loops below. Inside the
// handle, bounds are only checked with `assert` (debug builds), so the release-mode loops
// are free of per-element checks. Nothing outside this module sees the type.
//
// Shape of the loops (after lance `lance-linalg/src/distance/dot.rs`): 16-lane SIMD
// loads, four independent accumulators per reduction so the adds do not form one long
// dependency chain, then a 16-lane step and a scalar tail. We use plain `a * b + acc`
// rather than `addingProduct`: without `-mfma` (the default x86-64 target has only SSE2)
// the fused form would become a libm `fmaf` call per lane.

@usableFromInline
@frozen
internal struct _FloatSpan {
    @usableFromInline internal let base: UnsafePointer<Float>
    @usableFromInline internal let count: Int

    @inlinable @inline(__always)
    internal init(base: UnsafePointer<Float>, count: Int) {
        assert(count >= 0)
        self.base = base
        self.count = count
    }

    /// Handle over a buffer; an empty buffer with a nil base gets a dangling-but-unused pointer.
    @inlinable @inline(__always)
    internal init(_ buffer: UnsafeBufferPointer<Float>) {
        // An empty buffer may have a nil base address; the loops never read from it then.
        self.base = buffer.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Float>.alignment)!
        self.count = buffer.count
    }

    /// The sub-span `[start, start + length)`.
    @inlinable @inline(__always)
    internal func slice(_ start: Int, _ length: Int) -> _FloatSpan {
        assert(start >= 0 && length >= 0 && start + length <= count, "_FloatSpan.slice out of bounds")
        return _FloatSpan(base: base + start, count: length)
    }

    @inlinable @inline(__always)
    internal func load16(_ i: Int) -> SIMD16<Float> {
        assert(i >= 0 && i + 16 <= count, "_FloatSpan.load16 out of bounds")
        return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inlinable @inline(__always)
    internal func load8(_ i: Int) -> SIMD8<Float> {
        assert(i >= 0 && i + 8 <= count, "_FloatSpan.load8 out of bounds")
        return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    internal subscript(i: Int) -> Float {
        assert(i >= 0 && i < count, "_FloatSpan index out of bounds")
        return base[i]
    }

    // MARK: Single-vector reductions

    /// Σ self[i] * other[i]; `other.count` must equal `count`.
    @inlinable
    internal func dot(_ other: _FloatSpan) -> Float {
        assert(other.count == count)
        let n = count
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var i = 0
        while i &+ 64 <= n {
            a0 = load16(i) * other.load16(i) + a0
            a1 = load16(i &+ 16) * other.load16(i &+ 16) + a1
            a2 = load16(i &+ 32) * other.load16(i &+ 32) + a2
            a3 = load16(i &+ 48) * other.load16(i &+ 48) + a3
            i &+= 64
        }
        while i &+ 16 <= n {
            a0 = load16(i) * other.load16(i) + a0
            i &+= 16
        }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            s += self[i] * other[i]
            i &+= 1
        }
        return s
    }

    /// Σ (self[i] - other[i])²; `other.count` must equal `count`.
    @inlinable
    internal func l2Squared(_ other: _FloatSpan) -> Float {
        assert(other.count == count)
        let n = count
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var i = 0
        while i &+ 64 <= n {
            let d0 = load16(i) - other.load16(i)
            let d1 = load16(i &+ 16) - other.load16(i &+ 16)
            let d2 = load16(i &+ 32) - other.load16(i &+ 32)
            let d3 = load16(i &+ 48) - other.load16(i &+ 48)
            a0 = d0 * d0 + a0
            a1 = d1 * d1 + a1
            a2 = d2 * d2 + a2
            a3 = d3 * d3 + a3
            i &+= 64
        }
        while i &+ 16 <= n {
            let d = load16(i) - other.load16(i)
            a0 = d * d + a0
            i &+= 16
        }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            let d = self[i] - other[i]
            s += d * d
            i &+= 1
        }
        return s
    }

    /// Σ self[i]².
    @inlinable
    internal func squaredNorm() -> Float {
        let n = count
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var i = 0
        while i &+ 64 <= n {
            let v0 = load16(i), v1 = load16(i &+ 16), v2 = load16(i &+ 32), v3 = load16(i &+ 48)
            a0 = v0 * v0 + a0
            a1 = v1 * v1 + a1
            a2 = v2 * v2 + a2
            a3 = v3 * v3 + a3
            i &+= 64
        }
        while i &+ 16 <= n {
            let v = load16(i)
            a0 = v * v + a0
            i &+= 16
        }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            s += self[i] * self[i]
            i &+= 1
        }
        return s
    }
}
