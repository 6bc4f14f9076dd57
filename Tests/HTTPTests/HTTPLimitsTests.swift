import Exec
import Foundation
@testable import HTTP
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Store
import Synchronization
import Testing

/// Bodies, bytes in flight, time budgets, error bodies and the compatibility routes.
@Suite struct HTTPLimitsTests {
    static let bearer: HTTPFields = [.authorization: "Bearer test", .contentType: "application/json"]

    static func application(limits: ServerLimits = ServerLimits(), store: any ObjectStore = MemoryStore()) -> some ApplicationProtocol {
        Application(router: LagoonServer.router(engine: Engine(store: store), keys: nil, limits: limits))
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    static func write(_ client: some TestClientProtocol, _ namespace: String = "ns", rows: Int = 2) async throws {
        let body = "{\"upsert_rows\": [" + (0..<rows).map { "{\"id\": \($0), \"vector\": [1, \($0 % 7)], \"name\": \"n\($0)\"}" }.joined(separator: ",") + "]}"
        let response = try await client.execute(uri: "/v2/namespaces/\(namespace)", method: .post, headers: bearer, body: ByteBuffer(string: body))
        #expect(response.status == .ok, "\(String(buffer: response.body))")
    }

    @Test func defaultBodyLimitIs64MiB() {
        #expect(ServerLimits().maxBodyBytes == 64 * 1024 * 1024)
        #expect(ServerLimits().maxInflightRequestBytes == 512 * 1024 * 1024)
    }

    @Test func gzipBombStopsAtTheBodyLimit() async throws {
        // 8 MiB of zeros compress to ~8 KiB; the limit is 1 MiB.
        let bomb = try RoutesTests.gzip([UInt8](repeating: 0x20, count: 8 << 20))
        #expect(bomb.count < 64 * 1024)
        var limits = ServerLimits()
        limits.maxBodyBytes = 1 << 20
        try await Self.application(limits: limits).test(.router) { client in
            var headers = Self.bearer
            headers[.contentEncoding] = "gzip"
            let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: headers, body: ByteBuffer(bytes: bomb))
            #expect(response.status == .contentTooLarge)
            #expect(String(buffer: response.body).contains("once inflated"))
        }
        // The inflater itself never holds more than the limit plus one step.
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(bomb, limit: 1 << 20) }
    }

    @Test func bytesInFlightBeyondTheServerLimitAre429WithRetryAfter() async throws {
        var limits = ServerLimits()
        limits.maxInflightRequestBytes = 2048
        try await Self.application(limits: limits).test(.router) { client in
            let pad = String(repeating: "x", count: 4096)
            let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer,
                                                    body: ByteBuffer(string: "{\"upsert_rows\": [{\"id\": 1, \"pad\": \"\(pad)\"}]}"))
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] == "1")
            #expect(response.headers[.init("x-should-retry")!] == "true")
            // A small body fits, and the refused request returned what it had reserved.
            let small = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.bearer,
                                                 body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1}]}"#))
            #expect(small.status == .ok)
        }
    }

    @Test func budgetIsReturnedAfterEachRequest() async throws {
        let budget = RequestBytesBudget(limit: 100)
        #expect(budget.reserve(60))
        #expect(!budget.reserve(60))
        #expect(budget.inUse == 60)
        budget.release(60)
        #expect(budget.reserve(100))
    }

    @Test func queryPastItsBudgetIs408() async throws {
        var limits = ServerLimits()
        limits.queryTimeout = .nanoseconds(1)
        try await Self.application(limits: limits).test(.router) { client in
            try await Self.write(client, rows: 3000)
            let response = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.bearer,
                                                    body: ByteBuffer(string: #"{"rank_by": ["vector", "kNN", [1, 2]], "top_k": 100, "filters": ["name", "Glob", "*1*"]}"#))
            #expect(response.status == .requestTimeout)
            let message = try #require(try Self.json(response.body)["error"] as? String)
            #expect(message.contains("query_timeout_ms"))
            #expect(response.headers[.init("x-should-retry")!] == "false")
        }
    }

    @Test func fullQueryPoolIs503WithRetryAfter() {
        let answer = ErrorMiddleware<LagoonRequestContext>.classify(WorkScheduler.Overloaded())
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.retryAfter == 1)
    }

    @Test func healthStaysResponsiveWhileThePoolIsBusy() async throws {
        var limits = ServerLimits()
        limits.queryThreads = 2
        limits.queryTimeout = nil
        let router = LagoonServer.router(engine: Engine(store: MemoryStore()), keys: nil, limits: limits)
        try await Application(router: router).test(.router) { client in
            try await Self.write(client, rows: 2000)
            let stop = Flag()
            // More heavy loops than Swift's cooperative pool has threads (one per core).
            let heavy = (0..<3).map { _ in
                Task {
                    var done = 0
                    while !stop.value.load(ordering: .relaxed) {
                        _ = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.bearer,
                                                     body: ByteBuffer(string: #"{"rank_by": ["vector", "kNN", [1, 2]], "top_k": 1000, "filters": ["name", "Glob", "*1*"]}"#))
                        done += 1
                    }
                    return done
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            var samples: [Duration] = []
            for _ in 0..<20 {
                let started = ContinuousClock.now
                let health = try await client.execute(uri: "/healthz", method: .get)
                samples.append(ContinuousClock.now - started)
                #expect(health.status == .ok)
                try await Task.sleep(for: .milliseconds(5))
            }
            stop.value.store(true, ordering: .relaxed)
            for loop in heavy { #expect(try await loop.value > 0) }
            // The whole test run shares this process's cooperative pool with other suites, so
            // bounds are loose; a starved server (the old code) misses them by seconds. The
            // tight bounds (100 ms) are checked against a real server in tests/e2e/test_http_limits.py.
            // The slowest sample is bounded loosest: suites that build IVF-indexed segments run
            // beside this one on a 2-core machine and took it to 6 s once, with the median fast.
            samples.sort()
            #expect(samples[samples.count / 2] < .seconds(1), "/healthz latencies \(samples)")
            #expect(samples[samples.count - 1] < .seconds(15), "/healthz latencies \(samples)")
        }
    }

    @Test func internalErrorsAnswerARequestIDNotTheirDetails() async throws {
        let store = BrokenStore(base: MemoryStore())
        try await Self.application(store: store).test(.router) { client in
            try await Self.write(client)
            store.broken.store(true, ordering: .relaxed)
            let response = try await client.execute(uri: "/v2/namespaces/other/metadata", method: .get, headers: Self.bearer)
            #expect(response.status == .internalServerError)
            let message = try #require(try Self.json(response.body)["error"] as? String)
            #expect(message.hasPrefix("internal error (request id "))
            #expect(!message.contains("/var/secret"))
            #expect(!String(buffer: response.body).contains("io"))
        }
    }

    @Test func storeNotFoundRacingADeleteIs404() {
        let answer = ErrorMiddleware<LagoonRequestContext>.classify(StoreError(.notFound, key: "ns/x/wal/1", "no such object"))
        #expect(answer.status == .notFound)
        #expect(!answer.message.contains("ns/x/wal"))
    }

    @Test func malformedChunkedFramingIs400() {
        let answer = ErrorMiddleware<LagoonRequestContext>.classify(HTTPParserError.invalidChunkSize)
        #expect(answer.status == .badRequest)
    }

    @Test func clientDisconnectsAreNotInternalErrors() {
        for error: any Error in [ChannelError.ioOnClosedChannel, ChannelError.eof, CancellationError()] {
            let answer = ErrorMiddleware<LagoonRequestContext>.classify(error)
            #expect(answer.status != .internalServerError, "\(error)")
            #expect(answer.log == .quiet, "\(error)")
        }
    }

    @Test(arguments: ["v1", "v2"])
    func metadataAndDeleteOnBothVersions(_ version: String) async throws {
        try await Self.application().test(.router) { client in
            try await Self.write(client)
            let metadata = try await client.execute(uri: "/\(version)/namespaces/ns/metadata", method: .get, headers: Self.bearer)
            #expect(metadata.status == .ok)
            #expect(try Self.json(metadata.body)["approx_row_count"] as? Int == 2)
            let delete = try await client.execute(uri: "/\(version)/namespaces/ns", method: .delete, headers: Self.bearer)
            #expect(delete.status == .ok)
            let gone = try await client.execute(uri: "/\(version)/namespaces/ns/metadata", method: .get, headers: Self.bearer)
            #expect(gone.status == .notFound)
        }
    }

    @Test func cacheWarmAnswers202AndWarmsInTheBackground() async throws {
        let store = SlowStore(base: MemoryStore())
        try await Self.application(store: store).test(.router) { client in
            try await Self.write(client, "warm")
        }
        // A fresh server over the same store: the hint must answer before the (slow) load ends.
        try await Self.application(store: store).test(.router) { client in
            store.delay.store(6000, ordering: .relaxed)
            let started = ContinuousClock.now
            let response = try await client.execute(uri: "/v1/namespaces/warm/hint_cache_warm", method: .get, headers: Self.bearer)
            // A synchronous warm would take at least the store's 6 s delay (the bound leaves a loaded test machine room).
            #expect(ContinuousClock.now - started < .milliseconds(3000))
            #expect(response.status == .accepted)
            #expect(try Self.json(response.body)["status"] as? String == "ACCEPTED")
            let bad = try await client.execute(uri: "/v1/namespaces/bad%20name/hint_cache_warm", method: .get, headers: Self.bearer)
            #expect(bad.status == .badRequest)
        }
    }
}

/// A store whose reads fail with an error naming a server path, once `broken` is set.
final class BrokenStore: ObjectStore {
    let base: any ObjectStore
    let broken = Atomic<Bool>(false)
    init(base: any ObjectStore) { self.base = base }
    func check(_ key: String) throws {
        if broken.load(ordering: .relaxed) { throw StoreError(.io, key: "/var/secret/\(key)", "EIO reading /var/secret/\(key)") }
    }
    func get(_ key: String) async throws -> StoredObject { try check(key); return try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data { try check(key); return try await base.getRange(key, offset: offset, length: length) }
    func head(_ key: String) async throws -> ObjectInfo? { try check(key); return try await base.head(key) }
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String { try await base.put(key, bytes, condition: condition) }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage { try check(prefix); return try await base.list(prefix: prefix, cursor: cursor, limit: limit) }
    func delete(_ key: String) async throws { try await base.delete(key) }
}

/// A store whose reads take `delay` milliseconds.
final class SlowStore: ObjectStore {
    let base: any ObjectStore
    let delay = Atomic<Int>(0)
    init(base: any ObjectStore) { self.base = base }
    func pause() async throws { try await Task.sleep(for: .milliseconds(delay.load(ordering: .relaxed))) }
    func get(_ key: String) async throws -> StoredObject { try await pause(); return try await base.get(key) }
    func getRange(_ key: String, offset: Int, length: Int) async throws -> Data { try await pause(); return try await base.getRange(key, offset: offset, length: length) }
    func head(_ key: String) async throws -> ObjectInfo? { try await pause(); return try await base.head(key) }
    func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String { try await base.put(key, bytes, condition: condition) }
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage { try await pause(); return try await base.list(prefix: prefix, cursor: cursor, limit: limit) }
    func delete(_ key: String) async throws { try await base.delete(key) }
}
