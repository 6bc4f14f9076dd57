// Bounded selection of the k best (smallest-score) candidates.
//
// A binary max-heap of at most k entries keyed by (score, ordinal): the root is the worst
// entry kept, so a candidate only enters if it beats the root, and then replaces it with one
// sift-down (O(log k)). Once the heap is full, `threshold` is the root's score and the batch
// entry point rejects everything above it with a single float compare — for millions of
// candidates and small k almost every candidate takes that path.
//
// Order is total and deterministic: a smaller score wins; for equal scores the lower ordinal
// wins. So the result never depends on insertion order (a property the tests check).
//
// "Largest-k" callers (dot-product similarity, BM25) insert `-score` and negate the results
// back. NaN scores are never kept.

/// One scored candidate: `ordinal` is the caller's row number or key.
@frozen
public struct ScoredOrdinal: Hashable, Sendable {
    public var score: Float
    public var ordinal: Int

    @inlinable
    public init(score: Float, ordinal: Int) {
        self.score = score
        self.ordinal = ordinal
    }

    /// True if `self` ranks strictly before `other`: lower score, then lower ordinal.
    @inlinable @inline(__always)
    public func ranksBefore(_ other: ScoredOrdinal) -> Bool {
        score < other.score || (score == other.score && ordinal < other.ordinal)
    }
}

/// Keeps the `k` smallest `(score, ordinal)` pairs seen so far.
///
/// ```swift
/// var top = TopKSelector(k: 10)
/// scores.withUnsafeBufferPointer { top.insert(scores: $0, baseOrdinal: 0) }
/// let best = top.sortedResults()   // ascending score, ties by ascending ordinal
/// ```
public struct TopKSelector: Sendable {
    /// Maximum number of results kept.
    public let k: Int
    /// Max-heap on `ranksBefore`: `heap[0]` is the worst entry kept.
    @usableFromInline internal var heap: ContiguousArray<ScoredOrdinal>
    /// `heap[0].score` once the heap holds `k` entries, `+infinity` before.
    @usableFromInline internal var _threshold: Float

    /// - Precondition: `k >= 0`. With `k == 0` nothing is ever kept.
    @inlinable
    public init(k: Int) {
        precondition(k >= 0, "TopKSelector: k must be non-negative")
        self.k = k
        self.heap = []
        self.heap.reserveCapacity(k)
        // With k == 0 nothing can enter; a -inf threshold makes every fast path reject.
        self._threshold = k == 0 ? -.infinity : .infinity
    }

    /// Number of entries currently kept (≤ k).
    @inlinable public var count: Int { heap.count }

    /// True once `k` entries are kept.
    @inlinable public var isFull: Bool { heap.count >= k }

    /// The worst score currently kept once full, `+infinity` until then (`-infinity` if k == 0).
    /// A candidate with `score > threshold` can never enter; one with `score == threshold`
    /// enters only if its ordinal is lower than the worst kept entry's.
    @inlinable public var threshold: Float { _threshold }

    /// Offers one candidate. Returns true if it was kept.
    @inlinable
    @discardableResult
    public mutating func insert(score: Float, ordinal: Int) -> Bool {
        // `!(a <= b)` also rejects NaN.
        guard score <= _threshold else { return false }
        return _insertSlow(ScoredOrdinal(score: score, ordinal: ordinal))
    }

    /// Offers `scores[i]` with ordinal `baseOrdinal + i` for every `i`.
    @inlinable
    public mutating func insert(scores: UnsafeBufferPointer<Float>, baseOrdinal: Int) {
        var t = _threshold
        for i in 0..<scores.count {
            let s = scores[i]
            if s <= t {
                _ = _insertSlow(ScoredOrdinal(score: s, ordinal: baseOrdinal &+ i))
                t = _threshold
            }
        }
    }

    /// Offers `scores[i]` with ordinal `Int(ordinals[i])` for every `i`
    /// (the output shape of `BatchScorer`'s ordinal variants).
    ///
    /// - Precondition: `ordinals.count == scores.count`.
    @inlinable
    public mutating func insert(scores: UnsafeBufferPointer<Float>, ordinals: UnsafeBufferPointer<Int32>) {
        precondition(scores.count == ordinals.count, "TopKSelector: \(scores.count) scores, \(ordinals.count) ordinals")
        var t = _threshold
        for i in 0..<scores.count {
            let s = scores[i]
            if s <= t {
                _ = _insertSlow(ScoredOrdinal(score: s, ordinal: Int(ordinals[i])))
                t = _threshold
            }
        }
    }

    /// Offers every entry kept by `other` (for merging per-thread or per-segment selectors).
    @inlinable
    public mutating func merge(_ other: TopKSelector) {
        for e in other.heap where e.score <= _threshold {
            _ = _insertSlow(e)
        }
    }

    /// The kept entries, best first: ascending score, ties by ascending ordinal.
    @inlinable
    public func sortedResults() -> [ScoredOrdinal] {
        heap.sorted { $0.ranksBefore($1) }
    }

    /// Empties the selector, keeping `k` and the allocated capacity.
    @inlinable
    public mutating func removeAll() {
        heap.removeAll(keepingCapacity: true)
        _threshold = k == 0 ? -.infinity : .infinity
    }

    // MARK: Heap

    /// Slow path: the caller already knows `e.score <= threshold`.
    @inlinable
    internal mutating func _insertSlow(_ e: ScoredOrdinal) -> Bool {
        let n = heap.count
        if n < k {
            heap.append(e)
            _siftUp(n)
            if n + 1 == k { _threshold = heap[0].score }
            return true
        }
        guard n > 0, e.ranksBefore(heap[0]) else { return false }
        heap.withUnsafeMutableBufferPointer { h in
            TopKSelector._replaceRoot(h, with: e)
        }
        _threshold = heap[0].score
        return true
    }

    @inlinable
    internal mutating func _siftUp(_ start: Int) {
        heap.withUnsafeMutableBufferPointer { h in
            var i = start
            let e = h[i]
            while i > 0 {
                let parent = (i &- 1) >> 1
                // Max-heap: move the parent down while it ranks before (is better than) `e`.
                guard h[parent].ranksBefore(e) else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    /// Replaces the root with `e` and restores the max-heap by sifting down.
    @inlinable
    internal static func _replaceRoot(_ h: UnsafeMutableBufferPointer<ScoredOrdinal>, with e: ScoredOrdinal) {
        let n = h.count
        var i = 0
        while true {
            let left = 2 &* i &+ 1
            if left >= n { break }
            var child = left
            let right = left &+ 1
            // Pick the worse child (the one that ranks later).
            if right < n && h[left].ranksBefore(h[right]) { child = right }
            guard e.ranksBefore(h[child]) else { break }
            h[i] = h[child]
            i = child
        }
        h[i] = e
    }
}
