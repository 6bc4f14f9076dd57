public import Foundation
import Synchronization

/// A test-only disk that loses everything not yet synced when it "crashes", modelled on
/// `FileSystemStore`'s durability points (as Lucene's `MockDirectoryWrapper.crash()`).
///
/// A put, as `FileSystemStore` does it, is three steps with a suspension point between each:
/// 1. write the bytes to a temp file and fsync it (nothing visible yet);
/// 2. `link`/`rename` it to the key: **visible** to readers at once, but the directory entry
///    is not durable;
/// 3. fsync the parent directory: every pending entry of that directory (also other
///    writers' links and unlinks) becomes **durable**; then the put returns.
/// A delete is an unlink (visible, not durable) followed by the directory fsync.
///
/// `crash()` (or an armed `crash(afterSteps:)`) throws away every visible-but-unsynced
/// change: the disk's contents become exactly what was durable. Calls through handles of the
/// crashed "process" fail from then on (also calls suspended mid-put), so nothing it did
/// after the crash counts; `open()` starts a new process on the surviving state.
///
/// With `syncsDirectories = false` a put skips step 3 (a store that acknowledges before its
/// directory entry is durable); tests use it to show that the crash harness catches such a
/// store. Directories themselves are not modelled (`FileSystemStore` fsyncs a new directory's
/// parent before linking into it).
public final class CrashSimulatingStore: Sendable {
    struct State {
        /// What readers see.
        var visible: [String: Data] = [:]
        /// What survives a crash.
        var durable: [String: Data] = [:]
        /// Per directory: entries changed since its last fsync (nil = unlinked).
        var pending: [String: [String: Data?]] = [:]
        /// Incremented by every crash; handles of earlier processes are dead.
        var process = 0
        var steps = 0
        var crashAtStep: Int?
        var crashes = 0
    }

    let state = Mutex(State())
    let syncsDirectories: Bool

    public init(syncsDirectories: Bool = true) {
        self.syncsDirectories = syncsDirectories
    }

    /// A store for a new process on this disk.
    public func open() -> any ObjectStore {
        Handle(disk: self, process: state.withLock { $0.process })
    }

    /// Crashes now: unsynced changes are lost and the current process's handles die.
    public func crash() {
        state.withLock { Self.crash(&$0) }
    }

    /// Crashes when the `n`-th durability step from now is reached (before it takes effect).
    public func crash(afterSteps n: Int) {
        state.withLock { $0.crashAtStep = $0.steps + n }
    }

    /// How many crashes happened so far (armed ones included).
    public var crashCount: Int { state.withLock { $0.crashes } }

    static func crash(_ state: inout State) {
        state.visible = state.durable
        state.pending = [:]
        state.process += 1
        state.crashAtStep = nil
        state.crashes += 1
    }

    static func directory(of key: String) -> String {
        key.lastIndex(of: "/").map { String(key[..<$0]) } ?? ""
    }

    /// Runs one step of a process's operation under the lock: fails if the process is dead,
    /// crashes first if this is the armed step.
    func step<T>(_ process: Int, _ key: String, _ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            state.steps += 1
            if let at = state.crashAtStep, state.steps >= at { Self.crash(&state) }
            guard state.process == process else {
                throw StoreError(.unavailable, key: key, "simulated crash: the process is gone")
            }
            return try body(&state)
        }
    }

    /// Makes the directory's pending entries durable (a directory fsync).
    func syncDirectory(_ process: Int, of key: String) async throws {
        await Task.yield()
        try step(process, key) { state in
            let directory = Self.directory(of: key)
            for (entry, bytes) in state.pending.removeValue(forKey: directory) ?? [:] {
                state.durable[entry] = bytes
            }
        }
    }

    /// One process's view of the disk.
    final class Handle: ObjectStore {
        let disk: CrashSimulatingStore
        let process: Int

        init(disk: CrashSimulatingStore, process: Int) {
            self.disk = disk
            self.process = process
        }

        func read<T>(_ key: String, _ body: ([String: Data]) -> T) async throws -> T {
            await Task.yield()
            return try disk.step(process, key) { body($0.visible) }
        }

        func get(_ key: String) async throws -> StoredObject {
            try ObjectKey.validate(key)
            guard let bytes = try await read(key, { $0[key] }) else { throw StoreError(.notFound, key: key, "no such object") }
            return StoredObject(bytes: bytes, etag: ContentHash.etag(bytes))
        }

        func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
            let bytes = try await get(key).bytes
            let start = min(max(offset, 0), bytes.count)
            return Data(bytes[start..<(start + min(max(length, 0), bytes.count - start))])
        }

        func head(_ key: String) async throws -> ObjectInfo? {
            try ObjectKey.validate(key)
            return try await read(key, { $0[key] }).map { ObjectInfo(key: key, size: $0.count, etag: ContentHash.etag($0)) }
        }

        func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
            let matching = try await read(prefix) { $0.filter { ObjectKey.hasPrefix($0.key, prefix) } }
            let page = try ObjectKey.page(sortedKeys: matching.keys.sorted(by: ObjectKey.precedes), cursor: cursor, limit: limit)
            return ListPage(objects: page.keys.map { ObjectInfo(key: $0, size: matching[$0]!.count, etag: ContentHash.etag(matching[$0]!)) },
                            nextCursor: page.nextCursor)
        }

        @discardableResult
        func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
            try ObjectKey.validate(key)
            await Task.yield()
            try disk.step(process, key) { _ in }  // temp file written and fsynced
            await Task.yield()
            try disk.step(process, key) { state in  // link (if absent) or rename: visible now
                switch condition {
                case .none:
                    break
                case .ifAbsent:
                    if state.visible[key] != nil { throw StoreError(.preconditionFailed, key: key, "if-absent: object exists") }
                case .ifMatch(let expected):
                    guard let current = state.visible[key].map(ContentHash.etag), current == expected else {
                        throw StoreError(.preconditionFailed, key: key, "if-match \(expected): no match")
                    }
                }
                state.visible[key] = bytes
                state.pending[CrashSimulatingStore.directory(of: key), default: [:]][key] = .some(bytes)
            }
            if disk.syncsDirectories { try await disk.syncDirectory(process, of: key) }
            return ContentHash.etag(bytes)
        }

        func delete(_ key: String) async throws {
            try ObjectKey.validate(key)
            await Task.yield()
            try disk.step(process, key) { state in
                state.visible[key] = nil
                state.pending[CrashSimulatingStore.directory(of: key), default: [:]][key] = .some(nil)
            }
            try await disk.syncDirectory(process, of: key)
        }
    }
}
