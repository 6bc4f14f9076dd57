import Foundation
import Exec
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// After a flush publishes, the node derives its new tail from the one it held (the entries the
/// flush folded leave it) instead of replaying the WAL. Writes that commit while the flush builds
/// its segment are the entries that must stay: this differential test makes them happen and
/// checks every query against an engine that never indexes.
@Suite("writes committed during flushes")
struct WritesDuringFlushTests {
    @Test("the derived tail answers like the full replay", arguments: [4, 5, 6] as [UInt64])
    func writesDuringFlushes(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        var options = EngineOptions()
        options.indexer.compactionFanIn = 3
        let indexed = Engine(store: MemoryStore(), options: options)
        let oracle = Engine(store: MemoryStore())
        var tailsKept = 0
        for round in 0..<15 {
            let bodies = try (0..<Int.random(in: 2...6, using: &rng)).map { _ in try SegmentDifferentialTests.json(SegmentDifferentialTests.randomWrite(&rng)) }
            for body in bodies.prefix(1) { _ = try await indexed.write("ns", body: body) }
            // The flush snapshots the tail, then builds and publishes while the writes commit.
            async let flushed = indexed.indexNow("ns")
            for body in bodies.dropFirst() { _ = try await indexed.write("ns", body: body) }
            _ = try await flushed
            for body in bodies { _ = try await oracle.write("ns", body: body) }
            let manifest = try await indexed.snapshot("ns").manifest
            if manifest.indexedThroughSeq > 0 && !manifest.wal.isEmpty { tailsKept += 1 }
            for query in SegmentDifferentialTests.queries(&rng) {
                let a = SegmentDifferentialTests.normalized(try await indexed.query("ns", body: try SegmentDifferentialTests.json(query)))
                let b = SegmentDifferentialTests.normalized(try await oracle.query("ns", body: try SegmentDifferentialTests.json(query)))
                #expect(a.ranked == b.ranked, "seed \(seed) round \(round): \(query)")
                #expect(a.boundary == b.boundary, "seed \(seed) round \(round): \(query)")
            }
        }
        #expect(tailsKept > 0, "some writes must commit while a flush runs, and stay in the tail after it")
        #expect(try await indexed.snapshot("ns").manifest.rowCount == (try await oracle.snapshot("ns").manifest.rowCount))
    }
}
