public import Log
import Synchronization

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
        var result = words(text)
        if config.stemming { Self.stem(&result) }
        return result
    }

    /// The text's words as `tokens` gives them before stemming: split, lowercased (unless
    /// case-sensitive), stopwords dropped.
    public func words(_ text: String) -> [String] {
        var result: [String] = []
        var word: [UInt8] = []
        var wordIsASCII = true
        func flush() {
            guard !word.isEmpty else { return }
            var token = String(decoding: word, as: UTF8.self)
            word.removeAll(keepingCapacity: true)
            // ASCII words were lowercased byte by byte; others need Unicode case mapping.
            if !wordIsASCII && !config.caseSensitive { token = token.lowercased() }
            wordIsASCII = true
            // No stopword is longer than five letters: skip the set lookup for longer words.
            if config.removeStopwords && token.utf8.count <= 5
                && Self.englishStopwords.contains(config.caseSensitive ? token.lowercased() : token) {
                return
            }
            result.append(token)
        }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                // ASCII fast path: Unicode property lookups are slow and ASCII is the common case.
                var byte = UInt8(v)
                let isUpper = byte >= 65 && byte <= 90
                guard isUpper || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) else {
                    flush()
                    continue
                }
                if isUpper && !config.caseSensitive { byte += 32 }
                word.append(byte)
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                wordIsASCII = false
                word.append(contentsOf: String(scalar).utf8)
            } else {
                flush()
            }
        }
        flush()
        return result
    }

    /// The term of one word of `words`: its stem when stemming is on (through the stem cache,
    /// as `tokens` stems), else the word.
    public func term(ofWord word: String) -> String {
        guard config.stemming else { return word }
        var one = [word]
        Self.stem(&one)
        return one[0]
    }

    /// Stems of recent words. Stemming is a pure function of the word and the costliest step
    /// of tokenising, while a corpus repeats a small vocabulary: a hit is one hash lookup.
    /// Bounded: emptied when full.
    private static let stems = Mutex<[String: String]>([:])
    static let stemCacheCapacity = 1 << 16

    /// Replaces every word by its stem (one lock per text, not per word).
    static func stem(_ words: inout [String]) {
        guard !words.isEmpty else { return }
        stems.withLock { cache in
            for i in words.indices {
                if let stem = cache[words[i]] {
                    words[i] = stem
                    continue
                }
                let stem = EnglishStemmer.stem(words[i])
                if cache.count >= stemCacheCapacity { cache.removeAll(keepingCapacity: true) }
                cache[words[i]] = stem
                words[i] = stem
            }
        }
    }

    /// Terms of an attribute value: strings, and every string of a string array.
    public func tokens(of value: AttributeValue) -> [String] {
        var result = words(of: value)
        if config.stemming { Self.stem(&result) }
        return result
    }

    /// `words` of an attribute value: strings, and every string of a string array.
    public func words(of value: AttributeValue) -> [String] {
        switch value {
        case .string(let s): return words(s)
        case .array(let items): return items.flatMap { words(of: $0) }
        default: return []
        }
    }
}
