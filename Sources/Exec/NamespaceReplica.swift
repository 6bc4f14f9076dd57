import Kernels
public import Log
import Segments
import Store

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
    func snapshotCountingLoads(strong: Bool) async throws -> (snapshot: Snapshot?, loadedEntries: Int) {
        if !strong, let refreshedAt, ContinuousClock.now - refreshedAt < pollInterval {
            return (current, 0)
        }
        let loaded = try await sharedRefresh()
        return (current, loaded)
    }

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
    private var running: Task<Int, any Error>?
    private var queued: Task<Int, any Error>?

    /// Runs (or joins) a refresh that starts after this call; returns its loaded-entry count.
    private func sharedRefresh() async throws -> Int {
        if let queued { return try await queued.value }
        guard let previous = running else {
            let task = Task { try await self.runRefresh(promoted: false) }
            running = task
            return try await task.value
        }
        let task = Task {
            _ = try? await previous.value
            return try await self.runRefresh(promoted: true)
        }
        queued = task
        return try await task.value
    }

    private func runRefresh(promoted: Bool) async throws -> Int {
        if promoted {
            running = queued
            queued = nil
        }
        defer { running = nil }
        return try await refresh()
    }

    /// How often a refresh looks again after a WAL object vanished under it.
    static let vanishedRetries = 8

    /// Moves to the newest version; returns the number of WAL entries read from the store.
    ///
    /// A WAL object that is missing while replaying means a delete committed a tombstone and
    /// removed it meanwhile (cleanup only ever follows a tombstone): look again from the
    /// newer version, which reads as absent or as a new incarnation. Missing with nothing
    /// newer, the namespace is damaged; that is an error naming the object.
    private func refresh() async throws -> Int {
        let started = ContinuousClock.now
        var atLeast = current?.manifest.version ?? 0
        for _ in 0...Self.vanishedRetries {
            let newest = try await manifests.newestVersion(namespace, atLeast: atLeast)
            if let installed = current, installed.manifest.version >= newest {
                refreshedAt = started
                return 0
            }
            guard newest > 0, let manifest = try await manifests.read(namespace, version: newest) else {
                current = nil
                refreshedAt = started
                return 0
            }
            do {
                let (built, loaded) = try await build(manifest, from: current)
                // The actor is re-entrant across the awaits above: a commit may have
                // installed a newer version meanwhile; never go backwards.
                if current.map({ $0.manifest.version < built.manifest.version }) ?? true { current = built }
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
    private func build(_ manifest: Manifest, from base: Snapshot?, historical: Bool = false) async throws -> (snapshot: Snapshot, loadedEntries: Int) {
        if manifest.isDeleted {
            return (Snapshot(manifest: manifest, projection: NamespaceProjection(config: manifest.config)), 0)
        }
        var view: NamespaceView
        if let base, base.manifest.version < manifest.version, !base.manifest.isDeleted,
           manifest.isSameIncarnation(as: base.manifest),
           manifest.segments == base.manifest.segments, manifest.indexedThroughSeq == base.manifest.indexedThroughSeq {
            view = base.view
        } else {
            view = NamespaceView(segments: try await openSegmentViews(manifest.segmentList, current: !historical),
                                 tail: NamespaceProjection(config: manifest.config))
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
    private func openSegmentViews(_ references: [SegmentReference], current: Bool) async throws -> [SegmentView] {
        let store = manifests.store
        var views: [SegmentView] = []
        for reference in references {
            let segment: Segment
            if let open = openSegments[reference.key] {
                segment = open
            } else {
                segment = try await Segment.open(key: reference.key, size: reference.bytes, store: store)
                if current { openSegments[reference.key] = segment }
            }
            var deleted: Bitset? = nil
            if let key = reference.deletes {
                if let cached = deletionVectors[key] {
                    deleted = cached
                } else {
                    let bytes = try await store.get(key).bytes
                    let bits = try DeletionVectorCodec.decode(bytes, rowCount: segment.rowCount, object: key)
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
        }
        return views
    }
}
