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
    /// Row offset of each list in `codes`; `listStart[listCount]` is the row count.
    let listStart: [Int]
    /// Every list's codes back to back in list order, `dimension` bytes per row (a list's
    /// bytes are written once, under `encoded`'s lock, before its flag is set).
    let codes: UnsafeMutableBufferPointer<UInt8>
    /// `ByteDotScorer.codeSum` of every row, in `codes` order.
    let codeSums: UnsafeMutableBufferPointer<Int32>
    /// Euclidean only (empty for cosine): ‖v‖² of every row, in `codes` order.
    let squaredNorms: UnsafeMutableBufferPointer<Float>
    private let head: IVFHead
    /// Which lists are encoded. Reading a flag under the lock orders the list's bytes before it.
    private let encoded: Mutex<[Bool]>
    /// How many lists are encoded: once all are, searches skip the lock (an acquiring load of
    /// the final count orders every list's bytes before it).
    private let encodedLists = Atomic<Int>(0)

    init(head: IVFHead, bytes raw: UnsafeRawBufferPointer) {
        self.head = head
        var start = [0]
        start.reserveCapacity(head.listCount + 1)
        for entry in head.lists { start.append(start.last! + entry.count) }
        let total = start.last!
        listStart = start
        let sample = Swift.min(total, Self.rangeSampleRows)
        let stride = Swift.max(1, total / Swift.max(1, sample))
        let rows = (0..<sample).map { Swift.min(total - 1, $0 * stride) }
        quantizer = ScalarQuantizer(dimension: head.dimension, count: rows.count,
                                    row: { Self.vector(head, start, rows[$0], raw) }, scale: { Self.scale(head, start, rows[$0], raw) })
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

    /// Encodes the list unless done already; afterwards its codes, sums and norms are readable.
    func ensureEncoded(list: Int, _ raw: UnsafeRawBufferPointer) {
        guard encodedLists.load(ordering: .acquiring) < listStart.count - 1 else { return }
        encoded.withLock { done in
            guard !done[list] else { return }
            let d = head.dimension
            for r in listStart[list]..<listStart[list + 1] {
                let vector = Self.vector(head, listStart, r, raw)
                let row = UnsafeMutableBufferPointer(rebasing: codes[(r * d)..<((r + 1) * d)])
                quantizer.encode(vector, scale: Self.scale(head, listStart, r, raw), into: row)
                codeSums[r] = ByteDotScorer.codeSum(UnsafeBufferPointer(row))
                if !squaredNorms.isEmpty { squaredNorms[r] = VectorDistance.squaredNorm(vector) }
            }
            done[list] = true
            encodedLists.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// Bytes this copy may hold once every list is encoded (codes, code sums, list offsets,
    /// norms, quantiser).
    var memoryBytes: Int { codes.count + 4 * codeSums.count + 8 * listStart.count + 4 * squaredNorms.count + 8 * quantizer.dimension }

    /// The list holding row `row`.
    func list(containing row: Int) -> Int { Self.listOf(row, listStart) }

    /// Row `r` of the index (in list order): its f32 vector in the index bytes.
    private static func vector(_ head: IVFHead, _ start: [Int], _ r: Int, _ raw: UnsafeRawBufferPointer) -> UnsafeBufferPointer<Float> {
        let list = listOf(r, start)
        let p = raw.baseAddress! + head.lists[list].offset + head.layout(ofList: list).vectorsOffset + (r - start[list]) * head.dimension * 4
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: head.dimension)
    }

    /// The factor row `r` is quantised with: its stored inverse norm for cosine, else 1.
    private static func scale(_ head: IVFHead, _ start: [Int], _ r: Int, _ raw: UnsafeRawBufferPointer) -> Float {
        guard head.metric == .cosineDistance else { return 1 }
        let list = listOf(r, start)
        let p = raw.baseAddress! + head.lists[list].offset + head.layout(ofList: list).normsOffset! + (r - start[list]) * 4
        return p.assumingMemoryBound(to: Float.self).pointee
    }

    /// Binary search over list starts (empty lists skipped).
    private static func listOf(_ row: Int, _ start: [Int]) -> Int {
        var low = 0, high = start.count - 1  // start[low] <= row < start[high]
        while high - low > 1 {
            let mid = (low + high) / 2
            if start[mid] <= row { low = mid } else { high = mid }
        }
        return low
    }
}
