public import Foundation
import Synchronization

/// A local-disk cache of immutable objects (ARCHITECTURE §9), bounded by bytes.
///
/// Layout under `directory`: `catalog.sqlite` (one row per entry: key, etag, size, xxh3
/// checksum of the bytes, last use, pinned) and `objects/<xxh3 of the key>` (the bytes).
/// The catalog survives restarts, so a restarted node serves from disk without fetching.
/// An entry is served only when its file exists and its size and checksum match the
/// catalog; otherwise the entry and file are dropped and `read` answers nil (refetch).
/// A catalog that cannot be opened is deleted with every cached file: the cache is
/// always reconstructible from the bucket.
///
/// Puts over the capacity evict the least recently used unpinned entries. Pinned entries
/// (`pin(keyPrefix:)`, for pinned namespaces) are never evicted, up to `maxPinnedBytes`:
/// beyond it new entries are not pinned. Calls block on file and SQLite I/O; one lock
/// serializes them.
public final class DiskCache: Sendable {
    public struct Entry: Sendable, Equatable {
        public var bytes: Data
        public var etag: String

        public init(bytes: Data, etag: String) {
            self.bytes = bytes
            self.etag = etag
        }
    }

    public let directory: URL
    public let capacityBytes: Int
    public let maxPinnedBytes: Int
    private let objectsPath: String
    private let catalog: Mutex<Catalog>

    /// The SQLite connection and a use counter (a logical clock for LRU order).
    final class Catalog: @unchecked Sendable {  // only touched under the Mutex
        let database: SQLiteDatabase
        var clock: Int64
        init(database: SQLiteDatabase, clock: Int64) {
            self.database = database
            self.clock = clock
        }
    }

    public init(directory: URL, capacityBytes: Int, maxPinnedBytes: Int = 0) throws {
        self.directory = directory.standardizedFileURL
        self.capacityBytes = capacityBytes
        self.maxPinnedBytes = maxPinnedBytes
        objectsPath = self.directory.path + "/objects"
        let catalogPath = self.directory.path + "/catalog.sqlite"
        do {
            try FileManager.default.createDirectory(atPath: objectsPath, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.io, key: "", "cannot create cache directory \(objectsPath): \(error)")
        }
        let opened: Catalog
        do {
            opened = try Self.openCatalog(catalogPath)
        } catch {
            // Unreadable catalog: start over; every cached byte can be fetched again.
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalogPath + suffix) }
            try? FileManager.default.removeItem(atPath: objectsPath)
            try? FileManager.default.createDirectory(atPath: objectsPath, withIntermediateDirectories: true)
            do {
                opened = try Self.openCatalog(catalogPath)
            } catch {
                throw StoreError(.io, key: "", "cannot create cache catalog \(catalogPath): \(error)")
            }
        }
        catalog = Mutex(opened)
    }

    private static func openCatalog(_ path: String) throws -> Catalog {
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA journal_mode=WAL")
        // A cache's catalog need not survive power loss commit by commit (WAL mode stays
        // consistent; a lost last-use update only ages an entry): no fsync per read.
        try database.execute("PRAGMA synchronous=NORMAL")
        try database.execute("""
            CREATE TABLE IF NOT EXISTS entries (
                key TEXT PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL,
                checksum TEXT NOT NULL, last_use INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0)
            """)
        try database.execute("CREATE INDEX IF NOT EXISTS entries_by_use ON entries (pinned, last_use)")
        try database.execute("CREATE TABLE IF NOT EXISTS pins (prefix TEXT PRIMARY KEY)")
        let clock = try database.execute("SELECT COALESCE(MAX(last_use), 0) FROM entries").first?.first?.integer ?? 0
        return Catalog(database: database, clock: clock)
    }

    // MARK: Reading and writing

    /// The cached object, or nil when absent, or when its file is missing or corrupt
    /// (then the entry is dropped).
    public func read(_ key: String) -> Entry? {
        catalog.withLock { catalog in
            guard let row = try? catalog.database.execute(
                "SELECT etag, size, checksum FROM entries WHERE key = ?1", [.text(key)]).first,
                  let etag = row[0].text, let size = row[1].integer, let checksum = row[2].text else { return nil }
            guard let bytes = try? Self.contents(filePath(key)), bytes.count == size, ContentHash.etag(bytes) == checksum else {
                drop(key, catalog)
                return nil
            }
            catalog.clock += 1
            _ = try? catalog.database.execute(
                "UPDATE entries SET last_use = ?1 WHERE key = ?2", [.integer(catalog.clock), .text(key)])
            return Entry(bytes: bytes, etag: etag)
        }
    }

    /// A positional reader of the entry's file (the bytes of `objectKey`'s range the entry
    /// holds), or nil when the entry is absent or its file missing or of another size (then
    /// dropped). The bytes are not checksummed here: that would read the whole file, and the
    /// consumer checks what it reads against its format's own checksums (an IVF part checks
    /// its head and each list before using them) and calls `reportDamage()` on a mismatch,
    /// which drops the entry so the next open fetches the range again.
    public func localReader(_ key: String, objectKey: String) -> LocalRangeReader? {
        catalog.withLock { catalog in
            guard let row = try? catalog.database.execute("SELECT size FROM entries WHERE key = ?1", [.text(key)]).first,
                  let size = row[0].integer else { return nil }
            guard let reader = try? LocalRangeReader(path: filePath(key), fileOffset: 0, length: Int(size), key: objectKey,
                                                     onDamage: { [weak self] in self?.remove(key) }),
                  reader.fileSize == Int(size) else {
                drop(key, catalog)
                return nil
            }
            catalog.clock += 1
            _ = try? catalog.database.execute(
                "UPDATE entries SET last_use = ?1 WHERE key = ?2", [.integer(catalog.clock), .text(key)])
            return reader
        }
    }

    /// A cache file's bytes: mapped when large (an IVF part is most of a segment and a query
    /// touches only its probed lists), else read. Files are replaced by rename and removed by
    /// unlink, never rewritten in place, so a mapping stays valid.
    private static func contents(_ path: String) throws -> Data {
        let file = try POSIXFile(opening: path, flags: O_RDONLY)
        let size = try file.status().size
        return size >= FileSystemStore.mapThreshold ? try file.map(offset: 0, length: size) : try file.read(offset: 0, length: size)
    }

    /// Stores the object (replacing an older entry of the key), then evicts least recently
    /// used unpinned entries until the total fits the capacity. An object larger than the
    /// capacity is not cached. Failures only mean a later miss, so they are not thrown.
    public func write(_ key: String, _ entry: Entry) {
        guard entry.bytes.count <= capacityBytes else { return }
        catalog.withLock { catalog in
            let path = filePath(key)
            let temporary = path + ".tmp-\(UUID().uuidString)"
            // No fsync: a torn file after a crash fails its checksum and is refetched.
            guard FileManager.default.createFile(atPath: temporary, contents: entry.bytes),
                  rename(temporary, path) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                return
            }
            catalog.clock += 1
            let pinned = isPinned(key, size: entry.bytes.count, catalog)
            do {
                try catalog.database.execute("""
                    INSERT OR REPLACE INTO entries (key, etag, size, checksum, last_use, pinned)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                    """, [.text(key), .text(entry.etag), .integer(Int64(entry.bytes.count)),
                          .text(ContentHash.etag(entry.bytes)), .integer(catalog.clock), .integer(pinned ? 1 : 0)])
                try evict(catalog)
            } catch {
                drop(key, catalog)
            }
        }
    }

    /// Forgets the key (after a delete of the object), and with `withRanges` the ranges of
    /// it cached as `{key}#…` entries.
    public func remove(_ key: String, withRanges: Bool = false) {
        catalog.withLock { catalog in
            drop(key, catalog)
            guard withRanges else { return }
            let prefix = key + "#"
            let rows = (try? catalog.database.execute(
                "SELECT key FROM entries WHERE substr(key, 1, length(?1)) = ?1", [.text(prefix)])) ?? []
            for row in rows { if let range = row[0].text { drop(range, catalog) } }
        }
    }

    // MARK: Pins

    /// Pins the entries under the prefix (now and future ones) so eviction skips them,
    /// within `maxPinnedBytes`.
    public func pin(keyPrefix: String) throws {
        try catalog.withLock { catalog in
            try catalog.database.execute("INSERT OR IGNORE INTO pins (prefix) VALUES (?1)", [.text(keyPrefix)])
            let rows = try catalog.database.execute(
                "SELECT key, size FROM entries WHERE pinned = 0 AND substr(key, 1, length(?1)) = ?1 ORDER BY last_use DESC",
                [.text(keyPrefix)])
            for row in rows {
                guard let key = row[0].text, let size = row[1].integer,
                      isPinned(key, size: Int(size), catalog) else { continue }
                try catalog.database.execute("UPDATE entries SET pinned = 1 WHERE key = ?1", [.text(key)])
            }
        }
    }

    /// Unpins the prefix; its entries become evictable again.
    public func unpin(keyPrefix: String) throws {
        try catalog.withLock { catalog in
            try catalog.database.execute("DELETE FROM pins WHERE prefix = ?1", [.text(keyPrefix)])
            try catalog.database.execute(
                "UPDATE entries SET pinned = 0 WHERE substr(key, 1, length(?1)) = ?1", [.text(keyPrefix)])
            try evict(catalog)
        }
    }

    // MARK: Accounting

    /// Bytes of all entries, and of the pinned ones.
    public var usage: (total: Int, pinned: Int) {
        catalog.withLock { catalog in
            let row = (try? catalog.database.execute(
                "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(size * pinned), 0) FROM entries"))?.first
            return (Int(row?[0].integer ?? 0), Int(row?[1].integer ?? 0))
        }
    }

    /// The cached keys, least recently used first.
    public var keys: [String] {
        catalog.withLock { catalog in
            ((try? catalog.database.execute("SELECT key FROM entries ORDER BY last_use")) ?? []).compactMap { $0[0].text }
        }
    }

    /// Where the entry of `key` has its file (named by the key's hash).
    public func filePath(_ key: String) -> String { objectsPath + "/" + ContentHash.etag(Data(key.utf8)) }

    // MARK: Internals (called under the lock)

    private func drop(_ key: String, _ catalog: Catalog) {
        _ = try? catalog.database.execute("DELETE FROM entries WHERE key = ?1", [.text(key)])
        unlink(filePath(key))
    }

    /// Whether a new entry of the key should be pinned: a pin covers it and the pinned
    /// total stays within `maxPinnedBytes`.
    private func isPinned(_ key: String, size: Int, _ catalog: Catalog) -> Bool {
        let covered = (try? catalog.database.execute(
            "SELECT 1 FROM pins WHERE substr(?1, 1, length(prefix)) = prefix LIMIT 1", [.text(key)]))?.isEmpty == false
        guard covered else { return false }
        let pinned = (try? catalog.database.execute(
            "SELECT COALESCE(SUM(size), 0) FROM entries WHERE pinned = 1 AND key <> ?1", [.text(key)]))?.first?.first?.integer ?? 0
        return Int(pinned) + size <= maxPinnedBytes
    }

    private func evict(_ catalog: Catalog) throws {
        var total = Int(try catalog.database.execute("SELECT COALESCE(SUM(size), 0) FROM entries").first?.first?.integer ?? 0)
        guard total > capacityBytes else { return }
        let victims = try catalog.database.execute("SELECT key, size FROM entries WHERE pinned = 0 ORDER BY last_use")
        for victim in victims where total > capacityBytes {
            guard let key = victim[0].text, let size = victim[1].integer else { continue }
            drop(key, catalog)
            total -= Int(size)
        }
    }
}
