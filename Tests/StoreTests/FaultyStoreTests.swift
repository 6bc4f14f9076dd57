import Foundation
import LagoonTestSupport
import Store
import Testing

@Suite("FaultyStore")
struct FaultyStoreTests {
    @Test("failNext fails the matching calls only, then passes through")
    func failNext() async throws {
        let base = MemoryStore()
        let store = FaultyStore(wrapping: base)
        store.failNext(2, [.put], keyPrefix: "ns/wal/")

        // Not matching: other key, other operation.
        try await store.put("ns/manifest/1", Data("m".utf8), condition: .ifAbsent)
        #expect(try await store.head("ns/wal/1") == nil)

        #expect(await storeErrorCode { try await store.put("ns/wal/1", Data("a".utf8), condition: .ifAbsent) } == .unavailable)
        #expect(await storeErrorCode { try await store.put("ns/wal/2", Data("b".utf8), condition: .ifAbsent) } == .unavailable)
        #expect(try await base.head("ns/wal/1") == nil, "a failed put must not reach the store")
        try await store.put("ns/wal/1", Data("a".utf8), condition: .ifAbsent)
        #expect(try await base.get("ns/wal/1").bytes == Data("a".utf8))
        #expect(store.injectedCount == 2)
    }

    @Test("failNext covers every operation, and list matches on its prefix")
    func failEveryOperation() async throws {
        let store = FaultyStore(wrapping: MemoryStore())
        try await store.put("k", Data("v".utf8), condition: .none)
        store.failNext(6)
        #expect(await storeErrorCode { _ = try await store.get("k") } == .unavailable)
        #expect(await storeErrorCode { _ = try await store.getRange("k", offset: 0, length: 1) } == .unavailable)
        #expect(await storeErrorCode { _ = try await store.head("k") } == .unavailable)
        #expect(await storeErrorCode { try await store.put("k", Data(), condition: .none) } == .unavailable)
        #expect(await storeErrorCode { _ = try await store.list(prefix: "", cursor: nil, limit: 10) } == .unavailable)
        #expect(await storeErrorCode { try await store.delete("k") } == .unavailable)
        #expect(try await store.get("k").bytes == Data("v".utf8))

        store.failNext(1, [.list], keyPrefix: "ns/")
        #expect(try await store.list(prefix: "other/", cursor: nil, limit: 10).objects.isEmpty)
        #expect(await storeErrorCode { _ = try await store.list(prefix: "ns/wal/", cursor: nil, limit: 10) } == .unavailable)
    }

    @Test("a lost acknowledgement: the put lands, the call throws, an ifAbsent retry sees 412")
    func lostAck() async throws {
        let base = MemoryStore()
        let store = FaultyStore(wrapping: base)
        store.loseAckOfNextPut(keyPrefix: "ns/manifest/")
        let bytes = Data("manifest v1, writer token 42".utf8)

        #expect(await storeErrorCode { try await store.put("ns/manifest/1", bytes, condition: .ifAbsent) } == .unavailable)
        #expect(try await base.get("ns/manifest/1").bytes == bytes, "the write landed")
        // The naive retry reports a lost race although we won: callers must read back.
        #expect(await storeErrorCode { try await store.put("ns/manifest/1", bytes, condition: .ifAbsent) } == .preconditionFailed)
        #expect(try await store.get("ns/manifest/1").bytes == bytes)
    }

    @Test func resetDisarms() async throws {
        let store = FaultyStore(wrapping: MemoryStore())
        store.failNext(5)
        store.loseAckOfNextPut(3)
        store.reset()
        try await store.put("k", Data("v".utf8), condition: .ifAbsent)
        #expect(try await store.get("k").bytes == Data("v".utf8))
        #expect(store.injectedCount == 0)
    }
}
