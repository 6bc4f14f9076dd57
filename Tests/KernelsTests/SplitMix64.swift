// Test helpers over Kernels' seeded SplitMix64.
import Kernels

extension SplitMix64 {
    /// `n` floats uniform in [-1, 1).
    mutating func floats(_ n: Int) -> [Float] {
        (0..<n).map { _ in nextFloat() }
    }
}

/// `|actual - expected| <= tolerance * scale`, where `scale` is a magnitude that bounds the
/// rounding error of the computation (e.g. Σ|aᵢbᵢ| for a dot product), floored at the
/// smallest normal float so an exact zero compares equal.
func isClose(_ actual: Float, _ expected: Double, scale: Double, tolerance: Double = 1e-4) -> Bool {
    abs(Double(actual) - expected) <= tolerance * max(scale, Double(Float.leastNormalMagnitude))
}
