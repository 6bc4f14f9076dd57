import Foundation
import Kernels
public import Log
import Segments
import Store
import Synchronization

/// This node's copy of one namespace's state: the newest manifest it knows and the
/// projection of its WAL, advanced incrementally (the log is append-only, so a newer
/// version only adds entries). Strong reads revalidate against the store; eventual reads
/// accept a copy refreshed within the poll interval.
actor NamespaceReplica {
    let namespace: String
    let manifests: ManifestStore
    let pollInterval: Duration
    private(set) var current: Snapshot?
    private var refreshedAt: ContinuousClock.Instant?
    /// Open segments and loaded deletion vectors by key, shared by the snapshots that list them.
    private var openSegments: [String: Segment] = [:]
    private var deletionVectors: [String: Bitset] = [:]

    init(namespace: String, manifests: ManifestStore, pollInterval: Duration) {
        self.namespace = namespace
        self.manifests = manifests
        self.pollInterval = pollInterval
    }

    /// The newest snapshot (nil when the namespace does not exist).
    func snapshot(strong: Bool) async throws -> Snapshot? {
        try await snapshotCountingLoads(strong: strong).snapshot
    }

    /// The newest snapshot and how many WAL entries had to be read from the store for it
    /// (0 when this node's memory already held everything: a hot read).
    /// `prefetch` names the segment parts the caller's query will read (from the newest
    /// manifest's config): a refresh that opens segments reads them in the same wave as the
    /// segments' meta and ids (a concurrent caller that joins the refresh loads its own later).
    func snapshotCountingLoads(strong: Bool, prefetch: Prefetch? = nil) async throws -> (snapshot: Snapshot?, loadedEntries: Int) {
        if !strong, let refreshedAt, ContinuousClock.now - refreshedAt < pollInterval {
            return (current, 0)
        }
        return try await sharedRefresh(prefetch)
    }

    /// The parts a query will read, given the namespace config (nil: none known).
    typealias Prefetch = @Sendable (NamespaceConfig) -> SegmentPartRequest?

    /// Reads a historical version (time travel); built from scratch, not cached.
    func snapshot(asOf version: UInt64) async throws -> Snapshot? {
        if let current, current.manifest.version == version { return current }
        guard let manifest = try await manifests.read(namespace, version: version) else { return nil }
        return try await build(manifest, from: nil, historical: true).snapshot
    }

    // MARK: Single-flight refresh

    /// The refresh in progress, and the one queued to start when it ends. Concurrent callers
    /// share refreshes instead of each replaying the WAL: a caller joins the queued one, never
    /// the running one, which may have read the newest version number before the caller
    /// arrived (a strong read must see every version committed before it started).
    private var running: Task<(Snapshot?, Int), any Error>?
    private var queued: Task<(Snapshot?, Int), any Error>?

    /// Runs (or joins) a refresh that starts after this call; returns the snapshot it
    /// installed and its loaded-entry count (the snapshot itself, not `current` read later:
    /// an eviction may clear `current` before the caller resumes).
    private func sharedRefresh(_ prefetch: Prefetch?) async throws -> (Snapshot?, Int) {
        if let queued { return try await queued.value }
        guard let previous = running else {
            let task = Task { try await self.runRefresh(promoted: false, prefetch) }
            running = task
            return try await task.value
        }
        let task = Task {
            _ = try? await previous.value
            return try await self.runRefresh(promoted: true, prefetch)
        }
        queued = task
        return try await task.value
    }

    private func runRefresh(promoted: Bool, _ prefetch: Prefetch?) async throws -> (Snapshot?, Int) {
        if promoted {
            running = queued
            queued = nil
        }
        defer { running = nil }
        let loaded = try await refresh(prefetch)
        return (current, loaded)
    }

    /// How often a refresh looks again after a WAL object vanished under it.
    static let vanishedRetries = 8

    /// Moves to the newest version; returns the number of WAL entries read from the store.
    ///
    /// A WAL object that is missing while replaying means a delete committed a tombstone and
    /// removed it meanwhile (cleanup only ever follows a tombstone): look again from the
    /// newer version, which reads as absent or as a new incarnation. Missing with nothing
    /// newer, the namespace is damaged; that is an error naming the object.
    private func refresh(_ prefetch: Prefetch?) async throws -> Int {
        let started = ContinuousClock.now
        var atLeast = current?.manifest.version ?? 0
        for _ in 0...Self.vanishedRetries {
            // Knowing no version yet (cold), read the newest manifest right away; otherwise
            // only look for a newer version number first (a hot strong read reads no manifest).
            var hinted: Manifest? = nil
            let newest: UInt64
            if current == nil && atLeast == 0 {
                // A restarted node opens the segments of the version it remembers while the
                // store confirms that version is still the newest (usually it is): the open's
                // local reads and decoding overlap the round trip instead of following it.
                let remembered = await manifests.remembered(namespace)
                async let preopened: Void = preopen(remembered?.manifest, prefetch)
                hinted = try await manifests.latestFromHint(namespace, remembered: remembered)
                await preopened
                newest = hinted?.version ?? 0
            } else {
                newest = try await manifests.newestVersion(namespace, atLeast: atLeast)
            }
            if let installed = current, installed.manifest.version >= newest {
                refreshedAt = started
                return 0
            }
            if hinted == nil, newest > 0 { hinted = try await manifests.read(namespace, version: newest, remember: true) }
            guard newest > 0, let manifest = hinted else {
                current = nil
                refreshedAt = started
                return 0
            }
            do {
                let (built, loaded) = try await build(manifest, from: current, prefetch: prefetch)
                // The actor is re-entrant across the awaits above: a commit may have
                // installed a newer version meanwhile; never go backwards.
                if current.map({ $0.manifest.version < built.manifest.version }) ?? true {
                    current = built
                    tailBytes.store(built.manifest.unindexedBytes, ordering: .relaxed)
                }
                refreshedAt = started
                return loaded
            } catch let error as StoreError where error.code == .notFound {
                let after = try await manifests.newestVersion(namespace, atLeast: newest)
                guard after > newest else {
                    throw StoreError(.io, key: error.key,
                                     "namespace \(namespace) version \(newest) references a WAL object that does not exist; delete the namespace or restore the object")
                }
                atLeast = after
            }
        }
        throw StoreError(.unavailable, key: manifests.layout(namespace).manifestPrefix,
                         "namespace \(namespace) kept changing under a refresh (deleted and re-created repeatedly); retry")
    }

    /// Opens the segments `manifest` lists into this replica's open segments, as a build of it
    /// would; the build that follows reuses those its manifest still lists. Failures are left
    /// to that build, which meets them again (a damaged copy was dropped meanwhile).
    private func preopen(_ manifest: Manifest?, _ prefetch: Prefetch?) async {
        guard let manifest, !manifest.isDeleted, !manifest.segmentList.isEmpty else { return }
        _ = try? await openSegmentViews(manifest.segmentList, current: true, prefetch: prefetch?(manifest.config))
    }

    /// Applies a commit this node just made, without re-reading anything.
    func applyCommitted(_ manifest: Manifest, entry: WALEntry?) async {
        guard let version = current?.manifest.version, version + 1 == manifest.version,
              current?.manifest.segments == manifest.segments,
              current?.manifest.indexedThroughSeq == manifest.indexedThroughSeq else {
            // Either a reader's refresh already installed this version (or a newer one), or
            // this node is behind. Never drop what is installed: a concurrent refresh may be
            // about to return it. Make the next read of any kind revalidate instead.
            refreshedAt = nil
            return
        }
        // Take the view out so this is its only reference and it advances in place.
        let installed = current!.manifest
        var view = current!.view
        current = nil
        do {
            if let entry {
                try view.apply(entry, config: manifest.config)
            } else {
                view.updateConfig(manifest.config)
            }
            current = Snapshot(manifest: manifest, view: view)
            tailBytes.store(manifest.unindexedBytes, ordering: .relaxed)
        } catch {
            // Unreachable for entries this node wrote; a failed apply changes nothing, so the
            // installed version stays and the next read rebuilds from the store.
            current = Snapshot(manifest: installed, view: view)
            refreshedAt = nil
            return
        }
        refreshedAt = .now
    }

    /// Forgets everything (after a namespace delete).
    func reset() {
        current = nil
        refreshedAt = nil
    }

    /// WAL entries fetched ahead of the one being applied.
    static let prefetchWindow = 4

    /// Builds the snapshot of `manifest`: opens its segments (reusing those already open)
    /// and projects its WAL tail, extending `base`'s tail when the manifest only appended to it.
    /// A `historical` build (time travel) leaves this node's cache of open segments alone.
    private func build(_ manifest: Manifest, from base: Snapshot?, historical: Bool = false,
                       prefetch: Prefetch? = nil) async throws -> (snapshot: Snapshot, loadedEntries: Int) {
        if manifest.isDeleted {
            return (Snapshot(manifest: manifest, projection: NamespaceProjection(config: manifest.config)), 0)
        }
        var view: NamespaceView
        // The base's tail projects the same log from an older point on (the log is
        // append-only within an incarnation), covering at least what this manifest folded.
        let baseTail = base.flatMap { base -> NamespaceProjection? in
            guard base.manifest.version < manifest.version, !base.manifest.isDeleted, manifest.isSameIncarnation(as: base.manifest),
                  base.manifest.indexedThroughSeq <= manifest.indexedThroughSeq,
                  base.view.tail.appliedSeq >= manifest.indexedThroughSeq else { return nil }
            return base.view.tail
        }
        if let base, baseTail != nil,
           manifest.segments == base.manifest.segments, manifest.indexedThroughSeq == base.manifest.indexedThroughSeq {
            view = base.view
        } else {
            // Only a build that opens segments asks what the query will read (it decodes the query).
            let parts = manifest.segmentList.isEmpty ? nil : prefetch?(manifest.config)
            // After a flush or compaction of this log, the tail is the base's without the entries
            // the new segments hold: derived from it, not read, decoded and tokenised again.
            let tail = baseTail?.droppingEntries(through: manifest.indexedThroughSeq) ?? NamespaceProjection(config: manifest.config)
            view = NamespaceView(segments: try await openSegmentViews(manifest.segmentList, current: !historical, prefetch: parts),
                                 tail: tail)
        }
        let pending = manifest.wal.filter { $0.seq > max(view.tail.appliedSeq, manifest.indexedThroughSeq) }
        let manifests = self.manifests
        var loadedEverything = false
        // Fetch and decode a few entries ahead while applying in order, so reading the store
        // and checksumming overlap with building the projection.
        try await withThrowingTaskGroup(of: (Int, WALEntry).self) { group in
            var requested = 0
            func request() {
                guard requested < pending.count else { return }
                let index = requested
                group.addTask { (index, try await manifests.readEntry(pending[index])) }
                requested += 1
            }
            for _ in 0..<Self.prefetchWindow { request() }
            var fetched: [Int: WALEntry] = [:]
            for index in pending.indices {
                while fetched[index] == nil {
                    guard let (done, entry) = try await group.next() else { break }
                    fetched[done] = entry
                    request()
                }
                guard let entry = fetched.removeValue(forKey: index) else {
                    throw StoreError(.io, key: pending[index].key, "WAL entry fetch did not complete")
                }
                // A version-1 patch names only the changed attributes; when its document lives in
                // a segment, the segment's columns must be in memory to complete it.
                if !loadedEverything, !view.segments.isEmpty,
                   entry.events.contains(where: { if case .patch = $0 { return true } else { return false } }) {
                    try await view.load(.everything, store: manifests.store)
                    loadedEverything = true
                }
                try view.apply(entry, config: manifest.config)
            }
        }
        view.updateConfig(manifest.config)
        return (Snapshot(manifest: manifest, view: view), pending.count)
    }

    /// Opens the segments a manifest lists with their deletion vectors, reusing open ones and
    /// forgetting those no longer listed (memory follows the newest manifest).
    /// `current` (the newest version's build) makes the cache follow these references; a
    /// historical build reuses what is open but caches nothing of its own.
    ///
    /// Cold, this is one parallel wave of reads whatever the number of segments: meta, ids and
    /// the parts `prefetch` names, with the deletion vectors. Segments whose manifest reference
    /// carries no part directory (older manifests) first cost a wave of trailers and part
    /// tables, during which the deletion vectors are read (ARCHITECTURE.md §9).
    private func openSegmentViews(_ references: [SegmentReference], current: Bool,
                                  prefetch: SegmentPartRequest?) async throws -> [SegmentView] {
        let store = manifests.store
        let closed = references.filter { openSegments[$0.key] == nil }
        let missingDeletes = Array(Set(references.compactMap(\.deletes).filter { deletionVectors[$0] == nil }))
        // Stamped as issued together (for `ReadTrace`'s round count): the deletion vectors, and
        // the open wave when no trailer read comes before it.
        let issued = ContinuousClock.now
        async let fetchedDeletes = withThrowingTaskGroup(of: (String, Data).self) { group in
            for key in missingDeletes {
                group.addTask { try await ReadTrace.$batchIssuedAt.withValue(issued) { (key, try await store.get(key).bytes) } }
            }
            return try await group.reduce(into: [String: Data]()) { $0[$1.0] = $1.1 }
        }
        var opened: [String: Segment] = [:]
        let located = try await Segment.locate(closed, store: store)
        let openIssued = closed.allSatisfy { $0.parts != nil } ? issued : nil
        for segment in try await ReadTrace.$batchIssuedAt.withValue(openIssued, operation: {
            try await Segment.open(located, prefetch: prefetch, store: store)
        }) { opened[segment.key] = segment }
        let deleteBytes = try await fetchedDeletes
        var views: [SegmentView] = []
        var decodedDeletes: [String: Bitset] = [:]
        for reference in references {
            let segment = openSegments[reference.key] ?? opened[reference.key]!
            if current { openSegments[reference.key] = segment }
            var deleted: Bitset? = nil
            if let key = reference.deletes {
                if let cached = deletionVectors[key] ?? decodedDeletes[key] {
                    deleted = cached
                } else {
                    let bits = try DeletionVectorCodec.decode(deleteBytes[key]!, rowCount: segment.rowCount, object: key)
                    decodedDeletes[key] = bits
                    if current { deletionVectors[key] = bits }
                    deleted = bits
                }
            }
            views.append(SegmentView(segment: segment, deleted: deleted))
        }
        if current {
            let listed = Set(references.map(\.key))
            let listedDeletes = Set(references.compactMap(\.deletes))
            openSegments = openSegments.filter { listed.contains($0.key) }
            deletionVectors = deletionVectors.filter { listedDeletes.contains($0.key) }
            resident.withLock { $0 = Array(openSegments.values) }
        }
        return views
    }

    // MARK: Memory

    /// The segments open for the newest version, readable without awaiting the actor (the
    /// engine sums them against `[cache] memory_bytes`).
    private let resident = Mutex<[Segment]>([])
    /// Bytes of the unindexed tail of the installed version (an estimate: its logical bytes).
    private let tailBytes = Atomic<Int>(0)

    /// Bytes this replica holds in memory: loaded segment parts, ids, and the tail.
    nonisolated var residentBytes: Int {
        resident.withLock { $0.reduce(0) { $0 + $1.loadedBytes + $1.ids.memoryBytes } } + tailBytes.load(ordering: .relaxed)
    }

    /// Drops everything loaded (under memory pressure): the next read opens the namespace
    /// again, from the disk cache or the bucket. Queries running keep the snapshot they pinned.
    func evict() {
        current = nil
        refreshedAt = nil
        openSegments = [:]
        deletionVectors = [:]
        resident.withLock { $0 = [] }
        tailBytes.store(0, ordering: .relaxed)
    }
}
