import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Segments
import Store
import Synchronization
import Testing

/// The write path end to end through `Engine` (ARCHITECTURE.md §5): group commit, the
/// create-only manifest commit with lost-race retry and re-resolution, 409 after
/// `maxCommitAttempts`, several writers (tasks, engines, OS processes) on one store, a
/// crash between the commit and the CURRENT hint, and rejected writes leaving no trace.
///
/// After every multi-writer run `verifiedManifestChain` checks the store itself: versions
/// 1…N each exist exactly once, decode, and extend each other (the log is append-only), and
/// every referenced WAL entry exists and was written by the commit that appended it.
@Suite("Commit protocol")
struct CommitProtocolTests {
    /// A write of one document with three attributes.
    static func row(_ i: Int) -> String {
        #"{"upsert_rows": [{"id": \#(i), "name": "doc-\#(i)", "n": \#(i), "tags": ["t", "x\#(i)"]}]}"#
    }

    /// The document `row(i)` writes.
    static func document(_ i: Int) -> Document {
        Document(id: .uint(UInt64(i)), attributes: [
            "name": .string("doc-\(i)"), "n": .int(Int64(i)), "tags": .array([.string("t"), .string("x\(i)")]),
        ])
    }

    static func documents(_ ids: some Sequence<Int>) -> [DocumentID: Document] {
        Dictionary(uniqueKeysWithValues: ids.map { (DocumentID.uint(UInt64($0)), document($0)) })
    }

    /// A conditional write of `n = k` to document 1 that applies only when it raises n.
    static func raise(to k: Int) -> String {
        #"{"upsert_condition": ["n", "Lt", {"$ref_new": "n"}], "upsert_rows": [{"id": 1, "n": \#(k)}]}"#
    }

    // MARK: Group commit

    @Test("50 concurrent writes to one namespace: all acknowledged, all present, batched into ≤ 50 versions")
    func groupCommit() async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        let outcomes = try await withThrowingTaskGroup(of: (Int, WriteOutcome).self) { group in
            for i in 0..<50 {
                group.addTask { (i, try await engine.write("ns", body: try parseJSON(Self.row(i)))) }
            }
            return try await group.reduce(into: [Int: WriteOutcome]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 50)
        for (i, outcome) in outcomes {
            #expect(outcome.upserted == [.uint(UInt64(i))], "write \(i)")
        }
        let documents = try await liveDocumentsByID(engine, "ns")
        #expect(documents == Self.documents(0..<50))

        let chain = try await verifiedManifestChain(store, "ns")
        #expect(chain.count <= 50, "\(chain.count) versions for 50 writes")
        #expect(chain.last?.rowCount == 50)
        #expect(chain.last?.wal.reduce(0) { $0 + $1.events } == 50)

        // A fresh engine reading the store agrees, through the query path too.
        let fresh = Engine(store: store)
        #expect(try await liveDocumentsByID(fresh, "ns") == documents)
        let result = try await fresh.query("ns", body: try parseJSON(#"{"rank_by": ["id", "asc"], "top_k": 100, "include_attributes": true}"#))
        let rows = try #require(result.objectValue?["rows"]?.arrayValue)
        #expect(rows.compactMap { $0.objectValue?["id"]?.intValue } == (0..<50).map(Int64.init))
        #expect(rows.first?.objectValue?["name"] == .string("doc-0"))
    }

    @Test("writes queued while a commit is in flight go out together in the next commit")
    func queuedWritesShareACommit() async throws {
        let base = MemoryStore()
        let interceptor = ManifestPutInterceptor(base)
        let engine = Engine(store: interceptor)
        _ = try await engine.write("ns", body: try parseJSON(Self.row(1000)))
        let gate = CommitGate()
        interceptor.interceptNextManifestPut { _ in await gate.wait() }
        let started = CommitCounter()
        let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
            for i in 0..<40 {
                group.addTask {
                    let body = try parseJSON(Self.row(i))
                    _ = started.next()
                    return try await engine.write("ns", body: body)
                }
            }
            // Let every write queue up behind the held commit, then release it.
            try await gate.waitUntilSomeoneWaits()
            let deadline = ContinuousClock.now + .seconds(10)
            while started.value < 40 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            try await Task.sleep(for: .milliseconds(300))
            gate.open()
            return try await group.reduce(into: [WriteOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.count == 40)
        #expect(Set(outcomes.flatMap(\.upserted)) == Set((0..<40).map { DocumentID.uint(UInt64($0)) }))
        let chain = try await verifiedManifestChain(base, "ns")
        // Version 1 (the first write), the held commit, and one commit of everything queued
        // behind it (one more if a task was slow to queue).
        #expect(chain.count <= 4, "40 queued writes took \(chain.count - 1) commits")
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents(Array(0..<40) + [1000]))
    }

    /// Bad requests for a batch: one the decoder rejects, and one whose config the manifest
    /// encoder cannot hold (a non-finite `k1`), which must fail alone too, not the batch.
    static let badBatchRequests: [String] = [
        #"{"upsert_rows": [{"id": 1, "n": "not a number"}]}"#,
        #"{"schema": {"title": {"type": "string", "full_text_search": {"k1": 1e400}}}, "upsert_rows": [{"id": 1, "title": "x"}]}"#,
    ]

    @Test("a rejected request in a group commit fails alone; the rest of the batch commits", arguments: badBatchRequests)
    func rejectedRequestInABatch(_ bad: String) async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        _ = try await engine.write("ns", body: try parseJSON(Self.row(1000)))
        let results = await withTaskGroup(of: (Int, Result<WriteOutcome, any Error>).self) { group in
            for i in 0..<30 {
                group.addTask {
                    let body = i % 3 == 0 ? bad : Self.row(i)  // every third request is invalid
                    return (i, await Result(awaiting: { try await engine.write("ns", body: try parseJSON(body)) }))
                }
            }
            return await group.reduce(into: [Int: Result<WriteOutcome, any Error>]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 30)
        for (i, result) in results.sorted(by: { $0.key < $1.key }) {
            switch result {
            case .success(let outcome):
                #expect(i % 3 != 0, "invalid request \(i) was accepted")
                #expect(outcome.upserted == [.uint(UInt64(i))])
            case .failure(let error):
                #expect(i % 3 == 0, "valid request \(i) failed: \(error)")
                #expect((error as? LagoonError)?.code == .badRequest, "\(error)")
            }
        }
        let documents = try await liveDocumentsByID(Engine(store: store), "ns")
        #expect(documents == Self.documents((0..<30).filter { $0 % 3 != 0 } + [1000]))
        _ = try await verifiedManifestChain(store, "ns")
    }

    // MARK: Two engines on one folder

    @Test("two engines on one folder race 200 writes: consecutive versions, every acknowledged write present")
    func twoEnginesOneFolder() async throws {
        try await withTempDirectory(prefix: "lagoon-commit") { directory in
            let engines = [Engine(store: try FileSystemStore(root: directory.url)),
                           Engine(store: try FileSystemStore(root: directory.url))]
            // Each engine: 4 tasks writing 25 ids each, one id per write.
            let results = await withTaskGroup(of: [(Int, Result<WriteOutcome, any Error>)].self) { group in
                for task in 0..<8 {
                    let engine = engines[task % 2]
                    group.addTask {
                        var results: [(Int, Result<WriteOutcome, any Error>)] = []
                        for j in 0..<25 {
                            let i = task * 25 + j
                            results.append((i, await Result(awaiting: { try await engine.write("ns", body: try parseJSON(Self.row(i))) })))
                        }
                        return results
                    }
                }
                return await group.reduce(into: [(Int, Result<WriteOutcome, any Error>)]()) { $0 += $1 }
            }
            let (acknowledged, conflicted) = partitionWriteResults(results)
            #expect(acknowledged.count + conflicted.count == 200)
            #expect(acknowledged.count >= 100, "only \(acknowledged.count) of 200 writes were acknowledged")

            let store = try FileSystemStore(root: directory.url)
            let chain = try await verifiedManifestChain(store, "ns")
            #expect(chain.count <= 200)
            let fresh = try await liveDocumentsByID(Engine(store: store), "ns")
            #expect(fresh == Self.documents(acknowledged.keys), "acknowledged writes missing or lost-race writes visible")
            #expect(chain.last?.rowCount == acknowledged.count)
        }
    }

    @Test("two engines racing conditional writes: losers re-resolve, so n only ever rises and ends at the max acknowledged k")
    func twoEnginesConditionalWrites() async throws {
        try await withTempDirectory(prefix: "lagoon-commit") { directory in
            let engines = [Engine(store: try FileSystemStore(root: directory.url)),
                           Engine(store: try FileSystemStore(root: directory.url))]
            _ = try await engines[0].write("ns", body: try parseJSON(#"{"upsert_rows": [{"id": 1, "n": 0}]}"#))
            let counter = CommitCounter()
            let results = await withTaskGroup(of: [(Int, Result<WriteOutcome, any Error>)].self) { group in
                for task in 0..<8 {
                    let engine = engines[task % 2]
                    group.addTask {
                        var results: [(Int, Result<WriteOutcome, any Error>)] = []
                        for _ in 0..<25 {
                            let k = counter.next()
                            results.append((k, await Result(awaiting: { try await engine.write("ns", body: try parseJSON(Self.raise(to: k))) })))
                        }
                        return results
                    }
                }
                return await group.reduce(into: [(Int, Result<WriteOutcome, any Error>)]()) { $0 += $1 }
            }
            let (acknowledged, conflicted) = partitionWriteResults(results)
            #expect(acknowledged.count + conflicted.count == 200)
            let applied = Set(acknowledged.filter { $0.value.upserted == [.uint(1)] }.keys)
            let skipped = Set(acknowledged.filter { $0.value.upserted.isEmpty }.keys)
            #expect(applied.count + skipped.count == acknowledged.count)

            let store = try FileSystemStore(root: directory.url)
            let maxAcknowledged = try #require(acknowledged.keys.max())
            let final = try await liveDocumentsByID(Engine(store: store), "ns")
            #expect(final == [.uint(1): Document(id: .uint(1), attributes: ["n": .int(Int64(maxAcknowledged))])])

            // The committed log, replayed in order: every write of document 1 raised n,
            // and the writes that raised it are exactly the ones answered "upserted".
            let chain = try await verifiedManifestChain(store, "ns")
            var logged: [Int] = []
            for reference in try #require(chain.last).wal {
                let entry = try await ManifestStore(store: store).readEntry(reference)
                for event in entry.events {
                    guard case .upsert(let document) = event, case .int(let n)? = document.attributes["n"] else {
                        Issue.record("unexpected event \(event)")
                        continue
                    }
                    logged.append(Int(n))
                }
            }
            #expect(logged.first == 0)
            #expect(logged == logged.sorted() && Set(logged).count == logged.count, "n did not only rise: \(logged)")
            #expect(Set(logged.dropFirst()) == applied)
            // A write is skipped only when a larger k had already been committed before it.
            for k in skipped { #expect(logged.contains { $0 > k }, "k=\(k) was skipped without a larger value committed") }
        }
    }

    // MARK: Lost races, re-resolution and 409

    @Test("every commit attempt lost → 409 conflict, and the losing write is not visible")
    func exhaustedRetries() async throws {
        let base = MemoryStore()
        let interceptor = ManifestPutInterceptor(base)
        var options = EngineOptions()
        options.maxCommitAttempts = 1
        let loser = Engine(store: interceptor, options: options)
        let rival = Engine(store: base)
        _ = try await loser.write("ns", body: try parseJSON(Self.row(1)))
        // Just before the loser creates version 2, another writer creates it.
        interceptor.interceptNextManifestPut { _ in _ = try await rival.write("ns", body: try parseJSON(Self.row(99))) }

        let error = await #expect(throws: LagoonError.self) { try await loser.write("ns", body: try parseJSON(Self.row(2))) }
        #expect(error?.code == .conflict)
        #expect(interceptor.interceptedCount == 1)

        let chain = try await verifiedManifestChain(base, "ns")
        #expect(chain.count == 2)
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents([1, 99]))
        #expect(try await liveDocumentsByID(loser, "ns") == Self.documents([1, 99]))
        // The loser's WAL entry is an unreferenced orphan.
        let referenced = Set(try #require(chain.last).wal.map(\.key))
        let walKeys = try await base.listAll(prefix: "ns/ns/wal/").map(\.key)
        let orphans = walKeys.filter { !referenced.contains($0) }
        #expect(orphans.count == 1)
        if let orphan = orphans.first {
            let entry = try WALCodec.decode(try await base.get(orphan).bytes, object: orphan)
            #expect(entry.events == [.upsert(Self.document(2))])
            #expect(entry.seq == 2, "the orphan claimed the same seq as the winner")
        }
    }

    @Test("a lost race is retried against the new snapshot: the condition is evaluated again",
          arguments: [
              RaceScenario(rival: 10, upserted: false, final: 10, versions: 2),
              RaceScenario(rival: 3, upserted: true, final: 5, versions: 3),
          ])
    func lostRaceReResolvesCondition(_ scenario: RaceScenario) async throws {
        let base = MemoryStore()
        let interceptor = ManifestPutInterceptor(base)
        var options = EngineOptions()
        options.maxCommitAttempts = 2
        let writer = Engine(store: interceptor, options: options)
        let rival = Engine(store: base)
        _ = try await writer.write("ns", body: try parseJSON(#"{"upsert_rows": [{"id": 1, "n": 1}]}"#))
        interceptor.interceptNextManifestPut { _ in
            _ = try await rival.write("ns", body: try parseJSON(#"{"upsert_rows": [{"id": 1, "n": \#(scenario.rival)}]}"#))
        }
        // Resolved against n = 1 this applies; after losing to the rival it must be resolved again.
        let outcome = try await writer.write("ns", body: try parseJSON(Self.raise(to: 5)))
        #expect(interceptor.interceptedCount == 1)
        #expect(outcome.upserted == (scenario.upserted ? [.uint(1)] : []))
        #expect(try await liveDocumentsByID(Engine(store: base), "ns")
                == [.uint(1): Document(id: .uint(1), attributes: ["n": .int(Int64(scenario.final))])])
        #expect(try await verifiedManifestChain(base, "ns").count == scenario.versions)
    }

    @Test("a lost race is retried against the new snapshot: delete_by_filter matches the rival's new document")
    func lostRaceReResolvesFilter() async throws {
        let base = MemoryStore()
        let interceptor = ManifestPutInterceptor(base)
        let writer = Engine(store: interceptor)
        let rival = Engine(store: base)
        _ = try await writer.write("ns", body: try parseJSON(#"{"upsert_rows": [{"id": 1, "n": 1}, {"id": 2, "n": 6}]}"#))
        interceptor.interceptNextManifestPut { _ in
            _ = try await rival.write("ns", body: try parseJSON(#"{"upsert_rows": [{"id": 3, "n": 8}]}"#))
        }
        let outcome = try await writer.write("ns", body: try parseJSON(#"{"delete_by_filter": ["n", "Gte", 5]}"#))
        #expect(interceptor.interceptedCount == 1)
        #expect(outcome.deleted == [.uint(2), .uint(3)])
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == [.uint(1): Document(id: .uint(1), attributes: ["n": .int(1)])])
        #expect(try await verifiedManifestChain(base, "ns").count == 3)
    }

    @Test("a lost manifest acknowledgement loses nothing: the write landed and later writes continue the chain")
    func lostAcknowledgement() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        let engine = Engine(store: faulty)
        _ = try await engine.write("ns", body: try parseJSON(Self.row(1)))
        faulty.loseAckOfNextPut(keyPrefix: "ns/ns/manifest/0")
        // The store said "unavailable" although the put landed: the committer retries, finds
        // its own commit token on the version, and acknowledges. Nothing is duplicated or skipped.
        let outcome = try await engine.write("ns", body: try parseJSON(Self.row(2)))
        #expect(outcome.upserted == [.uint(2)])
        #expect(faulty.injectedCount == 1)
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents([1, 2]))
        _ = try await engine.write("ns", body: try parseJSON(Self.row(3)))
        #expect(try await liveDocumentsByID(engine, "ns") == Self.documents([1, 2, 3]))
        let chain = try await verifiedManifestChain(base, "ns")
        #expect(chain.count == 3)
    }

    @Test("a manifest put that fails as unavailable is retried and the write acknowledged")
    func unavailableManifestPutIsRetried() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        let engine = Engine(store: faulty)
        _ = try await engine.write("ns", body: try parseJSON(Self.row(1)))
        faulty.failNext(2, [.put], keyPrefix: "ns/ns/manifest/0")
        _ = try await engine.write("ns", body: try parseJSON(Self.row(2)))
        #expect(faulty.injectedCount == 2)
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents([1, 2]))
        #expect(try await verifiedManifestChain(base, "ns").count == 2)
    }

    @Test("a WAL entry that cannot be fetched during replay fails the read; the next read replays everything")
    func replayFetchFailure() async throws {
        let base = MemoryStore()
        let writer = Engine(store: base)
        for i in 1...10 { _ = try await writer.write("ns", body: try parseJSON(Self.row(i))) }
        let faulty = FaultyStore(wrapping: base)
        faulty.failNext(1, [.get], keyPrefix: "ns/ns/wal/00000000000000000006")
        let reader = Engine(store: faulty)
        #expect(await storeErrorCode { _ = try await reader.snapshot("ns") } == .unavailable)
        #expect(try await liveDocumentsByID(reader, "ns") == Self.documents(1...10))
    }

    // MARK: Two OS processes

    @Test(
        "two worker processes write 100 ids each through their own engines on one folder",
        .enabled(if: WorkerProcess.isAvailable(unlessSet: CommitWorker.root), "needs the SwiftPM swift-testing runner executable"),
        .timeLimit(.minutes(3)))
    func twoProcesses() async throws {
        try await withTempDirectory(prefix: "lagoon-commit-xproc") { directory in
            let root = directory.url.appendingPathComponent("store")
            let results = directory.url.appendingPathComponent("results")
            let go = directory.url.appendingPathComponent("go")
            try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
            let workers = [0, 1]
            var processes: [Process] = []
            for worker in workers {
                processes.append(try WorkerProcess.launch(
                    filter: "commitWorkerProcess",
                    environment: [CommitWorker.root: root.path, CommitWorker.results: results.path,
                                  CommitWorker.go: go.path, CommitWorker.id: "\(worker)"],
                    log: results.appendingPathComponent("worker-\(worker).log")))
            }
            // Start both at once so they really contend.
            _ = FileManager.default.createFile(atPath: go.path, contents: nil)
            for (worker, process) in zip(workers, processes) {
                while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
                let log = (try? String(contentsOf: results.appendingPathComponent("worker-\(worker).log"), encoding: .utf8)) ?? ""
                #expect(process.terminationStatus == 0, "worker \(worker) failed:\n\(log.suffix(3_000))")
            }

            var acknowledged: [Int] = []
            var conflicted: [Int] = []
            for worker in workers {
                let file = results.appendingPathComponent("worker-\(worker).batches")
                let text = try #require(try? String(contentsOf: file, encoding: .utf8), "worker \(worker) wrote no results (did it run?)")
                let lines = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                #expect(lines.count == CommitWorker.batches, "worker \(worker): \(text)")
                for line in lines {
                    let batch = try #require(Int(line[1]))
                    let ids = CommitWorker.ids(worker: worker, batch: batch)
                    switch line[0] {
                    case "ack": acknowledged += ids
                    case "conflict": conflicted += ids
                    default: Issue.record("worker \(worker) batch \(batch) failed: \(line.dropFirst(2).joined(separator: " "))")
                    }
                }
            }
            #expect(acknowledged.count + conflicted.count == 200)
            #expect(acknowledged.count >= 100, "only \(acknowledged.count) ids acknowledged")

            let store = try FileSystemStore(root: root)
            let chain = try await verifiedManifestChain(store, "ns")
            #expect(chain.count <= 2 * CommitWorker.batches)
            let documents = try await liveDocumentsByID(Engine(store: store), "ns")
            #expect(documents == Dictionary(uniqueKeysWithValues: acknowledged.map { (DocumentID.uint(UInt64($0)), CommitWorker.document($0)) }))
        }
    }

    /// The body of one worker process; skipped in a normal run.
    @Test(.enabled(if: CommitWorker.environment != nil, "runs only inside a worker process"))
    func commitWorkerProcess() async throws {
        let environment = try #require(CommitWorker.environment)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: environment[CommitWorker.go]!) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        let worker = try #require(Int(environment[CommitWorker.id]!))
        let engine = Engine(store: try FileSystemStore(path: environment[CommitWorker.root]!))
        // Two concurrent streams of batches, so group commit and cross-process races mix.
        let lines = await withTaskGroup(of: [String].self) { group in
            for stream in 0..<2 {
                group.addTask {
                    var lines: [String] = []
                    for batch in stride(from: stream, to: CommitWorker.batches, by: 2) {
                        let body = CommitWorker.body(worker: worker, batch: batch)
                        do {
                            _ = try await engine.write("ns", body: try parseJSON(body))
                            lines.append("ack \(batch)")
                        } catch let error as LagoonError where error.code == .conflict {
                            lines.append("conflict \(batch)")
                        } catch {
                            lines.append("error \(batch) \(error)")
                        }
                        print("worker \(worker): \(lines.last!)")
                    }
                    return lines
                }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        let results = URL(fileURLWithPath: environment[CommitWorker.results]!)
        try Data(lines.joined(separator: "\n").utf8)
            .write(to: results.appendingPathComponent("worker-\(worker).batches"), options: .atomic)
    }

    // MARK: Crash between the commit and the CURRENT update

    @Test("a crash between commit and the CURRENT update loses nothing: a fresh engine sees every write",
          arguments: StoreBackend.allCases, HintDamage.allCases)
    func crashBeforeHint(_ backend: StoreBackend, _ damage: HintDamage) async throws {
        try await backend.withStore { store async throws in
            let engine = Engine(store: store)
            for i in 1...5 { _ = try await engine.write("ns", body: try parseJSON(Self.row(i))) }
            let current = NamespaceLayout(namespace: "ns").currentKey
            #expect(String(decoding: try await store.get(current).bytes, as: UTF8.self) == "5")
            switch damage {
            case .deleted: try await store.delete(current)
            case .rewound: try await store.put(current, Data("1".utf8), condition: .none)
            case .garbage: try await store.put(current, Data("not a number".utf8), condition: .none)
            }

            let fresh = Engine(store: store)
            #expect(try await fresh.snapshot("ns").manifest.version == 5)
            #expect(try await liveDocumentsByID(fresh, "ns") == Self.documents(1...5))
            // The next write commits version 6; it neither fails nor overwrites anything.
            _ = try await fresh.write("ns", body: try parseJSON(Self.row(6)))
            #expect(try await verifiedManifestChain(store, "ns").count == 6)
            #expect(try await liveDocumentsByID(Engine(store: store), "ns") == Self.documents(1...6))
            // The old engine, whose replica is behind, also catches up.
            #expect(try await liveDocumentsByID(engine, "ns") == Self.documents(1...6))
        }
    }

    @Test("CURRENT updates that always fail do not affect writes or reads")
    func hintNeverWritten() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        faulty.failNext(1_000, [.put], keyPrefix: "ns/ns/manifest/CURRENT")
        let engine = Engine(store: faulty)
        for i in 1...4 { _ = try await engine.write("ns", body: try parseJSON(Self.row(i))) }
        #expect(faulty.injectedCount >= 4)
        #expect(try await base.head("ns/ns/manifest/CURRENT") == nil)
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents(1...4))
        #expect(try await verifiedManifestChain(base, "ns").count == 4)
    }

    // MARK: Deletion interrupted

    /// A delete commits a tombstone first; cleanup after it may be interrupted. The namespace
    /// must read as absent from then on, and a re-created one must show exactly its new writes.
    @Test("a delete whose cleanup is interrupted still deletes; re-creating shows only new writes")
    func recreateAfterInterruptedDelete() async throws {
        let base = MemoryStore()
        let faulty = FaultyStore(wrapping: base)
        let engine = Engine(store: faulty)
        for i in 1...3 { _ = try await engine.write("ns", body: try parseJSON(Self.row(i))) }
        faulty.failNext(1, [.delete], keyPrefix: "ns/ns/wal/")
        #expect(await storeErrorCode { try await engine.deleteNamespace("ns") } == .unavailable)
        #expect(try await base.listAll(prefix: "ns/ns/wal/").count >= 1, "cleanup stopped early, garbage remains")

        let fresh = Engine(store: base)
        let gone = await #expect(throws: LagoonError.self) { try await fresh.snapshot("ns") }
        #expect(gone?.code == .notFound)
        _ = try await fresh.write("ns", body: try parseJSON(Self.row(7)))
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents([7]))
        _ = try await fresh.write("ns", body: try parseJSON(Self.row(8)))
        #expect(try await liveDocumentsByID(Engine(store: base), "ns") == Self.documents([7, 8]))
        // The original engine sees the re-created namespace too.
        #expect(try await liveDocumentsByID(engine, "ns") == Self.documents([7, 8]))
    }

    @Test("a node with a stale cache sees another node's delete and never resurrects deleted data")
    func staleNodeSeesDelete() async throws {
        let store = MemoryStore()
        let stale = Engine(store: store), deleter = Engine(store: store)
        for i in 1...3 { _ = try await stale.write("ns", body: try parseJSON(Self.row(i))) }
        #expect(try await liveDocumentsByID(stale, "ns") == Self.documents([1, 2, 3]))
        try await deleter.deleteNamespace("ns")
        let gone = await #expect(throws: LagoonError.self) { try await stale.snapshot("ns") }
        #expect(gone?.code == .notFound)
        // The stale node's next write re-creates the namespace with that write only.
        _ = try await stale.write("ns", body: try parseJSON(Self.row(9)))
        #expect(try await liveDocumentsByID(deleter, "ns") == Self.documents([9]))
        #expect(try await liveDocumentsByID(Engine(store: store), "ns") == Self.documents([9]))
    }

    // MARK: Rejected writes

    @Test("a rejected write writes nothing", arguments: RejectedWrite.cases)
    func rejectedWriteWritesNothing(_ sample: RejectedWrite) async throws {
        let store = MemoryStore()
        let engine = Engine(store: store)
        _ = try await engine.write("ns", body: try parseJSON(
            #"{"upsert_rows": [{"id": 1, "n": 1, "name": "a", "vector": [1, 0]}], "schema": {"when": "datetime"}}"#))
        let objects = try await store.listAll(prefix: "")
        let before = store.count

        let error = await #expect(throws: LagoonError.self) { try await engine.write(sample.namespace, body: try parseJSON(sample.body)) }
        #expect(error?.code == .badRequest, "\(String(describing: error))")
        #expect(store.count == before)
        #expect(try await store.listAll(prefix: "") == objects, "the store changed")
        #expect(try await Engine(store: store).snapshot("ns").manifest.version == 1)
        #expect(try await liveDocumentsByID(Engine(store: store), "ns")
                == [.uint(1): Document(id: .uint(1), vector: [1, 0], attributes: ["n": .int(1), "name": .string("a")])])
    }
}

// MARK: - Helpers

func parseJSON(_ text: String) throws -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Splits write results into acknowledged outcomes and 409s; anything else is a test failure.
func partitionWriteResults(_ results: [(Int, Result<WriteOutcome, any Error>)]) -> (acknowledged: [Int: WriteOutcome], conflicted: [Int]) {
    var acknowledged: [Int: WriteOutcome] = [:]
    var conflicted: [Int] = []
    for (key, result) in results {
        switch result {
        case .success(let outcome): acknowledged[key] = outcome
        case .failure(let error as LagoonError) where error.code == .conflict: conflicted.append(key)
        case .failure(let error): Issue.record("write \(key) failed: \(error)")
        }
    }
    return (acknowledged, conflicted)
}

/// The live documents of a namespace's newest snapshot, by id.
func liveDocumentsByID(_ engine: Engine, _ namespace: String) async throws -> [DocumentID: Document] {
    let projection = try await engine.snapshot(namespace).projection
    var documents: [DocumentID: Document] = [:]
    for row in 0..<projection.rowCount where projection.alive[row] {
        let document = projection.document(row: row)
        #expect(documents[document.id] == nil, "\(document.id) is live twice")
        documents[document.id] = document
    }
    #expect(documents.count == projection.liveCount)
    return documents
}

/// Reads every manifest version of a namespace straight from the store and checks the
/// commit protocol's invariants; returns the versions in order.
///
/// - the versions are exactly 1…N, each one object, each decodes and names itself;
/// - each version extends the previous one (same creation time, the previous WAL list as a
///   prefix, at most one entry appended), sequence numbers rise and `nextSeq` follows them;
/// - every referenced WAL entry exists, decodes, has the referenced seq, event count and size,
///   and was written by the commit that appended it (writer token = commit token).
func verifiedManifestChain(_ store: any ObjectStore, _ namespace: String, prefix: String = "") async throws -> [Manifest] {
    let layout = NamespaceLayout(prefix: prefix, namespace: namespace)
    let keys = try await store.listAll(prefix: layout.manifestPrefix).map(\.key).filter { $0 != layout.currentKey }
    #expect(Set(keys).count == keys.count, "a manifest key is listed twice")
    let versions = keys.compactMap { UInt64($0.dropFirst(layout.manifestPrefix.count)) }
    #expect(versions.count == keys.count, "unexpected objects under manifest/: \(keys)")
    #expect(!versions.isEmpty, "no manifest versions")
    #expect(versions == (0..<versions.count).map { UInt64($0 + 1) }, "versions are not 1…N: \(versions)")
    #expect(keys == versions.map(layout.manifestKey), "keys are not the zero-padded version names")

    var chain: [Manifest] = []
    for key in keys {
        let manifest = try ManifestCodec.decode(try await store.get(key).bytes, object: key)
        #expect(layout.manifestKey(manifest.version) == key, "\(key) holds version \(manifest.version)")
        #expect(manifest.namespace == namespace)
        if let previous = chain.last {
            #expect(manifest.createdAtMillis == previous.createdAtMillis, "version \(manifest.version) restarted the namespace")
            #expect(Array(manifest.wal.prefix(previous.wal.count)) == previous.wal,
                    "version \(manifest.version) does not extend the WAL of \(previous.version)")
            #expect(manifest.wal.count - previous.wal.count <= 1)
            #expect(manifest.commitToken != previous.commitToken)
        }
        let seqs = manifest.wal.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "WAL seqs not rising in \(manifest.version): \(seqs)")
        #expect(manifest.nextSeq == (seqs.last ?? 0) + 1, "next seq \(manifest.nextSeq) after \(seqs)")
        if let appended = manifest.wal.last, chain.last?.wal.last != appended {
            let object = try await store.get(appended.key)
            let entry = try WALCodec.decode(object.bytes, object: appended.key)
            #expect(entry.seq == appended.seq)
            #expect(entry.events.count == appended.events)
            #expect(object.bytes.count == appended.bytes)
            #expect(entry.writerToken == manifest.commitToken, "entry \(appended.key) was not written by the commit of version \(manifest.version)")
            #expect(appended.key == layout.walKey(seq: entry.seq, token: entry.writerToken))
        }
        chain.append(manifest)
    }

    // WAL objects no version references are the orphans of lost races (or failed commits):
    // well-formed, and written by an attempt that never became a version.
    let referenced = Set(chain.last?.wal.map(\.key) ?? [])
    let tokens = Set(chain.map(\.commitToken))
    for object in try await store.listAll(prefix: layout.walPrefix) where !referenced.contains(object.key) {
        let entry = try WALCodec.decode(try await store.get(object.key).bytes, object: object.key)
        #expect(!tokens.contains(entry.writerToken), "\(object.key) belongs to a committed version but is not referenced")
        #expect(entry.seq <= (chain.last?.nextSeq ?? 0), "orphan \(object.key) claims a seq no version reached")
    }
    return chain
}

/// A thread-safe counter handing out 1, 2, 3, …
final class CommitCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
    var value: Int { count.withLock { $0 } }
}

/// A one-shot gate: `wait()` suspends until `open()`.
final class CommitGate: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var arrivals = 0
    }
    private let state = Mutex(State())

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                state.arrivals += 1
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once some task is waiting at the gate (or throws after 10 s).
    func waitUntilSomeoneWaits() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while state.withLock({ $0.arrivals }) == 0 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// Forwards to another store; before the next create-only put of a manifest version it
/// runs an armed action (another writer committing that very version, or a pause).
final class ManifestPutInterceptor: ObjectStore {
    typealias Action = @Sendable (String) async throws -> Void
    let base: any ObjectStore
    private let state = Mutex<(action: Action?, count: Int)>((nil, 0))

    init(_ base: any ObjectStore) { self.base = base }

    /// Arms `action` for the next put of `…/manifest/{version}` (not CURRENT).
    func interceptNextManifestPut(_ action: @escaping Action) {
        state.withLock { $0.action = action }
    }

    /// How many puts were intercepted so far.
    var interceptedCount: Int { state.withLock { $0.count } }

    static func isManifestVersion(_ key: String) -> Bool {
        guard let range = key.range(of: "/manifest/", options: .backwards) else { return false }
        return UInt64(key[range.upperBound...]) != nil
    }

    func get(_ key: String) async throws -> StoredObject { try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await base.getRange(key, offset: offset, length: length)
    }
    func head(_ key: String) async throws -> ObjectInfo? { try await base.head(key) }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }

    @discardableResult
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        if condition == .ifAbsent, Self.isManifestVersion(key) {
            let action = state.withLock { state -> Action? in
                guard let action = state.action else { return nil }
                state.action = nil
                state.count += 1
                return action
            }
            if let action { try await action(key) }
        }
        return try await base.put(key, bytes, condition: condition)
    }
}

/// The rival writes n = `rival` while the writer raises n from 1 to 5.
struct RaceScenario: Sendable, CustomTestStringConvertible {
    var rival: Int
    var upserted: Bool
    var final: Int
    var versions: Int
    var testDescription: String { "rival writes n = \(rival)" }
}

/// Ways the CURRENT hint can be left behind by a crash or a lagging writer.
enum HintDamage: String, CaseIterable, Sendable {
    case deleted, rewound, garbage
}

/// A write body the engine must reject with 400 before writing anything.
struct RejectedWrite: Sendable, CustomTestStringConvertible {
    var name: String
    var namespace = "ns"
    var body: String
    var testDescription: String { name }

    static let cases: [RejectedWrite] = [
        RejectedWrite(name: "unknown option", body: #"{"upsert_rowz": [{"id": 2}]}"#),
        RejectedWrite(name: "body not an object", body: #"[{"id": 2}]"#),
        RejectedWrite(name: "row without id", body: #"{"upsert_rows": [{"n": 2}]}"#),
        RejectedWrite(name: "negative id", body: #"{"upsert_rows": [{"id": -2}]}"#),
        RejectedWrite(name: "id of another kind", body: #"{"upsert_rows": [{"id": "two", "n": 2}]}"#),
        RejectedWrite(name: "wrong vector dimension", body: #"{"upsert_rows": [{"id": 2, "vector": [1, 2, 3]}]}"#),
        RejectedWrite(name: "non-numeric vector element", body: #"{"upsert_rows": [{"id": 2, "vector": [1, "x"]}]}"#),
        RejectedWrite(name: "attribute of the wrong type", body: #"{"upsert_rows": [{"id": 2, "n": "two"}]}"#),
        RejectedWrite(name: "bad datetime", body: #"{"upsert_rows": [{"id": 2, "when": "yesterday"}]}"#),
        RejectedWrite(name: "one bad row among good ones",
                      body: #"{"upsert_rows": [{"id": 2, "n": 2}, {"id": 3, "n": 3}, {"id": 4, "n": "four"}]}"#),
        RejectedWrite(name: "bad row in an otherwise valid patch", body: #"{"patch_rows": [{"id": 1, "n": 5}, {"id": 1, "vector": [1]}]}"#),
        RejectedWrite(name: "unknown filter operator", body: #"{"delete_by_filter": ["n", "Bogus", 1]}"#),
        RejectedWrite(name: "changing the distance metric", body: #"{"distance_metric": "euclidean_squared", "upsert_rows": [{"id": 2}]}"#),
        RejectedWrite(name: "changing an attribute type", body: #"{"schema": {"n": "string"}}"#),
        RejectedWrite(name: "nested arrays", body: #"{"upsert_rows": [{"id": 2, "tags": [["a"]]}]}"#),
        RejectedWrite(name: "invalid namespace name", namespace: "bad/name", body: #"{"upsert_rows": [{"id": 2}]}"#),
        RejectedWrite(name: "invalid body for a new namespace", namespace: "fresh", body: #"{"upsert_rows": [{"id": -1}]}"#),
    ]
}

/// The environment variables that make this test binary a commit worker process.
enum CommitWorker {
    static let root = "LAGOON_COMMIT_WORKER_ROOT"
    static let results = "LAGOON_COMMIT_WORKER_RESULTS"
    static let go = "LAGOON_COMMIT_WORKER_GO"
    static let id = "LAGOON_COMMIT_WORKER_ID"
    static let batches = 10
    static let batchSize = 10

    static var environment: [String: String]? {
        let environment = ProcessInfo.processInfo.environment
        return [root, results, go, id].allSatisfy { environment[$0] != nil } ? environment : nil
    }

    static func ids(worker: Int, batch: Int) -> [Int] {
        (0..<batchSize).map { worker * 1000 + batch * batchSize + $0 }
    }

    static func body(worker: Int, batch: Int) -> String {
        let rows = ids(worker: worker, batch: batch).map { id in
            let j = id % batchSize
            return #"{"id": \#(id), "worker": \#(worker), "batch": \#(batch), "label": "w\#(worker)-b\#(batch)-j\#(j)", "vector": [\#(worker), \#(batch), \#(j), 1]}"#
        }
        return #"{"upsert_rows": [\#(rows.joined(separator: ", "))]}"#
    }

    /// The document a worker wrote for `id`.
    static func document(_ id: Int) -> Document {
        let worker = id / 1000, batch = (id % 1000) / batchSize, j = id % batchSize
        return Document(id: .uint(UInt64(id)), vector: [Float(worker), Float(batch), Float(j), 1], attributes: [
            "worker": .int(Int64(worker)), "batch": .int(Int64(batch)), "label": .string("w\(worker)-b\(batch)-j\(j)"),
        ])
    }
}

