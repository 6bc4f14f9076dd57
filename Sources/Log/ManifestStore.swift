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

    public init(store: any ObjectStore, prefix: String = "") {
        self.store = store
        self.prefix = prefix
    }

    public func layout(_ namespace: String) -> NamespaceLayout {
        NamespaceLayout(prefix: prefix, namespace: namespace)
    }

    /// Reads one manifest version, or nil when it does not exist.
    public func read(_ namespace: String, version: UInt64) async throws -> Manifest? {
        let key = layout(namespace).manifestKey(version)
        let manifest: Manifest
        do {
            let object = try await store.get(key)
            manifest = try ManifestCodec.decode(object.bytes, object: key)
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
        // A checksummed manifest under the wrong key (copied or misplaced) is still corrupt.
        guard manifest.version == version, manifest.namespace == namespace else {
            throw FormatError(.corrupt, object: key, "holds version \(manifest.version) of \(manifest.namespace)")
        }
        return manifest
    }

    /// The newest committed version number (0 when the namespace has none).
    public func newestVersion(_ namespace: String, atLeast known: UInt64 = 0) async throws -> UInt64 {
        let l = layout(namespace)
        var version = known
        if let hint = try await readCurrentHint(l), hint > version {
            // Trust a hint only when its version exists: a hint left behind by an interrupted
            // cleanup must not hide the versions that do.
            if try await store.head(l.manifestKey(hint)) != nil {
                version = hint
            } else {
                version = max(known, try await listedNewestVersion(l))
            }
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

    /// The newest manifest, or nil when the namespace does not exist.
    public func latest(_ namespace: String, atLeast known: UInt64 = 0) async throws -> Manifest? {
        let version = try await newestVersion(namespace, atLeast: known)
        guard version > 0 else { return nil }
        guard let manifest = try await read(namespace, version: version) else {
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
            return .committed
        } catch let error as StoreError where error.code == .preconditionFailed {
            if let existing = try await read(next.namespace, version: next.version),
               existing.commitToken == next.commitToken {
                return .committed
            }
            return .lostRace
        }
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

    /// Registers the namespace in the catalog (idempotent).
    public func registerNamespace(_ namespace: String) async throws {
        do {
            try await store.put(layout(namespace).catalogKey, Data(), condition: .ifAbsent)
        } catch let error as StoreError where error.code == .preconditionFailed {
            return
        }
    }

    /// Namespace names in the catalog, in name order, after `cursor`, with the prefix.
    public func listNamespaces(namePrefix: String, cursor: String?, limit: Int) async throws -> (names: [String], next: String?) {
        let catalog = NamespaceLayout.catalogPrefix(prefix)
        let page = try await store.list(prefix: catalog + namePrefix, cursor: cursor.map { catalog + $0 }, limit: limit)
        let names = page.objects.map { String($0.key.dropFirst(catalog.count)) }
        return (names, page.nextCursor.map { String($0.dropFirst(catalog.count)) })
    }

    /// Removes what a deleted namespace leaves behind, after its tombstone (`deleted`
    /// manifest) has committed: the catalog marker and its WAL objects. Manifest versions
    /// all stay (they are small): a version that disappeared could be created again by a node
    /// holding a stale cache, resurrecting references to deleted objects. Keeping them also
    /// keeps version numbers increasing when the name is reused, and a crash mid-cleanup
    /// leaves only garbage. WAL objects a branch still references (a `refs/{namespace}/`
    /// marker exists) stay until no branch needs them; `repair` collects garbage later.
    public func removeObjects(ofDeleted namespace: String, tombstone: Manifest, lastLive manifest: Manifest?) async throws {
        precondition(tombstone.isDeleted, "only a committed tombstone allows cleanup")
        let l = layout(namespace)
        try await store.delete(l.catalogKey)
        let sharedWithBranches = !(try await store.list(prefix: l.branchReferencePrefix, cursor: nil, limit: 1).objects.isEmpty)
        if !sharedWithBranches {
            for object in try await store.listAll(prefix: l.walPrefix) { try await store.delete(object.key) }
        }
        for owner in owners(of: manifest) where owner != namespace {
            try await store.delete(layout(owner).branchReferenceKey(namespace))
        }
    }

    /// The namespaces whose WAL objects a manifest references.
    public func owners(of manifest: Manifest?) -> Set<String> {
        let root = "\(prefix)ns/"
        return Set((manifest?.wal ?? []).compactMap { reference in
            guard reference.key.hasPrefix(root) else { return nil }
            return reference.key.dropFirst(root.count).split(separator: "/").first.map(String.init)
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
