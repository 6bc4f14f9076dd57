import Kernels
import Testing

/// The quantiser's C loops against their plain-Swift references, bit for bit: random rows at
/// several scales, and the values that take the edge paths (NaN, ±∞, the clamps, huge values).
@Suite("ScalarQuantizer kernels")
struct ScalarQuantizerTests {
    static let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e30, -1e30, .leastNonzeroMagnitude, 254.5, 255, 255.5]

    static func rows(seed: UInt64, dimension: Int, count: Int) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (0..<dimension).map { _ in
                Int.random(in: 0..<20, using: &rng) == 0 ? specials.randomElement(using: &rng)! : Float.random(in: -3..<3, using: &rng)
            }
        }
    }

    @Test(arguments: [1, 7, 16, 384, 1_001])
    func widenMatchesTheReference(dimension: Int) {
        let rows = Self.rows(seed: UInt64(dimension), dimension: dimension, count: 40)
        var low = [Float](repeating: .infinity, count: dimension), high = [Float](repeating: -.infinity, count: dimension)
        var lowReference = low, highReference = high
        for (i, row) in rows.enumerated() {
            let scale: Float = i % 3 == 0 ? 1 : 0.37 * Float(i)
            row.withUnsafeBufferPointer {
                ScalarQuantizer.widen(&low, &high, with: $0, scale: scale)
                ScalarQuantizer.widenReference(&lowReference, &highReference, with: $0, scale: scale)
            }
        }
        #expect(low.map(\.bitPattern) == lowReference.map(\.bitPattern))
        #expect(high.map(\.bitPattern) == highReference.map(\.bitPattern))
    }

    @Test(arguments: [1, 7, 16, 384, 1_001])
    func encodeMatchesTheReference(dimension: Int) {
        let rows = Self.rows(seed: 99 + UInt64(dimension), dimension: dimension, count: 40)
        var low = [Float](repeating: .infinity, count: dimension), high = [Float](repeating: -.infinity, count: dimension)
        for row in rows.prefix(10) { row.withUnsafeBufferPointer { ScalarQuantizer.widenReference(&low, &high, with: $0, scale: 1) } }
        let quantizer = ScalarQuantizer(low: low, high: high)
        var codes = [UInt8](repeating: 0, count: dimension), reference = codes
        for (i, row) in rows.enumerated() {
            let scale: Float = i % 4 == 0 ? 1 : 1.5 / Float(i)
            row.withUnsafeBufferPointer { row in
                codes.withUnsafeMutableBufferPointer { quantizer.encode(row, scale: scale, into: $0) }
                reference.withUnsafeMutableBufferPointer { quantizer.encodeReference(row, scale: scale, into: $0) }
            }
            #expect(codes == reference, "row \(i)")
        }
    }
}
