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
        self.caseInsensitive = caseInsensitive
        let source = Array((caseInsensitive ? pattern.lowercased() : pattern).unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < source.count {
            let c = source[i]
            switch c {
            case "*": tokens.append(.star)
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
        let scalars = Array((caseInsensitive ? text.lowercased() : text).unicodeScalars)
        // Iterative matcher with single-star backtracking: linear in practice, no recursion.
        var t = 0, s = 0
        var starToken = -1, starText = 0
        while s < scalars.count {
            if t < tokens.count {
                switch tokens[t] {
                case .star:
                    starToken = t
                    starText = s
                    t += 1
                    continue
                case .any:
                    t += 1
                    s += 1
                    continue
                case .literal(let c) where c == scalars[s]:
                    t += 1
                    s += 1
                    continue
                case .set(let ranges, let negated) where ranges.contains(where: { $0.contains(scalars[s]) }) != negated:
                    t += 1
                    s += 1
                    continue
                default: break
                }
            }
            guard starToken >= 0 else { return false }
            t = starToken + 1
            starText += 1
            s = starText
        }
        while t < tokens.count, tokens[t] == .star { t += 1 }
        return t == tokens.count
    }
}
