import Log
@testable import Segments
import Testing

@Suite struct TokenizerTests {
    /// Stems come from a shared cache: whether a word is stemmed afresh, found in the cache, or
    /// stemmed again after the cache was emptied for being full, the token is the Snowball stem.
    @Test func cachedStemsEqualTheStemmer() {
        let stemming = Tokenizer(FullTextConfig(stemming: true))
        let plain = Tokenizer(FullTextConfig(stemming: false))
        let text = "Running runners ran; the generously generous connections connected, Über-Straßen läuft"
        let expected = plain.tokens(text).map(EnglishStemmer.stem)
        #expect(expected.contains("run") && expected.contains("generous") && expected.contains("connect"))
        #expect(stemming.tokens(text) == expected)
        #expect(stemming.tokens(text) == expected)  // every word now from the cache
        // More distinct words than the cache holds: it empties and refills, answers unchanged.
        let many = (0...Tokenizer.stemCacheCapacity).map { "walking\($0)s" }
        for word in many.prefix(3) + many.suffix(3) { #expect(stemming.tokens(word) == [EnglishStemmer.stem(word)]) }
        var words = many
        Tokenizer.stem(&words)
        #expect(words.first == EnglishStemmer.stem(many[0]) && words.last == EnglishStemmer.stem(many.last!))
        #expect(stemming.tokens(text) == expected)
    }
}
