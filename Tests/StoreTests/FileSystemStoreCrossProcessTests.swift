import Foundation
import LagoonTestSupport
import Store
import Testing

/// `FileSystemStore` shared by several instances and several OS processes on one folder.
///
/// The commit protocol (ARCHITECTURE §5) relies on create-only puts and if-match puts
/// holding across processes: `link(2)` and `flock(2)` are kernel-level, so they should.
/// `racingProcesses` checks it for real: it launches this test binary several times as
/// worker processes (`workerEntryPoint`, which only runs when the worker environment
/// variables are set) that race on the same keys, then checks the outcome. It needs the
/// SwiftPM test runner on Linux (an executable `…PackageTests.xctest` that accepts
/// `--testing-library swift-testing --filter`); elsewhere it is skipped, and the
/// in-process tests below cover several instances on one folder.
@Suite("FileSystemStore across instances and processes")
struct FileSystemStoreCrossProcessTests {
    static let workers = 4
    static let tasksPerWorker = 4
    static let raceKeys = 48
    static let incrementsPerTask = 10

    // MARK: Several instances in one process

    @Test("two instances on one folder: each create-only key has exactly one winner")
    func twoInstancesCreate() async throws {
        try await withTempDirectory { directory in
            let stores = [try FileSystemStore(root: directory.url), try FileSystemStore(root: directory.url)]
            let wins = try await withThrowingTaskGroup(of: [String].self) { group in
                for task in 0..<16 {
                    let store = stores[task % 2]
                    group.addTask { try await createRace(store, label: "task-\(task)") }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            try await expectOneWinnerPerKey(wins, in: stores[0])
        }
    }

    @Test("two instances on one folder: concurrent if-match updates lose nothing")
    func twoInstancesCompareAndSwap() async throws {
        try await withTempDirectory { directory in
            let stores = [try FileSystemStore(root: directory.url), try FileSystemStore(root: directory.url)]
            try await stores[0].put("counter", Data("0".utf8), condition: .ifAbsent)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    let store = stores[task % 2]
                    group.addTask {
                        for _ in 0..<Self.incrementsPerTask { try await increment(store, "counter") }
                    }
                }
                try await group.waitForAll()
            }
            let value = String(decoding: try await stores[1].get("counter").bytes, as: UTF8.self)
            #expect(value == "\(8 * Self.incrementsPerTask)")
        }
    }

    // MARK: Several processes

    @Test(
        "worker processes racing on one folder: one winner per key, no lost update",
        .enabled(if: WorkerProcess.isAvailable(unlessSet: WorkerEnvironment.root), "needs the SwiftPM swift-testing runner executable"),
        .timeLimit(.minutes(2)))
    func racingProcesses() async throws {
        try await withTempDirectory(prefix: "lagoon-xproc") { directory in
            let root = directory.url.appendingPathComponent("store")
            let results = directory.url.appendingPathComponent("results")
            let go = directory.url.appendingPathComponent("go")
            try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
            let store = try FileSystemStore(root: root)
            try await store.put("counter", Data("0".utf8), condition: .ifAbsent)

            var processes: [Process] = []
            for worker in 0..<Self.workers {
                let log = results.appendingPathComponent("worker-\(worker).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                processes.append(try WorkerProcess.launch(
                    filter: "workerEntryPoint",
                    environment: [
                        WorkerEnvironment.root: root.path,
                        WorkerEnvironment.results: results.path,
                        WorkerEnvironment.go: go.path,
                        WorkerEnvironment.id: "\(worker)",
                    ],
                    log: log))
            }
            // Start every worker at once so they really contend.
            _ = FileManager.default.createFile(atPath: go.path, contents: nil)
            for (worker, process) in processes.enumerated() {
                process.waitUntilExit()
                let log = (try? String(contentsOf: results.appendingPathComponent("worker-\(worker).log"), encoding: .utf8)) ?? ""
                #expect(process.terminationStatus == 0, "worker \(worker) failed:\n\(log.suffix(2_000))")
            }

            var wins: [String] = []
            for worker in 0..<Self.workers {
                let file = results.appendingPathComponent("worker-\(worker).wins")
                let text = try #require(
                    try? String(contentsOf: file, encoding: .utf8),
                    "worker \(worker) wrote no results (did it run?)")
                wins += text.split(separator: "\n").map(String.init)
            }
            try await expectOneWinnerPerKey(wins, in: store)
            let counter = String(decoding: try await store.get("counter").bytes, as: UTF8.self)
            #expect(counter == "\(Self.workers * Self.tasksPerWorker * Self.incrementsPerTask)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(".tmp").path)
            #expect(leftovers.isEmpty, "temp files left behind: \(leftovers)")
        }
    }

    /// The body of one worker process; does nothing (and is skipped) in a normal run.
    @Test(.enabled(if: WorkerEnvironment.current != nil, "runs only inside a worker process"))
    func workerEntryPoint() async throws {
        let environment = try #require(WorkerEnvironment.current)
        let go = environment[WorkerEnvironment.go]!
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: go) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        let id = environment[WorkerEnvironment.id]!
        let store = try FileSystemStore(path: environment[WorkerEnvironment.root]!)
        let wins = try await withThrowingTaskGroup(of: [String].self) { group in
            for task in 0..<Self.tasksPerWorker {
                group.addTask {
                    let won = try await createRace(store, label: "process-\(id)-task-\(task)")
                    for _ in 0..<Self.incrementsPerTask { try await increment(store, "counter") }
                    return won
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        let results = URL(fileURLWithPath: environment[WorkerEnvironment.results]!)
        try Data(wins.joined(separator: "\n").utf8)
            .write(to: results.appendingPathComponent("worker-\(id).wins"), options: .atomic)
    }
}

// MARK: Helpers

/// Tries to create every race key with `.ifAbsent`; returns `"<key> <label>"` for each
/// key this caller created. The object's content is the label.
func createRace(_ store: any ObjectStore, label: String) async throws -> [String] {
    var won: [String] = []
    for index in 0..<FileSystemStoreCrossProcessTests.raceKeys {
        let key = "race/\(index)"
        do {
            try await store.put(key, Data(label.utf8), condition: .ifAbsent)
            won.append("\(key) \(label)")
        } catch let error as StoreError where error.code == .preconditionFailed {
            continue
        }
    }
    return won
}

/// Checks that every race key was won exactly once and holds its winner's label.
func expectOneWinnerPerKey(_ wins: [String], in store: any ObjectStore) async throws {
    var winners: [String: [String]] = [:]
    for line in wins {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        winners[parts[0], default: []].append(parts[1])
    }
    #expect(winners.count == FileSystemStoreCrossProcessTests.raceKeys)
    for (key, labels) in winners {
        #expect(labels.count == 1, "\(key) was created by \(labels)")
        let content = String(decoding: try await store.get(key).bytes, as: UTF8.self)
        #expect(content == labels.first, "\(key) holds \(content), winner was \(labels)")
    }
}

/// The environment variables that turn a run of the test binary into a worker.
enum WorkerEnvironment {
    static let root = "LAGOON_STORE_WORKER_ROOT"
    static let results = "LAGOON_STORE_WORKER_RESULTS"
    static let go = "LAGOON_STORE_WORKER_GO"
    static let id = "LAGOON_STORE_WORKER_ID"

    /// The process environment when this process is a worker, else nil.
    static var current: [String: String]? {
        let environment = ProcessInfo.processInfo.environment
        return [root, results, go, id].allSatisfy({ environment[$0] != nil }) ? environment : nil
    }
}
