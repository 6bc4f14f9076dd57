public import Foundation
import Kernels
public import Log
import Store

// The IVF index as bytes (Specs/format/ivf.md). Three regions:
//
//   head  = 64-byte header | centroids | recall curve | quantiser ranges (v2) | list directory | xxh3 of the head
//   lists = one block per posting list, each 64-byte aligned: ordinals | inverse norms | vectors
//   codes = (v3) one block per list, each 64-byte aligned: 8-bit codes | code sums | squared norms
//
// The head is everything a query needs before it knows which lists to read; each directory
// entry gives a list's (offset, count, checksum[, codes checksum]), so a reader can fetch and
// verify one list, or only its codes, with one ranged read. Integers little-endian; floats IEEE-754 binary32 little-endian.

/// Constants and byte layout of the IVF format.
public enum IVFFormat {
    public static let magic: [UInt8] = Array("LIVF".utf8)
    /// Written by this build. Version 1 (no quantiser ranges in the head) and version 2 (no
    /// stored codes) stay readable.
    public static let version: UInt16 = 3
    /// Size of the fixed header at the start of the head.
    public static let headerSize = 64
    /// Every list block starts at a multiple of this (relative to the start of the index bytes).
    public static let alignment = 64
    /// Bytes per directory entry: offset u64, count u32, reserved u32, checksum u64, and from
    /// version 3 the codes block's checksum u64.
    static func directoryEntrySize(version: UInt16) -> Int { version >= 3 ? 32 : 24 }

    static func metricCode(_ metric: DistanceMetric) -> UInt8 {
        switch metric {
        case .cosineDistance: 0
        case .euclideanSquared: 1
        }
    }

    static func metric(code: UInt8) -> DistanceMetric? {
        switch code {
        case 0: .cosineDistance
        case 1: .euclideanSquared
        default: nil
        }
    }

    static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Bytes of the head of an index of format `version` (§1.1): header, centroids, curve,
    /// quantiser ranges (from version 2), directory, checksum.
    static func headLength(version: UInt16, dimension: Int, listCount: Int, curvePoints: Int) -> Int {
        headerSize + 4 * (listCount * dimension + curvePoints) + (version >= 2 ? 8 * dimension : 0)
            + directoryEntrySize(version: version) * listCount + 8
    }
}

/// The 8-bit quantiser's per-dimension ranges (Specs/format/ivf.md §5): code 0 is `low`,
/// code 255 is `high`, in the training space. Stored in the head from version 2; a version 1
/// reader samples them from the lists when it opens the index.
public struct IVFQuantizerRanges: Sendable, Equatable {
    public let low: [Float]
    public let high: [Float]
}

/// Where the parts of one posting list lie inside its block (offsets relative to the block).
public struct IVFListLayout: Sendable, Equatable {
    /// Rows in the list.
    public let count: Int
    /// `count` little-endian i32 segment ordinals, ascending, at offset 0.
    public var ordinalsOffset: Int { 0 }
    /// `count` f32 inverse norms (cosine only; `nil` for euclidean_squared).
    public let normsOffset: Int?
    /// `count × dimension` f32, row-major, 64-byte aligned.
    public let vectorsOffset: Int
    /// Total bytes of the block.
    public let length: Int

    public init(count: Int, dimension: Int, hasNorms: Bool) {
        self.count = count
        let ordinalsEnd = count * 4
        normsOffset = hasNorms ? ordinalsEnd : nil
        vectorsOffset = IVFFormat.aligned(ordinalsEnd + (hasNorms ? count * 4 : 0))
        length = vectorsOffset + count * dimension * 4
    }
}

/// Where the parts of one list's codes block lie (format version 3; offsets relative to the
/// block): the rows' 8-bit codes, their code sums, and for euclidean_squared their ‖v‖².
public struct IVFCodeBlockLayout: Sendable, Equatable {
    public let count: Int
    /// `count × dimension` codes, row-major, at offset 0.
    public var codesOffset: Int { 0 }
    /// `count` i32 code sums (`ByteDotScorer.codeSum`), 4-byte aligned.
    public let sumsOffset: Int
    /// `count` f32 squared norms (euclidean_squared only; nil for cosine).
    public let squaredNormsOffset: Int?
    /// Total bytes of the block (without the padding to the next block).
    public let length: Int

    public init(count: Int, dimension: Int, hasSquaredNorms: Bool) {
        self.count = count
        sumsOffset = (count * dimension + 3) / 4 * 4
        squaredNormsOffset = hasSquaredNorms ? sumsOffset + 4 * count : nil
        length = sumsOffset + 4 * count * (hasSquaredNorms ? 2 : 1)
    }
}

/// One directory entry: the list block's absolute offset inside the index bytes, its row
/// count and the xxh3-64 of its `layout.length` bytes; from version 3 also where its codes
/// block starts and the xxh3-64 of that block's `length` bytes.
public struct IVFListEntry: Sendable, Equatable {
    public let offset: Int
    public let count: Int
    public let checksum: UInt64
    /// Version 3: the codes block (offset, checksum); nil for versions 1 and 2.
    public let codes: (offset: Int, checksum: UInt64)?

    public static func == (a: IVFListEntry, b: IVFListEntry) -> Bool {
        a.offset == b.offset && a.count == b.count && a.checksum == b.checksum
            && a.codes?.offset == b.codes?.offset && a.codes?.checksum == b.codes?.checksum
    }
}

/// The decoded head: everything but the posting lists.
public struct IVFHead: Sendable {
    public let metric: DistanceMetric
    public let dimension: Int
    /// Vectors indexed (the sum of the list counts).
    public let vectorCount: Int
    /// Every ordinal is below this (the segment's row count).
    public let ordinalBound: Int
    /// `listCount × dimension` f32, in the training space (unit-normalised rows for cosine).
    public let centroids: [Float]
    public let recallCurve: IVFRecallCurve
    /// The quantiser's ranges (format version 2); nil for version 1, whose readers sample them.
    public let quantizerRanges: IVFQuantizerRanges?
    public let lists: [IVFListEntry]
    /// Bytes of the head (a ranged reader fetches `0..<headLength` first).
    public let headLength: Int
    /// Total bytes of the index.
    public let totalLength: Int

    public var listCount: Int { lists.count }

    public func layout(ofList list: Int) -> IVFListLayout {
        IVFListLayout(count: lists[list].count, dimension: dimension, hasNorms: metric == .cosineDistance)
    }

    /// Byte range of one list block inside the index bytes (one ranged read).
    public func byteRange(ofList list: Int) -> Range<Int> {
        lists[list].offset..<(lists[list].offset + layout(ofList: list).length)
    }

    /// Whether the index stores its lists' 8-bit codes (format version 3).
    public var storesCodes: Bool { lists.first?.codes != nil }

    public func codeLayout(ofList list: Int) -> IVFCodeBlockLayout {
        IVFCodeBlockLayout(count: lists[list].count, dimension: dimension, hasSquaredNorms: metric == .euclideanSquared)
    }

    /// Byte range of one list's codes block (version 3; precondition: `storesCodes`).
    public func codeByteRange(ofList list: Int) -> Range<Int> {
        let offset = lists[list].codes!.offset
        return offset..<(offset + codeLayout(ofList: list).length)
    }

    /// The header tells how long the head is: a ranged reader reads this many bytes first.
    public static let headerSize = IVFFormat.headerSize

    /// Reads `headLength` from the first `IVFFormat.headerSize` bytes.
    public static func headLength(header: UnsafeRawBufferPointer, object: String) throws -> Int {
        var r = BinaryReader(header, object: object)
        try checkPrologue(&r, object: object)
        _ = try r.rawBytes(33)
        return Int(clamping: try r.u64())
    }

    /// Decodes and verifies the head from bytes that start at the index's first byte and hold
    /// at least the head. `object` names the bytes in errors.
    public static func decode(_ raw: UnsafeRawBufferPointer, object: String) throws -> IVFHead {
        var r = BinaryReader(raw, object: object)
        guard raw.count >= IVFFormat.headerSize else { throw r.corrupt("\(raw.count) bytes is shorter than the IVF header") }
        let version = try checkPrologue(&r, object: object)
        guard let metric = IVFFormat.metric(code: try r.u8()) else { throw r.corrupt("unknown metric code") }
        let dimension = Int(try r.u32())
        let listCount = Int(try r.u32())
        let curveCount = Int(try r.u32())
        _ = try r.u32()  // reserved
        let vectorCount = try r.u64()
        let ordinalBound = try r.u64()
        let headLength = try r.u64()
        let listsLength = try r.u64()
        _ = try r.u64()  // reserved
        guard dimension > 0, listCount > 0, curveCount <= listCount else {
            throw r.corrupt("dimension \(dimension), \(listCount) lists, \(curveCount) curve points")
        }
        guard ordinalBound <= UInt64(Int32.max) + 1, vectorCount <= ordinalBound else {
            throw r.corrupt("\(vectorCount) vectors, ordinal bound \(ordinalBound)")
        }
        let expectedHead = IVFFormat.headLength(version: version, dimension: dimension, listCount: listCount, curvePoints: curveCount)
        guard headLength == UInt64(expectedHead) else { throw r.corrupt("head length \(headLength), expected \(expectedHead)") }
        guard raw.count >= expectedHead else { throw r.corrupt("\(raw.count) bytes hold no complete head of \(expectedHead)") }
        let stored = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: expectedHead - 8, as: UInt64.self))
        guard ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: raw[0..<(expectedHead - 8)])) == stored else {
            throw r.corrupt("head checksum mismatch")
        }
        let centroids = try r.floats(listCount * dimension)
        let curve = try r.floats(curveCount)
        var ranges: IVFQuantizerRanges? = nil
        if version >= 2 {
            ranges = IVFQuantizerRanges(low: try r.floats(dimension), high: try r.floats(dimension))
            guard !ranges!.low.contains(where: \.isNaN), !ranges!.high.contains(where: \.isNaN) else {
                throw r.corrupt("quantiser range is NaN")
            }
        }
        let listsStart = IVFFormat.aligned(expectedHead)
        guard listsLength <= UInt64(Int.max - listsStart) else { throw r.corrupt("lists length \(listsLength)") }
        let totalLength = listsStart + Int(listsLength)
        var raw: [(offset: UInt64, count: Int, checksum: UInt64, codesChecksum: UInt64?)] = []
        raw.reserveCapacity(listCount)
        for _ in 0..<listCount {
            let offset = try r.u64()
            let count = Int(try r.u32())
            _ = try r.u32()
            let checksum = try r.u64()
            raw.append((offset, count, checksum, version >= 3 ? try r.u64() : nil))
        }
        // Lists back to back from the end of the head, then (version 3) the codes blocks.
        var entries: [IVFListEntry] = []
        entries.reserveCapacity(listCount)
        var expectedOffset = listsStart
        var total = 0
        for (i, e) in raw.enumerated() {
            guard e.offset == UInt64(expectedOffset) else { throw r.corrupt("list \(i) at \(e.offset), expected \(expectedOffset)") }
            guard e.count <= Int(vectorCount) else { throw r.corrupt("list \(i) holds \(e.count) of \(vectorCount) vectors") }
            let layout = IVFListLayout(count: e.count, dimension: dimension, hasNorms: metric == .cosineDistance)
            expectedOffset = IVFFormat.aligned(expectedOffset + layout.length)
            guard expectedOffset <= totalLength else { throw r.corrupt("list \(i) ends past the lists region") }
            total += e.count
        }
        guard total == Int(vectorCount) else { throw r.corrupt("lists hold \(total) vectors, header says \(vectorCount)") }
        for (i, e) in raw.enumerated() {
            var codes: (offset: Int, checksum: UInt64)? = nil
            if let codesChecksum = e.codesChecksum {
                codes = (expectedOffset, codesChecksum)
                let layout = IVFCodeBlockLayout(count: e.count, dimension: dimension, hasSquaredNorms: metric == .euclideanSquared)
                expectedOffset = IVFFormat.aligned(expectedOffset + layout.length)
                guard expectedOffset <= totalLength else { throw r.corrupt("codes of list \(i) end past the index") }
            }
            entries.append(IVFListEntry(offset: Int(e.offset), count: e.count, checksum: e.checksum, codes: codes))
        }
        guard expectedOffset == totalLength else { throw r.corrupt("lists end at \(expectedOffset), header says \(totalLength)") }
        return IVFHead(metric: metric, dimension: dimension, vectorCount: Int(vectorCount), ordinalBound: Int(ordinalBound),
                       centroids: centroids, recallCurve: IVFRecallCurve(recall: curve), quantizerRanges: ranges, lists: entries,
                       headLength: expectedHead, totalLength: totalLength)
    }

    /// Checks magic, version and encoding; returns the version.
    @discardableResult
    private static func checkPrologue(_ r: inout BinaryReader, object: String) throws -> UInt16 {
        guard try r.rawBytes(4) == IVFFormat.magic else { throw r.corrupt("bad IVF magic") }
        let version = try r.u16()
        guard version <= IVFFormat.version else {
            throw FormatError(.tooNew, object: object, "ivf version \(version); this build reads up to \(IVFFormat.version)")
        }
        guard version >= 1 else { throw FormatError(.tooOld, object: object, "ivf version \(version)") }
        let encoding = try r.u8()
        guard encoding == ObjectEnvelope.Encoding.f32.rawValue else {
            throw FormatError(.tooNew, object: object, "unknown vector encoding \(encoding)")
        }
        return version
    }

    /// Checks one list's codes block (version 3) against its directory checksum.
    public func verifyCodes(list: Int, block: UnsafeRawBufferPointer, object: String) throws {
        let length = codeLayout(ofList: list).length
        guard block.count == length else {
            throw FormatError(.corrupt, object: object, "codes of list \(list): \(block.count) bytes, expected \(length)")
        }
        guard ContentHash.xxh3(block) == lists[list].codes?.checksum else {
            throw FormatError(.corrupt, object: object, "codes of list \(list): checksum mismatch")
        }
    }

    /// Checks one list block's checksum and that its ordinals are ascending and below
    /// `ordinalBound` (so filters and callers can index by them without traps).
    public func verify(list: Int, block: UnsafeRawBufferPointer, object: String) throws {
        let layout = layout(ofList: list)
        guard block.count == layout.length else {
            throw FormatError(.corrupt, object: object, "list \(list): \(block.count) bytes, expected \(layout.length)")
        }
        guard ContentHash.xxh3(block) == lists[list].checksum else {
            throw FormatError(.corrupt, object: object, "list \(list): checksum mismatch")
        }
        var previous: Int32 = -1
        for i in 0..<layout.count {
            let o = Int32(littleEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            guard o > previous, Int(o) < ordinalBound else {
                throw FormatError(.corrupt, object: object, "list \(list): ordinal \(o) out of order or ≥ \(ordinalBound)")
            }
            previous = o
        }
    }
}

/// Writes the bytes of an index.
enum IVFEncoder {
    /// One list to write: ordinals ascending; `norms` only for cosine; `rows` the positions of
    /// its vectors in the build's matrix, in the same order as `ordinals`.
    struct List {
        var ordinals: [Int32]
        var norms: [Float]
        var rows: [Int]
    }

    /// Where everything goes: fixed before any byte is written, so a segment writer can
    /// reserve the index's bytes inside the object and have them encoded in place.
    struct Layout {
        let headLength: Int
        let listsStart: Int
        let offsets: [Int]
        let codeOffsets: [Int]
        let total: Int

        init(dimension: Int, cosine: Bool, curvePoints: Int, lists: [List]) {
            headLength = IVFFormat.headLength(version: IVFFormat.version, dimension: dimension, listCount: lists.count,
                                              curvePoints: curvePoints)
            var cursor = IVFFormat.aligned(headLength)
            listsStart = cursor
            var offsets: [Int] = []
            for list in lists {
                offsets.append(cursor)
                cursor = IVFFormat.aligned(cursor + IVFListLayout(count: list.ordinals.count, dimension: dimension, hasNorms: cosine).length)
            }
            var codeOffsets: [Int] = []
            for list in lists {
                codeOffsets.append(cursor)
                cursor = IVFFormat.aligned(cursor + IVFCodeBlockLayout(count: list.ordinals.count, dimension: dimension, hasSquaredNorms: !cosine).length)
            }
            self.offsets = offsets
            self.codeOffsets = codeOffsets
            total = cursor
        }
    }

    /// Writes the index into `out` (exactly `layout.total` bytes, zero-filled, 64-byte
    /// aligned); `copyRow(r, to)` puts the build's row `r` (`dimension` floats) at `to`.
    static func write(into out: UnsafeMutableRawBufferPointer, layout: Layout, metric: DistanceMetric, dimension: Int,
                      ordinalBound: Int, centroids: [Float], curve: [Float], ranges: IVFQuantizerRanges,
                      lists: [List], copyRow: (Int, UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        #if _endian(big)
        fatalError("IVF encoder assumes a little-endian host")
        #endif
        precondition(out.count == layout.total, "IVFEncoder.write: \(out.count) bytes for an index of \(layout.total)")
        let listCount = lists.count
        let cosine = metric == .cosineDistance
        let quantizer = ScalarQuantizer(low: ranges.low, high: ranges.high)
        func put<T: FixedWidthInteger>(_ v: T, _ at: Int) { out.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self) }
        func putFloats(_ values: [Float], _ at: Int) {
            values.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + $0.count)]).copyMemory(from: $0) }
        }
        // Lists and codes first: the directory needs their checksums.
        var checksums: [UInt64] = []
        var codeChecksums: [UInt64] = []
        for (i, list) in lists.enumerated() {
            let n = list.ordinals.count
            let listLayout = IVFListLayout(count: n, dimension: dimension, hasNorms: cosine)
            let base = layout.offsets[i]
            for (j, o) in list.ordinals.enumerated() { put(o, base + 4 * j) }
            if let normsOffset = listLayout.normsOffset { putFloats(list.norms, base + normsOffset) }
            let listVectors = (out.baseAddress! + base + listLayout.vectorsOffset).bindMemory(to: Float.self, capacity: n * dimension)
            for (j, r) in list.rows.enumerated() { try copyRow(r, listVectors + j * dimension) }
            checksums.append(ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: out[base..<(base + listLayout.length)])))

            // The list's codes, encoded straight into place (ranges of §1.4) from the vectors
            // just written.
            let codes = IVFCodeBlockLayout(count: n, dimension: dimension, hasSquaredNorms: !cosine)
            let at = layout.codeOffsets[i]
            if n > 0, let block = UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + codes.length)]).baseAddress {
                IVFQuantizedLists.encode(
                    listVectors, count: n, quantizer: quantizer, scale: { cosine ? list.norms[$0] : 1 },
                    codes: UnsafeMutableBufferPointer(start: block.bindMemory(to: UInt8.self, capacity: n * dimension), count: n * dimension),
                    sums: UnsafeMutableBufferPointer(start: (block + codes.sumsOffset).bindMemory(to: Int32.self, capacity: n), count: n),
                    squaredNorms: UnsafeMutableBufferPointer(start: codes.squaredNormsOffset.map { (block + $0).bindMemory(to: Float.self, capacity: n) },
                                                             count: codes.squaredNormsOffset == nil ? 0 : n))
            }
            codeChecksums.append(ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: out[at..<(at + codes.length)])))
        }
        // Header.
        IVFFormat.magic.withUnsafeBytes { out.copyMemory(from: $0) }
        put(IVFFormat.version, 4)
        put(ObjectEnvelope.Encoding.f32.rawValue, 6)
        put(IVFFormat.metricCode(metric), 7)
        put(UInt32(dimension), 8)
        put(UInt32(listCount), 12)
        put(UInt32(curve.count), 16)
        // 20..<24 reserved (zero)
        put(UInt64(lists.reduce(0) { $0 + $1.ordinals.count }), 24)
        put(UInt64(ordinalBound), 32)
        put(UInt64(layout.headLength), 40)
        put(UInt64(layout.total - layout.listsStart), 48)
        // 56..<64 reserved (zero)
        var at = IVFFormat.headerSize
        putFloats(centroids, at)
        at += 4 * centroids.count
        putFloats(curve, at)
        at += 4 * curve.count
        putFloats(ranges.low, at)
        putFloats(ranges.high, at + 4 * dimension)
        at += 8 * dimension
        for i in 0..<listCount {
            put(UInt64(layout.offsets[i]), at)
            put(UInt32(lists[i].ordinals.count), at + 8)
            put(UInt32(0), at + 12)
            put(checksums[i], at + 16)
            put(codeChecksums[i], at + 24)
            at += IVFFormat.directoryEntrySize(version: IVFFormat.version)
        }
        put(ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: out[0..<at])), at)
    }
}
