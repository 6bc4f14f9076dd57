import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Store
import Synchronization
import Testing

/// Namespace delete racing writers and readers, and what interrupted creates and deletes
/// leave behind (Specs/protocol/commit.md §9–§10): an acknowledged write never points at a
/// removed object, a namespace is always readable or deletable, and listings show exactly
/// the live namespaces.
@Suite("Namespace lifecycle")
struct NamespaceLifecycleTests {
    static func row(_ i: Int) -> JSONValue {
        try! parseJSON(CommitProtocolTests.row(i))
    }

    // MARK: Delete racing a writer

    /// The writer pins the tombstone (so it re-creates the namespace), writes its WAL entry,
    /// and only then does the delete's cleanup run; the writer commits afterwards. The
    /// cleanup must not remove the entry the next incarnation's first version references.
    @Test("a delete's cleanup never removes the WAL entry of a writer re-creating the namespace")
    func cleanupSparesTheNextIncarnation() async throws {
        let base = MemoryStore()
        let deleterStore = HookedStore(base), writerStore = HookedStore(base)
        let deleter = Engine(store: deleterStore), writer = Engine(store: writerStore)
        for i in 1...3 { _ = try await deleter.write("ns", body: Self.row(i)) }

        let cleanupGate = CommitGate(), commitGate = CommitGate()
        deleterStore.hook { operation, key in
            if operation == .delete, key.hasPrefix("catalog/") || key.hasPrefix("ns/ns/wal/") { await cleanupGate.wait() }
        }
        writerStore.hook { operation, key in
            if operation == .put, ManifestPutInterceptor.isManifestVersion(key) { await commitGate.wait() }
        }
        let delete = Task { try await deleter.deleteNamespace("ns") }
        try await cleanupGate.waitUntilSomeoneWaits()  // the tombstone is committed
        let write = Task { try await writer.write("ns", body: Self.row(9)) }
        try await commitGate.waitUntilSomeoneWaits()  // the writer's entry is written
        cleanupGate.open()
        try await delete.value
        commitGate.open()
        #expect(try await write.value.upserted == [.uint(9)])

        // Every node, fresh or not, reads the acknowledged write; the name is listed.
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == CommitProtocolTests.documents([9]))
        #expect(try await liveDocumentsByID(deleter, "ns") == CommitProtocolTests.documents([9]))
        #expect(try await listedNames(Engine(store: base)) == ["ns"])
    }

    /// A namespace whose live version references a missing WAL object (what the bug above
    /// left behind) can still be deleted, and then re-created.
    @Test("a namespace with a missing WAL object can be deleted and re-created")
    func deleteADamagedNamespace() async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        for i in 1...2 { _ = try await engine.write("ns", body: Self.row(i)) }
        let wal = try await store.listAll(prefix: "ns/ns/wal/")
        try await store.delete(try #require(wal.first).key)

        let fresh = Engine(store: store)
        try await fresh.deleteNamespace("ns")
        let gone = await #expect(throws: LagoonError.self) { try await fresh.snapshot("ns") }
        #expect(gone?.code == .notFound)
        #expect(try await listedNames(fresh).isEmpty)
        _ = try await fresh.write("ns", body: Self.row(5))
        #expect(try await liveDocumentsByID(Engine(store: store), "ns") == CommitProtocolTests.documents([5]))
    }

    /// A reader replaying the WAL while a delete removes it answers "not found", the
    /// namespace's state from then on, not a store error.
    @Test("a read racing a delete answers 404, not a store error")
    func readRacingDelete() async throws {
        let base = MemoryStore()
        let readerStore = HookedStore(base)
        let writer = Engine(store: base), reader = Engine(store: readerStore)
        for i in 1...3 { _ = try await writer.write("ns", body: Self.row(i)) }
        let replayGate = CommitGate()
        readerStore.hook { operation, key in
            if operation == .get, key.hasPrefix("ns/ns/wal/") { await replayGate.wait() }
        }
        let read = Task { try await reader.snapshot("ns") }
        try await replayGate.waitUntilSomeoneWaits()
        try await writer.deleteNamespace("ns")
        replayGate.open()
        do {
            _ = try await read.value
            Issue.record("the read found a deleted namespace")
        } catch let error as LagoonError {
            #expect(error.code == .notFound)
        }
    }

    /// Writers and a deleter on two engines, interleaved at random (seeded): afterwards
    /// every engine reads the namespace (or 404s), DELETE works, and every write acknowledged
    /// after the last delete committed is present.
    @Test("random deletes among concurrent writers on two engines never brick the namespace", arguments: 0..<6)
    func deletesAmongWriters(_ seed: Int) async throws {
        let base = MemoryStore()
        let jitter = HookedStore.jittering(base, seed: UInt64(seed))
        let engines = [Engine(store: jitter), Engine(store: jitter)]
        let log = RaceLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<3 {
                group.addTask {
                    for n in 0..<12 {
                        let id = writer * 100 + n
                        let epoch = log.deletes.withLock { $0 }
                        do {
                            _ = try await engines[writer % 2].write("ns", body: Self.row(id))
                            log.acknowledged.withLock { $0.append((id, epoch)) }
                        } catch let error as LagoonError where error.code == .conflict {
                            continue
                        }
                    }
                }
            }
            group.addTask {
                for round in 0..<4 {
                    try await Task.sleep(for: .microseconds(300))
                    do {
                        try await engines[round % 2].deleteNamespace("ns")
                    } catch let error as LagoonError where error.code == .notFound || error.code == .conflict {
                        continue
                    }
                    log.deletes.withLock { $0 += 1 }
                }
            }
            try await group.waitForAll()
        }
        // Writes that started after the last delete finished are certainly in the last
        // incarnation; every engine (and a fresh one) must read them.
        let finalEpoch = log.deletes.withLock { $0 }
        let survivors = log.acknowledged.withLock { $0 }.filter { $0.deleteEpoch == finalEpoch }.map(\.id)
        for engine in engines + [Engine(store: base)] {
            do {
                let documents = try await liveDocumentsByID(engine, "ns")
                for id in survivors { #expect(documents[.uint(UInt64(id))] != nil, "acknowledged write \(id) lost") }
            } catch let error as LagoonError where error.code == .notFound {
                #expect(survivors.isEmpty, "namespace missing but \(survivors.count) writes were acknowledged")
            }
        }
        // Deletable, and afterwards re-creatable.
        do { try await engines[0].deleteNamespace("ns") } catch let error as LagoonError where error.code == .notFound {}
        _ = try await engines[1].write("ns", body: Self.row(999))
        #expect(try await liveDocumentsByID(engines[0], "ns") == CommitProtocolTests.documents([999]))
    }

    // MARK: Ghosts

    /// A crash after the catalog marker and before the first manifest (here: the manifest
    /// put fails) leaves a marker without a namespace.
    @Test("a catalog marker without a live version is not listed, and DELETE removes it (404)")
    func ghostOfAnInterruptedCreate() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        let engine = Engine(store: faulty)
        _ = try await engine.write("live", body: Self.row(1))
        faulty.failNext(4, [.put], keyPrefix: "ns/ghost/manifest/")
        #expect(await storeErrorCode { _ = try await engine.write("ghost", body: Self.row(1)) } == .unavailable)
        #expect(try await base.head("catalog/ghost") != nil, "the marker was written before the commit")

        #expect(try await listedNames(Engine(store: base)) == ["live"])
        let error = await #expect(throws: LagoonError.self) { try await engine.deleteNamespace("ghost") }
        #expect(error?.code == .notFound)
        #expect(try await base.head("catalog/ghost") == nil, "DELETE left the ghost marker")
        // The name is usable afterwards.
        _ = try await engine.write("ghost", body: Self.row(2))
        #expect(try await listedNames(Engine(store: base)) == ["ghost", "live"])
    }

    @Test("a delete interrupted after its tombstone is not listed; DELETE again answers 404 and finishes the cleanup")
    func ghostOfAnInterruptedDelete() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        let engine = Engine(store: faulty)
        for i in 1...3 { _ = try await engine.write("ns", body: Self.row(i)) }
        faulty.failNext(1, [.delete], keyPrefix: "catalog/")
        #expect(await storeErrorCode { try await engine.deleteNamespace("ns") } == .unavailable)
        #expect(try await base.head("catalog/ns") != nil)
        #expect(try await base.listAll(prefix: "ns/ns/wal/").count == 3)

        #expect(try await listedNames(Engine(store: base)).isEmpty)
        let error = await #expect(throws: LagoonError.self) { try await Engine(store: base).deleteNamespace("ns") }
        #expect(error?.code == .notFound)
        #expect(try await base.head("catalog/ns") == nil)
        #expect(try await base.listAll(prefix: "ns/ns/wal/").isEmpty, "the cleanup was not completed")
    }

    @Test("listing pages skip ghosts and still return every live name exactly once", arguments: [1, 2, 3, 100])
    func listingPagesSkipGhosts(_ pageSize: Int) async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        var live: [String] = []
        for i in 0..<10 {
            let name = "n\(i)"
            if i % 3 == 1 {
                try await store.put("catalog/\(name)", Data(), condition: .ifAbsent)  // ghost
            } else {
                _ = try await engine.write(name, body: Self.row(i))
                live.append(name)
            }
        }
        try await engine.deleteNamespace("n9")
        try await store.put("catalog/n9", Data(), condition: .ifAbsent)  // a deleted one's marker
        live.removeAll { $0 == "n9" }

        var names: [String] = []
        var cursor: String? = nil
        repeat {
            let page = try await engine.listNamespaces(prefix: "", cursor: cursor, pageSize: pageSize)
            let object = try #require(page.objectValue)
            let ids = object["namespaces"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } ?? []
            #expect(ids.count <= pageSize)
            names += ids
            cursor = object["next_cursor"]?.stringValue
        } while cursor != nil && names.count <= 20
        #expect(names == live)
    }
}

/// Acknowledged writes (with the number of deletes completed before each started) and the
/// number of completed deletes, shared by the tasks of a race.
final class RaceLog: Sendable {
    let acknowledged = Mutex<[(id: Int, deleteEpoch: Int)]>([])
    let deletes = Mutex(0)
}

/// The namespace names a listing returns.
func listedNames(_ engine: Engine) async throws -> [String] {
    let page = try await engine.listNamespaces(prefix: "", cursor: nil, pageSize: 1000)
    return page.objectValue?["namespaces"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } ?? []
}

/// Forwards to another store and runs a hook (which may suspend) before every call.
final class HookedStore: ObjectStore {
    enum Operation: Sendable { case get, getRange, head, put, list, delete }
    typealias Hook = @Sendable (Operation, String) async -> Void
    let base: any ObjectStore
    private let current = Mutex<Hook?>(nil)

    init(_ base: any ObjectStore) { self.base = base }

    func hook(_ hook: @escaping Hook) { current.withLock { $0 = hook } }

    private func before(_ operation: Operation, _ key: String) async {
        if let hook = current.withLock({ $0 }) { await hook(operation, key) }
    }

    func get(_ key: String) async throws -> StoredObject { await before(.get, key); return try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        await before(.getRange, key)
        return try await base.getRange(key, offset: offset, length: length)
    }
    func head(_ key: String) async throws -> ObjectInfo? { await before(.head, key); return try await base.head(key) }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        await before(.list, prefix)
        return try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }
    func delete(_ key: String) async throws { await before(.delete, key); try await base.delete(key) }
    @discardableResult
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        await before(.put, key)
        return try await base.put(key, bytes, condition: condition)
    }
}

extension HookedStore {
    /// A store that yields a seeded random number of times before each call, so concurrent
    /// writers, readers and deleters interleave differently per seed.
    static func jittering(_ base: any ObjectStore, seed: UInt64) -> HookedStore {
        let store = HookedStore(base)
        let random = RandomSource(seed: seed)
        store.hook { _, _ in
            let yields = random.state.withLock { Int($0.next() % 4) }
            for _ in 0..<yields { await Task.yield() }
        }
        return store
    }
}

/// A seeded generator shared by tasks.
final class RandomSource: Sendable {
    let state: Mutex<SeededRandom>
    init(seed: UInt64) { state = Mutex(SeededRandom(seed: seed)) }
}
