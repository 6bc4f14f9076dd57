/// An append-only column stored in fixed-size chunks, so that a snapshot of it is O(1):
/// copying the struct copies only the chunk references.
///
/// Rows below a snapshot's `count` never change, so snapshots can read while the owner
/// appends. Appending from a copy whose last chunk another copy has already extended
/// copies that chunk first (copy-on-append), so diverged copies never see each other's rows.
/// Appends to one lineage must not run concurrently (the namespace replica serialises them).
public struct ChunkedColumn<Element>: @unchecked Sendable {
    // @unchecked: chunks are immutable below every holder's `count`; appends are serialised
    // by the single owner and never touch slots a snapshot can read (see type comment).
    @usableFromInline
    final class Chunk {
        @usableFromInline let base: UnsafeMutablePointer<Element>
        let capacity: Int
        /// Slots written so far by whichever copy appended last.
        var used = 0

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit {
            base.deinitialize(count: used)
            base.deallocate()
        }
    }

    /// Elements per row (the vector dimension for vector columns, 1 for scalars).
    public let width: Int
    public let rowsPerChunk: Int
    // Internal, not private, so the inlinable readers below specialise in client modules:
    // an unspecialised generic read per row costs a metadata lookup.
    @usableFromInline private(set) var chunks: [Chunk] = []
    public private(set) var count = 0

    public init(width: Int = 1, rowsPerChunk: Int = 4096) {
        precondition(width > 0 && rowsPerChunk > 0)
        self.width = width
        self.rowsPerChunk = rowsPerChunk
    }

    /// Appends one row of exactly `width` elements.
    public mutating func append(row: UnsafeBufferPointer<Element>) {
        precondition(row.count == width, "row width \(row.count) != \(width)")
        let slot = (count % rowsPerChunk) * width
        if slot == 0 {
            chunks.append(Chunk(capacity: rowsPerChunk * width))
        } else if chunks[chunks.count - 1].used != slot {
            chunks[chunks.count - 1] = copyOfLastChunk(upTo: slot)
        }
        let chunk = chunks[chunks.count - 1]
        (chunk.base + slot).initialize(from: row.baseAddress!, count: width)
        chunk.used = slot + width
        count += 1
    }

    public mutating func append(_ element: Element) {
        withUnsafePointer(to: element) { append(row: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    public mutating func append(contentsOf row: [Element]) {
        row.withUnsafeBufferPointer { append(row: $0) }
    }

    private func copyOfLastChunk(upTo slot: Int) -> Chunk {
        let old = chunks[chunks.count - 1]
        let copy = Chunk(capacity: old.capacity)
        copy.base.initialize(from: old.base, count: slot)
        copy.used = slot
        return copy
    }

    /// The element at (row, lane); lane < width.
    @inlinable
    public subscript(row: Int, lane: Int = 0) -> Element {
        precondition(row >= 0 && row < count && lane >= 0 && lane < width, "row \(row) out of range")
        return element(row: row, lane: lane)
    }

    @inlinable
    func element(row: Int, lane: Int) -> Element {
        let chunk = chunks[row / rowsPerChunk]
        return chunk.base[(row % rowsPerChunk) * width + lane]
    }

    /// Calls `body` with a buffer over one row.
    public func withRow<R>(_ row: Int, _ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(row >= 0 && row < count, "row \(row) out of range")
        let chunk = chunks[row / rowsPerChunk]
        return try body(UnsafeBufferPointer(start: chunk.base + (row % rowsPerChunk) * width, count: width))
    }

    /// Visits the column chunk by chunk: `body(firstRow, rows)` gets a contiguous
    /// buffer of `rows × width` elements.
    public func forEachChunk(_ body: (Int, UnsafeBufferPointer<Element>) throws -> Void) rethrows {
        var row = 0
        for chunk in chunks where row < count {
            let rows = min(rowsPerChunk, count - row)
            try body(row, UnsafeBufferPointer(start: chunk.base, count: rows * width))
            row += rows
        }
    }

    /// Calls `body` with the first row of the chunk holding `row`, the number of rows
    /// visible in it, and a buffer over those rows.
    public func withChunk<R>(containing row: Int, _ body: (Int, Int, UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(row >= 0 && row < count, "row \(row) out of range")
        let index = row / rowsPerChunk
        let first = index * rowsPerChunk
        let rows = min(rowsPerChunk, count - first)
        return try body(first, rows, UnsafeBufferPointer(start: chunks[index].base, count: rows * width))
    }

    /// Copies a row out (for materialising results).
    public func rowArray(_ row: Int) -> [Element] {
        withRow(row) { Array($0) }
    }
}
