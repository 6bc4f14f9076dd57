public import Foundation
import Synchronization

/// A test-only wrapper that injects failures into another store, to exercise retry
/// and recovery paths (like Lucene's `MockDirectoryWrapper` or slatedb's failing store).
///
/// Two kinds of fault, each armed for the next `count` matching calls:
/// - `failNext`: the call throws `.unavailable` without reaching the wrapped store;
/// - `loseAckOfNextPut`: the put reaches the wrapped store (the object lands) but the
///   call throws `.unavailable`, as when a response is lost or an S3 client gives up
///   after the first try succeeded. A retry of an `.ifAbsent` put then fails with
///   `.preconditionFailed` although "we" wrote the object.
/// A call matches when its operation is in the fault's set and its key (for `list`,
/// the prefix) starts with the fault's key prefix. Faults fire in the order armed.
public final class FaultyStore: ObjectStore {
    /// The kinds of store call a fault can target.
    public enum Operation: Sendable, Hashable, CaseIterable {
        case get, getRange, head, put, list, delete
    }

    enum Effect { case fail, loseAck }

    struct Fault {
        var effect: Effect
        var operations: Set<Operation>
        var keyPrefix: String
        var remaining: Int
    }

    struct State {
        var faults: [Fault] = []
        var injected = 0
    }

    /// The store calls are forwarded to.
    public let base: any ObjectStore
    let state = Mutex(State())

    public init(wrapping base: any ObjectStore) {
        self.base = base
    }

    /// Makes the next `count` calls of the given operations on keys under `keyPrefix`
    /// throw `.unavailable` without reaching the wrapped store.
    public func failNext(
        _ count: Int = 1,
        _ operations: Set<Operation> = Set(Operation.allCases),
        keyPrefix: String = ""
    ) {
        arm(Fault(effect: .fail, operations: operations, keyPrefix: keyPrefix, remaining: count))
    }

    /// Makes the next `count` puts on keys under `keyPrefix` land in the wrapped store
    /// and then throw `.unavailable` (a lost acknowledgement).
    public func loseAckOfNextPut(_ count: Int = 1, keyPrefix: String = "") {
        arm(Fault(effect: .loseAck, operations: [.put], keyPrefix: keyPrefix, remaining: count))
    }

    /// Disarms every pending fault.
    public func reset() {
        state.withLock { $0.faults.removeAll() }
    }

    /// How many faults have fired so far.
    public var injectedCount: Int { state.withLock { $0.injected } }

    func arm(_ fault: Fault) {
        guard fault.remaining > 0 else { return }
        state.withLock { $0.faults.append(fault) }
    }

    /// Consumes and returns the effect of the first armed fault matching the call.
    func takeFault(_ operation: Operation, _ key: String) -> Effect? {
        state.withLock { state in
            guard let index = state.faults.firstIndex(where: {
                $0.operations.contains(operation) && ObjectKey.hasPrefix(key, $0.keyPrefix)
            }) else { return nil }
            let effect = state.faults[index].effect
            state.faults[index].remaining -= 1
            if state.faults[index].remaining == 0 { state.faults.remove(at: index) }
            state.injected += 1
            return effect
        }
    }

    /// Throws the injected failure when a `.fail` fault matches the call.
    func check(_ operation: Operation, _ key: String) throws {
        if takeFault(operation, key) != nil {
            throw StoreError(.unavailable, key: key, "injected fault: \(operation) failed")
        }
    }

    public func get(_ key: String) async throws -> StoredObject {
        try check(.get, key)
        return try await base.get(key)
    }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try check(.get, key)
        return try await base.get(key, ifNoneMatch: etag)
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try check(.getRange, key)
        return try await base.getRange(key, offset: offset, length: length)
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try check(.head, key)
        return try await base.head(key)
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        switch takeFault(.put, key) {
        case nil:
            return try await base.put(key, bytes, condition: condition)
        case .fail:
            throw StoreError(.unavailable, key: key, "injected fault: put failed")
        case .loseAck:
            try await base.put(key, bytes, condition: condition)
            throw StoreError(.unavailable, key: key, "injected fault: put landed but its acknowledgement was lost")
        }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try check(.list, prefix)
        return try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }

    public func delete(_ key: String) async throws {
        try check(.delete, key)
        try await base.delete(key)
    }
}
