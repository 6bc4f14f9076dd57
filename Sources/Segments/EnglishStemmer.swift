// Snowball English ("Porter2") stemmer, written from the published algorithm
// description at snowballstem.org (including the Snowball 3.x revisions:
// extra R1 prefixes, `-ogist`, the `past` short syllable, the a/e/o undoubling
// rule and the `-eed` / `-ing` exceptions handled inside step 1b).
//
// Input is expected to be a lowercase ASCII word. Anything containing a byte
// outside `a`...`z` (uppercase, digits, apostrophes, non-ASCII) is returned
// unchanged, as are words of two letters or fewer.

public enum EnglishStemmer {
    /// Returns the Porter2 stem of a lowercase ASCII word.
    public static func stem(_ word: String) -> String {
        var bytes: [UInt8] = []
        var valid = true
        bytes.reserveCapacity(word.utf8.count)
        for c in word.utf8 {
            guard c >= 0x61 && c <= 0x7A else { valid = false; break }
            bytes.append(c)
        }
        guard valid, bytes.count > 2 else { return word }
        if let special = exceptionalForm(bytes, word) { return special }
        var s = Porter2(bytes)
        s.run()
        return String(decoding: s.b, as: UTF8.self)
    }

    // Whole-word exceptions, checked before anything else: a few irregular
    // forms map to fixed stems and a few words are left invariant.
    private static func exceptionalForm(_ w: [UInt8], _ word: String) -> String? {
        guard w.count <= 6 else { return nil }
        switch String(decoding: w, as: UTF8.self) {
        case "skis": return "ski"
        case "skies": return "sky"
        case "idly": return "idl"
        case "gently": return "gentl"
        case "ugly": return "ugli"
        case "early": return "earli"
        case "only": return "onli"
        case "singly": return "singl"
        case "sky", "news", "howe", "atlas", "cosmos", "bias", "andes":
            return word
        default: return nil
        }
    }
}

private let chA: UInt8 = 0x61, chB: UInt8 = 0x62, chC: UInt8 = 0x63, chD: UInt8 = 0x64
private let chE: UInt8 = 0x65, chF: UInt8 = 0x66, chG: UInt8 = 0x67, chH: UInt8 = 0x68
private let chI: UInt8 = 0x69, chK: UInt8 = 0x6B, chL: UInt8 = 0x6C, chM: UInt8 = 0x6D
private let chN: UInt8 = 0x6E, chO: UInt8 = 0x6F, chP: UInt8 = 0x70, chR: UInt8 = 0x72
private let chS: UInt8 = 0x73, chT: UInt8 = 0x74, chU: UInt8 = 0x75, chW: UInt8 = 0x77
private let chX: UInt8 = 0x78, chY: UInt8 = 0x79
/// Marker for a consonantal `y` (the algorithm's `Y`).
private let chYc: UInt8 = 0x59

@inline(__always) private func isVowel(_ c: UInt8) -> Bool {
    c == chA || c == chE || c == chI || c == chO || c == chU || c == chY
}

@inline(__always) private func isDouble(_ c: UInt8) -> Bool {
    c == chB || c == chD || c == chF || c == chG || c == chM
        || c == chN || c == chP || c == chR || c == chT
}

@inline(__always) private func isValidLiEnding(_ c: UInt8) -> Bool {
    switch c {
    case chC, chD, chE, chG, chH, chK, chM, chN, chR, chT: return true
    default: return false
    }
}

/// Mutable stemming state: the word buffer plus the R1/R2 start offsets.
private struct Porter2 {
    var b: [UInt8]
    var p1 = 0
    var p2 = 0

    init(_ bytes: [UInt8]) { b = bytes }

    var n: Int { b.count }

    // MARK: - Buffer helpers

    @inline(__always) func ends(_ suffix: StaticString) -> Bool {
        let len = suffix.utf8CodeUnitCount
        guard len <= b.count else { return false }
        let p = suffix.utf8Start
        let off = b.count - len
        for i in 0..<len where b[off + i] != p[i] { return false }
        return true
    }

    /// Replaces the last `count` bytes with `replacement`.
    @inline(__always) mutating func replace(_ count: Int, with replacement: StaticString) {
        b.removeLast(count)
        let p = replacement.utf8Start
        for i in 0..<replacement.utf8CodeUnitCount { b.append(p[i]) }
    }

    @inline(__always) func inR1(_ suffixLen: Int) -> Bool { n - suffixLen >= p1 }
    @inline(__always) func inR2(_ suffixLen: Int) -> Bool { n - suffixLen >= p2 }

    /// True if `b[0..<end]` ends in a short syllable: non-vowel, vowel,
    /// non-vowel other than w/x/Y; or vowel + non-vowel as the whole word;
    /// or the letters `past`.
    func endsShortSyllable(_ end: Int) -> Bool {
        if end >= 3 {
            let c = b[end - 1]
            if !isVowel(c) && c != chW && c != chX && c != chYc
                && isVowel(b[end - 2]) && !isVowel(b[end - 3]) { return true }
        }
        if end == 2 && !isVowel(b[1]) && isVowel(b[0]) { return true }
        if end >= 4 && b[end - 4] == chP && b[end - 3] == chA && b[end - 2] == chS && b[end - 1] == chT {
            return true
        }
        return false
    }

    /// A word is short if it ends in a short syllable and R1 is empty.
    var isShort: Bool { p1 >= n && endsShortSyllable(n) }

    /// Whether `b[0..<end]` contains a vowel.
    func hasVowel(before end: Int) -> Bool {
        var i = 0
        while i < end { if isVowel(b[i]) { return true }; i += 1 }
        return false
    }

    // MARK: - Driver

    mutating func run() {
        prelude()
        markRegions()
        // Step 0 (strip 's / ' / 's') never applies: apostrophes are rejected up front.
        step1a()
        step1b()
        step1c()
        step2()
        step3()
        step4()
        step5()
        // Postlude: turn consonantal Y back into y.
        for i in 0..<n where b[i] == chYc { b[i] = chY }
    }

    // Prelude: mark an initial y, and any y after a vowel, as consonantal Y.
    mutating func prelude() {
        if b[0] == chY { b[0] = chYc }
        var i = 1
        while i < n {
            if b[i] == chY && isVowel(b[i - 1]) { b[i] = chYc }
            i += 1
        }
    }

    // Regions: R1 starts after the first non-vowel following a vowel (or after
    // one of the special prefixes); R2 is the same rule applied inside R1.
    mutating func markRegions() {
        p1 = specialPrefixLength() ?? regionStart(from: 0)
        p2 = regionStart(from: p1)
    }

    func regionStart(from start: Int) -> Int {
        var i = start
        while i < n && !isVowel(b[i]) { i += 1 }
        while i < n && isVowel(b[i]) { i += 1 }
        return i < n ? i + 1 : n
    }

    func specialPrefixLength() -> Int? {
        for prefix: StaticString in ["gener", "commun", "arsen", "past", "univers",
                                     "later", "emerg", "organ", "inter"] {
            let len = prefix.utf8CodeUnitCount
            guard len <= n else { continue }
            let p = prefix.utf8Start
            var ok = true
            for i in 0..<len where b[i] != p[i] { ok = false; break }
            if ok { return len }
        }
        return nil
    }

    // MARK: - Steps

    // Step 1a: plural and -ied endings (sses→ss, ied/ies→i or ie, drop s
    // when an earlier vowel exists; us/ss are kept).
    mutating func step1a() {
        guard b[n - 1] == chS || b[n - 1] == chD else { return }
        if ends("sses") {
            b.removeLast(2)
        } else if ends("ied") || ends("ies") {
            if n > 4 { b.removeLast(2) } else { b.removeLast(1) }
        } else if ends("us") || ends("ss") {
            return
        } else if b[n - 1] == chS {
            if hasVowel(before: n - 2) { b.removeLast() }
        }
    }

    // Step 1b: -eed(ly) → -ee in R1 (except proceed/exceed/succeed);
    // -ed(ly)/-ing(ly) removed after a vowel, then at/bl/iz get an e, a
    // final double is undoubled (not after a lone a/e/o) or a short word gets
    // an e; a few -ing words (dying→die, inning, evening, …) are special.
    mutating func step1b() {
        let suffixLen: Int
        if ends("eedly") || ends("eed") {
            let len = ends("eedly") ? 5 : 3
            let stemLen = n - len
            if stemIs("proc", stemLen) || stemIs("exc", stemLen) || stemIs("succ", stemLen) { return }
            if inR1(len) { replace(len, with: "ee") }
            return
        } else if ends("ingly") {
            suffixLen = 5
        } else if ends("edly") {
            suffixLen = 4
        } else if ends("ing") {
            suffixLen = 3
            let stemLen = n - 3
            // dying→die, lying→lie, tying→tie, vying→vie, hying→hie.
            if stemLen == 2 && b[1] == chY && !isVowel(b[0]) {
                replace(4, with: "ie")
                return
            }
            if stemIs("inn", stemLen) || stemIs("out", stemLen) || stemIs("cann", stemLen)
                || stemIs("herr", stemLen) || stemIs("earr", stemLen) || stemIs("even", stemLen) {
                return
            }
        } else if ends("ed") {
            suffixLen = 2
        } else {
            return
        }
        guard hasVowel(before: n - suffixLen) else { return }
        b.removeLast(suffixLen)
        if ends("at") || ends("bl") || ends("iz") {
            b.append(chE)
        } else if n >= 2 && b[n - 1] == b[n - 2] && isDouble(b[n - 1]) {
            if !(n == 3 && (b[0] == chA || b[0] == chE || b[0] == chO)) { b.removeLast() }
        } else if isShort {
            b.append(chE)
        }
    }

    /// Whether the first `stemLen` bytes are exactly `word` (and nothing else precedes the suffix).
    @inline(__always) func stemIs(_ word: StaticString, _ stemLen: Int) -> Bool {
        guard word.utf8CodeUnitCount == stemLen else { return false }
        let p = word.utf8Start
        for i in 0..<stemLen where b[i] != p[i] { return false }
        return true
    }

    // Step 1c: final y/Y → i when preceded by a non-vowel that is not the
    // first letter (cry→cri, but by, say unchanged).
    mutating func step1c() {
        guard n >= 3 else { return }
        let last = b[n - 1]
        if (last == chY || last == chYc) && !isVowel(b[n - 2]) { b[n - 1] = chI }
    }

    // Step 2: map derivational suffixes in R1 (longest match wins; if it is
    // not in R1 nothing happens): -ational→-ate, -iveness→-ive, -li deletion, …
    mutating func step2() {
        guard n >= 3 else { return }
        switch b[n - 1] {
        case chL:
            if ends("ational") { if inR1(7) { replace(7, with: "ate") } }
            else if ends("tional") { if inR1(6) { replace(6, with: "tion") } }
        case chI:
            if ends("biliti") { if inR1(6) { replace(6, with: "ble") } }
            else if ends("lessli") { if inR1(6) { replace(6, with: "less") } }
            else if ends("aliti") { if inR1(5) { replace(5, with: "al") } }
            else if ends("iviti") { if inR1(5) { replace(5, with: "ive") } }
            else if ends("fulli") { if inR1(5) { replace(5, with: "ful") } }
            else if ends("ousli") { if inR1(5) { replace(5, with: "ous") } }
            else if ends("entli") { if inR1(5) { replace(5, with: "ent") } }
            else if ends("abli") { if inR1(4) { replace(4, with: "able") } }
            else if ends("alli") { if inR1(4) { replace(4, with: "al") } }
            else if ends("enci") { if inR1(4) { replace(4, with: "ence") } }
            else if ends("anci") { if inR1(4) { replace(4, with: "ance") } }
            else if ends("ogi") {
                if inR1(3) && n >= 4 && b[n - 4] == chL { replace(3, with: "og") }
            }
            else if ends("bli") { if inR1(3) { replace(3, with: "ble") } }
            else if ends("li") {
                if inR1(2) && n >= 3 && isValidLiEnding(b[n - 3]) { b.removeLast(2) }
            }
        case chN:
            if ends("ization") { if inR1(7) { replace(7, with: "ize") } }
            else if ends("ation") { if inR1(5) { replace(5, with: "ate") } }
        case chR:
            if ends("izer") { if inR1(4) { replace(4, with: "ize") } }
            else if ends("ator") { if inR1(4) { replace(4, with: "ate") } }
        case chM:
            if ends("alism") { if inR1(5) { replace(5, with: "al") } }
        case chS:
            if ends("iveness") { if inR1(7) { replace(7, with: "ive") } }
            else if ends("fulness") { if inR1(7) { replace(7, with: "ful") } }
            else if ends("ousness") { if inR1(7) { replace(7, with: "ous") } }
        case chT:
            if ends("ogist") { if inR1(5) { replace(5, with: "og") } }
        default:
            break
        }
    }

    // Step 3: further suffixes in R1: -alize→-al, -ic* →-ic, drop -ful/-ness,
    // drop -ative only in R2.
    mutating func step3() {
        guard n >= 3 else { return }
        switch b[n - 1] {
        case chL:
            if ends("ational") { if inR1(7) { replace(7, with: "ate") } }
            else if ends("tional") { if inR1(6) { replace(6, with: "tion") } }
            else if ends("ical") { if inR1(4) { replace(4, with: "ic") } }
            else if ends("ful") { if inR1(3) { b.removeLast(3) } }
        case chE:
            if ends("alize") { if inR1(5) { replace(5, with: "al") } }
            else if ends("icate") { if inR1(5) { replace(5, with: "ic") } }
            else if ends("ative") { if inR1(5) && inR2(5) { b.removeLast(5) } }
        case chI:
            if ends("iciti") { if inR1(5) { replace(5, with: "ic") } }
        case chS:
            if ends("ness") { if inR1(4) { b.removeLast(4) } }
        default:
            break
        }
    }

    // Step 4: delete residual suffixes (-al, -ance, -ment, -ion after s/t, …)
    // when they lie in R2.
    mutating func step4() {
        guard n >= 3 else { return }
        var len = 0
        switch b[n - 1] {
        case chL: if ends("al") { len = 2 }
        case chE:
            if ends("ance") || ends("ence") || ends("able") || ends("ible") { len = 4 }
            else if ends("ate") || ends("ive") || ends("ize") { len = 3 }
        case chR: if ends("er") { len = 2 }
        case chC: if ends("ic") { len = 2 }
        case chT:
            if ends("ement") { len = 5 }
            else if ends("ment") { len = 4 }
            else if ends("ent") || ends("ant") { len = 3 }
        case chM: if ends("ism") { len = 3 }
        case chI: if ends("iti") { len = 3 }
        case chS: if ends("ous") { len = 3 }
        case chN:
            if ends("ion") {
                if inR2(3) && n >= 4 && (b[n - 4] == chS || b[n - 4] == chT) { b.removeLast(3) }
                return
            }
        default: break
        }
        if len > 0 && inR2(len) { b.removeLast(len) }
    }

    // Step 5: drop final e (in R2, or in R1 unless after a short syllable) and
    // undouble final ll in R2.
    mutating func step5() {
        let last = b[n - 1]
        if last == chE {
            if inR2(1) || (inR1(1) && !endsShortSyllable(n - 1)) { b.removeLast() }
        } else if last == chL {
            if inR2(1) && n >= 2 && b[n - 2] == chL { b.removeLast() }
        }
    }
}
