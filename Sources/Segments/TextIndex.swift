public import Log

/// The in-memory inverted index of one full-text attribute over a projection's rows,
/// with the namespace-wide statistics BM25 needs (N, average length, document frequency)
/// counted over live rows only, so scores do not depend on how rows are laid out.
public struct TextIndex: Sendable {
    public struct Postings: Sendable {
        public var rows: [Int32] = []
        public var termFrequencies: [UInt16] = []
        /// Live rows containing the term.
        public var documentFrequency = 0

        mutating func append(row: Int32, termFrequency: Int) {
            rows.append(row)
            termFrequencies.append(UInt16(clamping: termFrequency))
            documentFrequency += 1
        }
    }

    public let tokenizer: Tokenizer
    public private(set) var postings = TermPostings()
    /// Each word seen (lowercased, before stemming) → the slot of its term: indexing a word
    /// seen before is one hash lookup, not a stem lookup plus a postings lookup. Bounded by
    /// the vocabulary of the rows this index holds.
    private var slotOfWord: [String: Int32] = [:]
    /// Token count per row (0 for rows without text).
    public private(set) var lengths: ChunkedColumn<UInt32> = ChunkedColumn()
    /// Live rows with at least one token.
    public private(set) var documentCount = 0
    public private(set) var totalLength = 0

    public init(config: FullTextConfig) {
        tokenizer = Tokenizer(config)
    }

    public var averageLength: Double {
        documentCount == 0 ? 0 : Double(totalLength) / Double(documentCount)
    }

    /// Indexes the value of row `row` (rows arrive in order, each exactly once).
    public mutating func add(row: Int32, value: AttributeValue) {
        precondition(Int(row) == lengths.count, "rows must be added in order")
        let words = tokenizer.words(of: value)
        lengths.append(UInt32(words.count))
        guard !words.isEmpty else { return }
        documentCount += 1
        totalLength += words.count
        var slots: [Int32] = []
        slots.reserveCapacity(words.count)
        for word in words { slots.append(slot(ofWord: word)) }
        for (slot, tf) in Self.termCounts(slots) {
            postings.lists[Int(slot)].append(row: row, termFrequency: tf)
        }
    }

    /// The slot of the word's term, creating the term when new.
    private mutating func slot(ofWord word: String) -> Int32 {
        if let slot = slotOfWord[word] { return slot }
        let slot = postings.slot(forInserting: tokenizer.term(ofWord: word))
        slotOfWord[word] = slot
        return slot
    }

    /// Distinct elements with their counts, in first-seen order. Documents are short, so a
    /// linear scan beats hashing every token into a dictionary.
    static func termCounts<T: Hashable>(_ tokens: [T]) -> [(T, Int)] {
        guard tokens.count > 32 else {
            var counts: [(T, Int)] = []
            counts.reserveCapacity(tokens.count)
            outer: for token in tokens {
                for i in counts.indices where counts[i].0 == token {
                    counts[i].1 += 1
                    continue outer
                }
                counts.append((token, 1))
            }
            return counts
        }
        var index: [T: Int] = [:]
        var counts: [(T, Int)] = []
        for token in tokens {
            if let i = index[token] {
                counts[i].1 += 1
            } else {
                index[token] = counts.count
                counts.append((token, 1))
            }
        }
        return counts
    }

    /// Takes a row out of the statistics when it dies; `value` is the row's stored value.
    public mutating func remove(row: Int32, value: AttributeValue) {
        let length = Int(lengths[Int(row)])
        guard length > 0 else { return }
        documentCount -= 1
        totalLength -= length
        for (term, _) in Self.termCounts(tokenizer.tokens(of: value)) {
            postings.decrementDocumentFrequency(of: term)
        }
    }

    /// The index of rows `first...` alone, renumbered from 0, as indexing only them would
    /// build it: the statistics lose the rows below `first` that `alive` (per row of the
    /// projection) says are live, and terms no kept row holds disappear.
    public func droppingRows(below first: Int, alive: [Bool]) -> TextIndex {
        guard first > 0 else { return self }
        var kept = TextIndex(tokenizer: tokenizer)
        kept.documentCount = documentCount
        kept.totalLength = totalLength
        for row in 0..<min(first, lengths.count) where alive[row] && lengths[row] > 0 {
            kept.documentCount -= 1
            kept.totalLength -= Int(lengths[row])
        }
        for row in first..<lengths.count { kept.lengths.append(lengths[row]) }
        let base = Int32(first)
        for (term, list) in postings {
            // Rows ascend: the kept ones are a suffix of the list.
            let lo = SortedRows.firstPosition(atOrAbove: first, count: list.rows.count) { list.rows[$0] }
            guard lo < list.rows.count else { continue }
            var suffix = Postings()
            suffix.rows = list.rows[lo...].map { $0 - base }
            suffix.termFrequencies = Array(list.termFrequencies[lo...])
            suffix.documentFrequency = list.documentFrequency - list.rows[..<lo].reduce(0) { alive[Int($1)] ? $0 + 1 : $0 }
            kept.postings.lists[Int(kept.postings.slot(forInserting: term))] = suffix
        }
        return kept
    }

    private init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// This index over the rows `segmentRows` maps (row → new row, -1: left out), renumbered,
    /// as `SegmentTextIndex.build` inverts those rows' values into `count` rows. Nil when this
    /// index tokenises under another config, or a term frequency reached the clamp of
    /// `Postings.termFrequencies` (then only tokenising again gives the exact count).
    public func inverted(config: FullTextConfig, segmentRows: [Int32], count: Int) -> SegmentTextIndex.Inverted? {
        guard tokenizer.config == config else { return nil }
        var newLengths = [UInt32](repeating: 0, count: count)
        for (row, target) in segmentRows.enumerated() where target >= 0 { newLengths[Int(target)] = lengths[row] }
        var inverted: [String: (rows: [Int32], tfs: [UInt32])] = [:]
        inverted.reserveCapacity(postings.count)
        var pairs: [(row: Int32, tf: UInt16)] = []
        for (term, list) in postings {
            pairs.removeAll(keepingCapacity: true)
            for (row, tf) in zip(list.rows, list.termFrequencies) {
                let target = segmentRows[Int(row)]
                guard target >= 0 else { continue }
                guard tf < UInt16.max else { return nil }
                pairs.append((target, tf))
            }
            guard !pairs.isEmpty else { continue }
            pairs.sort { $0.row < $1.row }
            inverted[term] = (pairs.map(\.row), pairs.map { UInt32($0.tf) })
        }
        return (newLengths, inverted)
    }

    /// Query terms, deduplicated in first-seen order.
    public func queryTerms(_ text: String) -> [String] {
        var seen = Set<String>()
        return tokenizer.tokens(text).filter { seen.insert($0).inserted }
    }
}

/// A text index's postings by term: each term has a slot, fixed while the index lives, so
/// indexing addresses postings by slot and lookups by term.
public struct TermPostings: Sendable, Sequence {
    private var slotOfTerm: [String: Int32] = [:]
    private var terms: [String] = []
    fileprivate var lists: [TextIndex.Postings] = []

    public var count: Int { terms.count }
    /// Every term, in slot order.
    public var keys: [String] { terms }

    public subscript(term: String) -> TextIndex.Postings? {
        slotOfTerm[term].map { lists[Int($0)] }
    }

    /// The term's slot, with empty postings when the term is new.
    fileprivate mutating func slot(forInserting term: String) -> Int32 {
        if let slot = slotOfTerm[term] { return slot }
        let slot = Int32(terms.count)
        slotOfTerm[term] = slot
        terms.append(term)
        lists.append(TextIndex.Postings())
        return slot
    }

    fileprivate mutating func decrementDocumentFrequency(of term: String) {
        guard let slot = slotOfTerm[term] else { return }
        lists[Int(slot)].documentFrequency -= 1
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: TextIndex.Postings)> {
        zip(terms, lists).lazy.map { (key: $0, value: $1) }.makeIterator()
    }
}
