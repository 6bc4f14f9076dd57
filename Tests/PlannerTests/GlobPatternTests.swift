import LagoonTestSupport
import Planner
import Testing

/// A deliberately naive glob matcher: recursion over the pattern, classes parsed where
/// they are met, exponential in the worst case but obviously right.
/// `*` any run, `?` one scalar, `[abc]`, `[a-z]` (reversed ranges match nothing), `[!x]` or
/// `[^x]` negated, `]` first in a class is a member, an unterminated `[` is a literal.
struct ReferenceGlob {
    let pattern: [Unicode.Scalar]

    init(_ pattern: String) {
        self.pattern = Array(pattern.unicodeScalars)
    }

    func matches(_ text: String) -> Bool {
        match(0, Array(text.unicodeScalars), 0)
    }

    /// The class starting at `open` (a `[`): its members, negation and the index after `]`.
    func parseClass(at open: Int) -> (members: [(Unicode.Scalar, Unicode.Scalar)], negated: Bool, next: Int)? {
        var start = open + 1
        var negated = false
        if start < pattern.count, pattern[start] == "!" || pattern[start] == "^" {
            negated = true
            start += 1
        }
        // The closing bracket is the first `]` after the first member.
        guard let close = pattern.indices.first(where: { $0 > start && pattern[$0] == "]" }) else { return nil }
        var members: [(Unicode.Scalar, Unicode.Scalar)] = []
        var k = start
        while k < close {
            if k + 2 < close, pattern[k + 1] == "-" {
                members.append((pattern[k], pattern[k + 2]))
                k += 3
            } else {
                members.append((pattern[k], pattern[k]))
                k += 1
            }
        }
        return (members, negated, close + 1)
    }

    func match(_ p: Int, _ text: [Unicode.Scalar], _ t: Int) -> Bool {
        guard p < pattern.count else { return t == text.count }
        switch pattern[p] {
        case "*":
            return match(p + 1, text, t) || (t < text.count && match(p, text, t + 1))
        case "?":
            return t < text.count && match(p + 1, text, t + 1)
        case "[":
            if let cls = parseClass(at: p) {
                guard t < text.count else { return false }
                let c = text[t]
                let inside = cls.members.contains { $0.0 <= c && c <= $0.1 }
                return inside != cls.negated && match(cls.next, text, t + 1)
            }
            fallthrough
        default:
            return t < text.count && text[t] == pattern[p] && match(p + 1, text, t + 1)
        }
    }
}

@Suite("GlobPattern")
struct GlobPatternTests {
    @Test("hand-picked cases", arguments: [
        ("*.txt", "notes.txt", true), ("*.txt", "notes.txt.bak", false), ("*", "", true), ("", "", true),
        ("", "a", false), ("?", "", false), ("?", "é", true), ("a?c", "abc", true), ("a?c", "ac", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("**a**", "ba", true), ("*a", "bab", false),
        ("[abc]x", "bx", true), ("[abc]x", "dx", false), ("[a-c]", "c", true), ("[a-c]", "d", false),
        ("[!a-c]", "d", true), ("[!a-c]", "b", false), ("[^a-c]", "z", true), ("[]]", "]", true),
        ("[]a]", "a", true), ("[!]]", "]", false), ("[!]]", "x", true), ("[a-]", "-", true), ("[z-a]", "m", false),
        ("a[", "a[", true), ("a[b", "a[b", true), ("a[b", "ab", false), ("]", "]", true), ("[*]", "*", true),
        ("[*]", "x", false), ("[?]", "?", true), ("\\*", "\\x", true), ("caf[é]", "café", true),
        ("*😀*", "smile 😀!", true),
    ])
    func cases(pattern: String, text: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(text) == expected)
        #expect(ReferenceGlob(pattern).matches(text) == expected, "the reference disagrees with the table")
    }

    @Test("many stars against long text stay fast (the naive reference would take forever)")
    func pathologicalPatterns() {
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(!GlobPattern("a*a*a*a*a*a*a*b").matches(String(repeating: "a", count: 2000)))
            #expect(GlobPattern("*x*y*z*").matches(String(repeating: "xy", count: 5000) + "z"))
            #expect(!GlobPattern("*x*y*z*q").matches(String(repeating: "xy", count: 5000) + "z"))
        }
        #expect(elapsed < .seconds(5))
    }

    @Test("case-insensitive matching lowercases pattern and text", arguments: [
        ("HELLO*", "hello world", true), ("hello*", "HELLO WORLD", true), ("[A-C]at", "bAT", true),
        ("[a-c]AT", "Dat", false), ("straße", "STRASSE", false), ("É?", "éA", true),
    ])
    func caseInsensitive(pattern: String, text: String, expected: Bool) {
        let glob = GlobPattern(pattern, caseInsensitive: true)
        #expect(glob.caseInsensitive)
        #expect(glob.matches(text) == expected)
        #expect(GlobPattern(pattern).matches(text) == (pattern == text), "case-sensitive matching is exact here")
    }

    @Test("literal prefix stops at the first wildcard", arguments: [
        ("abc*def", "abc"), ("abc", "abc"), ("*abc", ""), ("ab?c", "ab"), ("ab[cd]", "ab"), ("", ""), ("a[", "a["),
    ])
    func literalPrefix(pattern: String, prefix: String) {
        #expect(GlobPattern(pattern).literalPrefix == prefix)
    }

    static func randomPattern(_ rng: inout SeededRandom, upper: Bool) -> String {
        let letters = upper ? ["a", "b", "c", "A", "B"] : ["a", "b", "c"]
        let pieces = letters + ["*", "?", "[ab]", "[!a]", "[^c]", "[a-b]", "[b-c]x", "[c-a]", "[]a]", "[", "]", "-", "!"]
        var pattern = ""
        for _ in 0..<Int.random(in: 0...6, using: &rng) { pattern += rng.pick(pieces) }
        return pattern
    }

    static func randomText(_ rng: inout SeededRandom, upper: Bool) -> String {
        let letters: [Character] = upper ? ["a", "b", "c", "A", "C", "x", "[", "]"] : ["a", "b", "c", "x", "[", "]", "-", "!"]
        return String((0..<Int.random(in: 0...8, using: &rng)).map { _ in rng.pick(letters) })
    }

    @Test("agrees with the reference matcher on random patterns", arguments: 0..<8)
    func randomAgainstReference(seed: UInt64) {
        var rng = SeededRandom(seed: 0x6106 &+ seed)
        var matched = 0, checked = 0
        for _ in 0..<400 {
            let pattern = Self.randomPattern(&rng, upper: false)
            let glob = GlobPattern(pattern)
            let reference = ReferenceGlob(pattern)
            for _ in 0..<10 {
                let text = rng.chance(0.3) ? pattern : Self.randomText(&rng, upper: false)
                let expected = reference.matches(text)
                #expect(glob.matches(text) == expected, "pattern \(pattern) text \(text)")
                checked += 1
                if expected { matched += 1 }
            }
        }
        // The generator must produce both outcomes, or the comparison proves little.
        #expect(matched > checked / 20)
        #expect(matched < checked - checked / 20)
    }

    @Test("case-insensitive agrees with the reference on lowercased inputs", arguments: 0..<4)
    func randomCaseInsensitive(seed: UInt64) {
        var rng = SeededRandom(seed: 0x1610 &+ seed)
        for _ in 0..<400 {
            let pattern = Self.randomPattern(&rng, upper: true)
            let glob = GlobPattern(pattern, caseInsensitive: true)
            let reference = ReferenceGlob(pattern.lowercased())
            for _ in 0..<10 {
                let text = Self.randomText(&rng, upper: true)
                #expect(glob.matches(text) == reference.matches(text.lowercased()), "pattern \(pattern) text \(text)")
            }
        }
    }
}
