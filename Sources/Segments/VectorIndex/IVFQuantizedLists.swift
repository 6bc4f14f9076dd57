import Foundation
import Kernels
import Log
import Store

/// One list's 8-bit copy as a scan reads it: `count` rows of `dimension` codes, each row's
/// code sum and, for euclidean_squared, its ‖v‖² (empty for cosine).
struct IVFCodeBlock {
    let codes: UnsafeBufferPointer<UInt8>
    let sums: UnsafeBufferPointer<Int32>
    let squaredNorms: UnsafeBufferPointer<Float>
}

/// The 8-bit copy of an index's lists for the first pass of a search (Specs/format/ivf.md §5):
/// one byte per dimension, a quarter of the f32 lists.
///
/// Rows are quantised in the training space — unit length for cosine (each row times its
/// stored inverse norm), as stored for Euclidean — so one integer dot product ranks rows by
/// approximate distance: for cosine −q·v̂; for Euclidean ‖v‖² − 2·q·v with the stored ‖v‖².
/// Values outside the quantiser's ranges are clamped; the exact re-ranking keeps the returned
/// distances exact regardless.
///
/// A version 3 index stores the codes (read in place, from memory or a mapping of its file,
/// each list's block checked against its checksum before its first use: a first query after a
/// restart reads only the probed lists' codes). Older indexes, and a file that cannot be
/// mapped, get a derived copy in memory, each list encoded the first time a search probes it.
final class IVFQuantizedLists: Sendable {
    /// Rows the quantiser's ranges are taken from (all of them when the index has fewer).
    static let rangeSampleRows = 16_384

    let quantizer: ScalarQuantizer
    /// The ranges `quantizer` was made from (stored in the head, or sampled for version 1).
    let ranges: IVFQuantizerRanges
    private let source: Source

    private enum Source: Sendable {
        /// Version 3: the index's bytes (held, or a read-only mapping of its file) with which
        /// lists' codes blocks passed their checksum; `reader` hears of damage.
        case stored(Data, checked: IVFCheckedLists, reader: LocalRangeReader?)
        case derived(IVFDerivedCodes)
    }

    /// `storage` is where the index's bytes are; `vector(row, buffer, body)` calls `body` with
    /// row `row`'s f32 vector (rows in list order) for a version 1 index's range sample.
    init(head: IVFHead, rows: IVFListRows, storage: IVFListBytes, checked: Bool,
         vector: (Int, IVFReadBuffer, (UnsafeBufferPointer<Float>) -> Void) throws -> Void) throws {
        if let stored = head.quantizerRanges {
            ranges = stored
        } else {
            // Read row by row from a file-backed index: about a tenth of its vectors.
            var low = [Float](repeating: .infinity, count: head.dimension)
            var high = [Float](repeating: -.infinity, count: head.dimension)
            let buffer = IVFReadBuffer()
            for r in Self.rangeSample(rowCount: rows.rowCount) {
                try vector(r, buffer) { ScalarQuantizer.widen(&low, &high, with: $0, scale: rows.scale(ofRow: r)) }
            }
            ranges = IVFQuantizerRanges(low: low, high: high)
        }
        quantizer = ScalarQuantizer(low: ranges.low, high: ranges.high)
        switch (head.storesCodes, storage) {
        case (true, .resident(let bytes)):
            source = .stored(bytes, checked: IVFCheckedLists(listCount: head.listCount, allChecked: checked), reader: nil)
        case (true, .file(let reader, _)):
            if let mapping = try? reader.mapped(), mapping.count == reader.length,
               mapping.withUnsafeBytes({ Int(bitPattern: $0.baseAddress) % 4 == 0 }) {
                source = .stored(mapping, checked: IVFCheckedLists(listCount: head.listCount), reader: reader)
            } else {
                source = .derived(IVFDerivedCodes(head: head, rows: rows))
            }
        case (false, _):
            source = .derived(IVFDerivedCodes(head: head, rows: rows))
        }
    }

    /// Calls `body` with list `list`'s codes: stored ones checked before their first use,
    /// derived ones encoded (reading the list through `index`) before their first use.
    /// Throws `FormatError` (`corrupt`) when the list's codes or vectors fail their checksum.
    func withCodeBlock<R>(_ list: Int, of index: IVFIndex, _ buffer: IVFReadBuffer, _ body: (IVFCodeBlock) throws -> R) throws -> R {
        switch source {
        case .derived(let derived):
            try derived.ensureEncoded(list: list, quantizer: quantizer, of: index, buffer)
            return try body(derived.block(list))
        case .stored(let bytes, let checked, let reader):
            let head = index.head
            let layout = head.codeLayout(ofList: list)
            let range = head.codeByteRange(ofList: list)
            return try bytes.withUnsafeBytes { raw in
                let block = UnsafeRawBufferPointer(rebasing: raw[range])
                try checked.ensure(list) {
                    do {
                        try head.verifyCodes(list: list, block: block, object: index.object)
                    } catch {
                        reader?.reportDamage()  // a cache drops its copy
                        throw error
                    }
                }
                guard layout.count > 0, let base = block.baseAddress else {
                    return try body(IVFCodeBlock(codes: .init(start: nil, count: 0), sums: .init(start: nil, count: 0),
                                                 squaredNorms: .init(start: nil, count: 0)))
                }
                let norms = layout.squaredNormsOffset.map {
                    UnsafeBufferPointer(start: (base + $0).assumingMemoryBound(to: Float.self), count: layout.count)
                }
                return try body(IVFCodeBlock(
                    codes: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: layout.count * head.dimension),
                    sums: UnsafeBufferPointer(start: (base + layout.sumsOffset).assumingMemoryBound(to: Int32.self), count: layout.count),
                    squaredNorms: norms ?? UnsafeBufferPointer(start: nil, count: 0)))
            }
        }
    }

    /// Encodes `count` rows (row-major f32 from `vectors`; row `i` times `scale(i)` is its
    /// training-space value) into codes, code sums and, when `squaredNorms` is not empty,
    /// their squared norms: what the builder stores and what a derived copy holds.
    static func encode(_ vectors: UnsafePointer<Float>, count: Int, quantizer: ScalarQuantizer, scale: (Int) -> Float,
                       codes: UnsafeMutableBufferPointer<UInt8>, sums: UnsafeMutableBufferPointer<Int32>,
                       squaredNorms: UnsafeMutableBufferPointer<Float>) {
        let d = quantizer.dimension
        for i in 0..<count {
            let vector = UnsafeBufferPointer(start: vectors + i * d, count: d)
            let row = UnsafeMutableBufferPointer(rebasing: codes[(i * d)..<((i + 1) * d)])
            quantizer.encode(vector, scale: scale(i), into: row)
            sums[i] = ByteDotScorer.codeSum(UnsafeBufferPointer(row))
            if !squaredNorms.isEmpty { squaredNorms[i] = VectorDistance.squaredNorm(vector) }
        }
    }

    /// The rows (in list order) the quantiser's ranges are taken from (ivf.md §1.4): an evenly
    /// spread sample. The builder stores the ranges; a version 1 reader samples the same rows.
    static func rangeSample(rowCount total: Int) -> [Int] {
        let sample = Swift.min(total, rangeSampleRows)
        let stride = Swift.max(1, total / Swift.max(1, sample))
        return (0..<sample).map { Swift.min(total - 1, $0 * stride) }
    }

    /// Heap bytes this copy may hold once every list is encoded (none when the codes are stored).
    var memoryBytes: Int {
        switch source {
        case .stored: 8 * quantizer.dimension
        case .derived(let derived): derived.memoryBytes + 8 * quantizer.dimension
        }
    }

    /// Whether the codes are read from the index's bytes rather than derived in memory.
    var isStored: Bool {
        if case .stored = source { return true }
        return false
    }
}
