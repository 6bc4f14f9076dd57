import Foundation
public import Log
public import Planner
import Segments
import Store
import Synchronization

/// Group commit for one namespace (ARCHITECTURE.md §5, Specs/protocol/commit.md).
///
/// Requests queue up while a commit is in flight; the next commit takes all of them and
/// writes one WAL entry. Each attempt re-reads the newest snapshot, decodes and resolves
/// every queued request against it, writes the entry under a fresh name, and tries to
/// create the next manifest version. A lost race retries from the top (conditions and
/// filters may resolve differently now); after `maxAttempts` the requests get 409.
/// A request is acknowledged only after its manifest version is durable.
///
/// The queue is bounded by bytes (`maxQueuedBytes`, requests waiting plus the batch in
/// flight): a request that would exceed it is refused with `unavailable` (503, retryable)
/// instead of waiting, so a namespace flooded with writes cannot hold unbounded memory. A
/// request is always admitted into an empty queue, however large.
actor GroupCommitter {
    private struct Pending {
        let body: JSONValue
        /// Approximate size of the request, counted against `maxQueuedBytes`.
        let bytes: Int
        /// The request decoded outside the actor against `configHint`; reused when the
        /// namespace config is still that one, so decoding runs in parallel with commits.
        let predecoded: (config: NamespaceConfig, request: WriteRequest)?
        let continuation: CheckedContinuation<WriteOutcome, any Error>
    }

    private let lastConfig = Mutex<NamespaceConfig>(NamespaceConfig())

    /// The config of the newest snapshot this committer saw (a hint for pre-decoding).
    nonisolated var configHint: NamespaceConfig { lastConfig.withLock { $0 } }

    let namespace: String
    let manifests: ManifestStore
    let replica: NamespaceReplica
    let maxAttempts: Int
    let maxQueuedBytes: Int
    /// Backpressure: above this much unindexed tail, writes get 429 unless they set
    /// `disable_backpressure` (`[indexer] max_unindexed_bytes`).
    let maxUnindexedBytes: Int
    private var queue: [Pending] = []
    /// Bytes of the requests queued or in the batch being committed.
    private var queuedBytes = 0
    var queuedByteCount: Int { queuedBytes }
    private var draining = false

    init(namespace: String, manifests: ManifestStore, replica: NamespaceReplica, maxAttempts: Int, maxQueuedBytes: Int = .max,
         maxUnindexedBytes: Int = .max) {
        self.maxUnindexedBytes = maxUnindexedBytes
        self.namespace = namespace
        self.manifests = manifests
        self.replica = replica
        self.maxAttempts = maxAttempts
        self.maxQueuedBytes = maxQueuedBytes
    }

    /// Queues a write and returns its outcome once committed. `bytes` is the request's
    /// approximate size (`estimatedBytes(of:)` of the body when not given).
    func submit(_ body: JSONValue, predecoded: (config: NamespaceConfig, request: WriteRequest)? = nil, bytes: Int? = nil) async throws -> WriteOutcome {
        let bytes = bytes ?? Self.estimatedBytes(of: body)
        guard queuedBytes == 0 || queuedBytes + bytes <= maxQueuedBytes else {
            throw LagoonError(.unavailable, "the write queue of namespace \(namespace) is full (\(queuedBytes) bytes queued, limit \(maxQueuedBytes)); retry later")
        }
        queuedBytes += bytes
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(body: body, bytes: bytes, predecoded: predecoded, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let batch = queue
            queue = []
            await commit(batch)
            queuedBytes -= batch.reduce(0) { $0 + $1.bytes }
        }
        draining = false
    }

    private func commit(_ batch: [Pending]) async {
        var live = batch
        do {
            for retry in 0..<maxAttempts {
                var attempt = try await prepare(live)
                attempt.retry = retry
                for (index, error) in attempt.rejected { live[index].continuation.resume(throwing: error) }
                live = attempt.accepted.map { live[$0] }
                guard !live.isEmpty else { return }
                guard let next = attempt.manifest else {
                    // Nothing changes (e.g. patches of unknown ids): acknowledge without a commit.
                    for (pending, outcome) in zip(live, attempt.outcomes) { pending.continuation.resume(returning: outcome) }
                    return
                }
                if attempt.createsNamespace { try await manifests.registerNamespace(namespace) }
                if let bytes = attempt.entryBytes, let reference = next.wal.last {
                    try await manifests.store.put(reference.key, bytes, condition: .ifAbsent)
                }
                switch try await commitRetryingUnavailable(next) {
                case .committed:
                    // Again after the commit: a concurrent delete of the previous incarnation
                    // may have removed the marker put above (ManifestStore.unregisterNamespace).
                    if attempt.createsNamespace { try await manifests.registerNamespace(namespace) }
                    lastConfig.withLock { $0 = next.config }
                    await manifests.advanceHint(namespace, to: next.version)
                    await replica.applyCommitted(next, entry: attempt.entry)
                    for (pending, outcome) in zip(live, attempt.outcomes) { pending.continuation.resume(returning: outcome) }
                    return
                case .lostRace:
                    // Jittered backoff so two writers that keep colliding drift apart.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...(4 << min(attempt.retry, 4)))))
                    continue
                }
            }
            let conflict = LagoonError(.conflict, "write to \(namespace) lost \(maxAttempts) commit races to concurrent writers; retry")
            for pending in live { pending.continuation.resume(throwing: conflict) }
        } catch {
            for pending in live { pending.continuation.resume(throwing: error) }
        }
    }

    private struct Attempt {
        var accepted: [Int] = []
        var rejected: [(Int, any Error)] = []
        var outcomes: [WriteOutcome] = []
        var manifest: Manifest?
        var entry: WALEntry?
        var entryBytes: Data?
        var createsNamespace = false
        var retry = 0
    }

    /// Creates the manifest version, retrying when the store is briefly unavailable. A
    /// retry is safe: a version that an earlier try created is recognised by its commit
    /// token (`ManifestStore.commit`), so an ambiguous failure becomes a definite answer.
    private func commitRetryingUnavailable(_ next: Manifest) async throws -> CommitOutcome {
        var tries = 0
        while true {
            do {
                return try await manifests.commit(next)
            } catch let error as StoreError where error.code == .unavailable && tries < 3 {
                tries += 1
                try await Task.sleep(for: .milliseconds(20 << tries))
            }
        }
    }

    /// Decodes and resolves the batch against the newest snapshot; builds the entry and
    /// the next manifest (nil when nothing would change).
    private func prepare(_ batch: [Pending]) async throws -> Attempt {
        let snapshot = try await replica.snapshot(strong: true)
        // `newest` may be a tombstone: the name's versions continue, its data does not.
        let newest = snapshot?.manifest
        let base = newest?.isDeleted == true ? nil : newest
        lastConfig.withLock { $0 = base?.config ?? NamespaceConfig() }
        let view = base == nil ? NamespaceView(segments: [], tail: NamespaceProjection(config: NamespaceConfig())) : snapshot!.view
        var resolver = WriteResolver(view: view, config: base?.config ?? NamespaceConfig())
        var segmentsLoaded = view.segments.isEmpty
        var attempt = Attempt()
        var configChanged = false
        let unindexed = base?.unindexedBytes ?? 0
        for (index, pending) in batch.enumerated() {
            do {
                if unindexed > maxUnindexedBytes, pending.body.objectValue?["disable_backpressure"] != .bool(true) {
                    throw LagoonError(.tooManyRequests, "namespace \(namespace) has \(unindexed) bytes of unindexed writes, over the limit of \(maxUnindexedBytes) ([indexer] max_unindexed_bytes): the indexer is catching up; retry shortly, or set \"disable_backpressure\": true to write anyway")
                }
                let request: WriteRequest
                if let predecoded = pending.predecoded, predecoded.config == resolver.config {
                    request = predecoded.request
                } else {
                    request = try WriteRequestDecoder.decode(pending.body, config: resolver.config)
                }
                if request.config != resolver.config || request.changesConfig {
                    // The config goes into the manifest: a value the manifest cannot encode
                    // must reject this request alone, not fail the whole batch at commit.
                    try Self.checkEncodable(request.config)
                    configChanged = true
                }
                if !segmentsLoaded, WriteResolver.readsDocuments(request) {
                    try await view.load(.everything, store: manifests.store)
                    segmentsLoaded = true
                }
                attempt.outcomes.append(try resolver.resolve(request))
                attempt.accepted.append(index)
            } catch {
                attempt.rejected.append((index, error))
            }
        }
        guard !attempt.accepted.isEmpty, !resolver.events.isEmpty || configChanged || base == nil else { return attempt }
        attempt.createsNamespace = base == nil
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let token = UUID().uuidString.lowercased()
        let seq = newest?.nextSeq ?? 1
        var manifest = Manifest(
            namespace: namespace, version: (newest?.version ?? 0) + 1, createdAtMillis: base?.createdAtMillis ?? now,
            updatedAtMillis: now, config: resolver.config, wal: base?.wal ?? [], nextSeq: seq,
            indexedThroughSeq: base?.indexedThroughSeq ?? 0, rowCount: (base?.rowCount ?? 0) + resolver.liveDelta,
            logicalBytes: (base?.logicalBytes ?? 0) + resolver.bytesDelta, commitToken: token)
        manifest.segments = base?.segments
        // A new incarnation gets a fresh id; an existing one keeps its id (or its lack of one).
        manifest.incarnation = base == nil ? Manifest.newIncarnation() : base?.incarnation
        if !resolver.events.isEmpty {
            let entry = WALEntry(seq: seq, createdAtMillis: now, writerToken: token, events: resolver.events)
            let key = manifests.layout(namespace).walKey(seq: seq, token: token)
            let bytes = WALCodec.encode(entry)
            manifest.wal.append(WALReference(seq: seq, key: key, events: entry.events.count, bytes: bytes.count))
            manifest.nextSeq = seq + 1
            attempt.entry = entry
            attempt.entryBytes = bytes
        }
        attempt.manifest = manifest
        return attempt
    }

    /// Throws a 400 naming the JSON path when the config cannot be encoded into a manifest
    /// (for example a non-finite `k1` that slipped through validation).
    static func checkEncodable(_ config: NamespaceConfig) throws {
        do {
            _ = try JSONEncoder().encode(config)
        } catch let EncodingError.invalidValue(value, context) {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            throw LagoonError.invalid(path, "value \(value) cannot be stored (\(context.debugDescription))")
        }
    }

    /// Approximate in-memory size of a parsed write body: text bytes of strings and keys,
    /// 8 per number, plus a small per-value overhead.
    static func estimatedBytes(of value: JSONValue) -> Int {
        switch value {
        case .null, .bool: return 8
        case .int, .uint, .double: return 16
        case .string(let text): return 16 + text.utf8.count
        case .array(let items): return items.reduce(16) { $0 + estimatedBytes(of: $1) }
        case .doubles(let values): return 16 + 8 * values.count
        case .object(let object):
            return object.pairs.reduce(16) { $0 + 16 + $1.key.utf8.count + estimatedBytes(of: $1.value) }
        }
    }
}
