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
}
