/// A seeded, reproducible random number generator for test data (SplitMix64, Steele et
/// al. 2014). Use with the standard library: `Int.random(in: 0..<10, using: &rng)`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), exactly representable (24 random bits).
    public mutating func signedUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 23)) - 1
    }

    /// `n` floats uniform in [-1, 1).
    public mutating func floats(_ n: Int) -> [Float] {
        (0..<n).map { _ in signedUnitFloat() }
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < p
    }

    /// A uniformly chosen element of a non-empty collection.
    public mutating func pick<C: Collection>(_ items: C) -> C.Element {
        items.randomElement(using: &self)!
    }
}
