import Foundation
import Exec
import Kernels
import LagoonTestSupport
import Log
import Planner
import Segments
import Store
import Testing

/// Segment attribute indexes (Specs/format/filter-index.md) against the filter oracle, the
/// row-by-row column scan, damage, and the frozen fixture.
@Suite("filter indexes in segments")
struct FilterIndexTests {
    /// A segment opened twice from the same bytes: one reads its attribute indexes, the other
    /// only its columns (the scan every segment without indexes takes).
    struct Pair {
        let indexed: Segment
        let scanned: Segment
    }

    static func open(_ bytes: Data, indexes: Bool) async throws -> Segment {
        let store = MemoryStore()
        try await store.put("seg", bytes, condition: .none)
        let segment = try await Segment.open(key: "seg", size: bytes.count, store: store)
        var parts = SegmentPartRequest()
        if indexes { parts.filterIndexes = Set(segment.meta.attributes) } else { parts.columns = nil }
        try await segment.load(parts, store: store)
        return segment
    }

    static func pair(_ documents: [Document], config: NamespaceConfig) async throws -> Pair {
        let bytes = try SegmentBuilder.build(documents, config: config, minSeq: 1, maxSeq: 1)
        return Pair(indexed: try await open(bytes, indexes: true), scanned: try await open(bytes, indexes: false))
    }

    static func source(_ segment: Segment) -> RowSource { .segment(SegmentView(segment: segment, deleted: nil)) }

    // MARK: The oracle

    @Test("indexes answer random filters like the oracle, row for row", arguments: [1, 2, 3] as [UInt64])
    func randomFiltersAgreeWithOracle(seed: UInt64) async throws {
        var fixtures = FilterFixtures(rng: SeededRandom(seed: 50 + seed))
        let documents = (0..<600).map { fixtures.document(id: UInt64($0)) }
        let config = FilterOracleTests.config
        let pair = try await Self.pair(documents, config: config)
        let byID = Dictionary(uniqueKeysWithValues: documents.map { ($0.id, $0) })
        let rows = pair.indexed.ids.map { byID[$0]! }
        #expect(pair.indexed.filterIndex("tags") != nil && pair.indexed.filterIndex("text") == nil,
                "filterable attributes are indexed; a full-text one is not filterable by default")
        var answeredByIndex = 0
        var operators = Set<FilterOperator>()
        for _ in 0..<400 {
            let filter = fixtures.filter()
            let indexed = RowPredicate(filter, source: Self.source(pair.indexed), config: config)
            let scanned = RowPredicate(filter, source: Self.source(pair.scanned), config: config)
            #expect(scanned.matchingRows == nil || scanned.indexCardinalities.isEmpty)
            var mismatches: [Int] = []
            var count = 0
            for row in rows.indices {
                let expected = FilterOracle.matches(filter, rows[row])
                if indexed.matches(row) != expected || scanned.matches(row) != expected { mismatches.append(row) }
                if expected { count += 1 }
            }
            if let first = mismatches.first {
                Issue.record("\(jsonText(filter.json)) disagrees with the oracle on \(mismatches.count) rows, first \(first): \(rows[first])")
            }
            if let matching = indexed.matchingRows {
                answeredByIndex += 1
                #expect(matching.popcount == count, "the bitmap holds exactly the matching rows")
                if case .condition(_, let op, _) = filter { operators.insert(op) }
            }
        }
        #expect(answeredByIndex > 150, "most filters must run on the indexes (\(answeredByIndex))")
        #expect(operators == Set(FilterOperator.allCases), "every operator ran on an index")
    }

    /// Values where ranges and equality are easy to get wrong: exact integers above 2^53,
    /// uints above Int64.max, -0.0, integral floats, datetimes, bools, arrays and nulls.
    static let edgeValues: [AttributeValue] = [
        .int(9_007_199_254_740_993), .float(9_007_199_254_740_992), .uint(UInt64.max), .int(Int64.max), .float(9_223_372_036_854_775_808),
        .int(-1), .float(-0.0), .int(0), .float(1), .int(1), .float(1.5), .bool(true), .bool(false),
        .string("2024-02-29T23:30:00.000Z"), .string("2024-03-01T00:00:00.000Z"), .string("1999-12-31T23:59:59.999Z"),
        .string(""), .string("ab"), .string("abc"), .string("abd"), .string("b"), .string("é"), .string("e\u{301}"),
        .array([.int(1), .string("ab")]), .array([.float(1)]), .array([]), .array([.null, .string("abc")]), .array([.array([.int(1)])]),
        .null,
    ]

    @Test("every operator with every edge operand: index = scan, and the exact-number rules hold")
    func edgeOperandsAgreeWithScan() async throws {
        // Three rows per value, so row sets have more than one member; every fourth row lacks it.
        var documents: [Document] = []
        for (i, value) in Self.edgeValues.enumerated() {
            for copy in 0..<3 {
                let id = UInt64(i * 4 + copy)
                documents.append(Document(id: .uint(id), attributes: value.isNull ? [:] : ["v": value]))
            }
            documents.append(Document(id: .uint(UInt64(i * 4 + 3)), attributes: ["other": .int(1)]))
        }
        var config = NamespaceConfig()
        config.idKind = .uint
        let pair = try await Self.pair(documents, config: config)
        let operands = Self.edgeValues + [.array(Self.edgeValues), .array([.int(1), .string("abc")]), .string("a*"), .string("ab?"), .string("*c"), .string("[a-b]*"), .string("E*")]
        var checked = 0
        for op in FilterOperator.allCases {
            for operand in operands {
                let filter = FilterExpression.condition(attribute: "v", op: op, operand: .value(operand))
                let indexed = RowPredicate(filter, source: Self.source(pair.indexed), config: config)
                let scanned = RowPredicate(filter, source: Self.source(pair.scanned), config: config)
                #expect(indexed.matchingRows != nil)
                let a = (0..<documents.count).filter(indexed.matches)
                let b = (0..<documents.count).filter(scanned.matches)
                #expect(a == b, "\(jsonText(filter.json))")
                checked += 1
            }
        }
        #expect(checked == FilterOperator.allCases.count * operands.count)

        /// The values of the rows the index path matches (a row without `v` as null).
        func ids(_ op: FilterOperator, _ operand: AttributeValue) -> Set<AttributeValue> {
            let filter = FilterExpression.condition(attribute: "v", op: op, operand: .value(operand))
            let predicate = RowPredicate(filter, source: Self.source(pair.indexed), config: config)
            return Set((0..<documents.count).filter(predicate.matches).map { row -> AttributeValue in
                guard case .uint(let n) = pair.indexed.ids[row], n % 4 != 3 else { return .null }
                return Self.edgeValues[Int(n) / 4]
            })
        }
        // 2^53 + 1 is above 2^53 as a double; uint max and Int64.max and 2^63 are too.
        #expect(ids(.gt, .float(9_007_199_254_740_992)) == [.int(9_007_199_254_740_993), .uint(UInt64.max), .int(Int64.max), .float(9_223_372_036_854_775_808)])
        // 1 = 1.0 for scalars, but [1] ≠ [1.0] as whole arrays.
        #expect(ids(.eq, .int(1)) == [.int(1), .float(1)])
        #expect(ids(.eq, .array([.float(1)])) == [.array([.float(1)])])
        #expect(ids(.contains, .int(1)) == [.int(1), .float(1), .array([.int(1), .string("ab")]), .array([.float(1)])])
        // -0.0 equals 0; ranges never match arrays, nulls or other kinds.
        #expect(ids(.eq, .int(0)) == [.int(0), .float(-0.0)])
        #expect(ids(.lte, .string("2024-02-29T23:30:00.000Z")) == [.string("2024-02-29T23:30:00.000Z"), .string("1999-12-31T23:59:59.999Z"), .string("")])
        #expect(ids(.lt, .bool(true)) == [.bool(false)])
        // Strings order by bytes: "e\u{301}" (65 CC 81) < "é" (C3 A9).
        #expect(ids(.gte, .string("é")) == [.string("é")])
        // Negations take nulls and missing values; Glob prefixes range over the sorted strings.
        #expect(ids(.notIn, .array([.int(0), .int(1), .string("ab")])).contains(.null))
        #expect(!ids(.in, .array([.int(0), .int(1), .string("ab")])).contains(.null))
        #expect(ids(.glob, .string("ab*")) == [.string("ab"), .string("abc"), .string("abd"), .array([.int(1), .string("ab")]), .array([.null, .string("abc")])])
        #expect(ids(.containsAny, .array([.null, .string("abd")])) == [.string("abd"), .array([.null, .string("abc")])])
        #expect(ids(.notContains, .string("abc")).contains(.array([])), "an empty array has no elements")
    }

    @Test("a glob's literal prefix is a contiguous run of the byte-sorted strings")
    func prefixRun() throws {
        let words = ["a", "ab", "abc", "abd", "ab\u{10FFFF}", "ac", "b", "", "é", "e\u{301}", "ab"]
        let values = words.map { AttributeValue.string($0) } + [.int(5), .null, .array([.string("abz")])]
        let index = try FilterIndexCodec.decode(Data(FilterIndexCodec.encode(values)), rowCount: values.count, object: "t")
        for prefix in ["", "a", "ab", "abc", "b", "e", "é", "z"] {
            let run = index.prefixRange(.elements, prefix)
            let entries = index.entries(.elements)
            let expected = Set(entries.filter { if case .string(let s) = $0 { return s.utf8.starts(with: prefix.utf8) } else { return false } })
            #expect(Set(entries[run]) == expected && run.count == expected.count, "prefix \(prefix)")
        }
    }

    // MARK: Encoding

    @Test("row sets take the smaller of a delta list and a bitmap, and decode to the same rows")
    func rowSetForms() throws {
        let rows = 10_000
        var rng = SeededRandom(seed: 9)
        // "common" on ~90 % of rows (a bitmap), "rare" on 5 rows (a list), a unique value on some.
        let values: [AttributeValue] = (0..<rows).map { row in
            if row % 2_000 == 7 { return .string("rare") }
            if row % 97 == 0 { return .int(Int64(row)) }
            return rng.chance(0.9) ? .string("common") : .null
        }
        let bytes = FilterIndexCodec.encode(values)
        #expect(bytes.count < rows / 8 * 2 + 2_000, "\(bytes.count) bytes: the dense sets must be bitmaps")
        let index = try FilterIndexCodec.decode(Data(bytes), rowCount: rows, object: "t")
        for (position, entry) in index.entries(.values).enumerated() {
            let expected = (0..<rows).filter { values[$0] == entry }
            let got = index.rows(.values, positions: [position..<position + 1], includeNulls: false) { _ in true }.rows
            #expect(got.setBits() == expected, "\(entry)")
            #expect(index.rowCount(.values, entry: position) == expected.count)
        }
        #expect(index.nullRows.setBits() == (0..<rows).filter { values[$0].isNull })
    }

    @Test("a damaged filter part is detected by its checksum; a damaged index never crashes the decoder")
    func damage() async throws {
        var fixtures = FilterFixtures(rng: SeededRandom(seed: 4))
        let documents = (0..<200).map { fixtures.document(id: UInt64($0)) }
        let bytes = try SegmentBuilder.build(documents, config: FilterOracleTests.config, minSeq: 1, maxSeq: 1)
        let store = MemoryStore()
        try await store.put("seg", bytes, condition: .none)
        let trailer = try SegmentFile.trailer(bytes.suffix(SegmentFile.trailerSize), objectSize: bytes.count, object: "seg")
        let table = try SegmentFile.partTable(bytes.subdata(in: trailer.tableOffset..<trailer.tableOffset + trailer.tableLength), trailer: trailer, object: "seg")
        let part = try #require(table["filter/tags"])
        var rng = SeededRandom(seed: 5)
        for _ in 0..<32 {
            var damaged = bytes
            damaged[part.offset + Int.random(in: 0..<part.length, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            let damagedStore = MemoryStore()
            try await damagedStore.put("seg", damaged, condition: .none)
            let segment = try await Segment.open(key: "seg", size: damaged.count, store: damagedStore)
            var request = SegmentPartRequest()
            request.filterIndexes = ["tags"]
            await #expect(throws: FormatError.self) { try await segment.load(request, store: damagedStore) }
        }
        // Below the checksum: truncated or altered bytes throw or decode, never trap.
        let raw = bytes.subdata(in: part.offset..<part.offset + part.length)
        for length in 0..<raw.count {
            #expect(throws: FormatError.self) { _ = try FilterIndexCodec.decode(raw.prefix(length), rowCount: 200, object: "t") }
        }
        for _ in 0..<300 {
            var damaged = raw
            damaged[Int.random(in: 0..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            _ = try? FilterIndexCodec.decode(damaged, rowCount: 200, object: "t")
        }
    }

    // MARK: Old segments and the frozen fixture

    @Test("a segment written before indexes existed filters through its columns")
    func oldSegmentFallsBackToColumns() async throws {
        let bytes = try Data(contentsOf: GoldenFile.packageRoot().appendingPathComponent("Fixtures/formats/v1/segment-v1.seg"))
        let segment = try await Self.open(bytes, indexes: true)
        #expect(!segment.hasFilterIndex("n") && segment.column("n") != nil, "the column is loaded in the index's place")
        let filter = FilterExpression.condition(attribute: "n", op: .gt, operand: .value(.int(2)))
        let predicate = RowPredicate(filter, source: Self.source(segment), config: NamespaceConfig())
        #expect(predicate.matchingRows == nil && predicate.scannedConditions == 1)
        #expect((0..<3).filter(predicate.matches) == [1, 2], "ids 5 (2.5) and 9 (3)")
    }

    static let fixture = GoldenFile.packageRoot().appendingPathComponent("Fixtures/formats/v1/segment-filter-v1.seg")

    /// The documents frozen in segment-filter-v1.seg.
    static var fixtureDocuments: [Document] {
        (0..<40).map { i in
            var attributes: [String: AttributeValue] = ["kind": .string(["noun", "verb", "adj"][i % 3])]
            if i % 5 != 0 { attributes["n"] = i % 2 == 0 ? .int(Int64(i)) : .float(Double(i) + 0.5) }
            if i % 4 == 0 { attributes["tags"] = .array([.string("t\(i % 8)"), .int(Int64(i % 3))]) }
            attributes["when"] = .string(String(format: "2024-01-%02dT00:00:00.000Z", 1 + i % 28))
            attributes["body"] = .string("text \(i)")
            return Document(id: .uint(UInt64(i)), attributes: attributes)
        }
    }

    static var fixtureConfig: NamespaceConfig {
        var config = NamespaceConfig()
        config.idKind = .uint
        config.schema["when"] = AttributeSchema(type: "datetime")
        config.schema["body"] = AttributeSchema(type: "string", filterable: false)
        return config
    }

    @Test("the frozen segment with filter indexes stays readable")
    func frozenFixture() async throws {
        if ProcessInfo.processInfo.environment["LAGOON_RECORD_FIXTURES"] == "1" {
            try SegmentBuilder.build(Self.fixtureDocuments, config: Self.fixtureConfig, minSeq: 1, maxSeq: 40).write(to: Self.fixture)
        }
        let segment = try await Self.open(try Data(contentsOf: Self.fixture), indexes: true)
        #expect(segment.hasFilterIndex("kind") && segment.hasFilterIndex("tags") && segment.hasFilterIndex("when"))
        #expect(!segment.hasFilterIndex("body"), "filterable: false gets no index")
        let kind = try #require(segment.filterIndex("kind"))
        #expect(kind.entries(.values) == [.string("adj"), .string("noun"), .string("verb")])
        let tags = try #require(segment.filterIndex("tags"))
        #expect(tags.entries(.elements).first == .int(0), "array elements: numbers before strings")
        let config = Self.fixtureConfig
        let documents = Self.fixtureDocuments
        for filter in [#"["kind", "Eq", "verb"]"#, #"["n", "Gte", 20]"#, #"["n", "NotIn", [2, 3.5]]"#, #"["tags", "Contains", "t4"]"#,
                       #"["tags", "ContainsAny", [1, "t0"]]"#, #"["when", "Lt", "2024-01-05"]"#, #"["kind", "Glob", "n*"]"#,
                       #"["And", [["kind", "NotEq", "adj"], ["Not", ["n", "Lt", 10]]]]"#] {
            let expression = try FilterExpression.decode(try JSONParser.parse(Array(filter.utf8)), at: JSONPath("filters"), config: config)
            let predicate = RowPredicate(expression, source: Self.source(segment), config: config)
            #expect(predicate.matchingRows != nil, "\(filter) runs on the indexes")
            let expected = segment.ids.indices.filter { row in documents.first { $0.id == segment.ids[row] }.map { FilterOracle.matches(expression, $0) } ?? false }
            #expect((0..<segment.rowCount).filter(predicate.matches) == expected, "\(filter)")
        }
    }
}
