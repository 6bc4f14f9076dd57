@testable import Exec
import Log
import Planner
import Segments
import Store
import Testing

@Suite struct NamespaceReplicaTests {
    /// A reader's refresh can install a version before the writer reports its own commit of
    /// it. The late report must not drop the installed snapshot: a concurrent strong read
    /// that found nothing newer would then answer "not found" for an existing namespace.
    @Test func aLateCommitReportNeverDropsTheInstalledSnapshot() async throws {
        let store = MemoryStore()
        let manifests = ManifestStore(store: store)
        let writer = Engine(store: store)
        _ = try await writer.write("ns", body: try JSONParser.parse(Array(#"{"upsert_rows": [{"id": 1}]}"#.utf8)))
        let replica = NamespaceReplica(namespace: "ns", manifests: manifests, pollInterval: .seconds(60))
        #expect(try await replica.snapshot(strong: true)?.manifest.version == 1)

        _ = try await writer.write("ns", body: try JSONParser.parse(Array(#"{"upsert_rows": [{"id": 2}]}"#.utf8)))
        let v2 = try #require(try await manifests.read("ns", version: 2))
        #expect(try await replica.snapshot(strong: true)?.manifest.version == 2)  // refreshed from the store
        let entry = try await manifests.readEntry(try #require(v2.wal.last))
        await replica.applyCommitted(v2, entry: entry)  // the writer's report arrives late
        #expect(await replica.current?.manifest.version == 2)
        #expect(await replica.current?.projection.liveCount == 2)
    }
}
