import Exec
import Foundation
import HTTP
import Hummingbird
import HummingbirdTesting
import NIOCore
import Store
import Testing

/// In-process tests of the HTTP layer: routing, auth, error mapping, body limits, gzip.
@Suite struct RoutesTests {
    static func application(keys: APIKeys? = nil, maxBodyBytes: Int = 1 << 20) -> some ApplicationProtocol {
        let engine = Engine(store: MemoryStore())
        return Application(router: LagoonServer.router(engine: engine, keys: keys, maxBodyBytes: maxBodyBytes))
    }

    static let bearer: HTTPFields = [.authorization: "Bearer test", .contentType: "application/json"]

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func healthEndpointsNeedNoKey() async throws {
        try await Self.application().test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(health.status == .ok)
            #expect(ready.status == .ok)
        }
    }

    @Test func dataPlaneNeedsABearerToken() async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/v1/namespaces", method: .get)
            #expect(response.status == .unauthorized)
            #expect(try Self.json(response.body)["status"] as? String == "error")
        }
    }

    @Test func keysFileAcceptsOnlyItsKeys() async throws {
        let keys = APIKeys(entries: [.init(id: "ci", sha256: APIKeys.hash("s3cret"), role: "admin")])
        try await Self.application(keys: keys).test(.router) { client in
            let wrong = try await client.execute(uri: "/v1/namespaces", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            let right = try await client.execute(uri: "/v1/namespaces", method: .get, headers: [.authorization: "Bearer s3cret"])
            #expect(right.status == .ok)
        }
    }

    @Test func writeThenQueryRoundTrip() async throws {
        try await Self.application().test(.router) { client in
            let write = #"{"upsert_rows": [{"id": 1, "vector": [1, 0], "color": "red"}, {"id": 2, "vector": [0, 1], "color": "blue"}]}"#
            let written = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: ByteBuffer(string: write))
            #expect(written.status == .ok)
            #expect(try Self.json(written.body)["rows_affected"] as? Int == 2)
            let query = #"{"rank_by": ["vector", "kNN", [0.9, 0.1]], "top_k": 1, "include_attributes": ["color"]}"#
            let answer = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.bearer, body: ByteBuffer(string: query))
            #expect(answer.status == .ok)
            let rows = try #require(try Self.json(answer.body)["rows"] as? [[String: Any]])
            #expect(rows.count == 1)
            #expect(rows.first?["id"] as? Int == 1)
            #expect(rows.first?["color"] as? String == "red")
        }
    }

    @Test func badInputIs400NamingTheJSONPath() async throws {
        try await Self.application().test(.router) { client in
            _ = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer,
                                         body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1, "vector": [1, 0]}]}"#))
            let bad = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer,
                                               body: ByteBuffer(string: #"{"upsert_rows": [{"id": 2, "vector": [1, 0]}, {"id": 3, "vector": [1, 0, 0]}]}"#))
            #expect(bad.status == .badRequest)
            let message = try #require(try Self.json(bad.body)["error"] as? String)
            #expect(message.contains("upsert_rows[1].vector"))
            #expect(bad.headers[.init("x-should-retry")!] == "false")
            // The rejected request wrote nothing: id 2 is absent.
            let lookup = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.bearer,
                                                  body: ByteBuffer(string: #"{"filters": ["id", "Eq", 2]}"#))
            let rows = try Self.json(lookup.body)["rows"] as? [Any]
            #expect(rows?.isEmpty == true)
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: ByteBuffer(string: "{\"upsert_rows\": ["))
            #expect(response.status == .badRequest)
        }
    }

    @Test func unknownNamespaceIs404() async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/v2/namespaces/missing/metadata", method: .get, headers: Self.bearer)
            #expect(response.status == .notFound)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await Self.application(maxBodyBytes: 1024).test(.router) { client in
            let big = #"{"upsert_rows": [{"id": 1, "pad": ""# + String(repeating: "x", count: 4096) + #""}]}"#
            let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: ByteBuffer(string: big))
            #expect(response.status == .contentTooLarge)
        }
    }

    @Test func gzipBodiesAreInflated() async throws {
        let body = Array(#"{"upsert_rows": [{"id": 7, "vector": [1, 2]}]}"#.utf8)
        let gzipped = try Self.gzip(body)
        try await Self.application().test(.router) { client in
            var headers = Self.bearer
            headers[.contentEncoding] = "gzip"
            let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: headers, body: ByteBuffer(bytes: gzipped))
            #expect(response.status == .ok)
            #expect(try Self.json(response.body)["rows_affected"] as? Int == 1)
            var broken = headers
            broken[.contentEncoding] = "gzip"
            let bad = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: broken, body: ByteBuffer(bytes: body))
            #expect(bad.status == .badRequest)
        }
    }

    /// Compresses with the system `gzip` tool so the test does not reuse the code under test.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }
}

@Suite struct MetricsRouteTests {
    @Test func objectStoreCountersAreExposedWithoutAKey() async throws {
        let store = InstrumentedStore(MemoryStore())
        let engine = Engine(store: store)
        let app = Application(router: LagoonServer.router(engine: engine, keys: nil, maxBodyBytes: 1 << 20, metrics: Metrics(store: store)))
        try await app.test(.router) { client in
            _ = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: RoutesTests.bearer,
                                         body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1}]}"#))
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            let puts = text.split(separator: "\n").first { $0.hasPrefix("lagoon_objstore_requests_total{op=\"put\"}") }
            let count = puts.flatMap { Int($0.split(separator: " ").last ?? "") }
            // At least the WAL entry, the manifest and the catalog marker were written.
            #expect((count ?? 0) >= 3, "\(text)")
            #expect(text.contains("lagoon_objstore_errors_total 0"))
        }
    }
}
