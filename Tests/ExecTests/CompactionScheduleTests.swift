@testable import Exec
import Testing

/// When the indexer compacts (Engine.compactionInputs, Specs/format/config.md
/// `indexer.compaction_fanin`): merges wait while writes arrive, and a quiet namespace merges
/// every segment awaiting an IVF index at once.
@Suite struct CompactionScheduleTests {
    @Test func quietNamespaceMergesTheOldestFanIn() {
        #expect(Engine.compactionInputs(segments: 7, tailEmpty: true, awaitingVectorIndex: false, busy: false, fanIn: 8) == 0)
        #expect(Engine.compactionInputs(segments: 8, tailEmpty: true, awaitingVectorIndex: false, busy: false, fanIn: 8) == 8)
        #expect(Engine.compactionInputs(segments: 11, tailEmpty: false, awaitingVectorIndex: true, busy: false, fanIn: 8) == 8,
                "a tail that is old (not busy) but not yet flushed compacts by count")
    }

    @Test func busyNamespaceWaitsUntilFourTimesTheFanIn() {
        let limit = Engine.busyCompactionLimit * 8
        #expect(Engine.compactionInputs(segments: 8, tailEmpty: false, awaitingVectorIndex: false, busy: true, fanIn: 8) == 0)
        #expect(Engine.compactionInputs(segments: limit - 1, tailEmpty: false, awaitingVectorIndex: true, busy: true, fanIn: 8) == 0)
        #expect(Engine.compactionInputs(segments: limit, tailEmpty: false, awaitingVectorIndex: true, busy: true, fanIn: 8) == 8,
                "the segment count stays bounded under endless writes")
    }

    @Test func emptyTailMergesEverySegmentAwaitingAnIndexInOne() {
        #expect(Engine.compactionInputs(segments: 3, tailEmpty: true, awaitingVectorIndex: true, busy: false, fanIn: 8) == 3)
        #expect(Engine.compactionInputs(segments: 17, tailEmpty: true, awaitingVectorIndex: true, busy: false, fanIn: 8) == 17)
        #expect(Engine.compactionInputs(segments: 1, tailEmpty: true, awaitingVectorIndex: true, busy: false, fanIn: 8) == 1)
    }
}
