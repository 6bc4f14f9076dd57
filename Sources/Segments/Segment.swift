public import Foundation
public import Log
public import Store
import Synchronization

/// The parts of a segment a query needs loaded before it runs.
public struct SegmentPartRequest: Sendable, Equatable {
    public var vectors = false
    /// The IVF index (ANN queries), when the segment has one.
    public var vectorIndex = false
    /// Column names; nil means every column.
    public var columns: Set<String>? = []
    /// Full-text attributes and the tokenizer settings the query scores with.
    public var textIndexes: [String: FullTextConfig] = [:]
    /// Attributes a filter reads: their attribute index (`filter/{name}`) where the segment has
    /// one, else their column.
    public var filterIndexes: Set<String> = []

    public init(vectors: Bool = false, columns: Set<String>? = [], textIndexes: [String: FullTextConfig] = [:]) {
        self.vectors = vectors
        self.columns = columns
        self.textIndexes = textIndexes
    }

    public static let everything = SegmentPartRequest(vectors: true, columns: nil)

    public mutating func formUnion(_ other: SegmentPartRequest) {
        vectors = vectors || other.vectors
        vectorIndex = vectorIndex || other.vectorIndex
        if let mine = columns, let theirs = other.columns { columns = mine.union(theirs) } else { columns = nil }
        textIndexes.merge(other.textIndexes) { a, _ in a }
        filterIndexes.formUnion(other.filterIndexes)
    }
}

/// An open, immutable segment: its meta and ids (read when it opens), and the other parts,
/// fetched by ranged reads the first time a query needs them and kept in memory.
public final class Segment: Sendable {
    public let key: String
    public let objectSize: Int
    public let meta: SegmentMeta
    /// Row ordinal → id (rows are sorted by id).
    public let ids: [DocumentID]
    private let rowOf: [DocumentID: Int32]
    private let parts: [String: SegmentFile.PartLocation]
    private let loaded = Mutex(Loaded())

    struct Loaded {
        var vectors: SegmentVectors?
        var vectorIndex: IVFIndex?
        var columns: [String: SegmentColumn] = [:]
        var textIndexes: [String: (FullTextConfig, SegmentTextIndex)] = [:]
        var filterIndexes: [String: FilterIndex] = [:]
        var bytes = 0
    }

    private init(key: String, objectSize: Int, meta: SegmentMeta, ids: [DocumentID], parts: [String: SegmentFile.PartLocation]) {
        self.key = key
        self.objectSize = objectSize
        self.meta = meta
        self.ids = ids
        self.parts = parts
        var rowOf: [DocumentID: Int32] = [:]
        rowOf.reserveCapacity(ids.count)
        for (row, id) in ids.enumerated() { rowOf[id] = Int32(row) }
        self.rowOf = rowOf
    }

    public var rowCount: Int { meta.rowCount }

    /// Opens a segment: the trailer, the part table, then meta and ids (three round trips).
    public static func open(key: String, size: Int, store: any ObjectStore) async throws -> Segment {
        guard size >= SegmentFile.headerSize + SegmentFile.trailerSize else {
            throw FormatError(.corrupt, object: key, "\(size) bytes is shorter than any segment")
        }
        let trailerBytes = try await store.getRange(key, offset: size - SegmentFile.trailerSize, length: SegmentFile.trailerSize)
        let trailer = try SegmentFile.trailer(trailerBytes, objectSize: size, object: key)
        let tableBytes = try await store.getRange(key, offset: trailer.tableOffset, length: trailer.tableLength)
        let parts = try SegmentFile.partTable(tableBytes, trailer: trailer, object: key)
        async let metaBytes = fetch("meta", parts, key: key, store: store)
        async let idBytes = fetch("ids", parts, key: key, store: store)
        let meta = try SegmentMeta.decode(try await metaBytes, object: key)
        let ids = try SegmentIDs.decode(try await idBytes, rowCount: meta.rowCount, object: key)
        return Segment(key: key, objectSize: size, meta: meta, ids: ids, parts: parts)
    }

    private static func fetch(_ name: String, _ parts: [String: SegmentFile.PartLocation], key: String, store: any ObjectStore) async throws -> Data {
        guard let location = parts[name] else { throw FormatError(.corrupt, object: key, "segment has no \(name) part") }
        let bytes = try await store.getRange(key, offset: location.offset, length: location.length)
        try SegmentFile.verify(bytes, location, name: name, object: key)
        return bytes
    }

    /// The row of an id, if this segment holds it.
    public func row(of id: DocumentID) -> Int? {
        rowOf[id].map(Int.init)
    }

    // MARK: Parts

    /// Whether every requested part that exists is already in memory (the common, hot case).
    public func hasLoaded(_ request: SegmentPartRequest) -> Bool {
        loaded.withLock { state in
            // With an IVF index the vectors are read from its lists (SegmentVectors).
            if request.vectors || request.vectorIndex, parts["ivf"] != nil, state.vectorIndex == nil { return false }
            if request.vectors || request.vectorIndex, parts["ivf"] == nil, parts["vectors"] != nil, state.vectors == nil { return false }
            for (name, config) in request.textIndexes where state.textIndexes[name]?.0 != config { return false }
            let columns = request.columns.map { Array($0) } ?? meta.attributes
            let (indexes, fallbacks) = filterParts(request)
            return columns.allSatisfy { parts["column/\($0)"] == nil || state.columns[$0] != nil }
                && indexes.allSatisfy { state.filterIndexes[$0] != nil }
                && fallbacks.allSatisfy { parts["column/\($0)"] == nil || state.columns[$0] != nil }
        }
    }

    /// Fetches the requested parts not yet in memory, in parallel.
    public func load(_ request: SegmentPartRequest, store: any ObjectStore) async throws {
        // A segment with an IVF index serves its vectors from the index's lists: the `vectors`
        // part (a second copy) is never loaded.
        let wantsIndex = (request.vectorIndex || request.vectors) && parts["ivf"] != nil && loaded.withLock { $0.vectorIndex == nil }
        let missing: (vectors: Bool, columns: [String], texts: [(String, FullTextConfig)]) = loaded.withLock { state in
            let columns = (request.columns.map { Array($0) } ?? meta.attributes)
                .filter { parts["column/\($0)"] != nil && state.columns[$0] == nil }
                + filterParts(request).fallbacks.filter { parts["column/\($0)"] != nil && state.columns[$0] == nil }
            let texts = request.textIndexes.filter { state.textIndexes[$0.key]?.0 != $0.value }.map { ($0.key, $0.value) }
            // Without an index an ANN query scans the segment exactly: it needs the vectors.
            let needsVectors = request.vectors || (request.vectorIndex && parts["ivf"] == nil)
            return (needsVectors && state.vectors == nil && parts["vectors"] != nil && parts["ivf"] == nil, columns, texts)
        }
        // A text index built with other tokenizer settings (or not at all) is rebuilt from the
        // column in memory meanwhile: pending, never failing (ARCHITECTURE.md §2).
        var columnsNeeded = Set(missing.columns)
        for (name, config) in missing.texts where meta.textIndexes[name] != config && parts["column/\(name)"] != nil {
            if loaded.withLock({ $0.columns[name] == nil }) { columnsNeeded.insert(name) }
        }
        let rowCount = meta.rowCount
        let missingIndexes = loaded.withLock { state in filterParts(request).indexes.filter { state.filterIndexes[$0] == nil } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in missingIndexes {
                group.addTask {
                    let bytes = try await Self.fetch("filter/\(name)", self.parts, key: self.key, store: store)
                    let index = try FilterIndexCodec.decode(bytes, rowCount: rowCount, object: self.key + "#filter/" + name)
                    self.loaded.withLock { state in
                        // Two queries may load it at once; count it once.
                        if state.filterIndexes[name] == nil { state.bytes += index.memoryBytes }
                        state.filterIndexes[name] = index
                    }
                }
            }
            if missing.vectors {
                group.addTask {
                    let bytes = try await Self.fetch("vectors", self.parts, key: self.key, store: store)
                    let vectors = try SegmentVectors.decode(bytes, rowCount: rowCount, object: self.key)
                    self.loaded.withLock { $0.vectors = vectors; $0.bytes += bytes.count + vectors.derivedBytes }
                }
            }
            if wantsIndex {
                group.addTask {
                    let bytes = try await Self.fetch("ivf", self.parts, key: self.key, store: store)
                    // The part's checksum was just verified; the lists need no second pass.
                    let index = try IVFIndex(decoding: bytes, object: self.key + "#ivf", verifyLists: false)
                    let vectors = try SegmentVectors(lists: index, rowCount: rowCount, object: self.key + "#ivf")
                    self.loaded.withLock {
                        $0.vectorIndex = index
                        $0.vectors = vectors
                        $0.bytes += bytes.count + vectors.derivedBytes
                    }
                }
            }
            for name in columnsNeeded {
                group.addTask {
                    let bytes = try await Self.fetch("column/\(name)", self.parts, key: self.key, store: store)
                    let column = try SegmentColumn.decode(bytes, rowCount: rowCount, object: self.key)
                    self.loaded.withLock { $0.columns[name] = column; $0.bytes += bytes.count }
                }
            }
            for (name, config) in missing.texts where meta.textIndexes[name] == config {
                group.addTask {
                    let bytes = try await Self.fetch("text/\(name)", self.parts, key: self.key, store: store)
                    let index = try SegmentTextIndex.decode(bytes, rowCount: rowCount, object: self.key)
                    self.loaded.withLock { $0.textIndexes[name] = (config, index); $0.bytes += bytes.count }
                }
            }
            try await group.waitForAll()
        }
        for (name, config) in missing.texts where meta.textIndexes[name] != config {
            let values = (0..<rowCount).map { column(name)?[$0] ?? .null }
            let bytes = Data(SegmentTextIndex.build(values, tokenizer: Tokenizer(config)))
            let index = try SegmentTextIndex.decode(bytes, rowCount: rowCount, object: key)
            loaded.withLock { $0.textIndexes[name] = (config, index); $0.bytes += bytes.count }
        }
    }

    /// Loaded vectors (nil when the segment has none or they are not loaded).
    public var vectors: SegmentVectors? { loaded.withLock { $0.vectors } }

    public func column(_ name: String) -> SegmentColumn? { loaded.withLock { $0.columns[name] } }

    public func textIndex(_ name: String) -> SegmentTextIndex? { loaded.withLock { $0.textIndexes[name]?.1 } }

    /// The loaded attribute index of a filterable attribute (nil: none in this segment, e.g.
    /// one written before indexes existed, or not loaded).
    public func filterIndex(_ name: String) -> FilterIndex? { loaded.withLock { $0.filterIndexes[name] } }

    /// Whether the segment carries an attribute index for the attribute.
    public func hasFilterIndex(_ name: String) -> Bool { parts["filter/\(name)"] != nil }

    /// The filter attributes of a request split into those read through their index and
    /// those read through their column (no index part: older segments, unfilterable ones).
    private func filterParts(_ request: SegmentPartRequest) -> (indexes: [String], fallbacks: [String]) {
        var indexes: [String] = [], fallbacks: [String] = []
        for name in request.filterIndexes where name != "id" {
            if parts["filter/\(name)"] != nil { indexes.append(name) } else { fallbacks.append(name) }
        }
        return (indexes, fallbacks)
    }

    /// Bytes of parts held in memory.
    public var loadedBytes: Int { loaded.withLock { $0.bytes } }

    /// Whether the part exists in the object (an attribute no row of the segment has does not).
    public func hasColumn(_ name: String) -> Bool { parts["column/\(name)"] != nil }
    /// An indexed segment keeps its vectors in the `ivf` part's lists only.
    public var hasVectors: Bool { parts["vectors"] != nil || parts["ivf"] != nil }
    /// At least this many rows have a vector (from the `vectors` part's size and the dimension,
    /// counting a row ordinal per vector, so it never overstates).
    public var vectorCountLowerBound: Int {
        guard let location = parts["vectors"], let dimension = meta.dimension, dimension > 0 else { return 0 }
        return max(0, location.length - 9) / (4 * dimension + 4)
    }

    /// Whether the segment carries an IVF index (built when it had enough vectors).
    public var hasVectorIndex: Bool { parts["ivf"] != nil }

    /// The loaded IVF index (nil when the segment has none or it is not loaded).
    public var vectorIndex: IVFIndex? { loaded.withLock { $0.vectorIndex } }
}
