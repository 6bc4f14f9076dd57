import Foundation
public import Log
public import Planner
import Segments
public import Store
import Synchronization

/// Settings of the engine (configuration sections `manifest` and `limits`).
public struct EngineOptions: Sendable {
    /// How stale an `eventual` read may be.
    public var pollInterval: Duration = .milliseconds(1000)
    /// Commit attempts before a write answers 409.
    public var maxCommitAttempts = 8
    /// Key prefix inside the store.
    public var prefix = ""
    /// Flush and compaction thresholds (used by `indexNow` and the background indexer).
    public var indexer = IndexerOptions()
    /// The recall@10 ANN queries aim for (`[query] ann_recall_target`).
    public var annRecallTarget = 0.95
    /// Manifest versions kept per namespace (history and `as_of` reach this far back); older
    /// ones are deleted by the indexer pass (`[manifest] retain_versions`; 0 keeps all).
    public var retainVersions = 1000
    /// Bytes of write requests one namespace's group-commit queue may hold (queued plus in
    /// flight); beyond it writes answer 503 (`unavailable`, retryable).
    public var maxQueuedWriteBytes = 256 * 1024 * 1024
    /// Bytes of namespace state (loaded segment parts, ids, tails) held in memory
    /// (`[cache] memory_bytes`); least recently used namespaces are evicted beyond it.
    /// nil: no bound.
    public var memoryBytes: Int? = nil

    public init() {}
}

/// The engine behind the HTTP API: pins snapshots, plans and runs queries, group-commits
/// writes. It knows nothing of HTTP; it takes and returns JSON values and throws
/// `LagoonError`s.
public final class Engine: Sendable {
    public let manifests: ManifestStore
    public let options: EngineOptions
    let executor = QueryExecutor()
    private let replicas = Mutex<[String: NamespaceReplica]>([:])
    private let committers = Mutex<[String: GroupCommitter]>([:])
    private let memoryBudget: ReplicaMemoryBudget?

    public init(store: any ObjectStore, options: EngineOptions = EngineOptions()) {
        self.options = options
        // A node with a disk cache remembers the newest manifests it read there (one round
        // trip fewer for its first read of a namespace after a restart).
        manifests = ManifestStore(store: store, prefix: options.prefix, memo: (store as? CachedStore)?.disk)
        memoryBudget = options.memoryBytes.map(ReplicaMemoryBudget.init(capacity:))
    }

    /// Bytes of namespace state this engine holds in memory (what `memoryBytes` bounds).
    public var residentBytes: Int { replicas.withLock { $0.values.reduce(0) { $0 + $1.residentBytes } } }

    /// After a query of `namespace`: evicts least recently used other namespaces while the
    /// total is over the memory budget.
    func enforceMemoryBudget(keeping namespace: String) async {
        guard let memoryBudget else { return }
        memoryBudget.touch(namespace)
        let all = replicas.withLock { $0 }
        for (name, replica) in memoryBudget.victims(all, keeping: namespace) {
            await replica.evict()
            memoryBudget.forget(name)
            forgetIfUnused(name, replica)
        }
    }

    // MARK: Namespaces

    func replica(_ namespace: String) -> NamespaceReplica {
        replicas.withLock { all in
            if let existing = all[namespace] { return existing }
            let created = NamespaceReplica(namespace: namespace, manifests: manifests, pollInterval: options.pollInterval)
            all[namespace] = created
            return created
        }
    }

    /// Namespaces this engine holds state for (replicas).
    public var residentNamespaces: Int { replicas.withLock { $0.count } }

    /// Drops the replica of a name that does not exist (no committer uses it), so queries for
    /// names that never existed leave no state behind.
    func forgetIfUnused(_ namespace: String, _ replica: NamespaceReplica) {
        let writing = committers.withLock { $0[namespace] != nil }
        guard !writing else { return }
        replicas.withLock { all in
            if all[namespace] === replica { all[namespace] = nil }
        }
    }

    func committer(_ namespace: String) -> GroupCommitter {
        let replica = replica(namespace)
        return committers.withLock { all in
            if let existing = all[namespace] { return existing }
            let created = GroupCommitter(namespace: namespace, manifests: manifests, replica: replica, maxAttempts: options.maxCommitAttempts,
                                         maxQueuedBytes: options.maxQueuedWriteBytes, maxUnindexedBytes: options.indexer.maxUnindexedBytes)
            all[namespace] = created
            return created
        }
    }

    static func checkName(_ namespace: String) throws {
        guard NamespaceLayout.isValidName(namespace) else {
            throw LagoonError(.badRequest, "invalid namespace name \"\(namespace)\": use 1-128 characters of A-Z a-z 0-9 - _ .")
        }
    }

    /// The newest (or eventual, or historical) snapshot; 404 when the namespace does not exist.
    public func snapshot(_ namespace: String, consistency: ConsistencyLevel = .strong, asOf: UInt64? = nil) async throws -> Snapshot {
        try await pin(namespace, consistency: consistency, asOf: asOf).snapshot
    }

    /// Pins a snapshot and reports how many WAL entries were read from the store for it,
    /// which is what the query response's cache figures describe.
    func pin(_ namespace: String, consistency: ConsistencyLevel, asOf: UInt64?,
             prefetch: NamespaceReplica.Prefetch? = nil) async throws -> (snapshot: Snapshot, loadedEntries: Int) {
        try Self.checkName(namespace)
        let replica = replica(namespace)
        if let asOf {
            let snapshot: Snapshot?
            do {
                snapshot = try await replica.snapshot(asOf: asOf)
            } catch let error as StoreError where error.code == .notFound {
                // A version of a deleted earlier incarnation: its WAL objects are gone.
                throw LagoonError(.notFound, "namespace \(namespace) version \(asOf) is no longer readable")
            }
            guard let snapshot, !snapshot.manifest.isDeleted else { throw LagoonError(.notFound, "namespace \(namespace) has no version \(asOf)") }
            return (snapshot, snapshot.manifest.wal.count)
        }
        let (snapshot, loaded) = try await replica.snapshotCountingLoads(strong: consistency == .strong, prefetch: prefetch)
        guard let snapshot, !snapshot.manifest.isDeleted else {
            forgetIfUnused(namespace, replica)
            throw LagoonError(.notFound, "namespace \(namespace) not found")
        }
        return (snapshot, loaded)
    }

    // MARK: Writes

    /// Validates, resolves and durably commits one write body.
    public func write(_ namespace: String, body: JSONValue) async throws -> WriteOutcome {
        try Self.checkName(namespace)
        if let object = body.objectValue {
            if let source = object["branch_from_namespace"] {
                return try await branch(namespace, from: try Self.sourceName(source, object, key: "branch_from_namespace"))
            }
            if let source = object["copy_from_namespace"] {
                return try await copy(namespace, from: try Self.sourceName(source, object, key: "copy_from_namespace"))
            }
        }
        let committer = committer(namespace)
        // Decode outside the committer so it runs in parallel with commits in flight; the
        // committer re-decodes only if the namespace config changed meanwhile.
        let hint = committer.configHint
        let predecoded = (try? WriteRequestDecoder.decode(body, config: hint)).map { (config: hint, request: $0) }
        return try await committer.submit(body, predecoded: predecoded)
    }

    static func sourceName(_ json: JSONValue, _ body: JSONObject, key: String) throws -> String {
        guard body.count == 1 else { throw LagoonError.invalid(key, "cannot be combined with other write options") }
        let name = json.stringValue ?? json.objectValue?["source_namespace"]?.stringValue
        guard let name else { throw LagoonError.invalid(key, "must be a namespace name or {\"source_namespace\": name}") }
        try checkName(name)
        return name
    }

    /// Fails unless the destination of a branch or copy does not exist (or was deleted);
    /// returns the newest version number under the name (a tombstone's, or 0).
    @discardableResult
    func requireAbsent(_ namespace: String) async throws -> UInt64 {
        guard let existing = try await replica(namespace).snapshot(strong: true) else { return 0 }
        guard existing.manifest.isDeleted else {
            throw LagoonError(.badRequest, "namespace \(namespace) already exists; branch or copy into a new namespace")
        }
        return existing.manifest.version
    }

    /// Copy-on-write branch: the new namespace's first manifest references the source's
    /// WAL entries (O(1) in the data size); writes then diverge.
    func branch(_ namespace: String, from source: String) async throws -> WriteOutcome {
        let parent = try await snapshot(source).manifest
        let previousVersion = try await requireAbsent(namespace)
        let owners = manifests.owners(of: parent).union([source])
        for owner in owners {
            try await manifests.addBranchReference(owner: owner, branch: namespace)
        }
        // A parent delete checks for markers only after its tombstone commits. Re-checking
        // the parent after writing ours closes the race: either we see its tombstone and
        // stop, or its delete sees our marker and keeps the WAL objects we reference.
        guard let current = try await manifests.latest(source, atLeast: parent.version), !current.isDeleted else {
            for owner in owners { try await manifests.store.delete(manifests.layout(owner).branchReferenceKey(namespace)) }
            throw LagoonError(.notFound, "namespace \(source) was deleted while branching from it")
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var manifest = Manifest(
            namespace: namespace, version: previousVersion + 1, createdAtMillis: now, updatedAtMillis: now, config: parent.config,
            wal: parent.wal, nextSeq: parent.nextSeq, indexedThroughSeq: parent.indexedThroughSeq,
            rowCount: parent.rowCount, logicalBytes: parent.logicalBytes, commitToken: UUID().uuidString.lowercased())
        manifest.incarnation = Manifest.newIncarnation()
        // Segments are shared by key like WAL entries: the branch is O(1) whatever its size.
        manifest.segments = parent.segments
        try await manifests.registerNamespace(namespace)
        guard try await manifests.commit(manifest) == .committed else {
            throw LagoonError(.conflict, "namespace \(namespace) was created concurrently")
        }
        try await manifests.registerNamespace(namespace)  // see ManifestStore.unregisterNamespace
        await manifests.advanceHint(namespace, to: manifest.version)
        await replica(namespace).reset()
        return WriteOutcome()
    }

    /// Physical copy: the source's live documents become the first write of the destination,
    /// one WAL entry however many documents there are.
    func copy(_ namespace: String, from source: String) async throws -> WriteOutcome {
        let snapshot = try await snapshot(source)
        try await requireAbsent(namespace)
        try await snapshot.view.load(.everything, store: manifests.store)
        var documents: [Document] = []
        documents.reserveCapacity(snapshot.view.liveCount)
        for source in snapshot.view.sources {
            for row in 0..<source.rowCount where source.isVisible(row) { documents.append(try source.document(row: row)) }
        }
        // Built, not decoded: the documents were validated when the source accepted them.
        // The committer uses it only while the destination is still empty; if it was
        // created meanwhile, the empty body is re-decoded and rejected.
        let request = WriteRequest(config: snapshot.manifest.config, upserts: documents)
        var outcome = try await committer(namespace).submit(.null, predecoded: (config: NamespaceConfig(), request: request),
                                                            bytes: snapshot.manifest.logicalBytes)
        outcome.upserted = []
        return outcome
    }

    /// Applies a bare schema map (POST /v1/namespaces/{ns}/schema) and returns the new schema.
    public func updateSchema(_ namespace: String, body: JSONValue) async throws -> JSONValue {
        _ = try await write(namespace, body: .object(JSONObject([("schema", body)])))
        return try await schema(namespace)
    }

    // MARK: Queries

    public func query(_ namespace: String, body: JSONValue) async throws -> JSONValue {
        let started = ContinuousClock.now
        let trace = ReadTrace()
        let (peek, rows, result, executionNanos) = try await ReadTrace.$current.withValue(trace) { try await droppingDamaged(namespace) {
            let (peek, _) = try await pin(namespace, consistency: Self.consistency(of: body), asOf: Self.asOf(of: body),
                                          prefetch: Self.prefetch(body, multi: false))
            let query = try QueryDecoder.decode(body, config: peek.manifest.config)
            let (rows, result, executionNanos) = try await run(query, on: peek)
            return (peek, rows, result, executionNanos)
        } }
        await enforceMemoryBudget(keeping: namespace)
        return .object(JSONObject([
            ("rows", .array(rows)),
            ("billing", ResponseBuilder.billing(peek, returned: 0)),
            ("performance", ResponseBuilder.performance(peek, exhaustive: result.exhaustiveCount, executionNanos: executionNanos,
                                                        totalNanos: Self.nanos(since: started), io: trace.figures)),
        ]))
    }

    /// Runs a read of the namespace. Damaged bytes met on the way (a local copy failing its
    /// checksum: the reader reported it, and a cache dropped its copy) also drop what this node
    /// holds of the namespace, so the next read opens it again from the store.
    private func droppingDamaged<T>(_ namespace: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FormatError where error.code == .corrupt {
            await replica(namespace).evict()
            throw error
        }
    }

    /// The segment parts the query (or queries) of a body will read, once the namespace
    /// config is known: a cold open fetches them with the segments' meta and ids.
    static func prefetch(_ body: JSONValue, multi: Bool) -> NamespaceReplica.Prefetch {
        { config in
            guard multi else { return (try? QueryDecoder.decode(body, config: config)).map { QueryParts.needed($0, config: config) } }
            guard let queries = try? QueryDecoder.decodeMulti(body, config: config).queries, let first = queries.first else { return nil }
            return queries.dropFirst().reduce(into: QueryParts.needed(first, config: config)) { $0.formUnion(QueryParts.needed($1, config: config)) }
        }
    }

    public func multiQuery(_ namespace: String, body: JSONValue) async throws -> JSONValue {
        let trace = ReadTrace()
        let response = try await ReadTrace.$current.withValue(trace) {
            try await droppingDamaged(namespace) { try await multiQuery(namespace, body: body, trace: trace) }
        }
        await enforceMemoryBudget(keeping: namespace)
        return response
    }

    private func multiQuery(_ namespace: String, body: JSONValue, trace: ReadTrace) async throws -> JSONValue {
        let started = ContinuousClock.now
        let (snapshot, _) = try await pin(namespace, consistency: Self.consistency(of: body), asOf: Self.asOf(of: body),
                                          prefetch: Self.prefetch(body, multi: true))
        let request = try QueryDecoder.decodeMulti(body, config: snapshot.manifest.config)
        var results: [[JSONValue]] = []
        var exhaustive = 0
        var executionNanos: UInt64 = 0
        for query in request.queries {
            let (rows, result, nanos) = try await run(query, on: snapshot)
            results.append(rows)
            exhaustive += result.exhaustiveCount
            executionNanos += nanos
        }
        var resultObjects: [JSONValue]
        if let rrf = request.rerank {
            // Rows are keyed by their id's JSON text, compared by bytes (ids are unique within a
            // namespace, and canonically-equivalent strings are different ids).
            var rowsByID: [ByteString: JSONValue] = [:]
            let lists = results.map { rows in
                rows.compactMap { row -> ByteString? in
                    guard let id = row.objectValue?["id"] else { return nil }
                    let key = ByteString(String(decoding: JSONWriter.write(id), as: UTF8.self))
                    if rowsByID[key] == nil { rowsByID[key] = row }
                    return key
                }
            }
            let fused = ReciprocalRankFusion.fuse(lists, rankConstant: rrf.rankConstant, weights: rrf.weights)
            let limit = request.limit ?? request.queries.map(\.topK).max() ?? 10
            let rows: [JSONValue] = fused.prefix(limit).map { entry in
                var object = rowsByID[entry.id]?.objectValue ?? JSONObject()
                object["$dist"] = .double(entry.score)
                return .object(object)
            }
            resultObjects = [.object(JSONObject([("rows", .array(rows))]))]
        } else {
            resultObjects = results.map { .object(JSONObject([("rows", .array(Array($0.prefix(request.limit ?? $0.count))))])) }
        }
        return .object(JSONObject([
            ("results", .array(resultObjects)),
            ("billing", ResponseBuilder.billing(snapshot, returned: 0)),
            ("performance", ResponseBuilder.performance(snapshot, exhaustive: exhaustive, executionNanos: executionNanos,
                                                        totalNanos: Self.nanos(since: started), io: trace.figures)),
        ]))
    }

    /// The plan of a query (and, with `analyze: true`, what each operator did).
    /// With `analyze`, the answer also reports what the query read from each cache layer and
    /// in how many sequential bucket rounds (`io`, and a last line of `plan_text`), counting
    /// everything from pinning the snapshot to the end of execution.
    public func explain(_ namespace: String, body: JSONValue) async throws -> JSONValue {
        let analyze = body.objectValue?["analyze"] == .bool(true)
        let trace = ReadTrace()
        let (snapshot, plan, actuals) = try await ReadTrace.$current.withValue(trace) { try await droppingDamaged(namespace) {
            let (snapshot, _) = try await pin(namespace, consistency: Self.consistency(of: body), asOf: Self.asOf(of: body),
                                              prefetch: analyze ? Self.prefetch(body, multi: false) : nil)
            let query = try QueryDecoder.decode(body, config: snapshot.manifest.config)
            if let filter = query.filter {
                // The filter's estimate comes from the attribute indexes.
                var indexes = SegmentPartRequest()
                indexes.filterIndexes = filter.attributeNames
                try await snapshot.view.load(indexes, store: manifests.store)
            }
            let plan = try QueryPlanner.plan(query, statistics: statistics(snapshot, filter: query.filter))
            var actuals: [OperatorActuals]? = nil
            if analyze {
                try await snapshot.view.load(QueryParts.needed(query, config: snapshot.manifest.config), store: manifests.store)
                actuals = try executor.run(plan, context: snapshot.context).actuals
            }
            return (snapshot, plan, actuals)
        } }
        await enforceMemoryBudget(keeping: namespace)
        var text = PlanRenderer.text(plan, actuals: actuals)
        var object = JSONObject([("plan_text", .string(text)), ("plan", PlanRenderer.json(plan, actuals: actuals)),
                                 ("manifest_version", .int(Int64(snapshot.manifest.version)))])
        if analyze {
            let figures = trace.figures
            text += (text.hasSuffix("\n") ? "" : "\n") + ResponseBuilder.ioLine(figures)
            object["plan_text"] = .string(text)
            object["io"] = ResponseBuilder.io(figures)
        }
        return .object(object)
    }

    /// With `filter`, its matches are estimated from the attribute indexes (for `explain`;
    /// plans' shapes do not depend on it, operators decide from exact counts at run time).
    func statistics(_ snapshot: Snapshot, filter: FilterExpression? = nil) -> SnapshotStatistics {
        let view = snapshot.view
        let vectors = view.segments.reduce(view.tail.vectors == nil ? 0 : view.tail.liveCount) {
            $0 + ($1.segment.hasVectors ? $1.visibleCount : 0)
        }
        var statistics = SnapshotStatistics(liveRows: view.liveCount, config: snapshot.manifest.config, unindexedVectors: vectors,
                                            segments: view.segments.map { SnapshotStatistics.Source(rows: $0.visibleCount) },
                                            tailRows: view.tail.liveCount)
        statistics.indexedVectors = view.segments.reduce(0) { $0 + ($1.segment.hasVectorIndex ? $1.visibleCount : 0) }
        statistics.annRecallTarget = options.annRecallTarget
        statistics.filterMatches = filter.map { FilterSelectivity.estimate($0, sources: snapshot.context.sources, config: snapshot.manifest.config) }
        return statistics
    }

    /// Loads the segment parts the query reads, then plans and executes it.
    func run(_ query: QueryRequest, on snapshot: Snapshot) async throws -> ([JSONValue], ExecutionResult, UInt64) {
        let started = ContinuousClock.now
        try await snapshot.view.load(QueryParts.needed(query, config: snapshot.manifest.config), store: manifests.store)
        let plan = try QueryPlanner.plan(query, statistics: statistics(snapshot))
        let context = snapshot.context
        let result = try executor.run(plan, context: context)
        let rows = try result.rows.map {
            try ResponseBuilder.row($0, sources: context.sources, selection: query.attributes, base64: query.vectorsAsBase64)
        }
        return (rows, result, Self.nanos(since: started))
    }

    /// ANN recall against exhaustive search on `num` sampled documents' own vectors.
    public func recall(_ namespace: String, body: JSONValue) async throws -> JSONValue {
        let snapshot = try await snapshot(namespace)
        let object = body.objectValue ?? JSONObject()
        for key in ["num", "top_k"] {
            if let value = object[key], value != .null, value.intValue == nil {
                throw LagoonError.invalid(key, "must be an integer, got \(value.kindName)")
            }
        }
        let num = Int(object["num"]?.intValue ?? 20)
        let topK = Int(object["top_k"]?.intValue ?? 10)
        guard (1...1000).contains(num) else { throw LagoonError.invalid("num", "must be from 1 to 1000") }
        guard (1...QueryDecoder.maxTopK).contains(topK) else { throw LagoonError.invalid("top_k", "must be from 1 to \(QueryDecoder.maxTopK)") }
        let filter = try object["filters"].map { try FilterExpression.decode($0, at: JSONPath("filters"), config: snapshot.manifest.config) }
        var probe = QueryRequest()
        probe.filter = filter
        probe.rankBy = .vector(mode: .knn, query: [])
        try await snapshot.view.load(QueryParts.needed(probe, config: snapshot.manifest.config), store: manifests.store)
        let context = snapshot.context
        var candidates: [RowReference] = []
        for (index, source) in context.sources.enumerated() {
            for row in 0..<source.rowCount where source.isVisible(row) && source.hasVector(row: row) {
                candidates.append(RowReference(source: index, row: row))
            }
        }
        guard !candidates.isEmpty else {
            return .object(JSONObject([("avg_recall", .double(1)), ("avg_ann_count", .double(0)), ("avg_exhaustive_count", .double(0))]))
        }
        var generator = SystemRandomNumberGenerator()
        var recallSum = 0.0, annCount = 0, exactCount = 0
        for _ in 0..<num {
            let reference = candidates.randomElement(using: &generator)!
            let vector = try context.sources[reference.source].vector(row: reference.row)!
            var query = QueryRequest()
            query.topK = topK
            query.filter = filter
            query.rankBy = .vector(mode: .ann, query: vector)
            let ann = try executor.run(QueryPlanner.plan(query, statistics: statistics(snapshot)), context: context).rows.map { RowReference(source: $0.source, row: $0.row) }
            query.rankBy = .vector(mode: .knn, query: vector)
            let exact = try executor.run(QueryPlanner.plan(query, statistics: statistics(snapshot)), context: context).rows.map { RowReference(source: $0.source, row: $0.row) }
            annCount += ann.count
            exactCount += exact.count
            recallSum += exact.isEmpty ? 1 : Double(Set(ann).intersection(exact).count) / Double(exact.count)
        }
        return .object(JSONObject([
            ("avg_recall", .double(recallSum / Double(num))),
            ("avg_ann_count", .double(Double(annCount) / Double(num))),
            ("avg_exhaustive_count", .double(Double(exactCount) / Double(num))),
        ]))
    }

    // MARK: Metadata

    public func metadata(_ namespace: String) async throws -> JSONValue {
        let snapshot = try await snapshot(namespace)
        let manifest = snapshot.manifest
        let unindexedBytes = manifest.unindexedBytes
        // Up to date means every index is built: a segment whose vectors still await their IVF
        // index (flushes leave training to the quiet-time compaction) is scanned exactly meanwhile.
        let awaitingVectorIndex = snapshot.view.segments.filter { Self.awaitsVectorIndex($0.segment) }.count
        let index: JSONValue = unindexedBytes == 0 && awaitingVectorIndex == 0
            ? .object(JSONObject([("status", .string("up-to-date"))]))
            : .object(JSONObject([("status", .string("updating")), ("unindexed_bytes", .int(Int64(unindexedBytes))),
                                  ("unindexed_rows", .int(Int64(manifest.wal.reduce(0) { $0 + ($1.seq > manifest.indexedThroughSeq ? $1.events : 0) }))),
                                  ("segments_awaiting_vector_index", .int(Int64(awaitingVectorIndex)))]))
        return .object(JSONObject([
            ("approx_logical_bytes", .int(Int64(manifest.logicalBytes))),
            ("approx_row_count", .int(Int64(manifest.rowCount))),
            ("created_at", .string(ResponseBuilder.iso8601(manifest.createdAtMillis))),
            ("updated_at", .string(ResponseBuilder.iso8601(manifest.updatedAtMillis))),
            ("encryption", .object(JSONObject([("mode", .string("default"))]))),
            ("index", index),
            ("schema", ResponseBuilder.schema(manifest.config)),
            ("manifest_version", .int(Int64(manifest.version))),
        ]))
    }

    public func schema(_ namespace: String) async throws -> JSONValue {
        ResponseBuilder.schema(try await snapshot(namespace).manifest.config)
    }

    /// Manifest versions of the current incarnation, newest first: version, commit time,
    /// WAL sequence range, live rows and what changed (`GET /v1/namespaces/{ns}/history`).
    /// Each listed version can be queried with `as_of`.
    public func history(_ namespace: String, limit: Int) async throws -> JSONValue {
        var manifest: Manifest? = try await snapshot(namespace).manifest
        var versions: [JSONValue] = []
        while let current = manifest, versions.count < limit {
            let previous = current.version > 1 ? try await manifests.read(namespace, version: current.version - 1) : nil
            // A tombstone or another creation time marks an earlier incarnation of the name.
            let samePredecessor = previous.map { !$0.isDeleted && $0.isSameIncarnation(as: current) } ?? false
            let change: String
            if let entry = current.wal.last, entry.seq != (samePredecessor ? previous?.wal.last?.seq : nil) {
                change = "wal entry \(entry.seq): \(entry.events) events"
            } else {
                change = samePredecessor ? "config" : "created"
            }
            var seqRange: [JSONValue] = []
            if let first = current.wal.first, let last = current.wal.last { seqRange = [.int(Int64(first.seq)), .int(Int64(last.seq))] }
            versions.append(.object(JSONObject([
                ("version", .int(Int64(current.version))),
                ("committed_at", .string(ResponseBuilder.iso8601(current.updatedAtMillis))),
                ("seq_range", .array(seqRange)),
                ("row_count", .int(Int64(current.rowCount))),
                ("change", .string(change)),
            ])))
            manifest = samePredecessor ? previous : nil
        }
        return .object(JSONObject([("namespace", .string(namespace)), ("versions", .array(versions))]))
    }

    /// Throws unless the store answers (readiness: `ManifestStore.probe`).
    public func checkStore() async throws {
        try await manifests.probe()
    }

    public func listNamespaces(prefix: String, cursor: String?, pageSize: Int) async throws -> JSONValue {
        let page = try await manifests.listNamespaces(namePrefix: prefix, cursor: cursor, limit: pageSize)
        var object = JSONObject([("namespaces", .array(page.names.map { .object(JSONObject([("id", .string($0))])) }))])
        object["next_cursor"] = page.next.map { .string($0) } ?? .null
        return .object(object)
    }

    /// Deletes a namespace by committing a tombstone version (so a delete races writers
    /// through the same create-only step), then removes the data it leaves behind.
    ///
    /// Only manifests are read, never the WAL: a namespace whose data is damaged (a missing
    /// WAL object) can still be deleted. A name that is not live answers 404, after finishing
    /// whatever an earlier delete or an interrupted create left behind (a ghost catalog
    /// marker, WAL objects of the last deleted incarnation).
    public func deleteNamespace(_ namespace: String) async throws {
        try Self.checkName(namespace)
        for _ in 0..<options.maxCommitAttempts {
            guard let live = try await manifests.latest(namespace), !live.isDeleted else {
                try await finishInterruptedCleanup(namespace)
                throw LagoonError(.notFound, "namespace \(namespace) not found")
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let tombstone = live.tombstone(atMillis: now, commitToken: UUID().uuidString.lowercased())
            guard try await manifests.commit(tombstone) == .committed else { continue }
            await manifests.advanceHint(namespace, to: tombstone.version)
            await replica(namespace).reset()
            try await manifests.removeObjects(ofDeleted: namespace, tombstone: tombstone, lastLive: live)
            return
        }
        throw LagoonError(.conflict, "deleting \(namespace) lost \(options.maxCommitAttempts) commit races to concurrent writers; retry")
    }

    /// Cleanup for a name that is not live: removes a ghost catalog marker and, when the
    /// newest version is a tombstone, repeats its (idempotent) cleanup.
    func finishInterruptedCleanup(_ namespace: String) async throws {
        let newest = try await manifests.latest(namespace)
        if let tombstone = newest, tombstone.isDeleted, tombstone.version > 1 {
            let lastLive = try? await manifests.read(namespace, version: tombstone.version - 1)
            try await manifests.removeObjects(ofDeleted: namespace, tombstone: tombstone,
                                              lastLive: lastLive?.isDeleted == false ? lastLive : nil)
        } else {
            try await manifests.unregisterNamespace(namespace)
        }
    }

    /// `hint_cache_warm`: loads the namespace's state and every segment part a query may read
    /// (vectors, IVF lists, columns, text indexes), so they pass through the disk cache (on
    /// S3) into memory and the next queries find them there; then keeps memory within the
    /// budget.
    public func warm(_ namespace: String) async throws {
        let everything: NamespaceReplica.Prefetch = { Self.everyPart($0) }
        let (snapshot, _) = try await pin(namespace, consistency: .strong, asOf: nil, prefetch: everything)
        // A warmed namespace is pinned on disk (up to `[cache] max_pinned_bytes`; what is
        // cached already and what comes later), so other namespaces' reads do not push it out.
        if let cached = manifests.store as? CachedStore {
            try await cached.pin(keyPrefix: manifests.layout(namespace).root)
        }
        try await snapshot.view.load(Self.everyPart(snapshot.manifest.config), store: manifests.store)
        await enforceMemoryBudget(keeping: namespace)
    }

    /// Every part of a segment under the namespace config.
    static func everyPart(_ config: NamespaceConfig) -> SegmentPartRequest {
        var request = SegmentPartRequest.everything
        request.vectorIndex = true
        for (name, attribute) in config.schema { if let fts = attribute.fullTextSearch { request.textIndexes[name] = fts } }
        return request
    }

    // MARK: Indexing

    /// Folds the namespace's tail into a segment (whatever its size) and compacts when enough
    /// segments exist. Returns whether anything was published.
    @discardableResult
    public func indexNow(_ namespace: String) async throws -> Bool {
        try await index(namespace, force: true)
    }

    /// One indexer pass over a namespace: flush when the tail is over the byte threshold, or
    /// older than the flush interval, or when forced; then compact.
    func index(_ namespace: String, force: Bool) async throws -> Bool {
        let replica = replica(namespace)
        let indexer = Indexer(manifests: manifests, maxAttempts: options.maxCommitAttempts,
                              flushVectorIndexMinRows: options.indexer.flushVectorIndexMinRows)
        guard let snapshot = try await replica.snapshot(strong: true), !snapshot.manifest.isDeleted else { return false }
        var published = false
        let manifest = snapshot.manifest
        let due = force || manifest.unindexedBytes >= options.indexer.flushBytes
            || manifest.wal.count >= options.indexer.flushEntries
            || (manifest.unindexedBytes > 0 && Self.age(of: manifest) >= options.indexer.flushInterval)
        if due, case (.published, _) = try await indexer.flush(snapshot) {
            published = true
        }
        if published, options.retainVersions > 0, let newest = try await replica.snapshot(strong: true)?.manifest.version {
            try await manifests.pruneVersions(namespace, newest: newest, keep: options.retainVersions)
        }
        // Compaction, at most one per pass.
        if let fresh = try await replica.snapshot(strong: true), !fresh.manifest.isDeleted {
            let segments = fresh.view.segments
            let inputs = Self.compactionInputs(
                segments: segments.count, tailEmpty: fresh.manifest.wal.isEmpty,
                awaitingVectorIndex: segments.contains { Self.awaitsVectorIndex($0.segment) },
                busy: !force && !fresh.manifest.wal.isEmpty && Self.age(of: fresh.manifest) < options.indexer.flushInterval,
                fanIn: options.indexer.compactionFanIn)
            if inputs > 0, case (.published, _) = try await indexer.compact(fresh, fanIn: inputs) {
                published = true
            }
        }
        if published { _ = try await replica.snapshot(strong: true) }  // warm the new version
        return published
    }

    /// While a namespace is being written, count-triggered compaction waits until this many
    /// times `compactionFanIn` segments exist.
    static let busyCompactionLimit = 4

    /// How many of the oldest segments one compaction merges (0: none). When quiet (no tail)
    /// and some segments have vectors without an IVF index (flushes leave training to
    /// compaction), all of them, so one training covers them. Otherwise `fanIn` once that many
    /// exist, but not while writes keep arriving (`busy`) until `busyCompactionLimit` times as
    /// many do: a merge rebuilds every index of its inputs, work that would take the core from
    /// the writes, on rows that the next flushes' overwrites may kill anyway.
    static func compactionInputs(segments: Int, tailEmpty: Bool, awaitingVectorIndex: Bool, busy: Bool, fanIn: Int) -> Int {
        if tailEmpty && awaitingVectorIndex { return segments }
        return segments >= (busy ? busyCompactionLimit * fanIn : fanIn) ? fanIn : 0
    }

    /// A segment with enough vectors to train an IVF index that has none.
    static func awaitsVectorIndex(_ segment: Segment) -> Bool {
        segment.hasVectors && !segment.hasVectorIndex && segment.vectorCountLowerBound >= IVFBuildOptions().minimumVectors
    }

    /// How long the namespace has been quiet: a tail is flushed once writes pause for the
    /// flush interval (a busy namespace flushes on bytes or entry count instead).
    static func age(of manifest: Manifest) -> Duration {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return .milliseconds(max(0, now - manifest.updatedAtMillis))
    }

    /// Runs the indexer until cancelled: every `interval` one pass over the namespaces this
    /// node has written to or read, plus every namespace in the store's catalog (listed again
    /// every `discoverEvery`), so tails left by a restart or written by other nodes get
    /// indexed too. This is the embedded indexer of `serve` and the whole of `lagoon worker`.
    /// Several of them on one store are safe: a lost publish race rebases or gives up
    /// (`Indexer`). Errors are reported per namespace and never end the loop.
    public func runIndexer(every interval: Duration = .milliseconds(500), discoverEvery: Duration = .seconds(10),
                           logError: @Sendable (String, any Error) -> Void = { _, _ in }) async {
        var catalog: [String] = []
        var discoveredAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            if discoveredAt.map({ ContinuousClock.now - $0 >= discoverEvery }) ?? true {
                do {
                    catalog = try await catalogNamespaces()
                    discoveredAt = .now
                } catch {
                    if Task.isCancelled { return }
                    logError("(catalog)", error)
                }
            }
            let touched = replicas.withLock { Array($0.keys) }
            for name in Set(touched).union(catalog).sorted() where !Task.isCancelled {
                do {
                    // A cheap look first (an eventual read: at most one store request per poll
                    // interval): most namespaces have no tail and few segments most of the time.
                    guard let seen = try await replica(name).snapshot(strong: false), !seen.manifest.isDeleted,
                          seen.manifest.unindexedBytes > 0 || seen.manifest.segmentList.count >= options.indexer.compactionFanIn
                            || seen.view.segments.contains(where: { Self.awaitsVectorIndex($0.segment) }) else { continue }
                    if try await index(name, force: false) { ReleaseFreedMemory.now() }
                } catch {
                    if Task.isCancelled { return }  // a cancelled store call, not a failure
                    logError(name, error)
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Every live namespace in the catalog, all pages.
    func catalogNamespaces() async throws -> [String] {
        var names: [String] = []
        var cursor: String?
        repeat {
            let page = try await manifests.listNamespaces(namePrefix: "", cursor: cursor, limit: 1000)
            names += page.names
            cursor = page.next
        } while cursor != nil
        return names
    }

    // MARK: Helpers

    static func consistency(of body: JSONValue) -> ConsistencyLevel {
        body.objectValue?["consistency"]?.objectValue?["level"]?.stringValue == "eventual" ? .eventual : .strong
    }

    static func asOf(of body: JSONValue) -> UInt64? {
        body.objectValue?["as_of"]?.intValue.flatMap { $0 > 0 ? UInt64($0) : nil }
    }

    static func nanos(since start: ContinuousClock.Instant) -> UInt64 {
        (ContinuousClock.now - start).nanoseconds
    }
}
