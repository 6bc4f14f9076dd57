public import Planner
public import Segments

/// Emits the visible rows of every source in turn (segments, then the tail), one
/// chunk-aligned window per batch, so vector kernels see rows of one contiguous block.
public final class ScanOperator: OperatorBase, PhysicalOperator {
    public static let batchRows = 4096
    private let sources: [RowSource]
    private var source = 0
    private var nextRow = 0
    /// Sources an operator above reads by itself (an ANN operator with an index over all
    /// visible rows of a segment): the scan emits nothing for them.
    public var skipped: Set<Int> = []

    public init(context: ExecutionContext) {
        sources = context.sources
        super.init(children: [])
    }

    public func next() throws -> RowBatch? {
        try measured {
            while source < sources.count {
                if skipped.contains(source) {
                    source += 1
                    nextRow = 0
                    continue
                }
                let current = sources[source]
                while nextRow < current.rowCount {
                    try Task.checkCancellation()
                    let end = min(current.rowCount, (nextRow / Self.batchRows + 1) * Self.batchRows)
                    var batch = RowBatch(source: source)
                    batch.rows.reserveCapacity(end - nextRow)
                    for row in nextRow..<end where current.isVisible(row) { batch.rows.append(Int32(row)) }
                    actuals.rowsExamined += end - nextRow
                    nextRow = end
                    if !batch.isEmpty { return batch }
                }
                source += 1
                nextRow = 0
            }
            return nil
        }
    }
}

/// Keeps the rows of each batch that satisfy the predicate (compiled once per source).
public final class PredicateFilterOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let expression: FilterExpression
    private let context: ExecutionContext
    private var predicates: [Int: RowPredicate] = [:]

    public init(child: any PhysicalOperator, expression: FilterExpression, context: ExecutionContext) {
        self.child = child
        self.expression = expression
        self.context = context
        super.init(children: [child])
    }

    private func predicate(_ source: Int) -> RowPredicate {
        if let compiled = predicates[source] { return compiled }
        let compiled = RowPredicate(expression, source: context.sources[source], config: context.config)
        predicates[source] = compiled
        return compiled
    }

    public func next() throws -> RowBatch? {
        try measured {
            while let input = try child.next() {
                actuals.rowsExamined += input.count
                var output = input
                output.rows.removeAll(keepingCapacity: true)
                output.scores.removeAll(keepingCapacity: true)
                output.perRowSources.removeAll(keepingCapacity: true)
                let scored = !input.scores.isEmpty
                for i in 0..<input.count {
                    let source = input.source(at: i)
                    guard predicate(source).matches(Int(input.rows[i])) else { continue }
                    output.rows.append(input.rows[i])
                    if scored { output.scores.append(input.scores[i]) }
                    if input.source < 0 { output.perRowSources.append(Int32(source)) }
                }
                if !output.isEmpty { return output }
            }
            return nil
        }
    }
}
