import Foundation
import Exec
import LagoonTestSupport
import Log
import Planner
import Store
import Synchronization
import Testing

/// Two background indexers (two "workers") race on the same store while a third engine
/// writes: every publish goes through the create-only manifest commit, so a lost race
/// rebases or gives up. Nothing may be lost: every query answers what an engine that never
/// indexed answers for the same writes, and the indexers converge to an empty tail.
@Suite("indexers racing on one store")
struct IndexerRaceTests {
    typealias Differential = SegmentDifferentialTests

    static let namespaces = ["alpha", "beta"]

    @Test("two workers and a writer on one store lose nothing", arguments: [11, 12] as [UInt64])
    func twoWorkersAndAWriter(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let store = MemoryStore()
        var eager = EngineOptions()
        // Flush whatever tail there is at every pass, compact often: as many races as possible.
        eager.indexer.flushInterval = .zero
        eager.indexer.flushEntries = 1
        eager.indexer.compactionFanIn = 2
        let writer = Engine(store: store)
        let oracle = Engine(store: MemoryStore())
        // The workers never touch a namespace themselves: they find them in the catalog.
        let workers = (0..<2).map { _ in Engine(store: store, options: eager) }
        let failures = FailureLog()
        let loops = workers.map { worker in
            Task { await worker.runIndexer(every: .milliseconds(1), discoverEvery: .milliseconds(5)) { failures.record("\($0): \($1)") } }
        }
        for _ in 0..<80 {
            let namespace = Self.namespaces.randomElement(using: &rng)!
            let body = try Differential.json(Differential.randomWrite(&rng))
            _ = try await writer.write(namespace, body: body)
            _ = try await oracle.write(namespace, body: body)
            if Int.random(in: 0..<8, using: &rng) == 0 { try await Task.sleep(for: .milliseconds(3)) }
        }
        // The indexers converge: every tail gets folded into segments.
        let deadline = ContinuousClock.now + .seconds(20)
        for namespace in Self.namespaces {
            while try await writer.snapshot(namespace).manifest.unindexedBytes > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        for loop in loops { loop.cancel() }
        for loop in loops { await loop.value }
        #expect(failures.entries.isEmpty, "indexer errors: \(failures.entries)")

        let fresh = Engine(store: store)
        for namespace in Self.namespaces {
            let manifest = try await writer.snapshot(namespace).manifest
            #expect(manifest.unindexedBytes == 0, "\(namespace) still has an unindexed tail")
            #expect(!manifest.segmentList.isEmpty, "\(namespace) was never indexed")
            #expect(manifest.rowCount == (try await oracle.snapshot(namespace).manifest.rowCount))
            for query in Differential.queries(&rng) + [#"{"top_k": 1000, "include_attributes": true}"#] {
                let expected = Differential.normalized(try await oracle.query(namespace, body: try Differential.json(query)))
                for engine in [writer, fresh] {
                    let got = Differential.normalized(try await engine.query(namespace, body: try Differential.json(query)))
                    #expect(got.ranked == expected.ranked, "seed \(seed) \(namespace): \(query)")
                    #expect(got.boundary == expected.boundary, "seed \(seed) \(namespace): \(query)")
                }
            }
        }
    }

    @Test("the indexer loop finds namespaces written by another node through the catalog")
    func discoversCatalogNamespaces() async throws {
        let store = MemoryStore()
        let writer = Engine(store: store)
        for namespace in Self.namespaces {
            _ = try await writer.write(namespace, body: try Differential.json(#"{"upsert_rows": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]}"#))
        }
        var options = EngineOptions()
        options.indexer.flushInterval = .zero
        let worker = Engine(store: store, options: options)
        let loop = Task { await worker.runIndexer(every: .milliseconds(2)) }
        defer { loop.cancel() }
        let deadline = ContinuousClock.now + .seconds(10)
        for namespace in Self.namespaces {
            while try await writer.snapshot(namespace).manifest.unindexedBytes > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await writer.snapshot(namespace).manifest.segmentList.count == 1, "\(namespace)")
        }
    }
}

/// Indexer errors reported by `runIndexer`, collected from its loop.
final class FailureLog: Sendable {
    private let lines = Mutex<[String]>([])
    func record(_ line: String) { lines.withLock { $0.append(line) } }
    var entries: [String] { lines.withLock { $0 } }
}
