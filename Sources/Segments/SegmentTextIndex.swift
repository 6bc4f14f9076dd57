public import Foundation
public import Kernels
public import Log

/// The full-text index of one attribute inside a segment (Specs/format/segment.md, part
/// `text/{attribute}`): a sorted term dictionary, postings in blocks of up to 128 rows, and
/// the token count of every row.
///
/// Each block records its last row, its row count, the largest term frequency in it and the
/// smallest document length in it. BM25 grows with tf and shrinks with dl, so
/// `score(maxTF, minLength)` bounds every score in the block for any k1, b and avgdl: block-max
/// pruning works with statistics that are only known at query time (namespace-wide).
public struct SegmentTextIndex: Sendable {
    public static let blockSize = 128

    public struct Block: Sendable {
        public var lastRow: Int32
        public var count: Int32
        public var maxTermFrequency: UInt32
        public var minLength: UInt32
        /// Byte range of the block's varints inside `postingBytes`.
        public var byteOffset: Int
        public var byteLength: Int
    }

    public struct Term: Sendable {
        public var documentFrequency: Int
        public var blocks: Range<Int>
    }

    public let terms: [String: Term]
    public let blocks: [Block]
    public let postingBytes: [UInt8]
    /// Tokens per row (0 for rows without text).
    public let lengths: [UInt32]
    /// Rows with at least one token, and their total tokens (every row of the segment,
    /// deleted or not; the snapshot subtracts what deletions take away).
    public let documentCount: Int
    public let totalLength: Int

    /// Decodes one block into `rows` and `frequencies` (cleared first).
    public func decode(_ block: Block, rows: inout [Int32], frequencies: inout [UInt32]) {
        rows.removeAll(keepingCapacity: true)
        frequencies.removeAll(keepingCapacity: true)
        postingBytes.withUnsafeBytes { raw in
            let slice = UnsafeRawBufferPointer(rebasing: raw[block.byteOffset..<(block.byteOffset + block.byteLength)])
            var offset = 0
            var row: Int32 = -1
            for _ in 0..<Int(block.count) {
                // Validated when the part was loaded, so these cannot fail here.
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
        let sortedTerms = postings.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
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

    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> SegmentTextIndex {
        try data.withUnsafeBytes { raw in
            var r = BinaryReader(raw, object: object)
            let rows = Int(try r.u32())
            guard rows == rowCount, rows <= r.remaining / 4 else { throw r.corrupt("text index rows \(rows) ≠ segment rows \(rowCount)") }
            var lengths = [UInt32](repeating: 0, count: rows)
            var documentCount = 0, totalLength = 0
            for i in 0..<rows {
                lengths[i] = try r.u32()
                if lengths[i] > 0 { documentCount += 1; totalLength += Int(lengths[i]) }
            }
            let termCount = Int(try r.u32())
            guard termCount <= r.remaining / 12 else { throw r.corrupt("term count \(termCount) exceeds the part") }
            var terms: [String: Term] = [:]
            terms.reserveCapacity(termCount)
            var blocks: [Block] = []
            var pending: [(Int, Int)] = []  // (offset, length) checked once the posting bytes are known
            for _ in 0..<termCount {
                let term = try r.string()
                let df = Int(try r.u32())
                let blockCount = Int(try r.u32())
                guard blockCount == (df + blockSize - 1) / blockSize, blockCount <= r.remaining / 28 + 1 else {
                    throw r.corrupt("term \(term): \(blockCount) blocks for \(df) rows")
                }
                let first = blocks.count
                var previousLast: Int32 = -1
                for _ in 0..<blockCount {
                    let last = Int32(bitPattern: try r.u32())
                    let count = Int32(bitPattern: try r.u32())
                    let maxTF = try r.u32(), minLength = try r.u32()
                    let offset = try r.u64(), length = try r.u32()
                    guard count > 0, Int(count) <= blockSize, last > previousLast, Int(last) < rows, offset < UInt64(Int.max) else {
                        throw r.corrupt("term \(term): malformed block")
                    }
                    previousLast = last
                    pending.append((Int(offset), Int(length)))
                    blocks.append(Block(lastRow: last, count: count, maxTermFrequency: maxTF, minLength: minLength,
                                        byteOffset: Int(offset), byteLength: Int(length)))
                }
                guard terms[term] == nil else { throw r.corrupt("term \(term) appears twice") }
                terms[term] = Term(documentFrequency: df, blocks: first..<blocks.count)
            }
            let byteCount = try r.u64()
            guard byteCount == UInt64(r.remaining) else { throw r.corrupt("posting bytes \(byteCount) ≠ \(r.remaining)") }
            let bytes = try r.rawBytes(Int(byteCount))
            for (offset, length) in pending where offset > bytes.count || length > bytes.count - offset {
                throw r.corrupt("a posting block lies outside the posting bytes")
            }
            let index = SegmentTextIndex(terms: terms, blocks: blocks, postingBytes: bytes, lengths: lengths,
                                         documentCount: documentCount, totalLength: totalLength)
            try index.validateBlocks(object: object)
            return index
        }
    }

    /// Decodes every block once so that query-time decoding cannot meet a malformed varint
    /// or a row outside the segment.
    private func validateBlocks(object: String) throws {
        try postingBytes.withUnsafeBytes { raw in
            for block in blocks {
                let slice = UnsafeRawBufferPointer(rebasing: raw[block.byteOffset..<(block.byteOffset + block.byteLength)])
                var offset = 0
                var row: Int64 = -1
                for _ in 0..<Int(block.count) {
                    guard let delta = VarInt.tryDecode(from: slice, offset: &offset), delta > 0, delta < UInt64(Int32.max),
                          VarInt.tryDecode(from: slice, offset: &offset) != nil else {
                        throw FormatError(.corrupt, object: object, "malformed posting block")
                    }
                    row += Int64(delta)
                }
                guard row == Int64(block.lastRow), offset == block.byteLength else {
                    throw FormatError(.corrupt, object: object, "posting block does not end at its last row")
                }
            }
        }
    }
}
