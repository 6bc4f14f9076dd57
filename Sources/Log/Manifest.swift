public import Foundation

/// A reference from the manifest to one committed WAL entry.
public struct WALReference: Sendable, Codable, Equatable {
    public var seq: UInt64
    public var key: String
    public var events: Int
    public var bytes: Int

    public init(seq: UInt64, key: String, events: Int, bytes: Int) {
        self.seq = seq
        self.key = key
        self.events = events
        self.bytes = bytes
    }
}

/// A reference from the manifest to one published segment and its current deletion vector
/// (Specs/format/manifest.md, version 2; `parts` §7).
public struct SegmentReference: Sendable, Codable, Equatable {
    /// The full object key (branches reference their parent's segments by key).
    public var key: String
    public var bytes: Int
    public var rows: Int
    /// The WAL sequence numbers folded into the segment.
    public var minSeq: UInt64
    public var maxSeq: UInt64
    /// The object holding the rows newer data deleted or overwrote (nil: none).
    public var deletes: String?
    public var deletedRows: Int
    /// The segment's part directory, in part-table order (§7): a node opening the segment uses
    /// it instead of reading the trailer and table. Nil in references written before it existed.
    public var parts: [SegmentPartEntry]?

    public init(key: String, bytes: Int, rows: Int, minSeq: UInt64, maxSeq: UInt64, deletes: String? = nil, deletedRows: Int = 0,
                parts: [SegmentPartEntry]? = nil) {
        self.key = key
        self.bytes = bytes
        self.rows = rows
        self.minSeq = minSeq
        self.maxSeq = maxSeq
        self.deletes = deletes
        self.deletedRows = deletedRows
        self.parts = parts
    }

    enum CodingKeys: String, CodingKey {
        case key, bytes, rows, deletes, parts
        case minSeq = "min_seq"
        case maxSeq = "max_seq"
        case deletedRows = "deleted_rows"
    }

    /// Rows still live in the segment as far as published deletion vectors go.
    public var liveRows: Int { rows - deletedRows }
}

/// One immutable manifest version: the complete logical state pointer of a namespace
/// (Specs/format/manifest.md). Creating `manifest/{version}` is the commit.
public struct Manifest: Sendable, Codable, Equatable {
    public var namespace: String
    public var version: UInt64
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64
    public var config: NamespaceConfig
    /// Committed WAL entries not yet folded into segments, in sequence order.
    public var wal: [WALReference]
    public var nextSeq: UInt64
    /// Every event with seq ≤ this is covered by `segments`; `wal` lists only later entries.
    public var indexedThroughSeq: UInt64
    /// Published segments, oldest first (absent in version-1 manifests: none).
    public var segments: [SegmentReference]?
    /// Live documents after this version (maintained by the writer).
    public var rowCount: Int
    /// Approximate logical bytes of live documents.
    public var logicalBytes: Int
    /// Unique per commit attempt: after an ambiguous store answer the writer reads the
    /// version back and compares this to learn whether its own attempt landed.
    public var commitToken: String
    /// True on the tombstone that a namespace delete commits: the namespace reads as absent,
    /// and a later write re-creates it at the next version. Absent (nil) on every other version.
    public var deleted: Bool?
    /// Random id of this incarnation of the name, fixed when it is created (first write,
    /// branch) and copied into every later version, the tombstone included. Optional: manifests
    /// written before it existed lack it (see `isSameIncarnation`).
    public var incarnation: String?

    public var isDeleted: Bool { deleted == true }

    /// Whether both versions belong to one incarnation of the name, so the later one extends
    /// the earlier one's log. Versions without an incarnation id (older manifests) fall back
    /// to the creation time; an id is never added to an existing incarnation, so a version
    /// with one and a version without one are different incarnations.
    public func isSameIncarnation(as other: Manifest) -> Bool {
        if incarnation != nil || other.incarnation != nil { return incarnation == other.incarnation }
        return createdAtMillis == other.createdAtMillis
    }

    /// A fresh incarnation id (lower-case UUID v4).
    public static func newIncarnation() -> String { UUID().uuidString.lowercased() }

    public init(namespace: String, version: UInt64, createdAtMillis: Int64, updatedAtMillis: Int64,
                config: NamespaceConfig, wal: [WALReference], nextSeq: UInt64, indexedThroughSeq: UInt64,
                rowCount: Int, logicalBytes: Int, commitToken: String) {
        self.namespace = namespace
        self.version = version
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
        self.config = config
        self.wal = wal
        self.nextSeq = nextSeq
        self.indexedThroughSeq = indexedThroughSeq
        self.rowCount = rowCount
        self.logicalBytes = logicalBytes
        self.commitToken = commitToken
    }

    enum CodingKeys: String, CodingKey {
        case namespace, version, config, wal
        case createdAtMillis = "created_at_ms"
        case updatedAtMillis = "updated_at_ms"
        case nextSeq = "next_seq"
        case indexedThroughSeq = "indexed_through_seq"
        case rowCount = "row_count"
        case logicalBytes = "logical_bytes"
        case commitToken = "commit_token"
        case deleted, segments, incarnation
    }

    public var segmentList: [SegmentReference] { segments ?? [] }

    /// The tombstone that deletes this namespace: the next version, with no data.
    public func tombstone(atMillis now: Int64, commitToken: String) -> Manifest {
        var next = Manifest(
            namespace: namespace, version: version + 1, createdAtMillis: createdAtMillis, updatedAtMillis: now,
            config: NamespaceConfig(), wal: [], nextSeq: nextSeq, indexedThroughSeq: 0, rowCount: 0, logicalBytes: 0,
            commitToken: commitToken)
        next.deleted = true
        next.incarnation = incarnation
        return next
    }

    /// Bytes of WAL entries not yet indexed.
    public var unindexedBytes: Int {
        wal.reduce(0) { $0 + ($1.seq > indexedThroughSeq ? $1.bytes : 0) }
    }
}

/// Encodes manifests: JSON (sorted keys) inside the checksummed envelope, format "manifest".
/// Version 2 adds `segments`; a manifest without segments is still written as version 1, so
/// namespaces that never indexed stay readable by older builds.
public enum ManifestCodec {
    public static let format = "manifest"
    public static let version: UInt16 = 2
    public static let readable: ClosedRange<UInt16> = 1...2

    public static func encode(_ manifest: Manifest) throws -> Data {
        let version: UInt16 = manifest.segments == nil ? 1 : 2
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(manifest)
        return ObjectEnvelope.seal(format: format, version: version, payload: Array(json))
    }

    public static func decode(_ data: Data, object: String) throws -> Manifest {
        try ObjectEnvelope.open(data, format: format, object: object, supported: readable) { r, _ in
            let json = Data(try r.rawBytes(r.remaining))
            do {
                return try JSONDecoder().decode(Manifest.self, from: json)
            } catch {
                throw r.corrupt("manifest JSON does not decode: \(error)")
            }
        }
    }
}
