public import Exec
import Foundation
public import Hummingbird
import Log
import NIOCore
import Planner

/// The HTTP routes: the turbopuffer v2 data plane plus Lagoon's extensions (API.md).
public struct Routes: Sendable {
    let engine: Engine
    let maxBodyBytes: Int
    let metrics: Metrics

    public init(engine: Engine, maxBodyBytes: Int, metrics: Metrics) {
        self.engine = engine
        self.maxBodyBytes = maxBodyBytes
        self.metrics = metrics
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/healthz") { _, _ in JSONResponse.ok(.object(JSONObject([("status", .string("ok"))]))) }
        router.get("/readyz") { _, _ in
            _ = try await engine.listNamespaces(prefix: "", cursor: nil, pageSize: 1)
            return JSONResponse.ok(.object(JSONObject([("status", .string("ready"))])))
        }

        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }

        router.post("/v2/namespaces/:namespace") { request, context in
            let body = try await readJSON(request)
            let namespace = try context.parameters.require("namespace")
            let started = ContinuousClock.now
            let outcome = try await engine.write(namespace, body: body)
            return JSONResponse.ok(Self.writeResponse(outcome, started: started))
        }
        router.post("/v2/namespaces/:namespace/query") { request, context in
            let body = try await readJSON(request)
            let namespace = try context.parameters.require("namespace")
            if request.uri.queryParameters["stainless_overload"] == "multiQuery" || body.objectValue?["queries"] != nil {
                return JSONResponse.ok(try await engine.multiQuery(namespace, body: body))
            }
            return JSONResponse.ok(try await engine.query(namespace, body: body))
        }
        router.post("/v2/namespaces/:namespace/explain_query") { request, context in
            let body = try await readJSON(request)
            return JSONResponse.ok(try await engine.explain(try context.parameters.require("namespace"), body: body))
        }
        router.delete("/v2/namespaces/:namespace") { _, context in
            try await engine.deleteNamespace(try context.parameters.require("namespace"))
            return JSONResponse.ok(.object(JSONObject([("status", .string("OK"))])))
        }
        router.get("/v2/namespaces/:namespace/metadata") { _, context in
            JSONResponse.ok(try await engine.metadata(try context.parameters.require("namespace")))
        }
        router.get("/v1/namespaces/:namespace/schema") { _, context in
            JSONResponse.ok(try await engine.schema(try context.parameters.require("namespace")))
        }
        router.post("/v1/namespaces/:namespace/schema") { request, context in
            let body = try await readJSON(request)
            return JSONResponse.ok(try await engine.updateSchema(try context.parameters.require("namespace"), body: body))
        }
        router.get("/v1/namespaces") { request, _ in
            let query = request.uri.queryParameters
            let pageSize = query["page_size"].flatMap { Int(String($0)) } ?? 100
            guard (1...1000).contains(pageSize) else {
                throw LagoonError.invalid("page_size", "must be from 1 to 1000")
            }
            let cursor = query["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            return JSONResponse.ok(try await engine.listNamespaces(prefix: query["prefix"].map(String.init) ?? "", cursor: cursor, pageSize: pageSize))
        }
        router.get("/v1/namespaces/:namespace/history") { request, context in
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) } ?? 100
            guard (1...10_000).contains(limit) else { throw LagoonError.invalid("limit", "must be from 1 to 10000") }
            return JSONResponse.ok(try await engine.history(try context.parameters.require("namespace"), limit: limit))
        }
        router.post("/v1/namespaces/:namespace/_debug/recall") { request, context in
            let body = try await readJSON(request, allowEmpty: true)
            return JSONResponse.ok(try await engine.recall(try context.parameters.require("namespace"), body: body))
        }
        router.get("/v1/namespaces/:namespace/hint_cache_warm") { _, context in
            try await engine.warm(try context.parameters.require("namespace"))
            return JSONResponse.ok(.object(JSONObject([("status", .string("ACCEPTED")), ("message", .string("namespace loaded"))])))
        }
    }

    /// Reads the body (gunzipping when asked) and parses it as JSON.
    func readJSON(_ request: Request, allowEmpty: Bool = false) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        var bytes = Array(buffer.readableBytesView)
        if let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" {
            guard encoding == "gzip" else { throw LagoonError(.badRequest, "unsupported Content-Encoding \(encoding); use gzip or none") }
            do {
                bytes = try Gzip.decompress(bytes, limit: maxBodyBytes)
            } catch let failure as Gzip.Failure {
                if failure.message.contains("exceeds") { throw LagoonError(.tooLarge, failure.message) }
                throw LagoonError(.badRequest, failure.message)
            }
        }
        if bytes.isEmpty {
            if allowEmpty { return .object(JSONObject()) }
            throw LagoonError(.badRequest, "the request needs a JSON body")
        }
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
