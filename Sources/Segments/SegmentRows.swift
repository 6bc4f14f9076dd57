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

    /// The visible rows of segment views (their columns loaded) and, optionally, the live
    /// rows of a tail, merged by id. Ids must be distinct across them, as newest-wins
    /// visibility makes them. Vectors are read from `vectorsFrom` when given (the same
    /// segments through other open copies, which the caller can release once this returns).
    public init(segments: [SegmentView], tail: NamespaceProjection? = nil, vectorsFrom: [SegmentView]? = nil) throws {
        var origins: [Origin] = []
        origins.reserveCapacity(segments.reduce(tail?.liveCount ?? 0) { $0 + $1.visibleCount })
        for (s, view) in segments.enumerated() {
            view.visible.forEachSetBit { origins.append(Origin(id: view.segment.ids[$0], source: Int32(s), row: Int32($0))) }
        }
        if let tail {
            for row in 0..<tail.rowCount where tail.alive[row] {
                origins.append(Origin(id: tail.ids[row], source: Int32(segments.count), row: Int32(row)))
            }
        }
        origins.sort { $0.id < $1.id }
        let sources: [RowSource] = segments.map { .segment($0) } + (tail.map { [.tail($0)] } ?? [])
        ids = origins.map(\.id)
        var names = Set<String>()
        for view in segments { names.formUnion(view.segment.meta.attributes) }
        if let tail { names.formUnion(tail.columns.keys) }
        attributeNames = names
        let vectorSources: [RowSource] = vectorsFrom.map { $0.map { .segment($0) } + (tail.map { [.tail($0)] } ?? []) } ?? sources
        for (row, origin) in origins.enumerated() {
            guard let vector = try vectorSources[Int(origin.source)].vector(row: Int(origin.row)) else { continue }
            if dimension == nil {
                dimension = vector.count
                vectors.reserveCapacity(vector.count * (origins.count - row))
            }
            vectorRows.append(Int32(row))
            vectors.append(contentsOf: vector)
        }
        column = { name in origins.map { sources[Int($0.source)].value(name, row: Int($0.row)) } }
        if segments.isEmpty, let tail {
            // Every row comes from the tail: its text indexes, renumbered, are the segment's.
            var segmentRow = [Int32](repeating: -1, count: tail.rowCount)
            for (row, origin) in origins.enumerated() { segmentRow[Int(origin.row)] = Int32(row) }
            let count = origins.count
            invertedText = { name, config in tail.textIndexes[name]?.inverted(config: config, segmentRows: segmentRow, count: count) }
        }
    }
}
