public import Exec
import Foundation
public import Hummingbird
import Log
import NIOCore
import Planner
import Synchronization

/// The HTTP routes: the turbopuffer v2 data plane plus Lagoon's extensions (API.md).
/// Every route is registered through `on`, which enforces its row of RouteTable; CPU-heavy
/// handlers run their decoding and engine work through the `WorkScheduler`.
public struct Routes: Sendable {
    public typealias Context = LagoonRequestContext
    let engine: Engine
    let limits: ServerLimits
    let metrics: Metrics
    let scheduler: WorkScheduler
    let budget: RequestBytesBudget
    let warming: BackgroundWarmer

    public init(engine: Engine, limits: ServerLimits, metrics: Metrics) {
        self.engine = engine
        self.limits = limits
        self.metrics = metrics
        scheduler = WorkScheduler(threads: limits.queryThreads, queue: limits.queryQueue, timeout: limits.queryTimeout)
        budget = RequestBytesBudget(limit: limits.maxInflightRequestBytes)
        warming = BackgroundWarmer(engine: engine, executor: scheduler.executor)
    }

    public func register(on router: Router<Context>) {
        on(router, .get, "/healthz") { _, _ in JSONResponse.ok(.object(JSONObject([("status", .string("ok"))]))) }
        on(router, .get, "/readyz") { _, _ in
            try await engine.checkStore()
            return JSONResponse.ok(.object(JSONObject([("status", .string("ready"))])))
        }
        on(router, .get, "/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }

        on(router, .post, "/v2/namespaces/:namespace") { request, context in
            let namespace = try context.parameters.require("namespace")
            return try await withBody(request) { bytes in
                // Writes get no time budget: a write cut off mid-commit could still commit.
                try await scheduler.run(timed: false) {
                    let started = ContinuousClock.now
                    let outcome = try await engine.write(namespace, body: try Self.parse(bytes))
                    return JSONResponse.ok(Self.writeResponse(outcome, started: started))
                }
            }
        }
        on(router, .post, "/v2/namespaces/:namespace/query") { request, context in
            let namespace = try context.parameters.require("namespace")
            let multi = request.uri.queryParameters["stainless_overload"] == "multiQuery"
            return try await withBody(request) { bytes in
                try await scheduler.run {
                    let body = try Self.parse(bytes)
                    if multi || body.objectValue?["queries"] != nil {
                        return JSONResponse.ok(try await engine.multiQuery(namespace, body: body))
                    }
                    return JSONResponse.ok(try await engine.query(namespace, body: body))
                }
            }
        }
        on(router, .post, "/v2/namespaces/:namespace/explain_query") { request, context in
            let namespace = try context.parameters.require("namespace")
            let role = context.role
            return try await withBody(request) { bytes in
                try await scheduler.run {
                    let body = try Self.parse(bytes)
                    if case .bool(true)? = body.objectValue?["analyze"] {
                        try Self.require(RouteTable.explainAnalyzeRole, role, "explain_query with analyze")
                    }
                    return JSONResponse.ok(try await engine.explain(namespace, body: body))
                }
            }
        }
        for version in ["v1", "v2"] {
            // The 1.x SDKs use /v1 for both; the 2.x+ SDKs use /v2.
            on(router, .delete, "/\(version)/namespaces/:namespace") { _, context in
                try await engine.deleteNamespace(try context.parameters.require("namespace"))
                return JSONResponse.ok(.object(JSONObject([("status", .string("OK"))])))
            }
            on(router, .get, "/\(version)/namespaces/:namespace/metadata") { _, context in
                JSONResponse.ok(try await engine.metadata(try context.parameters.require("namespace")))
            }
        }
        on(router, .get, "/v1/namespaces/:namespace/schema") { _, context in
            JSONResponse.ok(try await engine.schema(try context.parameters.require("namespace")))
        }
        on(router, .post, "/v1/namespaces/:namespace/schema") { request, context in
            let namespace = try context.parameters.require("namespace")
            return try await withBody(request) { bytes in
                try await scheduler.run(timed: false) {
                    JSONResponse.ok(try await engine.updateSchema(namespace, body: try Self.parse(bytes)))
                }
            }
        }
        on(router, .get, "/v1/namespaces") { request, _ in
            let query = request.uri.queryParameters
            let pageSize = query["page_size"].flatMap { Int(String($0)) } ?? 100
            guard (1...1000).contains(pageSize) else {
                throw LagoonError.invalid("page_size", "must be from 1 to 1000")
            }
            // Both only ever hold (part of) a namespace name; checked here so that no other
            // string reaches the object store's listing as a key prefix.
            let prefix = query["prefix"].map(String.init) ?? ""
            guard prefix.isEmpty || prefix == "." || prefix == ".." || NamespaceLayout.isValidName(prefix) else {
                throw LagoonError.invalid("prefix", "must be up to 128 characters of A-Z a-z 0-9 - _ . (namespace names have no others)")
            }
            let cursor = query["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            if let cursor, !NamespaceLayout.isValidName(cursor) {
                throw LagoonError.invalid("cursor", "must be a next_cursor of an earlier page (a namespace name)")
            }
            return JSONResponse.ok(try await engine.listNamespaces(prefix: prefix, cursor: cursor, pageSize: pageSize))
        }
        on(router, .get, "/v1/namespaces/:namespace/history") { request, context in
            let namespace = try context.parameters.require("namespace")
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) } ?? 100
            guard (1...10_000).contains(limit) else { throw LagoonError.invalid("limit", "must be from 1 to 10000") }
            return try await scheduler.run { JSONResponse.ok(try await engine.history(namespace, limit: limit)) }
        }
        on(router, .post, "/v1/namespaces/:namespace/_debug/recall") { request, context in
            let namespace = try context.parameters.require("namespace")
            return try await withBody(request, allowEmpty: true) { bytes in
                try await scheduler.run {
                    let body = bytes.isEmpty ? JSONValue.object(JSONObject()) : try Self.parse(bytes)
                    return JSONResponse.ok(try await engine.recall(namespace, body: body))
                }
            }
        }
        on(router, .get, "/v1/namespaces/:namespace/hint_cache_warm") { _, context in
            let namespace = try context.parameters.require("namespace")
            guard NamespaceLayout.isValidName(namespace) else {
                throw LagoonError(.badRequest, "invalid namespace name \"\(namespace)\": use 1-128 characters of A-Z a-z 0-9 - _ .")
            }
            let started = warming.start(namespace)
            return JSONResponse.ok(.object(JSONObject([
                ("status", .string("ACCEPTED")),
                ("message", .string(started ? "warming started" : "warming already in progress")),
            ])), status: .accepted)
        }
    }

    /// Registers a handler behind its RouteTable row: the request's role must reach the
    /// row's role (else 403). A route missing from the table is a programming error.
    func on(_ router: Router<Context>, _ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        guard let access = RouteTable.access(method, path) else {
            preconditionFailure("route \(method) \(path) has no row in RouteTable")
        }
        router.on(RouterPath(path), method: method) { request, context in
            if case .role(let needed) = access { try Self.require(needed, context.role, "\(method) \(path)") }
            return try await handler(request, context)
        }
    }

    static func require(_ needed: Role, _ role: Role?, _ what: String) throws {
        guard let role else { throw HTTPFailure(.unauthorized, "missing Authorization: Bearer <api key>") }
        guard role >= needed else {
            throw HTTPFailure(.forbidden, "\(what) needs a key with role \(needed) or higher; this key's role is \(role)")
        }
    }

    /// Reads the body (gunzipping when asked) within the server-wide byte budget, runs
    /// `handle` on it and returns the budget when the handler has answered.
    func withBody(_ request: Request, allowEmpty: Bool = false,
                  _ handle: ([UInt8]) async throws -> Response) async throws -> Response {
        let reader = BodyReader(maxBodyBytes: limits.maxBodyBytes, budget: budget)
        defer { reader.releaseAll() }
        let bytes = try await reader.read(request)
        if bytes.isEmpty && !allowEmpty { throw LagoonError(.badRequest, "the request needs a JSON body") }
        return try await handle(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        guard !bytes.isEmpty else { throw LagoonError(.badRequest, "the request needs a JSON body") }
        return try JSONParser.parse(bytes)
    }

    static func writeResponse(_ outcome: WriteOutcome, started: ContinuousClock.Instant) -> JSONValue {
        var object = JSONObject([
            ("status", .string("OK")),
            ("message", .string("committed")),
            ("rows_affected", .int(Int64(outcome.rowsAffected))),
            ("rows_upserted", .int(Int64(outcome.upserted.count))),
            ("rows_patched", .int(Int64(outcome.patched.count))),
            ("rows_deleted", .int(Int64(outcome.deleted.count))),
            ("billing", .object(JSONObject([("billable_logical_bytes_written", .int(Int64(outcome.logicalBytesWritten)))]))),
        ])
        if outcome.returnAffectedIDs {
            func ids(_ list: [DocumentID]) -> JSONValue { .array(list.map(\.json)) }
            if !outcome.upserted.isEmpty { object["upserted_ids"] = ids(outcome.upserted) }
            if !outcome.patched.isEmpty { object["patched_ids"] = ids(outcome.patched) }
            if !outcome.deleted.isEmpty { object["deleted_ids"] = ids(outcome.deleted) }
        }
        let elapsed = (ContinuousClock.now - started).nanoseconds
        object["performance"] = .object(JSONObject([("server_total_ms", .int(Int64(elapsed / 1_000_000)))]))
        return .object(object)
    }
}
