import LagoonTestSupport
import Log
import Segments
import Testing

@Suite struct NamespaceProjectionTests {
    static func entry(_ seq: UInt64, _ events: [WriteEvent]) -> WALEntry {
        WALEntry(seq: seq, createdAtMillis: 0, writerToken: "t", events: events)
    }

    @Test func entriesThatCannotFollowAreCorruptAndChangeNothing() throws {
        let config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 2, idKind: .uint)
        var projection = NamespaceProjection(config: config)
        try projection.apply(Self.entry(1, [.upsert(Document(id: .uint(1), vector: [1, 0]))]), config: config)

        let replayed = #expect(throws: FormatError.self) {
            try projection.apply(Self.entry(1, [.upsert(Document(id: .uint(2), vector: [0, 1]))]), config: config)
        }
        #expect(replayed?.code == .corrupt)
        let wrongWidth = #expect(throws: FormatError.self) {
            try projection.apply(Self.entry(2, [.upsert(Document(id: .uint(3), vector: [0, 1])),
                                                .upsert(Document(id: .uint(4), vector: [0, 1, 2]))]), config: config)
        }
        #expect(wrongWidth?.code == .corrupt)
        // Nothing of either rejected entry is visible, and the next good entry still applies.
        #expect(projection.rowCount == 1 && projection.appliedSeq == 1)
        try projection.apply(Self.entry(2, [.upsert(Document(id: .uint(3), vector: [0, 1]))]), config: config)
        #expect(projection.liveCount == 2)
    }

    /// Random entries over a small id space (so upserts overwrite, patches and deletes hit
    /// rows of earlier entries), with text and sparse attributes and some rows without a vector.
    static func randomEntries(count: Int, rng: inout SeededRandom) -> [WALEntry] {
        let words = ["alpha", "beta", "gamma", "delta", "the", "of", "epsilon", "zeta"]
        func text() -> AttributeValue {
            .string((0..<Int.random(in: 0...5, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " "))
        }
        return (1...count).map { seq in
            let events: [WriteEvent] = (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                let id = DocumentID.uint(UInt64.random(in: 0..<20, using: &rng))
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<6:
                    var attributes: [String: AttributeValue] = ["text": text()]
                    if rng.chance(0.5) { attributes["tag"] = .int(Int64.random(in: 0..<3, using: &rng)) }
                    return .upsert(Document(id: id, vector: rng.chance(0.8) ? rng.floats(3) : nil, attributes: attributes))
                case 6..<8:
                    return .patch(id: id, attributes: ["text": text()], vector: nil)
                default:
                    return .delete(id)
                }
            }
            return entry(UInt64(seq), events)
        }
    }

    /// Everything observable of a projection, row by row, plus its text statistics.
    static func expectSame(_ a: NamespaceProjection, _ b: NamespaceProjection, _ context: String) {
        #expect(a.appliedSeq == b.appliedSeq, "\(context)")
        #expect(a.ids == b.ids && a.alive == b.alive && a.liveCount == b.liveCount, "\(context)")
        #expect(a.logicalBytes == b.logicalBytes, "\(context)")
        #expect(Set(a.touchedIDs) == Set(b.touchedIDs), "\(context)")
        #expect(a.dimension == b.dimension && a.columns.keys.sorted() == b.columns.keys.sorted(), "\(context)")
        for row in 0..<min(a.rowCount, b.rowCount) {
            #expect(a.document(row: row) == b.document(row: row), "\(context) row \(row)")
        }
        for id in Set(a.ids) { #expect(a.liveRow(of: id) == b.liveRow(of: id), "\(context) id \(id)") }
        for (name, x) in a.textIndexes {
            guard let y = b.textIndexes[name] else { Issue.record("\(context): no text index \(name)"); continue }
            #expect(x.documentCount == y.documentCount && x.totalLength == y.totalLength, "\(context)")
            #expect((0..<x.lengths.count).map { x.lengths[$0] } == (0..<y.lengths.count).map { y.lengths[$0] }, "\(context)")
            #expect(x.postings.keys.sorted() == y.postings.keys.sorted(), "\(context)")
            for (term, p) in x.postings {
                let q = y.postings[term]
                #expect(p.rows == q?.rows && p.termFrequencies == q?.termFrequencies && p.documentFrequency == q?.documentFrequency,
                        "\(context) term \(term)")
            }
        }
    }

    /// After a flush folds the entries up to some sequence number, the tail derived by dropping
    /// them equals the projection of the remaining entries alone, and keeps equalling it as
    /// later entries apply to both.
    @Test(arguments: 0..<12)
    func droppingFoldedEntriesEqualsProjectingTheRest(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let config = NamespaceConfig(distanceMetric: .cosineDistance, idKind: .uint,
                                     schema: ["text": AttributeSchema(type: "string", fullTextSearch: FullTextConfig())])
        let entries = Self.randomEntries(count: 40, rng: &rng)
        let applied = Int.random(in: 1...30, using: &rng)
        let folded = UInt64.random(in: 0...UInt64(applied), using: &rng)
        var whole = NamespaceProjection(config: config)
        for entry in entries.prefix(applied) { try whole.apply(entry, config: config) }
        var dropped = whole.droppingEntries(through: folded)
        // The folded entries' live documents are in a segment now: a patch of one of them
        // completes it from there (NamespaceView), as the whole projection did from its row.
        var segment = NamespaceProjection(config: config)
        for entry in entries.prefix(Int(folded)) { try segment.apply(entry, config: config) }
        let segmentDocument = { (id: DocumentID) in segment.liveRow(of: id).map { segment.document(row: $0) } }
        var rest = NamespaceProjection(config: config)
        for entry in entries.prefix(applied) where entry.seq > folded { try rest.apply(entry, config: config, base: segmentDocument) }
        // A projection of nothing has applied nothing; a derived one keeps its position.
        if rest.appliedSeq == 0 { #expect(dropped.rowCount == 0 && dropped.appliedSeq == UInt64(applied)) } else {
            Self.expectSame(dropped, rest, "seed \(seed), \(applied) applied, folded through \(folded)")
        }
        for entry in entries.dropFirst(applied) {
            try dropped.apply(entry, config: config, base: segmentDocument)
            try rest.apply(entry, config: config, base: segmentDocument)
        }
        Self.expectSame(dropped, rest, "seed \(seed), then \(entries.count - applied) more")
        // The whole projection is untouched by deriving from it (a snapshot may be reading it).
        var again = NamespaceProjection(config: config)
        for entry in entries.prefix(applied) { try again.apply(entry, config: config) }
        Self.expectSame(whole, again, "seed \(seed), original")
    }

    /// A segment flushed from a tail takes the tail's inverted text instead of tokenising the
    /// column again: its bytes equal those of the segment built by tokenising.
    @Test(arguments: 0..<6)
    func flushedTailTextIndexEqualsTokenising(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let config = NamespaceConfig(distanceMetric: .cosineDistance, idKind: .uint,
                                     schema: ["text": AttributeSchema(type: "string", fullTextSearch: FullTextConfig())])
        var tail = NamespaceProjection(config: config)
        for entry in Self.randomEntries(count: 30, rng: &rng) { try tail.apply(entry, config: config) }
        let rows = try SegmentRows(segments: [], tail: tail)
        #expect(rows.invertedText("text", FullTextConfig()) != nil)
        #expect(rows.invertedText("text", FullTextConfig(stemming: true)) == nil)
        var tokenising = try SegmentRows(segments: [], tail: tail)
        tokenising.invertedText = { _, _ in nil }
        let reused = try SegmentBuilder.build(rows, config: config, minSeq: 1, maxSeq: 30)
        let tokenised = try SegmentBuilder.build(tokenising, config: config, minSeq: 1, maxSeq: 30)
        #expect(reused == tokenised)
    }
}
