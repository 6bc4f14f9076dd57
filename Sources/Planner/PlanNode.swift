public import Log

/// One node of a physical query plan: an immutable value with children. The executor
/// turns each node into an operator through its registry; `explain` renders the tree.
public struct PlanNode: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Every live row of the snapshot's WAL-tail projection.
        case scan(source: String)
        /// Keeps rows matching the predicate. `pre` runs below a vector scan, `post` above a
        /// text scorer (which only produces matching rows).
        case filter(FilterExpression, placement: FilterPlacement)
        /// Exact distances to the query vector. `annRequested` records that the query asked
        /// for ANN and why it runs exactly (`fallbackReason`).
        case exactKNN(metric: DistanceMetric, dimension: Int, query: [Float], annRequested: Bool, fallbackReason: String?)
        /// Approximate nearest neighbours: each segment with an IVF index probes the lists that
        /// reach `recallTarget` (or exactly `probes` lists when the query sets them), with the
        /// filter's rows applied inside the lists, or scans the filter's rows exactly when they
        /// are fewer than the lists would hold; segments without an index and the tail are
        /// scanned exactly.
        case ann(metric: DistanceMetric, dimension: Int, query: [Float], recallTarget: Double, probes: Int?, indexedVectors: Int)
        /// BM25 over one full-text attribute, namespace-wide statistics.
        case bm25(attribute: String, terms: [String], k1: Double, b: Double)
        case scoreSum
        case scoreMax
        case scoreProduct(weight: Double)
        /// The k best rows by score (`descending` for BM25, ascending for distances).
        case topK(k: Int, descending: Bool)
        /// The first k rows ordered by an attribute (then by id).
        case orderByAttribute(attribute: String, descending: Bool, k: Int)
        /// Chooses the attributes each output row carries.
        case project(AttributeSelection)
    }

    public enum FilterPlacement: String, Sendable, Equatable { case pre, post }

    public let kind: Kind
    public let children: [PlanNode]
    /// The planner's estimate of rows this node produces.
    public let estimatedRows: Int

    public init(_ kind: Kind, children: [PlanNode] = [], estimatedRows: Int) {
        self.kind = kind
        self.children = children
        self.estimatedRows = estimatedRows
    }

    public func withNewChildren(_ children: [PlanNode]) -> PlanNode {
        PlanNode(kind, children: children, estimatedRows: estimatedRows)
    }

    /// The operator name used by the registry and in `explain`.
    public var name: String {
        switch kind {
        case .scan: return "Scan"
        case .filter: return "Filter"
        case .exactKNN: return "ExactKNN"
        case .ann: return "ANN"
        case .bm25: return "BM25"
        case .scoreSum: return "ScoreSum"
        case .scoreMax: return "ScoreMax"
        case .scoreProduct: return "ScoreProduct"
        case .topK: return "TopK"
        case .orderByAttribute: return "OrderByAttribute"
        case .project: return "Project"
        }
    }

    /// Depth-first visit of the tree.
    public func forEach(_ body: (PlanNode) -> Void) {
        body(self)
        for child in children { child.forEach(body) }
    }
}

extension FilterExpression {
    /// The filter in the API's JSON form, for plans and explain output.
    public var json: JSONValue {
        switch self {
        case .and(let items): return .array([.string("And"), .array(items.map(\.json))])
        case .or(let items): return .array([.string("Or"), .array(items.map(\.json))])
        case .not(let inner): return .array([.string("Not"), inner.json])
        case .condition(let attribute, let op, let operand):
            let value: JSONValue
            switch operand {
            case .value(let v): value = v.json
            case .referenceToNew(let name): value = .object(JSONObject([("$ref_new", .string(name))]))
            }
            return .array([.string(attribute), .string(op.rawValue), value])
        }
    }
}
