public import Log
import Segments

/// What the planner needs to know about the snapshot it plans against.
public struct SnapshotStatistics: Sendable {
    public var liveRows: Int
    public var config: NamespaceConfig
    /// Rows with a vector that no vector index covers (all of them until the indexer lands).
    public var unindexedVectors: Int

    /// Visible rows per segment (oldest first) and in the WAL tail.
    public var segments: [Source]
    public var tailRows: Int
    /// Vectors in segments that carry an IVF index (0: every ANN query scans exactly).
    public var indexedVectors = 0
    /// The recall ANN queries aim for (`[query] ann_recall_target`).
    public var annRecallTarget = 0.95
    /// Visible rows the query's filter keeps, estimated from the segments' attribute indexes
    /// (Exec's `FilterSelectivity`); nil: the default selectivity.
    public var filterMatches: Int?

    public struct Source: Sendable, Equatable {
        public var rows: Int
        public init(rows: Int) { self.rows = rows }
    }

    public init(liveRows: Int, config: NamespaceConfig, unindexedVectors: Int, segments: [Source] = [], tailRows: Int? = nil) {
        self.liveRows = liveRows
        self.config = config
        self.unindexedVectors = unindexedVectors
        self.segments = segments
        self.tailRows = tailRows ?? liveRows
    }

    /// How plans name the rows they scan: the WAL tail alone, or the segments and the tail.
    var scanSource: String {
        segments.isEmpty ? "wal-tail" : "\(segments.count) segment\(segments.count == 1 ? "" : "s") (\(segments.map { String($0.rows) }.joined(separator: "+")) rows) + wal-tail (\(tailRows) rows)"
    }
}

/// Rule-based planner: query → physical plan tree (ARCHITECTURE.md §7).
public enum QueryPlanner {
    /// Assumed fraction of rows a filter keeps when no statistics exist.
    public static let defaultSelectivity = 0.5

    public static func plan(_ query: QueryRequest, statistics: SnapshotStatistics) throws -> PlanNode {
        let live = statistics.liveRows
        let scan = PlanNode(.scan(source: statistics.scanSource), estimatedRows: live)
        func filtered(_ child: PlanNode, _ placement: PlanNode.FilterPlacement) -> PlanNode {
            guard let filter = query.filter else { return child }
            let fraction = statistics.filterMatches.map { Double($0) / Double(max(1, live)) } ?? defaultSelectivity
            let estimate = min(child.estimatedRows, Int((Double(child.estimatedRows) * fraction).rounded(.up)))
            return PlanNode(.filter(filter, placement: placement), children: [child], estimatedRows: estimate)
        }
        let k = query.topK
        let ranked: PlanNode
        switch query.rankBy {
        case .vector(let mode, let vector)?:
            guard let metric = statistics.config.distanceMetric, let dimension = statistics.config.dimension else {
                throw LagoonError.invalid("rank_by", "the namespace has no vectors to search")
            }
            let candidates = filtered(scan, .pre)
            if mode == .ann, statistics.indexedVectors > 0 {
                let ann = PlanNode(.ann(metric: metric, dimension: dimension, query: vector, recallTarget: statistics.annRecallTarget,
                                        probes: query.annProbes, indexedVectors: statistics.indexedVectors),
                                   children: [candidates], estimatedRows: min(k, candidates.estimatedRows))
                ranked = PlanNode(.topK(k: k, descending: false), children: [ann], estimatedRows: min(k, ann.estimatedRows))
                break
            }
            let reason = mode == .ann ? "no vector index yet: \(statistics.unindexedVectors) vectors \(statistics.segments.isEmpty ? "in the WAL tail" : "in segments and the WAL tail") are scanned exactly" : nil
            let knn = PlanNode(.exactKNN(metric: metric, dimension: dimension, query: vector, annRequested: mode == .ann, fallbackReason: reason),
                               children: [candidates], estimatedRows: candidates.estimatedRows)
            ranked = PlanNode(.topK(k: k, descending: false), children: [knn], estimatedRows: min(k, knn.estimatedRows))
        case .attribute(let name, let descending)?:
            let candidates = filtered(scan, .pre)
            ranked = PlanNode(.orderByAttribute(attribute: name, descending: descending, k: k), children: [candidates],
                              estimatedRows: min(k, candidates.estimatedRows))
        case let text?:
            let scores = filtered(try textPlan(text, statistics: statistics), .post)
            ranked = PlanNode(.topK(k: k, descending: true), children: [scores], estimatedRows: min(k, scores.estimatedRows))
        case nil:
            let candidates = filtered(scan, .pre)
            ranked = PlanNode(.orderByAttribute(attribute: "id", descending: false, k: k), children: [candidates],
                              estimatedRows: min(k, candidates.estimatedRows))
        }
        return PlanNode(.project(query.attributes), children: [ranked], estimatedRows: ranked.estimatedRows)
    }

    static func textPlan(_ rank: RankBy, statistics: SnapshotStatistics) throws -> PlanNode {
        switch rank {
        case .bm25(let attribute, let text):
            guard let fts = statistics.config.schema[attribute]?.fullTextSearch else {
                throw LagoonError.invalid("rank_by", "attribute \"\(attribute)\" has no full-text index")
            }
            var seen = Set<String>()
            let terms = Tokenizer(fts).tokens(text).filter { seen.insert($0).inserted }
            return PlanNode(.bm25(attribute: attribute, terms: terms, k1: fts.k1, b: fts.b), estimatedRows: terms.isEmpty ? 0 : statistics.liveRows)
        case .sum(let parts), .max(let parts):
            let children = try parts.map { try textPlan($0, statistics: statistics) }
            let kind: PlanNode.Kind
            if case .sum = rank { kind = .scoreSum } else { kind = .scoreMax }
            return PlanNode(kind, children: children, estimatedRows: children.map(\.estimatedRows).max() ?? 0)
        case .product(let weight, let inner):
            let child = try textPlan(inner, statistics: statistics)
            return PlanNode(.scoreProduct(weight: weight), children: [child], estimatedRows: child.estimatedRows)
        case .vector, .attribute:
            throw LagoonError.invalid("rank_by", "only BM25 expressions can be combined with Sum, Max and Product")
        }
    }
}
