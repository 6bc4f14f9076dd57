import Foundation
import Log

/// The small per-row fields of an index's lists, held in memory wherever the vectors are
/// (Specs/format/ivf.md §2): per row in list order its segment ordinal and, for cosine, its
/// inverse norm, and where each list's rows start. Filters, re-ranking and the row map read
/// these, so a search reads a file-backed list's bytes only to encode it once and to re-rank
/// a few vectors. 8 bytes per row (4 for euclidean_squared).
struct IVFListRows: Sendable {
    /// Segment ordinals, list after list (ascending inside each list).
    let ordinals: [Int32]
    /// 1/‖v‖ per row in the same order (cosine; empty for euclidean_squared).
    let inverseNorms: [Float]
    /// Row number (in list order) of each list's first row; `listStart[listCount]` is the total.
    let listStart: [Int]

    /// Reads each list's ordinals (and norms) through `read(list, prefix)`, which fills
    /// `prefix` with the first bytes of the list's block, and checks the ordinals ascend
    /// below the ordinal bound (so callers can index by them without traps).
    init(head: IVFHead, object: String, read: (_ list: Int, _ prefix: UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var start = [0]
        start.reserveCapacity(head.listCount + 1)
        for entry in head.lists { start.append(start.last! + entry.count) }
        let total = start.last!
        let cosine = head.metric == .cosineDistance
        var ordinals = [Int32](repeating: 0, count: total)
        var norms = [Float](repeating: 0, count: cosine ? total : 0)
        let largest = head.lists.map(\.count).max() ?? 0
        let prefix = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, largest * (cosine ? 8 : 4)), alignment: 16)
        defer { prefix.deallocate() }
        for list in 0..<head.listCount {
            let n = head.lists[list].count
            guard n > 0 else { continue }
            let bytes = UnsafeMutableRawBufferPointer(rebasing: prefix[0..<(n * (cosine ? 8 : 4))])
            try read(list, bytes)
            var previous: Int32 = -1
            for i in 0..<n {
                let o = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                guard o > previous, Int(o) < head.ordinalBound else {
                    throw FormatError(.corrupt, object: object, "list \(list): ordinal \(o) out of order or ≥ \(head.ordinalBound)")
                }
                previous = o
                ordinals[start[list] + i] = o
                if cosine {
                    norms[start[list] + i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * (n + i), as: UInt32.self)))
                }
            }
        }
        self.ordinals = ordinals
        inverseNorms = norms
        listStart = start
    }

    var rowCount: Int { ordinals.count }

    /// The list holding row `row` (in list order): binary search over the list starts.
    func list(containing row: Int) -> Int {
        var low = 0, high = listStart.count - 1  // listStart[low] <= row < listStart[high]
        while high - low > 1 {
            let mid = (low + high) / 2
            if listStart[mid] <= row { low = mid } else { high = mid }
        }
        return low
    }

    /// The factor row `row` is quantised with: its inverse norm for cosine, else 1.
    func scale(ofRow row: Int) -> Float { inverseNorms.isEmpty ? 1 : inverseNorms[row] }

    var heldBytes: Int { 4 * (ordinals.count + inverseNorms.count) + 8 * listStart.count }
}
