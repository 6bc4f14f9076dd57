@testable import Planner
import Testing

/// Glob matching never backtracks: the characters examined grow linearly with the text.
@Suite("GlobPattern linear matching")
struct GlobLinearTests {
    static func steps(_ pattern: String, _ text: String, caseInsensitive: Bool = false) -> (Bool, Int) {
        var steps = 0
        let matched = GlobPattern(pattern, caseInsensitive: caseInsensitive).matches(text, steps: &steps)
        return (matched, steps)
    }

    @Test("a star before a long literal examines each text character about once")
    func starThenLongLiteral() {
        let pattern = "*" + String(repeating: "a", count: 10_000) + "b"
        let text = String(repeating: "a", count: 30_000)
        let (matched, steps) = Self.steps(pattern, text)
        #expect(!matched)
        // A backtracking matcher examines ~(30,000 − 10,000) × 10,000 = 2e8 characters here.
        #expect(steps <= 2 * (text.count + pattern.count), "examined \(steps) characters")
        let (hit, hitSteps) = Self.steps(pattern, text + "b")
        #expect(hit)
        #expect(hitSteps <= 2 * (text.count + pattern.count), "examined \(hitSteps) characters")
    }

    @Test("many stars with near-misses stay linear")
    func manyStars() {
        let pattern = String(repeating: "*a?", count: 500) + "*b*"
        let text = String(repeating: "a", count: 20_000)
        let (matched, steps) = Self.steps(pattern, text, caseInsensitive: true)
        #expect(!matched)
        #expect(steps <= 2 * (text.count + pattern.count), "examined \(steps) characters")
    }

    @Test("greedy leftmost matching agrees with a reference matcher", arguments: [
        ("*ab*ab", "abab", true), ("*ab*ab", "aab", false), ("a*b*c", "abbbc", true), ("a*b*c", "acb", false),
        ("*?", "", false), ("*", "", true), ("**a", "a", true), ("a*", "a", true), ("*a*", "bbb", false),
        ("[a-c]*[!x]", "cx", false), ("[a-c]*[!x]", "cxy", true), ("?*?", "a", false), ("?*?", "ab", true),
        ("*aa*aa", "aaa", false), ("*aa*aa", "aaaa", true), ("x*yz*yz", "xyzyz", true), ("x*yz*yz", "xyzy", false),
    ])
    func agreesWithReference(pattern: String, text: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(text) == expected)
        #expect(Self.reference(Array(pattern), Array(text)) == expected, "the reference itself disagrees")
    }

    @Test("random patterns agree with a backtracking reference")
    func randomAgreement() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let alphabet: [Character] = ["a", "b", "*", "?"]
        for _ in 0..<2_000 {
            let pattern = String((0..<next(7)).map { _ in alphabet[next(4)] })
            let text = String((0..<next(8)).map { _ in alphabet[next(2)] })
            #expect(GlobPattern(pattern).matches(text) == Self.reference(Array(pattern), Array(text)), "\(pattern) on \(text)")
        }
    }

    /// `*` any run, `?` one character, `[...]` not used: exponential but obviously right.
    static func reference(_ p: [Character], _ t: [Character]) -> Bool {
        if p.isEmpty { return t.isEmpty }
        if p[0] == "*" { return reference(Array(p.dropFirst()), t) || (!t.isEmpty && reference(p, Array(t.dropFirst()))) }
        if p[0] == "[" {  // tiny class support for the listed cases: [a-c] and [!x]
            guard let close = p.firstIndex(of: "]"), let c = t.first else { return false }
            let body = Array(p[1..<close])
            let ok = body.first == "!" ? !body.dropFirst().contains(c) : (body.count == 3 && body[1] == "-" ? (body[0]...body[2]).contains(c) : body.contains(c))
            return ok && reference(Array(p[(close + 1)...]), Array(t.dropFirst()))
        }
        guard let c = t.first, p[0] == "?" || p[0] == c else { return false }
        return reference(Array(p.dropFirst()), Array(t.dropFirst()))
    }
}
