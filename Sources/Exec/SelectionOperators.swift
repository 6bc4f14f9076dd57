import Kernels
public import Log
public import Planner
public import Segments

/// Keeps the k best rows by score: smallest first (distances) or largest first (BM25).
/// Ties go to the lower row. Emits one sorted batch.
public final class TopKOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let k: Int
    private let descending: Bool
    private var done = false

    public init(child: any PhysicalOperator, k: Int, descending: Bool) {
        self.child = child
        self.k = k
        self.descending = descending
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            var selector = TopKSelector(k: k)
            while var batch = try child.next() {
                actuals.rowsExamined += batch.count
                // The selector keeps the smallest scores, so largest-first negates.
                if descending { for i in 0..<batch.scores.count { batch.scores[i] = -batch.scores[i] } }
                batch.scores.withUnsafeBufferPointer { scores in
                    batch.rows.withUnsafeBufferPointer { selector.insert(scores: scores, ordinals: $0) }
                }
            }
            let best = selector.sortedResults()
            guard !best.isEmpty else { return nil }
            return RowBatch(rows: best.map { Int32($0.ordinal) }, scores: best.map { descending ? -$0.score : $0.score })
        }
    }
}

/// The first k rows ordered by an attribute value (nulls last), ties broken by id.
/// Keeps a bounded sorted buffer, so the cost is O(n log k).
public final class OrderByAttributeOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let projection: NamespaceProjection
    private let attribute: String
    private let descending: Bool
    private let k: Int
    private var done = false

    public init(child: any PhysicalOperator, attribute: String, descending: Bool, k: Int, context: ExecutionContext) {
        self.child = child
        projection = context.projection
        self.attribute = attribute
        self.descending = descending
        self.k = k
        super.init(children: [child])
    }

    /// True when row a comes before row b.
    private func before(_ a: (value: AttributeValue, row: Int32), _ b: (value: AttributeValue, row: Int32)) -> Bool {
        if a.value.isNull != b.value.isNull { return !a.value.isNull }
        let c = AttributeValue.compare(a.value, b.value)
        if c != 0 { return descending ? c > 0 : c < 0 }
        return projection.ids[Int(a.row)] < projection.ids[Int(b.row)]
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            var kept: [(value: AttributeValue, row: Int32)] = []
            kept.reserveCapacity(k + 1)
            while let batch = try child.next() {
                actuals.rowsExamined += batch.count
                for row in batch.rows {
                    let candidate = (value: projection.value(attribute, row: Int(row)), row: row)
                    if kept.count == k, let last = kept.last, !before(candidate, last) { continue }
                    var lo = 0, hi = kept.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if before(kept[mid], candidate) { lo = mid + 1 } else { hi = mid }
                    }
                    kept.insert(candidate, at: lo)
                    if kept.count > k { kept.removeLast() }
                }
            }
            guard !kept.isEmpty else { return nil }
            return RowBatch(rows: kept.map(\.row), scores: [])
        }
    }
}

/// Passes rows through; the attribute selection it carries is applied when results are
/// materialised.
public final class ProjectOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    public let selection: AttributeSelection

    public init(child: any PhysicalOperator, selection: AttributeSelection) {
        self.child = child
        self.selection = selection
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            let batch = try child.next()
            actuals.rowsExamined += batch?.count ?? 0
            return batch
        }
    }
}
