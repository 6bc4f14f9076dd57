import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Segments
import Testing

/// BM25 as a brute-force formula over the live documents (no index):
///
///     score(d) = Σ_{t ∈ unique query terms} idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))
///     idf(t)   = ln(1 + (N − df + 0.5) / (df + 0.5))
///
/// N counts live documents with at least one token in the attribute, avgdl is their mean
/// token count, df counts live documents holding t. Tokens: split on anything but letters
/// and digits, lowercase, drop stopwords.
struct BM25Oracle {
    static let stopwords: Set<String> = ["the", "and", "of", "a", "is", "to"]

    /// The text of each live document for one attribute (a string or an array of strings).
    let texts: [UInt64: [String]]
    let k1: Double
    let b: Double

    static func tokens(_ text: String) -> [String] {
        text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { $0.lowercased() }.filter { !stopwords.contains($0) }
    }

    func scores(_ query: String) -> [UInt64: Double] {
        var tokensOf: [UInt64: [String]] = [:]
        for (id, parts) in texts {
            let t = parts.flatMap(Self.tokens)
            if !t.isEmpty { tokensOf[id] = t }
        }
        let n = Double(tokensOf.count)
        guard n > 0 else { return [:] }
        let avgdl = Double(tokensOf.values.reduce(0) { $0 + $1.count }) / n
        var seen = Set<String>()
        let terms = Self.tokens(query).filter { seen.insert($0).inserted }
        var result: [UInt64: Double] = [:]
        for term in terms {
            let df = Double(tokensOf.values.filter { $0.contains(term) }.count)
            guard df > 0 else { continue }
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            for (id, tokens) in tokensOf {
                let tf = Double(tokens.filter { $0 == term }.count)
                guard tf > 0 else { continue }
                let dl = Double(tokens.count)
                result[id, default: 0] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
            }
        }
        return result
    }
}

/// A ranking expression both as the query JSON and as the oracle's computation.
indirect enum TextRank: CustomStringConvertible, Sendable {
    case bm25(String, String)
    case sum([TextRank])
    case max([TextRank])
    case product(Double, TextRank)

    var json: String {
        switch self {
        case .bm25(let attribute, let query): return #"["\#(attribute)", "BM25", "\#(query)"]"#
        case .sum(let parts): return #"["Sum", [\#(parts.map(\.json).joined(separator: ", "))]]"#
        case .max(let parts): return #"["Max", [\#(parts.map(\.json).joined(separator: ", "))]]"#
        case .product(let weight, let inner): return #"["Product", \#(weight), \#(inner.json)]"#
        }
    }

    var description: String { json }

    /// Sum adds the scores of the parts that match; Max takes the best of them.
    func scores(_ oracles: [String: BM25Oracle]) -> [UInt64: Double] {
        switch self {
        case .bm25(let attribute, let query): return oracles[attribute]!.scores(query)
        case .sum(let parts):
            return parts.map { $0.scores(oracles) }.reduce(into: [:]) { total, s in total.merge(s, uniquingKeysWith: +) }
        case .max(let parts):
            return parts.map { $0.scores(oracles) }.reduce(into: [:]) { total, s in total.merge(s, uniquingKeysWith: Swift.max) }
        case .product(let weight, let inner): return inner.scores(oracles).mapValues { $0 * weight }
        }
    }
}

@Suite("BM25 vs a brute-force oracle")
struct BM25OracleTests {
    static let vocabulary = ["fox", "dog", "quick", "brown", "lazy", "jumps", "over", "river", "stone", "cloud", "apple",
                             "zebra", "night", "Fox", "DOG", "the", "and", "of", "a", "is", "to", "x1", "42",
                             "café", "CAFÉ", "École", "Straße", "日本", "x²"]

    /// The live documents: `text` (string), `tags` ([]string), `group` (int).
    struct Corpus {
        var rng: SeededRandom
        var live: [UInt64: [String: JSONValue]] = [:]

        /// Zipf-like: early words are much more frequent.
        mutating func word() -> String {
            let r = Double.random(in: 0..<1, using: &rng)
            return BM25OracleTests.vocabulary[Int(Double(BM25OracleTests.vocabulary.count) * r * r)]
        }

        mutating func text() -> String {
            let count = rng.chance(0.1) ? 0 : Int.random(in: 1...25, using: &rng)
            return (0..<count).map { _ in word() }.joined(separator: rng.pick([" ", ", ", " - "]))
        }

        mutating func document(_ id: UInt64) -> [String: JSONValue] {
            var d: [String: JSONValue] = ["group": .int(Int64.random(in: 0...4, using: &rng))]
            if !rng.chance(0.1) { d["text"] = .string(text()) }
            if rng.chance(0.7) { d["tags"] = .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in .string(text()) }) }
            return d
        }

        static func row(_ id: UInt64, _ d: [String: JSONValue]) -> JSONValue {
            .object(JSONObject([("id", .int(Int64(id)))] + d.keys.sorted().map { ($0, d[$0]!) }))
        }

        func oracles() -> [String: BM25Oracle] {
            func texts(_ name: String) -> [UInt64: [String]] {
                live.compactMapValues { d in
                    switch d[name] {
                    case .string(let s)?: return [s]
                    case .array(let items)?: return items.compactMap(\.stringValue)
                    default: return nil
                    }
                }
            }
            return ["text": BM25Oracle(texts: texts("text"), k1: 1.2, b: 0.75), "tags": BM25Oracle(texts: texts("tags"), k1: 2.0, b: 0.3)]
        }
    }

    static let schema = #"{"text": {"type": "string", "full_text_search": true}, "tags": {"type": "[]string", "full_text_search": {"k1": 2.0, "b": 0.3}}, "group": "int"}"#

    /// Writes 300 documents in three requests, then replaces, patches and deletes some.
    static func populate(_ harness: QueryHarness, _ namespace: String, seed: UInt64) async throws -> Corpus {
        var corpus = Corpus(rng: SeededRandom(seed: seed))
        for batch in 0..<3 {
            var rows: [JSONValue] = []
            for i in 0..<100 {
                let id = UInt64(batch * 100 + i)
                let d = corpus.document(id)
                corpus.live[id] = d
                rows.append(Corpus.row(id, d))
            }
            var body = JSONObject([("upsert_rows", .array(rows))])
            if batch == 0 { body["schema"] = try parseJSON(schema) }
            try await harness.write(namespace, body: .object(body))
        }
        // Replacements (whole documents), text patches, group-only patches and deletes,
        // in separate requests so that each kills rows the previous ones wrote.
        var replacements: [JSONValue] = []
        for _ in 0..<60 {
            let id = UInt64.random(in: 0..<300, using: &corpus.rng)
            let d = corpus.document(id)
            corpus.live[id] = d
            replacements.append(Corpus.row(id, d))
        }
        try await harness.write(namespace, body: .object(JSONObject([("upsert_rows", .array(replacements))])))

        var patches: [JSONValue] = []
        for _ in 0..<30 {
            let id = UInt64.random(in: 0..<300, using: &corpus.rng)
            guard corpus.live[id] != nil else { continue }
            if corpus.rng.chance(0.5) {
                let text = corpus.rng.chance(0.2) ? JSONValue.null : .string(corpus.text())
                corpus.live[id]!["text"] = text == .null ? nil : text
                patches.append(.object(JSONObject([("id", .int(Int64(id))), ("text", text)])))
            } else {
                let group = JSONValue.int(Int64.random(in: 0...4, using: &corpus.rng))
                corpus.live[id]!["group"] = group
                patches.append(.object(JSONObject([("id", .int(Int64(id))), ("group", group)])))
            }
        }
        try await harness.write(namespace, body: .object(JSONObject([("patch_rows", .array(patches))])))

        var deletes: [JSONValue] = []
        for _ in 0..<40 {
            let id = UInt64.random(in: 0..<300, using: &corpus.rng)
            corpus.live[id] = nil
            deletes.append(.int(Int64(id)))
        }
        try await harness.write(namespace, body: .object(JSONObject([("deletes", .array(deletes))])))
        return corpus
    }

    static let rankings: [TextRank] = [
        .bm25("text", "fox"),
        .bm25("text", "quick brown fox"),
        .bm25("text", "FOX fox Fox"),
        .bm25("text", "zebra night 42"),
        .bm25("text", "x1"),
        .bm25("text", "Café école"),
        .bm25("tags", "STRASSE straße 日本 X²"),
        .bm25("tags", "dog river"),
        .bm25("text", "unknownword"),
        .bm25("text", "the and of"),
        .sum([.bm25("text", "fox dog"), .bm25("tags", "fox")]),
        .max([.bm25("text", "quick"), .bm25("text", "lazy dog")]),
        .product(2.5, .bm25("text", "brown")),
        .sum([.product(0.5, .bm25("text", "fox")), .max([.bm25("tags", "dog"), .bm25("text", "dog jumps over")])]),
        .max([.sum([.bm25("text", "stone"), .bm25("tags", "stone")]), .product(3, .bm25("tags", "cloud apple"))]),
    ]

    @Test("top-k scores match the oracle after upserts, patches and deletes", arguments: [11, 12] as [UInt64])
    func oracleAfterChurn(seed: UInt64) async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, "bm25", seed: seed)
        let oracles = corpus.oracles()
        var nonEmpty = 0
        for ranking in Self.rankings {
            for k in [1, 7, 1000] {
                let rows = try await harness.query("bm25", #"{"rank_by": \#(ranking.json), "top_k": \#(k)}"#)
                let expected = ranking.scores(oracles)
                let problems = rankingProblems(rows, expected: expected, k: k, better: >)
                #expect(problems.isEmpty, "\(ranking) k=\(k): \(problems.prefix(5))")
                if !expected.isEmpty { nonEmpty += 1 }
            }
        }
        #expect(nonEmpty >= 3 * (Self.rankings.count - 3), "most rankings should match something")
    }

    @Test("a post-filter keeps the oracle's scores of the rows it lets through")
    func filtered() async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, "bm25", seed: 21)
        let oracles = corpus.oracles()
        for ranking in [TextRank.bm25("text", "fox dog"), .sum([.bm25("text", "quick"), .bm25("tags", "lazy")])] {
            let rows = try await harness.query("bm25", #"{"rank_by": \#(ranking.json), "filters": ["group", "Lt", 2], "top_k": 20}"#)
            let allowed = Set(corpus.live.filter { if case .int(let g)? = $0.value["group"] { return g < 2 }; return false }.keys)
            let expected = ranking.scores(oracles).filter { allowed.contains($0.key) }
            #expect(!expected.isEmpty)
            let problems = rankingProblems(rows, expected: expected, k: 20, better: >)
            #expect(problems.isEmpty, "\(ranking): \(problems.prefix(5))")
        }
    }

    @Test("dead rows leave no trace: the same live documents written once score identically")
    func statisticsIgnoreDeadRows() async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, "churned", seed: 31)
        let rows = corpus.live.keys.sorted().map { Corpus.row($0, corpus.live[$0]!) }
        try await harness.write("fresh", body: .object(JSONObject([("schema", try parseJSON(Self.schema)), ("upsert_rows", .array(rows))])))
        for ranking in Self.rankings {
            let body = #"{"rank_by": \#(ranking.json), "top_k": 10000}"#
            let churned = try await harness.query("churned", body)
            let fresh = try await harness.query("fresh", body)
            let a = Dictionary(uniqueKeysWithValues: churned.map { ($0.id, $0.dist ?? .nan) })
            let b = Dictionary(uniqueKeysWithValues: fresh.map { ($0.id, $0.dist ?? .nan) })
            #expect(Set(a.keys) == Set(b.keys), "\(ranking)")
            for (id, score) in a {
                #expect(isClose(score, b[id] ?? .nan, tolerance: 1e-6), "\(ranking) id \(id): \(score) vs \(b[id] ?? .nan)")
            }
        }
    }

    @Test("full-text search enabled after the fact indexes the existing live rows only")
    func enabledLater() async throws {
        let harness = QueryHarness()
        var corpus = Corpus(rng: SeededRandom(seed: 41))
        var rows: [JSONValue] = []
        for id in 0..<150 as Range<UInt64> {
            var d = corpus.document(id)
            d["tags"] = nil
            corpus.live[id] = d
            rows.append(Corpus.row(id, d))
        }
        try await harness.write("late", body: .object(JSONObject([("upsert_rows", .array(rows))])))
        // Replace and delete before the index exists.
        var replaced: [JSONValue] = []
        for id in stride(from: 0, to: 150, by: 7) as StrideTo<UInt64> {
            var d = corpus.document(id)
            d["tags"] = nil
            corpus.live[id] = d
            replaced.append(Corpus.row(id, d))
        }
        try await harness.write("late", body: .object(JSONObject([("upsert_rows", .array(replaced))])))
        let deleted = Array(stride(from: 3, to: 150, by: 5)) as [UInt64]
        for id in deleted { corpus.live[id] = nil }
        try await harness.write("late", body: .object(JSONObject([("deletes", .array(deleted.map { .int(Int64($0)) }))])))

        // BM25 is refused until the attribute has a full-text index.
        await #expect(throws: LagoonError.self) { try await harness.query("late", #"{"rank_by": ["text", "BM25", "fox"]}"#) }
        try await harness.write("late", #"{"schema": {"text": {"type": "string", "full_text_search": true}}}"#)

        let oracle = BM25Oracle(texts: corpus.live.compactMapValues { $0["text"]?.stringValue.map { [$0] } }, k1: 1.2, b: 0.75)
        for query in ["fox", "quick brown dog", "stone zebra"] {
            let rows = try await harness.query("late", #"{"rank_by": ["text", "BM25", "\#(query)"], "top_k": 1000}"#)
            let expected = oracle.scores(query)
            #expect(!expected.isEmpty)
            let problems = rankingProblems(rows, expected: expected, k: 1000, better: >)
            #expect(problems.isEmpty, "\(query): \(problems.prefix(5))")
        }
    }

    @Test("a pinned snapshot keeps its rows and scores while writes continue (QueryExecutor on a projection)")
    func pinnedSnapshot() async throws {
        let harness = QueryHarness()
        var corpus = try await Self.populate(harness, "pinned", seed: 51)
        let snapshot = try await harness.engine.snapshot("pinned")
        let before = corpus.oracles()
        let statistics = SnapshotStatistics(liveRows: snapshot.projection.liveCount, config: snapshot.manifest.config, unindexedVectors: 0)
        func run(_ ranking: TextRank, on projection: NamespaceProjection) throws -> [QueryHarness.Row] {
            let query = try QueryDecoder.decode(parseJSON(#"{"rank_by": \#(ranking.json), "top_k": 50}"#), config: statistics.config)
            let result = try QueryExecutor().run(QueryPlanner.plan(query, statistics: statistics), on: projection)
            return result.rows.map { scored in
                guard case .uint(let id) = projection.ids[scored.row] else { preconditionFailure() }
                return QueryHarness.Row(id: id, dist: scored.score.map(Double.init), object: JSONObject())
            }
        }
        let probes: [TextRank] = [.bm25("text", "fox dog"), .sum([.bm25("text", "quick"), .bm25("tags", "lazy")])]
        let first = try probes.map { try run($0, on: snapshot.projection) }

        // Rewrite a third of the corpus and delete another third.
        var rows: [JSONValue] = []
        for id in stride(from: 0, to: 300, by: 3) as StrideTo<UInt64> {
            let d = corpus.document(id)
            corpus.live[id] = d
            rows.append(Corpus.row(id, d))
        }
        let deleted = Array(stride(from: 1, to: 300, by: 3)) as [UInt64]
        for id in deleted { corpus.live[id] = nil }
        try await harness.write("pinned", body: .object(JSONObject([("upsert_rows", .array(rows)), ("deletes", .array(deleted.map { .int(Int64($0)) }))])))

        for (ranking, rowsBefore) in zip(probes, first) {
            let again = try run(ranking, on: snapshot.projection)
            #expect(again.map(\.id) == rowsBefore.map(\.id))
            #expect(again.map(\.dist) == rowsBefore.map(\.dist))
            let problems = rankingProblems(again, expected: ranking.scores(before), k: 50, better: >)
            #expect(problems.isEmpty, "\(ranking) on the pinned snapshot: \(problems.prefix(5))")
            // The engine's newest snapshot sees the new corpus.
            let now = try await harness.query("pinned", #"{"rank_by": \#(ranking.json), "top_k": 50}"#)
            let fresh = rankingProblems(now, expected: ranking.scores(corpus.oracles()), k: 50, better: >)
            #expect(fresh.isEmpty, "\(ranking) after the write: \(fresh.prefix(5))")
        }
    }

    @Test("hand-computed scores for a three-document corpus")
    func handComputed() async throws {
        let harness = QueryHarness()
        try await harness.write("tiny", #"""
            {"schema": {"text": {"type": "string", "full_text_search": true}},
             "upsert_rows": [{"id": 1, "text": "fox fox dog"}, {"id": 2, "text": "dog"}, {"id": 3, "text": "the cat"},
                             {"id": 4, "text": "fox"}]}
            """#)
        try await harness.write("tiny", #"{"deletes": [4]}"#)
        // Live: 1 "fox fox dog" (dl 3), 2 "dog" (dl 1), 3 "cat" (dl 1, "the" is a stopword).
        // N = 3, avgdl = 5/3; df(fox) = 1, df(dog) = 2.
        let idfFox = log(1 + (3 - 1 + 0.5) / (1 + 0.5))
        let idfDog = log(1 + (3 - 2 + 0.5) / (2 + 0.5))
        func term(_ idf: Double, tf: Double, dl: Double) -> Double {
            idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / (5.0 / 3)))
        }
        let rows = try await harness.query("tiny", #"{"rank_by": ["text", "BM25", "fox dog"]}"#)
        #expect(rows.map(\.id) == [1, 2])
        #expect(isClose(rows[0].dist ?? 0, term(idfFox, tf: 2, dl: 3) + term(idfDog, tf: 1, dl: 3), tolerance: 1e-6))
        #expect(isClose(rows[1].dist ?? 0, term(idfDog, tf: 1, dl: 1), tolerance: 1e-6))
    }
}
