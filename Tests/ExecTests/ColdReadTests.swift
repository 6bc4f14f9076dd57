import Exec
import Foundation
import LagoonTestSupport
import Log
import Planner
import Store
import Synchronization
import Testing

/// What a query reads and from where (issue 9): a cold node opens a namespace's segments and
/// reads the parts a query needs in one parallel wave, whatever the number of segments; a
/// repeated query reads nothing; a restarted node with a full disk cache reads no segment
/// data from the bucket; and namespace state stays within the memory budget.
@Suite("Cold reads: rounds, cache layers, memory budget")
struct ColdReadTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }
    static let words = ["apple", "river", "stone", "cloud", "green", "light", "music", "ocean", "paper", "quiet"]

    static func vector(_ rng: inout SeededRandom) -> String {
        "[" + (0..<8).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]"
    }

    /// A bucket holding namespace `name` in three segments (each with an IVF index and a text
    /// index) and no tail.
    static func populatedBucket(_ names: [String] = ["ns"]) async throws -> MemoryStore {
        let bucket = MemoryStore()
        let writer = Engine(store: bucket)
        var rng = SeededRandom(seed: 5)
        for name in names {
            for batch in 0..<3 {
                let rows = (0..<400).map { i -> String in
                    let id = batch * 400 + i
                    let text = (0..<6).map { _ in words[Int.random(in: 0..<words.count, using: &rng)] }.joined(separator: " ")
                    return #"{"id": \#(id), "vector": \#(vector(&rng)), "text": "\#(text)", "group": \#(id % 7)}"#
                }
                _ = try await writer.write(name, body: try json(#"""
                    {"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "cosine_distance",
                     "schema": {"text": {"type": "string", "full_text_search": true}}}
                    """#))
                #expect(try await writer.indexNow(name))
            }
            let manifest = try await writer.snapshot(name).manifest
            #expect(manifest.segmentList.count == 3 && manifest.wal.isEmpty, "three segments, no tail")
        }
        return bucket
    }

    /// A node over the bucket: memory → disk cache in `cache` → instrumented bucket.
    static func node(_ bucket: MemoryStore, cache: URL, memoryBytes: Int? = nil) throws -> (Engine, InstrumentedStore) {
        let instrumented = InstrumentedStore(bucket)
        let disk = try DiskCache(directory: cache, capacityBytes: 1 << 30)
        var options = EngineOptions()
        options.memoryBytes = memoryBytes
        return (Engine(store: CachedStore(wrapping: instrumented, memoryBytes: 1 << 24, disk: disk), options: options), instrumented)
    }

    static let ann = #"{"rank_by": ["vector", "ANN", [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8]], "top_k": 5, "include_attributes": ["group"]}"#
    static let annWithoutAttributes = #"{"rank_by": ["vector", "ANN", [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8]], "top_k": 5}"#
    static let bm25 = #"{"rank_by": ["text", "BM25", "river stone"], "top_k": 5}"#

    static func analyze(_ engine: Engine, _ query: String, namespace: String = "ns") async throws -> JSONObject {
        var body = try json(query).objectValue!
        body["analyze"] = .bool(true)
        let explain = try await engine.explain(namespace, body: .object(body))
        return try #require(explain.objectValue?["io"]?.objectValue)
    }

    static func int(_ io: JSONObject, _ path: String...) -> Int64 {
        var value: JSONValue? = .object(io)
        for key in path { value = value?.objectValue?[key] }
        return value?.intValue ?? -1
    }

    @Test("a cold ANN or BM25 query reads segment data in one round; repeated, it reads nothing", arguments: [ann, bm25])
    func coldThenHot(_ query: String) async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (engine, instrumented) = try Self.node(bucket, cache: cache.url)
            let cold = try await Self.analyze(engine, query)
            // The manifest: the CURRENT hint, then the manifest with a probe of the next version.
            // Segment data: meta, ids and the query's parts of all three segments, located by
            // the part directories in the manifest, coalesced per segment object.
            #expect(Self.int(cold, "data_rounds") == 1, "\(cold)")
            #expect(Self.int(cold, "sequential_rounds") == 3, "\(cold)")
            #expect(Self.int(cold, "bucket", "reads") <= 6, "one or two ranged GETs per segment: \(cold)")
            #expect(cold["cache_temperature"]?.stringValue == "cold")
            let rangedGets = instrumented.counts.requests[.getRange] ?? 0
            #expect(rangedGets == Int(Self.int(cold, "bucket", "reads")), "every segment read is counted")

            let hot = try await Self.analyze(engine, query)
            #expect(Self.int(hot, "bucket", "reads") == 0 && Self.int(hot, "disk", "reads") == 0, "\(hot)")
            // A strong read revalidates in one round: the hint and the next version's probe together.
            #expect(Self.int(hot, "sequential_rounds") == 1 && Self.int(hot, "bucket_requests") == 2, "\(hot)")
            #expect(Self.int(hot, "memory", "reads") > 0)
            #expect(hot["cache_temperature"]?.stringValue == "hot")
            #expect(instrumented.counts.requests[.getRange] == rangedGets)

            let response = try await engine.query("ns", body: try Self.json(query))
            let performance = try #require(response.objectValue?["performance"]?.objectValue)
            #expect(performance["cache_temperature"]?.stringValue == "hot")
            #expect(performance["cache_hit_ratio"]?.doubleValue == 1)
        }
    }

    @Test("after hint_cache_warm, a restarted node serves the first queries without reading segment data from the bucket")
    func restartWithWarmDiskCache() async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (first, _) = try Self.node(bucket, cache: cache.url)
            try await first.warm("ns")
            let expected = try await first.query("ns", body: try Self.json(Self.ann)).objectValue?["rows"]

            let (restarted, instrumented) = try Self.node(bucket, cache: cache.url)
            for query in [Self.ann, Self.bm25] {
                let io = try await Self.analyze(restarted, query)
                #expect(Self.int(io, "bucket", "reads") == 0, "\(io)")
                #expect(Self.int(io, "disk", "reads") > 0)
                #expect(io["cache_temperature"]?.stringValue == "warm" || io["cache_temperature"]?.stringValue == "hot")
            }
            #expect((instrumented.counts.requests[.getRange] ?? 0) == 0, "no ranged GET reached the bucket")
            #expect(try await restarted.query("ns", body: try Self.json(Self.ann)).objectValue?["rows"] == expected)
        }
    }

    @Test("a restarted node revalidates the manifest it remembered in one round, and sees versions committed while it was down")
    func rememberedManifestIsRevalidated() async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (first, _) = try Self.node(bucket, cache: cache.url)
            try await first.warm("ns")

            // Nothing changed: the hint, the next version's probe and a conditional GET of the
            // remembered version, together; segment data from the disk cache.
            let (restarted, _) = try Self.node(bucket, cache: cache.url)
            let io = try await Self.analyze(restarted, Self.bm25)
            #expect(Self.int(io, "sequential_rounds") == 1 && Self.int(io, "bucket_requests") == 3, "\(io)")
            #expect(Self.int(io, "bucket", "reads") == 0, "\(io)")

            // A write lands while no node runs: the remembered version is no longer the newest.
            _ = try await Engine(store: bucket).write("ns", body: try Self.json(
                #"{"upsert_rows": [{"id": 5000, "vector": [1,0,0,0,0,0,0,0], "text": "zebra", "group": 1}]}"#))
            let (later, _) = try Self.node(bucket, cache: cache.url)
            let rows = try await later.query("ns", body: try Self.json(#"{"rank_by": ["text", "BM25", "zebra"], "top_k": 5}"#))
                .objectValue?["rows"]?.arrayValue
            #expect(rows?.compactMap { $0.objectValue?["id"]?.intValue } == [5000], "the new version is read, not the remembered one")
            // That node now remembers the newer version: the next restart is one round again.
            let (again, _) = try Self.node(bucket, cache: cache.url)
            let io2 = try await Self.analyze(again, Self.bm25)
            #expect(Self.int(io2, "sequential_rounds") == 1, "\(io2)")
        }
    }

    @Test("a readiness check lists one catalog marker and reads no manifest: the first query after it is still cold")
    func readinessLeavesNoTrace() async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (engine, instrumented) = try Self.node(bucket, cache: cache.url)
            try await engine.checkStore()
            #expect(instrumented.counts.requests == [.list: 1], "\(instrumented.counts.requests)")
            let cold = try await Self.analyze(engine, Self.bm25)
            #expect(Self.int(cold, "sequential_rounds") == 3, "hint, manifest, data: \(cold)")

            let faulty = FaultyStore(wrapping: bucket)
            faulty.failNext(1, [.list])
            await #expect(throws: StoreError.self) { try await Engine(store: faulty).checkStore() }
        }
    }

    @Test("a restarted node opens the segments of the version it remembers while the manifest round is in flight")
    func rememberedSegmentsOpenDuringTheManifestRound() async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (first, _) = try Self.node(bucket, cache: cache.url)
            try await first.warm("ns")
            let expected = try await first.query("ns", body: try Self.json(Self.bm25)).objectValue?["rows"]

            // Manifest requests wait at a gate; segment parts come from the disk cache.
            let gated = ManifestGate(wrapping: bucket)
            let cached = CachedStore(wrapping: gated, memoryBytes: 1 << 24, disk: try DiskCache(directory: cache.url, capacityBytes: 1 << 30))
            let restarted = Engine(store: cached)
            let query = Task { try await restarted.query("ns", body: try Self.json(Self.bm25)).objectValue?["rows"] }
            let deadline = ContinuousClock.now + .seconds(10)
            while (cached.counts.diskHits == 0 || gated.waiting == 0) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(gated.waiting > 0, "the manifest round is still in flight")
            #expect(cached.counts.diskHits > 0, "segment parts were read meanwhile")
            gated.open()
            #expect(try await query.value == expected)
            #expect(cached.counts.misses == 0, "no segment data from the bucket")
        }
    }

    @Test("a damaged IVF part in the disk cache is dropped and fetched again: found while opening ahead of the manifest round, the query still answers; found by the query's own open, it fails that query only")
    func damagedCachedIndexIsRefetched() async throws {
        // One segment large enough for an IVF index.
        let bucket = MemoryStore()
        let writer = Engine(store: bucket)
        var rng = SeededRandom(seed: 9)
        let rows = (0..<1_500).map { id in #"{"id": \#(id), "vector": \#(Self.vector(&rng))}"# }
        _ = try await writer.write("ns", body: try Self.json(#"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "cosine_distance"}"#))
        #expect(try await writer.indexNow("ns"))
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (first, _) = try Self.node(bucket, cache: cache.url)
            try await first.warm("ns")
            let expected = try await first.query("ns", body: try Self.json(Self.annWithoutAttributes)).objectValue?["rows"]
            let disk = try DiskCache(directory: cache.url, capacityBytes: 1 << 30)

            // Flip a centroid byte in every cached IVF part (files starting with the IVF magic):
            // the size still matches the catalog, the head checksum does not.
            func damageIndexes() throws -> [String] {
                var damaged: [String] = []
                for key in disk.keys {
                    let url = URL(fileURLWithPath: disk.filePath(key))
                    var bytes = try Data(contentsOf: url)
                    guard bytes.starts(with: Array("LIVF".utf8)) else { continue }
                    bytes[70] ^= 0x40
                    try bytes.write(to: url)
                    damaged.append(key)
                }
                return damaged
            }
            func cachedIndexMatchesBucket(_ key: String) async throws -> Bool {
                let range = try #require(key.split(separator: "#").last?.split(separator: "+").compactMap { Int($0) })
                let fresh = try await bucket.getRange(String(key.split(separator: "#")[0]), offset: range[0], length: range[1])
                return disk.read(key)?.bytes == fresh
            }

            // The node remembers the version: it opens the segment while revalidating it, meets
            // the damage there, drops the copy, and the query's own open fetches the part again.
            let damaged = try damageIndexes()
            #expect(damaged.count == 1, "the segment's IVF part")
            let (restarted, instrumented) = try Self.node(bucket, cache: cache.url)
            #expect(try await restarted.query("ns", body: try Self.json(Self.annWithoutAttributes)).objectValue?["rows"] == expected)
            #expect((instrumented.counts.requests[.getRange] ?? 0) == 1, "the IVF part came from the bucket again")
            #expect(try await cachedIndexMatchesBucket(damaged[0]), "the damaged copy was replaced")

            // Nothing remembered: the query's open meets the damage and fails; the copy is dropped
            // and the next query fetches the part again.
            #expect(try damageIndexes() == damaged)
            disk.remove("manifest-memo:ns/ns/manifest/")
            let (forgetful, counted) = try Self.node(bucket, cache: cache.url)
            await #expect(throws: FormatError.self) { try await forgetful.query("ns", body: try Self.json(Self.annWithoutAttributes)) }
            #expect(Set(disk.keys).isDisjoint(with: damaged), "the damaged copies are dropped")
            let before = counted.counts.requests[.getRange] ?? 0
            #expect(try await forgetful.query("ns", body: try Self.json(Self.annWithoutAttributes)).objectValue?["rows"] == expected)
            #expect((counted.counts.requests[.getRange] ?? 0) > before, "the IVF parts came from the bucket again")
        }
    }

    @Test("namespaces are evicted least recently used under the memory budget and reload with the same answers")
    func memoryBudget() async throws {
        let bucket = try await Self.populatedBucket(["a", "b", "c"])
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            // Measure one namespace's resident bytes, then allow a little under two.
            let (probe, _) = try Self.node(bucket, cache: cache.url)
            let expected = try await probe.query("a", body: try Self.json(Self.ann)).objectValue?["rows"]
            let one = probe.residentBytes
            #expect(one > 0)
            let (engine, _) = try Self.node(bucket, cache: cache.url, memoryBytes: one * 2 - 1)
            for name in ["a", "b", "c", "a"] {
                _ = try await engine.query(name, body: try Self.json(Self.ann))
                #expect(engine.residentBytes <= one * 2 - 1 || engine.residentNamespaces == 1, "within the budget after \(name)")
            }
            let again = try await Self.analyze(engine, Self.ann, namespace: "b")
            #expect(Self.int(again, "disk", "reads") > 0, "b was evicted and reopens from the disk cache: \(again)")
            #expect(try await engine.query("a", body: try Self.json(Self.ann)).objectValue?["rows"] == expected)
        }
    }

    @Test("a name that does not exist leaves no state")
    func missingNameLeavesNothing() async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (engine, _) = try Self.node(bucket, cache: cache.url, memoryBytes: 1 << 20)
            await #expect(throws: LagoonError.self) { _ = try await engine.query("nope", body: try Self.json(Self.ann)) }
            #expect(engine.residentNamespaces == 0)
        }
    }
}

extension ColdReadTests {
    @Test("a warmed namespace stays pinned on disk while other namespaces' reads fill the disk cache")
    func warmedNamespaceStaysOnDisk() async throws {
        let bucket = try await Self.populatedBucket(["pinned", "other1", "other2"])
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            // A disk cache smaller than two namespaces: without the pin, "pinned" would go.
            let (probe, _) = try Self.node(bucket, cache: cache.url)
            try await probe.warm("pinned")
            let one = try DiskCache(directory: cache.url, capacityBytes: 1 << 30).usage.total
            #expect(one > 0)
            try FileManager.default.removeItem(at: cache.url)

            func node() throws -> (Engine, InstrumentedStore) {
                let instrumented = InstrumentedStore(bucket)
                let disk = try DiskCache(directory: cache.url, capacityBytes: one * 3 / 2, maxPinnedBytes: one * 11 / 10)
                return (Engine(store: CachedStore(wrapping: instrumented, memoryBytes: 1 << 24, disk: disk)), instrumented)
            }
            let (first, _) = try node()
            try await first.warm("pinned")
            for name in ["other1", "other2"] {
                for query in [Self.ann, Self.bm25] { _ = try await first.query(name, body: try Self.json(query)) }
            }
            let (restarted, _) = try node()
            for query in [Self.ann, Self.bm25] {
                let io = try await Self.analyze(restarted, query, namespace: "pinned")
                #expect(Self.int(io, "bucket", "reads") == 0, "the pinned namespace is still on disk: \(io)")
            }
            let evicted = try await Self.analyze(restarted, Self.ann, namespace: "other1")
            #expect(Self.int(evicted, "bucket", "reads") > 0, "an unpinned one was evicted: \(evicted)")
        }
    }
}

/// Part directories in the manifest (Specs/format/manifest.md §7): a cold open skips the round
/// of segment trailers and tables; manifests written before directories existed still open, one
/// round slower; deletion vectors and branches keep the single data round.
extension ColdReadTests {
    /// Rewrites every manifest version of `namespace` in the bucket without part directories,
    /// as a build before them wrote it.
    static func stripPartDirectories(_ bucket: MemoryStore, _ namespace: String) async throws {
        let manifests = ManifestStore(store: bucket)
        var version: UInt64 = 1
        while var manifest = try await manifests.read(namespace, version: version) {
            manifest.segments = manifest.segments?.map { var reference = $0; reference.parts = nil; return reference }
            _ = try await bucket.put(manifests.layout(namespace).manifestKey(version), ManifestCodec.encode(manifest), condition: .none)
            version += 1
        }
        let newest = try #require(try await manifests.latest(namespace))
        #expect(newest.segmentList.count == 3 && newest.segmentList.allSatisfy { $0.parts == nil })
    }

    @Test("a manifest without part directories still opens cold, with one round more and the same answers", arguments: [ann, bm25])
    func manifestWithoutDirectories(_ query: String) async throws {
        let bucket = try await Self.populatedBucket()
        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            let (withDirectories, _) = try Self.node(bucket, cache: cache.url.appendingPathComponent("a"))
            let expected = try await withDirectories.query("ns", body: try Self.json(query)).objectValue?["rows"]
            try #require(expected?.arrayValue?.count == 5)

            try await Self.stripPartDirectories(bucket, "ns")
            let (engine, _) = try Self.node(bucket, cache: cache.url.appendingPathComponent("b"))
            let cold = try await Self.analyze(engine, query)
            #expect(Self.int(cold, "data_rounds") == 2, "trailers and tables, then the parts: \(cold)")
            #expect(Self.int(cold, "sequential_rounds") == 4, "\(cold)")
            #expect(try await engine.query("ns", body: try Self.json(query)).objectValue?["rows"] == expected)
        }
    }

    @Test("with deletion vectors, and on a branch, a cold query still reads segment data in one round")
    func deletionVectorsAndBranches() async throws {
        let bucket = try await Self.populatedBucket()
        let writer = Engine(store: bucket)
        _ = try await writer.write("ns", body: try Self.json(#"{"deletes": [1, 401, 801]}"#))
        #expect(try await writer.indexNow("ns"))
        let parent = try await writer.snapshot("ns").manifest.segmentList
        #expect(parent.count == 3 && parent.allSatisfy { $0.deletes != nil && $0.parts != nil }, "\(parent)")
        _ = try await writer.write("br", body: try Self.json(#"{"branch_from_namespace": "ns"}"#))
        #expect(try await writer.snapshot("br").manifest.segmentList == parent, "the branch copies references with their directories")

        try await withTempDirectory(prefix: "lagoon-cold") { cache in
            for namespace in ["ns", "br"] {
                let (engine, _) = try Self.node(bucket, cache: cache.url.appendingPathComponent(namespace))
                let cold = try await Self.analyze(engine, Self.ann, namespace: namespace)
                #expect(Self.int(cold, "data_rounds") == 1, "\(namespace): parts and deletion vectors together: \(cold)")
                #expect(Self.int(cold, "sequential_rounds") == 3, "\(namespace): \(cold)")
                let ids = try await engine.query(namespace, body: try Self.json(#"{"rank_by": ["id", "asc"], "top_k": 1200}"#))
                    .objectValue?["rows"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } ?? []
                #expect(ids.count == 1197 && !ids.contains(1) && !ids.contains(401) && !ids.contains(801), "\(namespace)")
            }
        }
    }
}

/// Holds back every request for a manifest key (`…/manifest/…`) until `open()`; other
/// requests pass straight through to the wrapped store.
final class ManifestGate: ObjectStore {
    let base: any ObjectStore
    private let state = Mutex((opened: false, waiting: 0))

    init(wrapping base: any ObjectStore) { self.base = base }

    /// Manifest requests held at the gate now.
    var waiting: Int { state.withLock { $0.waiting } }

    func open() { state.withLock { $0.opened = true } }

    private func pass(_ key: String) async throws {
        guard key.contains("/manifest/") else { return }
        state.withLock { $0.waiting += 1 }
        defer { state.withLock { $0.waiting -= 1 } }
        while !state.withLock({ $0.opened }) { try await Task.sleep(for: .milliseconds(1)) }
    }

    func get(_ key: String) async throws -> StoredObject {
        try await pass(key)
        return try await base.get(key)
    }

    func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try await pass(key)
        return try await base.get(key, ifNoneMatch: etag)
    }

    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try await pass(key)
        return try await base.getRange(key, offset: offset, length: length)
    }

    func head(_ key: String) async throws -> ObjectInfo? {
        try await pass(key)
        return try await base.head(key)
    }

    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try await base.put(key, bytes, condition: condition)
    }

    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, cursor: cursor, limit: limit)
    }

    func delete(_ key: String) async throws { try await base.delete(key) }
}
