// Seeded RNG for reproducible test data (SplitMix64, Steele et al. 2014).

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 23)) - 1
    }

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
