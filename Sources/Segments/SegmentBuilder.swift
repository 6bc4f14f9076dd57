public import Foundation
public import Log

/// Builds the bytes of a segment from live documents (Specs/format/segment.md).
public enum SegmentBuilder {
    /// `documents` must have distinct ids; rows are ordered by id.
    public static func build(_ documents: [Document], config: NamespaceConfig, minSeq: UInt64, maxSeq: UInt64,
                             ivfOptions: IVFBuildOptions = IVFBuildOptions()) throws -> Data {
        let sorted = documents.sorted { $0.id < $1.id }
        var names = Set<String>()
        for document in sorted { names.formUnion(document.attributes.keys) }
        let attributes = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let dimension = sorted.first { $0.vector != nil }?.vector?.count
        var textIndexes: [String: FullTextConfig] = [:]
        for (name, fts) in config.fullTextAttributes { textIndexes[name] = fts }

        var parts: [(name: String, bytes: [UInt8])] = []
        let meta = SegmentMeta(rowCount: sorted.count, minSeq: minSeq, maxSeq: maxSeq, dimension: dimension,
                               attributes: attributes, textIndexes: textIndexes)
        parts.append(("meta", try meta.encode()))
        parts.append(("ids", SegmentIDs.encode(sorted.map(\.id))))
        if let dimension {
            parts.append(("vectors", SegmentVectors.encode(sorted, dimension: dimension)))
            // The IVF index of the segment's vectors; too few to train leaves it pending (no
            // part), and queries scan the segment exactly meanwhile.
            var matrix: [Float] = []
            var ordinals: [Int32] = []
            for (row, document) in sorted.enumerated() {
                guard let vector = document.vector else { continue }
                matrix.append(contentsOf: vector)
                ordinals.append(Int32(row))
            }
            if ordinals.count >= ivfOptions.minimumVectors,
               case .trained(let index) = IVFIndex.build(vectors: matrix, dimension: dimension, ordinals: ordinals, ordinalBound: sorted.count,
                                                         metric: config.distanceMetric ?? .cosineDistance, options: ivfOptions) {
                parts.append(("ivf", Array(index.bytes)))
            }
        }
        for name in attributes {
            parts.append(("column/\(name)", SegmentColumn.encode(sorted.map { $0.attributes[name] ?? .null })))
        }
        // The attribute index of every filterable attribute (Specs/format/filter-index.md).
        for name in attributes where FilterIndexCodec.isIndexed(name, config: config) {
            parts.append(("filter/\(name)", FilterIndexCodec.encode(sorted.map { $0.attributes[name] ?? .null })))
        }
        for name in textIndexes.keys.sorted() {
            let values = sorted.map { $0.attributes[name] ?? .null }
            parts.append(("text/\(name)", SegmentTextIndex.build(values, tokenizer: Tokenizer(textIndexes[name]!))))
        }
        return SegmentFile.assemble(parts)
    }
}
