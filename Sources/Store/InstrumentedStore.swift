public import Foundation
import Synchronization

/// Wraps a store and counts requests by operation and failures, for `/metrics`
/// (`lagoon_objstore_requests_total{op}`, `lagoon_objstore_errors_total`), and records each
/// request in the running `ReadTrace` as a bucket request (this layer wraps the bucket).
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

    private func counted<T>(_ operation: Operation, key: String, _ body: () async throws -> T,
                            bytes: (T) -> Int = { _ in 0 }) async throws -> T {
        counters.withLock { $0.requests[operation, default: 0] += 1 }
        let trace = ReadTrace.current
        let start = ReadTrace.batchIssuedAt ?? .now
        func traced(_ size: Int) {
            guard let trace else { return }
            let isData = CachedStore.isImmutableByLayout(key)
            trace.recordRequest(start: start, end: .now, bytes: size, isData: isData)
            if isData, operation == .get || operation == .getRange { trace.record(.bucket, bytes: size) }
        }
        do {
            let result = try await body()
            traced(bytes(result))
            return result
        } catch let error as StoreError where error.code == .notFound || error.code == .preconditionFailed {
            traced(0)
            throw error  // answers, not failures
        } catch {
            traced(0)
            counters.withLock { $0.errors += 1 }
            throw error
        }
    }

    public func get(_ key: String) async throws -> StoredObject {
        try await counted(.get, key: key, { try await base.get(key) }, bytes: { $0.bytes.count })
    }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try await counted(.get, key: key, { try await base.get(key, ifNoneMatch: etag) }, bytes: { $0?.bytes.count ?? 0 })
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await counted(.getRange, key: key, { try await base.getRange(key, offset: offset, length: length) }, bytes: { $0.count })
    }

    public var rangeMergeGap: Int { base.rangeMergeGap }

    /// Not a request to the store (the bytes are read later, from a local file).
    public func localReader(_ read: RangeRead) async throws -> LocalRangeReader? {
        try await base.localReader(read)
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try await counted(.head, key: key) { try await base.head(key) }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try await counted(.put, key: key) { try await base.put(key, bytes, condition: condition) }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await counted(.list, key: prefix) { try await base.list(prefix: prefix, cursor: cursor, limit: limit) }
    }

    public func delete(_ key: String) async throws {
        try await counted(.delete, key: key) { try await base.delete(key) }
    }
}
