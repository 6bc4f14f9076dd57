public import Log

/// Turns text into BM25 terms: split on anything that is not a letter or digit,
/// lowercase (unless case-sensitive), drop English stopwords (unless disabled), and stem
/// with the Snowball English stemmer when stemming is on. Documents and queries go
/// through the same tokenizer, so the settings are per attribute (namespace schema).
public struct Tokenizer: Sendable {
    public let config: FullTextConfig

    public init(_ config: FullTextConfig) {
        self.config = config
    }

    /// The English stopword list of Lucene's and tantivy's default analyzers.
    public static let englishStopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
        "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
        "they", "this", "to", "was", "will", "with",
    ]

    public func tokens(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        func flush() {
            guard !current.isEmpty else { return }
            let word = config.caseSensitive ? current : current.lowercased()
            current = ""
            if config.removeStopwords && Self.englishStopwords.contains(config.caseSensitive ? word.lowercased() : word) {
                return
            }
            result.append(config.stemming ? EnglishStemmer.stem(word) : word)
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.unicodeScalars.append(scalar)
            } else {
                flush()
            }
        }
        flush()
        return result
    }

    /// Terms of an attribute value: strings, and every string of a string array.
    public func tokens(of value: AttributeValue) -> [String] {
        switch value {
        case .string(let s): return tokens(s)
        case .array(let items): return items.flatMap { tokens(of: $0) }
        default: return []
        }
    }
}
