public import Exec
public import Foundation

/// Server configuration: defaults, then `lagoon.toml`, then `LAGOON_SECTION__KEY`
/// environment variables (env wins), with the sections and keys of the deployment guide.
public struct ServerConfig: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    public var listenExplicit = false
    /// Run the indexer inside `serve` (the single-machine default); off when `lagoon worker`
    /// processes index the store instead.
    public var embeddedIndexer = true
    /// `[indexer]`: flush and compaction thresholds and the backpressure limit.
    public var indexer = IndexerOptions()
    /// `[indexer] nice`: the nice value of the indexer's thread (0 = same as requests, up to
    /// 19 = lowest), so segment builds yield a busy core to requests. 0 by default: under a
    /// steady stream of writes a niced indexer hardly runs, so the tail grows into
    /// `max_unindexed_bytes` backpressure (429s) and a higher memory peak, while the build
    /// work is only postponed, not saved (measured; see Specs/format/config.md).
    public var indexerNice: Int32 = 0
    /// `[cache]`: the memory and disk caches in front of the S3 backend.
    public var cache = CacheSettings()
    public var storageBackend = "fs"
    public var storageRoot = "./lagoon-data"
    public var storagePrefix = ""
    /// The `[storage]` settings of `backend = "s3"` (credentials come from the AWS
    /// environment, never from here).
    public var s3 = S3Settings()
    public var keysFile: String?
    public var pollIntervalMillis = 1000
    /// `[manifest] retain_versions`: versions kept per namespace (0 keeps all).
    public var retainVersions = 1000
    /// `[query] ann_recall_target`: the recall@10 ANN queries aim for.
    public var annRecallTarget = 0.95
    /// Body size, bytes in flight, query threads and budgets (`server.max_body_bytes`, `[limits]`).
    public var limits = ServerLimits()
    public var logFormat = "text"
    /// Keys the file or environment set that this version does not know (typos, or
    /// settings of later versions); `serve` logs them so a misspelt key is not silently lost.
    public var unknownKeys: [String] = []

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Loads the file (when given or when `lagoon.toml` exists) and applies the environment.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfig {
        var values: [String: TOMLSubset.Value] = [:]
        let path = file ?? (FileManager.default.fileExists(atPath: "lagoon.toml") ? "lagoon.toml" : nil)
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Invalid(description: "cannot read config file \(path)")
            }
            do { values = try TOMLSubset.parse(text) } catch { throw Invalid(description: "\(path): \(error)") }
        }
        // Only `LAGOON_SECTION__KEY` names are settings (every key lives in a section);
        // `LAGOON_BIN` and other single-level names belong to tools such as the test harness.
        for (name, value) in environment where name.hasPrefix("LAGOON_") && name.contains("__") {
            let key = name.dropFirst("LAGOON_".count).lowercased().replacingOccurrences(of: "__", with: ".")
            values[key] = .string(value)
        }
        var config = ServerConfig()
        try config.apply(values)
        try config.validate()
        return config
    }

    mutating func apply(_ values: [String: TOMLSubset.Value]) throws {
        for (key, value) in values {
            let text = value.text
            switch key {
            case "server.listen":
                try setListen(text)
                listenExplicit = true
            case "server.embedded_indexer": embeddedIndexer = try Self.bool(text, key)
            case "server.max_body_bytes": limits.maxBodyBytes = try Self.int(text, key, minimum: 1024)
            case "limits.max_inflight_request_bytes": limits.maxInflightRequestBytes = try Self.int(text, key, minimum: 1024)
            case "limits.query_threads": limits.queryThreads = try Self.int(text, key, minimum: 1, maximum: 1024)
            case "limits.query_queue": limits.queryQueue = try Self.int(text, key, minimum: 0, maximum: 1_000_000)
            case "limits.query_timeout_ms":
                let ms = try Self.int(text, key, minimum: 0, maximum: 86_400_000)
                limits.queryTimeout = ms == 0 ? nil : .milliseconds(ms)
            case "storage.backend":
                guard text == "fs" || text == "s3" else { throw Invalid(description: "storage.backend \"\(text)\" must be \"fs\" or \"s3\"") }
                storageBackend = text
            case "storage.root": storageRoot = text
            case "storage.prefix": storagePrefix = text
            case "storage.bucket": s3.bucket = text
            case "storage.region": s3.region = text
            case "storage.endpoint": s3.endpoint = text
            case "storage.sse": s3.sse = text
            case "storage.sse_kms_key_id": s3.sseKMSKeyID = text
            case _ where S3Settings.isCredentialKey(key):
                throw Invalid(description: "\(key): credentials are never read from the configuration; use the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or an instance/IRSA role")
            case "indexer.flush_interval_secs": indexer.flushInterval = .seconds(try Self.int(text, key, minimum: 0, maximum: 86_400))
            case "indexer.flush_bytes": indexer.flushBytes = try Self.int(text, key, minimum: 1)
            case "indexer.flush_entries": indexer.flushEntries = try Self.int(text, key, minimum: 1)
            case "indexer.nice": indexerNice = Int32(try Self.int(text, key, minimum: 0, maximum: 19))
            case "indexer.compaction_fanin": indexer.compactionFanIn = try Self.int(text, key, minimum: 2, maximum: 1024)
            case "indexer.max_unindexed_bytes":
                let bytes = try Self.int(text, key, minimum: 0)
                indexer.maxUnindexedBytes = bytes == 0 ? .max : bytes
            case "cache.dir":
                guard !text.isEmpty else { throw Invalid(description: "cache.dir must not be empty") }
                cache.dir = text
            case "cache.memory_bytes": cache.memoryBytes = try Self.int(text, key, minimum: 0)
            case "cache.disk_bytes": cache.diskBytes = try Self.int(text, key, minimum: 0)
            case "cache.max_pinned_bytes": cache.maxPinnedBytes = try Self.int(text, key, minimum: 0)
            case "auth.keys_file": keysFile = text.isEmpty ? nil : text
            case "manifest.poll_interval_ms": pollIntervalMillis = try Self.int(text, key, minimum: 0)
            case "manifest.retain_versions": retainVersions = try Self.int(text, key, minimum: 0)
            case "query.ann_recall_target":
                guard let target = Double(text), target > 0, target <= 1 else {
                    throw Invalid(description: "query.ann_recall_target must be a number in (0, 1], got \(text)")
                }
                annRecallTarget = target
            case "observability.log_format": logFormat = text
            default:
                unknownKeys.append(key)
            }
        }
    }

    public mutating func setListen(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw Invalid(description: "server.listen \"\(text)\" must be HOST:PORT")
        }
        listenHost = String(text[..<colon])
        listenPort = port
    }

    static func bool(_ text: String, _ key: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw Invalid(description: "\(key) must be true or false, got \(text)")
        }
    }

    static func int(_ text: String, _ key: String, minimum: Int, maximum: Int = .max) throws -> Int {
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")), v >= minimum, v <= maximum else {
            let range = maximum == .max ? "of at least \(minimum)" : "from \(minimum) to \(maximum)"
            throw Invalid(description: "\(key) must be an integer \(range), got \(text)")
        }
        return v
    }

    /// Checks that need several keys at once.
    func validate() throws {
        guard limits.maxInflightRequestBytes >= limits.maxBodyBytes else {
            throw Invalid(description: "limits.max_inflight_request_bytes (\(limits.maxInflightRequestBytes)) must be at least server.max_body_bytes (\(limits.maxBodyBytes)), or no body of the largest size could ever be accepted")
        }
        try s3.validate(backend: storageBackend)
        if let pinned = cache.maxPinnedBytes, pinned > cache.diskBytes {
            throw Invalid(description: "cache.max_pinned_bytes (\(pinned)) must not exceed cache.disk_bytes (\(cache.diskBytes)): pinned objects live in the disk cache")
        }
    }
}

/// The `[cache]` keys: memory → disk → bucket (ARCHITECTURE.md §9), used with backend `s3`.
public struct CacheSettings: Sendable, Equatable {
    /// Folder of the disk cache and its catalog (created if missing).
    public var dir = "./lagoon-cache"
    public var memoryBytes = 1 << 30
    public var diskBytes = 10 << 30
    /// Disk bytes pinned namespaces may hold; unset = half of `diskBytes`.
    public var maxPinnedBytes: Int?

    public init() {}

    public var pinnedBytes: Int { maxPinnedBytes ?? diskBytes / 2 }
}
