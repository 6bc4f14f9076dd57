public import Foundation
public import Log

/// Builds the bytes of a segment from live documents (Specs/format/segment.md).
public enum SegmentBuilder {
    /// `documents` must have distinct ids; rows are ordered by id.
    public static func build(_ documents: [Document], config: NamespaceConfig, minSeq: UInt64, maxSeq: UInt64,
                             ivfOptions: IVFBuildOptions = IVFBuildOptions()) throws -> Data {
        try build(SegmentRows(documents: documents), config: config, minSeq: minSeq, maxSeq: maxSeq, ivfOptions: ivfOptions)
    }

    /// Builds from rows given column by column (flushes and compactions). `rows` is consumed:
    /// its vectors are released once the object holds them, and each attribute column once its
    /// parts are encoded, so the build holds little more than the vectors and the segment's
    /// own bytes.
    public static func build(_ rows: consuming SegmentRows, config: NamespaceConfig, minSeq: UInt64, maxSeq: UInt64,
                             ivfOptions: IVFBuildOptions = IVFBuildOptions()) throws -> Data {
        let rowCount = rows.count
        var textIndexes: [String: FullTextConfig] = [:]
        for (name, fts) in config.fullTextAttributes { textIndexes[name] = fts }

        var parts: [(name: String, content: SegmentFile.PartContent)] = []
        parts.append(("ids", .bytes(SegmentIDs.encode(rows.ids))))
        if let dimension = rows.dimension {
            // The IVF index of the segment's vectors; its lists hold every vector, so the
            // segment then has no `vectors` part. Too few to train leaves it pending (no
            // `ivf` part), and queries scan the `vectors` part exactly meanwhile. A trained
            // index is encoded straight into the object; a large matrix waits for that in a
            // temporary file, so the object and the matrix are never in memory together.
            var trained: IVFIndexDraft? = nil
            if rows.vectorRows.count >= ivfOptions.minimumVectors,
               case .trained(let draft) = IVFIndex.draft(vectors: rows.vectors, dimension: dimension, ordinals: rows.vectorRows,
                                                         ordinalBound: rowCount, metric: config.distanceMetric ?? .cosineDistance,
                                                         options: ivfOptions) {
                trained = draft
            } else {
                parts.append(("vectors", .bytes(SegmentVectors.encode(matrix: rows.vectors, rows: rows.vectorRows, rowCount: rowCount, dimension: dimension))))
            }
            rows.vectors = []
            rows.vectorRows = []
            if var draft = trained {
                if draft.rowBytes >= ivfOptions.spillRowsFromBytes { try draft.spillRows() }
                parts.append(("ivf", .written(length: draft.encodedLength, write: draft.write(into:))))
            }
        }
        // Columns and text indexes, one attribute in memory at a time; a column no row has a
        // value in is not written.
        var attributes: [String] = []
        for name in rows.attributeNames.union(textIndexes.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let values = rows.column(name)
            if rows.attributeNames.contains(name), values.contains(where: { !$0.isNull }) {
                attributes.append(name)
                parts.append(("column/\(name)", .bytes(SegmentColumn.encode(values))))
                // The attribute index of a filterable attribute (Specs/format/filter-index.md).
                if FilterIndexCodec.isIndexed(name, config: config) {
                    parts.append(("filter/\(name)", .bytes(FilterIndexCodec.encode(values))))
                }
            }
            if let fts = textIndexes[name] {
                // A flushed tail inverted its text as it was written: no second tokenisation.
                let text = rows.invertedText(name, fts).map(SegmentTextIndex.encode)
                    ?? SegmentTextIndex.build(values, tokenizer: Tokenizer(fts))
                parts.append(("text/\(name)", .bytes(text)))
            }
        }
        let meta = SegmentMeta(rowCount: rowCount, minSeq: minSeq, maxSeq: maxSeq, dimension: rows.dimension,
                               attributes: attributes, textIndexes: textIndexes)
        parts.insert(("meta", .bytes(try meta.encode())), at: 0)
        return try SegmentFile.assemble(consuming: parts)
    }
}
