import Foundation
import LagoonTestSupport
import Store
import Testing

/// Behaviour specific to `FileSystemStore` (the shared contract is in
/// `ObjectStoreContractTests`).
@Suite("FileSystemStore")
struct FileSystemStoreTests {
    @Test("objects are plain files at root/key and survive reopening the store")
    func layoutAndPersistence() async throws {
        try await withTempDirectory { directory in
            let store = try FileSystemStore(root: directory.url)
            let etag = try await store.put("ns/wal/0001", Data("entry".utf8), condition: .ifAbsent)
            let file = directory.url.appendingPathComponent("ns/wal/0001")
            #expect(try Data(contentsOf: file) == Data("entry".utf8))

            let reopened = try FileSystemStore(path: directory.path)
            #expect(try await reopened.head("ns/wal/0001") == ObjectInfo(key: "ns/wal/0001", size: 5, etag: etag))
        }
    }

    @Test("no temp file is left behind, whether a put succeeds or fails its condition")
    func noTemporaryLeftovers() async throws {
        try await withTempDirectory { directory in
            let store = try FileSystemStore(root: directory.url)
            let etag = try await store.put("a", Data("1".utf8), condition: .ifAbsent)
            _ = await storeErrorCode { try await store.put("a", Data("2".utf8), condition: .ifAbsent) }
            _ = await storeErrorCode { try await store.put("a", Data("3".utf8), condition: .ifMatch("0000000000000000")) }
            try await store.put("a", Data("4".utf8), condition: .ifMatch(etag))
            try await store.put("b/c", Data("5".utf8), condition: .none)
            let temporary = directory.url.appendingPathComponent(".tmp").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
        }
    }

    @Test("list ignores .tmp, .locks, stray directories and non-files")
    func listSkipsInternals() async throws {
        try await withTempDirectory { directory in
            let store = try FileSystemStore(root: directory.url)
            try await store.put("ns/x", Data("x".utf8), condition: .none)
            try await store.delete("ns/x")  // creates a lock file, leaves an empty directory
            try await store.put("ns/y", Data("y".utf8), condition: .none)
            // A crashed writer's temp file and an unrelated empty directory.
            try Data("partial".utf8).write(to: directory.url.appendingPathComponent(".tmp/123-crashed"))
            try FileManager.default.createDirectory(
                at: directory.url.appendingPathComponent("empty/dir"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                at: directory.url.appendingPathComponent("ns/link"),
                withDestinationURL: directory.url.appendingPathComponent("ns/y"))
            #expect(try await store.listAll(prefix: "").map(\.key) == ["ns/y"])
            #expect(try await store.list(prefix: ".tmp/", cursor: nil, limit: 10).objects.isEmpty)
            #expect(try await store.list(prefix: ".lo", cursor: nil, limit: 10).objects.isEmpty)
        }
    }

    @Test("a key that is also a directory prefix of other keys is refused with .io")
    func keyPrefixCollision() async throws {
        try await withTempDirectory { directory in
            let store = try FileSystemStore(root: directory.url)
            try await store.put("a/b", Data("1".utf8), condition: .none)
            #expect(await storeErrorCode { try await store.put("a", Data("2".utf8), condition: .ifAbsent) } == .io)
            #expect(await storeErrorCode { try await store.put("a", Data("2".utf8), condition: .none) } == .io)
            try await store.put("f", Data("3".utf8), condition: .none)
            #expect(await storeErrorCode { try await store.put("f/g", Data("4".utf8), condition: .none) } == .io)
            // Reads treat the mismatch as absence.
            #expect(try await store.head("a") == nil)
            #expect(try await store.head("f/g") == nil)
            try await store.delete("a")
            #expect(try await store.get("a/b").bytes == Data("1".utf8))
        }
    }

    @Test("a missing root is created; an unusable root is refused with .io")
    func rootCreation() async throws {
        try await withTempDirectory { directory in
            let nested = directory.url.appendingPathComponent("x/y/z")
            let store = try FileSystemStore(root: nested)
            try await store.put("k", Data("v".utf8), condition: .none)
            #expect(FileManager.default.fileExists(atPath: nested.appendingPathComponent("k").path))

            let file = directory.url.appendingPathComponent("plain-file")
            try Data().write(to: file)
            #expect(await storeErrorCode { _ = try FileSystemStore(root: file) } == .io)
        }
    }
}
