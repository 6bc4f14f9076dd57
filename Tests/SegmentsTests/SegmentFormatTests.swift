import Foundation
import Kernels
import LagoonTestSupport
import Log
import Segments
import Store
import Testing

/// The segment container and its parts: round trips through a store by ranged reads, the
/// frozen v1 fixture, and damage detection (Specs/format/segment.md).
@Suite("Segment format")
struct SegmentFormatTests {
    static let fixture = GoldenFile.packageRoot().appendingPathComponent("Fixtures/formats/v1/segment-v1.seg")
    static var recording: Bool { ProcessInfo.processInfo.environment["LAGOON_RECORD_FIXTURES"] == "1" }

    static let fts = FullTextConfig()
    static var config: NamespaceConfig {
        var config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 3)
        config.schema["text"] = AttributeSchema(type: "string", fullTextSearch: fts)
        return config
    }

    /// The documents frozen in segment-v1.seg (one without a vector, one without text).
    static let documents: [Document] = [
        Document(id: .uint(9), vector: [0.5, -1, 2], attributes: ["text": .string("rock music and more rock"), "n": .int(3)]),
        Document(id: .uint(2), vector: nil, attributes: ["text": .string("quiet jazz"), "tags": .array([.string("a"), .int(1)])]),
        Document(id: .uint(5), vector: [1, 1, 1], attributes: ["n": .float(2.5)]),
    ]

    static func open(_ bytes: Data) async throws -> Segment {
        let store = MemoryStore()
        try await store.put("seg", bytes, condition: .none)
        let segment = try await Segment.open(key: "seg", size: bytes.count, store: store)
        var parts = SegmentPartRequest(vectors: true, columns: nil, textIndexes: ["text": fts])
        parts.filterIndexes = Set(segment.meta.attributes)
        try await segment.load(parts, store: store)
        return segment
    }

    static func checkContents(_ segment: Segment) throws {
        #expect(Array(segment.ids) == [.uint(2), .uint(5), .uint(9)], "rows are ordered by id")
        #expect(segment.meta.minSeq == 4 && segment.meta.maxSeq == 7)
        #expect(segment.meta.attributes == ["n", "tags", "text"])
        #expect(segment.column("text")?[2] == .string("rock music and more rock"))
        #expect(segment.column("text")?[1] == .null)
        #expect(segment.column("n")?[1] == .float(2.5))
        #expect(segment.column("tags")?[0] == .array([.string("a"), .int(1)]))
        let vectors = try #require(segment.vectors)
        #expect(vectors.count == 2 && !vectors.hasVector(row: 0))
        #expect(try vectors.vector(ofRow: 2) == [0.5, -1, 2] && vectors.vector(ofRow: 1) == [1, 1, 1])
        let text = try #require(segment.textIndex("text"))
        #expect((0..<3).map { text.length(ofRow: $0) } == [2, 0, 4], "stopwords removed: rock music more rock")
        #expect(text.documentCount == 2 && text.totalLength == 6)
        let rock = try #require(try text.term("rock"))
        #expect(rock.documentFrequency == 1)
        #expect(try text.term("roc") == nil && text.term("rocks") == nil && text.term("") == nil)
        var rows: [Int32] = [], tfs: [UInt32] = []
        text.decode(text.blocks(of: rock)[0], rows: &rows, frequencies: &tfs)
        #expect(rows == [2] && tfs == [2])
        #expect(text.blocks(of: rock)[0].maxTermFrequency == 2)
    }

    @Test func roundTripThroughRangedReads() async throws {
        let bytes = try SegmentBuilder.build(Self.documents, config: Self.config, minSeq: 4, maxSeq: 7)
        try Self.checkContents(try await Self.open(bytes))
    }

    @Test("the frozen v1 segment stays readable")
    func frozenFixture() async throws {
        if Self.recording {
            try SegmentBuilder.build(Self.documents, config: Self.config, minSeq: 4, maxSeq: 7).write(to: Self.fixture)
        }
        let bytes = try Data(contentsOf: Self.fixture)
        try Self.checkContents(try await Self.open(bytes))
    }

    @Test func postingsSpanSeveralBlocksWithBounds() async throws {
        let documents = (0..<300).map { i in
            Document(id: .uint(UInt64(i)), attributes: ["text": .string(String(repeating: "word ", count: 1 + i % 5) + (i % 2 == 0 ? "even" : ""))])
        }
        let segment = try await Self.open(try SegmentBuilder.build(documents, config: Self.config, minSeq: 1, maxSeq: 1))
        let text = try #require(segment.textIndex("text"))
        let word = try #require(try text.term("word"))
        #expect(word.documentFrequency == 300 && text.blocks(of: word).count == 3)
        var all: [Int32] = []
        var rows: [Int32] = [], tfs: [UInt32] = []
        for block in text.blocks(of: word) {
            text.decode(block, rows: &rows, frequencies: &tfs)
            #expect(tfs.max() == block.maxTermFrequency)
            #expect(rows.map { text.length(ofRow: Int($0)) }.min() == block.minLength)
            #expect(rows.last == block.lastRow)
            all += rows
        }
        #expect(all == (0..<300).map(Int32.init))
    }

    /// Every byte a reader uses (header, parts, table, trailer) is covered by a check; the zero
    /// padding that aligns parts to 64 bytes is never read, so it is the only byte left out.
    @Test func everyFlippedByteIsDetected() async throws {
        let bytes = try SegmentBuilder.build(Self.documents, config: Self.config, minSeq: 4, maxSeq: 7)
        let trailer = try SegmentFile.trailer(bytes.suffix(SegmentFile.trailerSize), objectSize: bytes.count, object: "s")
        let parts = try SegmentFile.partTable(bytes[trailer.tableOffset..<(trailer.tableOffset + trailer.tableLength)], trailer: trailer, object: "s")
        var read = [Bool](repeating: false, count: bytes.count)
        var regions = [0..<SegmentFile.headerSize, trailer.tableOffset..<bytes.count]
        regions += parts.values.map { $0.offset..<($0.offset + $0.length) }
        for region in regions { for i in region { read[i] = true } }
        #expect(parts.values.allSatisfy { $0.offset % SegmentFile.partAlignment == 0 }, "parts start 64-byte aligned")
        for (i, isRead) in read.enumerated() where !isRead {
            #expect(bytes[i] == 0, "byte \(i) is padding and must be zero")
        }
        let covered = read.indices.filter { read[$0] }
        var rng = SeededRandom(seed: 7)
        for _ in 0..<64 {
            var damaged = bytes
            let at = covered[Int.random(in: 0..<covered.count, using: &rng)]
            damaged[at] ^= UInt8.random(in: 1...255, using: &rng)
            await #expect(throws: FormatError.self) { _ = try await Self.open(damaged) }
        }
    }

    @Test("an attribute few rows have is stored sparsely and reads back null elsewhere")
    func sparseColumns() async throws {
        let documents = (0..<100).map { i in
            Document(id: .uint(UInt64(i)), attributes: i % 40 == 3 ? ["rare": .int(Int64(i)), "common": .int(1)] : ["common": .int(1)])
        }
        let segment = try await Self.open(try SegmentBuilder.build(documents, config: NamespaceConfig(), minSeq: 1, maxSeq: 1))
        guard case .sparse(let rows, let values)? = segment.column("rare") else {
            Issue.record("a column 3 of 100 rows have must be sparse")
            return
        }
        #expect(rows == [3, 43, 83] && values == [.int(3), .int(43), .int(83)])
        #expect(segment.column("rare")?[43] == .int(43) && segment.column("rare")?[44] == .null && segment.column("rare")?[0] == .null)
        if case .sparse? = segment.column("common") { Issue.record("a column every row has stays dense") }
    }

    @Test("a string column of few distinct values is a dictionary sorted by bytes; mostly distinct strings are stored as values")
    func stringColumnEncodings() async throws {
        let kinds = ["b", "a", "é", "B"]
        let documents = (0..<40).map { i in
            Document(id: .uint(UInt64(i)), attributes: ["kind": .string(kinds[i % 4]), "name": .string("name \(i)")])
        }
        let segment = try await Self.open(try SegmentBuilder.build(documents, config: NamespaceConfig(), minSeq: 1, maxSeq: 1))
        guard case .dictionary(let values, _)? = segment.column("kind") else {
            Issue.record("4 distinct strings in 40 rows must be dictionary-encoded")
            return
        }
        #expect(values == ["B", "a", "b", "é"], "sorted by bytes, not by Swift's String order")
        guard case .values? = segment.column("name") else {
            Issue.record("40 distinct strings in 40 rows are stored as values")
            return
        }
        for i in 0..<40 {
            #expect(segment.column("kind")?[i] == .string(kinds[i % 4]) && segment.column("name")?[i] == .string("name \(i)"))
        }
    }

    @Test("canonically equivalent spellings stay distinct values in a dictionary column")
    func dictionaryKeepsSpellings() async throws {
        let spellings = ["\u{E9}", "e\u{301}"]  // "é" precomposed and decomposed: equal as Swift Strings
        let documents = (0..<10).map { i in Document(id: .uint(UInt64(i)), attributes: ["s": .string(spellings[i % 2])]) }
        let segment = try await Self.open(try SegmentBuilder.build(documents, config: NamespaceConfig(), minSeq: 1, maxSeq: 1))
        guard case .dictionary(let values, _)? = segment.column("s") else {
            Issue.record("2 distinct strings in 10 rows must be dictionary-encoded")
            return
        }
        #expect(values.count == 2)
        for i in 0..<10 {
            let value = try #require(segment.column("s")?[i])
            guard case .string(let s) = value else { Issue.record("row \(i) lost its string"); continue }
            #expect(Array(s.utf8) == Array(spellings[i % 2].utf8), "row \(i) keeps its own bytes")
        }
    }

    @Test func deletionVectorRoundTrip() throws {
        var bits = Bitset(count: 130)
        for row in [0, 64, 129] { bits.set(row) }
        let decoded = try DeletionVectorCodec.decode(DeletionVectorCodec.encode(bits), rowCount: 130, object: "dv")
        #expect(decoded == bits)
        #expect(throws: FormatError.self) { _ = try DeletionVectorCodec.decode(DeletionVectorCodec.encode(bits), rowCount: 131, object: "dv") }
    }
}
