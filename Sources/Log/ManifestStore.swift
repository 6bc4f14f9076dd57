public import Foundation
public import Store

/// What happened to an attempt to create the next manifest version.
public enum CommitOutcome: Sendable, Equatable {
    /// Our manifest is now the version it claimed.
    case committed
    /// Another writer created that version first; re-read, re-resolve, retry.
    case lostRace
}

/// Reads and commits manifest versions of one store (Specs/protocol/commit.md).
///
/// The commit is a create-only put of `manifest/{v+1}`: exactly one writer wins each
/// version. `CURRENT` is only a hint, moved forward after a commit; readers probe past it,
/// so a crash between the commit and the hint update loses nothing.
public struct ManifestStore: Sendable {
    public let store: any ObjectStore
    public let prefix: String
    /// Where this node keeps the newest manifest it read of each namespace, across restarts
    /// (its disk cache): a restarted node revalidates it in one round trip (§5 of
    /// Specs/protocol/commit.md) instead of reading the hint and then the manifest.
    public let memo: DiskCache?

    public init(store: any ObjectStore, prefix: String = "", memo: DiskCache? = nil) {
        self.store = store
        self.prefix = prefix
        self.memo = memo
    }

    public func layout(_ namespace: String) -> NamespaceLayout {
        NamespaceLayout(prefix: prefix, namespace: namespace)
    }

    /// Reads one manifest version, or nil when it does not exist. With `remember`, the caller
    /// found it to be the newest: it is kept in `memo` for a restart.
    public func read(_ namespace: String, version: UInt64, remember: Bool = false) async throws -> Manifest? {
        let key = layout(namespace).manifestKey(version)
        let object: StoredObject
        do {
            object = try await store.get(key)
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
        let manifest = try decode(object.bytes, namespace: namespace, version: version, key: key)
        if remember { await self.remember(namespace, object) }
        return manifest
    }

    /// A checksummed manifest under the wrong key (copied or misplaced) is still corrupt.
    private func decode(_ bytes: Data, namespace: String, version: UInt64, key: String) throws -> Manifest {
        let manifest = try ManifestCodec.decode(bytes, object: key)
        guard manifest.version == version, manifest.namespace == namespace else {
            throw FormatError(.corrupt, object: key, "holds version \(manifest.version) of \(manifest.namespace)")
        }
        return manifest
    }

    // MARK: Remembered manifests

    /// The memo's key for a namespace (no object key looks like it).
    private func memoKey(_ namespace: String) -> String { "manifest-memo:" + layout(namespace).manifestPrefix }

    private func remember(_ namespace: String, _ object: StoredObject) async {
        guard let memo else { return }
        let key = memoKey(namespace)
        _ = try? await BlockingIO.run { memo.write(key, DiskCache.Entry(bytes: object.bytes, etag: object.etag)) }
    }

    /// A manifest this node found to be the newest of a namespace and kept in `memo`, with
    /// the ETag it had: not checked against the store (`latestFromHint` checks it).
    public struct RememberedManifest: Sendable {
        public let manifest: Manifest
        let etag: String
    }

    /// The manifest remembered for the namespace, read from the local memo only (nil when
    /// none, or unreadable): what a restarted node most likely reads next, so its segments
    /// can be opened while the store confirms it (NamespaceReplica).
    public func remembered(_ namespace: String) async -> RememberedManifest? {
        guard let memo else { return nil }
        let key = memoKey(namespace)
        guard let entry = try? await BlockingIO.run({ memo.read(key) }),
              let manifest = try? ManifestCodec.decode(entry.bytes, object: key), manifest.namespace == namespace else { return nil }
        return RememberedManifest(manifest: manifest, etag: entry.etag)
    }

    /// The remembered manifest when it is still the newest, checked in one round trip: the
    /// hint, a probe of the next version and a conditional GET of the remembered version go
    /// out together. The remembered version is the newest when the hint is not above it, the
    /// next version is absent and the version itself still exists (a changed object is read
    /// in that same GET). nil when nothing is remembered or anything differs: the caller
    /// then looks the usual way.
    private func revalidate(_ namespace: String, _ memo: RememberedManifest) async throws -> Manifest? {
        let l = layout(namespace)
        let (remembered, etag) = (memo.manifest, memo.etag)
        let version = remembered.version
        let issued = ContinuousClock.now
        async let hint = ReadTrace.$batchIssuedAt.withValue(issued) { try await readCurrentHint(l) }
        async let next = ReadTrace.$batchIssuedAt.withValue(issued) { try await store.head(l.manifestKey(version + 1)) }
        let changed: StoredObject?
        do {
            changed = try await ReadTrace.$batchIssuedAt.withValue(issued) {
                try await store.get(l.manifestKey(version), ifNoneMatch: etag)
            }
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
        guard try await hint.map({ $0 <= version }) ?? true, try await next == nil else { return nil }
        guard let changed else { return remembered }
        let manifest = try decode(changed.bytes, namespace: namespace, version: version, key: l.manifestKey(version))
        await remember(namespace, changed)
        return manifest
    }

    /// The newest committed version number (0 when the namespace has none).
    public func newestVersion(_ namespace: String, atLeast known: UInt64 = 0) async throws -> UInt64 {
        let l = layout(namespace)
        var version = known
        // A node that knows a version asks for the hint and probes the next version together:
        // when nothing was committed since (a strong read's usual case) that is one round trip.
        let issued: ContinuousClock.Instant? = known > 0 ? ContinuousClock.now : nil
        async let nextExists = ReadTrace.$batchIssuedAt.withValue(issued) {
            known > 0 ? try await store.head(l.manifestKey(known + 1)) != nil : nil
        }
        let hint = try await ReadTrace.$batchIssuedAt.withValue(issued) { try await readCurrentHint(l) }
        if let hint, hint > version {
            // Trust a hint only when its version exists: a hint left behind by an interrupted
            // cleanup must not hide the versions that do. The first forward probe goes out
            // with that check (one round trip, not two, on a cold node).
            // (Stamped as issued together, for the round count of `ReadTrace`.)
            let issued = ContinuousClock.now
            async let following = ReadTrace.$batchIssuedAt.withValue(issued) { try await store.head(l.manifestKey(hint + 1)) }
            if try await ReadTrace.$batchIssuedAt.withValue(issued, operation: { try await store.head(l.manifestKey(hint)) }) != nil {
                version = hint
                guard try await following != nil else { return hint }
                version = hint + 1
            } else {
                version = max(known, try await listedNewestVersion(l))
            }
        } else if let next = try await nextExists {
            guard next else { return known }
            version = known + 1
        }
        if version == 0 {
            // No hint: the namespace is new, or a crash came before the first hint. Listing
            // is rare (first touch only), probing alone would read every version.
            version = try await listedNewestVersion(l)
        }
        // Probe forward past the hint until a version is absent.
        while try await store.head(l.manifestKey(version + 1)) != nil {
            version += 1
        }
        return version
    }

    private func listedNewestVersion(_ l: NamespaceLayout) async throws -> UInt64 {
        let keys = try await store.listAll(prefix: l.manifestPrefix)
        return keys.compactMap { UInt64($0.key.dropFirst(l.manifestPrefix.count)) }.max() ?? 0
    }

    /// The newest manifest (nil when the namespace does not exist), for a node that knows no
    /// version yet: the remembered one when one round trip confirms it (§5.1), else in two
    /// round trips when the CURRENT hint is right (the hint, then the hinted manifest read
    /// together with a probe of the next version), else as `latest`.
    public func latestFromHint(_ namespace: String) async throws -> Manifest? {
        try await latestFromHint(namespace, remembered: await remembered(namespace))
    }

    /// `latestFromHint` with the memo already read (`remembered(namespace)`; nil: none).
    public func latestFromHint(_ namespace: String, remembered memo: RememberedManifest?) async throws -> Manifest? {
        if let memo, let manifest = try await revalidate(namespace, memo) { return manifest }
        let l = layout(namespace)
        if let hint = try await readCurrentHint(l), hint > 0 {
            let issued = ContinuousClock.now  // issued together (for `ReadTrace`'s round count)
            async let following = ReadTrace.$batchIssuedAt.withValue(issued) { try await store.head(l.manifestKey(hint + 1)) }
            let hinted = try await ReadTrace.$batchIssuedAt.withValue(issued) { try await read(namespace, version: hint, remember: true) }
            if let hinted, try await following == nil { return hinted }
        }
        return try await latest(namespace)
    }

    /// The newest manifest, or nil when the namespace does not exist. `remember` keeps it in
    /// the memo (a read this node will serve from; not a liveness check).
    public func latest(_ namespace: String, atLeast known: UInt64 = 0, remember: Bool = true) async throws -> Manifest? {
        let version = try await newestVersion(namespace, atLeast: known)
        guard version > 0 else { return nil }
        guard let manifest = try await read(namespace, version: version, remember: remember) else {
            throw StoreError(.io, key: layout(namespace).manifestKey(version), "manifest vanished while being read")
        }
        return manifest
    }

    /// Tries to create `manifest/{next.version}`. On a failed precondition the version is
    /// read back: if it carries our commit token, an earlier attempt of ours landed (an
    /// ambiguous retry), which is a success, not a lost race.
    public func commit(_ next: Manifest) async throws -> CommitOutcome {
        let l = layout(next.namespace)
        let key = l.manifestKey(next.version)
        let bytes = try ManifestCodec.encode(next)
        do {
            try await store.put(key, bytes, condition: .ifAbsent)
        } catch let error as StoreError where error.code == .preconditionFailed {
            guard let existing = try await read(next.namespace, version: next.version),
                  existing.commitToken == next.commitToken else { return .lostRace }
        }
        // Retention fencing (Specs/protocol/commit.md §Retention): retention deletes old
        // versions in ascending order and never the newest ones, so a version whose
        // predecessor is gone was created by a writer whose snapshot retention had already
        // passed. That version is void: remove it (no reader ever takes it for the newest, as
        // newer versions exist) and report a lost race, so the writer re-reads and re-resolves.
        guard try await predecessorIsRetained(next.version, l) else {
            try? await store.delete(key)
            return .lostRace
        }
        return .committed
    }

    /// Whether `version`'s predecessor still exists; for version 1, that no later version does.
    private func predecessorIsRetained(_ version: UInt64, _ l: NamespaceLayout) async throws -> Bool {
        if version > 1 { return try await store.head(l.manifestKey(version - 1)) != nil }
        let first = try await store.list(prefix: l.manifestPrefix, cursor: nil, limit: 2).objects
        return !first.contains { (UInt64($0.key.dropFirst(l.manifestPrefix.count)) ?? 0) > 1 }
    }

    /// Deletes manifest versions older than the newest `keep`, oldest first (the order the
    /// commit fencing relies on). Returns how many were deleted. Objects those versions
    /// reference are garbage collection's business (history, `as_of` and branches still
    /// reading them are why it is separate).
    @discardableResult
    public func pruneVersions(_ namespace: String, newest: UInt64, keep: Int) async throws -> Int {
        guard keep > 0, newest > UInt64(keep) else { return 0 }
        let l = layout(namespace)
        let floor = newest - UInt64(keep)
        var deleted = 0
        var cursor: String? = nil
        repeat {
            let page = try await store.list(prefix: l.manifestPrefix, cursor: cursor, limit: 1000)
            for object in page.objects {
                guard let version = UInt64(object.key.dropFirst(l.manifestPrefix.count)) else { continue }
                guard version <= floor else { return deleted }
                try await store.delete(object.key)
                deleted += 1
            }
            cursor = page.nextCursor
        } while cursor != nil
        return deleted
    }

    /// Moves the CURRENT hint forward to `version` (never backward). Best effort: a failure
    /// only makes readers probe a little further.
    public func advanceHint(_ namespace: String, to version: UInt64) async {
        let l = layout(namespace)
        for _ in 0..<3 {
            do {
                let existing: StoredObject?
                do { existing = try await store.get(l.currentKey) } catch let e as StoreError where e.code == .notFound {
                    existing = nil
                }
                if let existing, let current = UInt64(String(decoding: existing.bytes, as: UTF8.self)), current >= version {
                    return
                }
                let condition: PutCondition = existing.map { .ifMatch($0.etag) } ?? .ifAbsent
                try await store.put(l.currentKey, Data(String(version).utf8), condition: condition)
                return
            } catch {
                continue
            }
        }
    }

    private func readCurrentHint(_ l: NamespaceLayout) async throws -> UInt64? {
        do {
            let object = try await store.get(l.currentKey)
            return UInt64(String(decoding: object.bytes, as: UTF8.self))
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
    }

    /// Registers the namespace in the catalog (idempotent). Writers call it before the
    /// first commit of an incarnation (so a crash after the commit cannot leave a live
    /// namespace unlisted) and again after it (so a concurrent delete's cleanup of the
    /// previous incarnation cannot remove the marker of this one, see `unregister`).
    public func registerNamespace(_ namespace: String) async throws {
        do {
            try await store.put(layout(namespace).catalogKey, Data(), condition: .ifAbsent)
        } catch let error as StoreError where error.code == .preconditionFailed {
            return
        }
    }

    /// Removes the catalog marker of a namespace that is not live, then looks again: if a
    /// writer created a new incarnation meanwhile, puts the marker back. Together with the
    /// writer's registration after its commit this leaves every live namespace listed: either
    /// this look sees the new version, or that version's post-commit registration comes after
    /// the removal.
    public func unregisterNamespace(_ namespace: String) async throws {
        try await store.delete(layout(namespace).catalogKey)
        if let newest = try await latest(namespace), !newest.isDeleted {
            try await registerNamespace(namespace)
        }
    }

    /// Whether the store answers: one LIST of at most one catalog marker (readiness probes;
    /// reads no manifest, so probing leaves no trace in caches). Throws the store's error.
    public func probe() async throws {
        _ = try await store.list(prefix: NamespaceLayout.catalogPrefix(prefix), cursor: nil, limit: 1)
    }

    /// Live namespace names in the catalog, in name order, after `cursor`, with the prefix.
    ///
    /// A marker alone does not make a namespace: a crash between the marker and the first
    /// commit, or between a delete's tombstone and its cleanup, leaves a marker without a
    /// live version (a ghost). Each listed name is checked (newest version exists and is not
    /// a tombstone); ghosts are skipped and further pages read until `limit` names are found.
    public func listNamespaces(namePrefix: String, cursor: String?, limit: Int) async throws -> (names: [String], next: String?) {
        let catalog = NamespaceLayout.catalogPrefix(prefix)
        var names: [String] = []
        var storeCursor = cursor.map { catalog + $0 }
        while names.count < limit {
            let page = try await store.list(prefix: catalog + namePrefix, cursor: storeCursor, limit: limit)
            let candidates = page.objects.map { String($0.key.dropFirst(catalog.count)) }
            let live = try await liveNames(candidates)
            for name in candidates where live.contains(name) {
                names.append(name)
                if names.count == limit {
                    // More may follow this name (on this page or a later one).
                    let more = name != candidates.last || page.nextCursor != nil
                    return (names, more ? name : nil)
                }
            }
            guard let next = page.nextCursor else { break }
            storeCursor = next
        }
        return (names, nil)
    }

    /// The names among `candidates` whose newest version is live, checked concurrently.
    /// A name whose newest manifest cannot be decoded counts as live: it exists (and can be
    /// deleted), it is just damaged.
    private func liveNames(_ candidates: [String]) async throws -> Set<String> {
        try await withThrowingTaskGroup(of: String?.self) { group in
            var live = Set<String>()
            var started = 0
            func start() {
                guard started < candidates.count else { return }
                let name = candidates[started]
                started += 1
                group.addTask {
                    do {
                        guard let newest = try await latest(name, remember: false) else { return nil }
                        return newest.isDeleted ? nil : name
                    } catch is FormatError {
                        return name
                    }
                }
            }
            for _ in 0..<16 { start() }
            while let result = try await group.next() {
                if let result { live.insert(result) }
                start()
            }
            return live
        }
    }

    /// Removes what a deleted incarnation leaves behind, after its tombstone (`deleted`
    /// manifest) has committed: the catalog marker, the WAL objects its last live version
    /// references, and its markers in other namespaces' `refs/`. Idempotent: running it again
    /// (a repeated DELETE) completes an interrupted cleanup.
    ///
    /// Only objects `lastLive` references are removed, never everything under `wal/`: a writer
    /// that pinned the tombstone re-creates the namespace and writes its entry under the same
    /// folder before committing, and that entry must survive. No version after the tombstone
    /// references an object of `lastLive` (a new incarnation starts with an empty log) except
    /// through a branch, and a branch leaves a `refs/{namespace}/` marker, in which case all
    /// objects stay. Orphans of lost races stay for `repair`. Manifest versions all stay: a
    /// version that disappeared could be created again by a node holding a stale cache.
    public func removeObjects(ofDeleted namespace: String, tombstone: Manifest, lastLive manifest: Manifest?) async throws {
        precondition(tombstone.isDeleted, "only a committed tombstone allows cleanup")
        let l = layout(namespace)
        try await unregisterNamespace(namespace)
        let sharedWithBranches = !(try await store.list(prefix: l.branchReferencePrefix, cursor: nil, limit: 1).objects.isEmpty)
        if !sharedWithBranches {
            for reference in manifest?.wal ?? [] where reference.key.hasPrefix(l.walPrefix) {
                try await store.delete(reference.key)
            }
            // Segments and deletion vectors of the last live version (uniquely named, so no
            // later incarnation can reference them). Older ones are garbage for `repair`.
            for segment in manifest?.segmentList ?? [] {
                for key in [segment.key] + (segment.deletes.map { [$0] } ?? []) where key.hasPrefix(l.root) {
                    try await store.delete(key)
                }
            }
        }
        for owner in owners(of: manifest) where owner != namespace {
            try await store.delete(layout(owner).branchReferenceKey(namespace))
        }
    }

    /// The namespaces whose WAL objects a manifest references.
    public func owners(of manifest: Manifest?) -> Set<String> {
        let root = "\(prefix)ns/"
        let keys = (manifest?.wal.map(\.key) ?? []) + (manifest?.segmentList.flatMap { [$0.key] + ($0.deletes.map { [$0] } ?? []) } ?? [])
        return Set(keys.compactMap { key in
            guard key.hasPrefix(root) else { return nil }
            return key.dropFirst(root.count).split(separator: "/").first.map(String.init)
        })
    }

    /// Records that `branch` references objects of `owner` (before the branch commits).
    public func addBranchReference(owner: String, branch: String) async throws {
        do {
            try await store.put(layout(owner).branchReferenceKey(branch), Data(), condition: .ifAbsent)
        } catch let error as StoreError where error.code == .preconditionFailed {
            return
        }
    }

    /// Reads and decodes one WAL entry.
    public func readEntry(_ reference: WALReference) async throws -> WALEntry {
        let object = try await store.get(reference.key)
        let entry = try WALCodec.decode(object.bytes, object: reference.key)
        guard entry.seq == reference.seq else {
            throw FormatError(.corrupt, object: reference.key, "entry has seq \(entry.seq), the manifest expects \(reference.seq)")
        }
        return entry
    }
}
