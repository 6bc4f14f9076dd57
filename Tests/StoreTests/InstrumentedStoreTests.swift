import Foundation
import Store
import Testing

@Suite struct InstrumentedStoreTests {
    @Test func countsEveryOperationAndOnlyRealFailures() async throws {
        let faulty = FaultyStore(wrapping: MemoryStore())
        let store = InstrumentedStore(faulty)
        try await store.put("a", Data("x".utf8), condition: .none)
        _ = try await store.get("a")
        _ = try await store.getRange("a", offset: 0, length: 1)
        _ = try await store.head("a")
        _ = try await store.list(prefix: "", cursor: nil, limit: 10)
        try await store.delete("a")
        // Answers that say "absent" or "precondition failed" are not failures.
        _ = try? await store.get("a")
        try await store.put("b", Data(), condition: .ifAbsent)
        _ = try? await store.put("b", Data(), condition: .ifAbsent)
        faulty.failNext(1, [.get], keyPrefix: "b")
        _ = try? await store.get("b")
        let counts = store.counts
        #expect(counts.requests == [.put: 3, .get: 3, .getRange: 1, .head: 1, .list: 1, .delete: 1])
        #expect(counts.errors == 1)
    }
}
