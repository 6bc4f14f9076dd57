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
/// A version 3 index stores the codes: held in memory, they are read in place; from a file, a
/// probed list's codes block is read (a quarter of its vectors' bytes), checked against its
/// checksum and copied into an in-memory copy the first time a search probes the list — a
/// first query after a restart encodes nothing. (Not mapped: the kernel maps neighbouring
/// cached pages on every fault, so a mapping soon holds every list's codes in the process,
/// 45 MB of RSS more on WordNet-117k.) Older
/// indexes get the in-memory copy by encoding each list's vectors on first probe.
final class IVFQuantizedLists: Sendable {
    /// Rows the quantiser's ranges are taken from (all of them when the index has fewer).
    static let rangeSampleRows = 16_384

    let quantizer: ScalarQuantizer
    /// The ranges `quantizer` was made from (stored in the head, or sampled for version 1).
    let ranges: IVFQuantizerRanges
    private let source: Source

    private enum Source: Sendable {
        /// Version 3 in memory: the index's bytes, with which lists' codes blocks passed their checksum.
        case stored(Data, checked: IVFCheckedLists)
        /// Version 3 from a file: probed lists' codes blocks read, checked and copied.
        case copied(IVFDerivedCodes, reader: LocalRangeReader)
        /// Versions 1 and 2: probed lists encoded from their vectors.
        case encoded(IVFDerivedCodes)
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
            source = .stored(bytes, checked: IVFCheckedLists(listCount: head.listCount, allChecked: checked))
        case (true, .file(let reader, _)):
            source = .copied(IVFDerivedCodes(head: head, rows: rows), reader: reader)
        case (false, _):
            source = .encoded(IVFDerivedCodes(head: head, rows: rows))
        }
    }

    /// Calls `body` with list `list`'s codes, checked (a stored block) or filled (a copied or
    /// encoded one) before their first use. Throws `FormatError` (`corrupt`) when the list's
    /// codes or vectors fail their checksum.
    func withCodeBlock<R>(_ list: Int, of index: IVFIndex, _ buffer: IVFReadBuffer, _ body: (IVFCodeBlock) throws -> R) throws -> R {
        let head = index.head
        switch source {
        case .encoded(let copy):
            try copy.ensureFilled(list: list) { list, codes, sums, squaredNorms in
                let first = index.rows.listStart[list]
                let vectorsOffset = head.layout(ofList: list).vectorsOffset
                try index.withBlock(list, buffer) { block in
                    Self.encode((block.baseAddress! + vectorsOffset).assumingMemoryBound(to: Float.self), count: sums.count,
                                quantizer: quantizer, scale: { index.rows.scale(ofRow: first + $0) },
                                codes: codes, sums: sums, squaredNorms: squaredNorms)
                }
            }
            return try body(copy.block(list))
        case .copied(let copy, let reader):
            try copy.ensureFilled(list: list) { list, codes, sums, squaredNorms in
                let range = head.codeByteRange(ofList: list)
                let block = buffer.space(range.count)
                try reader.read(at: range.lowerBound, into: block)
                do {
                    try head.verifyCodes(list: list, block: UnsafeRawBufferPointer(block), object: index.object)
                } catch {
                    reader.reportDamage()  // a cache drops its copy
                    throw error
                }
                Self.withStoredBlock(UnsafeRawBufferPointer(block), head.codeLayout(ofList: list), dimension: head.dimension) { stored in
                    _ = codes.initialize(from: stored.codes)
                    _ = sums.initialize(from: stored.sums)
                    if !stored.squaredNorms.isEmpty { _ = squaredNorms.initialize(from: stored.squaredNorms) }
                }
            }
            return try body(copy.block(list))
        case .stored(let bytes, let checked):
            return try bytes.withUnsafeBytes { raw in
                let block = UnsafeRawBufferPointer(rebasing: raw[head.codeByteRange(ofList: list)])
                try checked.ensure(list) { try head.verifyCodes(list: list, block: block, object: index.object) }
                return try Self.withStoredBlock(block, head.codeLayout(ofList: list), dimension: head.dimension, body)
            }
        }
    }

    /// A stored codes block's fields (ivf.md §1.5) in place; empty buffers for an empty list.
    private static func withStoredBlock<R>(_ block: UnsafeRawBufferPointer, _ layout: IVFCodeBlockLayout, dimension: Int,
                                           _ body: (IVFCodeBlock) throws -> R) rethrows -> R {
        guard layout.count > 0, let base = block.baseAddress else {
            return try body(IVFCodeBlock(codes: .init(start: nil, count: 0), sums: .init(start: nil, count: 0),
                                         squaredNorms: .init(start: nil, count: 0)))
        }
        let norms = layout.squaredNormsOffset.map {
            UnsafeBufferPointer(start: (base + $0).assumingMemoryBound(to: Float.self), count: layout.count)
        }
        return try body(IVFCodeBlock(
            codes: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: layout.count * dimension),
            sums: UnsafeBufferPointer(start: (base + layout.sumsOffset).assumingMemoryBound(to: Int32.self), count: layout.count),
            squaredNorms: norms ?? UnsafeBufferPointer(start: nil, count: 0)))
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

    /// Heap bytes this copy may hold once every list is filled (none when read in place).
    var memoryBytes: Int {
        switch source {
        case .stored: 8 * quantizer.dimension
        case .copied(let copy, _), .encoded(let copy): copy.memoryBytes + 8 * quantizer.dimension
        }
    }

    /// Whether the codes come from the index's stored blocks rather than from its vectors.
    var readsStoredCodes: Bool {
        if case .encoded = source { return false }
        return true
    }
}
