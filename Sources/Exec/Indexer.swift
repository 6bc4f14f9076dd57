import Foundation
import Kernels
public import Log
import Segments
import Store

/// Settings of the indexer (configuration section `[indexer]`).
public struct IndexerOptions: Sendable {
    /// A tail at least this large is folded into a segment at the next check.
    public var flushBytes = 32 << 20
    /// A smaller non-empty tail is folded once the namespace has been quiet this long.
    public var flushInterval: Duration = .seconds(5)
    /// A tail of this many WAL entries is folded whatever its size (keeps manifests small).
    public var flushEntries = 256
    /// Segments merged by one compaction (and the count that triggers it).
    public var compactionFanIn = 8
    /// A flushed segment gets its IVF index only from this many vectors on (by default never):
    /// training is the costly part of a flush, which runs while writes arrive, and a pending
    /// index is scanned exactly meanwhile. Once the tail is empty, segments still without an
    /// index are compacted into one that has it.
    public var flushVectorIndexMinRows = Int.max
    /// Above this much unindexed tail, writes get 429 unless they disable backpressure.
    public var maxUnindexedBytes = 512 << 20

    public init() {}
}

/// Folds a namespace's WAL tail into an immutable segment and merges segments (ARCHITECTURE.md
/// §6). Both publish through the same create-only manifest commit as writes: a writer that
/// commits meanwhile makes the indexer rebase its finished work onto the newer version (the log
/// is append-only, so the segment stays valid); another indexer's publish makes it give up
/// (its objects are orphans for garbage collection), never lose data.
///
/// Lives in Exec rather than Segments because it reads the namespace through the engine's
/// snapshots (the replica already holds the projected tail).
struct Indexer {
    let manifests: ManifestStore
    let maxAttempts: Int
    var flushVectorIndexMinRows = 1_000

    enum Outcome: Equatable { case nothingToDo, published, superseded }

    /// Writes the tail of `snapshot` as a segment plus the deletion vectors it implies for older
    /// segments, then commits a manifest that moves `indexed_through_seq` past it.
    func flush(_ snapshot: Snapshot) async throws -> (Outcome, Manifest?) {
        let base = snapshot.manifest
        guard !base.isDeleted, let through = base.wal.last?.seq, through > base.indexedThroughSeq else { return (.nothingToDo, nil) }
        MemoryBreakdown.report("flush of \(base.namespace) v\(base.version)", snapshot)
        let view = snapshot.view
        let tail = view.tail
        let layout = manifests.layout(base.namespace)
        let token = UUID().uuidString.lowercased()

        var references = base.segmentList
        var emptied = Set<String>()
        // Rows the tail overwrote or deleted in older segments: exactly what the view hides.
        for (i, segmentView) in view.segments.enumerated() {
            // A segment with no visible row leaves the list: no reader would find a row in it,
            // and one left listed would still be opened and its parts loaded by queries.
            if segmentView.visibleCount == 0 {
                emptied.insert(references[i].key)
                continue
            }
            guard segmentView.hiddenCount != references[i].deletedRows else { continue }
            var deleted = segmentView.visible
            deleted.formComplement()
            let key = layout.root + "deletes/\(Self.name(of: references[i].key))-\(NamespaceLayout.padded(through))-\(token)"
            try await manifests.store.put(key, DeletionVectorCodec.encode(deleted), condition: .ifAbsent)
            references[i].deletes = key
            references[i].deletedRows = segmentView.hiddenCount
        }
        references.removeAll { emptied.contains($0.key) }
        if tail.liveCount > 0 {
            let minSeq = base.wal.first { $0.seq > base.indexedThroughSeq }?.seq ?? through
            var ivf = IVFBuildOptions()
            ivf.minimumVectors = max(ivf.minimumVectors, flushVectorIndexMinRows)
            // Column by column from the tail projection: no Document per row.
            let bytes = try SegmentBuilder.build(SegmentRows(segments: [], tail: tail), config: base.config, minSeq: minSeq,
                                                 maxSeq: through, ivfOptions: ivf)
            let key = layout.root + "segments/\(NamespaceLayout.padded(through))-\(token).seg"
            try await manifests.store.put(key, bytes, condition: .ifAbsent)
            references.append(try Self.reference(key: key, object: bytes, rows: tail.liveCount, minSeq: minSeq, maxSeq: through))
        }
        return try await publish(from: base, segments: references, indexedThrough: through, token: token)
    }

    /// Merges the oldest `fanIn` segments' visible rows into one segment when there are at
    /// least `fanIn` of them; dead rows are dropped and indexes rebuilt.
    func compact(_ snapshot: Snapshot, fanIn: Int) async throws -> (Outcome, Manifest?) {
        let base = snapshot.manifest
        let inputs = Array(snapshot.view.segments.prefix(fanIn))
        guard !base.isDeleted, fanIn >= 1, inputs.count >= fanIn else { return (.nothingToDo, nil) }
        MemoryBreakdown.report("compaction of \(base.namespace) v\(base.version), \(fanIn) segments", snapshot)
        let references = base.segmentList
        let merged = references.prefix(inputs.count)
        let minSeq = merged.map(\.minSeq).min() ?? 0, maxSeq = merged.map(\.maxSeq).max() ?? 0
        let token = UUID().uuidString.lowercased()
        var replacement: [SegmentReference] = []
        let rows = inputs.reduce(0) { $0 + $1.visibleCount }
        if rows > 0 {
            let bytes = try await Self.merge(inputs, config: base.config, minSeq: minSeq, maxSeq: maxSeq, store: manifests.store)
            let key = manifests.layout(base.namespace).root + "segments/\(NamespaceLayout.padded(maxSeq))-\(token).seg"
            try await manifests.store.put(key, bytes, condition: .ifAbsent)
            MemoryBreakdown.mark("compaction: segment written")
            replacement.append(try Self.reference(key: key, object: bytes, rows: rows, minSeq: minSeq, maxSeq: maxSeq))
        }
        // The merged rows exclude what the tail shadows; the tail stays, so it keeps doing so.
        return try await publish(from: base, segments: replacement + references.dropFirst(inputs.count),
                                 indexedThrough: base.indexedThroughSeq, token: token, replacing: Array(merged))
    }

    /// The manifest's reference to a segment just written, with its part directory (so nodes
    /// open it without reading its trailer and table; Specs/format/manifest.md §7).
    static func reference(key: String, object: Data, rows: Int, minSeq: UInt64, maxSeq: UInt64) throws -> SegmentReference {
        SegmentReference(key: key, bytes: object.count, rows: rows, minSeq: minSeq, maxSeq: maxSeq,
                         parts: try SegmentFile.directory(ofObject: object, key: key))
    }

    /// The merged segment's bytes: the inputs' visible rows, column by column. Vectors not
    /// already in memory are read through a private copy of each input in turn, released once
    /// gathered into the new segment's matrix, so compaction holds the merged vectors and one
    /// input's at a time, and never pins them in the open-segment cache.
    static func merge(_ inputs: [SegmentView], config: NamespaceConfig, minSeq: UInt64, maxSeq: UInt64,
                      store: any ObjectStore) async throws -> Data {
        let columns = SegmentPartRequest(columns: nil)
        for view in inputs { try await view.segment.load(columns, store: store) }
        MemoryBreakdown.mark("compaction: inputs' columns loaded")
        let vectors = SegmentPartRequest(vectors: true)
        let rows = try await SegmentRows.merging(inputs) { view in
            if view.segment.hasLoaded(vectors) { return view }
            let copy = try await Segment.open(key: view.segment.key, size: view.segment.objectSize, store: store)
            try await copy.load(vectors, store: store)
            return SegmentView(view, through: copy)
        }
        MemoryBreakdown.mark("compaction: vectors gathered")
        defer { MemoryBreakdown.mark("compaction: segment assembled") }
        // Moved, not copied: the builder releases the matrix once the object holds it.
        return try SegmentBuilder.build(consume rows, config: config, minSeq: minSeq, maxSeq: maxSeq)
    }

    /// Commits `segments` on top of the newest version. A writer's commit in between only
    /// appended WAL entries: rebase and retry. Any change to the segments or to
    /// `indexed_through_seq` means another indexer published first: give up.
    private func publish(from base: Manifest, segments: [SegmentReference], indexedThrough: UInt64, token: String,
                         replacing: [SegmentReference]? = nil) async throws -> (Outcome, Manifest?) {
        var newest = base
        for attempt in 0..<maxAttempts {
            if attempt > 0 {
                guard let latest = try await manifests.latest(base.namespace, atLeast: newest.version) else { return (.superseded, nil) }
                guard !latest.isDeleted, latest.isSameIncarnation(as: base),
                      latest.segmentList == base.segmentList, latest.indexedThroughSeq == base.indexedThroughSeq else {
                    return (.superseded, nil)
                }
                newest = latest
            }
            var next = newest
            next.version = newest.version + 1
            next.updatedAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
            next.commitToken = token + "-\(attempt)"
            next.segments = segments
            next.indexedThroughSeq = indexedThrough
            next.wal = newest.wal.filter { $0.seq > indexedThrough }
            if try await manifests.commit(next) == .committed {
                await manifests.advanceHint(base.namespace, to: next.version)
                return (.published, next)
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...10)))
        }
        return (.superseded, nil)
    }

    static func name(of key: String) -> String {
        let last = key.split(separator: "/").last.map(String.init) ?? key
        return last.hasSuffix(".seg") ? String(last.dropLast(4)) : last
    }
}
