@testable import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// The group committer and the replica under load: the committer itself rejects a config
/// the manifest cannot hold (the batch case is `CommitProtocolTests.rejectedRequestInABatch`), the queue is bounded, concurrent cold reads share one WAL replay, and the
/// replica recognises incarnations by id, not by creation time.
@Suite("Group commit robustness")
struct GroupCommitRobustnessTests {
    /// Bypasses the decoder: the committer itself rejects an unencodable config.
    @Test("the committer rejects a pre-decoded request with a non-finite k1, naming the path")
    func committerChecksEncodability() async throws {
        let store = MemoryStore()
        let manifests = ManifestStore(store: store)
        let replica = NamespaceReplica(namespace: "ns", manifests: manifests, pollInterval: .seconds(1))
        let committer = GroupCommitter(namespace: "ns", manifests: manifests, replica: replica, maxAttempts: 3)
        var config = NamespaceConfig()
        config.schema["title"] = AttributeSchema(type: "string", fullTextSearch: FullTextConfig(k1: .infinity))
        let request = WriteRequest(config: config, upserts: [Document(id: .uint(1), attributes: ["title": .string("x")])])
        let error = await #expect(throws: LagoonError.self) {
            try await committer.submit(.null, predecoded: (config: NamespaceConfig(), request: request))
        }
        #expect(error?.code == .badRequest)
        #expect(error?.message.contains("schema.title.full_text_search.k1") == true, "\(String(describing: error))")
        #expect(try await store.listAll(prefix: "").isEmpty, "a rejected write wrote something")
    }

    @Test("a full group-commit queue refuses writes as unavailable (503) and admits again once drained")
    func queueByteCap() async throws {
        let base = MemoryStore()
        let interceptor = ManifestPutInterceptor(base)
        let size = GroupCommitter.estimatedBytes(of: try parseJSON(CommitProtocolTests.row(10)))
        var options = EngineOptions()
        options.maxQueuedWriteBytes = 5 * size
        let engine = Engine(store: interceptor, options: options)
        _ = try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(0)))
        // Hold the next commit so requests pile up behind it: one in flight, four queued.
        let gate = CommitGate()
        interceptor.interceptNextManifestPut { _ in await gate.wait() }
        let first = Task { try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(10))) }
        try await gate.waitUntilSomeoneWaits()
        let queued = (11...14).map { i in Task { try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(i))) } }
        let committer = engine.committer("ns")
        let deadline = ContinuousClock.now + .seconds(10)
        while await committer.queuedByteCount < 5 * size, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(await committer.queuedByteCount == 5 * size)

        let overflow = await #expect(throws: LagoonError.self) {
            try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(15)))
        }
        #expect(overflow?.code == .unavailable)
        gate.open()
        _ = try await first.value
        for task in queued { _ = try await task.value }
        #expect(await committer.queuedByteCount == 0)
        // Drained: writes are admitted again.
        _ = try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(16)))
        let documents = try await liveDocumentsByID(engine, "ns")
        #expect(documents == CommitProtocolTests.documents([0, 10, 11, 12, 13, 14, 16]))
    }

    @Test("16 concurrent cold reads share one WAL replay")
    func singleFlightRefresh() async throws {
        let base = MemoryStore()
        let writer = Engine(store: base)
        for i in 0..<20 { _ = try await writer.write("ns", body: try parseJSON(CommitProtocolTests.row(i))) }
        let walObjects = try await base.listAll(prefix: "ns/ns/wal/").count
        #expect(walObjects == 20)

        let counted = HookedStore(base)
        let walGets = CommitCounter()
        counted.hook { operation, key in
            if operation == .get, key.contains("/wal/") { _ = walGets.next() }
        }
        let reader = Engine(store: counted)
        let versions = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for _ in 0..<16 { group.addTask { try await reader.snapshot("ns").manifest.version } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(versions) == [20])
        #expect(walGets.value == walObjects, "\(walGets.value) WAL GETs for \(walObjects) entries")
    }

    /// Two incarnations created in the same millisecond: the replica must not extend the
    /// first one's projection with the second one's log.
    @Test("an incarnation with the same creation time is still recognised as new")
    func incarnationIdNotCreationTime() async throws {
        let store = MemoryStore()
        let manifests = ManifestStore(store: store)
        let engine = Engine(store: store)
        for i in 1...2 { _ = try await engine.write("ns", body: try parseJSON(CommitProtocolTests.row(i))) }
        #expect(try await liveDocumentsByID(engine, "ns") == CommitProtocolTests.documents([1, 2]))
        let v2 = try #require(try await manifests.read("ns", version: 2))
        #expect(v2.incarnation != nil)
        // Another node deletes and re-creates the name; forge the same creation time.
        let other = Engine(store: store)
        try await other.deleteNamespace("ns")
        _ = try await other.write("ns", body: try parseJSON(CommitProtocolTests.row(7)))
        let key = manifests.layout("ns").manifestKey(4)
        var v4 = try #require(try await manifests.read("ns", version: 4))
        #expect(v4.incarnation != v2.incarnation)
        v4.createdAtMillis = v2.createdAtMillis
        try await store.put(key, try ManifestCodec.encode(v4), condition: .none)
        #expect(try await liveDocumentsByID(engine, "ns") == CommitProtocolTests.documents([7]))
    }

    @Test("manifests without an incarnation id (older writers) still extend by creation time")
    func manifestsWithoutIncarnation() async throws {
        var a = Manifest(namespace: "ns", version: 1, createdAtMillis: 5, updatedAtMillis: 5, config: NamespaceConfig(),
                         wal: [], nextSeq: 1, indexedThroughSeq: 0, rowCount: 0, logicalBytes: 0, commitToken: "t")
        var b = a
        b.version = 2
        #expect(a.isSameIncarnation(as: b))
        b.createdAtMillis = 6
        #expect(!a.isSameIncarnation(as: b))
        b.createdAtMillis = 5
        b.incarnation = "x"
        #expect(!a.isSameIncarnation(as: b))
        a.incarnation = "x"
        #expect(a.isSameIncarnation(as: b))
    }
}

