public import Foundation

/// A write precondition, the primitive the commit protocol is built on.
public enum PutCondition: Sendable, Equatable {
    /// Unconditional overwrite.
    case none
    /// Create only if no object exists under the key (S3 `If-None-Match: *`).
    case ifAbsent
    /// Replace only if the current object's etag equals this one (S3 `If-Match`).
    case ifMatch(String)
}

/// Metadata of a stored object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var etag: String
    public init(key: String, size: Int, etag: String) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

/// A fetched object: its bytes and etag.
public struct StoredObject: Sendable {
    public var bytes: Data
    public var etag: String
    public init(bytes: Data, etag: String) {
        self.bytes = bytes
        self.etag = etag
    }
}

/// One page of a prefix listing. `nextCursor` is nil on the last page.
public struct ListPage: Sendable {
    public var objects: [ObjectInfo]
    public var nextCursor: String?
    public init(objects: [ObjectInfo], nextCursor: String?) {
        self.objects = objects
        self.nextCursor = nextCursor
    }
}

/// The object-store abstraction every durable byte of Lagoon goes through.
///
/// Keys are `/`-separated relative paths. Objects are immutable from the reader's
/// point of view: a put replaces the whole object atomically (readers see the old or
/// the new bytes, never a mix).
///
/// The full contract (key rules, etags, conditions, listing order and cursors, error
/// codes) and how each backend realizes it is in `Specs/protocol/object-store.md`;
/// `ObjectStoreContractTests` checks every backend against it.
public protocol ObjectStore: Sendable {
    /// Returns the object, or throws `StoreError` with code `.notFound`.
    func get(_ key: String) async throws -> StoredObject
    /// Conditional get: nil when the object's etag is still `etag` (S3 answers 304 without
    /// sending the bytes), else the object; throws `.notFound` when absent. For polling
    /// small mutable objects (CURRENT hints). Local stores use the default, a plain get.
    func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject?
    /// Returns `length` bytes starting at `offset` (fewer at the end of the object).
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data
    /// The bytes of every range, in order, read in one parallel wave (neighbouring ranges of
    /// one object coalesced). The default fetches through `getRange` (`RangeCoalescer`);
    /// caches answer what they hold and pass the rest on as one wave.
    func getRanges(_ reads: [RangeRead]) async throws -> [Data]
    /// Bytes `getRanges` may read and drop between two ranges of one object to save a request
    /// (negative: never merge). Remote stores trade bytes for round trips; local ones do not.
    var rangeMergeGap: Int { get }
    /// Positional reads of the range from a local file, when this store holds the range's
    /// bytes in one (the folder store does for every immutable object; a cache once its disk
    /// holds the range); nil otherwise, and the caller fetches the bytes with `getRanges`.
    /// Only immutable objects (WAL entries, segments) qualify. Nil also when the object is
    /// absent: the caller's fetch then reports it.
    func localReader(_ read: RangeRead) async throws -> LocalRangeReader?
    /// Returns the metadata, or nil when absent.
    func head(_ key: String) async throws -> ObjectInfo?
    /// Stores the bytes under the condition and returns the new etag. A failed
    /// condition throws `StoreError` with code `.preconditionFailed`.
    @discardableResult
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String
    /// Lists objects whose key starts with `prefix`, in lexicographic key order,
    /// at most `limit` per page, continuing after `cursor` (a key from an earlier page).
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage
    /// Deletes the object; deleting an absent key is not an error.
    func delete(_ key: String) async throws
}

extension ObjectStore {
    public func getRanges(_ reads: [RangeRead]) async throws -> [Data] {
        try await RangeCoalescer.fetch(reads, from: self, maxGap: rangeMergeGap)
    }

    public var rangeMergeGap: Int { RangeCoalescer.defaultMaxGap }

    public func localReader(_ read: RangeRead) async throws -> LocalRangeReader? { nil }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        let object = try await get(key)
        return object.etag == etag ? nil : object
    }

    /// Lists every key under the prefix, following pagination.
    public func listAll(prefix: String) async throws -> [ObjectInfo] {
        var all: [ObjectInfo] = []
        var cursor: String? = nil
        repeat {
            let page = try await list(prefix: prefix, cursor: cursor, limit: 1000)
            all.append(contentsOf: page.objects)
            cursor = page.nextCursor
        } while cursor != nil
        return all
    }
}

/// A store failure with a coarse code that tells the caller whether retrying helps.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The key does not exist. Not retryable.
        case notFound
        /// A put's precondition did not hold (someone else created or changed the object).
        case preconditionFailed
        /// The store could not be reached or failed transiently; retrying may help.
        case unavailable
        /// A permanent I/O or protocol failure.
        case io
    }
    public var code: Code
    public var key: String
    public var message: String
    public init(_ code: Code, key: String, _ message: String) {
        self.code = code
        self.key = key
        self.message = message
    }
    public var description: String { "\(code) (\(key)): \(message)" }
}
