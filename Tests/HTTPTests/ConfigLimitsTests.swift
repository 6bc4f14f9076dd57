import Foundation
import HTTP
import Testing

/// `[limits]` and the S3 keys of `[storage]` (Specs/format/config.md).
@Suite struct ConfigLimitsTests {
    static func load(_ environment: [String: String]) throws -> ServerConfig {
        try ServerConfig.load(file: nil, environment: environment)
    }

    @Test func limitsDefaultsAndOverrides() throws {
        let defaults = try Self.load([:])
        #expect(defaults.limits.maxBodyBytes == 64 << 20)
        #expect(defaults.limits.maxInflightRequestBytes == 512 << 20)
        #expect(defaults.limits.queryThreads == max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))
        #expect(defaults.limits.queryTimeout == .milliseconds(10_000))
        let set = try Self.load([
            "LAGOON_SERVER__MAX_BODY_BYTES": "2048", "LAGOON_LIMITS__MAX_INFLIGHT_REQUEST_BYTES": "1_000_000",
            "LAGOON_LIMITS__QUERY_THREADS": "3", "LAGOON_LIMITS__QUERY_QUEUE": "0", "LAGOON_LIMITS__QUERY_TIMEOUT_MS": "250",
        ])
        #expect(set.limits.maxBodyBytes == 2048)
        #expect(set.limits.maxInflightRequestBytes == 1_000_000)
        #expect(set.limits.queryThreads == 3)
        #expect(set.limits.queryQueue == 0)
        #expect(set.limits.queryTimeout == .milliseconds(250))
        #expect(set.unknownKeys.isEmpty)
        #expect(try Self.load(["LAGOON_LIMITS__QUERY_TIMEOUT_MS": "0"]).limits.queryTimeout == nil)
    }

    @Test(arguments: [
        ["LAGOON_LIMITS__QUERY_THREADS": "0"],
        ["LAGOON_LIMITS__QUERY_THREADS": "many"],
        ["LAGOON_LIMITS__QUERY_QUEUE": "-1"],
        ["LAGOON_LIMITS__QUERY_TIMEOUT_MS": "-5"],
        ["LAGOON_SERVER__MAX_BODY_BYTES": "100"],
        // Bytes in flight below one maximal body: such a body could never be accepted.
        ["LAGOON_SERVER__MAX_BODY_BYTES": "4096", "LAGOON_LIMITS__MAX_INFLIGHT_REQUEST_BYTES": "2048"],
    ])
    func badLimitsAreRejected(_ environment: [String: String]) {
        #expect(throws: ServerConfig.Invalid.self) { try Self.load(environment) }
    }

    @Test func s3SectionIsParsed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lagoon-\(UUID().uuidString).toml").path
        try """
        [storage]
        backend = "s3"
        bucket = "lagoon-prod"
        prefix = "lagoon/"
        region = "eu-west-1"
        endpoint = "http://minio:9000"
        sse = "aws:kms"
        sse_kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/abc"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ServerConfig.load(file: path, environment: [:])
        #expect(config.storageBackend == "s3")
        #expect(config.storagePrefix == "lagoon/")
        #expect(config.s3.bucket == "lagoon-prod")
        #expect(config.s3.region == "eu-west-1")
        #expect(config.s3.endpoint == "http://minio:9000")
        #expect(config.s3.sse == "aws:kms")
        #expect(config.s3.sseKMSKeyID == "arn:aws:kms:us-east-1:123456789012:key/abc")
        #expect(config.unknownKeys.isEmpty)
        let aes = try Self.load(["LAGOON_STORAGE__BACKEND": "s3", "LAGOON_STORAGE__BUCKET": "b-1", "LAGOON_STORAGE__SSE": "AES256"])
        #expect(aes.s3.sse == "AES256")
        #expect(aes.s3.region == "us-east-1")
    }

    @Test(arguments: [
        (["LAGOON_STORAGE__BACKEND": "s3"], "storage.bucket"),
        (["LAGOON_STORAGE__BACKEND": "s3", "LAGOON_STORAGE__BUCKET": "Bad_Bucket"], "storage.bucket"),
        (["LAGOON_STORAGE__BACKEND": "gcs"], "storage.backend"),
        (["LAGOON_STORAGE__SSE": "aes256"], "storage.sse"),
        (["LAGOON_STORAGE__SSE_KMS_KEY_ID": "k"], "sse_kms_key_id"),
        (["LAGOON_STORAGE__ENDPOINT": "minio:9000"], "storage.endpoint"),
        (["LAGOON_STORAGE__ACCESS_KEY": "AKIA..."], "credentials"),
        (["LAGOON_STORAGE__ACCESS_KEY_ID": "AKIA..."], "credentials"),
        (["LAGOON_STORAGE__SECRET_ACCESS_KEY": "x"], "credentials"),
        (["LAGOON_STORAGE__SESSION_TOKEN": "x"], "credentials"),
    ])
    func badStorageSettingsAreRejected(_ environment: [String: String], _ needle: String) {
        do {
            _ = try Self.load(environment)
            Issue.record("accepted \(environment)")
        } catch {
            #expect("\(error)".contains(needle), "\(error)")
        }
    }
}
