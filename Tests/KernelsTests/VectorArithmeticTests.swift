import Kernels
import Testing

@Suite("VectorArithmetic vs scalar reference")
struct VectorArithmeticTests {
    @Test(arguments: [0, 1, 15, 16, 17, 63, 384, 1000])
    func addMatchesScalarSum(dimension: Int) {
        var rng = SplitMix64(seed: 0xADD &+ UInt64(dimension))
        let x = rng.floats(dimension)
        var acc = rng.floats(dimension)
        let expected = zip(acc, x).map { $0 + $1 }  // one rounding per element either way: exact match
        VectorArithmetic.add(x, into: &acc)
        #expect(acc == expected)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 63, 384, 1000])
    func scaleMatchesScalarProduct(dimension: Int) {
        var rng = SplitMix64(seed: 0x5CA1E &+ UInt64(dimension))
        var v = rng.floats(dimension)
        let factor: Float = 0.37
        let expected = v.map { $0 * factor }
        VectorArithmetic.scale(&v, by: factor)
        #expect(v == expected)
    }
}
