public import Planner
public import Segments

/// Emits the live rows of the projection in ascending order, one chunk-aligned window
/// per batch (so vector kernels see rows of one contiguous chunk).
public final class ScanOperator: OperatorBase, PhysicalOperator {
    public static let batchRows = 4096
    private let projection: NamespaceProjection
    private var nextRow = 0

    public init(context: ExecutionContext) {
        projection = context.projection
        super.init(children: [])
    }

    public func next() throws -> RowBatch? {
        measured {
            let alive = projection.alive
            while nextRow < projection.rowCount {
                let end = min(projection.rowCount, (nextRow / Self.batchRows + 1) * Self.batchRows)
                var batch = RowBatch()
                batch.rows.reserveCapacity(end - nextRow)
                for row in nextRow..<end where alive[row] { batch.rows.append(Int32(row)) }
                actuals.rowsExamined += end - nextRow
                nextRow = end
                if !batch.isEmpty { return batch }
            }
            return nil
        }
    }
}

/// Keeps the rows of each batch that satisfy the predicate.
public final class PredicateFilterOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let predicate: RowPredicate

    public init(child: any PhysicalOperator, expression: FilterExpression, context: ExecutionContext) {
        self.child = child
        predicate = RowPredicate(expression, projection: context.projection)
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            while let input = try child.next() {
                actuals.rowsExamined += input.count
                var output = RowBatch()
                let scored = !input.scores.isEmpty
                for i in 0..<input.count where predicate.matches(Int(input.rows[i])) {
                    output.rows.append(input.rows[i])
                    if scored { output.scores.append(input.scores[i]) }
                }
                if !output.isEmpty { return output }
            }
            return nil
        }
    }
}
