public import Log
import Foundation

/// A validated write request (API.md "Write bodies"). Everything here has been checked
/// against the namespace's config, so resolving it cannot fail on bad input.
public struct WriteRequest: Sendable {
    public struct Patch: Sendable, Equatable {
        public var id: DocumentID
        public var attributes: [String: AttributeValue]
        public var vector: [Float]?
    }

    public var upserts: [Document] = []
    public var patches: [Patch] = []
    public var deletes: [DocumentID] = []
    public var deleteByFilter: FilterExpression?
    public var patchByFilter: (filter: FilterExpression, attributes: [String: AttributeValue])?
    public var upsertCondition: FilterExpression?
    public var patchCondition: FilterExpression?
    public var deleteCondition: FilterExpression?
    public var returnAffectedIDs = false
    /// The config the namespace has after this write (metric, dimension, id kind, schema).
    public var config: NamespaceConfig
    /// True when the request changes nothing but may change config (e.g. schema only).
    public var changesConfig = false

    public var isEmpty: Bool {
        upserts.isEmpty && patches.isEmpty && deletes.isEmpty && deleteByFilter == nil && patchByFilter == nil
    }

    /// A request built by Lagoon itself from already-valid documents (a namespace copy),
    /// not decoded from a body.
    public init(config: NamespaceConfig, upserts: [Document] = []) {
        self.config = config
        self.upserts = upserts
        changesConfig = !upserts.isEmpty
    }
}

/// Decodes and validates write bodies against the namespace's current config.
public struct WriteRequestDecoder {
    static let knownKeys: Set<String> = [
        "upsert_rows", "upsert_columns", "patch_rows", "patch_columns", "deletes", "delete_by_filter",
        "patch_by_filter", "upsert_condition", "patch_condition", "delete_condition", "distance_metric",
        "schema", "return_affected_ids", "disable_backpressure", "delete_by_filter_allow_partial",
        "patch_by_filter_allow_partial", "create_namespace", "encryption", "branch_from_namespace",
        "copy_from_namespace", "sharding",
    ]

    /// Upper bound on documents in one request, so one request cannot exhaust memory.
    public static let maxDocumentsPerRequest = 100_000

    private var config: NamespaceConfig
    private var requestIDKind: DocumentID.Kind?

    public static func decode(_ body: JSONValue, config: NamespaceConfig) throws -> WriteRequest {
        var decoder = WriteRequestDecoder(config: config)
        return try decoder.decode(body)
    }

    private init(config: NamespaceConfig) {
        self.config = config
    }

    private mutating func decode(_ body: JSONValue) throws -> WriteRequest {
        let root = JSONPath()
        // Top-level options sent as null are absent.
        guard let object = body.objectValue?.withoutNulls else { throw root.invalid("the write body must be a JSON object") }
        for key in object.keys where !Self.knownKeys.contains(key) {
            throw root.key(key).invalid("unknown write option \"\(key)\"")
        }
        for key in ["encryption", "sharding"] where object[key] != nil {
            throw root.key(key).invalid("\(key) is not supported by this Lagoon version yet")
        }
        if let metric = object["distance_metric"] {
            let path = root.key("distance_metric")
            guard let name = metric.stringValue, let parsed = DistanceMetric(rawValue: name) else {
                throw path.invalid("must be \"cosine_distance\" or \"euclidean_squared\"")
            }
            if let existing = config.distanceMetric, existing != parsed {
                throw path.invalid("the namespace uses \(existing.rawValue); the distance metric cannot change")
            }
            config.distanceMetric = parsed
        }
        if let schema = object["schema"] {
            try applySchema(schema, at: root.key("schema"))
        }
        var request = WriteRequest(config: config)
        if let flag = object["return_affected_ids"] {
            guard case .bool(let b) = flag else { throw root.key("return_affected_ids").invalid("must be a boolean") }
            request.returnAffectedIDs = b
        }
        for key in ["disable_backpressure", "delete_by_filter_allow_partial", "patch_by_filter_allow_partial", "create_namespace"] {
            if let v = object[key], case .bool = v {} else if object[key] != nil {
                throw root.key(key).invalid("must be a boolean")
            }
        }
        if let rows = object["upsert_rows"] {
            request.upserts += try decodeRows(rows, at: root.key("upsert_rows")).map {
                Document(id: $0.id, vector: $0.vector, attributes: $0.attributes)
            }
        }
        if let columns = object["upsert_columns"] {
            request.upserts += try decodeColumns(columns, at: root.key("upsert_columns")).map {
                Document(id: $0.id, vector: $0.vector, attributes: $0.attributes)
            }
        }
        if let rows = object["patch_rows"] {
            request.patches += try decodeRows(rows, at: root.key("patch_rows"))
        }
        if let columns = object["patch_columns"] {
            request.patches += try decodeColumns(columns, at: root.key("patch_columns"))
        }
        if let deletes = object["deletes"] {
            let path = root.key("deletes")
            guard let items = deletes.arrayValue else { throw path.invalid("must be an array of ids") }
            request.deletes = try items.enumerated().map { try decodeID($1, at: path.index($0)) }
        }
        if let filter = object["delete_by_filter"] {
            request.deleteByFilter = try FilterExpression.decode(filter, at: root.key("delete_by_filter"), config: config)
        }
        if let patch = object["patch_by_filter"] {
            let path = root.key("patch_by_filter")
            guard let o = patch.objectValue?.withoutNulls, let filters = o["filters"], let changes = o["patch"]?.objectValue else {
                throw path.invalid("must be {\"filters\": [...], \"patch\": {...}}")
            }
            let filter = try FilterExpression.decode(filters, at: path.key("filters"), config: config)
            var attributes: [String: AttributeValue] = [:]
            for (name, value) in changes.pairs {
                let valuePath = path.key("patch").key(name)
                guard name != "id" else { throw valuePath.invalid("the id cannot be patched") }
                guard name != "vector" else { throw valuePath.invalid("patch_by_filter cannot set vectors") }
                attributes[name] = try checkedAttribute(name, value, at: valuePath)
            }
            request.patchByFilter = (filter, attributes)
        }
        for (key, keyPath) in [("upsert_condition", \WriteRequest.upsertCondition),
                               ("patch_condition", \WriteRequest.patchCondition),
                               ("delete_condition", \WriteRequest.deleteCondition)] {
            if let condition = object[key] {
                request[keyPath: keyPath] = try FilterExpression.decode(condition, at: root.key(key), allowReferences: true, config: config)
            }
        }
        let total = request.upserts.count + request.patches.count + request.deletes.count
        guard total <= Self.maxDocumentsPerRequest else {
            throw root.invalid("\(total) documents in one request; the limit is \(Self.maxDocumentsPerRequest)")
        }
        if request.upserts.contains(where: { $0.vector != nil }) || request.patches.contains(where: { $0.vector != nil }) {
            if config.distanceMetric == nil { config.distanceMetric = .cosineDistance }
        }
        request.config = config
        request.changesConfig = object["schema"] != nil || object["distance_metric"] != nil
        return request
    }

    // MARK: Rows and columns

    private mutating func decodeRows(_ json: JSONValue, at path: JSONPath) throws -> [WriteRequest.Patch] {
        guard let rows = json.arrayValue else { throw path.invalid("must be an array of row objects") }
        guard rows.count <= Self.maxDocumentsPerRequest else {
            throw path.invalid("\(rows.count) rows; the limit is \(Self.maxDocumentsPerRequest) per request")
        }
        var result: [WriteRequest.Patch] = []
        result.reserveCapacity(rows.count)
        for (i, row) in rows.enumerated() {
            let rowPath = path.index(i)
            guard let object = row.objectValue else { throw rowPath.invalid("each row must be an object, got \(row.kindName)") }
            guard let idValue = object["id"] else { throw rowPath.key("id").invalid("every row needs an id") }
            var patch = WriteRequest.Patch(id: try decodeID(idValue, at: rowPath.key("id")), attributes: [:], vector: nil)
            for (name, value) in object.pairs where name != "id" {
                if name == "vector" {
                    if case .null = value { continue }
                    patch.vector = try decodeVector(value, at: rowPath.key("vector"))
                } else {
                    patch.attributes[name] = try checkedAttribute(name, value, at: rowPath.key(name))
                }
            }
            result.append(patch)
        }
        return result
    }

    private mutating func decodeColumns(_ json: JSONValue, at path: JSONPath) throws -> [WriteRequest.Patch] {
        guard let object = json.objectValue else { throw path.invalid("must be an object of equal-length column arrays") }
        guard let idColumn = object["id"]?.arrayValue else { throw path.key("id").invalid("an array of ids is required") }
        guard idColumn.count <= Self.maxDocumentsPerRequest else {
            throw path.key("id").invalid("\(idColumn.count) rows; the limit is \(Self.maxDocumentsPerRequest) per request")
        }
        var result = try idColumn.enumerated().map { i, id in
            WriteRequest.Patch(id: try decodeID(id, at: path.key("id").index(i)), attributes: [:], vector: nil)
        }
        for (name, column) in object.pairs where name != "id" {
            let columnPath = path.key(name)
            guard let values = column.arrayValue else { throw columnPath.invalid("must be an array") }
            guard values.count == idColumn.count else {
                throw columnPath.invalid("has \(values.count) values but id has \(idColumn.count)")
            }
            for (i, value) in values.enumerated() {
                if case .null = value { continue }
                if name == "vector" {
                    result[i].vector = try decodeVector(value, at: columnPath.index(i))
                } else {
                    result[i].attributes[name] = try checkedAttribute(name, value, at: columnPath.index(i))
                }
            }
        }
        return result
    }

    // MARK: Ids

    private mutating func decodeID(_ json: JSONValue, at path: JSONPath) throws -> DocumentID {
        let id: DocumentID
        switch json {
        case .int(let v) where v >= 0: id = .uint(UInt64(v))
        case .uint(let v): id = .uint(v)
        case .string(let s):
            guard !s.isEmpty else { throw path.invalid("an id cannot be empty") }
            guard s.utf8.count <= DocumentID.maxStringBytes else {
                throw path.invalid("string ids are at most \(DocumentID.maxStringBytes) bytes")
            }
            if config.idKind != .string, let uuid = UUID(uuidString: s) {
                id = .uuid(uuid)
            } else {
                id = .string(s)
            }
        default:
            throw path.invalid("an id must be a non-negative integer, a UUID or a string, got \(json.kindName)")
        }
        let expected = config.idKind ?? requestIDKind
        if let expected, expected != id.kind {
            // A UUID-looking string in a string-id namespace stays a string; anything else is a kind clash.
            if expected == .string, case .uuid(let u) = id { return .string(u.uuidString.lowercased()) }
            throw path.invalid("id of the wrong kind: this namespace uses \(expected.rawValue) ids, got \(id.kind.rawValue)")
        }
        requestIDKind = id.kind
        if config.idKind == nil { config.idKind = id.kind }
        return id
    }

    // MARK: Vectors

    private mutating func decodeVector(_ json: JSONValue, at path: JSONPath) throws -> [Float] {
        // The first vector of a namespace sets its dimension, under the same cap as a declared type.
        let vector = try VectorDecoding.decode(json, at: path, dimension: config.dimension)
        if config.dimension == nil {
            config.dimension = vector.count
            config.schema["vector"] = AttributeSchema(type: "[\(vector.count)]f32")
        }
        return vector
    }

    // MARK: Attributes and schema

    private mutating func checkedAttribute(_ name: String, _ json: JSONValue, at path: JSONPath) throws -> AttributeValue {
        guard !name.isEmpty, !name.hasPrefix("$") else { throw path.invalid("attribute names cannot be empty or start with $") }
        try AttributeName.validate(name, at: path)
        let value = try AttributeValueDecoding.decode(json, at: path)
        if value.isNull { return value }
        if let declared = config.schema[name] {
            return try coerce(value, to: declared.type, at: path)
        }
        guard let inferred = try Self.inferType(value, at: path) else { return value }
        // The first value is held to the type it implies, like every later one.
        let coerced = try coerce(value, to: inferred, at: path)
        config.schema[name] = AttributeSchema(type: inferred)
        return coerced
    }

    /// The schema type a first value implies, or nil when it implies nothing yet. An array's
    /// elements must share one type; numbers unify (ints with floats make []float).
    static func inferType(_ value: AttributeValue, at path: JSONPath) throws -> String? {
        switch value {
        case .null: return nil
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .float: return "float"
        case .string: return "string"
        case .array(let items):
            var element: String?
            for (i, item) in items.enumerated() {
                guard let type = try inferType(item, at: path.index(i)) else { continue }
                switch (element, type) {
                case (nil, _): element = type
                case (let e?, _) where e == type: break
                case ("float", "int"), ("float", "uint"), ("int", "float"), ("uint", "float"): element = "float"
                case ("int", "uint"), ("uint", "int"): element = "uint"
                default:
                    throw path.index(i).invalid("array elements must all have one type: \(type) after \(element ?? "") (mixed-type arrays are not supported)")
                }
            }
            return element.map { "[]" + $0 }
        }
    }

    private func coerce(_ value: AttributeValue, to type: String, at path: JSONPath) throws -> AttributeValue {
        if type.hasPrefix("[]") {
            guard case .array(let items) = value else { throw path.invalid("expected an array (\(type)), got \(value.kindName)") }
            let element = String(type.dropFirst(2))
            // Nulls inside arrays are kept as they are.
            return .array(try items.enumerated().map { $1.isNull ? $1 : try coerce($1, to: element, at: path.index($0)) })
        }
        switch (type, value) {
        case ("string", .string), ("bool", .bool), ("int", .int), ("float", .float): return value
        case ("int", .uint): throw path.invalid("\(value) does not fit an int (use uint)")
        case ("uint", .uint): return value
        case ("uint", .int(let v)) where v >= 0: return value
        case ("float", .int(let v)): return .float(Double(v))
        case ("float", .uint(let v)): return .float(Double(v))
        case ("uuid", .string(let s)):
            guard let uuid = UUID(uuidString: s) else { throw path.invalid("\"\(s)\" is not a UUID") }
            return .string(uuid.uuidString.lowercased())
        case ("datetime", .string(let s)):
            // Stored in one canonical UTC form, so text order is instant order.
            guard let canonical = CanonicalDatetime.normalize(s) else { throw path.invalid("\"\(s)\" is not an RFC 3339 datetime") }
            return .string(canonical)
        default:
            throw path.invalid("expected \(type), got \(value.kindName)")
        }
    }

    private mutating func applySchema(_ json: JSONValue, at path: JSONPath) throws {
        config = try SchemaDecoder.apply(json, to: config, at: path)
    }
}

/// Decodes schema maps (`{"attr": "type" | {"type", "filterable", "full_text_search"}}`).
public enum SchemaDecoder {
    public static func apply(_ json: JSONValue, to base: NamespaceConfig, at path: JSONPath) throws -> NamespaceConfig {
        var config = base
        guard let object = json.objectValue?.withoutNulls else { throw path.invalid("must be an object mapping attribute names to types") }
        for (name, spec) in object.pairs {
            let attrPath = path.key(name)
            try AttributeName.validate(name, at: attrPath)
            var attribute: AttributeSchema
            switch spec {
            case .string(let type):
                attribute = AttributeSchema(type: type)
            case .object(let spec):
                let o = spec.withoutNulls
                for key in o.keys where !["type", "filterable", "full_text_search", "ann"].contains(key) {
                    throw attrPath.key(key).invalid("unknown schema option \"\(key)\"")
                }
                let existingType = config.schema[name]?.type
                guard let type = o["type"]?.stringValue ?? existingType else { throw attrPath.key("type").invalid("a type is required") }
                attribute = AttributeSchema(type: type)
                if let f = o["filterable"] {
                    guard case .bool(let b) = f else { throw attrPath.key("filterable").invalid("must be a boolean") }
                    attribute.filterable = b
                }
                if let fts = o["full_text_search"] {
                    attribute.fullTextSearch = try decodeFullText(fts, at: attrPath.key("full_text_search"))
                }
                if let ann = o["ann"], ann != .bool(false), name != "vector" {
                    throw attrPath.key("ann").invalid("only the attribute named \"vector\" can be a vector index in Lagoon v1")
                }
            default:
                throw attrPath.invalid("must be a type string or an object with \"type\"")
            }
            try validateType(attribute.type, name: name, at: attrPath.key("type"))
            if let existing = config.schema[name], existing.type != attribute.type {
                throw attrPath.key("type").invalid("attribute \"\(name)\" already has type \(existing.type); types cannot change")
            }
            if attribute.fullTextSearch != nil, attribute.elementType != "string" {
                throw attrPath.key("full_text_search").invalid("full-text search needs a string or []string attribute")
            }
            if name == "vector" {
                guard let dimension = vectorDimension(attribute.type) else {
                    throw attrPath.key("type").invalid("the vector attribute must have type [N]f32 or [N]f16")
                }
                if let existing = config.dimension, existing != dimension {
                    throw attrPath.key("type").invalid("the namespace has \(existing)-dimensional vectors")
                }
                config.dimension = dimension
                attribute.type = "[\(dimension)]f32"  // f16 is accepted and stored as f32 in v1
            }
            config.schema[name] = attribute
        }
        return config
    }

    static func vectorDimension(_ type: String) -> Int? {
        guard type.hasPrefix("["), let close = type.firstIndex(of: "]") else { return nil }
        let element = type[type.index(after: close)...]
        guard element == "f32" || element == "f16", let n = Int(type[type.index(after: type.startIndex)..<close]), n > 0, n <= NamespaceConfig.maxDimension else {
            return nil
        }
        return n
    }

    static func validateType(_ type: String, name: String, at path: JSONPath) throws {
        if name == "vector" { return }
        let element = type.hasPrefix("[]") ? String(type.dropFirst(2)) : type
        guard AttributeSchema.scalarTypes.contains(element) else {
            throw path.invalid("unknown type \"\(type)\"; use string, int, uint, float, uuid, datetime, bool or []T")
        }
    }

    static func decodeFullText(_ json: JSONValue, at path: JSONPath) throws -> FullTextConfig? {
        switch json {
        case .bool(let enabled): return enabled ? FullTextConfig() : nil
        case .object(let o):
            var config = FullTextConfig()
            for (key, value) in o.withoutNulls.pairs {
                let p = path.key(key)
                switch key {
                case "language":
                    guard value.stringValue == "english" else { throw p.invalid("only \"english\" is supported in v1") }
                case "stemming", "remove_stopwords", "case_sensitive":
                    guard case .bool(let b) = value else { throw p.invalid("must be a boolean") }
                    if key == "stemming" { config.stemming = b } else if key == "remove_stopwords" { config.removeStopwords = b } else { config.caseSensitive = b }
                case "k1", "b":
                    // Bounded (and so finite): manifests encode them and BM25 scores stay finite.
                    let bound = key == "k1" ? FullTextConfig.maxK1 : 1
                    guard let v = value.doubleValue, v >= 0, v <= bound else {
                        throw p.invalid(key == "b" ? "must be a number in [0, 1]" : "must be a number in [0, \(Int(bound))]")
                    }
                    if key == "k1" { config.k1 = v } else { config.b = v }
                case "tokenizer":
                    guard value.stringValue == "word_v1" || value.stringValue == "word_v2" else {
                        throw p.invalid("only the word tokenizer is supported in v1")
                    }
                default:
                    throw p.invalid("unknown full-text option \"\(key)\"")
                }
            }
            return config
        default:
            throw path.invalid("must be true, false or a settings object")
        }
    }
}
