import Foundation
import LagoonTestSupport
@testable import Store
import Testing

@Suite("DiskCache")
struct DiskCacheTests {
    func entry(_ text: String) -> DiskCache.Entry { DiskCache.Entry(bytes: Data(text.utf8), etag: "e-\(text)") }

    @Test("entries survive a restart (a new cache on the same directory)")
    func survivesRestart() throws {
        try withTemporaryCacheDirectory { directory in
            let first = try DiskCache(directory: directory, capacityBytes: 1_000)
            first.write("ns/a/wal/1", entry("one"))
            let reopened = try DiskCache(directory: directory, capacityBytes: 1_000)
            #expect(reopened.read("ns/a/wal/1") == entry("one"))
            #expect(reopened.read("ns/a/wal/2") == nil)
        }
    }

    @Test("a corrupt or missing file is dropped, never served")
    func corruptFiles() throws {
        try withTemporaryCacheDirectory { directory in
            let cache = try DiskCache(directory: directory, capacityBytes: 1_000)
            cache.write("corrupt", entry("abcdef"))
            cache.write("missing", entry("ghijkl"))
            cache.write("short", entry("mnopqr"))
            try Data("abcdeX".utf8).write(to: URL(fileURLWithPath: cache.filePath("corrupt")))
            try FileManager.default.removeItem(atPath: cache.filePath("missing"))
            try Data("mno".utf8).write(to: URL(fileURLWithPath: cache.filePath("short")))
            #expect(cache.read("corrupt") == nil)
            #expect(cache.read("missing") == nil)
            #expect(cache.read("short") == nil)
            #expect(cache.keys.isEmpty)
            #expect(cache.usage.total == 0)
        }
    }

    @Test("a local reader serves an entry's bytes unchecked; damage its consumer reports, or a file of another size, drops the entry")
    func localReaders() throws {
        try withTemporaryCacheDirectory { directory in
            do {
                let cache = try DiskCache(directory: directory, capacityBytes: 1_000)
                cache.write("good", entry("0123456789"))
                cache.write("bad", entry("abcdefghij"))
                cache.write("short", entry("klmnopqrst"))
                let reader = try #require(cache.localReader("good", objectKey: "ns/a/segments/s"))
                #expect(reader.length == 10)
                #expect(try reader.read(at: 3, count: 4) == Data("3456".utf8))
                #expect(throws: StoreError.self) { try reader.read(at: 8, count: 4) }
                // A reader keeps its bytes when the entry is dropped (the descriptor holds the file).
                cache.remove("good")
                #expect(try reader.read(at: 0, count: 2) == Data("01".utf8))
                cache.write("good", entry("0123456789"))
                try Data("abcdeXghij".utf8).write(to: URL(fileURLWithPath: cache.filePath("bad")))
                try Data("klmno".utf8).write(to: URL(fileURLWithPath: cache.filePath("short")))
            }
            let restarted = try DiskCache(directory: directory, capacityBytes: 1_000)
            #expect(try restarted.localReader("good", objectKey: "k")?.read(at: 0, count: 10) == Data("0123456789".utf8))
            #expect(restarted.localReader("short", objectKey: "k") == nil, "a file of another size is dropped")
            // Same size, damaged content: the reader's consumer checks what it reads (a format
            // checksum) and reports the damage; the entry is then gone, never served again.
            let damaged = try #require(restarted.localReader("bad", objectKey: "k"))
            #expect(try damaged.read(at: 0, count: 10) == Data("abcdeXghij".utf8))
            damaged.reportDamage()
            #expect(restarted.localReader("bad", objectKey: "k") == nil)
            #expect(restarted.read("bad") == nil)
            #expect(restarted.keys == ["good"])
        }
    }

    @Test("a corrupt catalog is discarded with the cached files")
    func corruptCatalog() throws {
        try withTemporaryCacheDirectory { directory in
            do {
                let cache = try DiskCache(directory: directory, capacityBytes: 1_000)
                cache.write("k", entry("v"))
            }
            try Data(repeating: 0xAB, count: 8192).write(to: directory.appendingPathComponent("catalog.sqlite"))
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: directory.path + "/catalog.sqlite" + suffix) }
            let cache = try DiskCache(directory: directory, capacityBytes: 1_000)
            #expect(cache.read("k") == nil)
            cache.write("k", entry("again"))
            #expect(cache.read("k") == entry("again"))
        }
    }

    @Test("over capacity, the least recently used entries go first")
    func evictsLeastRecentlyUsed() throws {
        try withTemporaryCacheDirectory { directory in
            let cache = try DiskCache(directory: directory, capacityBytes: 10)
            cache.write("a", entry("aaaa"))
            cache.write("b", entry("bbbb"))
            _ = cache.read("a")  // a is now newer than b
            cache.write("c", entry("cccc"))
            #expect(cache.read("b") == nil)
            #expect(cache.read("a") == entry("aaaa"))
            #expect(cache.read("c") == entry("cccc"))
            #expect(cache.usage.total <= 10)
            cache.write("huge", entry(String(repeating: "x", count: 11)))
            #expect(cache.read("huge") == nil)
        }
    }

    @Test("pinned entries are not evicted, within maxPinnedBytes")
    func pins() throws {
        try withTemporaryCacheDirectory { directory in
            let cache = try DiskCache(directory: directory, capacityBytes: 12, maxPinnedBytes: 8)
            try cache.pin(keyPrefix: "ns/hot/")
            cache.write("ns/hot/1", entry("1111"))
            cache.write("ns/hot/2", entry("2222"))
            cache.write("ns/hot/3", entry("3333"))  // over maxPinnedBytes: cached, not pinned
            #expect(cache.usage.pinned == 8)
            for index in 0..<5 { cache.write("ns/cold/\(index)", entry("cccc")) }
            #expect(cache.read("ns/hot/1") != nil)
            #expect(cache.read("ns/hot/2") != nil)
            #expect(cache.read("ns/hot/3") == nil)
            try cache.unpin(keyPrefix: "ns/hot/")
            #expect(cache.usage.pinned == 0)
            // The pin is recorded in the catalog: it holds across a restart.
            try cache.pin(keyPrefix: "ns/hot/")
            let reopened = try DiskCache(directory: directory, capacityBytes: 12, maxPinnedBytes: 8)
            reopened.write("ns/hot/9", entry("9999"))
            #expect(reopened.usage.pinned >= 4)
        }
    }
}

/// Runs the body with a fresh directory (removed afterwards).
func withTemporaryCacheDirectory(_ body: (URL) throws -> Void) throws {
    let directory = try TempDirectory(prefix: "lagoon-cache")
    defer { directory.remove() }
    try body(directory.url)
}
