import Foundation
import Kernels
import Log

/// A derived, in-memory 8-bit copy of an index's lists for the first pass of a search
/// (Specs/format/ivf.md §5): one byte per dimension, a quarter of the f32 lists. It is
/// computed when the index is decoded and never stored.
///
/// Rows are quantised in the training space — unit length for cosine (each row times its
/// stored inverse norm), as stored for Euclidean — so one integer dot product ranks rows by
/// approximate distance: for cosine −q·v̂; for Euclidean ‖v‖² − 2·q·v with the stored ‖v‖².
struct IVFQuantizedLists: Sendable {
    let quantizer: ScalarQuantizer
    /// Every list's codes back to back in list order, `dimension` bytes per row.
    let codes: [UInt8]
    /// `ByteDotScorer.codeSum` of every row, in `codes` order.
    let codeSums: [Int32]
    /// Row offset of each list in `codes`; `listStart[listCount]` is the row count.
    let listStart: [Int]
    /// Euclidean only: ‖v‖² of every row, in `codes` order.
    let squaredNorms: [Float]

    init(head: IVFHead, bytes raw: UnsafeRawBufferPointer) {
        let d = head.dimension
        var start = [0]
        start.reserveCapacity(head.listCount + 1)
        for entry in head.lists { start.append(start.last! + entry.count) }
        let total = start.last!
        // Row i of the index: its list's vectors and inverse norm, located once.
        var rowList = [Int32](repeating: 0, count: total)
        for list in 0..<head.listCount { for r in start[list]..<start[list + 1] { rowList[r] = Int32(list) } }
        let base = raw.baseAddress!
        func vector(_ r: Int) -> UnsafeBufferPointer<Float> {
            let list = Int(rowList[r])
            let p = base + head.lists[list].offset + head.layout(ofList: list).vectorsOffset + (r - start[list]) * d * 4
            return UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: d)
        }
        let cosine = head.metric == .cosineDistance
        func scale(_ r: Int) -> Float {
            guard cosine else { return 1 }
            let list = Int(rowList[r])
            let p = base + head.lists[list].offset + head.layout(ofList: list).normsOffset! + (r - start[list]) * 4
            return p.assumingMemoryBound(to: Float.self).pointee
        }
        let quantizer = ScalarQuantizer(dimension: d, count: total, row: vector, scale: scale)
        var codes = [UInt8](repeating: 0, count: total * d)
        var sums = [Int32](repeating: 0, count: total)
        codes.withUnsafeMutableBufferPointer { out in
            for r in 0..<total {
                let row = UnsafeMutableBufferPointer(rebasing: out[(r * d)..<((r + 1) * d)])
                quantizer.encode(vector(r), scale: scale(r), into: row)
                sums[r] = ByteDotScorer.codeSum(UnsafeBufferPointer(row))
            }
        }
        codeSums = sums
        self.quantizer = quantizer
        self.codes = codes
        listStart = start
        squaredNorms = cosine ? [] : (0..<total).map { VectorDistance.squaredNorm(vector($0)) }
    }

    /// Bytes held (codes, code sums, list offsets, norms, quantiser).
    var memoryBytes: Int { codes.count + 4 * codeSums.count + 8 * listStart.count + 4 * squaredNorms.count + 8 * quantizer.dimension }
}
