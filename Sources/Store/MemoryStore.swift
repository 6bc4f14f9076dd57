public import Foundation
import Synchronization

/// The in-memory twin of `FileSystemStore`: same contract, same key rules, same etags
/// (xxh3-64 of the content), no I/O. Every call is one critical section under a
/// `Mutex`, so conditional puts are atomic and the store is safe to share.
public final class MemoryStore: ObjectStore {
    struct Entry {
        var bytes: Data
        var etag: String
    }

    let objects = Mutex<[String: Entry]>([:])

    public init() {}

    /// Number of stored objects (a test convenience).
    public var count: Int { objects.withLock { $0.count } }

    public func get(_ key: String) async throws -> StoredObject {
        try ObjectKey.validate(key)
        guard let entry = objects.withLock({ $0[key] }) else {
            throw StoreError(.notFound, key: key, "no such object")
        }
        return StoredObject(bytes: entry.bytes, etag: entry.etag)
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try ObjectKey.validate(key)
        guard offset >= 0, length >= 0 else {
            throw StoreError(.io, key: key, "invalid range: offset \(offset), length \(length)")
        }
        guard let bytes = objects.withLock({ $0[key]?.bytes }) else {
            throw StoreError(.notFound, key: key, "no such object")
        }
        let start = min(offset, bytes.count)
        let end = start + min(length, bytes.count - start)
        let base = bytes.startIndex
        return Data(bytes[(base + start)..<(base + end)])
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        return objects.withLock { $0[key] }.map {
            ObjectInfo(key: key, size: $0.bytes.count, etag: $0.etag)
        }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        let entry = Entry(bytes: bytes, etag: ContentHash.etag(bytes))
        try objects.withLock { objects in
            switch condition {
            case .none:
                break
            case .ifAbsent:
                if objects[key] != nil {
                    throw StoreError(.preconditionFailed, key: key, "if-absent: object exists")
                }
            case .ifMatch(let expected):
                guard let current = objects[key]?.etag else {
                    throw StoreError(.preconditionFailed, key: key, "if-match \(expected): object is absent")
                }
                guard current == expected else {
                    throw StoreError(.preconditionFailed, key: key, "if-match \(expected): current etag is \(current)")
                }
            }
            objects[key] = entry
        }
        return entry.etag
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        // Snapshot the matching entries in one critical section, then sort outside it.
        let matching = objects.withLock { objects in
            objects.filter { ObjectKey.hasPrefix($0.key, prefix) }
        }
        let keys = matching.keys.sorted(by: ObjectKey.precedes)
        let page = try ObjectKey.page(sortedKeys: keys, cursor: cursor, limit: limit)
        let infos = page.keys.map { key in
            let entry = matching[key]!
            return ObjectInfo(key: key, size: entry.bytes.count, etag: entry.etag)
        }
        return ListPage(objects: infos, nextCursor: page.nextCursor)
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }
}
