public import Kernels
public import Log

/// A segment as one snapshot sees it: the rows still visible after the published deletion
/// vector and after the snapshot's WAL tail shadowed (overwrote or deleted) some of its ids.
public struct SegmentView: Sendable {
    public let segment: Segment
    public private(set) var visible: Bitset
    public private(set) var visibleCount: Int

    public init(segment: Segment, deleted: Bitset?) {
        self.segment = segment
        var visible = Bitset(allSet: segment.rowCount)
        if let deleted { visible.subtract(deleted) }
        self.visible = visible
        visibleCount = visible.popcount
    }

    /// The same rows of the same object, read through another open copy of it.
    public init(_ view: SegmentView, through copy: Segment) {
        segment = copy
        visible = view.visible
        visibleCount = view.visibleCount
    }

    /// Hides the row of `id`, if this segment holds it (the tail has a newer version).
    public mutating func shadow(_ id: DocumentID) {
        guard let row = segment.row(of: id), visible.contains(row) else { return }
        visible.clear(row)
        visibleCount -= 1
    }

    public var hiddenCount: Int { segment.rowCount - visibleCount }

    /// `NamespaceProjection.approximateBytes` of the row's document, without reading its vector.
    public func documentBytes(row: Int) -> Int {
        var bytes = 8
        if let vectors = segment.vectors, vectors.hasVector(row: row) { bytes += vectors.dimension * 4 }
        for name in segment.meta.attributes {
            if let value = segment.column(name)?[row], !value.isNull { bytes += name.utf8.count + NamespaceProjection.valueBytes(value) }
        }
        return bytes
    }

    /// The whole visible document of a row (needs every column and the vectors loaded).
    public func document(row: Int) throws -> Document {
        var attributes: [String: AttributeValue] = [:]
        for name in segment.meta.attributes {
            if let value = segment.column(name)?[row], !value.isNull { attributes[name] = value }
        }
        return Document(id: segment.ids[row], vector: try segment.vectors?.vector(ofRow: row), attributes: attributes)
    }
}
