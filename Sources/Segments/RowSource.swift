import Kernels
public import Log

/// One place rows of a pinned snapshot live: a segment as the snapshot sees it, or the WAL
/// tail. Row references are (source, ordinal); operators work per source and per batch.
public enum RowSource: Sendable {
    case segment(SegmentView)
    case tail(NamespaceProjection)

    public var rowCount: Int {
        switch self {
        case .segment(let view): return view.segment.rowCount
        case .tail(let projection): return projection.rowCount
        }
    }

    public var visibleCount: Int {
        switch self {
        case .segment(let view): return view.visibleCount
        case .tail(let projection): return projection.liveCount
        }
    }

    /// Whether the row is part of the snapshot (not deleted, overwritten or shadowed).
    @inline(__always)
    public func isVisible(_ row: Int) -> Bool {
        switch self {
        case .segment(let view): return view.visible.contains(row)
        case .tail(let projection): return projection.alive[row]
        }
    }

    public func id(_ row: Int) -> DocumentID {
        switch self {
        case .segment(let view): return view.segment.ids[row]
        case .tail(let projection): return projection.ids[row]
        }
    }

    public func value(_ attribute: String, row: Int) -> AttributeValue {
        switch self {
        case .segment(let view):
            if attribute == "id" { return view.segment.ids[row].attributeValue }
            return view.segment.column(attribute)?[row] ?? .null
        case .tail(let projection):
            return projection.value(attribute, row: row)
        }
    }

    /// Whether the row has a vector (without copying it out).
    public func hasVector(row: Int) -> Bool {
        switch self {
        case .segment(let view): return view.segment.vectors?.hasVector(row: row) ?? false
        case .tail(let projection): return projection.hasVector[row]
        }
    }

    public func vector(row: Int) throws -> [Float]? {
        switch self {
        case .segment(let view): return try view.segment.vectors?.vector(ofRow: row)
        case .tail(let projection):
            return projection.vector(row: row)
        }
    }

    /// Attribute names that may hold values in this source.
    public var attributeNames: [String] {
        switch self {
        case .segment(let view): return view.segment.meta.attributes
        case .tail(let projection): return Array(projection.columns.keys)
        }
    }

    public func document(row: Int) throws -> Document {
        switch self {
        case .segment(let view): return try view.document(row: row)
        case .tail(let projection): return projection.document(row: row)
        }
    }

    /// How `explain` names the source.
    public var label: String {
        switch self {
        case .segment(let view): return "segment \(view.segment.key.split(separator: "/").last.map(String.init) ?? view.segment.key)"
        case .tail: return "wal-tail"
        }
    }
}
