/// A compiled Unix glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`), matched on Unicode scalars.
public struct GlobPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case any
        case star
        case set([ClosedRange<Unicode.Scalar>], negated: Bool)
    }

    let tokens: [Token]
    public let caseInsensitive: Bool
    /// The literal text before the first wildcard: a Glob with one runs as a prefix scan.
    public let literalPrefix: String

    public init(_ pattern: String, caseInsensitive: Bool = false) {
        // Consecutive stars mean one star.
        self.caseInsensitive = caseInsensitive
        let source = Array((caseInsensitive ? pattern.lowercased() : pattern).unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < source.count {
            let c = source[i]
            switch c {
            case "*": if tokens.last != .star { tokens.append(.star) }
            case "?": tokens.append(.any)
            case "[":
                var j = i + 1
                var negated = false
                if j < source.count, source[j] == "!" || source[j] == "^" {
                    negated = true
                    j += 1
                }
                var ranges: [ClosedRange<Unicode.Scalar>] = []
                var first = true
                while j < source.count, source[j] != "]" || first {
                    first = false
                    if j + 2 < source.count, source[j + 1] == "-", source[j + 2] != "]" {
                        if source[j] <= source[j + 2] { ranges.append(source[j]...source[j + 2]) }
                        j += 3
                    } else {
                        ranges.append(source[j]...source[j])
                        j += 1
                    }
                }
                if j < source.count {
                    tokens.append(.set(ranges, negated: negated))
                    i = j
                } else {
                    tokens.append(.literal("["))  // unterminated class: a literal bracket
                }
            default: tokens.append(.literal(c))
            }
            i += 1
        }
        self.tokens = tokens
        var prefix = String.UnicodeScalarView()
        for token in tokens {
            guard case .literal(let c) = token else { break }
            prefix.append(c)
        }
        literalPrefix = String(prefix)
    }

    public func matches(_ text: String) -> Bool {
        var steps = 0
        return matches(text, steps: &steps)
    }

    /// Matching without backtracking. The stars split the pattern into segments of
    /// single-character tokens; the first segment must match at the start, the last at the
    /// end, and each middle segment is taken at its leftmost match after the previous one
    /// (leftmost is always safe for stars). Each search is a bit-parallel Shift-And scan, so
    /// every text character is examined once per search and searches never overlap: time
    /// O(n · ⌈k/64⌉) for a text of n characters and a longest segment of k tokens.
    /// `steps` counts characters examined (tests check it stays linear).
    func matches(_ text: String, steps: inout Int) -> Bool {
        let s = Array((caseInsensitive ? text.lowercased() : text).unicodeScalars)
        let segments = self.segments
        if segments.count == 1 {
            return s.count == segments[0].count && matchesAt(segments[0], s, 0, steps: &steps)
        }
        let first = segments[0], last = segments[segments.count - 1]
        guard first.count + last.count <= s.count,
              matchesAt(first, s, 0, steps: &steps),
              matchesAt(last, s, s.count - last.count, steps: &steps) else { return false }
        var from = first.count
        let end = s.count - last.count
        for segment in segments.dropFirst().dropLast() where !segment.isEmpty {
            guard let next = Self.find(segment, in: s, from: from, to: end, steps: &steps) else { return false }
            from = next
        }
        return true
    }

    /// The tokens between stars (the first and last may be empty).
    var segments: [[Token]] {
        tokens.split(separator: .star, omittingEmptySubsequences: false).map(Array.init)
    }

    private func matchesAt(_ segment: [Token], _ s: [Unicode.Scalar], _ at: Int, steps: inout Int) -> Bool {
        for (i, token) in segment.enumerated() {
            steps += 1
            guard Self.token(token, matches: s[at + i]) else { return false }
        }
        return true
    }

    static func token(_ token: Token, matches c: Unicode.Scalar) -> Bool {
        switch token {
        case .literal(let l): return l == c
        case .any: return true
        case .set(let ranges, let negated): return ranges.contains { $0.contains(c) } != negated
        case .star: return true
        }
    }

    /// The end of the leftmost occurrence of `segment` in `s[from..<end]` (Shift-And: bit i
    /// of the state is set when the last i + 1 characters match the segment's first i + 1 tokens).
    static func find(_ segment: [Token], in s: [Unicode.Scalar], from: Int, to end: Int, steps: inout Int) -> Int? {
        let m = segment.count
        guard end - from >= m else { return nil }
        let words = (m + 63) / 64
        let lastWord = (m - 1) / 64, lastBit = UInt64(1) << UInt64((m - 1) % 64)
        var state = [UInt64](repeating: 0, count: words)
        var masks: [Unicode.Scalar: [UInt64]] = [:]
        for p in from..<end {
            steps += 1
            let c = s[p]
            let mask: [UInt64]
            if let cached = masks[c] {
                mask = cached
            } else {
                var built = [UInt64](repeating: 0, count: words)
                for (i, token) in segment.enumerated() where Self.token(token, matches: c) {
                    built[i / 64] |= UInt64(1) << UInt64(i % 64)
                }
                masks[c] = built
                mask = built
            }
            var carry: UInt64 = 1
            for w in 0..<words {
                let out = state[w] >> 63
                state[w] = ((state[w] << 1) | carry) & mask[w]
                carry = out
            }
            if state[lastWord] & lastBit != 0 { return p + 1 }
        }
        return nil
    }
}
