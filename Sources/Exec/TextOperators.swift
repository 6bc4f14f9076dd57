import Kernels
import Foundation
public import Planner
public import Segments

/// BM25 over one full-text attribute, source by source (segments, then the tail): walks the
/// postings of each query term, skipping rows the snapshot does not see, and emits
/// (row, score) for every row that contains a term, one batch per source.
///
///     score = Σ idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)),
///     idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))
///
/// N, avgdl and df are namespace-wide over the visible rows of the pinned snapshot, so a
/// score never depends on how documents fall into segments (Specs/query/semantics.md).
public final class BM25Operator: OperatorBase, PhysicalOperator {
    private let sources: [RowSource]
    private let attribute: String
    private let terms: [String]
    private let k1: Float
    private let b: Float
    private var statistics: BM25Statistics?
    private var nextSource = 0
    /// Set by a TopK right above: only rows that can reach the best `limit` are emitted.
    public var limit: Int?
    private var pending: [RowBatch]?

    public init(attribute: String, terms: [String], k1: Double, b: Double, context: ExecutionContext) {
        sources = context.sources
        self.attribute = attribute
        self.terms = terms
        self.k1 = Float(k1)
        self.b = Float(b)
        super.init(children: [])
    }

    public func next() throws -> RowBatch? {
        try measured {
            if statistics == nil { statistics = try BM25Statistics(sources: sources, attribute: attribute, terms: terms) }
            let stats = statistics!
            guard stats.documentCount > 0 else { return nil }
            if let limit {
                if pending == nil { pending = try topCandidates(limit: limit, stats) }
                return pending!.isEmpty ? nil : pending!.removeFirst()
            }
            while nextSource < sources.count {
                try Task.checkCancellation()
                let index = nextSource
                nextSource += 1
                let batch: RowBatch?
                switch sources[index] {
                case .tail(let projection): batch = scoreTail(projection, source: index, stats)
                case .segment(let view): batch = try scoreSegment(view, source: index, stats)
                }
                if let batch { return batch }
            }
            return nil
        }
    }

    /// Every row that can still be among the best `limit`: the tail exhaustively (it seeds the
    /// k-th score), then each segment with MaxScore pruning against it.
    private func topCandidates(limit: Int, _ stats: BM25Statistics) throws -> [RowBatch] {
        let pruning = BM25TopK(attribute: attribute, terms: terms, k1: k1, b: b, statistics: stats, limit: limit)
        var floor = BM25TopK.ScoreFloor(k: limit)
        var found: [(source: Int, rows: [(Int32, Float)])] = []
        for (index, source) in sources.enumerated().reversed() {
            try Task.checkCancellation()
            switch source {
            case .tail(let projection):
                guard let batch = scoreTail(projection, source: index, stats) else { continue }
                for score in batch.scores { floor.offer(score) }
                found.append((index, Array(zip(batch.rows, batch.scores))))
            case .segment(let view):
                var examined = 0, skipped = 0
                let rows = try pruning.scoreSegment(view, floor: &floor, examined: &examined, skippedBlocks: &skipped)
                actuals.rowsExamined += examined
                actuals.notes.append("\(source.label): MaxScore examined \(examined) rows, skipped \(skipped) posting blocks, kept \(rows.count)")
                found.append((index, rows))
            }
        }
        let threshold = floor.floor
        return found.reversed().compactMap { source, rows in
            let kept = rows.filter { $0.1 >= threshold }.sorted { $0.0 < $1.0 }
            return kept.isEmpty ? nil : RowBatch(source: source, rows: kept.map(\.0), scores: kept.map(\.1))
        }
    }

    private func scoreTail(_ projection: NamespaceProjection, source: Int, _ stats: BM25Statistics) -> RowBatch? {
        guard let index = projection.textIndexes[attribute] else { return nil }
        let formula = stats.formula(k1: k1, b: b)
        var scores: [Int32: Float] = [:]
        let alive = projection.alive
        for (t, term) in terms.enumerated() {
            guard let postings = index.postings[term], stats.documentFrequencies[t] > 0 else { continue }
            let idf = stats.idf(t)
            for i in 0..<postings.rows.count {
                let row = postings.rows[i]
                actuals.rowsExamined += 1
                guard alive[Int(row)] else { continue }
                scores[row, default: 0] += formula.score(idf: idf, tf: Float(postings.termFrequencies[i]), length: Float(index.lengths[Int(row)]))
            }
        }
        guard !scores.isEmpty else { return nil }
        let rows = scores.keys.sorted()
        return RowBatch(source: source, rows: rows, scores: rows.map { scores[$0]! })
    }

    private func scoreSegment(_ view: SegmentView, source: Int, _ stats: BM25Statistics) throws -> RowBatch? {
        guard let index = view.segment.textIndex(attribute) else { return nil }
        let formula = stats.formula(k1: k1, b: b)
        var scores: [Int32: Float] = [:]
        var rows: [Int32] = [], frequencies: [UInt32] = []
        for (t, term) in terms.enumerated() {
            guard stats.documentFrequencies[t] > 0, let entry = try index.term(term) else { continue }
            let idf = stats.idf(t)
            index.withLengths { lengths in
                for block in index.blocks(of: entry) {
                    index.decode(block, rows: &rows, frequencies: &frequencies)
                    actuals.rowsExamined += rows.count
                    for i in rows.indices where view.visible.contains(Int(rows[i])) {
                        scores[rows[i], default: 0] += formula.score(idf: idf, tf: Float(frequencies[i]), length: Float(lengths[Int(rows[i])]))
                    }
                }
            }
        }
        guard !scores.isEmpty else { return nil }
        let sorted = scores.keys.sorted()
        return RowBatch(source: source, rows: sorted, scores: sorted.map { scores[$0]! })
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
            var combined: [RowReference: Float] = [:]
            for child in children {
                while let batch = try child.next() {
                    actuals.rowsExamined += batch.count
                    for i in 0..<batch.count {
                        let reference = batch.reference(at: i), score = batch.scores[i]
                        switch mode {
                        case .sum: combined[reference, default: 0] += score
                        case .max: combined[reference] = Swift.max(combined[reference] ?? -.infinity, score)
                        }
                    }
                }
            }
            guard !combined.isEmpty else { return nil }
            let references = combined.keys.sorted()
            return RowBatch(mixed: references, scores: references.map { combined[$0]! })
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
