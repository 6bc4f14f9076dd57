import Foundation
import Log
import Store
import Testing

/// Retention of manifest versions and the fencing that keeps create-only commits sound once
/// old versions are gone (Specs/protocol/commit.md §Retention).
@Suite("manifest retention")
struct ManifestRetentionTests {
    static func manifest(_ version: UInt64, token: String = UUID().uuidString) -> Manifest {
        Manifest(namespace: "ns", version: version, createdAtMillis: 1, updatedAtMillis: 1, config: NamespaceConfig(), wal: [],
                 nextSeq: 1, indexedThroughSeq: 0, rowCount: 0, logicalBytes: 0, commitToken: token)
    }

    static func versions(_ store: MemoryStore) async throws -> [UInt64] {
        try await store.listAll(prefix: "ns/ns/manifest/").compactMap { UInt64($0.key.split(separator: "/").last!) }
    }

    @Test func pruneKeepsTheNewestVersionsAndDeletesOldestFirst() async throws {
        let store = MemoryStore()
        let manifests = ManifestStore(store: store)
        for v in 1...20 as ClosedRange<UInt64> { #expect(try await manifests.commit(Self.manifest(v)) == .committed) }
        #expect(try await manifests.pruneVersions("ns", newest: 20, keep: 5) == 15)
        #expect(try await Self.versions(store) == Array(16...20))
        #expect(try await manifests.pruneVersions("ns", newest: 20, keep: 5) == 0)
        #expect(try await manifests.newestVersion("ns") == 20)
    }

    @Test("a stale writer cannot re-create a pruned version")
    func staleWriterIsFenced() async throws {
        let store = MemoryStore()
        let manifests = ManifestStore(store: store)
        for v in 1...20 as ClosedRange<UInt64> { #expect(try await manifests.commit(Self.manifest(v)) == .committed) }
        try await manifests.pruneVersions("ns", newest: 20, keep: 5)
        // A writer whose snapshot was version 9 tries to commit version 10, which no longer exists.
        #expect(try await manifests.commit(Self.manifest(10)) == .lostRace)
        #expect(try await manifests.read("ns", version: 10) == nil, "the void version is removed")
        // A writer that believed the namespace absent tries version 1.
        #expect(try await manifests.commit(Self.manifest(1)) == .lostRace)
        #expect(try await Self.versions(store) == Array(16...20))
        // The legitimate next version still commits.
        #expect(try await manifests.commit(Self.manifest(21)) == .committed)
    }

    @Test func aBrandNewNamespaceCommitsVersionOne() async throws {
        let manifests = ManifestStore(store: MemoryStore())
        #expect(try await manifests.commit(Self.manifest(1)) == .committed)
        #expect(try await manifests.commit(Self.manifest(2)) == .committed)
    }
}
