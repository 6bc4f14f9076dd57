import Kernels
public import Log

/// The rows of a segment to build, column by column (SegmentBuilder): ids in order, the
/// vectors in one contiguous matrix, and each attribute produced on demand, so a flush or a
/// compaction never holds a `Document` per row, nor more than one attribute column at a time.
public struct SegmentRows {
    /// Row ordinal → id, ascending and distinct.
    public var ids: [DocumentID]
    public var dimension: Int?
    /// The rows that have a vector, ascending.
    public var vectorRows: [Int32] = []
    /// Their vectors, row-major (`vectorRows.count × dimension`).
    public var vectors: [Float] = []
    /// Attribute names that may hold values (a column whose rows are all null is not written).
    public var attributeNames: Set<String>
    /// The value of `attribute` for every row, in row order (null where absent).
    public var column: (_ attribute: String) -> [AttributeValue]
    /// The text index of `attribute` over these rows, already inverted under `config`, when
    /// the source holds it (a flushed tail's); nil: the builder tokenises the column.
    public var invertedText: (_ attribute: String, _ config: FullTextConfig) -> SegmentTextIndex.Inverted? = { _, _ in nil }
    /// Where each row comes from, when merged from several sources.
    private var origins: [Origin] = []

    public var count: Int { ids.count }

    public init(ids: [DocumentID], dimension: Int?, vectorRows: [Int32], vectors: [Float], attributeNames: Set<String>,
                column: @escaping (String) -> [AttributeValue]) {
        self.ids = ids
        self.dimension = dimension
        self.vectorRows = vectorRows
        self.vectors = vectors
        self.attributeNames = attributeNames
        self.column = column
    }

    /// Rows from whole documents (distinct ids, any order).
    public init(documents: [Document]) {
        let sorted = documents.sorted { $0.id < $1.id }
        ids = sorted.map(\.id)
        dimension = sorted.first { $0.vector != nil }?.vector?.count
        attributeNames = sorted.reduce(into: Set()) { $0.formUnion($1.attributes.keys) }
        for (row, document) in sorted.enumerated() {
            guard let vector = document.vector else { continue }
            vectorRows.append(Int32(row))
            vectors.append(contentsOf: vector)
        }
        column = { name in sorted.map { $0.attributes[name] ?? .null } }
    }

    /// Places of rows in several sources, sorted by id: `gather` then reads each column in
    /// that order.
    public struct Origin: Sendable {
        public var id: DocumentID
        public var source: Int32
        public var row: Int32
    }

    /// The visible rows of segment views (their columns and vectors loaded) and, optionally,
    /// the live rows of a tail, merged by id. Ids must be distinct across them, as
    /// newest-wins visibility makes them.
    public init(segments: [SegmentView], tail: NamespaceProjection? = nil) throws {
        let sources: [RowSource] = segments.map { .segment($0) } + (tail.map { [.tail($0)] } ?? [])
        self.init(merging: sources)
        var gathered = [Bool](repeating: false, count: count)
        for (s, source) in sources.enumerated() { try gatherVectors(of: s, from: source, into: &gathered) }
        keepGatheredVectors(gathered)
        if segments.isEmpty, let tail {
            // Every row comes from the tail: its text indexes, renumbered, are the segment's.
            var segmentRow = [Int32](repeating: -1, count: tail.rowCount)
            for (row, origin) in origins.enumerated() { segmentRow[Int(origin.row)] = Int32(row) }
            let count = origins.count
            invertedText = { name, config in tail.textIndexes[name]?.inverted(config: config, segmentRows: segmentRow, count: count) }
        }
    }

    /// The visible rows of segment views (their columns loaded) merged by id, as `init`, for a
    /// compaction: each segment's vectors are read through the view `open` returns for it
    /// (another open copy of the segment with its vectors loaded), one segment at a time, so
    /// the merge holds the merged matrix and a single input's vectors, never all of them.
    public static func merging(_ segments: [SegmentView],
                               vectorsThrough open: (SegmentView) async throws -> SegmentView) async throws -> SegmentRows {
        var rows = SegmentRows(merging: segments.map { .segment($0) })
        var gathered = [Bool](repeating: false, count: rows.count)
        for (s, view) in segments.enumerated() {
            try rows.gatherVectors(of: s, from: .segment(try await open(view)), into: &gathered)
        }
        rows.keepGatheredVectors(gathered)
        return rows
    }

    /// Ids, attribute names and columns of the sources' visible rows merged by id; no vectors.
    private init(merging sources: [RowSource]) {
        var origins: [Origin] = []
        origins.reserveCapacity(sources.reduce(0) { $0 + $1.visibleCount })
        for (s, source) in sources.enumerated() {
            switch source {
            case .segment(let view):
                view.visible.forEachSetBit { origins.append(Origin(id: view.segment.ids[$0], source: Int32(s), row: Int32($0))) }
            case .tail(let tail):
                for row in 0..<tail.rowCount where tail.alive[row] {
                    origins.append(Origin(id: tail.ids[row], source: Int32(s), row: Int32(row)))
                }
            }
        }
        origins.sort { $0.id < $1.id }
        var names = Set<String>()
        for source in sources {
            switch source {
            case .segment(let view): names.formUnion(view.segment.meta.attributes)
            case .tail(let tail): names.formUnion(tail.columns.keys)
            }
        }
        self.init(ids: origins.map(\.id), dimension: nil, vectorRows: [], vectors: [], attributeNames: names,
                  column: { name in origins.map { sources[Int($0.source)].value(name, row: Int($0.row)) } })
        self.origins = origins
    }

    /// Copies the vectors of source `s`'s rows, read from `source`, to their rows of the
    /// matrix (which has a place for every row until `keepGatheredVectors`).
    private mutating func gatherVectors(of s: Int, from source: RowSource, into gathered: inout [Bool]) throws {
        for (row, origin) in origins.enumerated() where origin.source == s {
            guard let vector = try source.vector(row: Int(origin.row)) else { continue }
            if dimension == nil {
                dimension = vector.count
                vectors = [Float](repeating: 0, count: origins.count * vector.count)
            }
            let d = vector.count
            guard d == dimension else {
                throw FormatError(.corrupt, object: "segment rows", "a vector of \(d) dimensions among vectors of \(dimension ?? 0)")
            }
            vectors.withUnsafeMutableBufferPointer { matrix in
                vector.withUnsafeBufferPointer { (matrix.baseAddress! + row * d).update(from: $0.baseAddress!, count: d) }
            }
            gathered[row] = true
        }
    }

    /// Closes the gaps left by rows without a vector: `vectors` then holds `vectorRows` only.
    private mutating func keepGatheredVectors(_ gathered: [Bool]) {
        guard let d = dimension else { return }
        var kept = 0
        vectors.withUnsafeMutableBufferPointer { matrix in
            for row in gathered.indices where gathered[row] {
                if kept != row { (matrix.baseAddress! + kept * d).update(from: matrix.baseAddress! + row * d, count: d) }
                vectorRows.append(Int32(row))
                kept += 1
            }
        }
        vectors.removeLast((gathered.count - kept) * d)
    }
}
