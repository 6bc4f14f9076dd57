import Foundation
import LagoonTestSupport
import Log
import Planner
import Testing

/// Plans a fixed set of queries against fixed statistics and compares `PlanRenderer.text`
/// with `Fixtures/golden/explain/<name>.txt`. Re-record with `LAGOON_RECORD_GOLDEN=1`
/// after an intended change, and review the diff of the golden files.
@Suite("explain output (golden files)")
struct ExplainGoldenTests {
    static let statistics: SnapshotStatistics = {
        var config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 4, idKind: .uint)
        var stemmed = FullTextConfig()
        stemmed.stemming = true
        stemmed.k1 = 1.5
        stemmed.b = 0.5
        config.schema = [
            "vector": AttributeSchema(type: "[4]f32"),
            "title": AttributeSchema(type: "string", fullTextSearch: FullTextConfig()),
            "body": AttributeSchema(type: "string", fullTextSearch: stemmed),
            "category": AttributeSchema(type: "string"),
            "ts": AttributeSchema(type: "int"),
            "score": AttributeSchema(type: "float"),
        ]
        return SnapshotStatistics(liveRows: 1000, config: config, unindexedVectors: 800)
    }()

    static let queries: [(name: String, body: String)] = [
        ("vector_ann_filter", #"""
            {"rank_by": ["vector", "ANN", [0.1, 0.2, 0.3, 0.4]], "top_k": 5, "include_attributes": ["title", "ts"],
             "filters": ["And", [["category", "Eq", "news"], ["ts", "Gte", 100], ["Not", ["title", "IGlob", "draft*"]]]]}
            """#),
        ("vector_knn", #"{"rank_by": ["vector", "kNN", [1, 0, 0, 0]], "top_k": 2000}"#),
        ("bm25", #"{"rank_by": ["title", "BM25", "The quick brown fox and the lazy dog"], "top_k": 3}"#),
        ("bm25_stemmed_post_filter", #"""
            {"rank_by": ["body", "BM25", "running runners RUN"], "filters": ["score", "Gt", 0.5], "include_attributes": true}
            """#),
        ("bm25_stopwords_only", #"{"rank_by": ["title", "BM25", "the and of"]}"#),
        ("bm25_sum", #"{"rank_by": ["Sum", [["title", "BM25", "quick fox"], ["body", "BM25", "quick foxes"]]], "top_k": 20}"#),
        ("bm25_max", #"{"rank_by": ["Max", [["title", "BM25", "fox"], ["body", "BM25", "fox"]]]}"#),
        ("bm25_product", #"""
            {"rank_by": ["Sum", [["Product", 2, ["title", "BM25", "fox"]], ["Product", ["body", "BM25", "dog"], 0.5]]],
             "exclude_attributes": ["body"]}
            """#),
        ("order_by_attribute", #"""
            {"rank_by": ["ts", "desc"], "top_k": 25, "filters": ["Or", [["category", "In", ["news", "blog"]], ["id", "Lt", 100]]]}
            """#),
        ("order_by_id", #"{"rank_by": ["id", "asc"], "top_k": 3000}"#),
        ("filter_only", #"""
            {"filters": ["And", [["category", "NotEq", null], ["tags", "ContainsAny", ["a", "b"]], ["title", "ContainsAllTokens", "Quick Fox"]]],
             "include_attributes": ["category"]}
            """#),
        ("scan_all", #"{"top_k": 1}"#),
    ]

    static func plan(_ body: String) throws -> PlanNode {
        let query = try QueryDecoder.decode(parseJSON(body), config: statistics.config)
        return try QueryPlanner.plan(query, statistics: statistics)
    }

    @Test("plan text matches the golden file", arguments: queries.map(\.name))
    func golden(name: String) throws {
        let body = try #require(Self.queries.first { $0.name == name }?.body)
        let text = PlanRenderer.text(try Self.plan(body))
        let mismatch = GoldenFile.verify(text, at: GoldenFile.url("explain/\(name).txt"))
        if let mismatch { Issue.record(Comment(rawValue: mismatch)) }
    }

    @Test("every golden file belongs to a query and none holds timings")
    func goldenFilesAreClean() throws {
        let directory = GoldenFile.url("explain")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".txt") }
        #expect(Set(files) == Set(Self.queries.map { "\($0.name).txt" }))
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("time="), "\(file) holds a timing")
            #expect(!text.contains("actual"), "\(file) holds actuals")
        }
    }

    @Test("the JSON form carries the same nodes, details and estimates as the text")
    func jsonMatchesText() throws {
        for (name, body) in Self.queries {
            let plan = try Self.plan(body)
            var lines: [String] = []
            func visit(_ node: JSONValue, depth: Int) {
                guard let object = node.objectValue, case .string(let nodeName)? = object["node"],
                      case .string(let details)? = object["details"], case .int(let rows)? = object["estimated_rows"],
                      let children = object["children"]?.arrayValue else {
                    Issue.record("malformed plan JSON in \(name): \(jsonText(node))")
                    return
                }
                #expect(object["actual"] == nil)
                lines.append(String(repeating: "  ", count: depth) + nodeName + (details.isEmpty ? "" : " " + details) + " est_rows=\(rows)")
                for child in children { visit(child, depth: depth + 1) }
            }
            visit(PlanRenderer.json(plan), depth: 0)
            #expect(lines.joined(separator: "\n") + "\n" == PlanRenderer.text(plan), "\(name)")
        }
    }

    @Test("actuals are printed in depth-first order when given")
    func actuals() throws {
        let plan = try Self.plan(#"{"rank_by": ["ts", "asc"], "filters": ["ts", "Gt", 1], "top_k": 2}"#)
        var count = 0
        plan.forEach { _ in count += 1 }
        #expect(count == 4)
        let actuals = [
            OperatorActuals(rows: 2, nanoseconds: 1_234_567, rowsExamined: 2),
            OperatorActuals(rows: 2, nanoseconds: 5_000, rowsExamined: 40),
            OperatorActuals(rows: 40, nanoseconds: 999_999, rowsExamined: 100),
            OperatorActuals(rows: 100, nanoseconds: 12_345_678_901, rowsExamined: 100),
        ]
        let lines = PlanRenderer.text(plan, actuals: actuals).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("Project ") && lines[0].hasSuffix(" (actual rows=2 examined=2 time=1.23ms)"))
        #expect(lines[1].hasPrefix("  OrderByAttribute ") && lines[1].hasSuffix(" (actual rows=2 examined=40 time=0.01ms)"))
        #expect(lines[2].hasPrefix("    Filter ") && lines[2].hasSuffix(" (actual rows=40 examined=100 time=1.00ms)"))
        #expect(lines[3].hasPrefix("      Scan ") && lines[3].hasSuffix(" (actual rows=100 examined=100 time=12345.68ms)"))
        // Fewer actuals than nodes: the rest print without them.
        let partial = PlanRenderer.text(plan, actuals: Array(actuals.prefix(1))).split(separator: "\n")
        #expect(partial[0].contains("actual") && !partial[1].contains("actual"))

        let json = PlanRenderer.json(plan, actuals: actuals)
        let actual = json.objectValue?["actual"]?.objectValue
        #expect(actual?["rows"] == .int(2))
        #expect(actual?["rows_examined"] == .int(2))
        #expect(actual?["time_ms"] == .double(1.234567))
    }

    @Test("planning errors for rankings the namespace cannot serve")
    func planningErrors() throws {
        var bare = Self.statistics
        bare.config.distanceMetric = nil
        bare.config.dimension = nil
        let query = try QueryDecoder.decode(parseJSON(#"{"rank_by": ["vector", "ANN", [1, 2, 3, 4]]}"#), config: bare.config)
        let error = #expect(throws: LagoonError.self) { try QueryPlanner.plan(query, statistics: bare) }
        #expect(error?.message == "rank_by: the namespace has no vectors to search")
    }
}
