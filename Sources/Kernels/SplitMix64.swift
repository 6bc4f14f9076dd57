/// SplitMix64 (Steele et al. 2014): a small, fast, seedable generator for reproducible data
/// and sampling (benchmark data, k-means seeding). Not for anything security-related.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0; modulo bias is negligible for the sizes used here).
    public mutating func next(below n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Uniform in [-1, 1), exactly representable (24 random bits).
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 23)) - 1
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * (1.0 / Double(UInt64(1) << 53)) }
}
