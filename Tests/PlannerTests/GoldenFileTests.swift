import Foundation
import LagoonTestSupport
import Testing

@Suite("GoldenFile helper")
struct GoldenFileTests {
    @Test("wildcards match any run of characters within one line", arguments: [
        ("id=42 rows=3", "id={{*}} rows=3", true),
        ("id= rows=3", "id={{*}} rows=3", true),
        ("id=42 rows=4", "id={{*}} rows=3", false),
        ("a b c", "{{*}}", true),
        ("", "{{*}}", true),
        ("x=0.30000000000000004 y=1", "x=0.3{{*}} y={{*}}", true),
        ("abc", "a{{*}}b{{*}}c", true),
        ("ac", "a{{*}}b{{*}}c", false),
        ("abab", "ab{{*}}ab", true),
        ("ab", "ab{{*}}ab", false),
        ("literal", "literal", true),
        ("literal!", "literal", false),
    ])
    func lineWildcards(line: String, pattern: String, expected: Bool) {
        #expect(GoldenFile.lineMatches(Substring(line), pattern: Substring(pattern)) == expected)
    }

    @Test("a wildcard never spans lines and line counts must agree")
    func multiLine() {
        #expect(GoldenFile.matches("a 1\nb 2\n", golden: "a {{*}}\nb {{*}}\n"))
        #expect(!GoldenFile.matches("a 1\nb 2\n", golden: "a {{*}}\n"))
        #expect(!GoldenFile.matches("a 1\nx\nb 2\n", golden: "a {{*}}b 2\n"))
        #expect(GoldenFile.matches("a\n", golden: "a"), "a missing final newline is not a difference")
    }

    @Test("the diff marks golden-only and actual-only lines")
    func diff() {
        let diff = GoldenFile.diff(golden: "keep\nold line\nid={{*}}\ntail\n", actual: "keep\nnew line\nid=7\ntail\nextra\n")
        #expect(diff == "  keep\n- old line\n+ new line\n  id=7\n  tail\n+ extra\n")
    }

    @Test("verify passes on a match, reports a diff on a mismatch, and records when asked")
    func verifyAndRecord() throws {
        try withTempDirectorySync { directory in
            let url = directory.appendingPathComponent("nested/plan.txt")
            let missing = GoldenFile.verify("Scan est_rows=3\n", at: url, record: false)
            #expect(missing?.contains("is missing") == true)
            #expect(!FileManager.default.fileExists(atPath: url.path))

            #expect(GoldenFile.verify("Scan est_rows=3\n", at: url, record: true) == nil)
            #expect(try String(contentsOf: url, encoding: .utf8) == "Scan est_rows=3\n")
            #expect(GoldenFile.verify("Scan est_rows=3\n", at: url, record: false) == nil)

            let mismatch = GoldenFile.verify("Scan est_rows=4\n", at: url, record: false)
            #expect(mismatch?.contains("- Scan est_rows=3\n+ Scan est_rows=4") == true, "\(mismatch ?? "")")

            // A golden file with wildcards that still matches is not rewritten in record mode.
            try "Scan id={{*}}\n".write(to: url, atomically: true, encoding: .utf8)
            #expect(GoldenFile.verify("Scan id=99\n", at: url, record: true) == nil)
            #expect(try String(contentsOf: url, encoding: .utf8) == "Scan id={{*}}\n")
            // One that does not match is replaced by the actual text.
            #expect(GoldenFile.verify("Filter id=99\n", at: url, record: true) == nil)
            #expect(try String(contentsOf: url, encoding: .utf8) == "Filter id=99\n")
        }
    }

    @Test("golden files resolve inside the package")
    func location() {
        let url = GoldenFile.url("explain/bm25.txt")
        #expect(url.path.hasSuffix("/Fixtures/golden/explain/bm25.txt"))
        #expect(FileManager.default.fileExists(atPath: GoldenFile.packageRoot().appendingPathComponent("Package.swift").path))
    }

    func withTempDirectorySync(_ body: (URL) throws -> Void) throws {
        let directory = try TempDirectory(prefix: "lagoon-golden")
        defer { directory.remove() }
        try body(directory.url)
    }
}
