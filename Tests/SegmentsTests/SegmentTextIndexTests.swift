import Foundation
import LagoonTestSupport
import Log
import Segments
import Testing

/// The full-text part read in place (Specs/format/segment.md, "Full-text index"): lookups by
/// bisection against the inverted map the part was encoded from, and damage found by the
/// structural check at load or by the first lookup of the damaged term.
@Suite("Segment text index read in place")
struct SegmentTextIndexTests {
    typealias Postings = [String: (rows: [Int32], tfs: [UInt32])]

    /// Random postings over `rows` rows: terms of every length (multi-byte UTF-8 too, and
    /// prefixes of one another), each in a random subset of rows.
    static func randomInverted(rows: Int, terms: Int, seed: UInt64) -> (lengths: [UInt32], postings: Postings) {
        var rng = SeededRandom(seed: seed)
        let alphabet = Array("abcdeé語z")
        var postings: Postings = [:]
        var lengths = [UInt32](repeating: 0, count: rows)
        while postings.count < terms {
            let term = String((0..<Int.random(in: 1...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            guard postings[term] == nil else { continue }
            let share = [0.001, 0.02, 0.3, 0.9].randomElement(using: &rng)!
            var list: (rows: [Int32], tfs: [UInt32]) = ([], [])
            for row in 0..<rows where rng.chance(share) {
                let tf = UInt32.random(in: 1...5, using: &rng)
                list.rows.append(Int32(row))
                list.tfs.append(tf)
                lengths[row] += tf
            }
            if list.rows.isEmpty { list = ([Int32(Int.random(in: 0..<rows, using: &rng))], [1]); lengths[Int(list.rows[0])] += 1 }
            postings[term] = list
        }
        return (lengths, postings)
    }

    static func decodeAll(_ index: SegmentTextIndex, _ term: SegmentTextIndex.Term) -> (rows: [Int32], tfs: [UInt32]) {
        var all: (rows: [Int32], tfs: [UInt32]) = ([], [])
        var rows: [Int32] = [], tfs: [UInt32] = []
        for block in index.blocks(of: term) {
            index.decode(block, rows: &rows, frequencies: &tfs)
            all.rows += rows
            all.tfs += tfs
        }
        return all
    }

    @Test func everyTermIsFoundWithItsPostingsAndNoOtherIs() throws {
        let (lengths, postings) = Self.randomInverted(rows: 700, terms: 400, seed: 7)
        let bytes = Data(SegmentTextIndex.encode((lengths, postings)))
        let index = try SegmentTextIndex.decode(bytes, rowCount: 700, object: "t")
        #expect((0..<700).map { index.length(ofRow: $0) } == lengths)
        #expect(index.documentCount == lengths.filter { $0 > 0 }.count)
        #expect(index.totalLength == lengths.reduce(0) { $0 + Int($1) })
        for (text, expected) in postings {
            let term = try #require(try index.term(text), "\(text)")
            #expect(term.documentFrequency == expected.rows.count)
            let decoded = Self.decodeAll(index, term)
            #expect(decoded.rows == expected.rows && decoded.tfs == expected.tfs, "\(text)")
            // A second lookup (blocks already checked) answers the same.
            #expect(try index.term(text)?.documentFrequency == expected.rows.count)
        }
        var rng = SeededRandom(seed: 8)
        for _ in 0..<500 {
            let probe = String((0..<Int.random(in: 0...7, using: &rng)).map { _ in Array("abcdeé語zq").randomElement(using: &rng)! })
            #expect((try index.term(probe) != nil) == (postings[probe] != nil), "\(probe)")
        }
    }

    @Test("a damaged posting block fails the first lookup of its term, not the load")
    func damagedBlockFailsItsTerm() throws {
        let postings: Postings = ["alpha": ([0, 1, 2], [1, 1, 1]), "omega": ([1, 2], [2, 3])]
        var bytes = SegmentTextIndex.encode(([2, 3, 4], postings))
        // The posting bytes end with omega's block: its final tf varint gets a continuation bit
        // with nothing after it.
        bytes[bytes.count - 1] |= 0x80
        let index = try SegmentTextIndex.decode(Data(bytes), rowCount: 3, object: "seg#text/t")
        #expect(try index.term("alpha")?.documentFrequency == 3)
        #expect(throws: FormatError.self) { try index.term("omega") }
        #expect(throws: FormatError.self) { try index.term("omega") }
    }

    @Test("structural damage fails the load")
    func structuralDamageFailsTheLoad() throws {
        let postings: Postings = ["alpha": ([0], [1]), "beta": ([1], [1])]
        let good = SegmentTextIndex.encode(([1, 1], postings))
        #expect(throws: FormatError.self) { try SegmentTextIndex.decode(Data(good), rowCount: 3, object: "t") }
        #expect(throws: FormatError.self) { try SegmentTextIndex.decode(Data(good.dropLast()), rowCount: 2, object: "t") }
        // Swap the two terms' first letters: "blpha" then "aeta" is out of byte order.
        var swapped = good
        let a = try #require(swapped.firstIndex(of: UInt8(ascii: "a")))
        let b = try #require(swapped.firstIndex(of: UInt8(ascii: "b")))
        swapped[a] = UInt8(ascii: "b")
        swapped[b] = UInt8(ascii: "a")
        #expect(throws: FormatError.self) { try SegmentTextIndex.decode(Data(swapped), rowCount: 2, object: "t") }
    }
}
