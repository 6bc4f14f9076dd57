import Segments
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("EnglishStemmer (Snowball Porter2)")
struct EnglishStemmerTests {
    /// Fixtures/stemmer/english-snowball.tsv, located relative to this source file.
    static let vectorsPath: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3) // EnglishStemmerTests.swift, SegmentsTests, Tests
        return components.joined(separator: "/") + "/Fixtures/stemmer/english-snowball.tsv"
    }()

    static func readFile(_ path: String) -> String? {
        guard let fp = fopen(path, "r") else { return nil }
        defer { fclose(fp) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = fread(&chunk, 1, chunk.count, fp)
            if read <= 0 { break }
            bytes.append(contentsOf: chunk[0..<read])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("matches every PyStemmer reference vector")
    func referenceVectors() throws {
        let text = try #require(Self.readFile(Self.vectorsPath), "cannot read \(Self.vectorsPath)")
        var total = 0
        var mismatches: [String] = []
        var mismatchCount = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2 else { continue }
            total += 1
            let word = String(fields[0])
            let expected = String(fields[1])
            let got = EnglishStemmer.stem(word)
            if got != expected {
                mismatchCount += 1
                if mismatches.count < 20 { mismatches.append("\(word): expected \(expected), got \(got)") }
            }
        }
        #expect(total > 3000, "expected ~3,000 vectors, read \(total)")
        #expect(mismatchCount == 0, "\(mismatchCount)/\(total) mismatches; first \(mismatches.count):\n\(mismatches.joined(separator: "\n"))")
    }

    @Test("direct cases", arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("ties", "tie"), ("cats", "cat"),
        ("agreed", "agre"), ("feed", "feed"), ("hopping", "hop"), ("filing", "file"),
        ("generously", "generous"), ("communism", "communism"), ("arsenal", "arsenal"),
        ("dying", "die"), ("skies", "sky"), ("skis", "ski"), ("news", "news"),
        ("herring", "herring"), ("evening", "evening"), ("succeeded", "succeed"),
        ("relational", "relat"), ("geologist", "geolog"), ("pasting", "paste"),
        ("international", "internat"), ("adding", "add"), ("days", "day"),
    ])
    func directCases(word: String, stem: String) {
        #expect(EnglishStemmer.stem(word) == stem)
    }

    @Test("short, uppercase, digit and non-ASCII words are returned unchanged")
    func passThrough() {
        #expect(EnglishStemmer.stem("") == "")
        #expect(EnglishStemmer.stem("is") == "is")
        #expect(EnglishStemmer.stem("as") == "as")
        #expect(EnglishStemmer.stem("running2") == "running2")
        #expect(EnglishStemmer.stem("cafés") == "cafés")
        #expect(EnglishStemmer.stem("Running") == "Running")
    }
}
