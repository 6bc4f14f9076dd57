import HTTP
import Testing

@Suite struct TOMLSubsetTests {
    @Test func escapesAreDecoded() throws {
        let values = try TOMLSubset.parse(#"""
        [s]
        a = "tab\there"
        b = "line\nbreak"
        c = "quote \" and backslash \\"
        d = "\u00e9\U0001F600"
        e = "\b\f\r"
        """#)
        #expect(values["s.a"] == .string("tab\there"))
        #expect(values["s.b"] == .string("line\nbreak"))
        #expect(values["s.c"] == .string("quote \" and backslash \\"))
        #expect(values["s.d"] == .string("\u{e9}\u{1F600}"))
        #expect(values["s.e"] == .string("\u{08}\u{0C}\r"))
    }

    @Test func commentsRespectQuotes() throws {
        let values = try TOMLSubset.parse(#"""
        [s]   # a section comment
        hash = "a # not a comment"   # a comment
        escaped = "say \"#1\" # still text" # comment "with quotes"
        n = 42 # number
        """#)
        #expect(values["s.hash"] == .string("a # not a comment"))
        #expect(values["s.escaped"] == .string("say \"#1\" # still text"))
        #expect(values["s.n"] == .integer(42))
    }

    @Test func scalarsAndQuotedKeys() throws {
        let values = try TOMLSubset.parse("""
        top = true
        [a.b]
        "quoted key" = 1_000
        f = -2.5
        off = false
        """)
        #expect(values["top"] == .bool(true))
        #expect(values["a.b.quoted key"] == .integer(1000))
        #expect(values["a.b.f"] == .float(-2.5))
        #expect(values["a.b.off"] == .bool(false))
    }

    @Test(arguments: [
        ("[s]\nk = 1\nk = 2", "set twice"),
        ("[s]\nk = 1\n[s]\nj = 2", "defined twice"),
        ("[keys.a]\nx = 1\n[keys]\na = 2", "redefines"),
        ("k = \"bad \\q escape\"", "unknown escape"),
        ("k = \"\\u12\"", "hex digits"),
        ("k = \"\\uD800\"", "not a Unicode scalar"),
        ("k = \"open", "unterminated"),
        ("k = \"a\" trailing", "unexpected text"),
        ("k = 'single'", "single-quoted"),
        ("k = [1, 2]", "arrays"),
        ("k = \"\"\"multi", "multi-line"),
        ("a.b = 1", "dotted keys"),
        ("[[t]]", "array tables"),
        ("[s", "close the table"),
        ("k = 1__0", "unsupported value"),
        ("k = nan", "unsupported value"),
        ("k", "expected key = value"),
        ("k = \"tab\u{01}\"", "control character"),
    ])
    func invalidInputIsRejectedNamingTheLine(_ text: String, _ needle: String) {
        do {
            let values = try TOMLSubset.parse("# first line\n" + text)
            Issue.record("accepted \(text.debugDescription) as \(values)")
        } catch let error as TOMLSubset.ParseError {
            #expect(error.line >= 2, "\(error)")
            #expect(error.message.contains(needle), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
