import Foundation
import LagoonTestSupport
@testable import Store
import Synchronization
import Testing

/// `S3Store` against `MiniS3`, a local fake that injects the faults real buckets show:
/// throttling, server errors, conflicts, lost responses, ignored conditions.
@Suite("S3Store faults and requests")
struct S3StoreTests {
    @Test("503 SlowDown and 500 are retried until the put succeeds")
    func retriesServerErrors() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        s3.failNext(2, status: 503, code: "SlowDown")
        s3.failNext(1, status: 500, code: "InternalError")
        let etag = try await store.put("k", Data("v".utf8), condition: .ifAbsent)
        #expect(s3.requests.count == 4)
        #expect(try await store.get("k").etag == etag)
    }

    @Test("429, 408 and 409 ConditionalRequestConflict are retried", arguments: [
        (429, "TooManyRequests"), (408, "RequestTimeout"), (409, "ConditionalRequestConflict"), (400, "RequestTimeout"),
    ])
    func retriesThrottlingAndConflicts(_ status: Int, _ code: String) async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        s3.failNext(1, status: status, code: code)
        try await store.put("k", Data("v".utf8), condition: .ifAbsent)
        #expect(s3.requests.count == 2)
    }

    @Test("retries run out: unavailable after maxAttempts requests")
    func givesUp() async throws {
        let s3 = try MiniS3()
        let store = try s3.store(maxAttempts: 3)
        s3.failNext(100, status: 503, code: "SlowDown")
        #expect(await storeErrorCode { _ = try await store.get("k") } == .unavailable)
        #expect(s3.requests.count == 3)
    }

    @Test("permanent refusals are not retried: 403 is io, 501 on a conditional put is io")
    func permanentErrors() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        s3.failNext(1, status: 403, code: "AccessDenied")
        #expect(await storeErrorCode { _ = try await store.get("k") } == .io)
        #expect(s3.requests.count == 1)
        s3.withState { $0.rejectsConditions = true }
        #expect(await storeErrorCode { try await store.put("k", Data(), condition: .ifAbsent) } == .io)
        #expect(s3.requests.count == 2)
    }

    @Test("a refused connection is retried, then unavailable")
    func connectionRefused() async throws {
        let s3 = try MiniS3()
        let endpoint = s3.endpoint
        s3.server.stop()
        let store = S3Store(configuration: try S3Configuration(
            bucket: "b", endpoint: endpoint, credentials: S3Credentials(accessKeyID: "a", secretAccessKey: "s"),
            retry: S3RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1))))
        #expect(await storeErrorCode { _ = try await store.head("k") } == .unavailable)
    }

    @Test("a create-only put whose response was lost: the retry's 412 is preconditionFailed, and our bytes are there")
    func lostAcknowledgement() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        s3.withState { $0.putsToApplyThenDrop = 1 }
        do {
            try await store.put("ns/manifest/7", Data("ours".utf8), condition: .ifAbsent)
            Issue.record("the retried create-only put should be refused")
        } catch let error as StoreError {
            #expect(error.code == .preconditionFailed)
            #expect(error.message.contains("earlier attempt"))
        }
        #expect(s3.requests.filter { $0.method == "PUT" }.count == 2)
        // What ManifestStore.commit does next: read back and compare its token.
        #expect(try await store.get("ns/manifest/7").bytes == Data("ours".utf8))
    }

    @Test("a plain 412 (no earlier attempt) says nothing of ambiguity")
    func plainRace() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        try await store.put("k", Data("a".utf8), condition: .ifAbsent)
        do {
            try await store.put("k", Data("b".utf8), condition: .ifAbsent)
            Issue.record("second create must fail")
        } catch let error as StoreError {
            #expect(error.code == .preconditionFailed)
            #expect(!error.message.contains("earlier attempt"))
        }
        #expect(await storeErrorCode { try await store.put("absent", Data(), condition: .ifMatch("x")) } == .preconditionFailed)
    }

    @Test("PUT headers: octet-stream, conditions, SSE, payload hash, session token, signature; key under the prefix")
    func putHeaders() async throws {
        let s3 = try MiniS3()
        let store = try s3.store(encryption: .kms, kmsKey: "arn:aws:kms:key/1")
        let etag = try await store.put("ns/a b", Data("hello".utf8), condition: .ifAbsent)
        try await store.put("ns/a b", Data("again".utf8), condition: .ifMatch(etag))
        let puts = s3.requests.filter { $0.method == "PUT" }
        #expect(puts.count == 2)
        for put in puts {
            #expect(put.path == "/b/p/ns/a%20b")
            #expect(put.header("content-type") == "application/octet-stream")
            #expect(put.header("x-amz-server-side-encryption") == "aws:kms")
            #expect(put.header("x-amz-server-side-encryption-aws-kms-key-id") == "arn:aws:kms:key/1")
            #expect(put.header("x-amz-content-sha256") == S3Transport.sha256Hex(put.body))
            #expect(put.header("x-amz-security-token") == "TOKEN")
            let authorization = try #require(put.header("authorization"))
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/"))
            #expect(authorization.contains("x-amz-content-sha256"))
            #expect(!authorization.contains("SECRET"))
        }
        #expect(puts[0].header("if-none-match") == "*")
        #expect(puts[1].header("if-match") == "\"\(etag)\"")
    }

    @Test("conditional GET: 304 gives nil without the bytes")
    func conditionalGet() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        let etag = try await store.put("CURRENT", Data("5".utf8), condition: .none)
        #expect(try await store.get("CURRENT", ifNoneMatch: etag) == nil)
        #expect(try await store.get("CURRENT", ifNoneMatch: "other")?.bytes == Data("5".utf8))
        #expect(s3.requests.last?.header("if-none-match") == "\"other\"")
    }

    @Test("a server that ignores Range: the store cuts the range itself")
    func rangeIgnored() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        try await store.put("r", Data((0..<50).map { UInt8($0) }), condition: .none)
        #expect(try await store.getRange("r", offset: 45, length: 10) == Data((45..<50).map { UInt8($0) }))
        #expect(s3.requests.last?.header("range") == "bytes=45-54")
    }

    @Test("sequential requests reuse one connection")
    func connectionReuse() async throws {
        let s3 = try MiniS3()
        let store = try s3.store()
        for index in 0..<10 { try await store.put("k\(index)", Data("\(index)".utf8), condition: .none) }
        for index in 0..<10 { _ = try await store.get("k\(index)") }
        #expect(s3.server.connectionCount == 1)
    }

    @Test("credentials never show in descriptions or errors")
    func secretsHidden() async throws {
        let credentials = S3Credentials(accessKeyID: "AKIDSECRETISH", secretAccessKey: "hunter2-secret", sessionToken: "tok-secret")
        for shown in ["\(credentials)", String(reflecting: credentials)] {
            #expect(!shown.contains("hunter2"))
            #expect(!shown.contains("tok-secret"))
            #expect(!shown.contains("AKIDSECRETISH"))
        }
        #expect(throws: StoreError.self) { try S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "x"]) }
        let fromEnvironment = try S3Credentials.fromEnvironment(
            ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"])
        #expect(fromEnvironment.sessionToken == "t")
    }
}
