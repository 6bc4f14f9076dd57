import Foundation
import LagoonTestSupport
import Log
import Store
import Synchronization
import Testing

/// The manifest commit protocol (ARCHITECTURE.md §5, ManifestStore): create-only
/// versions, the CURRENT hint, probing, ambiguous retries, catalog and deletion.
/// Every test runs on every store backend.
@Suite("ManifestStore")
struct ManifestStoreTests {
    static let backends = StoreBackend.allCases

    static func manifest(_ namespace: String = "ns", version: UInt64, token: String? = nil,
                         wal: [WALReference] = []) -> Manifest {
        Manifest(namespace: namespace, version: version, createdAtMillis: 1_000, updatedAtMillis: 1_000 + Int64(version),
                 config: NamespaceConfig(), wal: wal, nextSeq: UInt64(wal.count + 1), indexedThroughSeq: 0,
                 rowCount: Int(version), logicalBytes: 0, commitToken: token ?? "token-\(version)")
    }

    /// Registers a namespace and commits its first version (listings show only live ones).
    static func createLive(_ manifests: ManifestStore, _ namespace: String) async throws {
        try await manifests.registerNamespace(namespace)
        #expect(try await manifests.commit(manifest(namespace, version: 1)) == .committed)
    }

    static func currentHint(_ store: any ObjectStore, _ namespace: String = "ns", prefix: String = "") async throws -> String? {
        let key = NamespaceLayout(prefix: prefix, namespace: namespace).currentKey
        guard try await store.head(key) != nil else { return nil }
        return String(decoding: try await store.get(key).bytes, as: UTF8.self)
    }

    // MARK: Commit

    @Test("committing v1…vN in order: each commits, reads back, and is the newest", arguments: backends)
    func commitSequence(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            #expect(try await manifests.newestVersion("ns") == 0)
            #expect(try await manifests.latest("ns") == nil)
            #expect(try await manifests.read("ns", version: 1) == nil)
            for version in UInt64(1)...12 {
                #expect(try await manifests.commit(Self.manifest(version: version)) == .committed)
                await manifests.advanceHint("ns", to: version)
                #expect(try await manifests.newestVersion("ns") == version)
            }
            for version in UInt64(1)...12 {
                #expect(try await manifests.read("ns", version: version) == Self.manifest(version: version))
            }
            #expect(try await manifests.latest("ns") == Self.manifest(version: 12))
            let keys = try await store.listAll(prefix: "ns/ns/manifest/").map(\.key)
            #expect(keys == (1...12).map { NamespaceLayout(namespace: "ns").manifestKey(UInt64($0)) } + ["ns/ns/manifest/CURRENT"])
            #expect(keys.first == "ns/ns/manifest/00000000000000000001")
            #expect(try await Self.currentHint(store) == "12")
        }
    }

    @Test("committing an existing version loses the race and leaves the winner intact", arguments: backends)
    func existingVersionLoses(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let winner = Self.manifest(version: 1, token: "winner")
            #expect(try await manifests.commit(winner) == .committed)
            var loser = Self.manifest(version: 1, token: "loser")
            loser.rowCount = 999
            #expect(try await manifests.commit(loser) == .lostRace)
            #expect(try await manifests.read("ns", version: 1) == winner)
            // The same bytes again (a genuine retry of the winner) is recognised as ours.
            #expect(try await manifests.commit(winner) == .committed)
        }
    }

    @Test("concurrent commits of one version: exactly one writer wins", arguments: backends)
    func concurrentCommits(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            for version in UInt64(1)...5 {
                let outcomes = try await withThrowingTaskGroup(of: (String, CommitOutcome).self) { group in
                    for writer in 0..<8 {
                        let token = "v\(version)-writer-\(writer)"
                        group.addTask { (token, try await manifests.commit(Self.manifest(version: version, token: token))) }
                    }
                    return try await group.reduce(into: [(String, CommitOutcome)]()) { $0.append($1) }
                }
                let winners = outcomes.filter { $0.1 == .committed }.map(\.0)
                #expect(winners.count == 1, "version \(version) winners: \(winners)")
                #expect(try await manifests.read("ns", version: version)?.commitToken == winners.first)
            }
        }
    }

    @Test("ambiguous retry: after a lost acknowledgement the same manifest is committed, another is a lost race",
          arguments: backends)
    func ambiguousRetry(_ backend: StoreBackend) async throws {
        try await backend.withStore { base async throws in
            let faulty = FaultyStore(wrapping: base)
            let manifests = ManifestStore(store: faulty)
            #expect(try await manifests.commit(Self.manifest(version: 1)) == .committed)

            let mine = Self.manifest(version: 2, token: "mine")
            faulty.loseAckOfNextPut(keyPrefix: "ns/ns/manifest/")
            #expect(await storeErrorCode { _ = try await manifests.commit(mine) } == .unavailable)
            #expect(faulty.injectedCount == 1)
            // The put landed although the caller saw an error.
            #expect(try await ManifestStore(store: base).read("ns", version: 2) == mine)

            // Retrying the same manifest (same commit token) recognises its own write…
            #expect(try await manifests.commit(mine) == .committed)
            // …while any other attempt at version 2 lost the race, even with identical content otherwise.
            var other = mine
            other.commitToken = "theirs"
            #expect(try await manifests.commit(other) == .lostRace)
            #expect(try await manifests.read("ns", version: 2)?.commitToken == "mine")
        }
    }

    @Test("a commit that failed before reaching the store can be retried normally", arguments: backends)
    func failedPutRetry(_ backend: StoreBackend) async throws {
        try await backend.withStore { base async throws in
            let faulty = FaultyStore(wrapping: base)
            let manifests = ManifestStore(store: faulty)
            faulty.failNext(1, [.put], keyPrefix: "ns/ns/manifest/")
            #expect(await storeErrorCode { _ = try await manifests.commit(Self.manifest(version: 1)) } == .unavailable)
            #expect(try await base.head(NamespaceLayout(namespace: "ns").manifestKey(1)) == nil)
            #expect(try await manifests.commit(Self.manifest(version: 1)) == .committed)
        }
    }

    @Test("a valid manifest under the wrong key is corrupt, not a different version", arguments: backends)
    func misplacedManifest(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let layout = NamespaceLayout(namespace: "ns")
            // Version 1's bytes copied to version 2's key, and another namespace's manifest.
            try await store.put(layout.manifestKey(2), try ManifestCodec.encode(Self.manifest(version: 1)), condition: .ifAbsent)
            try await store.put(layout.manifestKey(3), try ManifestCodec.encode(Self.manifest("other", version: 3)), condition: .ifAbsent)
            for version: UInt64 in [2, 3] {
                do {
                    _ = try await manifests.read("ns", version: version)
                    Issue.record("version \(version) read without error")
                } catch let error as FormatError {
                    #expect(error.code == .corrupt)
                    #expect(error.object == layout.manifestKey(version))
                }
            }
        }
    }

    @Test("a WAL entry whose seq differs from its reference is corrupt", arguments: backends)
    func misplacedEntry(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let entry = WALEntry(seq: 4, createdAtMillis: 0, writerToken: "w", events: [.delete(.uint(1))])
            let key = NamespaceLayout(namespace: "ns").walKey(seq: 5, token: "w")
            let bytes = WALCodec.encode(entry)
            try await store.put(key, bytes, condition: .ifAbsent)
            #expect(try await manifests.readEntry(WALReference(seq: 4, key: key, events: 1, bytes: bytes.count)) == entry)
            let error = await #expect(throws: FormatError.self) {
                try await manifests.readEntry(WALReference(seq: 5, key: key, events: 1, bytes: bytes.count))
            }
            #expect(error?.code == .corrupt)
            // An absent entry is a store error, not a format error.
            #expect(await storeErrorCode {
                _ = try await manifests.readEntry(WALReference(seq: 6, key: key + "x", events: 1, bytes: 1))
            } == .notFound)
        }
    }

    // MARK: Finding the newest version

    @Test("no CURRENT (crash before the first hint): the newest version is found by listing", arguments: backends)
    func newestWithoutHint(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let counting = CallCountingStore(store)
            let manifests = ManifestStore(store: counting)
            for version in UInt64(1)...7 {
                #expect(try await manifests.commit(Self.manifest(version: version)) == .committed)
            }
            #expect(try await Self.currentHint(store) == nil)
            counting.reset()
            #expect(try await manifests.newestVersion("ns") == 7)
            #expect(counting.lists >= 1, "without a hint the versions must be listed")
            // Listing then one probe past the newest, not one probe per version.
            #expect(counting.heads == 1)
            #expect(try await manifests.latest("ns") == Self.manifest(version: 7))
        }
    }

    @Test("a stale CURRENT is probed forward to the newest version", arguments: backends)
    func staleHintProbes(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            for version in UInt64(1)...9 {
                #expect(try await manifests.commit(Self.manifest(version: version)) == .committed)
                if version == 3 { await manifests.advanceHint("ns", to: 3) }
            }
            #expect(try await Self.currentHint(store) == "3")
            #expect(try await manifests.newestVersion("ns") == 9)
            #expect(try await manifests.newestVersion("ns", atLeast: 5) == 9)
            #expect(try await manifests.newestVersion("ns", atLeast: 9) == 9)
            #expect(try await manifests.latest("ns")?.version == 9)
            // The hint overwritten with an older value (a lagging writer) still finds everything.
            try await store.put(NamespaceLayout(namespace: "ns").currentKey, Data("1".utf8), condition: .none)
            #expect(try await manifests.newestVersion("ns") == 9)
        }
    }

    @Test("a CURRENT hint that does not parse is ignored", arguments: backends)
    func garbageHint(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            for version in UInt64(1)...4 {
                #expect(try await manifests.commit(Self.manifest(version: version)) == .committed)
            }
            try await store.put(NamespaceLayout(namespace: "ns").currentKey, Data("garbage".utf8), condition: .none)
            #expect(try await manifests.newestVersion("ns") == 4)
            await manifests.advanceHint("ns", to: 4)
            #expect(try await Self.currentHint(store) == "4")
        }
    }

    /// A hint is trusted only when its version exists (an interrupted cleanup or an operator
    /// mistake must not hide the versions that do; see CommitProtocolTests.recreateAfterInterruptedDelete).
    @Test("a CURRENT hint naming a version that does not exist does not hide the versions that do", arguments: backends)
    func hintAheadOfVersions(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            try await store.put(NamespaceLayout(namespace: "ns").currentKey, Data("3".utf8), condition: .none)
            #expect(try await manifests.commit(Self.manifest(version: 1)) == .committed)
            #expect(try await manifests.newestVersion("ns") == 1)
            #expect(try await manifests.latest("ns") == Self.manifest(version: 1))
        }
    }

    @Test("advanceHint moves CURRENT forward only", arguments: backends)
    func hintOnlyForward(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            await manifests.advanceHint("ns", to: 5)
            #expect(try await Self.currentHint(store) == "5")
            await manifests.advanceHint("ns", to: 3)
            #expect(try await Self.currentHint(store) == "5")
            await manifests.advanceHint("ns", to: 5)
            #expect(try await Self.currentHint(store) == "5")
            await manifests.advanceHint("ns", to: 12)
            #expect(try await Self.currentHint(store) == "12")
            await manifests.advanceHint("ns", to: 11)
            #expect(try await Self.currentHint(store) == "12")
        }
    }

    @Test("concurrent hint updates end at the highest version", arguments: backends)
    func concurrentHints(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            await withTaskGroup(of: Void.self) { group in
                for version in UInt64(1)...20 {
                    group.addTask { await manifests.advanceHint("ns", to: version) }
                }
            }
            // Best effort under contention, but the hint can never be above the highest
            // version asked for, and it must have moved.
            let text = try #require(try await Self.currentHint(store))
            let hint = try #require(UInt64(text))
            #expect((1...20).contains(hint))
            await manifests.advanceHint("ns", to: 20)
            #expect(try await Self.currentHint(store) == "20")
        }
    }

    @Test("a failing hint update is harmless: readers probe past it", arguments: backends)
    func failingHint(_ backend: StoreBackend) async throws {
        try await backend.withStore { base async throws in
            let faulty = FaultyStore(wrapping: base)
            let manifests = ManifestStore(store: faulty)
            #expect(try await manifests.commit(Self.manifest(version: 1)) == .committed)
            await manifests.advanceHint("ns", to: 1)
            #expect(try await manifests.commit(Self.manifest(version: 2)) == .committed)
            faulty.failNext(10, [.put], keyPrefix: "ns/ns/manifest/CURRENT")
            await manifests.advanceHint("ns", to: 2)  // must not throw
            #expect(try await Self.currentHint(base) == "1")
            #expect(try await manifests.newestVersion("ns") == 2)
        }
    }

    @Test("a key prefix keeps namespaces of different prefixes apart", arguments: backends)
    func prefixes(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let a = ManifestStore(store: store, prefix: "tenant-a/")
            let b = ManifestStore(store: store, prefix: "tenant-b/")
            #expect(try await a.commit(Self.manifest(version: 1, token: "a")) == .committed)
            #expect(try await b.commit(Self.manifest(version: 1, token: "b")) == .committed)
            #expect(try await b.commit(Self.manifest(version: 2, token: "b")) == .committed)
            #expect(try await a.newestVersion("ns") == 1)
            #expect(try await b.newestVersion("ns") == 2)
            #expect(try await store.head("tenant-a/ns/ns/manifest/00000000000000000001") != nil)
        }
    }

    // MARK: Incarnation

    @Test("incarnation is written when set, omitted when absent, and survives a commit and read")
    func incarnationRoundTrip() async throws {
        let manifests = ManifestStore(store: MemoryStore())
        let old = Self.manifest(version: 1)
        #expect(!String(decoding: try ManifestCodec.encode(old), as: UTF8.self).contains("incarnation"))
        var next = Self.manifest(version: 2)
        next.incarnation = Manifest.newIncarnation()
        #expect(try await manifests.commit(old) == .committed)
        #expect(try await manifests.commit(next) == .committed)
        #expect(try await manifests.read("ns", version: 1)?.incarnation == nil)
        #expect(try await manifests.read("ns", version: 2)?.incarnation == next.incarnation)
        let tombstone = next.tombstone(atMillis: 5, commitToken: "t")
        #expect(tombstone.incarnation == next.incarnation && tombstone.isSameIncarnation(as: next))
    }

    // MARK: Catalog

    @Test("listNamespaces pages through the catalog in name order, filtered by prefix", arguments: backends)
    func listNamespaces(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let alpha = (0..<15).map { String(format: "alpha-%02d", $0) }
            let others = ["alpha", "alphabet", "beta-1", "beta-2", "Zeta", "alpha.x", "alpha_y"]
            for name in (alpha + others).shuffled() { try await Self.createLive(manifests, name) }
            try await manifests.registerNamespace("alpha-03")  // idempotent

            func all(prefix: String, limit: Int) async throws -> ([String], pages: Int) {
                var names: [String] = []
                var cursor: String? = nil
                var pages = 0
                repeat {
                    let page = try await manifests.listNamespaces(namePrefix: prefix, cursor: cursor, limit: limit)
                    #expect(page.names.count <= limit)
                    names += page.names
                    cursor = page.next
                    pages += 1
                } while cursor != nil && pages < 100
                return (names, pages)
            }
            let everything = (alpha + others).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for limit in [1, 4, 7, 15, 100] {
                let (names, pages) = try await all(prefix: "alpha-", limit: limit)
                #expect(names == alpha, "limit \(limit)")
                // Full pages until the last (an empty final page is allowed by the store contract).
                #expect(pages <= (alpha.count + limit - 1) / limit + 1, "limit \(limit): \(pages) pages")
                #expect(try await all(prefix: "", limit: limit).0 == everything, "limit \(limit)")
            }
            #expect(try await all(prefix: "alpha", limit: 3).0 == everything.filter { $0.hasPrefix("alpha") })
            #expect(try await all(prefix: "beta", limit: 1).0 == ["beta-1", "beta-2"])
            #expect(try await all(prefix: "gamma", limit: 5).0 == [])
            let first = try await manifests.listNamespaces(namePrefix: "", cursor: nil, limit: 2)
            #expect(first.names == Array(everything.prefix(2)))
            #expect(first.next == everything[1])
            let last = try await manifests.listNamespaces(namePrefix: "", cursor: nil, limit: everything.count)
            #expect(last.next == nil)
            // A cursor continues strictly after the named namespace.
            let after = try await manifests.listNamespaces(namePrefix: "alpha-", cursor: "alpha-09", limit: 100)
            #expect(after.names == Array(alpha.suffix(5)))
        }
    }

    @Test("listNamespaces keeps paging past a page emptied by concurrent deletes")
    func listNamespacesAfterEmptyPage() async throws {
        let base = MemoryStore()
        let store = VanishingPageStore(base)
        let manifests = ManifestStore(store: store)
        let names = (0..<6).map { "ns-\($0)" }
        for name in names { try await Self.createLive(manifests, name) }
        // The first page's namespaces are deleted while it is being listed: the store returns
        // an empty page whose cursor still says more may follow (Specs/protocol/object-store.md).
        store.vanishNextPage()
        var listed: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let page = try await manifests.listNamespaces(namePrefix: "", cursor: cursor, limit: 2)
            listed += page.names
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 20
        #expect(listed == Array(names.dropFirst(2)), "the listing stopped early")
    }

    // MARK: Deletion

    /// Writes manifests, WAL objects and the CURRENT hint of a namespace; returns its newest manifest.
    static func populate(_ manifests: ManifestStore, _ namespace: String, entries: Int = 3) async throws -> Manifest {
        let layout = manifests.layout(namespace)
        try await manifests.registerNamespace(namespace)
        var wal: [WALReference] = []
        var latest: Manifest? = nil
        for seq in UInt64(1)...UInt64(entries) {
            let entry = WALEntry(seq: seq, createdAtMillis: 0, writerToken: "w\(seq)",
                                 events: [.upsert(Document(id: .uint(seq)))])
            let key = layout.walKey(seq: seq, token: "w\(seq)")
            let bytes = WALCodec.encode(entry)
            try await manifests.store.put(key, bytes, condition: .ifAbsent)
            wal.append(WALReference(seq: seq, key: key, events: 1, bytes: bytes.count))
            let manifest = Self.manifest(namespace, version: seq, wal: wal)
            #expect(try await manifests.commit(manifest) == .committed)
            latest = manifest
        }
        await manifests.advanceHint(namespace, to: UInt64(entries))
        return latest!
    }

    /// Deletes as the engine does: commit the tombstone, then remove what it leaves behind.
    @discardableResult
    static func delete(_ manifests: ManifestStore, _ namespace: String, _ live: Manifest) async throws -> Manifest {
        let tombstone = live.tombstone(atMillis: 1, commitToken: "tombstone-\(namespace)")
        #expect(try await manifests.commit(tombstone) == .committed)
        await manifests.advanceHint(namespace, to: tombstone.version)
        try await manifests.removeObjects(ofDeleted: namespace, tombstone: tombstone, lastLive: live)
        return tombstone
    }

    @Test("a delete leaves only the manifests of the namespace (tombstone last), and nothing else changes", arguments: backends)
    func deleteNamespace(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let doomed = try await Self.populate(manifests, "ns")
            _ = try await Self.populate(manifests, "ns2")   // shares a name prefix, must survive
            let before = try await store.listAll(prefix: "").map(\.key)
            let tombstone = try await Self.delete(manifests, "ns", doomed)
            let after = try await store.listAll(prefix: "").map(\.key)
            let layout = NamespaceLayout(namespace: "ns")
            let kept = (1...tombstone.version).map { layout.manifestKey($0) } + [layout.currentKey]
            #expect(after.filter { $0.hasPrefix("ns/ns/") }.sorted() == kept.sorted(), "left behind: \(after)")
            #expect(!after.contains("catalog/ns"))
            #expect(after.filter { !$0.hasPrefix("ns/ns/") } == before.filter { !$0.hasPrefix("ns/ns/") && $0 != "catalog/ns" })
            #expect(try await manifests.newestVersion("ns") == tombstone.version)
            #expect(try await manifests.latest("ns")?.isDeleted == true)
            #expect(try await manifests.latest("ns2")?.version == 3)
            #expect(try await manifests.listNamespaces(namePrefix: "", cursor: nil, limit: 10).names == ["ns2"])
        }
    }

    @Test("deleteNamespace keeps WAL objects while a branch marker refs/{owner}/{branch} exists", arguments: backends)
    func deleteKeepsSharedWAL(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let parent = try await Self.populate(manifests, "parent")
            // A branch whose first manifest references the parent's WAL entries.
            try await manifests.addBranchReference(owner: "parent", branch: "child")
            try await manifests.addBranchReference(owner: "parent", branch: "child")  // idempotent
            var child = parent
            child.namespace = "child"
            child.version = 1
            child.commitToken = "child-1"
            try await manifests.registerNamespace("child")
            #expect(try await manifests.commit(child) == .committed)
            #expect(manifests.owners(of: child) == ["parent"])

            let walKeys = parent.wal.map(\.key)
            let parentTombstone = try await Self.delete(manifests, "parent", parent)
            let remaining = Set(try await store.listAll(prefix: "").map(\.key))
            for key in walKeys { #expect(remaining.contains(key), "shared WAL object \(key) was deleted") }
            let parentLayout = NamespaceLayout(namespace: "parent")
            #expect(remaining.filter { $0.hasPrefix("ns/parent/manifest/") }
                    == Set((1...parentTombstone.version).map { parentLayout.manifestKey($0) } + [parentLayout.currentKey]))
            #expect(!remaining.contains("catalog/parent"))
            #expect(remaining.contains("refs/parent/child"))

            // The branch still reads every entry it references.
            let latestChild = try #require(try await manifests.latest("child"))
            for reference in latestChild.wal {
                #expect(try await manifests.readEntry(reference).seq == reference.seq)
            }

            // Deleting the branch drops its marker on the owner (repair collects the WAL later).
            try await Self.delete(manifests, "child", latestChild)
            let end = Set(try await store.listAll(prefix: "").map(\.key))
            #expect(!end.contains("refs/parent/child"))
            #expect(end.filter { $0.hasPrefix("catalog/") }.isEmpty)
            let tombstones = end.filter { $0.hasPrefix("ns/") && $0.contains("/manifest/") }
            #expect(end.subtracting(tombstones) == Set(walKeys), "only the orphaned parent WAL objects and the tombstones remain: \(end.sorted())")
        }
    }

    @Test("without a branch marker deleteNamespace also removes the WAL", arguments: backends)
    func deleteWithoutMarker(_ backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let manifests = ManifestStore(store: store)
            let parent = try await Self.populate(manifests, "parent")
            try await manifests.addBranchReference(owner: "other", branch: "child")  // unrelated owner
            try await Self.delete(manifests, "parent", parent)
            let remaining = try await store.listAll(prefix: "").map(\.key)
            #expect(remaining.filter { !$0.hasPrefix("ns/parent/manifest/") } == ["refs/other/child"])
        }
    }
}

/// Forwards to another store and counts calls by kind.
final class CallCountingStore: ObjectStore {
    let base: any ObjectStore
    private let counts = Mutex<[String: Int]>([:])

    init(_ base: any ObjectStore) { self.base = base }

    func count(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    func reset() { counts.withLock { $0 = [:] } }
    var lists: Int { counts.withLock { $0["list", default: 0] } }
    var heads: Int { counts.withLock { $0["head", default: 0] } }

    func get(_ key: String) async throws -> StoredObject {
        count("get")
        return try await base.get(key)
    }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        count("getRange")
        return try await base.getRange(key, offset: offset, length: length)
    }
    func head(_ key: String) async throws -> ObjectInfo? {
        count("head")
        return try await base.head(key)
    }
    @discardableResult
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        count("put")
        return try await base.put(key, bytes, condition: condition)
    }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        count("list")
        return try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }
    func delete(_ key: String) async throws {
        count("delete")
        try await base.delete(key)
    }
}

/// Forwards to another store; the next `list` deletes the keys of the page it is about to
/// return and returns it empty, with its cursor — what a listing racing deletes may see.
final class VanishingPageStore: ObjectStore {
    let base: any ObjectStore
    private let armed = Mutex(false)

    init(_ base: any ObjectStore) { self.base = base }

    func vanishNextPage() { armed.withLock { $0 = true } }

    func get(_ key: String) async throws -> StoredObject { try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await base.getRange(key, offset: offset, length: length)
    }
    func head(_ key: String) async throws -> ObjectInfo? { try await base.head(key) }
    @discardableResult
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try await base.put(key, bytes, condition: condition)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }

    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        let page = try await base.list(prefix: prefix, cursor: cursor, limit: limit)
        let vanish = armed.withLock { armed in
            defer { armed = false }
            return armed
        }
        guard vanish else { return page }
        for object in page.objects { try await base.delete(object.key) }
        return ListPage(objects: [], nextCursor: page.nextCursor)
    }
}
