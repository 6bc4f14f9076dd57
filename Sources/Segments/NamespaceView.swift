import Kernels
public import Log
public import Store

/// Everything one snapshot holds: the segments its manifest lists (oldest first, each with
/// its visibility) and the projection of its unindexed WAL tail. Newest wins: the tail
/// shadows segments, and newer segments reached older ones through deletion vectors.
public struct NamespaceView: Sendable {
    public private(set) var segments: [SegmentView]
    public private(set) var tail: NamespaceProjection

    public init(segments: [SegmentView], tail: NamespaceProjection) {
        self.segments = segments
        self.tail = tail
        for id in tail.touchedIDs { shadowInSegments(id) }
    }

    public var sources: [RowSource] { segments.map { .segment($0) } + [.tail(tail)] }

    public var liveCount: Int { segments.reduce(tail.liveCount) { $0 + $1.visibleCount } }

    /// Applies a committed WAL entry to the tail and hides the segment rows it supersedes.
    public mutating func apply(_ entry: WALEntry, config: NamespaceConfig) throws {
        // The lookup closure holds the segments only, never a copy of this view: a copy would
        // share the tail's storage (its text index's term dictionary above all) and make the
        // tail copy all of it on every commit instead of appending in place.
        do {
            let segments = self.segments
            try tail.apply(entry, config: config) { id in try Self.segmentDocument(of: id, in: segments) }
        }
        for event in entry.events { shadowInSegments(event.id) }
    }

    public mutating func updateConfig(_ config: NamespaceConfig) {
        tail.updateConfig(config)
    }

    private mutating func shadowInSegments(_ id: DocumentID) {
        for i in segments.indices { segments[i].shadow(id) }
    }

    /// Where the live version of an id is, if anywhere.
    public func locate(_ id: DocumentID) -> (source: Int, row: Int)? {
        if let row = tail.liveRow(of: id) { return (segments.count, row) }
        if tail.touchedIDs.contains(id) { return nil }
        for i in segments.indices.reversed() {
            if let row = segments[i].segment.row(of: id), segments[i].visible.contains(row) { return (i, row) }
        }
        return nil
    }

    public func exists(_ id: DocumentID) -> Bool { locate(id) != nil }

    /// The live document of an id (segment parts must be loaded: `load(.everything, …)`).
    public func liveDocument(of id: DocumentID) throws -> Document? {
        guard let (source, row) = locate(id) else { return nil }
        return source == segments.count ? tail.document(row: row) : try segments[source].document(row: row)
    }

    /// `NamespaceProjection.approximateBytes` of the id's live document (nil: none), without
    /// reading a segment row's vector (writes that replace or delete a document need only this).
    public func liveDocumentBytes(of id: DocumentID) -> Int? {
        guard let (source, row) = locate(id) else { return nil }
        return source == segments.count ? NamespaceProjection.approximateBytes(tail.document(row: row)) : segments[source].documentBytes(row: row)
    }

    private static func segmentDocument(of id: DocumentID, in segments: [SegmentView]) throws -> Document? {
        for view in segments.reversed() {
            if let row = view.segment.row(of: id), view.visible.contains(row) { return try view.document(row: row) }
        }
        return nil
    }

    /// Loads the requested parts of every segment, in one parallel wave of reads.
    public func load(_ request: SegmentPartRequest, store: any ObjectStore) async throws {
        try await Segment.load(segments.map(\.segment), request, store: store)
    }
}
