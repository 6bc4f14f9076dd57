import Exec
import Foundation
import HTTP
import Testing

/// `[indexer]`, `[cache]` and the embedded-indexer switch (Specs/format/config.md §2).
@Suite struct IndexerConfigTests {
    @Test func defaults() throws {
        let config = try ServerConfig.load(file: nil, environment: [:])
        #expect(config.embeddedIndexer, "serve indexes in-process unless told otherwise")
        #expect(config.indexer.compactionFanIn == 8)
        #expect(config.indexerNice == 0, "the indexer runs at the requests' priority unless told otherwise")
        #expect(config.cache.dir == "./lagoon-cache")
        #expect(config.cache.memoryBytes == 1 << 30)
        #expect(config.cache.diskBytes == 10 << 30)
        #expect(config.cache.pinnedBytes == 5 << 30)
    }

    @Test func fileAndEnvironmentSetTheIndexerAndCacheKeys() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lagoon-\(UUID().uuidString).toml").path
        try """
        [server]
        embedded_indexer = false
        [indexer]
        flush_interval_secs = 2
        flush_bytes = 1_000_000
        flush_entries = 64
        compaction_fanin = 4
        max_unindexed_bytes = 5000
        nice = 19
        [cache]
        dir = "/var/cache/lagoon"
        memory_bytes = 1024
        disk_bytes = 4096
        max_pinned_bytes = 2048
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ServerConfig.load(file: path, environment: ["LAGOON_INDEXER__FLUSH_ENTRIES": "32"])
        #expect(!config.embeddedIndexer)
        #expect(config.indexer.flushInterval == .seconds(2))
        #expect(config.indexer.flushBytes == 1_000_000)
        #expect(config.indexer.flushEntries == 32)
        #expect(config.indexer.compactionFanIn == 4)
        #expect(config.indexer.maxUnindexedBytes == 5000)
        #expect(config.indexerNice == 19)
        #expect(config.cache.dir == "/var/cache/lagoon")
        #expect(config.cache.memoryBytes == 1024)
        #expect(config.cache.diskBytes == 4096)
        #expect(config.cache.pinnedBytes == 2048)
        #expect(config.unknownKeys.isEmpty)
    }

    @Test func zeroMaxUnindexedBytesTurnsBackpressureOff() throws {
        let config = try ServerConfig.load(file: nil, environment: ["LAGOON_INDEXER__MAX_UNINDEXED_BYTES": "0"])
        #expect(config.indexer.maxUnindexedBytes == .max)
    }

    @Test(arguments: [
        ["LAGOON_INDEXER__COMPACTION_FANIN": "1"],
        ["LAGOON_INDEXER__FLUSH_INTERVAL_SECS": "-1"],
        ["LAGOON_INDEXER__FLUSH_BYTES": "0"],
        ["LAGOON_INDEXER__NICE": "-1"],
        ["LAGOON_INDEXER__NICE": "20"],
        ["LAGOON_CACHE__MEMORY_BYTES": "lots"],
        ["LAGOON_CACHE__DIR": ""],
        ["LAGOON_CACHE__DISK_BYTES": "100", "LAGOON_CACHE__MAX_PINNED_BYTES": "200"],
    ])
    func invalidValuesAreRejected(_ environment: [String: String]) {
        #expect(throws: ServerConfig.Invalid.self) { try ServerConfig.load(file: nil, environment: environment) }
    }

    @Test func singleLevelLagoonVariablesAreNotSettings() throws {
        // The e2e harness sets LAGOON_BIN; it must not be reported as an unknown setting.
        let config = try ServerConfig.load(file: nil, environment: ["LAGOON_BIN": "/x/lagoon", "LAGOON_E2E_URL": "http://h",
                                                                     "LAGOON_SERVR__LISTEN": "typo"])
        #expect(config.unknownKeys == ["servr.listen"])
    }
}
