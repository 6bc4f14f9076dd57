import Foundation
import LagoonTestSupport
import Log
import Planner
import Testing

@Suite("WriteRequestDecoder and SchemaDecoder")
struct WriteRequestDecoderTests {
    /// A namespace that already has data: uint ids, 3-dimensional cosine vectors, typed attributes.
    static let existing: NamespaceConfig = {
        var config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 3, idKind: .uint)
        config.schema = [
            "vector": AttributeSchema(type: "[3]f32"),
            "count": AttributeSchema(type: "int"),
            "price": AttributeSchema(type: "float"),
            "big": AttributeSchema(type: "uint"),
            "tags": AttributeSchema(type: "[]string"),
            "title": AttributeSchema(type: "string", fullTextSearch: FullTextConfig()),
            "ref": AttributeSchema(type: "uuid"),
            "when": AttributeSchema(type: "datetime"),
            "flag": AttributeSchema(type: "bool"),
        ]
        return config
    }()

    static func decode(_ text: String, config: NamespaceConfig = existing) throws -> WriteRequest {
        try WriteRequestDecoder.decode(parseJSON(text), config: config)
    }

    static func message(_ text: String, config: NamespaceConfig = existing) -> String? {
        do {
            _ = try decode(text, config: config)
            return nil
        } catch let error as LagoonError {
            #expect(error.code == .badRequest)
            return error.message
        } catch {
            return "unexpected error \(error)"
        }
    }

    // MARK: Valid writes

    @Test("the first write of a namespace infers ids, dimension, metric and attribute types")
    func inference() throws {
        let request = try Self.decode(#"""
            {"upsert_rows": [
                {"id": 1, "vector": [1, 0, 0.5], "n": 3, "x": 1.5, "s": "a", "b": true, "tags": ["p", "q"], "gone": null},
                {"id": 2, "n": 4, "x": 2, "empty": []}
            ]}
            """#, config: NamespaceConfig())
        #expect(request.upserts.count == 2)
        #expect(request.upserts[0] == Document(id: .uint(1), vector: [1, 0, 0.5], attributes: [
            "n": .int(3), "x": .float(1.5), "s": .string("a"), "b": .bool(true),
            "tags": .array([.string("p"), .string("q")]), "gone": .null,
        ]))
        // The second row's integer 2 is coerced to the float type the first row implied.
        #expect(request.upserts[1] == Document(id: .uint(2), vector: nil, attributes: ["n": .int(4), "x": .float(2), "empty": .array([])]))
        let config = request.config
        #expect(config.idKind == .uint)
        #expect(config.dimension == 3)
        #expect(config.distanceMetric == .cosineDistance)
        #expect(config.schema["vector"]?.type == "[3]f32")
        #expect(config.schema["n"]?.type == "int")
        #expect(config.schema["x"]?.type == "float")
        #expect(config.schema["s"]?.type == "string")
        #expect(config.schema["b"]?.type == "bool")
        #expect(config.schema["tags"]?.type == "[]string")
        #expect(config.schema["gone"] == nil)
        #expect(config.schema["empty"] == nil)
        #expect(!request.changesConfig)
    }

    @Test("ids: integers, UUIDs and strings")
    func ids() throws {
        let uuid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
        let request = try Self.decode(#"{"upsert_rows": [{"id": "\#(uuid)"}], "deletes": ["\#(uuid.lowercased())"]}"#, config: NamespaceConfig())
        #expect(request.upserts.map(\.id) == [.uuid(UUID(uuidString: uuid)!)])
        #expect(request.deletes == [.uuid(UUID(uuidString: uuid)!)])
        #expect(request.config.idKind == .uuid)

        var strings = NamespaceConfig()
        strings.idKind = .string
        let stringRequest = try Self.decode(#"{"upsert_rows": [{"id": "\#(uuid)"}, {"id": "plain"}]}"#, config: strings)
        #expect(stringRequest.upserts.map(\.id) == [.string(uuid), .string("plain")])

        let big = try Self.decode(#"{"deletes": [0, 18446744073709551615]}"#)
        #expect(big.deletes == [.uint(0), .uint(UInt64.max)])
    }

    @Test("columnar upserts and patches; null means absent")
    func columns() throws {
        let request = try Self.decode(#"""
            {"upsert_columns": {"id": [5, 6], "vector": [[1, 2, 3], null], "count": [1, null], "price": [2, 3.5]},
             "patch_columns": {"id": [7], "count": [9]}}
            """#)
        #expect(request.upserts == [
            Document(id: .uint(5), vector: [1, 2, 3], attributes: ["count": .int(1), "price": .float(2)]),
            Document(id: .uint(6), vector: nil, attributes: ["price": .float(3.5)]),
        ])
        #expect(request.patches.count == 1)
        #expect(request.patches.first?.id == .uint(7))
        #expect(request.patches.first?.attributes == ["count": .int(9)])
        #expect(request.patches.first?.vector == nil)
    }

    @Test("a base64 vector is little-endian float32")
    func base64Vector() throws {
        let floats: [Float] = [1.5, -2, 0.25]
        let data = floats.withUnsafeBytes { Data($0) }
        let request = try Self.decode(#"{"upsert_rows": [{"id": 1, "vector": "\#(data.base64EncodedString())"}]}"#)
        #expect(request.upserts.first?.vector == floats)
    }

    @Test("coercions to declared types", arguments: [
        (#""price": 3"#, "price", AttributeValue.float(3)),
        (#""price": 18446744073709551615"#, "price", .float(18_446_744_073_709_551_615.0)),
        (#""big": 18446744073709551615"#, "big", .uint(UInt64.max)),
        (#""big": 5"#, "big", .int(5)),
        (#""ref": "6F9619FF-8B86-D011-B42D-00C04FC964FF""#, "ref", .string("6f9619ff-8b86-d011-b42d-00c04fc964ff")),
        (#""when": "2024-05-01T12:30:00Z""#, "when", .string("2024-05-01T12:30:00.000Z")),
        (#""when": "2024-05-01T12:30:00.250+02:00""#, "when", .string("2024-05-01T10:30:00.250Z")),
        (#""when": "2024-05-01""#, "when", .string("2024-05-01T00:00:00.000Z")),
        (#""count": null"#, "count", .null),
        (#""tags": []"#, "tags", .array([])),
    ])
    func coercion(attribute: String, name: String, expected: AttributeValue) throws {
        let request = try Self.decode(#"{"upsert_rows": [{"id": 1, \#(attribute)}]}"#)
        #expect(request.upserts.first?.attributes[name] == expected)
    }

    @Test("deletes, filters, conditions and flags")
    func otherOperations() throws {
        let request = try Self.decode(#"""
            {"deletes": [3, 4], "delete_by_filter": ["count", "Lt", 0],
             "patch_by_filter": {"filters": ["flag", "Eq", true], "patch": {"count": 1, "price": null}},
             "upsert_condition": ["count", "Lt", {"$ref_new": "count"}],
             "patch_condition": ["flag", "Eq", true], "delete_condition": ["Not", ["count", "Eq", 0]],
             "return_affected_ids": true, "disable_backpressure": false}
            """#)
        #expect(request.deletes == [.uint(3), .uint(4)])
        #expect(request.deleteByFilter == .condition(attribute: "count", op: .lt, operand: .value(.int(0))))
        #expect(request.patchByFilter?.filter == .condition(attribute: "flag", op: .eq, operand: .value(.bool(true))))
        #expect(request.patchByFilter?.attributes == ["count": .int(1), "price": .null])
        #expect(request.upsertCondition == .condition(attribute: "count", op: .lt, operand: .referenceToNew("count")))
        #expect(request.patchCondition != nil)
        #expect(request.deleteCondition == .not(.condition(attribute: "count", op: .eq, operand: .value(.int(0)))))
        #expect(request.returnAffectedIDs)
        #expect(!request.isEmpty)
        #expect(try Self.decode("{}").isEmpty)
    }

    @Test("schema declarations, full-text options and the vector type")
    func schema() throws {
        let request = try Self.decode(#"""
            {"schema": {"body": {"type": "string", "full_text_search": {"stemming": true, "remove_stopwords": false,
                                 "case_sensitive": true, "k1": 1.5, "b": 0.5, "language": "english", "tokenizer": "word_v2"}},
                        "labels": {"type": "[]string", "full_text_search": true, "filterable": false},
                        "n": "int", "vector": {"type": "[4]f16", "ann": true}},
             "distance_metric": "euclidean_squared"}
            """#, config: NamespaceConfig())
        let config = request.config
        let fts = FullTextConfig(stemming: true, removeStopwords: false, caseSensitive: true, k1: 1.5, b: 0.5)
        #expect(config.schema["body"] == AttributeSchema(type: "string", fullTextSearch: fts))
        #expect(config.schema["labels"] == AttributeSchema(type: "[]string", filterable: false, fullTextSearch: FullTextConfig()))
        #expect(config.schema["n"] == AttributeSchema(type: "int"))
        #expect(config.schema["vector"]?.type == "[4]f32")
        #expect(config.dimension == 4)
        #expect(config.distanceMetric == .euclideanSquared)
        #expect(request.changesConfig)
        #expect(request.isEmpty)
    }

    // MARK: Bad input

    @Test("bad writes name the JSON path", arguments: [
        // The body and its options.
        (#"[]"#, "the write body must be a JSON object"),
        (#"{"upsert_row": []}"#, "upsert_row: unknown write option \"upsert_row\""),
        (#"{"encryption": {}}"#, "encryption: encryption is not supported by this Lagoon version yet"),
        (#"{"sharding": {}}"#, "sharding: sharding is not supported"),
        (#"{"return_affected_ids": "yes"}"#, "return_affected_ids: must be a boolean"),
        (#"{"disable_backpressure": 1}"#, "disable_backpressure: must be a boolean"),
        (#"{"distance_metric": "dot_product"}"#, "distance_metric: must be \"cosine_distance\" or \"euclidean_squared\""),
        (#"{"distance_metric": "euclidean_squared"}"#, "distance_metric: the namespace uses cosine_distance; the distance metric cannot change"),
        // Rows.
        (#"{"upsert_rows": {}}"#, "upsert_rows: must be an array of row objects"),
        (#"{"upsert_rows": [{"id": 1}, 5]}"#, "upsert_rows[1]: each row must be an object, got a number"),
        (#"{"upsert_rows": [{"count": 1}]}"#, "upsert_rows[0].id: every row needs an id"),
        // Vectors.
        (#"{"upsert_rows": [{"id": 1, "vector": [1, 2]}]}"#, "upsert_rows[0].vector: wrong vector dimension: expected 3, got 2"),
        (#"{"upsert_rows": [{"id": 1, "vector": [1, 2, 3]}, {"id": 2, "vector": [1, 2, 3, 4]}]}"#,
         "upsert_rows[1].vector: wrong vector dimension: expected 3, got 4"),
        (#"{"upsert_rows": [{"id": 1, "vector": [1, 1e39, 0]}]}"#, "upsert_rows[0].vector[1]: vector values must be finite"),
        (#"{"upsert_rows": [{"id": 1, "vector": [1, 1e400, 0]}]}"#, "upsert_rows[0].vector[1]: vector values must be finite"),
        (#"{"upsert_rows": [{"id": 1, "vector": [1, "2", 0]}]}"#, "upsert_rows[0].vector[1]: vector elements must be numbers, got a string"),
        (#"{"upsert_rows": [{"id": 1, "vector": [1, null, 0]}]}"#, "upsert_rows[0].vector[1]: vector elements must be numbers, got null"),
        (#"{"upsert_rows": [{"id": 1, "vector": []}]}"#, "upsert_rows[0].vector: a vector cannot be empty"),
        (#"{"upsert_rows": [{"id": 1, "vector": "not base64!"}]}"#, "upsert_rows[0].vector: a string vector must be base64"),
        (#"{"upsert_rows": [{"id": 1, "vector": "AAAA AA=="}]}"#, "upsert_rows[0].vector: a string vector must be base64"),
        (#"{"upsert_rows": [{"id": 1, "vector": "AAAAAAA="}]}"#, "upsert_rows[0].vector: a string vector must be base64"),
        (#"{"upsert_rows": [{"id": 1, "vector": "AACAfwAAAAAAAAAA"}]}"#, "upsert_rows[0].vector[0]: vector values must be finite"),
        (#"{"upsert_rows": [{"id": 1, "vector": {"x": 1}}]}"#, "upsert_rows[0].vector: a vector must be an array of numbers or a base64 string, got an object"),
        (#"{"patch_rows": [{"id": 1, "vector": [1, 2, 3, 4, 5]}]}"#, "patch_rows[0].vector: wrong vector dimension: expected 3, got 5"),
        (#"{"upsert_columns": {"id": [1, 2], "vector": [[1, 2, 3], [1, 2]]}}"#, "upsert_columns.vector[1]: wrong vector dimension: expected 3, got 2"),
        // Ids.
        (#"{"upsert_rows": [{"id": "abc"}]}"#, "upsert_rows[0].id: id of the wrong kind: this namespace uses uint ids, got string"),
        (#"{"upsert_rows": [{"id": "6F9619FF-8B86-D011-B42D-00C04FC964FF"}]}"#, "upsert_rows[0].id: id of the wrong kind: this namespace uses uint ids, got uuid"),
        (#"{"upsert_rows": [{"id": -1}]}"#, "upsert_rows[0].id: an id must be a non-negative integer, a UUID or a string, got a number"),
        (#"{"upsert_rows": [{"id": 1.5}]}"#, "upsert_rows[0].id: an id must be a non-negative integer"),
        (#"{"upsert_rows": [{"id": true}]}"#, "upsert_rows[0].id: an id must be a non-negative integer, a UUID or a string, got a boolean"),
        (#"{"upsert_rows": [{"id": null}]}"#, "upsert_rows[0].id: an id must be a non-negative integer, a UUID or a string, got null"),
        (#"{"deletes": [1, "x"]}"#, "deletes[1]: id of the wrong kind"),
        (#"{"deletes": 1}"#, "deletes: must be an array of ids"),
        // Attributes against the schema.
        (#"{"upsert_rows": [{"id": 1, "count": "many"}]}"#, "upsert_rows[0].count: expected int, got string"),
        (#"{"upsert_rows": [{"id": 1, "count": 1.5}]}"#, "upsert_rows[0].count: expected int, got float"),
        (#"{"upsert_rows": [{"id": 1, "count": 9223372036854775808}]}"#, "upsert_rows[0].count: "),
        (#"{"upsert_rows": [{"id": 1, "big": -1}]}"#, "upsert_rows[0].big: expected uint, got int"),
        (#"{"upsert_rows": [{"id": 1, "price": "1.5"}]}"#, "upsert_rows[0].price: expected float, got string"),
        (#"{"upsert_rows": [{"id": 1, "price": 1e400}]}"#, "upsert_rows[0].price: numbers must be finite"),
        (#"{"upsert_rows": [{"id": 1, "flag": 1}]}"#, "upsert_rows[0].flag: expected bool, got int"),
        (#"{"upsert_rows": [{"id": 1, "tags": "a"}]}"#, "upsert_rows[0].tags: expected an array ([]string), got string"),
        (#"{"upsert_rows": [{"id": 1, "tags": ["a", 2]}]}"#, "upsert_rows[0].tags[1]: expected string, got int"),
        (#"{"upsert_rows": [{"id": 1, "tags": ["a", ["b"]]}]}"#, "upsert_rows[0].tags[1]: nested arrays are not supported"),
        (#"{"upsert_rows": [{"id": 1, "title": ["x"]}]}"#, "upsert_rows[0].title: expected string, got array"),
        (#"{"upsert_rows": [{"id": 1, "ref": "not-a-uuid"}]}"#, "upsert_rows[0].ref: \"not-a-uuid\" is not a UUID"),
        (#"{"upsert_rows": [{"id": 1, "when": "yesterday"}]}"#, "upsert_rows[0].when: \"yesterday\" is not an RFC 3339 datetime"),
        (#"{"upsert_rows": [{"id": 1, "meta": {"a": 1}}]}"#, "upsert_rows[0].meta: objects are not supported as attribute values"),
        (#"{"upsert_rows": [{"id": 1, "$dist": 1}]}"#, "upsert_rows[0].$dist: attribute names cannot be empty or start with $"),
        (#"{"upsert_rows": [{"id": 1, "": 1}]}"#, "upsert_rows[0].: attribute names cannot be empty"),
        (#"{"upsert_rows": [{"id": 1, "fresh": 1}, {"id": 2, "fresh": "one"}]}"#, "upsert_rows[1].fresh: expected int, got string"),
        (#"{"patch_rows": [{"id": 1, "count": true}]}"#, "patch_rows[0].count: expected int, got bool"),
        // Columns.
        (#"{"upsert_columns": [1]}"#, "upsert_columns: must be an object of equal-length column arrays"),
        (#"{"upsert_columns": {"count": [1]}}"#, "upsert_columns.id: an array of ids is required"),
        (#"{"upsert_columns": {"id": [1, 2], "count": [1]}}"#, "upsert_columns.count: has 1 values but id has 2"),
        (#"{"upsert_columns": {"id": [1, 2], "count": 1}}"#, "upsert_columns.count: must be an array"),
        (#"{"upsert_columns": {"id": [1, 2], "count": [1, "x"]}}"#, "upsert_columns.count[1]: expected int, got string"),
        (#"{"upsert_columns": {"id": [1, "two"]}}"#, "upsert_columns.id[1]: id of the wrong kind"),
        // Filters and conditions.
        (#"{"delete_by_filter": ["count", "Eq", {"$ref_new": "count"}]}"#, "delete_by_filter[2]: $ref_new is only allowed in write conditions"),
        (#"{"delete_by_filter": ["count", "Regex", "x"]}"#, "delete_by_filter[1]: the Regex filter is not supported in Lagoon v1 (out of scope)"),
        (#"{"upsert_condition": ["And", [["count", "Eq", 1], ["count", "Lt", {"$ref_new": 5}]]]}"#,
         "upsert_condition[1][1][2]: $ref_new takes an attribute name"),
        (#"{"patch_by_filter": {"filters": ["count", "Eq", 1]}}"#, "patch_by_filter: must be {\"filters\": [...], \"patch\": {...}}"),
        (#"{"patch_by_filter": {"filters": ["count", "Eq", 1], "patch": {"id": 2}}}"#, "patch_by_filter.patch.id: the id cannot be patched"),
        (#"{"patch_by_filter": {"filters": ["count", "Eq", 1], "patch": {"vector": [1, 2, 3]}}}"#, "patch_by_filter.patch.vector: patch_by_filter cannot set vectors"),
        (#"{"patch_by_filter": {"filters": ["count", "Eq", 1], "patch": {"count": "x"}}}"#, "patch_by_filter.patch.count: expected int, got string"),
        (#"{"patch_by_filter": {"filters": ["And", [["count", "In", 1]]], "patch": {}}}"#, "patch_by_filter.filters[1][0][2]: In takes an array of values"),
        // Schema.
        (#"{"schema": []}"#, "schema: must be an object mapping attribute names to types"),
        (#"{"schema": {"x": 5}}"#, "schema.x: must be a type string or an object with \"type\""),
        (#"{"schema": {"x": "decimal"}}"#, "schema.x.type: unknown type \"decimal\""),
        (#"{"schema": {"x": {"type": "[]map"}}}"#, "schema.x.type: unknown type \"[]map\""),
        (#"{"schema": {"x": {"filterable": true}}}"#, "schema.x.type: a type is required"),
        (#"{"schema": {"x": {"type": "int", "indexed": true}}}"#, "schema.x.indexed: unknown schema option \"indexed\""),
        (#"{"schema": {"x": {"type": "int", "filterable": "yes"}}}"#, "schema.x.filterable: must be a boolean"),
        (#"{"schema": {"count": "string"}}"#, "schema.count.type: attribute \"count\" already has type int; types cannot change"),
        (#"{"schema": {"count": {"type": "int", "full_text_search": true}}}"#, "schema.count.full_text_search: full-text search needs a string or []string attribute"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": "yes"}}}"#, "schema.t.full_text_search: must be true, false or a settings object"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"language": "french"}}}}"#, "schema.t.full_text_search.language: only \"english\" is supported in v1"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"b": 1.5}}}}"#, "schema.t.full_text_search.b: must be a number in [0, 1]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"k1": -1}}}}"#, "schema.t.full_text_search.k1: must be a number in [0, 100]"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"stemming": 1}}}}"#, "schema.t.full_text_search.stemming: must be a boolean"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"tokenizer": "ngram"}}}}"#, "schema.t.full_text_search.tokenizer: only the word tokenizer is supported in v1"),
        (#"{"schema": {"t": {"type": "string", "full_text_search": {"fuzzy": true}}}}"#, "schema.t.full_text_search.fuzzy: unknown full-text option \"fuzzy\""),
        (#"{"schema": {"emb": {"type": "[]float", "ann": true}}}"#, "schema.emb.ann: only the attribute named \"vector\" can be a vector index"),
        (#"{"schema": {"vector": "[4]f32"}}"#, "schema.vector.type: attribute \"vector\" already has type [3]f32; types cannot change"),
    ])
    func badWrite(json: String, expected: String) {
        let message = Self.message(json)
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("vector types", arguments: ["[3]f64", "[0]f32", "[16385]f32", "[]f32", "3f32", "[x]f32", "string"])
    func badVectorType(type: String) {
        let message = Self.message(#"{"schema": {"vector": "\#(type)"}}"#, config: NamespaceConfig())
        #expect(message == "schema.vector.type: the vector attribute must have type [N]f32 or [N]f16")
    }

    @Test("a fresh namespace fixes the id kind with its first id")
    func mixedIDKinds() {
        let message = Self.message(#"{"upsert_rows": [{"id": 1}, {"id": "two"}]}"#, config: NamespaceConfig())
        #expect(message == "upsert_rows[1].id: id of the wrong kind: this namespace uses uint ids, got string")
        #expect(Self.message(#"{"upsert_rows": [{"id": ""}]}"#, config: NamespaceConfig()) == "upsert_rows[0].id: an id cannot be empty")
        let long = String(repeating: "x", count: 65)
        #expect(Self.message(#"{"upsert_rows": [{"id": "\#(long)"}]}"#, config: NamespaceConfig()) == "upsert_rows[0].id: string ids are at most 64 bytes")
        let fits = String(repeating: "é", count: 32)
        #expect(Self.message(#"{"upsert_rows": [{"id": "\#(fits)"}]}"#, config: NamespaceConfig()) == nil)
    }

    @Test("the document limit applies to the whole request")
    func documentLimit() {
        let n = WriteRequestDecoder.maxDocumentsPerRequest
        let ids = (0..<(n / 2 + 1)).map(String.init).joined(separator: ",")
        let message = Self.message(#"{"upsert_columns": {"id": [\#(ids)]}, "deletes": [\#(ids)]}"#)
        #expect(message == "\(2 * (n / 2 + 1)) documents in one request; the limit is \(n)")
    }
}
