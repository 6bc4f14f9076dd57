public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An `ObjectStore` on a local folder: one file per object, key = relative path.
///
/// Durability and atomicity (see `Specs/protocol/object-store.md`):
/// - every put first writes the bytes to a unique file in `<root>/.tmp/` and fsyncs it;
/// - `.ifAbsent` publishes it with `link(2)`, which fails with `EEXIST` when the key
///   exists, so exactly one creator wins, across threads and processes;
/// - `.none`, `.ifMatch` and `delete` hold an exclusive `flock(2)` on a lock file in
///   `<root>/.locks/` (one of 64 stripes chosen by the key's hash) while they check
///   the current etag and `rename(2)` the temp file over the key (or unlink it);
/// - the parent directory is fsynced after every link, rename, unlink and mkdir.
/// Readers open the file and read it without locks: a rename swaps the whole inode,
/// so a reader sees the old or the new bytes, never a mix.
///
/// Etags are the xxh3-64 of the content (`ContentHash.etag`), computed from the bytes
/// on every get/head/list. The type holds only immutable paths, so one instance can be
/// shared by any number of tasks, and several instances or processes may use one folder.
///
/// Limitations: a key cannot also be a directory prefix of another key (`a` and `a/b`
/// cannot both exist; S3 allows it), such a collision throws `.io`. Calls block their
/// thread on file I/O and, for conditional puts, on the lock. Directories are never
/// removed, and temp files of a crashed process stay in `.tmp/` until a repair removes
/// them. flock is only as reliable as the file system (fine locally, not on every NFS).
public final class FileSystemStore: ObjectStore {
    /// The folder holding the objects.
    public let root: URL
    let rootPath: String
    let temporaryPath: String
    let locksPath: String

    /// Lock files in `.locks/`; keys share them by hash, which only adds contention.
    static let lockStripes: UInt64 = 64

    /// Opens (creating if needed) a store rooted at the folder.
    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        var path = self.root.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        rootPath = path
        temporaryPath = path + "/.tmp"
        locksPath = path + "/.locks"
        for directory in [rootPath, temporaryPath, locksPath] {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError(.io, key: "", "cannot create \(directory): \(error)")
            }
        }
    }

    /// Opens (creating if needed) a store rooted at the folder path.
    public convenience init(path: String) throws {
        try self.init(root: URL(fileURLWithPath: path, isDirectory: true))
    }

    // MARK: ObjectStore

    public func get(_ key: String) async throws -> StoredObject {
        try await offloaded { try self.getNow(key) }
    }

    private func getNow(_ key: String) throws -> StoredObject {
        try ObjectKey.validate(key)
        let bytes = try translatingErrors(key) {
            try withOpenObject(key) { file in try file.read(offset: 0, length: file.status().size) }
        }
        guard let bytes else { throw StoreError(.notFound, key: key, "no such object") }
        return StoredObject(bytes: bytes, etag: ContentHash.etag(bytes))
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await offloaded { try self.getRangeNow(key, offset: offset, length: length) }
    }

    private func getRangeNow(_ key: String, offset: Int, length: Int) throws -> Data {
        try ObjectKey.validate(key)
        guard offset >= 0, length >= 0 else {
            throw StoreError(.io, key: key, "invalid range: offset \(offset), length \(length)")
        }
        let bytes = try translatingErrors(key) {
            try withOpenObject(key) { file in
                length >= Self.mapThreshold && CachedStore.isImmutableByLayout(key)
                    ? try file.map(offset: offset, length: length) : try file.read(offset: offset, length: length)
            }
        }
        guard let bytes else { throw StoreError(.notFound, key: key, "no such object") }
        return bytes
    }

    /// Ranges at least this long of immutable objects (WAL entries, segments) are mapped, not
    /// copied: a segment's IVF part is most of its bytes and a query touches only its probed
    /// lists.
    static let mapThreshold = 1 << 20

    /// Local reads cost no round trip, so neighbouring ranges are never merged (a merged
    /// buffer would copy each part out of it).
    public var rangeMergeGap: Int { -1 }

    /// Every immutable object is a local file: the reader reads the object file itself.
    public func localReader(_ read: RangeRead) async throws -> LocalRangeReader? {
        try ObjectKey.validate(read.key)
        guard CachedStore.isImmutableByLayout(read.key) else { return nil }
        return try await offloaded {
            try self.translatingErrors(read.key) {
                try LocalRangeReader(path: self.objectPath(read.key), fileOffset: read.offset, length: read.length, key: read.key)
            }
        }
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try await offloaded { try self.headNow(key) }
    }

    private func headNow(_ key: String) throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        return try translatingErrors(key) { try info(key) }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try await offloaded { try self.putNow(key, bytes, condition: condition) }
    }

    private func putNow(_ key: String, _ bytes: Data, condition: PutCondition) throws -> String {
        try ObjectKey.validate(key)
        try translatingErrors(key) {
            // Write and fsync outside the lock so it is held only for check + rename.
            let temporary = try writeTemporary(bytes)
            // After link the temp name is a second name of the object; after rename it
            // is gone (ENOENT, ignored). Either way nothing is left in .tmp/.
            defer { unlink(temporary) }
            switch condition {
            case .ifAbsent:
                try publishIfAbsent(temporary, as: key)
            case .none:
                try withKeyLock(key) { try publishReplacing(temporary, as: key) }
            case .ifMatch(let expected):
                try withKeyLock(key) {
                    let current = try withOpenObject(key) { file in
                        ContentHash.etag(try file.read(offset: 0, length: file.status().size))
                    }
                    guard let current else {
                        throw StoreError(.preconditionFailed, key: key, "if-match \(expected): object is absent")
                    }
                    guard current == expected else {
                        throw StoreError(.preconditionFailed, key: key, "if-match \(expected): current etag is \(current)")
                    }
                    try publishReplacing(temporary, as: key)
                }
            }
        }
        return ContentHash.etag(bytes)
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await offloaded { try self.listNow(prefix: prefix, cursor: cursor, limit: limit) }
    }

    private func listNow(prefix: String, cursor: String?, limit: Int) throws -> ListPage {
        guard ObjectKey.prefixCanMatch(prefix) else {
            _ = try ObjectKey.page(sortedKeys: [], cursor: cursor, limit: limit)  // validates limit
            return ListPage(objects: [], nextCursor: nil)
        }
        let keys = try translatingErrors(prefix) { try keysMatching(prefix) }
        let page = try ObjectKey.page(
            sortedKeys: keys.sorted(by: ObjectKey.precedes), cursor: cursor, limit: limit)
        var objects: [ObjectInfo] = []
        objects.reserveCapacity(page.keys.count)
        for key in page.keys {
            // A key deleted since the walk is skipped; the cursor stays valid.
            if let info = try translatingErrors(key, { try info(key) }) { objects.append(info) }
        }
        return ListPage(objects: objects, nextCursor: page.nextCursor)
    }

    public func delete(_ key: String) async throws {
        try await offloaded { try self.deleteNow(key) }
    }

    private func deleteNow(_ key: String) throws {
        try ObjectKey.validate(key)
        try translatingErrors(key) {
            try withKeyLock(key) {
                let path = objectPath(key)
                do {
                    try systemCall("unlink", path) { unlink(path) }
                } catch let error as SystemCallError
                    where [ENOENT, ENOTDIR, EISDIR, EPERM].contains(error.errno) && !isRegularFile(path) {
                    return  // absent (or only a directory prefix): nothing to delete
                }
                try syncDirectory(parentPath(path))
            }
        }
    }

    // MARK: Blocking I/O off the concurrency pool

    /// File calls block (fsync can take milliseconds), and Swift's cooperative pool has
    /// one thread per core: running them there would stall queries behind writes. They
    /// run on a dispatch queue instead, and the calling task awaits the result.
    private static let ioQueue = DispatchQueue(label: "lagoon.filesystem-store", attributes: .concurrent)

    private func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Self.ioQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    // MARK: Paths and errors

    func objectPath(_ key: String) -> String { rootPath + "/" + key }

    func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Runs the body, turning a failed system call into a `StoreError`.
    func translatingErrors<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SystemCallError {
            throw StoreError(Self.code(for: error.errno), key: key, error.description)
        }
    }

    /// The coarse code of an errno: resource exhaustion and timeouts may pass on a
    /// retry; everything else (permissions, full disk, I/O errors) needs a human.
    static func code(for errno: Int32) -> StoreError.Code {
        switch errno {
        case EAGAIN, EWOULDBLOCK, EMFILE, ENFILE, ENOMEM, EBUSY, ETIMEDOUT, ENOLCK:
            return .unavailable
        default:
            return .io
        }
    }

    // MARK: Reading

    /// Opens the object read-only and runs the body on it; nil when the key holds no
    /// object (no file, a path component is a file, or the path is a directory).
    func withOpenObject<T>(_ key: String, _ body: (borrowing POSIXFile) throws -> T) throws -> T? {
        let file: POSIXFile
        do {
            file = try POSIXFile(opening: objectPath(key), flags: O_RDONLY)
        } catch let error as SystemCallError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
        guard try file.status().isRegularFile else { return nil }
        return try body(file)
    }

    /// Size and etag of the object, or nil when absent.
    func info(_ key: String) throws -> ObjectInfo? {
        try withOpenObject(key) { file in
            let bytes = try file.read(offset: 0, length: file.status().size)
            return ObjectInfo(key: key, size: bytes.count, etag: ContentHash.etag(bytes))
        }
    }

    /// Every key under the prefix, unsorted. Walks only the directory named by the
    /// prefix up to its last `/`, filtering that level by the rest of the prefix.
    func keysMatching(_ prefix: String) throws -> [String] {
        var directory = ""
        var namePrefix = prefix
        if let slash = prefix.lastIndex(of: "/") {
            directory = String(prefix[..<slash])
            namePrefix = String(prefix[prefix.index(after: slash)...])
        }
        var keys: [String] = []
        try walk(directory, namePrefix: namePrefix, into: &keys)
        return keys
    }

    /// Appends the keys of the regular files under the relative directory (recursively)
    /// whose name at this level starts with `namePrefix`. Skips `.tmp` and `.locks`.
    func walk(_ directory: String, namePrefix: String, into keys: inout [String]) throws {
        let path = directory.isEmpty ? rootPath : objectPath(directory)
        guard let stream = opendir(path) else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return }  // nothing under this prefix
            throw SystemCallError(errno: code, call: "opendir", path: path)
        }
        defer { closedir(stream) }
        var subdirectories: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw SystemCallError(errno: errno, call: "readdir", path: path) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if directory.isEmpty && ObjectKey.reservedTopLevel.contains(name) { continue }
            if !ObjectKey.hasPrefix(name, namePrefix) { continue }
            let key = directory.isEmpty ? name : directory + "/" + name
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): keys.append(key)
            case Int32(DT_DIR): subdirectories.append(key)
            case Int32(DT_UNKNOWN):  // some file systems do not fill d_type
                if isRegularFile(objectPath(key)) {
                    keys.append(key)
                } else if isDirectory(objectPath(key)) {
                    subdirectories.append(key)
                }
            default: continue  // symlinks, sockets…: never objects
            }
        }
        for subdirectory in subdirectories {
            try walk(subdirectory, namePrefix: "", into: &keys)
        }
    }

    // MARK: Writing

    /// Writes the bytes to a new uniquely named file in `.tmp/`, fsynced; returns its path.
    func writeTemporary(_ bytes: Data) throws -> String {
        let path = "\(temporaryPath)/\(getpid())-\(UUID().uuidString)"
        do {
            let file: POSIXFile
            do {
                file = try POSIXFile(opening: path, flags: O_WRONLY | O_CREAT | O_EXCL)
            } catch let error as SystemCallError where error.errno == ENOENT {
                // Someone removed .tmp/; recreate it once.
                try makeDirectory(temporaryPath)
                file = try POSIXFile(opening: path, flags: O_WRONLY | O_CREAT | O_EXCL)
            }
            try file.writeAll(bytes)
            try file.sync()
        } catch {
            unlink(path)
            throw error
        }
        return path
    }

    /// Publishes the temp file under the key only if the key is free: `link(2)` fails
    /// with EEXIST otherwise, atomically, whichever thread or process got there first.
    func publishIfAbsent(_ temporary: String, as key: String) throws {
        let target = objectPath(key)
        do {
            try withParentDirectories(key) {
                try systemCall("link", target) { link(temporary, target) }
            }
        } catch let error as SystemCallError where error.errno == EEXIST {
            if isDirectory(target) {
                throw StoreError(.io, key: key, "key is a directory prefix of other keys")
            }
            throw StoreError(.preconditionFailed, key: key, "if-absent: object exists")
        }
        try syncDirectory(parentPath(target))
    }

    /// Moves the temp file over the key with `rename(2)`. Callers hold the key's lock.
    func publishReplacing(_ temporary: String, as key: String) throws {
        let target = objectPath(key)
        try withParentDirectories(key) {
            try systemCall("rename", target) { rename(temporary, target) }
        }
        try syncDirectory(parentPath(target))
    }

    /// Runs the body; if it fails with ENOENT (a missing parent directory), creates the
    /// key's parent directories and runs it once more.
    func withParentDirectories(_ key: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SystemCallError where error.errno == ENOENT {
            var directory = rootPath
            for component in key.split(separator: "/").dropLast() {
                directory += "/" + component
                try makeDirectory(directory)
            }
            try body()
        }
    }

    /// Creates the directory if absent and makes its entry durable.
    func makeDirectory(_ path: String) throws {
        do {
            try systemCall("mkdir", path) { mkdir(path, 0o755) }
        } catch let error as SystemCallError where error.errno == EEXIST {
            return
        }
        try syncDirectory(parentPath(path))
    }

    /// Runs the body holding the exclusive `flock` of the key's lock stripe.
    func withKeyLock<T>(_ key: String, _ body: () throws -> T) throws -> T {
        let stripe = ContentHash.xxh3(Data(key.utf8)) % Self.lockStripes
        let path = "\(locksPath)/stripe-\(stripe)"
        let lock: POSIXFile
        do {
            lock = try POSIXFile(opening: path, flags: O_RDWR | O_CREAT)
        } catch let error as SystemCallError where error.errno == ENOENT {
            try makeDirectory(locksPath)  // someone removed .locks/
            lock = try POSIXFile(opening: path, flags: O_RDWR | O_CREAT)
        }
        return try lock.withExclusiveLock(body)
    }
}
