import Foundation
import Kernels
import Log
import Synchronization

/// A derived, in-memory 8-bit copy of an index's lists for the first pass of a search
/// (Specs/format/ivf.md §5): one byte per dimension, a quarter of the f32 lists. It is never
/// stored, and each list is encoded the first time a search probes it: loading an index costs
/// no pass over its vectors, and a first query after a restart encodes only the lists it probes.
///
/// Rows are quantised in the training space — unit length for cosine (each row times its
/// stored inverse norm), as stored for Euclidean — so one integer dot product ranks rows by
/// approximate distance: for cosine −q·v̂; for Euclidean ‖v‖² − 2·q·v with the stored ‖v‖².
/// The per-dimension ranges come from an evenly spread sample of rows; values outside them
/// are clamped, and the exact re-ranking keeps the returned distances exact regardless.
final class IVFQuantizedLists: @unchecked Sendable {
    /// Rows the quantiser's ranges are taken from (all of them when the index has fewer).
    static let rangeSampleRows = 16_384

    let quantizer: ScalarQuantizer
    /// The ranges `quantizer` was made from (stored in the head, or sampled for version 1).
    let ranges: IVFQuantizerRanges
    /// Every list's codes back to back in list order, `dimension` bytes per row (a list's
    /// bytes are written once, under `encoded`'s lock, before its flag is set).
    let codes: UnsafeMutableBufferPointer<UInt8>
    /// `ByteDotScorer.codeSum` of every row, in `codes` order.
    let codeSums: UnsafeMutableBufferPointer<Int32>
    /// Euclidean only (empty for cosine): ‖v‖² of every row, in `codes` order.
    let squaredNorms: UnsafeMutableBufferPointer<Float>
    private let rows: IVFListRows
    /// Which lists are encoded. Reading a flag under the lock orders the list's bytes before it.
    private let encoded: Mutex<[Bool]>
    /// How many lists are encoded: once all are, searches skip the lock (an acquiring load of
    /// the final count orders every list's bytes before it).
    private let encodedLists = Atomic<Int>(0)

    /// The quantiser comes from the head (format version 2); a version 1 index has none, so
    /// its ranges are sampled here: `vector(row, buffer, body)` calls `body` with row `row`'s
    /// f32 vector (rows in list order).
    init(head: IVFHead, rows: IVFListRows,
         vector: (Int, IVFReadBuffer, (UnsafeBufferPointer<Float>) -> Void) throws -> Void) throws {
        self.rows = rows
        let total = rows.rowCount
        if let stored = head.quantizerRanges {
            ranges = stored
        } else {
            // Read row by row from a file-backed index: about a tenth of its vectors.
            var low = [Float](repeating: .infinity, count: head.dimension)
            var high = [Float](repeating: -.infinity, count: head.dimension)
            let buffer = IVFReadBuffer()
            for r in Self.rangeSample(rowCount: total) {
                try vector(r, buffer) { ScalarQuantizer.widen(&low, &high, with: $0, scale: rows.scale(ofRow: r)) }
            }
            ranges = IVFQuantizerRanges(low: low, high: high)
        }
        quantizer = ScalarQuantizer(low: ranges.low, high: ranges.high)
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

    /// Row number (in list order) of each list's first row.
    var listStart: [Int] { rows.listStart }

    /// Encodes the list unless done already (reading its block through `index`); afterwards
    /// its codes, sums and norms are readable.
    func ensureEncoded(list: Int, of index: IVFIndex, _ buffer: IVFReadBuffer) throws {
        guard encodedLists.load(ordering: .acquiring) < rows.listStart.count - 1 else { return }
        try encoded.withLock { done in
            guard !done[list] else { return }
            let d = quantizer.dimension
            let first = rows.listStart[list], count = rows.listStart[list + 1] - first
            let vectorsOffset = index.head.layout(ofList: list).vectorsOffset
            try index.withBlock(list, buffer) { block in
                let vectors = (block.baseAddress! + vectorsOffset).assumingMemoryBound(to: Float.self)
                for i in 0..<count {
                    let r = first + i
                    let vector = UnsafeBufferPointer(start: vectors + i * d, count: d)
                    let row = UnsafeMutableBufferPointer(rebasing: codes[(r * d)..<((r + 1) * d)])
                    quantizer.encode(vector, scale: rows.scale(ofRow: r), into: row)
                    codeSums[r] = ByteDotScorer.codeSum(UnsafeBufferPointer(row))
                    if !squaredNorms.isEmpty { squaredNorms[r] = VectorDistance.squaredNorm(vector) }
                }
            }
            done[list] = true
            encodedLists.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// The rows (in list order) the quantiser's ranges are taken from (ivf.md §5): an evenly
    /// spread sample. The builder stores the ranges; a version 1 reader samples the same rows.
    static func rangeSample(rowCount total: Int) -> [Int] {
        let sample = Swift.min(total, rangeSampleRows)
        let stride = Swift.max(1, total / Swift.max(1, sample))
        return (0..<sample).map { Swift.min(total - 1, $0 * stride) }
    }

    /// Bytes this copy may hold once every list is encoded (codes, code sums, norms, quantiser).
    var memoryBytes: Int { codes.count + 4 * codeSums.count + 4 * squaredNorms.count + 8 * quantizer.dimension }

    /// The list holding row `row`.
    func list(containing row: Int) -> Int { rows.list(containing: row) }
}
