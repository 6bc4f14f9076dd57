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
    public private(set) var postings: [String: Postings] = [:]
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
        let tokens = tokenizer.tokens(of: value)
        lengths.append(UInt32(tokens.count))
        guard !tokens.isEmpty else { return }
        documentCount += 1
        totalLength += tokens.count
        for (term, tf) in Self.termCounts(tokens) {
            postings[term, default: Postings()].append(row: row, termFrequency: tf)
        }
    }

    /// Distinct terms with their counts, in first-seen order. Documents are short, so a
    /// linear scan beats hashing every token into a dictionary.
    static func termCounts(_ tokens: [String]) -> [(String, Int)] {
        guard tokens.count > 32 else {
            var counts: [(String, Int)] = []
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
        var index: [String: Int] = [:]
        var counts: [(String, Int)] = []
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
            postings[term]?.documentFrequency -= 1
        }
    }

    /// Query terms, deduplicated in first-seen order.
    public func queryTerms(_ text: String) -> [String] {
        var seen = Set<String>()
        return tokenizer.tokens(text).filter { seen.insert($0).inserted }
    }
}
