import Foundation
import LagoonTestSupport
@testable import Store
import Testing

@Suite("CachedStore")
struct CachedStoreTests {
    static let wal = "ns/docs/wal/00000000000000000001-abc"

    @Test("which keys are immutable")
    func immutableKeys() {
        #expect(CachedStore.isImmutableByLayout("ns/docs/wal/0001-x"))
        #expect(CachedStore.isImmutableByLayout("prefix/ns/docs/segments/s1/part"))
        #expect(CachedStore.isImmutableByLayout("ns/ns/wal/1"))
        #expect(!CachedStore.isImmutableByLayout("ns/docs/manifest/CURRENT"))
        #expect(!CachedStore.isImmutableByLayout("ns/wal/manifest/00000000000000000001"))
        #expect(!CachedStore.isImmutableByLayout("ns/docs/wal"))
        #expect(!CachedStore.isImmutableByLayout("catalog/docs"))
    }

    @Test("behaves like the wrapped store for every call (the contract, cached and uncached keys)")
    func sameAnswers() async throws {
        try await withTempDirectory(prefix: "lagoon-cached") { directory in
            let disk = try DiskCache(directory: directory.url, capacityBytes: 1 << 20)
            let store = CachedStore(wrapping: MemoryStore(), memoryBytes: 1 << 20, disk: disk)
            let reference = MemoryStore()
            let bytes = Data((0..<200).map { UInt8($0 % 251) })
            for key in [Self.wal, "ns/docs/manifest/CURRENT"] {
                for target in [store as any ObjectStore, reference] {
                    try await target.put(key, bytes, condition: .ifAbsent)
                }
                for _ in 0..<2 {  // a miss, then a hit
                    #expect(try await store.get(key).bytes == reference.get(key).bytes)
                    #expect(try await store.get(key).etag == reference.get(key).etag)
                    for (offset, length) in [(0, 10), (195, 10), (300, 5), (7, 0)] {
                        #expect(try await store.getRange(key, offset: offset, length: length)
                            == reference.getRange(key, offset: offset, length: length))
                    }
                    #expect(try await store.head(key) == reference.head(key))
                }
                #expect(await storeErrorCode { try await store.put(key, Data(), condition: .ifAbsent) } == .preconditionFailed)
                try await store.delete(key)
                #expect(await storeErrorCode { _ = try await store.get(key) } == .notFound)
                #expect(try await store.head(key) == nil)
            }
        }
    }

    @Test("a range the disk holds is readable in place (a local reader), one the disk lacks is not")
    func localReaderOfCachedRanges() async throws {
        try await withTempDirectory(prefix: "lagoon-cached") { directory in
            let base = InstrumentedStore(MemoryStore())
            let key = "ns/docs/segments/s1"
            let bytes = Data((0..<5_000).map { UInt8($0 % 241) })
            try await base.put(key, bytes, condition: .none)
            let store = CachedStore(wrapping: base, memoryBytes: 0, disk: try DiskCache(directory: directory.url, capacityBytes: 1 << 20))
            let part = RangeRead(key: key, offset: 1_000, length: 3_000)
            #expect(try await store.localReader(part) == nil)
            _ = try await store.getRanges([part])  // a miss: fetched once and written to disk
            let reader = try #require(try await store.localReader(part))
            #expect(try reader.read(at: 0, count: 3_000) == bytes[1_000..<4_000])
            #expect(try await store.localReader(RangeRead(key: key, offset: 1_000, length: 2_999)) == nil)
            #expect(base.counts.requests[.getRange] == 1)
        }
    }

    @Test("immutable objects come from memory, then disk; mutable ones always from the store")
    func layers() async throws {
        try await withTempDirectory(prefix: "lagoon-cached") { directory in
            let base = InstrumentedStore(MemoryStore())
            let disk = try DiskCache(directory: directory.url, capacityBytes: 1 << 20)
            try await base.put(Self.wal, Data("entry".utf8), condition: .none)
            try await base.put("ns/docs/manifest/CURRENT", Data("1".utf8), condition: .none)

            let store = CachedStore(wrapping: base, memoryBytes: 1 << 20, disk: disk)
            for _ in 0..<3 { _ = try await store.get(Self.wal) }
            for _ in 0..<3 { _ = try await store.get("ns/docs/manifest/CURRENT") }
            #expect(base.counts.requests[.get] == 1 + 3)
            #expect(store.counts == CachedStore.Counters(memoryHits: 2, diskHits: 0, misses: 1))

            // A restarted node: empty memory, the same disk. No GET reaches the bucket.
            let restarted = CachedStore(
                wrapping: base, memoryBytes: 1 << 20, disk: try DiskCache(directory: directory.url, capacityBytes: 1 << 20))
            #expect(try await restarted.get(Self.wal).bytes == Data("entry".utf8))
            #expect(try await restarted.getRange(Self.wal, offset: 1, length: 3) == Data("ntr".utf8))
            #expect(base.counts.requests[.get] == 4)
            #expect(restarted.counts == CachedStore.Counters(memoryHits: 1, diskHits: 1, misses: 0))
        }
    }

    @Test("a corrupt disk copy is refetched from the store, never served")
    func corruptDiskCopy() async throws {
        try await withTempDirectory(prefix: "lagoon-cached") { directory in
            let base = MemoryStore()
            try await base.put(Self.wal, Data("the real bytes".utf8), condition: .none)
            let disk = try DiskCache(directory: directory.url, capacityBytes: 1 << 20)
            _ = try await CachedStore(wrapping: base, memoryBytes: 1 << 20, disk: disk).get(Self.wal)
            try Data("the fake bytes".utf8).write(to: URL(fileURLWithPath: disk.filePath(Self.wal)))
            let fresh = CachedStore(wrapping: base, memoryBytes: 1 << 20, disk: disk)
            #expect(try await fresh.get(Self.wal).bytes == Data("the real bytes".utf8))
            #expect(fresh.counts.misses == 1)
        }
    }

    @Test("the memory layer is bounded by bytes")
    func memoryBound() async throws {
        let base = InstrumentedStore(MemoryStore())
        let store = CachedStore(wrapping: base, memoryBytes: 25)
        for index in 0..<3 { try await base.put("ns/d/wal/\(index)", Data(repeating: 1, count: 10), condition: .none) }
        for index in 0..<3 { _ = try await store.get("ns/d/wal/\(index)") }  // 30 bytes > 25: 0 evicted
        _ = try await store.get("ns/d/wal/2")
        _ = try await store.get("ns/d/wal/0")
        #expect(store.counts == CachedStore.Counters(memoryHits: 1, diskHits: 0, misses: 4))
    }

    @Test("MemoryLRU keeps the total cost within capacity and evicts the oldest")
    func lru() {
        var lru = MemoryLRU<Int>(capacity: 10)
        lru.set("a", 1, cost: 4)
        lru.set("b", 2, cost: 4)
        #expect(lru.get("a") == 1)
        lru.set("c", 3, cost: 4)
        #expect(lru.get("b") == nil)
        #expect(lru.totalCost == 8)
        lru.set("a", 9, cost: 2)
        #expect(lru.get("a") == 9)
        #expect(lru.totalCost == 6)
        lru.set("big", 0, cost: 11)
        #expect(lru.get("big") == nil)
        #expect(lru.count == 2)
    }
}
