import Foundation
import LagoonTestSupport
@testable import Store
import Synchronization
import Testing

/// The writer's start-up probe refuses stores that do not enforce put conditions.
@Suite("Conditional write probe")
struct ConditionalWriteProbeTests {
    @Test("a bucket that enforces conditions passes, and the scratch key is removed")
    func enforcingBucket() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        try await store.verifyConditionalWrites()
        #expect(s3.withState { $0.objects.isEmpty })
    }

    @Test("a bucket that accepts and ignores If-None-Match is refused, naming the check")
    func ignoringBucket() async throws {
        let s3 = try MiniS3()
        s3.withState { $0.ignoresConditions = true }
        await #expect(throws: ConditionalWritesUnsupported.self) { try await s3.store().verifyConditionalWrites() }
        do {
            try await s3.store().verifyConditionalWrites()
        } catch let error as ConditionalWritesUnsupported {
            #expect(error.check == "create-only")
            #expect("\(error)".contains("refusing writes"))
        }
        #expect(s3.withState { $0.objects.isEmpty })
    }

    @Test("a bucket answering 501 to conditional puts is refused at the first check")
    func notImplemented() async throws {
        let s3 = try MiniS3()
        s3.withState { $0.rejectsConditions = true }
        do {
            try await s3.store().verifyConditionalWrites()
            Issue.record("the probe must fail")
        } catch let error as ConditionalWritesUnsupported {
            #expect(error.check == "create")
        }
    }

    @Test("a store honouring If-None-Match but ignoring If-Match fails compare-and-swap")
    func ignoresIfMatch() async throws {
        let store = ConditionDroppingStore(base: MemoryStore(), dropIfMatch: true)
        do {
            try await ConditionalWriteProbe.verify(store)
            Issue.record("the probe must fail")
        } catch let error as ConditionalWritesUnsupported {
            #expect(error.check == "compare-and-swap")
        }
    }

    @Test("every real backend passes", arguments: StoreBackend.allCases)
    func realBackends(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await ConditionalWriteProbe.verify(store)
            #expect(try await store.listAll(prefix: "").isEmpty)
        }
    }
}

/// Forwards to a store but turns `.ifMatch` puts into unconditional ones, like a bucket
/// that accepts the header and ignores it.
struct ConditionDroppingStore: ObjectStore {
    let base: any ObjectStore
    let dropIfMatch: Bool

    func get(_ key: String) async throws -> StoredObject { try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await base.getRange(key, offset: offset, length: length)
    }
    func head(_ key: String) async throws -> ObjectInfo? { try await base.head(key) }
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        if case .ifMatch = condition, dropIfMatch { return try await base.put(key, bytes, condition: .none) }
        return try await base.put(key, bytes, condition: condition)
    }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }
}
