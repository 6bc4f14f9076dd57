import Exec
import Foundation
import HTTP
import Logging
import Store
import Synchronization

/// What `serve` and `worker` share: configuration loading, logging, and the object store
/// `[storage]` and `[cache]` describe.
enum NodeSetup {
    /// The store a node works on, the instrumented layer `/metrics` counts requests at, and
    /// the engine options that go with it.
    struct Storage {
        var store: any ObjectStore
        var instrumented: InstrumentedStore
        /// For the start-up banner: a folder or `s3://bucket/prefix`.
        var location: String
        var options: EngineOptions
    }

    /// Loads lagoon.toml and the environment, starts logging, warns about unknown keys, and
    /// sets the allocator's policy for a long-running node.
    static func configure(file: String?) throws -> (ServerConfig, Logger) {
        let settings = try ServerConfig.load(file: file)
        ReleaseFreedMemory.keepLargeAllocationsOutOfArenas()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "lagoon")
        for key in settings.unknownKeys.sorted() {
            logger.warning("ignoring unknown setting \(key) (not read by this version; check the spelling)")
        }
        return (settings, logger)
    }

    /// Opens the configured store. Every node writes (commits, or publishes segments), so on
    /// S3 the bucket must enforce conditional writes: the start-up probe's failure stops the
    /// node with the probe's message.
    static func storage(_ settings: ServerConfig) async throws -> Storage {
        var options = EngineOptions()
        options.pollInterval = .milliseconds(settings.pollIntervalMillis)
        options.indexer = settings.indexer
        options.retainVersions = settings.retainVersions
        options.annRecallTarget = settings.annRecallTarget
        options.memoryBytes = settings.cache.memoryBytes
        switch settings.storageBackend {
        case "s3":
            let s = settings.s3
            // The key prefix is applied by the S3 store alone (the probe's scratch key and the
            // cache keys then live under it too); the engine sees an unprefixed store.
            let configuration: S3Configuration
            do {
                configuration = try S3Configuration(
                    bucket: s.bucket, prefix: settings.storagePrefix, region: s.region, endpoint: s.endpoint.isEmpty ? nil : s.endpoint,
                    encryption: S3Encryption(rawValue: s.sse) ?? .none, sseKMSKeyID: s.sseKMSKeyID)
            } catch let error as StoreError {
                throw StartupFailure(error.message)
            }
            let s3 = S3Store(configuration: configuration)
            do {
                try await s3.verifyConditionalWrites()
            } catch let error as ConditionalWritesUnsupported {
                throw StartupFailure("bucket \(s.bucket): \(error)")
            } catch let error as StoreError {
                throw StartupFailure("bucket \(s.bucket) at \(configuration.endpoint ?? "AWS \(configuration.region)"): the conditional-write check could not run: \(error.message)")
            }
            let cache = settings.cache
            try FileManager.default.createDirectory(atPath: cache.dir, withIntermediateDirectories: true)
            let disk = try DiskCache(directory: URL(fileURLWithPath: cache.dir), capacityBytes: cache.diskBytes, maxPinnedBytes: cache.pinnedBytes)
            let instrumented = InstrumentedStore(s3)
            return Storage(store: CachedStore(wrapping: instrumented, memoryBytes: cache.memoryBytes, disk: disk), instrumented: instrumented,
                           location: "s3://\(s.bucket)/\(configuration.prefix)", options: options)
        default:
            try FileManager.default.createDirectory(atPath: settings.storageRoot, withIntermediateDirectories: true)
            options.prefix = settings.storagePrefix
            let instrumented = InstrumentedStore(try FileSystemStore(path: settings.storageRoot))
            return Storage(store: instrumented, instrumented: instrumented, location: settings.storageRoot, options: options)
        }
    }

    /// Runs the indexer loop in the background on one thread of its own, so its CPU-heavy
    /// segment builds never hold a thread of the pool that serves requests; the thread runs
    /// at nice value `nice` (`[indexer] nice`), so on a busy core the kernel runs requests
    /// first. Errors are logged per namespace; the loop ends only when the returned task is
    /// cancelled.
    static func startIndexer(_ engine: Engine, logger: Logger, nice: Int32, discoverEvery: Duration = .seconds(10)) -> Task<Void, Never> {
        let pool = ThreadPoolExecutor(threads: 1, name: "lagoon-indexer", nice: nice)
        // A namespace that keeps failing the same way is logged once, not every pass.
        let lastError = Mutex<[String: String]>([:])
        return Task.detached(executorPreference: pool) {
            await engine.runIndexer(every: .milliseconds(500), discoverEvery: discoverEvery) { namespace, error in
                let text = "\(error)"
                let repeated = lastError.withLock { seen in
                    defer { seen[namespace] = text }
                    return seen[namespace] == text
                }
                if !repeated { logger.warning("indexer: \(namespace): \(text)") }
            }
        }
    }
}

/// A node that cannot start; printed as `Error: <description>` (without the usage text a
/// `ValidationError` brings).
struct StartupFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
