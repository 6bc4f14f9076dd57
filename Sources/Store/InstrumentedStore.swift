public import Foundation
import Synchronization

/// Wraps a store and counts requests by operation and failures, for `/metrics`
/// (`lagoon_objstore_requests_total{op}`, `lagoon_objstore_errors_total`).
public final class InstrumentedStore: ObjectStore {
    public enum Operation: String, CaseIterable, Sendable {
        case get, getRange = "get_range", head, put, list, delete
    }

    public let base: any ObjectStore
    private let counters = Mutex<(requests: [Operation: Int], errors: Int)>(([:], 0))

    public init(_ base: any ObjectStore) {
        self.base = base
    }

    /// Requests per operation and the error count so far.
    public var counts: (requests: [Operation: Int], errors: Int) {
        counters.withLock { $0 }
    }

    private func counted<T>(_ operation: Operation, _ body: () async throws -> T) async throws -> T {
        counters.withLock { $0.requests[operation, default: 0] += 1 }
        do {
            return try await body()
        } catch let error as StoreError where error.code == .notFound || error.code == .preconditionFailed {
            throw error  // answers, not failures
        } catch {
            counters.withLock { $0.errors += 1 }
            throw error
        }
    }

    public func get(_ key: String) async throws -> StoredObject {
        try await counted(.get) { try await base.get(key) }
    }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try await counted(.get) { try await base.get(key, ifNoneMatch: etag) }
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await counted(.getRange) { try await base.getRange(key, offset: offset, length: length) }
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try await counted(.head) { try await base.head(key) }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try await counted(.put) { try await base.put(key, bytes, condition: condition) }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await counted(.list) { try await base.list(prefix: prefix, cursor: cursor, limit: limit) }
    }

    public func delete(_ key: String) async throws {
        try await counted(.delete) { try await base.delete(key) }
    }
}
