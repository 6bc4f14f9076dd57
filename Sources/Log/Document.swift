/// A whole document: what an upsert writes.
public struct Document: Sendable, Equatable {
    public var id: DocumentID
    public var vector: [Float]?
    /// Attributes other than `id` and `vector`; absent means null.
    public var attributes: [String: AttributeValue]

    public init(id: DocumentID, vector: [Float]? = nil, attributes: [String: AttributeValue] = [:]) {
        self.id = id
        self.vector = vector
        self.attributes = attributes
    }
}

/// One resolved fact of a write. Conditional writes and by-filter writes are resolved to
/// these before they are logged, so replaying the log never re-evaluates a condition.
public enum WriteEvent: Sendable, Equatable {
    /// Replace (or create) the whole document.
    case upsert(Document)
    /// Change the named attributes of an existing document (null removes one);
    /// `vector` replaces the vector when present.
    case patch(id: DocumentID, attributes: [String: AttributeValue], vector: [Float]?)
    /// Remove the document.
    case delete(DocumentID)

    public var id: DocumentID {
        switch self {
        case .upsert(let d): return d.id
        case .patch(let id, _, _): return id
        case .delete(let id): return id
        }
    }
}
