extension Duration {
    /// Whole nanoseconds of a non-negative duration (timings in stats and responses).
    public var nanoseconds: UInt64 {
        UInt64(components.seconds) * 1_000_000_000 + UInt64(components.attoseconds / 1_000_000_000)
    }
}
