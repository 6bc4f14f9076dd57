public import Log
public import Planner
public import Segments

/// One result row: a row of one of the snapshot's sources and its score (`$dist`) when the
/// query ranks by score.
public struct ScoredRow: Sendable, Equatable {
    public var source: Int
    public var row: Int
    public var score: Float?

    public init(source: Int = 0, row: Int, score: Float?) {
        self.source = source
        self.row = row
        self.score = score
    }
}

/// The outcome of running a plan: rows in rank order and each operator's actuals
/// (depth-first, as `PlanRenderer` expects).
public struct ExecutionResult: Sendable {
    public var rows: [ScoredRow]
    public var actuals: [OperatorActuals]
    /// Rows whose vectors were compared exactly (for `performance.exhaustive_search_count`).
    public var exhaustiveCount: Int
}

/// Runs plans with the Volcano operators against the sources of one pinned snapshot.
public struct QueryExecutor: Sendable {
    public let registry: OperatorRegistry

    public init(registry: OperatorRegistry = .standard) {
        self.registry = registry
    }

    public func run(_ plan: PlanNode, on projection: NamespaceProjection) throws -> ExecutionResult {
        try run(plan, context: ExecutionContext(projection: projection))
    }

    public func run(_ plan: PlanNode, context: ExecutionContext) throws -> ExecutionResult {
        let root = try registry.build(plan, context: context)
        try root.open()
        defer { root.close() }
        var rows: [ScoredRow] = []
        while let batch = try root.next() {
            try Task.checkCancellation()  // a query past its time budget stops between batches
            let scored = !batch.scores.isEmpty
            for i in 0..<batch.count {
                rows.append(ScoredRow(source: batch.source(at: i), row: Int(batch.rows[i]), score: scored ? batch.scores[i] : nil))
            }
        }
        var actuals: [OperatorActuals] = []
        var exhaustive = 0
        func collect(_ op: any PhysicalOperator) {
            actuals.append(op.actuals)
            if op is ExactKNNOperator { exhaustive += op.actuals.rows }
            for child in op.children { collect(child) }
        }
        collect(root)
        return ExecutionResult(rows: rows, actuals: actuals, exhaustiveCount: exhaustive)
    }
}
