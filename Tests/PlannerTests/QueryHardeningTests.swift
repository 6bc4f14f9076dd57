import Foundation
import LagoonTestSupport
import Log
import Planner
import Testing

/// Query bodies that used to be accepted and then misbehaved, or refused though real
/// turbopuffer clients send them (issue 6).
@Suite("QueryDecoder hardening")
struct QueryHardeningTests {
    static var config: NamespaceConfig {
        var config = QueryDecoderTests.config
        config.schema["when"] = AttributeSchema(type: "datetime")
        return config
    }

    static func decode(_ text: String) throws -> QueryRequest {
        try QueryDecoder.decode(parseJSON(text), config: config)
    }

    static func decodeMulti(_ text: String) throws -> MultiQueryRequest {
        try QueryDecoder.decodeMulti(parseJSON(text), config: config)
    }

    static func message(_ body: () throws -> Void) -> String? {
        QueryDecoderTests.message(body)
    }

    @Test("numbers out of range name their path", arguments: [
        // Finite as a double, infinite as float32.
        (#"{"rank_by": ["vector", "ANN", [1e39, 0, 0]]}"#, "rank_by[2][0]: vector values must be finite"),
        (#"{"rank_by": ["vector", "kNN", [3e38, 3e38, 0]]}"#, "rank_by[2][0]: vector values must be at most"),
        (#"{"rank_by": ["Product", 1e300, ["text", "BM25", "a"]]}"#, "rank_by[1]: Product weights"),
        (#"{"rank_by": ["Product", 1000, ["Product", 1e4, ["text", "BM25", "a"]]]}"#, "rank_by[2][1]: Product weights"),
        (#"{"rank_by": "# + String(repeating: #"["Sum", ["#, count: 9) + #"["text", "BM25", "a"]"# + String(repeating: "]]", count: 9) + "}",
         "rank_by" + String(repeating: "[1][0]", count: 8) + ": ranking expressions nest at most 8 deep"),
        (#"{"top_k": 10001}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"top_k": 1e400}"#, "top_k: must be an integer from 1 to 10000"),
        (#"{"limit": {"total": -1}}"#, "limit.total: must be an integer from 1 to 10000"),
        (#"{"__debug_settings": {"ann_nprobe": 0}}"#, "__debug_settings.ann_nprobe: must be an integer from 1"),
        (#"{"__debug_settings": {"nprobe": "8"}}"#, "__debug_settings.nprobe: must be an integer from 1"),
        (#"{"__debug_settings": 3}"#, "__debug_settings: must be an object"),
        (#"{"disable_cache": "yes"}"#, "disable_cache: must be a boolean"),
    ])
    func badNumbers(body: String, expected: String) {
        let message = Self.message { _ = try Self.decode(body) }
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("RRF constants and weights are bounded", arguments: [
        (#"{"queries": [{}], "rerank_by": ["RRF", {"rank_constant": 1e400}]}"#, "rerank_by[1].rank_constant: must be a number from 0 to 1000000"),
        (#"{"queries": [{}], "rerank_by": ["RRF", {"weights": [1e300]}]}"#, "rerank_by[1].weights: must hold one weight from 0 to 1000000 per query (1)"),
    ])
    func rrfBounds(body: String, expected: String) {
        let message = Self.message { _ = try Self.decodeMulti(body) }
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("a negative Product weight within bounds is kept")
    func productWeights() throws {
        let query = try Self.decode(#"{"rank_by": ["Product", -2, ["Product", 1000, ["text", "BM25", "a"]]]}"#)
        #expect(query.rankBy == .product(weight: -2, .product(weight: 1000, .bm25(attribute: "text", query: "a"))))
    }

    @Test("optional fields sent as null are absent")
    func nullsMeanAbsent() throws {
        let query = try Self.decode(#"""
            {"rank_by": ["vector", "ANN", [1, 0, 0]], "filters": null, "top_k": 5, "include_attributes": null,
             "exclude_attributes": null, "consistency": null, "vector_encoding": null, "as_of": null, "limit": null,
             "distance_metric": null, "__debug_settings": {"ann_nprobe": null}}
            """#)
        #expect(query.filter == nil)
        #expect(query.topK == 5)
        #expect(query.attributes == .none)
        #expect(query.asOfVersion == nil && query.annProbes == nil)
        let multi = try Self.decodeMulti(#"{"queries": [{"filters": null}], "rerank_by": null, "limit": null, "as_of": null}"#)
        #expect(multi.rerank == nil && multi.limit == nil && multi.asOfVersion == nil)
    }

    @Test("multi-query: as_of belongs to the whole request, vector_encoding applies to every sub-query")
    func multiQueryOptions() throws {
        let message = Self.message { _ = try Self.decodeMulti(#"{"queries": [{}, {"as_of": 3}]}"#) }
        #expect(message?.hasPrefix("queries[1].as_of: as_of applies to the whole multi-query") == true, "got \(message ?? "no error")")
        let request = try Self.decodeMulti(#"{"queries": [{}, {"vector_encoding": "float"}], "as_of": 3, "vector_encoding": "base64"}"#)
        #expect(request.asOfVersion == 3)
        #expect(request.queries.map(\.asOfVersion) == [3, 3])
        #expect(request.queries.map(\.vectorsAsBase64) == [true, false])
        let bad = Self.message { _ = try Self.decodeMulti(#"{"queries": [{}], "vector_encoding": "hex"}"#) }
        #expect(bad == "vector_encoding: must be \"float\" or \"base64\"")
        #expect(Self.message { _ = try Self.decodeMulti(#"{"queries": [{}], "as_of": 0}"#) } == "as_of: must be a positive manifest version")
    }

    @Test("base64 query vectors are accepted and checked like written ones")
    func base64QueryVectors() throws {
        let floats: [Float] = [0.5, -1, 2]
        let encoded = floats.withUnsafeBytes { Data($0) }.base64EncodedString()
        let query = try Self.decode(#"{"rank_by": ["vector", "ANN", "\#(encoded)"]}"#)
        #expect(query.rankBy == .vector(mode: .ann, query: floats))
        let short = [Float(1)].withUnsafeBytes { Data($0) }.base64EncodedString()
        #expect(Self.message { _ = try Self.decode(#"{"rank_by": ["vector", "kNN", "\#(short)"]}"#) } ==
            "rank_by[2]: wrong vector dimension: the namespace has 3, the query has 1")
        let infinite = [Float(1), .infinity, 0].withUnsafeBytes { Data($0) }.base64EncodedString()
        #expect(Self.message { _ = try Self.decode(#"{"rank_by": ["vector", "kNN", "\#(infinite)"]}"#) }?
            .hasPrefix("rank_by[2][1]: vector values must be finite") == true)
    }

    @Test("turbopuffer debug fields are accepted; a probe count is kept")
    func debugFields() throws {
        let query = try Self.decode(#"{"disable_cache": true, "__debug_settings": {"ann_nprobe": 12, "something_else": [1]}}"#)
        #expect(query.disableCache)
        #expect(query.annProbes == 12)
        #expect(try Self.decode(#"{"__debug_settings": {"nprobe": 4}}"#).annProbes == 4)
        #expect(try Self.decode(#"{"__debug_settings": {}}"#).annProbes == nil)
    }

    @Test("include_attributes is bounded and deduplicated")
    func attributeSelectionBounds() throws {
        let many = #"{"include_attributes": ["# + (0..<40_000).map { #""a\#($0)""# }.joined(separator: ",") + "]}"
        #expect(Self.message { _ = try Self.decode(many) } == "include_attributes: at most 1024 attribute names, got 40000")
        let excluded = #"{"exclude_attributes": ["# + Array(repeating: #""x""#, count: 1025).joined(separator: ",") + "]}"
        #expect(Self.message { _ = try Self.decode(excluded) } == "exclude_attributes: at most 1024 attribute names, got 1025")
        let duplicates = try Self.decode(#"{"include_attributes": ["body", "text", "body", "body"]}"#)
        #expect(duplicates.attributes == .only(["body", "text"]))
        #expect(Self.message { _ = try Self.decode(#"{"include_attributes": ["e\u0301"]}"#) }?
            .hasPrefix("include_attributes[0]: attribute name") == true)
    }

    @Test("datetime filter operands are normalised like stored datetimes")
    func datetimeOperands() throws {
        let query = try Self.decode(#"{"filters": ["And", [["when", "Gte", "2024-03-01T01:30:00+02:00"], ["when", "In", ["2024-01-01"]], ["when", "Glob", "2024-*"]]]}"#)
        #expect(query.filter == .and([
            .condition(attribute: "when", op: .gte, operand: .value(.string("2024-02-29T23:30:00.000Z"))),
            .condition(attribute: "when", op: .in, operand: .value(.array([.string("2024-01-01T00:00:00.000Z")]))),
            .condition(attribute: "when", op: .glob, operand: .value(.string("2024-*"))),
        ]))
        #expect(Self.message { _ = try Self.decode(#"{"filters": ["when", "Eq", "tomorrow"]}"#) } ==
            "filters[2]: \"tomorrow\" is not an RFC 3339 datetime")
    }
}
