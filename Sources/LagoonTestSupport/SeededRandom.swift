import Kernels

/// A seeded, reproducible random number generator for test data (SplitMix64, Steele et
/// al. 2014). Use with the standard library: `Int.random(in: 0..<10, using: &rng)`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    public var state: UInt64 { generator.state }

    public init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    public mutating func next() -> UInt64 { generator.next() }

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
