public import Log
public import Planner
public import Segments

/// What one write request did, for its response.
public struct WriteOutcome: Sendable, Equatable {
    public var upserted: [DocumentID] = []
    public var patched: [DocumentID] = []
    public var deleted: [DocumentID] = []
    public var returnAffectedIDs = false
    public var logicalBytesWritten = 0

    public var rowsAffected: Int { upserted.count + patched.count + deleted.count }
}

/// Resolves validated write requests into the facts the log records (ARCHITECTURE.md §5
/// step 2): filters and conditions are evaluated against the pinned snapshot (segments and
/// tail) plus the documents earlier requests of the same group commit wrote, and become
/// concrete events. A patch is logged as the whole resolved document (an upsert), so replaying
/// the tail never needs a document that lives in a segment.
struct WriteResolver {
    let view: NamespaceView
    private(set) var config: NamespaceConfig
    /// Documents changed earlier in this batch: the document, or nil once deleted.
    private var overlay: [DocumentID: Document?] = [:]
    private(set) var events: [WriteEvent] = []
    private(set) var liveDelta = 0
    private(set) var bytesDelta = 0

    init(view: NamespaceView, config: NamespaceConfig) {
        self.view = view
        self.config = config
    }

    /// Whether resolving the request reads stored documents (not only ids): then every
    /// segment part must be in memory first.
    static func readsDocuments(_ request: WriteRequest) -> Bool {
        !request.patches.isEmpty || request.deleteByFilter != nil || request.patchByFilter != nil
            || request.upsertCondition != nil || request.patchCondition != nil || request.deleteCondition != nil
    }

    /// `NamespaceProjection.approximateBytes` of the live document as of the events resolved
    /// so far (nil: none).
    func currentBytes(_ id: DocumentID) -> Int? {
        if let entry = overlay[id] { return entry.map(NamespaceProjection.approximateBytes) }
        return view.liveDocumentBytes(of: id)
    }

    /// The live document of an id as of the events resolved so far.
    func current(_ id: DocumentID) throws -> Document? {
        if let entry = overlay[id] { return entry }
        return try view.liveDocument(of: id)
    }

    /// Ids of live documents matching a filter, in id order.
    func matching(_ filter: FilterExpression) -> [DocumentID] {
        var ids: [DocumentID] = []
        for source in view.sources {
            let predicate = RowPredicate(filter, source: source, config: config)
            for row in 0..<source.rowCount where source.isVisible(row) {
                let id = source.id(row)
                if overlay[id] == nil, predicate.matches(row) { ids.append(id) }
            }
        }
        for (id, document) in overlay {
            if let document, filter.matches(document, config: config) { ids.append(id) }
        }
        return ids.sorted()
    }

    /// Resolves one request; its config becomes the batch's config.
    /// Throws only when reading a document from a segment fails (an I/O error, not the
    /// request's fault).
    mutating func resolve(_ request: WriteRequest) throws -> WriteOutcome {
        config = request.config
        var outcome = WriteOutcome(returnAffectedIDs: request.returnAffectedIDs)

        if let filter = request.deleteByFilter {
            for id in matching(filter) where try record(.delete(id)) { outcome.deleted.append(id) }
        }
        if let (filter, attributes) = request.patchByFilter {
            for id in matching(filter) where try record(.patch(id: id, attributes: attributes, vector: nil)) {
                outcome.patched.append(id)
            }
        }
        for document in request.upserts {
            if let condition = request.upsertCondition, let existing = try current(document.id),
               !condition.substitutingReferences(document).matches(existing, config: config) {
                continue
            }
            if try record(.upsert(document)) { outcome.upserted.append(document.id) }
        }
        for patch in request.patches {
            guard let existing = try current(patch.id) else { continue }
            if let condition = request.patchCondition {
                var incoming = existing
                for (name, value) in patch.attributes { incoming.attributes[name] = value.isNull ? nil : value }
                if !condition.substitutingReferences(incoming).matches(existing, config: config) { continue }
            }
            if try record(.patch(id: patch.id, attributes: patch.attributes, vector: patch.vector)) {
                outcome.patched.append(patch.id)
            }
        }
        for id in request.deletes {
            guard let existing = try current(id) else { continue }
            if let condition = request.deleteCondition,
               !condition.substitutingReferences(Document(id: id)).matches(existing, config: config) {
                continue
            }
            if try record(.delete(id)) { outcome.deleted.append(id) }
        }
        outcome.logicalBytesWritten = outcome.upserted.count == 0 && outcome.patched.count == 0 ? 0 :
            request.upserts.reduce(0) { $0 + NamespaceProjection.approximateBytes($1) }
        return outcome
    }

    /// Appends an event and updates the overlay; false when it changes nothing
    /// (a patch or delete of a document that does not exist).
    private mutating func record(_ event: WriteEvent) throws -> Bool {
        // An upsert or delete needs only the size of the document it replaces (not its vector,
        // which a segment may hold in a file); a patch needs the whole document.
        let beforeBytes: Int?
        let after: Document?
        switch event {
        case .upsert(let document):
            beforeBytes = currentBytes(event.id)
            after = document
        case .patch(let id, let attributes, let vector):
            let before = try current(id)
            beforeBytes = before.map(NamespaceProjection.approximateBytes)
            guard var document = before else { return false }
            for (name, value) in attributes { document.attributes[name] = value.isNull ? nil : value }
            if let vector { document.vector = vector }
            after = document
            _ = id
        case .delete:
            beforeBytes = currentBytes(event.id)
            guard beforeBytes != nil else { return false }
            after = nil
        }
        overlay[event.id] = .some(after)
        liveDelta += (after == nil ? 0 : 1) - (beforeBytes == nil ? 0 : 1)
        bytesDelta += (after.map(NamespaceProjection.approximateBytes) ?? 0) - (beforeBytes ?? 0)
        if case .patch = event, let after {
            events.append(.upsert(after))
        } else {
            events.append(event)
        }
        return true
    }
}
