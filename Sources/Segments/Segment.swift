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
    public let ids: SegmentIDs
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

    private init(key: String, objectSize: Int, meta: SegmentMeta, ids: SegmentIDs, parts: [String: SegmentFile.PartLocation]) {
        self.key = key
        self.objectSize = objectSize
        self.meta = meta
        self.ids = ids
        self.parts = parts
    }

    public var rowCount: Int { meta.rowCount }

    /// Opens a segment (two round trips, see `locate` and `open(_:prefetch:store:)`).
    public static func open(key: String, size: Int, store: any ObjectStore) async throws -> Segment {
        try await open(locate([(key, size)], store: store), prefetch: nil, store: store)[0]
    }

    // MARK: Opening in one or two waves

    /// A segment object whose part locations are known (from its part table, or from the
    /// directory the manifest carries).
    public struct Location: Sendable {
        public var key: String
        public var size: Int
        var parts: [String: SegmentFile.PartLocation]

        /// The location a manifest reference gives without reading the object: nil when the
        /// reference carries no part directory (written before it existed).
        public init?(_ reference: SegmentReference) throws {
            guard let directory = reference.parts else { return nil }
            key = reference.key
            size = reference.bytes
            parts = try SegmentFile.locations(ofDirectory: directory, objectSize: reference.bytes, object: reference.key)
        }

        init(key: String, size: Int, parts: [String: SegmentFile.PartLocation]) {
            self.key = key
            self.size = size
            self.parts = parts
        }
    }

    /// Locates the referenced segments: from the part directories the references carry (no
    /// read at all), and for references without one (older manifests) by reading trailers and
    /// tables in one parallel wave (`locate(_:store:)` below). In the references' order.
    public static func locate(_ references: [SegmentReference], store: any ObjectStore) async throws -> [Location] {
        var locations = try references.map { try Location($0) }
        let unlocated = references.indices.filter { locations[$0] == nil }
        if !unlocated.isEmpty {
            let read = try await locate(unlocated.map { (references[$0].key, references[$0].bytes) }, store: store)
            for (index, location) in zip(unlocated, read) { locations[index] = location }
        }
        return locations.map { $0! }
    }

    /// Bytes read from the end of a segment to find its trailer: enough to hold the part
    /// table too, so one ranged read usually locates every part.
    static let tailReadBytes = 64 * 1024

    /// Reads the trailers and part tables of the objects in one parallel wave (a table larger
    /// than the tail read costs its segment one more read).
    public static func locate(_ objects: [(key: String, size: Int)], store: any ObjectStore) async throws -> [Location] {
        for (key, size) in objects where size < SegmentFile.headerSize + SegmentFile.trailerSize {
            throw FormatError(.corrupt, object: key, "\(size) bytes is shorter than any segment")
        }
        let tails = objects.map { RangeRead(key: $0.key, offset: $0.size - min($0.size, tailReadBytes), length: min($0.size, tailReadBytes)) }
        let tailBytes = try await store.getRanges(tails)
        var trailers: [SegmentFile.Trailer] = []
        var tables = [Data?](repeating: nil, count: objects.count)
        var outside: [Int] = []
        for (index, (key, size)) in objects.enumerated() {
            let bytes = tailBytes[index]
            let trailer = try SegmentFile.trailer(Data(bytes.suffix(SegmentFile.trailerSize)), objectSize: size, object: key)
            trailers.append(trailer)
            let tail = tails[index]
            if trailer.tableOffset >= tail.offset, bytes.count == tail.length {
                let start = bytes.startIndex + trailer.tableOffset - tail.offset
                tables[index] = Data(bytes[start..<(start + trailer.tableLength)])
            } else {
                outside.append(index)
            }
        }
        if !outside.isEmpty {
            let reads = outside.map { RangeRead(key: objects[$0].key, offset: trailers[$0].tableOffset, length: trailers[$0].tableLength) }
            for (index, bytes) in zip(outside, try await store.getRanges(reads)) { tables[index] = bytes }
        }
        return try objects.indices.map { index in
            Location(key: objects[index].key, size: objects[index].size,
                     parts: try SegmentFile.partTable(tables[index]!, trailer: trailers[index], object: objects[index].key))
        }
    }

    /// Opens located segments in one parallel wave that reads each one's meta and ids and,
    /// with `prefetch`, the parts a query is about to need (so a cold query costs one
    /// round trip fewer).
    public static func open(_ locations: [Location], prefetch: SegmentPartRequest?, store: any ObjectStore) async throws -> [Segment] {
        var reads: [RangeRead] = []
        var wanted: [[String]] = []
        var localIndexes: [Int: LocalRangeReader] = [:]
        for (at, location) in locations.enumerated() {
            var names = ["meta", "ids"] + (prefetch.map { partNames($0, parts: location.parts, columnsOfAll: nil) } ?? [])
            if names.contains("ivf"), let reader = try await localIndexReader(location.key, location.parts, store: store) {
                localIndexes[at] = reader
                names.removeAll { $0 == "ivf" }
            }
            for name in names {
                guard let part = location.parts[name] else {
                    throw FormatError(.corrupt, object: location.key, "segment has no \(name) part")
                }
                reads.append(RangeRead(key: location.key, offset: part.offset, length: part.length))
            }
            wanted.append(names)
        }
        let fetched = try await store.getRanges(reads)
        var next = 0
        var segments: [Segment] = []
        for (at, (location, names)) in zip(locations, wanted).enumerated() {
            var bytes: [String: Data] = [:]
            for name in names {
                try SegmentFile.verify(fetched[next], location.parts[name]!, name: name, object: location.key)
                bytes[name] = fetched[next]
                next += 1
            }
            let meta = try SegmentMeta.decode(bytes["meta"]!, object: location.key)
            let ids = try SegmentIDs.decode(bytes["ids"]!, rowCount: meta.rowCount, object: location.key)
            let segment = Segment(key: location.key, objectSize: location.size, meta: meta, ids: ids, parts: location.parts)
            for name in names.dropFirst(2) {
                try await segment.install(name, bytes[name]!, textConfigs: prefetch?.textIndexes ?? [:], store: store)
            }
            if let reader = localIndexes[at] { try segment.installIndex(reading: reader) }
            segments.append(segment)
        }
        return segments
    }

    /// The row of an id, if this segment holds it.
    public func row(of id: DocumentID) -> Int? {
        ids.row(of: id)
    }

    // MARK: Parts

    /// Names of the parts (present in `parts`) that serve the request. `columnsOfAll` names
    /// every column when the request asks for all (nil: every column part in the table).
    static func partNames(_ request: SegmentPartRequest, parts: [String: SegmentFile.PartLocation], columnsOfAll: [String]?) -> [String] {
        var names: [String] = []
        // A segment with an IVF index serves its vectors from the index's lists (the `vectors`
        // part, a second copy, is never loaded); without one an ANN query scans exactly.
        if request.vectors || request.vectorIndex { names.append(parts["ivf"] != nil ? "ivf" : "vectors") }
        let columns = request.columns.map { Array($0) }
            ?? columnsOfAll ?? parts.keys.filter { $0.hasPrefix("column/") }.map { String($0.dropFirst("column/".count)) }
        names += columns.map { "column/\($0)" }
        names += request.textIndexes.keys.map { "text/\($0)" }
        // A filter reads the attribute's index; a segment without one (written before indexes
        // existed, or an unfilterable attribute) reads its column instead.
        for name in request.filterIndexes.sorted() where name != "id" {
            let index = "filter/\(name)", column = "column/\(name)"
            if parts[index] != nil { names.append(index) } else if !names.contains(column) { names.append(column) }
        }
        return names.filter { parts[$0] != nil }
    }

    /// Whether the named part is in memory (a text index only with the requested settings).
    private func isLoaded(_ name: String, _ state: Loaded, textConfigs: [String: FullTextConfig]) -> Bool {
        if name == "vectors" { return state.vectors != nil }
        if name == "ivf" { return state.vectorIndex != nil }
        if name.hasPrefix("column/") { return state.columns[String(name.dropFirst("column/".count))] != nil }
        if name.hasPrefix("filter/") { return state.filterIndexes[String(name.dropFirst("filter/".count))] != nil }
        if name.hasPrefix("text/") {
            let attribute = String(name.dropFirst("text/".count))
            return state.textIndexes[attribute] != nil && state.textIndexes[attribute]?.0 == textConfigs[attribute]
        }
        return true
    }

    /// Decodes a fetched (and verified) part into memory (a part two concurrent loads both
    /// fetched counts once). A text index built with other settings than the query's is not
    /// installed: `load` rebuilds it from the column.
    private func install(_ name: String, _ bytes: Data, textConfigs: [String: FullTextConfig]) throws {
        let rowCount = meta.rowCount
        ReadTrace.current?.noteFetchedPart(key + "#" + name)
        if name == "vectors" {
            let vectors = try SegmentVectors.decode(bytes, rowCount: rowCount, object: key)
            loaded.withLock { if $0.vectors == nil { $0.vectors = vectors; $0.bytes += bytes.count + vectors.derivedBytes } }
        } else if name == "ivf" {
            // The part's checksum was just verified; the lists need no second pass.
            try installIndex(IVFIndex(decoding: bytes, object: key + "#ivf", verifyLists: false))
        } else if name.hasPrefix("column/") {
            let column = try SegmentColumn.decode(bytes, rowCount: rowCount, object: key)
            let attribute = String(name.dropFirst("column/".count))
            loaded.withLock { if $0.columns[attribute] == nil { $0.columns[attribute] = column; $0.bytes += bytes.count } }
        } else if name.hasPrefix("filter/") {
            let attribute = String(name.dropFirst("filter/".count))
            let index = try FilterIndexCodec.decode(bytes, rowCount: rowCount, object: key + "#" + name)
            loaded.withLock { if $0.filterIndexes[attribute] == nil { $0.filterIndexes[attribute] = index; $0.bytes += index.memoryBytes } }
        } else if name.hasPrefix("text/") {
            let attribute = String(name.dropFirst("text/".count))
            guard let config = textConfigs[attribute], meta.textIndexes[attribute] == config else { return }
            let index = try SegmentTextIndex.decode(bytes, rowCount: rowCount, object: key)
            loaded.withLock { if $0.textIndexes[attribute] == nil { $0.bytes += bytes.count }; $0.textIndexes[attribute] = (config, index) }
        }
    }

    /// Installs a fetched part; an `ivf` part that the store now holds in a local file (a
    /// cache wrote it to disk as it fetched it) is opened over that file instead, so its
    /// vectors leave memory with the fetched bytes.
    private func install(_ name: String, _ bytes: Data, textConfigs: [String: FullTextConfig], store: any ObjectStore) async throws {
        if name == "ivf", let reader = try await Self.localIndexReader(key, parts, store: store) {
            try installIndex(reading: reader)
        } else {
            try install(name, bytes, textConfigs: textConfigs)
        }
    }

    /// Installs the IVF index and the vectors its lists hold (a second load of it counts once).
    private func installIndex(_ index: IVFIndex) throws {
        let vectors = try SegmentVectors(lists: index, rowCount: rowCount, object: key + "#ivf")
        loaded.withLock {
            guard $0.vectorIndex == nil else { return }
            $0.vectorIndex = index
            $0.vectors = vectors
            $0.bytes += index.heldBytes + vectors.derivedBytes
        }
    }

    /// Opens the IVF index over a local file: its head, row fields and 8-bit copy come into
    /// memory, its vectors stay in the file (the OS page cache), read when a search needs them.
    private func installIndex(reading reader: LocalRangeReader) throws {
        ReadTrace.current?.noteFetchedPart(key + "#ivf")
        try installIndex(IVFIndex(reading: reader, object: key + "#ivf"))
    }

    /// A local-file reader of the segment's `ivf` part, when the store holds the segment in a
    /// local file (the folder store; a cache holding the part on disk). The part is then not
    /// fetched whole: the index checks its own head and lists (Specs/format/ivf.md §2).
    private static func localIndexReader(_ key: String, _ parts: [String: SegmentFile.PartLocation], store: any ObjectStore) async throws -> LocalRangeReader? {
        guard let part = parts["ivf"] else { return nil }
        return try await store.localReader(RangeRead(key: key, offset: part.offset, length: part.length))
    }

    /// Whether every requested part that exists is already in memory (the common, hot case).
    public func hasLoaded(_ request: SegmentPartRequest) -> Bool {
        loaded.withLock { state in
            Self.partNames(request, parts: parts, columnsOfAll: meta.attributes).allSatisfy { isLoaded($0, state, textConfigs: request.textIndexes) }
                && request.textIndexes.allSatisfy { state.textIndexes[$0.key]?.0 == $0.value }
        }
    }

    /// The parts to fetch for the request: those not in memory, plus the columns of text
    /// indexes to rebuild (the segment's index was built with other settings, or not at all).
    /// Records the parts already in memory as memory reads of the running trace.
    private func missingParts(_ request: SegmentPartRequest) -> [String] {
        let trace = ReadTrace.current
        return loaded.withLock { state in
            var missing: [String] = []
            for name in Self.partNames(request, parts: parts, columnsOfAll: meta.attributes) {
                if isLoaded(name, state, textConfigs: request.textIndexes) {
                    trace?.recordLoadedPart(key + "#" + name, bytes: parts[name]!.length)
                } else if !name.hasPrefix("text/") || meta.textIndexes[String(name.dropFirst("text/".count))] == request.textIndexes[String(name.dropFirst("text/".count))] {
                    missing.append(name)
                }
            }
            for (name, config) in request.textIndexes where meta.textIndexes[name] != config && state.textIndexes[name]?.0 != config
                && hasColumn(name) && state.columns[name] == nil && !missing.contains("column/\(name)") {
                missing.append("column/\(name)")
            }
            return missing
        }
    }

    /// Fetches the requested parts not yet in memory.
    public func load(_ request: SegmentPartRequest, store: any ObjectStore) async throws {
        try await Self.load([self], request, store: store)
    }

    /// Fetches the requested parts the segments do not hold yet, all in one parallel wave
    /// (neighbouring parts coalesced), then rebuilds text indexes whose settings differ.
    public static func load(_ segments: [Segment], _ request: SegmentPartRequest, store: any ObjectStore) async throws {
        var reads: [RangeRead] = []
        var owners: [(segment: Segment, name: String)] = []
        for segment in segments {
            for name in segment.missingParts(request) {
                if name == "ivf", let reader = try await localIndexReader(segment.key, segment.parts, store: store) {
                    try segment.installIndex(reading: reader)
                    continue
                }
                let part = segment.parts[name]!
                reads.append(RangeRead(key: segment.key, offset: part.offset, length: part.length))
                owners.append((segment, name))
            }
        }
        if !reads.isEmpty {
            let fetched = try await store.getRanges(reads)
            for ((segment, name), bytes) in zip(owners, fetched) {
                try SegmentFile.verify(bytes, segment.parts[name]!, name: name, object: segment.key)
                try await segment.install(name, bytes, textConfigs: request.textIndexes, store: store)
            }
        }
        // A text index built with other tokenizer settings (or not at all) is rebuilt from the
        // column in memory meanwhile: pending, never failing (ARCHITECTURE.md §2).
        for segment in segments {
            for (name, config) in request.textIndexes where segment.meta.textIndexes[name] != config
                && segment.loaded.withLock({ $0.textIndexes[name]?.0 != config }) {
                let values = (0..<segment.rowCount).map { segment.column(name)?[$0] ?? .null }
                let bytes = Data(SegmentTextIndex.build(values, tokenizer: Tokenizer(config)))
                let index = try SegmentTextIndex.decode(bytes, rowCount: segment.rowCount, object: segment.key)
                segment.loaded.withLock { if $0.textIndexes[name] == nil { $0.bytes += bytes.count }; $0.textIndexes[name] = (config, index) }
            }
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
