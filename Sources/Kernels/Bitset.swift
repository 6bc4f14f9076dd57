// Dense fixed-size bitset over `[UInt64]` words.
//
// Bit `i` lives in `words[i >> 6]` at position `i & 63`. Invariant: bits at positions
// `>= count` in the last word are always zero, so `popcount`, equality and iteration never
// see stray bits (`init(allSet:)` and `formComplement` mask the tail).
//
// Plain safe array code: the word loops are short and the optimizer hoists the bounds and
// uniqueness checks out of them once the counts are known equal.

/// A dense set of integers in `0..<count`.
public struct Bitset: Hashable, Sendable {
    /// Number of addressable bits (members are in `0..<count`). Not the number of set bits;
    /// see `popcount`.
    public let count: Int
    /// Backing storage; see `words`.
    @usableFromInline internal var _words: [UInt64]

    /// Backing words, little-endian bit order within each word (read-only view).
    @inlinable public var words: [UInt64] { _words }

    /// An empty bitset able to hold `0..<count`.
    @inlinable
    public init(count: Int) {
        precondition(count >= 0, "Bitset: negative count")
        self.count = count
        self._words = [UInt64](repeating: 0, count: (count &+ 63) >> 6)
    }

    /// A bitset with every bit in `0..<count` set.
    @inlinable
    public init(allSet count: Int) {
        precondition(count >= 0, "Bitset: negative count")
        self.count = count
        self._words = [UInt64](repeating: ~0, count: (count &+ 63) >> 6)
        _maskTail()
    }

    /// Builds a bitset from member indices (each must be in `0..<count`).
    @inlinable
    public init<S: Sequence>(count: Int, members: S) where S.Element == Int {
        self.init(count: count)
        for i in members { set(i) }
    }

    // MARK: Single bits

    @inlinable
    public func contains(_ i: Int) -> Bool {
        precondition(i >= 0 && i < count, "Bitset: index \(i) outside 0..<\(count)")
        return _words[i >> 6] & (1 &<< UInt64(i & 63)) != 0
    }

    @inlinable
    public mutating func set(_ i: Int) {
        precondition(i >= 0 && i < count, "Bitset: index \(i) outside 0..<\(count)")
        _words[i >> 6] |= 1 &<< UInt64(i & 63)
    }

    @inlinable
    public mutating func clear(_ i: Int) {
        precondition(i >= 0 && i < count, "Bitset: index \(i) outside 0..<\(count)")
        _words[i >> 6] &= ~(1 &<< UInt64(i & 63))
    }

    /// Clears every bit.
    @inlinable
    public mutating func clearAll() {
        for w in _words.indices { _words[w] = 0 }
    }

    // MARK: Whole-set operations (operands must have the same `count`)

    /// self ∪= other.
    @inlinable
    public mutating func formUnion(_ other: Bitset) {
        precondition(count == other.count, "Bitset: count mismatch \(count) vs \(other.count)")
        for w in _words.indices { _words[w] |= other._words[w] }
    }

    /// self ∩= other.
    @inlinable
    public mutating func formIntersection(_ other: Bitset) {
        precondition(count == other.count, "Bitset: count mismatch \(count) vs \(other.count)")
        for w in _words.indices { _words[w] &= other._words[w] }
    }

    /// self −= other (clears every bit set in `other`).
    @inlinable
    public mutating func subtract(_ other: Bitset) {
        precondition(count == other.count, "Bitset: count mismatch \(count) vs \(other.count)")
        for w in _words.indices { _words[w] &= ~other._words[w] }
    }

    /// Flips every bit in `0..<count`.
    @inlinable
    public mutating func formComplement() {
        for w in _words.indices { _words[w] = ~_words[w] }
        _maskTail()
    }

    // MARK: Queries

    /// Number of set bits.
    @inlinable
    public var popcount: Int {
        var n = 0
        for w in _words { n &+= w.nonzeroBitCount }
        return n
    }

    /// True if no bit is set.
    @inlinable
    public var isEmpty: Bool {
        for w in _words where w != 0 { return false }
        return true
    }

    /// Calls `body` with every set bit, in ascending order. Skips zero words with one compare,
    /// and walks set bits by trailing-zero count, so cost is O(words + set bits).
    @inlinable
    public func forEachSetBit(_ body: (Int) throws -> Void) rethrows {
        for wi in _words.indices {
            var w = _words[wi]
            let base = wi &<< 6
            while w != 0 {
                try body(base &+ w.trailingZeroBitCount)
                w &= w &- 1
            }
        }
    }

    /// The smallest set bit `>= start`, or nil. `start` may be anywhere in `0...count`.
    @inlinable
    public func nextSetBit(atOrAfter start: Int) -> Int? {
        precondition(start >= 0, "Bitset: negative start")
        guard start < count else { return nil }
        var wi = start >> 6
        var w = _words[wi] & (~0 &<< UInt64(start & 63))
        while true {
            if w != 0 { return (wi &<< 6) &+ w.trailingZeroBitCount }
            wi &+= 1
            if wi >= _words.count { return nil }
            w = _words[wi]
        }
    }

    /// The set bits in ascending order.
    @inlinable
    public func setBits() -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(popcount)
        forEachSetBit { out.append($0) }
        return out
    }

    @inlinable
    internal mutating func _maskTail() {
        let r = count & 63
        if r != 0 { _words[_words.count &- 1] &= (1 &<< UInt64(r)) &- 1 }
    }
}
