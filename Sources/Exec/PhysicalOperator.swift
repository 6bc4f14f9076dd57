public import Planner
public import Segments

/// A batch of row references flowing between operators: row ordinals of the snapshot's
/// projection and, for ranked operators, one score per row.
public struct RowBatch: Sendable {
    public var rows: [Int32]
    public var scores: [Float]

    public init(rows: [Int32] = [], scores: [Float] = []) {
        self.rows = rows
        self.scores = scores
    }

    public var isEmpty: Bool { rows.isEmpty }
    public var count: Int { rows.count }
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

/// What operators read: the pinned projection.
public struct ExecutionContext: Sendable {
    public let projection: NamespaceProjection

    public init(projection: NamespaceProjection) {
        self.projection = projection
    }
}
