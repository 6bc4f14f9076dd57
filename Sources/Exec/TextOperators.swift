import Foundation
public import Planner
public import Segments

/// BM25 over one full-text attribute: walks the postings of each query term, skipping
/// dead rows, and emits (row, score) for every row that contains a term.
///
///     score = Σ idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)),
///     idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))
///
/// N, avgdl and df are namespace-wide over live rows of the snapshot.
public final class BM25Operator: OperatorBase, PhysicalOperator {
    private let projection: NamespaceProjection
    private let attribute: String
    private let terms: [String]
    private let k1: Float
    private let b: Float
    private var pending: RowBatch?
    private var done = false

    public init(attribute: String, terms: [String], k1: Double, b: Double, context: ExecutionContext) {
        projection = context.projection
        self.attribute = attribute
        self.terms = terms
        self.k1 = Float(k1)
        self.b = Float(b)
        super.init(children: [])
    }

    public func next() throws -> RowBatch? {
        measured {
            guard !done else { return nil }
            done = true
            return scoreAll()
        }
    }

    private func scoreAll() -> RowBatch? {
        guard let index = projection.textIndexes[attribute], index.documentCount > 0 else { return nil }
        let n = Float(index.documentCount)
        let averageLength = Float(index.averageLength)
        var scores: [Int32: Float] = [:]
        let alive = projection.alive
        for term in terms {
            guard let postings = index.postings[term], postings.documentFrequency > 0 else { continue }
            let df = Float(postings.documentFrequency)
            let idf = Float(log(1 + Double((n - df + 0.5) / (df + 0.5))))
            for i in 0..<postings.rows.count {
                let row = postings.rows[i]
                actuals.rowsExamined += 1
                guard alive[Int(row)] else { continue }
                let tf = Float(postings.termFrequencies[i])
                let dl = Float(index.lengths[Int(row)])
                let norm = k1 * (1 - b + b * dl / averageLength)
                scores[row, default: 0] += idf * tf * (k1 + 1) / (tf + norm)
            }
        }
        guard !scores.isEmpty else { return nil }
        let rows = scores.keys.sorted()
        return RowBatch(rows: rows, scores: rows.map { scores[$0]! })
    }
}

/// Combines child scores per row: the sum or the maximum over children that scored it.
public final class ScoreCombineOperator: OperatorBase, PhysicalOperator {
    public enum Mode: Sendable { case sum, max }
    private let mode: Mode
    private var done = false

    public init(children: [any PhysicalOperator], mode: Mode) {
        self.mode = mode
        super.init(children: children)
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            var combined: [Int32: Float] = [:]
            for child in children {
                while let batch = try child.next() {
                    actuals.rowsExamined += batch.count
                    for i in 0..<batch.count {
                        let row = batch.rows[i], score = batch.scores[i]
                        switch mode {
                        case .sum: combined[row, default: 0] += score
                        case .max: combined[row] = Swift.max(combined[row] ?? -.infinity, score)
                        }
                    }
                }
            }
            guard !combined.isEmpty else { return nil }
            let rows = combined.keys.sorted()
            return RowBatch(rows: rows, scores: rows.map { combined[$0]! })
        }
    }
}

/// Multiplies the child's scores by a constant weight.
public final class ScoreProductOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let weight: Float

    public init(child: any PhysicalOperator, weight: Double) {
        self.child = child
        self.weight = Float(weight)
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard var batch = try child.next() else { return nil }
            actuals.rowsExamined += batch.count
            for i in 0..<batch.scores.count { batch.scores[i] *= weight }
            return batch
        }
    }
}
