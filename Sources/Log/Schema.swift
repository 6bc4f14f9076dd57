/// How vectors are compared. `$dist` for cosine is 1 − cos.
public enum DistanceMetric: String, Sendable, Codable, Equatable {
    case cosineDistance = "cosine_distance"
    case euclideanSquared = "euclidean_squared"
}

/// Full-text settings of one attribute (API.md defaults).
public struct FullTextConfig: Sendable, Codable, Equatable {
    public var language: String = "english"
    public var stemming: Bool = false
    public var removeStopwords: Bool = true
    public var caseSensitive: Bool = false
    public var k1: Double = 1.2
    public var b: Double = 0.75

    /// The largest accepted k1 (b is at most 1).
    public static let maxK1 = 100.0

    public init(stemming: Bool = false, removeStopwords: Bool = true, caseSensitive: Bool = false,
                k1: Double = 1.2, b: Double = 0.75) {
        self.stemming = stemming
        self.removeStopwords = removeStopwords
        self.caseSensitive = caseSensitive
        self.k1 = k1
        self.b = b
    }

    enum CodingKeys: String, CodingKey {
        case language, stemming, k1, b
        case removeStopwords = "remove_stopwords"
        case caseSensitive = "case_sensitive"
    }
}

/// The declared or inferred type of one attribute.
public struct AttributeSchema: Sendable, Codable, Equatable {
    /// `string int uint float uuid datetime bool`, `[]T`, or `[N]f32` for vectors.
    public var type: String
    public var filterable: Bool?
    public var fullTextSearch: FullTextConfig?

    public init(type: String, filterable: Bool? = nil, fullTextSearch: FullTextConfig? = nil) {
        self.type = type
        self.filterable = filterable
        self.fullTextSearch = fullTextSearch
    }

    enum CodingKeys: String, CodingKey {
        case type, filterable
        case fullTextSearch = "full_text_search"
    }

    public static let scalarTypes: Set<String> = ["string", "int", "uint", "float", "uuid", "datetime", "bool"]

    /// True for `string`, `[]string` and the other types that hold text.
    public var elementType: String { type.hasPrefix("[]") ? String(type.dropFirst(2)) : type }
    public var isArray: Bool { type.hasPrefix("[]") }
}

/// Per-namespace settings that the manifest carries: the contract every write is checked against.
public struct NamespaceConfig: Sendable, Codable, Equatable {
    public var distanceMetric: DistanceMetric?
    public var dimension: Int?
    public var idKind: DocumentID.Kind?
    public var schema: [String: AttributeSchema] = [:]

    /// The largest vector dimension, declared (`[N]f32`) or inferred from a first vector.
    public static let maxDimension = 16_384

    public init(distanceMetric: DistanceMetric? = nil, dimension: Int? = nil, idKind: DocumentID.Kind? = nil,
                schema: [String: AttributeSchema] = [:]) {
        self.distanceMetric = distanceMetric
        self.dimension = dimension
        self.idKind = idKind
        self.schema = schema
    }

    enum CodingKeys: String, CodingKey {
        case dimension, schema
        case distanceMetric = "distance_metric"
        case idKind = "id_kind"
    }

    /// Attributes with full-text search enabled, in name order.
    public var fullTextAttributes: [(String, FullTextConfig)] {
        schema.keys.sorted().compactMap { name in
            schema[name]?.fullTextSearch.map { (name, $0) }
        }
    }
}
