import LagoonTestSupport
import Log
import Planner
import Testing

@Suite("QueryDecoder")
struct QueryDecoderTests {
    /// cosine, 3 dimensions, two full-text attributes and a plain string.
    static let config: NamespaceConfig = {
        var config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 3, idKind: .uint)
        config.schema = [
            "vector": AttributeSchema(type: "[3]f32"),
            "text": AttributeSchema(type: "string", fullTextSearch: FullTextConfig()),
            "title": AttributeSchema(type: "string", fullTextSearch: FullTextConfig()),
            "body": AttributeSchema(type: "string"),
            "ts": AttributeSchema(type: "int"),
        ]
        return config
    }()

    static func decode(_ text: String) throws -> QueryRequest {
        try QueryDecoder.decode(parseJSON(text), config: config)
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as LagoonError {
            #expect(error.code == .badRequest)
            return error.message
        } catch {
            return "unexpected error \(error)"
        }
    }

    static func message(_ text: String) -> String? {
        message { _ = try decode(text) }
    }

    // MARK: Valid queries

    @Test("defaults")
    func defaults() throws {
        let query = try Self.decode("{}")
        #expect(query.rankBy == nil)
        #expect(query.filter == nil)
        #expect(query.topK == 10)
        #expect(query.attributes == .none)
        #expect(query.consistency == .strong)
        #expect(!query.vectorsAsBase64)
        #expect(query.asOfVersion == nil)
    }

    @Test("every option")
    func everyOption() throws {
        let query = try Self.decode(#"""
            {"rank_by": ["vector", "kNN", [1, 0.5, -2]], "filters": ["ts", "Gte", 5], "top_k": 7,
             "include_attributes": ["title", "ts"], "consistency": {"level": "eventual"},
             "vector_encoding": "base64", "as_of": 4, "distance_metric": "cosine_distance"}
            """#)
        #expect(query.rankBy == .vector(mode: .knn, query: [1, 0.5, -2]))
        #expect(query.filter == .condition(attribute: "ts", op: .gte, operand: .value(.int(5))))
        #expect(query.topK == 7)
        #expect(query.attributes == .only(["title", "ts"]))
        #expect(query.consistency == .eventual)
        #expect(query.vectorsAsBase64)
        #expect(query.asOfVersion == 4)
    }

    @Test("rank_by forms", arguments: [
        (#"["vector", "ANN", [1, 2, 3]]"#, RankBy.vector(mode: .ann, query: [1, 2, 3])),
        (#"["text", "BM25", "quick fox"]"#, .bm25(attribute: "text", query: "quick fox")),
        (#"["text", "BM25", ["quick", "fox"]]"#, .bm25(attribute: "text", query: "quick fox")),
        (#"["text", "BM25", "q", {}]"#, .bm25(attribute: "text", query: "q")),
        (#"["ts", "desc"]"#, .attribute(name: "ts", descending: true)),
        (#"["id", "asc"]"#, .attribute(name: "id", descending: false)),
        (#"["Sum", [["text", "BM25", "a"], ["title", "BM25", "b"]]]"#,
         .sum([.bm25(attribute: "text", query: "a"), .bm25(attribute: "title", query: "b")])),
        (#"["Max", [["text", "BM25", "a"], ["Product", 2, ["title", "BM25", "b"]]]]"#,
         .max([.bm25(attribute: "text", query: "a"), .product(weight: 2, .bm25(attribute: "title", query: "b"))])),
        (#"["Product", ["text", "BM25", "a"], 0.5]"#, .product(weight: 0.5, .bm25(attribute: "text", query: "a"))),
        (#"["Product", 3, ["Sum", [["text", "BM25", "a"]]]]"#, .product(weight: 3, .sum([.bm25(attribute: "text", query: "a")]))),
    ])
    func rankBy(json: String, expected: RankBy) throws {
        #expect(try Self.decode(#"{"rank_by": \#(json)}"#).rankBy == expected)
    }

    @Test("limits and attribute selection", arguments: [
        (#"{"top_k": 1}"#, 1, AttributeSelection.none),
        (#"{"top_k": 10000}"#, 10_000, .none),
        (#"{"top_k": 2e1}"#, 20, .none),
        (#"{"limit": 5}"#, 5, .none),
        (#"{"limit": {"total": 6}}"#, 6, .none),
        (#"{"include_attributes": true}"#, 10, .all),
        (#"{"include_attributes": false}"#, 10, .none),
        (#"{"include_attributes": []}"#, 10, .only([])),
        (#"{"exclude_attributes": ["body"]}"#, 10, .allExcept(["body"])),
    ])
    func limits(json: String, topK: Int, attributes: AttributeSelection) throws {
        let query = try Self.decode(json)
        #expect(query.topK == topK)
        #expect(query.attributes == attributes)
    }

    // MARK: Bad input

    @Test("bad queries name the JSON path", arguments: [
        (#"[]"#, "a query must be a JSON object"),
        (#"{"rank_by": ["vector", "ANN", [1, 2]]}"#, "rank_by[2]: wrong vector dimension: the namespace has 3, the query has 2"),
        (#"{"rank_by": ["vector", "kNN", [1, 2, 3, 4]]}"#, "rank_by[2]: wrong vector dimension: the namespace has 3, the query has 4"),
        (#"{"rank_by": ["vector", "ANN", [1, "x", 3]]}"#, "rank_by[2][1]: vector elements must be numbers, got a string"),
        (#"{"rank_by": ["vector", "ANN", [1, 2, 1e400]]}"#, "rank_by[2][2]: vector values must be finite"),
        (#"{"rank_by": ["vector", "ANN", [1, null, 3]]}"#, "rank_by[2][1]: vector elements must be numbers, got null"),
        (#"{"rank_by": ["vector", "ANN", "AAAAAA=="]}"#, "rank_by[2]: wrong vector dimension: the namespace has 3, the query has 1"),
        (#"{"rank_by": ["vector", "ANN", 5]}"#, "rank_by[2]: a vector must be an array of numbers or a base64 string, got a number"),
        (#"{"rank_by": ["vector", "ANN", [1, 2, 3], 4]}"#, "rank_by: ANN takes"),
        (#"{"rank_by": ["embedding", "ANN", [1, 2, 3]]}"#, "rank_by[0]: vector search runs on the \"vector\" attribute"),
        (#"{"rank_by": ["body", "BM25", "x"]}"#, "rank_by[0]: attribute \"body\" has no full-text index"),
        (#"{"rank_by": ["missing", "BM25", "x"]}"#, "rank_by[0]: attribute \"missing\" has no full-text index"),
        (#"{"rank_by": ["text", "BM25", 5]}"#, "rank_by[2]: the BM25 query must be a string"),
        (#"{"rank_by": ["text", "BM25", ["a", 1]]}"#, "rank_by[2]: the BM25 query must be a string"),
        (#"{"rank_by": ["text", "BM25", "x", {"k1": 1}]}"#, "rank_by[3]: BM25 options are not supported in Lagoon v1"),
        // Two elements read as an order-by attribute, so "BM25" is judged as a direction.
        (#"{"rank_by": ["text", "BM25"]}"#, "rank_by[1]: must be \"asc\" or \"desc\""),
        (#"{"rank_by": ["text", 5]}"#, "rank_by: expected [attribute"),
        (#"{"rank_by": ["text", "Fuzzy", "x"]}"#, "rank_by[1]: unknown ranking function \"Fuzzy\""),
        (#"{"rank_by": ["ts", "up"]}"#, "rank_by[1]: must be \"asc\" or \"desc\""),
        (#"{"rank_by": "ts"}"#, "rank_by: rank_by must be an array"),
        (#"{"rank_by": []}"#, "rank_by: rank_by must be an array"),
        (#"{"rank_by": ["Sum", []]}"#, "rank_by: Sum takes one non-empty array"),
        (#"{"rank_by": ["Max", ["text", "BM25", "a"]]}"#, "rank_by[1][0]: rank_by must be an array"),
        (#"{"rank_by": ["Sum", [["text", "BM25", "a"], ["vector", "ANN", [1, 2, 3]]]]}"#, "rank_by[1]: Sum combines BM25 expressions only"),
        (#"{"rank_by": ["Max", [["text", "BM25", "a"], ["ts", "asc"]]]}"#, "rank_by[1]: Max combines BM25 expressions only"),
        (#"{"rank_by": ["Sum", [["text", "BM25", "a"], ["body", "BM25", "b"]]]}"#, "rank_by[1][1][0]: attribute \"body\" has no full-text index"),
        (#"{"rank_by": ["Product", 2, ["ts", "asc"]]}"#, "rank_by[2]: Product applies to BM25 expressions only"),
        (#"{"rank_by": ["Product", 1e400, ["text", "BM25", "a"]]}"#, "rank_by[1]: the Product weight must be a number"),
        (#"{"rank_by": ["Product", ["text", "BM25", "a"], 1e400]}"#, "rank_by[2]: the Product weight must be a number"),
        (#"{"rank_by": ["Product", "2", ["text", "BM25", "a"]]}"#, "rank_by[1]: the Product weight must be a number"),
        (#"{"rank_by": ["Product", ["text", "BM25", "a"], "2"]}"#, "rank_by[2]: the Product weight must be a number"),
        (#"{"rank_by": ["Product", 2, 3]}"#, "rank_by[2]: rank_by must be an array"),
        (#"{"rank_by": ["Product", ["text", "BM25", "a"]]}"#, "rank_by: Product takes a weight and an expression"),
        (#"{"top_k": 0}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"top_k": 10001}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"top_k": 1.5}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"top_k": "5"}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"limit": {"total": 5, "per": {"ts": 1}}}"#, "limit: only {\"total\": N} is supported"),
        (#"{"limit": {"total": 0}}"#, "limit.total: must be an integer from 1 to 10000"),
        (#"{"top_k": 3, "unknown_option": 1}"#, "unknown_option: unknown query option \"unknown_option\""),
        (#"{"aggregate_by": {"n": ["Count"]}}"#, "aggregate_by: aggregations and group_by are not supported in Lagoon v1 (out of scope)"),
        (#"{"group_by": ["ts"]}"#, "group_by: aggregations and group_by are not supported in Lagoon v1 (out of scope)"),
        (#"{"include_attributes": "title"}"#, "include_attributes: must be a boolean or an array of attribute names"),
        (#"{"include_attributes": ["title", 1]}"#, "include_attributes[1]: must be a string"),
        (#"{"exclude_attributes": true}"#, "exclude_attributes: must be a boolean or an array"),
        (#"{"include_attributes": true, "exclude_attributes": ["ts"]}"#, "exclude_attributes: cannot be combined with include_attributes"),
        (#"{"consistency": {"level": "weak"}}"#, "consistency: must be {\"level\": \"strong\"}"),
        (#"{"consistency": "strong"}"#, "consistency: must be {\"level\": \"strong\"}"),
        (#"{"vector_encoding": "hex"}"#, "vector_encoding: must be \"float\" or \"base64\""),
        (#"{"as_of": 0}"#, "as_of: must be a positive manifest version"),
        (#"{"as_of": "3"}"#, "as_of: must be a positive manifest version"),
        (#"{"distance_metric": "euclidean_squared"}"#, "distance_metric: must match the namespace's distance metric (cosine_distance)"),
        (#"{"filters": ["ts", "Regex", "^1"]}"#, "filters[1]: the Regex filter is not supported in Lagoon v1 (out of scope)"),
        (#"{"filters": ["Or", [["ts", "Eq", 1], ["ts", "Fuzzy", "x"]]]}"#, "filters[1][1][1]: the Fuzzy filter is not supported"),
        (#"{"filters": ["And", [["ts", "In", 1]]]}"#, "filters[1][0][2]: In takes an array of values"),
        (#"{"filters": ["ts", "Eq", {"$ref_new": "ts"}]}"#, "filters[2]: $ref_new is only allowed in write conditions"),
    ])
    func badQuery(json: String, expected: String) {
        let message = Self.message(json)
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("a namespace without vectors takes any query vector; a namespace without a metric has none to match")
    func noVectors() throws {
        let bare = NamespaceConfig()
        let query = try QueryDecoder.decode(parseJSON(#"{"rank_by": ["vector", "ANN", [1, 2]]}"#), config: bare)
        #expect(query.rankBy == .vector(mode: .ann, query: [1, 2]))
        let message = Self.message { _ = try QueryDecoder.decode(parseJSON(#"{"distance_metric": "cosine_distance"}"#), config: bare) }
        #expect(message == "distance_metric: must match the namespace's distance metric (none)")
    }

    // MARK: Multi-query

    static func decodeMulti(_ text: String) throws -> MultiQueryRequest {
        try QueryDecoder.decodeMulti(parseJSON(text), config: config)
    }

    @Test("multi-query with RRF")
    func multiQuery() throws {
        let request = try Self.decodeMulti(#"""
            {"queries": [{"rank_by": ["text", "BM25", "a"], "top_k": 3}, {"rank_by": ["vector", "ANN", [1, 0, 0]]}],
             "rerank_by": ["RRF", {"rank_constant": 10, "weights": [2, 0.5]}], "limit": 4, "consistency": {"level": "eventual"}}
            """#)
        #expect(request.queries.count == 2)
        #expect(request.queries[0].topK == 3)
        #expect(request.rerank?.rankConstant == 10)
        #expect(request.rerank?.weights == [2, 0.5])
        #expect(request.limit == 4)
        #expect(request.consistency == .eventual)
        #expect(request.queries.allSatisfy { $0.consistency == .eventual })

        let plain = try Self.decodeMulti(#"{"queries": [{}, {"consistency": {"level": "eventual"}}], "rerank_by": ["RRF"]}"#)
        #expect(plain.rerank?.rankConstant == 60)
        #expect(plain.rerank != nil && plain.rerank?.weights == nil)
        #expect(plain.consistency == .strong, "one strong query makes the whole request strong")
        #expect(plain.limit == nil)
    }

    @Test("bad multi-queries name the JSON path", arguments: [
        (#"{"queries": []}"#, "queries: between 1 and 16 queries are allowed, got 0"),
        (#"{"rank_by": ["ts", "asc"]}"#, "queries: a multi-query body needs a \"queries\" array"),
        (#"{"queries": [{"top_k": 1}, {"top_k": 0}]}"#, "queries[1].top_k: must be an integer from 1 to 10000"),
        (#"{"queries": [{}, {"rank_by": ["vector", "ANN", [1]]}]}"#, "queries[1].rank_by[2]: wrong vector dimension"),
        (#"{"queries": [{"filters": ["And", [["a", "Eq", 1], ["b", "Regex", "x"]]]}]}"#,
         "queries[0].filters[1][1][1]: the Regex filter is not supported"),
        (#"{"queries": [{}], "rerank": ["RRF"]}"#, "rerank: unknown multi-query option \"rerank\""),
        (#"{"queries": [{}], "rerank_by": ["Sum"]}"#, "rerank_by: only [\"RRF\""),
        (#"{"queries": [{}], "rerank_by": ["RRF", 60]}"#, "rerank_by[1]: must be an object"),
        (#"{"queries": [{}], "rerank_by": ["RRF", {"k": 60}]}"#, "rerank_by[1].k: unknown RRF option \"k\""),
        (#"{"queries": [{}], "rerank_by": ["RRF", {"rank_constant": -1}]}"#, "rerank_by[1].rank_constant: must be a number from 0 to 1000000"),
        (#"{"queries": [{}, {}], "rerank_by": ["RRF", {"weights": [1]}]}"#, "rerank_by[1].weights: must hold one weight from 0 to 1000000 per query (2)"),
        (#"{"queries": [{}, {}], "rerank_by": ["RRF", {"weights": [1, -1]}]}"#, "rerank_by[1].weights: must hold one weight from 0 to 1000000 per query (2)"),
        (#"{"queries": [{}, {}], "rerank_by": ["RRF", {"weights": [1, "x", 2]}]}"#, "rerank_by[1].weights: must hold one weight from 0 to 1000000 per query (2)"),
        (#"{"queries": [{}, {}], "rerank_by": ["RRF", {"weights": [1, null]}]}"#, "rerank_by[1].weights: must hold one weight from 0 to 1000000 per query (2)"),
        (#"{"queries": [{}], "limit": 0}"#, "limit: must be an integer from 1 to 10000"),
    ])
    func badMultiQuery(json: String, expected: String) {
        let message = Self.message { _ = try Self.decodeMulti(json) }
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("at most 16 queries")
    func tooManyQueries() {
        let body = #"{"queries": ["# + Array(repeating: "{}", count: 17).joined(separator: ",") + "]}"
        #expect(Self.message { _ = try Self.decodeMulti(body) } == "queries: between 1 and 16 queries are allowed, got 17")
        let sixteen = #"{"queries": ["# + Array(repeating: "{}", count: 16).joined(separator: ",") + "]}"
        #expect(Self.message { _ = try Self.decodeMulti(sixteen) } == nil)
    }
}
