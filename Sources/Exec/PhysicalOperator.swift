public import Log
public import Planner
public import Segments

/// A batch of row references flowing between operators: row ordinals inside the snapshot's
/// sources and, for ranked operators, one score per row. Scans, filters and scorers emit
/// batches of one source (`source`), so kernels see that source's contiguous data; ranked
/// results that interleave sources carry a source per row (`perRowSources`).
public struct RowBatch: Sendable {
    public var rows: [Int32]
    public var scores: [Float]
    /// The source of every row, or -1 when `perRowSources` says it row by row.
    public var source: Int
    public var perRowSources: [Int32]

    public init(source: Int, rows: [Int32] = [], scores: [Float] = []) {
        self.source = source
        self.rows = rows
        self.scores = scores
        perRowSources = []
    }

    /// A batch whose rows come from several sources.
    public init(mixed references: [RowReference], scores: [Float]) {
        source = -1
        rows = references.map { Int32($0.row) }
        perRowSources = references.map { Int32($0.source) }
        self.scores = scores
    }

    public var isEmpty: Bool { rows.isEmpty }
    public var count: Int { rows.count }

    @inline(__always)
    public func source(at i: Int) -> Int { source >= 0 ? source : Int(perRowSources[i]) }

    @inline(__always)
    public func reference(at i: Int) -> RowReference { RowReference(source: source(at: i), row: Int(rows[i])) }
}

/// A row of a pinned snapshot: which source (segment index, or the tail last) and its ordinal.
public struct RowReference: Hashable, Sendable, Comparable {
    public var source: Int
    public var row: Int

    public init(source: Int, row: Int) {
        self.source = source
        self.row = row
    }

    /// One integer per reference, ordered like the references (for top-k selectors).
    public var packed: Int { source << 32 | row }
    public init(packed: Int) { self.init(source: packed >> 32, row: packed & 0xFFFF_FFFF) }

    public static func < (a: RowReference, b: RowReference) -> Bool { a.packed < b.packed }
}

/// The Volcano contract: `open` prepares (no work yet), each `next` returns one batch or
/// nil when exhausted, `close` releases. Operators pass batches, never single rows.
public protocol PhysicalOperator: AnyObject {
    var children: [any PhysicalOperator] { get }
    var actuals: OperatorActuals { get }
    func open() throws
    func next() throws -> RowBatch?
    func close()
}

/// Shared bookkeeping of actual rows and time, so every operator reports the same way.
open class OperatorBase {
    public let children: [any PhysicalOperator]
    public var actuals = OperatorActuals()

    public init(children: [any PhysicalOperator]) {
        self.children = children
    }

    public func open() throws {
        for child in children { try child.open() }
    }

    public func close() {
        for child in children { child.close() }
    }

    /// Times `body` into this operator's actuals (inclusive of children) and counts its rows.
    public func measured(_ body: () throws -> RowBatch?) rethrows -> RowBatch? {
        let start = ContinuousClock.now
        let batch = try body()
        actuals.nanoseconds += (ContinuousClock.now - start).nanoseconds
        actuals.rows += batch?.count ?? 0
        return batch
    }
}

/// What operators read: the sources of the pinned snapshot (segments oldest first, then the
/// WAL tail) and the namespace config.
public struct ExecutionContext: Sendable {
    public let sources: [RowSource]
    public let config: NamespaceConfig

    public init(sources: [RowSource], config: NamespaceConfig) {
        self.sources = sources
        self.config = config
    }

    public init(view: NamespaceView, config: NamespaceConfig) {
        self.init(sources: view.sources, config: config)
    }

    /// A context over one projection alone (tests, tools).
    public init(projection: NamespaceProjection) {
        self.init(sources: [.tail(projection)], config: projection.config)
    }
}
