import Log
import Synchronization

/// The 8-bit copy of an index's lists held in memory, each list filled the first time a search
/// probes it — encoded from its vectors (format versions 1 and 2) or copied from its stored
/// codes block (version 3 read from a file) — so loading an index reads no codes or vectors,
/// and memory holds only the lists searches probe.
final class IVFDerivedCodes: @unchecked Sendable {
    /// Every list's codes back to back in list order, `dimension` bytes per row (a list's
    /// bytes are written once, under `encoded`'s lock, before its flag is set).
    private let codes: UnsafeMutableBufferPointer<UInt8>
    /// `ByteDotScorer.codeSum` of every row, in `codes` order.
    private let codeSums: UnsafeMutableBufferPointer<Int32>
    /// Euclidean only (empty for cosine): ‖v‖² of every row, in `codes` order.
    private let squaredNorms: UnsafeMutableBufferPointer<Float>
    private let rows: IVFListRows
    private let dimension: Int
    /// Which lists are encoded. Reading a flag under the lock orders the list's bytes before it.
    private let encoded: Mutex<[Bool]>
    /// How many lists are encoded: once all are, searches skip the lock (an acquiring load of
    /// the final count orders every list's bytes before it).
    private let encodedLists = Atomic<Int>(0)

    init(head: IVFHead, rows: IVFListRows) {
        self.rows = rows
        dimension = head.dimension
        let total = rows.rowCount
        // Allocated whole, touched list by list: pages of lists never probed cost no memory.
        codes = .allocate(capacity: total * head.dimension)
        codeSums = .allocate(capacity: total)
        squaredNorms = .allocate(capacity: head.metric == .cosineDistance ? 0 : total)
        encoded = Mutex([Bool](repeating: false, count: head.listCount))
    }

    deinit {
        codes.deallocate()
        codeSums.deallocate()
        squaredNorms.deallocate()
    }

    /// Fills the list's codes, sums and norms unless done already: `fill(list, codes, sums,
    /// squaredNorms)` writes them (encoding the list's vectors, or copying a stored block).
    func ensureFilled(list: Int, _ fill: (Int, UnsafeMutableBufferPointer<UInt8>, UnsafeMutableBufferPointer<Int32>,
                                          UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        guard encodedLists.load(ordering: .acquiring) < rows.listStart.count - 1 else { return }
        try encoded.withLock { done in
            guard !done[list] else { return }
            let first = rows.listStart[list], end = rows.listStart[list + 1]
            try fill(list, UnsafeMutableBufferPointer(rebasing: codes[(first * dimension)..<(end * dimension)]),
                     UnsafeMutableBufferPointer(rebasing: codeSums[first..<end]),
                     squaredNorms.isEmpty ? squaredNorms : UnsafeMutableBufferPointer(rebasing: squaredNorms[first..<end]))
            done[list] = true
            encodedLists.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// An encoded list's codes (precondition: `ensureEncoded` ran for it).
    func block(_ list: Int) -> IVFCodeBlock {
        let first = rows.listStart[list], end = rows.listStart[list + 1]
        return IVFCodeBlock(codes: UnsafeBufferPointer(rebasing: codes[(first * dimension)..<(end * dimension)]),
                            sums: UnsafeBufferPointer(rebasing: codeSums[first..<end]),
                            squaredNorms: squaredNorms.isEmpty ? UnsafeBufferPointer(squaredNorms)
                                : UnsafeBufferPointer(rebasing: squaredNorms[first..<end]))
    }

    /// Bytes this copy may hold once every list is encoded.
    var memoryBytes: Int { codes.count + 4 * codeSums.count + 4 * squaredNorms.count }
}
