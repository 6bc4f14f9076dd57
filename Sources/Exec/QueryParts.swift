public import Log
public import Planner
public import Segments

/// The segment parts a query reads: the columns its filter, ordering and selection name, the
/// vectors when it ranks or returns by vector, the text indexes it scores with. The engine
/// loads them before execution, so operators never wait for the store.
public enum QueryParts {
    public static func needed(_ query: QueryRequest, config: NamespaceConfig) -> SegmentPartRequest {
        var request = SegmentPartRequest()
        // Filters read each attribute's index where a segment has one, else its column.
        if let filter = query.filter { request.filterIndexes = filter.attributeNames }
        func rank(_ rankBy: RankBy) {
            switch rankBy {
            case .vector(let mode, _):
                // An ANN query reads a segment's IVF index; a filter may choose an exact scan of
                // its rows, which reads the vectors — from the same IVF lists when the segment
                // has an index (Segment loads `ivf` for either), else from its `vectors` part.
                request.vectorIndex = mode == .ann
                request.vectors = mode != .ann || query.filter != nil
            case .attribute(let name, _): request.columns?.insert(name)
            case .bm25(let attribute, _):
                if let fts = config.schema[attribute]?.fullTextSearch { request.textIndexes[attribute] = fts }
            case .sum(let parts), .max(let parts): parts.forEach(rank)
            case .product(_, let inner): rank(inner)
            }
        }
        if let rankBy = query.rankBy { rank(rankBy) }
        switch query.attributes {
        case .none: break
        case .only(let names):
            request.columns?.formUnion(names)
            if names.contains("vector") { request.vectors = true }
        case .all, .allExcept:
            request.columns = nil
            request.vectors = true
        }
        request.columns?.remove("id")
        request.columns?.remove("vector")
        return request
    }
}

extension FilterExpression {
    /// Every attribute the filter reads.
    public var attributeNames: Set<String> {
        switch self {
        case .and(let items), .or(let items): return items.reduce(into: Set()) { $0.formUnion($1.attributeNames) }
        case .not(let inner): return inner.attributeNames
        case .condition(let attribute, _, _): return [attribute]
        }
    }
}
