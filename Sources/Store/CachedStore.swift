public import Foundation
import Synchronization

/// Memory → disk → bucket (ARCHITECTURE §9): an `ObjectStore` that answers reads of
/// immutable objects from a bytes-bounded memory LRU, then from an optional `DiskCache`,
/// and only then from the wrapped store, filling both caches on the way back.
///
/// Only keys `isImmutable` accepts are cached — by default WAL entries and segment objects
/// (`…ns/{namespace}/wal/…`, `…ns/{namespace}/segments/…`), which are written once and
/// never changed, so a cached copy can never be stale. Manifests, CURRENT, catalog markers
/// and everything else always go to the wrapped store. Puts of immutable keys are written
/// through to the caches (a writer reads its own WAL back); deletes remove them.
public final class CachedStore: ObjectStore {
    public let base: any ObjectStore
    public let disk: DiskCache?
    let isImmutable: @Sendable (String) -> Bool
    private let memory: Mutex<MemoryLRU<StoredObject>>
    private let counters = Mutex(Counters())

    /// Hits and misses per layer, for `/metrics` and `explain`.
    public struct Counters: Sendable, Equatable {
        public var memoryHits = 0
        public var diskHits = 0
        public var misses = 0
    }

    public init(
        wrapping base: any ObjectStore, memoryBytes: Int, disk: DiskCache? = nil,
        isImmutable: @escaping @Sendable (String) -> Bool = CachedStore.isImmutableByLayout
    ) {
        self.base = base
        self.disk = disk
        self.isImmutable = isImmutable
        memory = Mutex(MemoryLRU(capacity: memoryBytes))
    }

    public var counts: Counters { counters.withLock { $0 } }

    /// True for keys with a `ns/{namespace}/wal/…` or `ns/{namespace}/segments/…` path
    /// (after any store prefix): the objects Lagoon writes once and never rewrites.
    public static func isImmutableByLayout(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4 else { return false }
        for index in 0..<(parts.count - 3) where parts[index] == "ns" {
            if parts[index + 2] == "wal" || parts[index + 2] == "segments" { return true }
        }
        return false
    }

    // MARK: Reads

    public func get(_ key: String) async throws -> StoredObject {
        guard isImmutable(key) else { return try await base.get(key) }
        if let object = try await cached(key) { return object }
        let object = try await base.get(key)
        try await fill(key, object)
        return object
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await getRanges([RangeRead(key: key, offset: offset, length: length)])[0]
    }

    /// Ranges of immutable objects come from a whole object in memory, else from the disk
    /// cache (which keeps each range read as an entry of its own, `rangeKey`), else from the
    /// wrapped store in one coalesced wave; what the store sent is written to disk.
    public func getRanges(_ reads: [RangeRead]) async throws -> [Data] {
        var result = [Data?](repeating: nil, count: reads.count)
        var misses: [Int] = []
        let trace = ReadTrace.current
        for (index, read) in reads.enumerated() {
            guard isImmutable(read.key), read.offset >= 0, read.length >= 0 else {
                misses.append(index)
                continue
            }
            if let object = memory.withLock({ $0.get(read.key) }) {
                let bytes = object.bytes
                let start = min(read.offset, bytes.count)
                result[index] = Data(bytes[(bytes.startIndex + start)..<(bytes.startIndex + min(bytes.count, start + read.length))])
                counters.withLock { $0.memoryHits += 1 }
                trace?.record(.memory, bytes: result[index]!.count)
            } else if let disk, let entry = try await BlockingIO.run({ disk.read(Self.rangeKey(read)) }) {
                result[index] = entry.bytes
                counters.withLock { $0.diskHits += 1 }
                trace?.record(.disk, bytes: entry.bytes.count)
            } else {
                misses.append(index)
            }
        }
        guard !misses.isEmpty else { return result.map { $0! } }
        let fetched = try await base.getRanges(misses.map { reads[$0] })
        counters.withLock { $0.misses += misses.count }
        for (index, bytes) in zip(misses, fetched) {
            result[index] = bytes
            let read = reads[index]
            // A short answer (the object ends early) is served but not cached.
            if let disk, isImmutable(read.key), bytes.count == read.length {
                try await BlockingIO.run { disk.write(Self.rangeKey(read), DiskCache.Entry(bytes: bytes, etag: "")) }
            }
        }
        return result.map { $0! }
    }

    /// The disk cache's file of the range, when the disk holds it (as a range read earlier);
    /// counted as a disk read of the running trace.
    public func localReader(_ read: RangeRead) async throws -> LocalRangeReader? {
        guard let disk, isImmutable(read.key), read.offset >= 0, read.length >= 0 else { return nil }
        guard let reader = try await BlockingIO.run({ disk.localReader(Self.rangeKey(read), objectKey: read.key) }) else { return nil }
        counters.withLock { $0.diskHits += 1 }
        ReadTrace.current?.record(.disk, bytes: 0)
        return reader
    }

    /// The disk-cache key of a range: `{key}#{offset}+{length}`. Segment readers ask for the
    /// same ranges every time (the trailer, each part), so ranges are cached as read.
    static func rangeKey(_ read: RangeRead) -> String { "\(read.key)#\(read.offset)+\(read.length)" }

    public func head(_ key: String) async throws -> ObjectInfo? {
        guard isImmutable(key), let object = memory.withLock({ $0.get(key) }) else { return try await base.head(key) }
        return ObjectInfo(key: key, size: object.bytes.count, etag: object.etag)
    }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try await base.get(key, ifNoneMatch: etag)  // for mutable objects: never cached
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }

    // MARK: Writes

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        let etag = try await base.put(key, bytes, condition: condition)
        if isImmutable(key) { try await fill(key, StoredObject(bytes: bytes, etag: etag)) }
        return etag
    }

    public func delete(_ key: String) async throws {
        try await base.delete(key)
        memory.withLock { $0.remove(key) }
        if let disk { try await BlockingIO.run { disk.remove(key, withRanges: true) } }
    }

    // MARK: Pins

    /// Pins the objects under the prefix (and their ranges) in the disk cache, now and as
    /// they are cached later, within the disk cache's `maxPinnedBytes`. No disk, no pin.
    public func pin(keyPrefix: String) async throws {
        guard let disk else { return }
        try await BlockingIO.run { try disk.pin(keyPrefix: keyPrefix) }
    }

    // MARK: Layers

    /// From memory, else from disk (promoted to memory), else nil; counts the outcome.
    private func cached(_ key: String) async throws -> StoredObject? {
        if let object = memory.withLock({ $0.get(key) }) {
            counters.withLock { $0.memoryHits += 1 }
            ReadTrace.current?.record(.memory, bytes: object.bytes.count)
            return object
        }
        if let disk, let entry = try await BlockingIO.run({ disk.read(key) }) {
            let object = StoredObject(bytes: entry.bytes, etag: entry.etag)
            memory.withLock { $0.set(key, object, cost: object.bytes.count) }
            counters.withLock { $0.diskHits += 1 }
            ReadTrace.current?.record(.disk, bytes: object.bytes.count)
            return object
        }
        counters.withLock { $0.misses += 1 }
        return nil
    }

    private func fill(_ key: String, _ object: StoredObject) async throws {
        memory.withLock { $0.set(key, object, cost: object.bytes.count) }
        if let disk {
            try await BlockingIO.run { disk.write(key, DiskCache.Entry(bytes: object.bytes, etag: object.etag)) }
        }
    }
}
