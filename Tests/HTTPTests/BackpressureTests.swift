import Exec
import Foundation
@testable import HTTP
import Hummingbird
import HummingbirdTesting
import NIOCore
import Store
import Testing

/// Writes above `[indexer] max_unindexed_bytes` of unindexed tail answer 429 with a message
/// and `Retry-After`, unless they set `disable_backpressure`; indexing lifts the pressure.
@Suite struct BackpressureTests {
    static let bearer: HTTPFields = [.authorization: "Bearer test", .contentType: "application/json"]

    static func upsert(_ id: Int, disable: Bool? = nil) -> ByteBuffer {
        let flag = disable.map { ", \"disable_backpressure\": \($0)" } ?? ""
        return ByteBuffer(string: "{\"upsert_rows\": [{\"id\": \(id), \"text\": \"\(String(repeating: "x", count: 200))\"}]\(flag)}")
    }

    @Test func writesOverTheUnindexedLimitAre429UntilIndexed() async throws {
        var options = EngineOptions()
        options.indexer.maxUnindexedBytes = 100
        let engine = Engine(store: MemoryStore(), options: options)
        let app = Application(router: LagoonServer.router(engine: engine, keys: nil, limits: ServerLimits()))
        try await app.test(.router) { client in
            // The first write finds an empty tail; afterwards the tail is over 100 bytes.
            let first = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(1))
            #expect(first.status == .ok, "\(String(buffer: first.body))")

            let refused = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(2))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.headers[.init("x-should-retry")!] == "true")
            let message = String(buffer: refused.body)
            #expect(message.contains("max_unindexed_bytes") && message.contains("disable_backpressure"), "\(message)")

            // `disable_backpressure: false` is the default: still refused.
            let explicitFalse = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(2, disable: false))
            #expect(explicitFalse.status == .tooManyRequests)

            let forced = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(3, disable: true))
            #expect(forced.status == .ok, "\(String(buffer: forced.body))")

            // Queries are never throttled, and refused writes left nothing behind.
            let query = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.bearer,
                                                 body: ByteBuffer(string: #"{"top_k": 10}"#))
            #expect(query.status == .ok)
            let rows = try #require(JSONSerialization.jsonObject(with: Data(query.body.readableBytesView)) as? [String: Any])["rows"] as? [[String: Any]]
            #expect(rows?.compactMap { $0["id"] as? Int }.sorted() == [1, 3])

            // Once the indexer folds the tail into a segment, writes pass again.
            #expect(try await engine.indexNow("ns"))
            let after = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(2))
            #expect(after.status == .ok, "\(String(buffer: after.body))")
        }
    }

    @Test func theDefaultLimitLetsOrdinaryWritesThrough() async throws {
        #expect(EngineOptions().indexer.maxUnindexedBytes >= 64 << 20)
        let app = Application(router: LagoonServer.router(engine: Engine(store: MemoryStore()), keys: nil, limits: ServerLimits()))
        try await app.test(.router) { client in
            for id in 0..<5 {
                let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer, body: Self.upsert(id))
                #expect(response.status == .ok)
            }
        }
    }
}
