public import Foundation

/// AWS credentials for signing S3 requests. They come only from the process environment
/// (`fromEnvironment`), never from a config file, and are never printed: `description`
/// shows the access key id's first four characters and nothing of the secret.
public struct S3Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Set for temporary credentials (STS, IRSA); sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the optional
    /// `AWS_SESSION_TOKEN`; throws `.io` naming the missing variable.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> S3Credentials {
        func required(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw StoreError(.io, key: "", "S3 credentials: environment variable \(name) is not set")
            }
            return value
        }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(
            accessKeyID: try required("AWS_ACCESS_KEY_ID"),
            secretAccessKey: try required("AWS_SECRET_ACCESS_KEY"),
            sessionToken: token)
    }

    public var description: String {
        "S3Credentials(access key \(accessKeyID.prefix(4))…, secret redacted\(sessionToken == nil ? "" : ", session token redacted"))"
    }

    public var debugDescription: String { description }
}

/// Server-side encryption requested on every put (seed 004 `[storage] sse`).
public enum S3Encryption: String, Sendable, CaseIterable {
    /// No header: the bucket's default applies.
    case none = ""
    /// SSE-S3 (`x-amz-server-side-encryption: AES256`).
    case aes256 = "AES256"
    /// SSE-KMS (`x-amz-server-side-encryption: aws:kms`, with `sseKMSKeyID` when set).
    case kms = "aws:kms"
}

/// How failed requests are retried: up to `maxAttempts` tries, sleeping a random time in
/// `[0, min(maxDelay, baseDelay · 2^attempt)]` between them ("full jitter").
public struct S3RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(2)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The sleep before retry number `retry` (1 for the first retry).
    func delay(beforeRetry retry: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(retry - 1, 20)))
        let nanoseconds = cap.components.seconds * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds))
    }
}

/// Where and how `S3Store` reaches its bucket (seed 004 `[storage]` with `backend = "s3"`).
public struct S3Configuration: Sendable {
    public var bucket: String
    /// Prepended to every key; a `/` is added when it is non-empty and lacks one.
    public var prefix: String
    public var region: String
    /// Custom endpoint (MinIO, R2, moto: `http://host:port`); nil means AWS S3 in `region`.
    /// Custom endpoints are addressed path-style (`endpoint/bucket/key`).
    public var endpoint: String?
    public var encryption: S3Encryption
    /// The KMS key for `encryption == .kms`; nil uses the bucket's default key.
    public var sseKMSKeyID: String?
    public var credentials: S3Credentials
    public var retry: S3RetryPolicy
    /// Give up connecting after this long (the attempt then counts as a connection error).
    public var connectTimeout: Duration
    /// Abort a transfer that moves no byte for this long.
    public var stallTimeout: Duration

    /// Credentials default to the environment (`S3Credentials.fromEnvironment`).
    public init(
        bucket: String,
        prefix: String = "",
        region: String = "us-east-1",
        endpoint: String? = nil,
        encryption: S3Encryption = .none,
        sseKMSKeyID: String? = nil,
        credentials: S3Credentials? = nil,
        retry: S3RetryPolicy = S3RetryPolicy(),
        connectTimeout: Duration = .seconds(5),
        stallTimeout: Duration = .seconds(30)
    ) throws {
        guard !bucket.isEmpty else { throw StoreError(.io, key: "", "S3 configuration: bucket is empty") }
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.region = region.isEmpty ? "us-east-1" : region
        let trimmed = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.endpoint = trimmed?.isEmpty == true ? nil : trimmed
        self.encryption = encryption
        self.sseKMSKeyID = sseKMSKeyID?.isEmpty == true ? nil : sseKMSKeyID
        self.credentials = try credentials ?? S3Credentials.fromEnvironment()
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
    }

    /// The URL of the bucket root, ending in `/`: path-style for custom endpoints and for
    /// bucket names with dots (virtual-hosted names would break TLS), virtual-hosted otherwise.
    var bucketURL: String {
        if let endpoint { return "\(endpoint)/\(bucket)/" }
        if bucket.contains(".") { return "https://s3.\(region).amazonaws.com/\(bucket)/" }
        return "https://\(bucket).s3.\(region).amazonaws.com/"
    }
}
