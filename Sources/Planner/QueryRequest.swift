public import Log

/// How results are ranked (`rank_by`).
public indirect enum RankBy: Sendable, Equatable {
    public enum VectorMode: String, Sendable, Codable { case ann = "ANN", knn = "kNN" }
    case vector(mode: VectorMode, query: [Float])
    case bm25(attribute: String, query: String)
    case sum([RankBy])
    case max([RankBy])
    case product(weight: Double, RankBy)
    case attribute(name: String, descending: Bool)

    /// True for text-relevance expressions (BM25 and combinations of it).
    var isTextScore: Bool {
        switch self {
        case .bm25, .sum, .max, .product: return true
        default: return false
        }
    }
}

/// Which attributes a result row carries.
public enum AttributeSelection: Sendable, Equatable, Codable {
    case none
    case all
    case only([String])
    case allExcept([String])
}

public enum ConsistencyLevel: String, Sendable, Codable { case strong, eventual }

/// A validated query (API.md "Query body").
public struct QueryRequest: Sendable {
    public var rankBy: RankBy?
    public var filter: FilterExpression?
    public var topK: Int = 10
    public var attributes: AttributeSelection = .none
    public var consistency: ConsistencyLevel = .strong
    public var vectorsAsBase64 = false
    /// Time travel: read this manifest version.
    public var asOfVersion: UInt64?
    /// `__debug_settings` probe count (`ann_nprobe` / `nprobe`): how many IVF lists an ANN
    /// search visits. Decoded for the vector index to honour; nil means its default.
    public var annProbes: Int?
    /// `disable_cache` (a turbopuffer debug field): accepted; Lagoon's caches never change answers.
    public var disableCache = false

    public init() {}
}

/// Multi-query with optional server-side reciprocal-rank fusion.
public struct MultiQueryRequest: Sendable {
    public struct RRF: Sendable, Equatable {
        public var rankConstant: Double = 60
        public var weights: [Double]?
    }
    public var queries: [QueryRequest]
    public var rerank: RRF?
    public var limit: Int?
    public var consistency: ConsistencyLevel
    /// The top-level `as_of`: every sub-query reads this manifest version.
    public var asOfVersion: UInt64?
}

public enum QueryDecoder {
    public static let maxTopK = 10_000
    public static let maxQueries = 16
    /// At most this many names in include_attributes / exclude_attributes.
    public static let maxSelectedAttributes = 1_024
    /// Bounds that keep every score finite as float32 (Specs/query/semantics.md §7):
    /// Product weights (multiplied along nested Products), RRF constants and weights.
    public static let maxProductWeight = 1e6
    public static let maxRankConstant = 1e6
    public static let maxRRFWeight = 1e6
    /// Nesting depth of Sum / Max / Product expressions.
    public static let maxRankDepth = 8
    /// Largest `__debug_settings` probe count.
    public static let maxProbes = 1 << 20

    static let knownKeys: Set<String> = [
        "rank_by", "filters", "top_k", "limit", "include_attributes", "exclude_attributes", "consistency",
        "vector_encoding", "as_of", "analyze", "aggregate_by", "group_by", "distance_metric",
        "disable_cache", "__debug_settings",
    ]

    /// Decodes a single query body.
    public static func decode(_ json: JSONValue, at path: JSONPath = JSONPath(), config: NamespaceConfig) throws -> QueryRequest {
        try decode(json, at: path, config: config, isSubQuery: false)
    }

    /// Decodes a query body or one element of `queries`. Optional fields sent as null are absent.
    static func decode(_ json: JSONValue, at path: JSONPath, config: NamespaceConfig, isSubQuery: Bool) throws -> QueryRequest {
        guard let object = json.objectValue?.withoutNulls else { throw path.invalid("a query must be a JSON object") }
        for key in object.keys where !knownKeys.contains(key) {
            throw path.key(key).invalid("unknown query option \"\(key)\"")
        }
        for key in ["aggregate_by", "group_by"] where object[key] != nil {
            throw path.key(key).invalid("aggregations and group_by are not supported in Lagoon v1 (out of scope)")
        }
        var query = QueryRequest()
        if let rank = object["rank_by"] {
            query.rankBy = try decodeRankBy(rank, at: path.key("rank_by"), config: config)
        }
        if let filters = object["filters"] {
            query.filter = try FilterExpression.decode(filters, at: path.key("filters"), config: config)
        }
        if let topK = object["top_k"] {
            query.topK = try decodeLimit(topK, at: path.key("top_k"))
        }
        if let limit = object["limit"] {
            query.topK = try decodeLimit(limit, at: path.key("limit"))
        }
        query.attributes = try decodeSelection(include: object["include_attributes"], exclude: object["exclude_attributes"], at: path)
        if let consistency = object["consistency"] {
            query.consistency = try decodeConsistency(consistency, at: path.key("consistency"))
        }
        if let encoding = object["vector_encoding"] {
            query.vectorsAsBase64 = try decodeVectorEncoding(encoding, at: path.key("vector_encoding"))
        }
        if let asOf = object["as_of"] {
            guard !isSubQuery else {
                throw path.key("as_of").invalid("as_of applies to the whole multi-query: set it next to \"queries\", not in a sub-query")
            }
            query.asOfVersion = try decodeAsOf(asOf, at: path.key("as_of"))
        }
        if let flag = object["disable_cache"] {
            guard case .bool(let b) = flag else { throw path.key("disable_cache").invalid("must be a boolean") }
            query.disableCache = b
        }
        if let settings = object["__debug_settings"] {
            query.annProbes = try decodeDebugSettings(settings, at: path.key("__debug_settings"))
        }
        if let metric = object["distance_metric"] {
            guard let name = metric.stringValue, DistanceMetric(rawValue: name) == config.distanceMetric else {
                throw path.key("distance_metric").invalid("must match the namespace's distance metric (\(config.distanceMetric?.rawValue ?? "none"))")
            }
        }
        return query
    }

    static func decodeAsOf(_ json: JSONValue, at path: JSONPath) throws -> UInt64 {
        guard let v = json.intValue, v > 0 else { throw path.invalid("must be a positive manifest version") }
        return UInt64(v)
    }

    /// turbopuffer's `__debug_settings`: a probe count is kept, other keys are ignored.
    static func decodeDebugSettings(_ json: JSONValue, at path: JSONPath) throws -> Int? {
        guard let object = json.objectValue?.withoutNulls else { throw path.invalid("must be an object") }
        var probes: Int?
        for key in ["ann_nprobe", "nprobe"] {
            guard let value = object[key] else { continue }
            guard let n = value.intValue, n >= 1, n <= Int64(maxProbes) else {
                throw path.key(key).invalid("must be an integer from 1 to \(maxProbes)")
            }
            probes = Int(n)
        }
        return probes
    }

    public static func decodeMulti(_ json: JSONValue, config: NamespaceConfig) throws -> MultiQueryRequest {
        let path = JSONPath()
        guard let object = json.objectValue?.withoutNulls, let queries = object["queries"]?.arrayValue else {
            throw path.key("queries").invalid("a multi-query body needs a \"queries\" array")
        }
        guard (1...maxQueries).contains(queries.count) else {
            throw path.key("queries").invalid("between 1 and \(maxQueries) queries are allowed, got \(queries.count)")
        }
        for key in object.keys where !["queries", "rerank_by", "limit", "consistency", "vector_encoding", "top_k", "as_of"].contains(key) {
            throw path.key(key).invalid("unknown multi-query option \"\(key)\"")
        }
        let consistency = try object["consistency"].map { try decodeConsistency($0, at: path.key("consistency")) } ?? .strong
        let asOf = try object["as_of"].map { try decodeAsOf($0, at: path.key("as_of")) }
        let base64 = try object["vector_encoding"].map { try decodeVectorEncoding($0, at: path.key("vector_encoding")) }
        var decoded = try queries.enumerated().map {
            try decode($1, at: path.key("queries").index($0), config: config, isSubQuery: true)
        }
        for i in decoded.indices {
            if object["consistency"] != nil { decoded[i].consistency = consistency }
            decoded[i].asOfVersion = asOf
            // The top-level encoding applies to sub-queries that do not choose their own.
            if let base64, queries[i].objectValue?.withoutNulls["vector_encoding"] == nil { decoded[i].vectorsAsBase64 = base64 }
        }
        var request = MultiQueryRequest(queries: decoded, rerank: nil, limit: nil, consistency: decoded.contains { $0.consistency == .strong } ? .strong : .eventual)
        request.asOfVersion = asOf
        if let limit = object["limit"] ?? object["top_k"] {
            request.limit = try decodeLimit(limit, at: path.key("limit"))
        }
        if let rerank = object["rerank_by"] {
            let p = path.key("rerank_by")
            guard let items = rerank.arrayValue, items.first?.stringValue == "RRF", items.count <= 2 else {
                throw p.invalid("only [\"RRF\", {\"rank_constant\": k, \"weights\": [...]}] is supported")
            }
            var rrf = MultiQueryRequest.RRF()
            if items.count == 2 {
                guard let params = items[1].objectValue?.withoutNulls else { throw p.index(1).invalid("must be an object") }
                for (key, value) in params.pairs {
                    switch key {
                    case "rank_constant":
                        guard let k = value.doubleValue, k >= 0, k <= maxRankConstant else {
                            throw p.index(1).key(key).invalid("must be a number from 0 to \(Int(maxRankConstant))")
                        }
                        rrf.rankConstant = k
                    case "weights":
                        // Every element must be a number: compactMap alone would drop the others silently.
                        let ws = value.arrayValue?.compactMap(\.doubleValue) ?? []
                        guard ws.count == value.arrayValue?.count, ws.count == queries.count, ws.allSatisfy({ $0 >= 0 && $0 <= maxRRFWeight }) else {
                            throw p.index(1).key(key).invalid("must hold one weight from 0 to \(Int(maxRRFWeight)) per query (\(queries.count))")
                        }
                        rrf.weights = ws
                    default:
                        throw p.index(1).key(key).invalid("unknown RRF option \"\(key)\"")
                    }
                }
            }
            request.rerank = rrf
        }
        return request
    }

    static func decodeLimit(_ json: JSONValue, at path: JSONPath) throws -> Int {
        if let object = json.objectValue {
            guard object.keys == ["total"], let total = object["total"] else {
                throw path.invalid("only {\"total\": N} is supported; per-attribute limits are out of scope for v1")
            }
            return try decodeLimit(total, at: path.key("total"))
        }
        guard let n = json.intValue, n >= 1, n <= Int64(maxTopK) else {
            throw path.invalid("must be an integer from 1 to \(maxTopK)")
        }
        return Int(n)
    }

    /// True for `"base64"`, false for `"float"`.
    static func decodeVectorEncoding(_ json: JSONValue, at path: JSONPath) throws -> Bool {
        switch json.stringValue {
        case "float": return false
        case "base64": return true
        default: throw path.invalid("must be \"float\" or \"base64\"")
        }
    }

    static func decodeConsistency(_ json: JSONValue, at path: JSONPath) throws -> ConsistencyLevel {
        guard let level = json.objectValue?["level"]?.stringValue, let parsed = ConsistencyLevel(rawValue: level) else {
            throw path.invalid("must be {\"level\": \"strong\"} or {\"level\": \"eventual\"}")
        }
        return parsed
    }

    static func decodeSelection(include: JSONValue?, exclude: JSONValue?, at path: JSONPath) throws -> AttributeSelection {
        func names(_ json: JSONValue, _ p: JSONPath) throws -> [String] {
            guard let items = json.arrayValue else { throw p.invalid("must be a boolean or an array of attribute names") }
            // Bounded before any work per name; duplicates collapse (first occurrence kept).
            guard items.count <= maxSelectedAttributes else {
                throw p.invalid("at most \(maxSelectedAttributes) attribute names, got \(items.count)")
            }
            var seen: Set<String> = []
            var names: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue else { throw p.index(i).invalid("must be a string") }
                try AttributeName.validate(s, at: p.index(i))
                if seen.insert(s).inserted { names.append(s) }
            }
            return names
        }
        if include != nil && exclude != nil {
            throw path.key("exclude_attributes").invalid("cannot be combined with include_attributes")
        }
        if let exclude {
            return .allExcept(try names(exclude, path.key("exclude_attributes")))
        }
        guard let include else { return .none }
        if case .bool(let all) = include { return all ? .all : .none }
        return .only(try names(include, path.key("include_attributes")))
    }

    /// `depth` counts enclosing Sum/Max/Product; `scale` is the product of the enclosing
    /// Product weights, bounded so that scores stay finite.
    static func decodeRankBy(_ json: JSONValue, at path: JSONPath, config: NamespaceConfig,
                             depth: Int = 0, scale: Double = 1) throws -> RankBy {
        guard let items = json.arrayValue, let head = items.first?.stringValue else {
            throw path.invalid("rank_by must be an array such as [\"vector\", \"ANN\", [...]] or [\"text\", \"BM25\", \"query\"]")
        }
        if ["Sum", "Max", "Product"].contains(head), depth >= maxRankDepth {
            throw path.invalid("ranking expressions nest at most \(maxRankDepth) deep")
        }
        switch head {
        case "Sum", "Max":
            guard items.count == 2, let parts = items[1].arrayValue, !parts.isEmpty else {
                throw path.invalid("\(head) takes one non-empty array of ranking expressions")
            }
            let decoded = try parts.enumerated().map {
                try decodeRankBy($1, at: path.index(1).index($0), config: config, depth: depth + 1, scale: scale)
            }
            guard decoded.allSatisfy(\.isTextScore) else { throw path.index(1).invalid("\(head) combines BM25 expressions only") }
            return head == "Sum" ? .sum(decoded) : .max(decoded)
        case "Product":
            guard items.count == 3 else { throw path.invalid("Product takes a weight and an expression") }
            // The weight may come before or after the expression (an array); errors name the weight's path.
            let (weightIndex, exprIndex) = items[1].arrayValue != nil ? (2, 1) : (1, 2)
            guard let weight = items[weightIndex].doubleValue, weight.isFinite else {
                throw path.index(weightIndex).invalid("the Product weight must be a number")
            }
            guard abs(weight * scale) <= maxProductWeight else {
                throw path.index(weightIndex).invalid("Product weights (multiplied through nested Products) must be at most \(Int(maxProductWeight)) in magnitude")
            }
            let inner = try decodeRankBy(items[exprIndex], at: path.index(exprIndex), config: config, depth: depth + 1, scale: weight * scale)
            guard inner.isTextScore else { throw path.index(exprIndex).invalid("Product applies to BM25 expressions only") }
            return .product(weight: weight, inner)
        default:
            break
        }
        try AttributeName.validate(head, at: path.index(0))
        if items.count == 2, let direction = items[1].stringValue {
            guard direction == "asc" || direction == "desc" else { throw path.index(1).invalid("must be \"asc\" or \"desc\"") }
            return .attribute(name: head, descending: direction == "desc")
        }
        guard items.count >= 3, let kind = items[1].stringValue else {
            throw path.invalid("expected [attribute, \"ANN\"|\"kNN\"|\"BM25\", value] or [attribute, \"asc\"|\"desc\"]")
        }
        switch kind {
        case "ANN", "kNN":
            guard head == "vector" else { throw path.index(0).invalid("vector search runs on the \"vector\" attribute") }
            guard items.count == 3 else { throw path.invalid("\(kind) takes [\"vector\", \"\(kind)\", [floats]]") }
            // An array of numbers or base64 of little-endian float32, checked as written vectors are.
            let vector = try VectorDecoding.decode(items[2], at: path.index(2), dimension: nil)
            if let dimension = config.dimension, dimension != vector.count {
                throw path.index(2).invalid("wrong vector dimension: the namespace has \(dimension), the query has \(vector.count)")
            }
            return .vector(mode: kind == "ANN" ? .ann : .knn, query: vector)
        case "BM25":
            guard items.count == 3 || items.count == 4 else { throw path.invalid("BM25 takes [attribute, \"BM25\", \"query\"]") }
            let text: String
            if let s = items[2].stringValue {
                text = s
            } else if let parts = items[2].arrayValue, parts.allSatisfy({ $0.stringValue != nil }) {
                text = parts.compactMap(\.stringValue).joined(separator: " ")
            } else {
                throw path.index(2).invalid("the BM25 query must be a string")
            }
            if items.count == 4 {
                guard let params = items[3].objectValue?.withoutNulls, params.count == 0 else {
                    throw path.index(3).invalid("BM25 options are not supported in Lagoon v1")
                }
            }
            guard config.schema[head]?.fullTextSearch != nil else {
                throw path.index(0).invalid("attribute \"\(head)\" has no full-text index; set full_text_search in its schema")
            }
            return .bm25(attribute: head, query: text)
        default:
            throw path.index(1).invalid("unknown ranking function \"\(kind)\"; supported: ANN, kNN, BM25, asc, desc, Sum, Max, Product")
        }
    }
}
