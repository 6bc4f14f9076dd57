/// A cursor over one term's postings in a segment (tantivy's DocSet contract): `doc` is the
/// current row or `PostingCursor.end`, `advance` moves to the next row, `seek` to the first
/// row at or after a target, skipping whole blocks by their last row without decoding them.
public struct PostingCursor {
    public static let end = Int32.max

    private let index: SegmentTextIndex
    private let term: SegmentTextIndex.Term
    private var block = 0
    /// The current block's last row (what `seek` compares first).
    private var lastRowOfBlock: Int32 = -1
    private var rows: [Int32] = []
    private var frequencies: [UInt32] = []
    private var position = 0
    public private(set) var doc: Int32 = end
    /// Blocks `seek` passed over without decoding them.
    public private(set) var skippedBlocks = 0

    public init(index: SegmentTextIndex, term: SegmentTextIndex.Term) {
        self.index = index
        self.term = term
        rows.reserveCapacity(SegmentTextIndex.blockSize)
        frequencies.reserveCapacity(SegmentTextIndex.blockSize)
        load()
    }

    public var termFrequency: UInt32 { frequencies[position] }

    /// The block the cursor is in (its bounds hold for every row left in it).
    public var currentBlock: SegmentTextIndex.Block? { block < term.blockCount ? index.withBlocks(of: term) { $0[block] } : nil }

    private mutating func load() {
        guard block < term.blockCount else {
            doc = Self.end
            return
        }
        index.decode(index.withBlocks(of: term) { $0[block] }, rows: &rows, frequencies: &frequencies)
        position = 0
        doc = rows[0]
        lastRowOfBlock = rows[rows.count - 1]
    }

    public mutating func advance() {
        position += 1
        if position < rows.count {
            doc = rows[position]
        } else {
            block += 1
            load()
        }
    }

    public mutating func seek(_ target: Int32) {
        guard doc < target else { return }
        if lastRowOfBlock < target {
            block += 1
            if block < term.blockCount {
                index.withBlocks(of: term) { entries in
                    while block < entries.count, entries[block].lastRow < target {
                        block += 1
                        skippedBlocks += 1
                    }
                }
            }
            load()
            guard doc < target else { return }
        }
        while doc < target { advance() }
    }
}
