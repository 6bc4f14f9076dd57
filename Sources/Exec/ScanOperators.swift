import Kernels
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
///
/// A segment whose attribute indexes answer the whole filter yields a bitmap of its matching
/// rows. Directly above a scan, the filter then emits those rows itself (intersected with the
/// segment's visible rows) and the scan skips the segment, so no row that fails the filter is
/// read; elsewhere (a post-filter over scored rows) each row is one bit test. Sources without
/// indexes are filtered row by row as before. `explain` notes per source what ran.
public final class PredicateFilterOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let expression: FilterExpression
    private let context: ExecutionContext
    private var predicates: [Int: RowPredicate] = [:]
    /// Sources whose rows this operator emits from their index bitmap (the scan below skips them).
    private var fromIndex: [Int] = []
    private var ready: [RowBatch] = []
    private var planned = false

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
        actuals.notes.append(Self.note(compiled, source: context.sources[source]))
        return compiled
    }

    /// What ran for one source: the index bitmaps and their cardinalities, or a scan.
    static func note(_ predicate: RowPredicate, source: RowSource) -> String {
        let bitmaps = predicate.indexCardinalities.map(String.init).joined(separator: ", ")
        if let rows = predicate.matchingRows {
            var visible = rows
            if case .segment(let view) = source { visible.formIntersection(view.visible) }
            return "\(source.label): index, bitmaps [\(bitmaps)] rows, \(visible.popcount) of \(source.visibleCount) visible rows match"
        }
        let indexed = predicate.indexCardinalities.isEmpty ? "" : ", index bitmaps [\(bitmaps)] rows"
        return "\(source.label): scan, \(predicate.scannedConditions) condition\(predicate.scannedConditions == 1 ? "" : "s") read row by row\(indexed)"
    }

    /// Above a scan, compiles every segment's predicate up front and takes over the segments
    /// the indexes answer whole.
    private func planSources() {
        planned = true
        guard let scan = child as? ScanOperator else { return }
        for (index, source) in context.sources.enumerated() {
            guard case .segment = source, !scan.skipped.contains(index), predicate(index).matchingRows != nil else { continue }
            fromIndex.append(index)
        }
        scan.skipped.formUnion(fromIndex)
    }

    /// The visible matching rows of a source the indexes answered, in the scan's row windows.
    private func indexBatches(_ source: Int) -> [RowBatch] {
        guard case .segment(let view) = context.sources[source], var rows = predicates[source]?.matchingRows else { return [] }
        rows.formIntersection(view.visible)
        var batches: [RowBatch] = []
        rows.forEachSetBit { row in
            if batches.isEmpty || Int(batches[batches.count - 1].rows[0]) / ScanOperator.batchRows != row / ScanOperator.batchRows {
                batches.append(RowBatch(source: source))
            }
            batches[batches.count - 1].rows.append(Int32(row))
        }
        actuals.rowsExamined += rows.popcount
        return batches
    }

    public func next() throws -> RowBatch? {
        try measured {
            if !planned { planSources() }
            while ready.isEmpty, !fromIndex.isEmpty {
                try Task.checkCancellation()
                ready = indexBatches(fromIndex.removeFirst())
            }
            if !ready.isEmpty { return ready.removeFirst() }
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
