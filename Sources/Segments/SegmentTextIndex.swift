public import Foundation
import Synchronization
public import Kernels
public import Log

/// The full-text index of one attribute inside a segment (Specs/format/segment.md, part
/// `text/{attribute}`): a sorted term dictionary, postings in blocks of up to 128 rows, and
/// the token count of every row.
///
/// Read in place: loading keeps the part's bytes and notes where each term's record starts
/// (one pass that skips over blocks), so a query looks terms up by bisection over the sorted
/// dictionary and decodes only the blocks it visits. A term's blocks are checked in full the
/// first time a query looks the term up, so decoding can trust them afterwards.
///
/// Each block records its last row, its row count, the largest term frequency in it and the
/// smallest document length in it. BM25 grows with tf and shrinks with dl, so
/// `score(maxTF, minLength)` bounds every score in the block for any k1, b and avgdl: block-max
/// pruning works with statistics that are only known at query time (namespace-wide).
public struct SegmentTextIndex: Sendable {
    public static let blockSize = 128
    /// Bytes of one block's entry in the term dictionary.
    static let blockHeaderBytes = 28

    public struct Block: Sendable {
        public var lastRow: Int32
        public var count: Int32
        public var maxTermFrequency: UInt32
        public var minLength: UInt32
        /// Byte range of the block's varints inside the part.
        public var byteOffset: Int
        public var byteLength: Int
    }

    public struct Term: Sendable {
        public var documentFrequency: Int
        /// The term's rank in the sorted dictionary.
        let number: Int
        /// Where the term's block entries start inside the part.
        let blockEntries: Int
        let blockCount: Int
    }

    /// The part's bytes, owned for the index's lifetime.
    private let bytes: PartBytes
    /// Byte offset of every term's record, in dictionary (byte) order.
    private let termRecords: [Int]
    /// Where the posting bytes begin inside the part.
    private let postingsStart: Int
    private let validated: ValidatedTerms
    public let rowCount: Int
    /// Rows with at least one token, and their total tokens (every row of the segment,
    /// deleted or not; the snapshot subtracts what deletions take away).
    public let documentCount: Int
    public let totalLength: Int

    /// Tokens per row (0 for rows without text), read in place; valid inside `withLengths`.
    public struct Lengths {
        fileprivate let base: UnsafeRawBufferPointer
        public subscript(row: Int) -> UInt32 { base.u32(4 + 4 * row) }
    }

    /// Calls `body` with the token counts (for loops that read one per posting: one access
    /// to the part's bytes for the whole loop).
    public func withLengths<R>(_ body: (Lengths) throws -> R) rethrows -> R {
        try bytes.with { try body(Lengths(base: $0)) }
    }

    /// Tokens of one row.
    public func length(ofRow row: Int) -> UInt32 { withLengths { $0[row] } }

    /// The blocks of one term read in place; valid inside `withBlocks`.
    public struct BlockEntries: RandomAccessCollection {
        fileprivate let base: UnsafeRawBufferPointer
        fileprivate let entries: Int
        fileprivate let postingsStart: Int
        public let count: Int
        public var startIndex: Int { 0 }
        public var endIndex: Int { count }

        public subscript(i: Int) -> Block {
            let at = entries + i * SegmentTextIndex.blockHeaderBytes
            return Block(lastRow: Int32(bitPattern: base.u32(at)), count: Int32(bitPattern: base.u32(at + 4)),
                         maxTermFrequency: base.u32(at + 8), minLength: base.u32(at + 12),
                         byteOffset: postingsStart + Int(truncatingIfNeeded: base.u64(at + 16)), byteLength: Int(base.u32(at + 24)))
        }
    }

    /// A copy of the term's blocks (for callers outside a loop; loops use `withBlocks`).
    public func blocks(of term: Term) -> [Block] { withBlocks(of: term, Array.init) }

    /// Calls `body` with the term's blocks read in place (one access to the part's bytes for a
    /// loop over all of them).
    public func withBlocks<R>(of term: Term, _ body: (BlockEntries) throws -> R) rethrows -> R {
        try bytes.with { try body(BlockEntries(base: $0, entries: term.blockEntries, postingsStart: postingsStart, count: term.blockCount)) }
    }

    /// Looks a term up by bisection over the dictionary. The first lookup of a term checks
    /// every block of it (throwing when one is malformed); later lookups trust them.
    public func term(_ text: String) throws -> Term? {
        var text = text
        let found = text.withUTF8 { lookup($0) }
        guard let found else { return nil }
        if !validated.contains(found.number) {
            try validate(found, named: text)
            validated.insert(found.number)
        }
        return found
    }

    private func lookup(_ wanted: UnsafeBufferPointer<UInt8>) -> Term? {
        bytes.with { base in
            var low = 0, high = termRecords.count
            while low < high {
                let middle = (low + high) / 2
                let at = termRecords[middle]
                let length = Int(base.u32(at))
                let stored = UnsafeRawBufferPointer(rebasing: base[(at + 4)..<(at + 4 + length)])
                let order = Self.compare(stored, UnsafeRawBufferPointer(wanted))
                if order == 0 {
                    let fields = at + 4 + length
                    return Term(documentFrequency: Int(base.u32(fields)), number: middle, blockEntries: fields + 8,
                                blockCount: Int(base.u32(fields + 4)))
                }
                if order < 0 { low = middle + 1 } else { high = middle }
            }
            return nil
        }
    }

    /// Byte order (memcmp, then length).
    private static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = Swift.min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }

    /// Decodes one block into `rows` and `frequencies` (cleared first).
    public func decode(_ block: Block, rows: inout [Int32], frequencies: inout [UInt32]) {
        rows.removeAll(keepingCapacity: true)
        frequencies.removeAll(keepingCapacity: true)
        bytes.with { base in
            let slice = UnsafeRawBufferPointer(rebasing: base[block.byteOffset..<(block.byteOffset + block.byteLength)])
            var offset = 0
            var row: Int32 = -1
            for _ in 0..<Int(block.count) {
                // Checked when the term was first looked up, so these cannot fail here.
                let delta = VarInt.tryDecode(from: slice, offset: &offset) ?? 0
                let tf = VarInt.tryDecode(from: slice, offset: &offset) ?? 0
                row += Int32(truncatingIfNeeded: delta)
                rows.append(row)
                frequencies.append(UInt32(truncatingIfNeeded: tf))
            }
        }
    }

    // MARK: Building

    /// Builds the index of `values` (one per row, in row order).
    public static func build(_ values: [AttributeValue], tokenizer: Tokenizer) -> [UInt8] {
        var postings: [String: (rows: [Int32], tfs: [UInt32])] = [:]
        var lengths = [UInt32](repeating: 0, count: values.count)
        for (row, value) in values.enumerated() {
            let tokens = tokenizer.tokens(of: value)
            lengths[row] = UInt32(clamping: tokens.count)
            for (term, tf) in TextIndex.termCounts(tokens) {
                postings[term, default: ([], [])].rows.append(Int32(row))
                postings[term, default: ([], [])].tfs.append(UInt32(clamping: tf))
            }
        }
        return encode(lengths: lengths, postings: postings)
    }

    /// An index already inverted: the token count of every row, and per term its rows
    /// (ascending) with their term frequencies.
    public typealias Inverted = (lengths: [UInt32], postings: [String: (rows: [Int32], tfs: [UInt32])])

    public static func encode(_ inverted: Inverted) -> [UInt8] {
        encode(lengths: inverted.lengths, postings: inverted.postings)
    }

    static func encode(lengths: [UInt32], postings: [String: (rows: [Int32], tfs: [UInt32])]) -> [UInt8] {
        var w = BinaryWriter()
        w.u32(UInt32(lengths.count))
        for length in lengths { w.u32(length) }
        let sortedTerms = postings.keys.sorted { StringBytes.compare($0, $1) < 0 }
        w.u32(UInt32(sortedTerms.count))
        var bytes: [UInt8] = []
        for term in sortedTerms {
            let (rows, tfs) = postings[term]!
            w.string(term)
            w.u32(UInt32(rows.count))
            let blockCount = (rows.count + blockSize - 1) / blockSize
            w.u32(UInt32(blockCount))
            for b in 0..<blockCount {
                let range = (b * blockSize)..<min(rows.count, (b + 1) * blockSize)
                let start = bytes.count
                var previous: Int32 = -1
                var maxTF: UInt32 = 0
                var minLength = UInt32.max
                for i in range {
                    VarInt.append(UInt64(rows[i] - previous), to: &bytes)
                    VarInt.append(UInt64(tfs[i]), to: &bytes)
                    previous = rows[i]
                    maxTF = max(maxTF, tfs[i])
                    minLength = min(minLength, lengths[Int(rows[i])])
                }
                w.u32(UInt32(bitPattern: rows[range.upperBound - 1]))
                w.u32(UInt32(range.count))
                w.u32(maxTF)
                w.u32(minLength)
                w.u64(UInt64(start))
                w.u32(UInt32(bytes.count - start))
            }
        }
        w.u64(UInt64(bytes.count))
        w.raw(bytes)
        return w.bytes
    }

    // MARK: Reading

    /// Takes the part's bytes and checks its structure: the token counts, every term record
    /// and block entry inside the part, terms strictly ascending by bytes, the posting bytes'
    /// length. Block contents are checked per term on first lookup (`term(_:)`).
    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> SegmentTextIndex {
        let bytes = PartBytes(data)
        return try bytes.with { base in
            var r = BinaryReader(base, object: object)
            let rows = Int(try r.u32())
            guard rows == rowCount, rows <= r.remaining / 4 else { throw r.corrupt("text index rows \(rows) ≠ segment rows \(rowCount)") }
            var documentCount = 0, totalLength = 0
            let lengthsStart = try r.skip(4 * rows)
            for row in 0..<rows {
                let length = base.u32(lengthsStart + 4 * row)
                if length > 0 { documentCount += 1; totalLength += Int(length) }
            }
            let termCount = Int(try r.u32())
            guard termCount <= r.remaining / 12 else { throw r.corrupt("term count \(termCount) exceeds the part") }
            var records = [Int](repeating: 0, count: termCount)
            // The records are walked with plain loads (this pass is most of a cold open's
            // work); every field is bounds-checked against the part before it is read.
            var at = r.offset
            var previous = UnsafeRawBufferPointer(start: nil, count: 0)
            for t in 0..<termCount {
                guard base.count - at >= 4 else { throw r.corrupt("term record \(t) truncated at byte \(at)") }
                let length = Int(base.u32(at))
                guard length <= base.count - at - 12 else { throw r.corrupt("term record \(t) truncated at byte \(at)") }
                let text = UnsafeRawBufferPointer(rebasing: base[(at + 4)..<(at + 4 + length)])
                if t > 0, compare(previous, text) >= 0 { throw r.corrupt("terms out of order at byte \(at)") }
                previous = text
                let df = Int(base.u32(at + 4 + length))
                let blockCount = Int(base.u32(at + 8 + length))
                let entries = at + 12 + length
                guard df > 0, blockCount == (df + blockSize - 1) / blockSize, blockCount <= (base.count - entries) / blockHeaderBytes else {
                    throw r.corrupt("term at byte \(at): \(blockCount) blocks for \(df) rows")
                }
                records[t] = at
                at = entries + blockCount * blockHeaderBytes
            }
            r = BinaryReader(base, offset: at, object: object)
            let byteCount = try r.u64()
            guard byteCount == UInt64(r.remaining) else { throw r.corrupt("posting bytes \(byteCount) ≠ \(r.remaining)") }
            return SegmentTextIndex(bytes: bytes, termRecords: records, postingsStart: r.offset, validated: ValidatedTerms(termCount),
                                    rowCount: rows, documentCount: documentCount, totalLength: totalLength, object: object)
        }
    }

    private let object: String

    private init(bytes: PartBytes, termRecords: [Int], postingsStart: Int, validated: ValidatedTerms,
                 rowCount: Int, documentCount: Int, totalLength: Int, object: String) {
        self.bytes = bytes
        self.termRecords = termRecords
        self.postingsStart = postingsStart
        self.validated = validated
        self.rowCount = rowCount
        self.documentCount = documentCount
        self.totalLength = totalLength
        self.object = object
    }

    /// Bytes held in memory: the part, and the dictionary's record offsets.
    public var memoryBytes: Int { bytes.count + termRecords.count * 8 }

    /// Checks every block of a term: its entry (row count, last row ascending and inside the
    /// segment, bytes inside the posting bytes) and its varints (deltas ≥ 1, ending exactly at
    /// the block's last row and length).
    private func validate(_ term: Term, named name: String) throws {
        let postingBytes = bytes.count - postingsStart
        var previousLast: Int64 = -1
        for block in blocks(of: term) {
            let relative = block.byteOffset - postingsStart
            guard block.count > 0, Int(block.count) <= Self.blockSize, Int64(block.lastRow) > previousLast,
                  Int(block.lastRow) < rowCount, relative >= 0, relative <= postingBytes, block.byteLength <= postingBytes - relative else {
                throw FormatError(.corrupt, object: object, "term \(name): malformed block")
            }
            var offset = 0
            var row: Int64 = -1
            try bytes.with { base in
                let slice = UnsafeRawBufferPointer(rebasing: base[block.byteOffset..<(block.byteOffset + block.byteLength)])
                for i in 0..<Int(block.count) {
                    guard let delta = VarInt.tryDecode(from: slice, offset: &offset), delta > 0, delta < UInt64(Int32.max),
                          VarInt.tryDecode(from: slice, offset: &offset) != nil else {
                        throw FormatError(.corrupt, object: object, "term \(name): malformed posting block")
                    }
                    row += Int64(delta)
                    if i == 0, row <= previousLast { throw FormatError(.corrupt, object: object, "term \(name): blocks overlap") }
                }
            }
            guard row == Int64(block.lastRow), offset == block.byteLength else {
                throw FormatError(.corrupt, object: object, "term \(name): posting block does not end at its last row")
            }
            previousLast = row
        }
    }
}

/// A text part's bytes as fetched (heap bytes, or a mapping of a cache file: never copied),
/// read in place.
final class PartBytes: Sendable {
    private let data: Data

    init(_ data: Data) { self.data = data }

    var count: Int { data.count }

    func with<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes(body)
    }
}

/// Which terms of an index have had their blocks checked.
final class ValidatedTerms: Sendable {
    private let words: Mutex<[UInt64]>

    init(_ count: Int) { words = Mutex([UInt64](repeating: 0, count: (count + 63) / 64)) }

    func contains(_ term: Int) -> Bool { words.withLock { $0[term / 64] & (1 << UInt64(term % 64)) != 0 } }
    func insert(_ term: Int) { words.withLock { $0[term / 64] |= 1 << UInt64(term % 64) } }
}

private extension UnsafeRawBufferPointer {
    func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}
