import Foundation
import LagoonTestSupport
import Store
import Testing

/// The one contract every `ObjectStore` backend must meet (Specs/protocol/object-store.md).
/// Each test runs once per backend in `StoreBackend.allCases`.
@Suite("ObjectStore contract")
struct ObjectStoreContractTests {
    static let backends = StoreBackend.allCases

    // MARK: get / put / head

    @Test("put then get returns the bytes and the put's etag", arguments: backends)
    func roundTrip(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let samples: [(String, Data)] = [
                ("ns/a", Data("hello".utf8)),
                ("ns/empty", Data()),
                ("ns/deep/er/binary", Data((0...255).map { UInt8($0) })),
                ("top", Data(repeating: 7, count: 100_000)),
            ]
            for (key, bytes) in samples {
                let etag = try await store.put(key, bytes, condition: .none)
                let object = try await store.get(key)
                #expect(object.bytes == bytes)
                #expect(object.etag == etag)
                #expect(try await store.head(key) == ObjectInfo(key: key, size: bytes.count, etag: etag))
            }
        }
    }

    @Test("an unconditional put replaces the object", arguments: backends)
    func overwrite(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await store.put("k", Data("one".utf8), condition: .none)
            let etag = try await store.put("k", Data("two, longer".utf8), condition: .none)
            let object = try await store.get("k")
            #expect(object.bytes == Data("two, longer".utf8))
            #expect(object.etag == etag)
        }
    }

    @Test("etag changes with the content and is stable for the same content", arguments: backends)
    func etags(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let a1 = try await store.put("x", Data("alpha".utf8), condition: .none)
            let a2 = try await store.put("x", Data("alpha".utf8), condition: .none)
            let b = try await store.put("x", Data("beta".utf8), condition: .none)
            let elsewhere = try await store.put("y/z", Data("alpha".utf8), condition: .none)
            #expect(a1 == a2)
            #expect(a1 != b)
            #expect(a1 == elsewhere)
            #expect(try await store.get("x").etag == b)
            #expect(try await store.head("y/z")?.etag == a1)
            #expect(try await store.listAll(prefix: "").map(\.etag) == [b, a1])
        }
    }

    @Test("get and getRange of an absent key throw notFound; head returns nil", arguments: backends)
    func absent(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await store.put("ns/present", Data("p".utf8), condition: .none)
            for key in ["missing", "ns/missing", "no/such/dir/key", "ns/present/below"] {
                #expect(await storeErrorCode { _ = try await store.get(key) } == .notFound)
                #expect(await storeErrorCode { _ = try await store.getRange(key, offset: 0, length: 1) } == .notFound)
                #expect(try await store.head(key) == nil)
            }
            // A prefix of existing keys is not itself an object.
            #expect(try await store.head("ns") == nil)
            #expect(await storeErrorCode { _ = try await store.get("ns") } == .notFound)
        }
    }

    @Test("getRange reads the middle, clips at the end, is empty past the end", arguments: backends)
    func ranges(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let bytes = Data((0..<100).map { UInt8($0) })
            try await store.put("r", bytes, condition: .none)
            #expect(try await store.getRange("r", offset: 10, length: 5) == bytes[10..<15])
            #expect(try await store.getRange("r", offset: 0, length: 100) == bytes)
            #expect(try await store.getRange("r", offset: 95, length: 10) == bytes[95..<100])
            #expect(try await store.getRange("r", offset: 100, length: 10) == Data())
            #expect(try await store.getRange("r", offset: 1_000, length: 10) == Data())
            #expect(try await store.getRange("r", offset: 5, length: 0) == Data())
            #expect(await storeErrorCode { _ = try await store.getRange("r", offset: -1, length: 2) } == .io)
        }
    }

    @Test("large ranges of a segment read the same bytes (the folder maps them) and outlive a delete", arguments: backends)
    func largeRanges(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let key = "ns/n/segments/00000000000000000001-a.seg"
            let bytes = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) })
            try await store.put(key, bytes, condition: .ifAbsent)
            let middle = try await store.getRange(key, offset: 4_097, length: 2 << 20)
            let pieces = try await store.getRanges([RangeRead(key: key, offset: 100, length: 1 << 20),
                                                    RangeRead(key: key, offset: (1 << 20) + 164, length: (3 << 20) - (1 << 20) - 164)])
            let tail = try await store.getRange(key, offset: (2 << 20) + 7, length: 2 << 20)
            try await store.delete(key)
            #expect(middle == bytes[4_097..<(4_097 + (2 << 20))])
            #expect(pieces[0] == bytes[100..<(100 + (1 << 20))] && pieces[1] == bytes[((1 << 20) + 164)...])
            #expect(tail == bytes[((2 << 20) + 7)...], "clipped at the end")
        }
    }

    @Test("get ifNoneMatch: nil while the etag is current, the object once it changed", arguments: backends)
    func conditionalGet(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let first = try await store.put("ns/CURRENT", Data("1".utf8), condition: .none)
            #expect(try await store.get("ns/CURRENT", ifNoneMatch: first) == nil)
            let second = try await store.put("ns/CURRENT", Data("2".utf8), condition: .none)
            let changed = try #require(try await store.get("ns/CURRENT", ifNoneMatch: first))
            #expect(changed.bytes == Data("2".utf8))
            #expect(changed.etag == second)
            #expect(await storeErrorCode { _ = try await store.get("ns/absent", ifNoneMatch: first) } == .notFound)
        }
    }

    // MARK: Conditions

    @Test("ifAbsent creates once, then fails with preconditionFailed", arguments: backends)
    func ifAbsent(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let etag = try await store.put("ns/manifest/1", Data("first".utf8), condition: .ifAbsent)
            #expect(await storeErrorCode {
                try await store.put("ns/manifest/1", Data("second".utf8), condition: .ifAbsent)
            } == .preconditionFailed)
            // Even identical bytes do not pass: the key exists.
            #expect(await storeErrorCode {
                try await store.put("ns/manifest/1", Data("first".utf8), condition: .ifAbsent)
            } == .preconditionFailed)
            let object = try await store.get("ns/manifest/1")
            #expect(object.bytes == Data("first".utf8))
            #expect(object.etag == etag)
        }
    }

    @Test("ifMatch replaces with the current etag and refuses a stale or absent one", arguments: backends)
    func ifMatch(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let v1 = try await store.put("ptr", Data("v1".utf8), condition: .none)
            let v2 = try await store.put("ptr", Data("v2".utf8), condition: .ifMatch(v1))
            #expect(try await store.get("ptr").bytes == Data("v2".utf8))

            #expect(await storeErrorCode {
                try await store.put("ptr", Data("v3".utf8), condition: .ifMatch(v1))
            } == .preconditionFailed)
            #expect(try await store.get("ptr").etag == v2)

            #expect(await storeErrorCode {
                try await store.put("nothing-here", Data("x".utf8), condition: .ifMatch(v2))
            } == .preconditionFailed)
            #expect(try await store.head("nothing-here") == nil)
        }
    }

    // MARK: list

    @Test("list returns the keys under a prefix in byte order", arguments: backends)
    func listOrder(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let keys = [
                "ns/wal/0002", "ns/wal/0010", "ns/wal/0001", "ns/walrus", "ns/wal-x",
                "ns/manifest/1", "ns/manifest/CURRENT", "ns/segments/s1/bm25", "ns/segments/s1/ivf",
                "ns-other/wal/0001", "nt", "a", "Z",
            ]
            var etags: [String: String] = [:]
            for key in keys { etags[key] = try await store.put(key, Data(key.utf8), condition: .none) }
            let sorted = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

            func listed(_ prefix: String) async throws -> [String] {
                let page = try await store.list(prefix: prefix, cursor: nil, limit: 100)
                #expect(page.nextCursor == nil)
                return page.objects.map(\.key)
            }
            #expect(try await listed("") == sorted)
            #expect(try await listed("ns/") == sorted.filter { $0.hasPrefix("ns/") })
            // '-' (0x2d) sorts before '/' (0x2f): byte order, not a directory walk order.
            #expect(try await listed("ns/wal") == ["ns/wal-x", "ns/wal/0001", "ns/wal/0002", "ns/wal/0010", "ns/walrus"])
            #expect(try await listed("ns/wal/") == ["ns/wal/0001", "ns/wal/0002", "ns/wal/0010"])
            #expect(try await listed("ns/wal/001") == ["ns/wal/0010"])
            #expect(try await listed("ns") == sorted.filter { $0.hasPrefix("ns") })
            #expect(try await listed("ns/segments/s1/ivf") == ["ns/segments/s1/ivf"])
            #expect(try await listed("nope/") == [])
            #expect(try await listed("../") == [])

            let page = try await store.list(prefix: "ns/manifest/", cursor: nil, limit: 10)
            let current = try #require(page.objects.last)
            #expect(current == ObjectInfo(
                key: "ns/manifest/CURRENT", size: "ns/manifest/CURRENT".utf8.count,
                etag: etags["ns/manifest/CURRENT"]!))
        }
    }

    @Test("list paginates with an exclusive cursor", arguments: backends)
    func listPagination(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let keys = (0..<25).map { String(format: "ns/wal/%04d", $0) }
            for key in keys.shuffled() { try await store.put(key, Data(key.utf8), condition: .ifAbsent) }
            try await store.put("ns/walz", Data(), condition: .none)  // outside the prefix

            var pages: [[String]] = []
            var cursor: String? = nil
            repeat {
                let page = try await store.list(prefix: "ns/wal/", cursor: cursor, limit: 10)
                pages.append(page.objects.map(\.key))
                if let next = page.nextCursor { #expect(next == page.objects.last?.key) }
                cursor = page.nextCursor
            } while cursor != nil
            #expect(pages.map(\.count) == [10, 10, 5])
            #expect(pages.flatMap { $0 } == keys)

            // A cursor continues strictly after it, whether or not it names an object.
            let after = try await store.list(prefix: "ns/wal/", cursor: "ns/wal/0019", limit: 10)
            #expect(after.objects.map(\.key) == Array(keys[20...]))
            #expect(after.nextCursor == nil)
            let between = try await store.list(prefix: "ns/wal/", cursor: "ns/wal/0007x", limit: 3)
            #expect(between.objects.map(\.key) == ["ns/wal/0008", "ns/wal/0009", "ns/wal/0010"])
            #expect(between.nextCursor == "ns/wal/0010")

            // Exactly `limit` keys after the cursor: one full page, then nothing.
            let exact = try await store.list(prefix: "ns/wal/", cursor: "ns/wal/0014", limit: 10)
            #expect(exact.objects.map(\.key) == Array(keys[15...]))
            if let next = exact.nextCursor {
                #expect(try await store.list(prefix: "ns/wal/", cursor: next, limit: 10).objects.isEmpty)
            }
            #expect(try await store.listAll(prefix: "ns/wal/").map(\.key) == keys)
            #expect(await storeErrorCode { _ = try await store.list(prefix: "", cursor: nil, limit: 0) } == .io)
        }
    }

    // MARK: delete

    @Test("delete removes the object and is idempotent", arguments: backends)
    func delete(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await store.put("ns/wal/1", Data("e".utf8), condition: .ifAbsent)
            try await store.put("ns/wal/2", Data("f".utf8), condition: .ifAbsent)
            try await store.delete("ns/wal/1")
            try await store.delete("ns/wal/1")
            try await store.delete("never/existed")
            #expect(try await store.head("ns/wal/1") == nil)
            #expect(await storeErrorCode { _ = try await store.get("ns/wal/1") } == .notFound)
            #expect(try await store.listAll(prefix: "ns/").map(\.key) == ["ns/wal/2"])
            // The key is free again for a create-only put.
            try await store.put("ns/wal/1", Data("again".utf8), condition: .ifAbsent)
            #expect(try await store.get("ns/wal/1").bytes == Data("again".utf8))
        }
    }

    // MARK: Keys

    @Test("invalid keys are rejected with .io", arguments: backends)
    func invalidKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            for key in ["", "/abs", "trailing/", "a//b", "../escape", "a/../b", "./a", ".tmp/x", ".locks/x", "nul\u{0}"] {
                #expect(await storeErrorCode { try await store.put(key, Data("x".utf8), condition: .none) } == .io,
                        "put \(key.debugDescription)")
                #expect(await storeErrorCode { _ = try await store.get(key) } == .io, "get \(key.debugDescription)")
                #expect(await storeErrorCode { try await store.delete(key) } == .io, "delete \(key.debugDescription)")
            }
            // Dots inside names and nested reserved-looking names are ordinary keys.
            for key in ["a.b", ".hidden", "ns/.tmp/x", "ns/..x"] {
                try await store.put(key, Data(key.utf8), condition: .none)
                #expect(try await store.get(key).bytes == Data(key.utf8))
            }
        }
    }

    // MARK: Concurrency

    @Test("16 concurrent ifAbsent puts of one key: exactly one wins", arguments: backends)
    func concurrentCreate(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            for round in 0..<5 {
                let key = "ns/manifest/\(round)"
                let winners = try await withThrowingTaskGroup(of: Int?.self) { group in
                    for writer in 0..<16 {
                        group.addTask {
                            do {
                                try await store.put(key, Data("writer \(writer)".utf8), condition: .ifAbsent)
                                return writer
                            } catch let error as StoreError where error.code == .preconditionFailed {
                                return nil
                            }
                        }
                    }
                    return try await group.reduce(into: [Int]()) { if let w = $1 { $0.append(w) } }
                }
                #expect(winners.count == 1)
                let winner = try #require(winners.first)
                #expect(try await store.get(key).bytes == Data("writer \(winner)".utf8))
            }
        }
    }

    @Test("concurrent ifMatch read-modify-write loses no update", arguments: backends)
    func concurrentCompareAndSwap(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            try await store.put("counter", Data("0".utf8), condition: .ifAbsent)
            let tasks = 8, increments = 10
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<increments {
                            try await increment(store, "counter")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try await store.get("counter")
            #expect(String(decoding: final.bytes, as: UTF8.self) == "\(tasks * increments)")
        }
    }
}

/// Adds one to the decimal counter under `key` with an ifMatch retry loop.
func increment(_ store: any ObjectStore, _ key: String) async throws {
    while true {
        let current = try await store.get(key)
        let value = Int(String(decoding: current.bytes, as: UTF8.self))!
        do {
            try await store.put(key, Data("\(value + 1)".utf8), condition: .ifMatch(current.etag))
            return
        } catch let error as StoreError where error.code == .preconditionFailed {
            continue  // someone else won this round; re-read and retry
        }
    }
}
