import Kernels
public import Log
public import Planner
public import Segments

/// Approximate nearest neighbours over the snapshot's sources (ARCHITECTURE.md §7).
///
/// The child (a scan, maybe filtered) yields the candidate rows of each source in turn. Rows of
/// a segment with an IVF index are collected into a bitset; when the segment's rows are all in,
/// the operator chooses, with the exact number of candidates in hand:
/// - **exact** over the candidates when they are fewer than the lists it would probe hold (a
///   selective filter: scanning its rows is both cheaper and exact);
/// - **ivf**: the lists of the nearest centroids, as many as the recall target needs (or the
///   query's probe count), with the candidate bitset applied inside the lists; the index widens
///   the probes until `limit` candidates are found, so k rows come back whenever k match.
/// The tail and segments without an index (pending: too few vectors) are scanned exactly.
public final class ANNOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let sources: [RowSource]
    private let scorer: ExactVectorScorer
    private let recallTarget: Double
    private let probes: Int?
    /// Set by the TopK above (the k of the query); without it every source is scanned exactly.
    public var limit: Int?
    private var collecting: (source: Int, rows: Bitset, count: Int)?
    private var ready: [RowBatch] = []
    private var exhausted = false
    /// Indexed segments the scan below skips (no filter: their candidates are their visible rows).
    private var pendingWhole: [Int]?

    public init(child: any PhysicalOperator, metric: DistanceMetric, query: [Float], recallTarget: Double, probes: Int?,
                context: ExecutionContext) {
        self.child = child
        sources = context.sources
        scorer = ExactVectorScorer(sources: context.sources, metric: metric, query: query)
        self.recallTarget = recallTarget
        self.probes = probes
        super.init(children: [child])
    }

    private func index(of source: Int) -> (SegmentView, IVFIndex)? {
        guard limit != nil, case .segment(let view) = sources[source], let index = view.segment.vectorIndex,
              index.dimension == scorer.query.count else { return nil }
        return (view, index)
    }

    public func next() throws -> RowBatch? {
        try measured {
            if pendingWhole == nil {
                // Without a filter an indexed segment's candidates are exactly its visible rows:
                // take them from the view instead of pulling every row through the scan.
                if let scan = child as? ScanOperator {
                    pendingWhole = sources.indices.filter { index(of: $0) != nil }
                    scan.skipped = Set(pendingWhole!)
                } else {
                    pendingWhole = []
                }
            }
            while ready.isEmpty {
                try Task.checkCancellation()
                guard !exhausted, let input = try child.next() else {
                    exhausted = true
                    if let done = try finishCollecting() { ready.append(done) }
                    for source in pendingWhole ?? [] {
                        guard case .segment(let view) = sources[source] else { continue }
                        collecting = (source, view.visible, view.visibleCount)
                        if let done = try finishCollecting() { ready.append(done) }
                    }
                    pendingWhole = []
                    break
                }
                actuals.rowsExamined += input.count
                if let collecting, collecting.source != input.source, let done = try finishCollecting() { ready.append(done) }
                if let (view, _) = index(of: input.source) {
                    if collecting == nil { collecting = (input.source, Bitset(count: view.segment.rowCount), 0) }
                    for row in input.rows { collecting!.rows.set(Int(row)) }
                    collecting!.count += input.count
                } else if let scored = try scorer.score(input) {
                    ready.append(scored)
                }
            }
            return ready.isEmpty ? nil : ready.removeFirst()
        }
    }

    /// Searches the segment whose candidate rows are all collected.
    private func finishCollecting() throws -> RowBatch? {
        guard let (source, candidates, count) = collecting else { return nil }
        collecting = nil
        guard count > 0, let (view, index) = index(of: source), let k = limit else { return nil }
        let name = sources[source].label
        let lists = min(index.listCount, probes ?? index.probes(forRecall: recallTarget))
        let expectedScan = index.vectorCount * lists / max(1, index.listCount)
        // The exact path reads the segment's vectors, which an unfiltered query does not load.
        if count <= expectedScan, view.segment.vectors != nil {
            actuals.notes.append("\(name): exact over \(count) candidates (fewer than the ~\(expectedScan) vectors \(lists) lists hold)")
            var rows: [Int32] = []
            rows.reserveCapacity(count)
            candidates.forEachSetBit { rows.append(Int32($0)) }
            return try scorer.score(RowBatch(source: source, rows: rows))
        }
        // Unfiltered and nothing hidden: no bitset to apply inside the lists.
        let everyRow = count == view.segment.rowCount
        let result = try index.search(scorer.query, k: k, probes: lists, filter: everyRow ? nil : .bitset(candidates))
        actuals.notes.append("\(name): ivf \(result.listsProbed)/\(index.listCount) lists, \(result.vectorsScanned) vectors scanned, "
                             + (probes.map { "probes=\($0)" } ?? "recall_target=\(recallTarget)") + ", \(count) candidates")
        guard !result.neighbors.isEmpty else { return nil }
        // Clamped like the exact path: cosine distance is never negative.
        return RowBatch(source: source, rows: result.neighbors.map { Int32($0.ordinal) }, scores: result.neighbors.map { max(0, $0.score) })
    }
}
