import Kernels
import Testing

@Suite("VectorDistance vs scalar reference")
struct VectorDistanceTests {
    static let dimensions = [0, 1, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 128, 384, 1000]

    // Scalar references, accumulated in Double.
    static func refDot(_ a: [Float], _ b: [Float]) -> (value: Double, scale: Double) {
        var s = 0.0, m = 0.0
        for i in a.indices { let p = Double(a[i]) * Double(b[i]); s += p; m += abs(p) }
        return (s, m)
    }

    static func refL2(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in a.indices { let d = Double(a[i]) - Double(b[i]); s += d * d }
        return s
    }

    @Test(arguments: dimensions)
    func dot(dimension: Int) {
        var rng = SplitMix64(seed: 0xD07 &+ UInt64(dimension))
        for _ in 0..<20 {
            let a = rng.floats(dimension), b = rng.floats(dimension)
            let ref = Self.refDot(a, b)
            let fast = VectorDistance.dot(a, b)
            #expect(isClose(fast, ref.value, scale: ref.scale), "dot d=\(dimension): \(fast) vs \(ref.value)")
            let viaPointers = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in VectorDistance.dot(pa, pb) } }
            #expect(viaPointers == fast)
        }
    }

    @Test(arguments: dimensions)
    func l2Squared(dimension: Int) {
        var rng = SplitMix64(seed: 0x12 &+ UInt64(dimension))
        for _ in 0..<20 {
            let a = rng.floats(dimension), b = rng.floats(dimension)
            let ref = Self.refL2(a, b)
            let fast = VectorDistance.l2Squared(a, b)
            #expect(isClose(fast, ref, scale: ref), "l2 d=\(dimension): \(fast) vs \(ref)")
            #expect(VectorDistance.l2Squared(a, a) == 0)
        }
    }

    @Test(arguments: dimensions)
    func squaredNorm(dimension: Int) {
        var rng = SplitMix64(seed: 0x40 &+ UInt64(dimension))
        for _ in 0..<20 {
            let a = rng.floats(dimension)
            let ref = Self.refDot(a, a).value
            let fast = VectorDistance.squaredNorm(a)
            #expect(isClose(fast, ref, scale: ref), "norm d=\(dimension): \(fast) vs \(ref)")
            // ‖a‖² and a·a take the same path shape; they agree to rounding.
            #expect(isClose(VectorDistance.dot(a, a), ref, scale: ref))
        }
    }

    @Test func knownValues() {
        #expect(VectorDistance.dot([1, 2, 3], [4, 5, 6]) == 32)
        #expect(VectorDistance.l2Squared([1, 2, 3], [4, 6, 3]) == 25)
        #expect(VectorDistance.squaredNorm([3, 4]) == 25)
        #expect(VectorDistance.dot([], []) == 0)
        let ones = [Float](repeating: 1, count: 1000)
        #expect(VectorDistance.dot(ones, ones) == 1000)
        #expect(VectorDistance.squaredNorm(ones) == 1000)
    }

    @Test func emptyBuffersWithNilBase() {
        let empty = UnsafeBufferPointer<Float>(start: nil, count: 0)
        #expect(VectorDistance.dot(empty, empty) == 0)
        #expect(VectorDistance.l2Squared(empty, empty) == 0)
        #expect(VectorDistance.squaredNorm(empty) == 0)
    }

    @Test func unalignedSlices() {
        // Sub-buffers starting at every offset mod 16 must give the reference answer.
        var rng = SplitMix64(seed: 99)
        let big = rng.floats(1100), other = rng.floats(1100)
        big.withUnsafeBufferPointer { pa in
            other.withUnsafeBufferPointer { pb in
                for start in 0..<17 {
                    let n = 384 + start
                    let a = UnsafeBufferPointer(rebasing: pa[start..<(start + n)])
                    let b = UnsafeBufferPointer(rebasing: pb[(start + 1)..<(start + 1 + n)])
                    let ref = Self.refDot(Array(a), Array(b))
                    #expect(isClose(VectorDistance.dot(a, b), ref.value, scale: ref.scale))
                    let refL2 = Self.refL2(Array(a), Array(b))
                    #expect(isClose(VectorDistance.l2Squared(a, b), refL2, scale: refL2))
                }
            }
        }
    }
}
