public import Foundation

/// An `ObjectStore` on an S3-compatible bucket (AWS S3, MinIO, R2, moto…), over libcurl.
///
/// Every key is stored under `configuration.prefix`. Requests are signed by libcurl
/// (SigV4), retried with jittered exponential backoff on throttling, server errors and
/// connection failures, and mapped onto `StoreError` codes as `Specs/protocol/s3.md`
/// describes. The conditions the commit protocol needs are S3's own: `If-None-Match: *`
/// for `.ifAbsent` and `If-Match` for `.ifMatch` — there is no rename or lock on S3.
/// Call `verifyConditionalWrites()` before accepting writes: some "S3-compatible" stores
/// ignore those headers.
///
/// Calls block a thread for the duration of the HTTP exchange, so they run on a dispatch
/// queue, not on Swift's cooperative pool; backoff sleeps are `Task.sleep` (no thread).
public final class S3Store: ObjectStore {
    public let configuration: S3Configuration
    let transport: S3Transport

    public convenience init(configuration: S3Configuration) {
        self.init(configuration: configuration, connectTo: [])
    }

    /// `connectTo` entries (`host:port:address:port`) send requests for a host name to
    /// another address; tests use it to reach local servers under published host names.
    init(configuration: S3Configuration, connectTo: [String]) {
        self.configuration = configuration
        transport = S3Transport(
            region: configuration.region, credentials: configuration.credentials,
            connectTimeout: configuration.connectTimeout, stallTimeout: configuration.stallTimeout,
            connectTo: connectTo)
    }

    // MARK: ObjectStore

    public func get(_ key: String) async throws -> StoredObject {
        try ObjectKey.validate(key)
        let response = try await send(S3HTTPRequest(method: "GET", url: objectURL(key)), key: key).response
        switch response.status {
        case 200: return StoredObject(bytes: response.body, etag: try etag(of: response, key))
        case 404: throw StoreError(.notFound, key: key, "no such object")
        default: throw failure(response, key: key, "GET")
        }
    }

    public func get(_ key: String, ifNoneMatch etag: String) async throws -> StoredObject? {
        try ObjectKey.validate(key)
        let request = S3HTTPRequest(method: "GET", url: objectURL(key), headers: [("If-None-Match", S3ETag.quoted(etag))])
        let response = try await send(request, key: key).response
        switch response.status {
        case 200: return StoredObject(bytes: response.body, etag: try self.etag(of: response, key))
        case 304: return nil
        case 404: throw StoreError(.notFound, key: key, "no such object")
        default: throw failure(response, key: key, "conditional GET")
        }
    }

    public func getRange(_ key: String, offset: Int, length: Int) async throws -> Data {
        try ObjectKey.validate(key)
        guard offset >= 0, length >= 0 else {
            throw StoreError(.io, key: key, "invalid range: offset \(offset), length \(length)")
        }
        guard length > 0 else {
            // An HTTP range cannot be empty; a HEAD still tells absent from present.
            guard try await head(key) != nil else { throw StoreError(.notFound, key: key, "no such object") }
            return Data()
        }
        let range = "bytes=\(offset)-\(offset + length - 1)"
        let response = try await send(
            S3HTTPRequest(method: "GET", url: objectURL(key), headers: [("Range", range)]), key: key).response
        switch response.status {
        case 206:
            return response.body.count > length ? response.body.prefix(length) : response.body
        case 200:
            // A server that ignores Range sends the whole object; cut the range out here.
            let body = response.body
            let start = min(offset, body.count)
            return Data(body[(body.startIndex + start)..<(body.startIndex + min(body.count, start + length))])
        case 416:
            return Data()  // the object exists but ends before `offset`
        case 404:
            throw StoreError(.notFound, key: key, "no such object")
        default:
            throw failure(response, key: key, "ranged GET")
        }
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        let response = try await send(S3HTTPRequest(method: "HEAD", url: objectURL(key)), key: key).response
        switch response.status {
        case 200:
            guard let size = response.headers["content-length"].flatMap({ Int($0) }) else {
                throw StoreError(.io, key: key, "HEAD answered without a Content-Length")
            }
            return ObjectInfo(key: key, size: size, etag: try etag(of: response, key))
        case 404:
            return nil
        default:
            throw failure(response, key: key, "HEAD")
        }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: Data, condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        var headers: [(name: String, value: String)] = [("Content-Type", "application/octet-stream")]
        switch condition {
        case .none: break
        case .ifAbsent: headers.append(("If-None-Match", "*"))
        case .ifMatch(let etag): headers.append(("If-Match", S3ETag.quoted(etag)))
        }
        if configuration.encryption != .none {
            headers.append(("x-amz-server-side-encryption", configuration.encryption.rawValue))
            if configuration.encryption == .kms, let keyID = configuration.sseKMSKeyID {
                headers.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID))
            }
        }
        let exchange = try await send(
            S3HTTPRequest(method: "PUT", url: objectURL(key), headers: headers, body: bytes), key: key)
        let response = exchange.response
        // After an attempt whose outcome we never learned, a refusal may be our own write.
        let ambiguity = exchange.earlierAttemptMayHaveLanded
            ? " (an earlier attempt of this put may have landed; read the object back before treating this as a lost race)" : ""
        switch (response.status, condition) {
        case (200, _):
            return try etag(of: response, key)
        case (412, _):
            throw StoreError(.preconditionFailed, key: key, "\(Self.describe(condition)) refused by the bucket\(ambiguity)")
        case (404, .ifMatch):
            throw StoreError(.preconditionFailed, key: key, "\(Self.describe(condition)): object is absent\(ambiguity)")
        case (501, _):
            throw StoreError(.io, key: key, "the bucket does not implement \(Self.describe(condition)): \(S3ErrorBody(Array(response.body)).message)")
        default:
            throw failure(response, key: key, "PUT")
        }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        guard limit > 0 else { throw StoreError(.io, key: cursor ?? prefix, "list limit must be positive, got \(limit)") }
        guard ObjectKey.prefixCanMatch(prefix) else { return ListPage(objects: [], nextCursor: nil) }
        let root = configuration.prefix
        var query = [("list-type", "2"), ("max-keys", String(min(limit, 1000))), ("prefix", root + prefix)]
        if let cursor { query.append(("start-after", root + cursor)) }
        let url = configuration.bucketURL + "?" + S3URI.query(query)
        let response = try await send(S3HTTPRequest(method: "GET", url: url), key: prefix).response
        guard response.status == 200 else { throw failure(response, key: prefix, "LIST") }
        let result: S3ListResult
        do {
            result = try S3ListResult.parse(String(decoding: response.body, as: UTF8.self))
        } catch {
            throw StoreError(.io, key: prefix, "unreadable ListObjectsV2 answer: \(error)")
        }
        let objects = result.entries.compactMap { entry -> ObjectInfo? in
            guard entry.key.hasPrefix(root) else { return nil }
            return ObjectInfo(key: String(entry.key.dropFirst(root.count)), size: entry.size, etag: entry.etag)
        }
        return ListPage(objects: objects, nextCursor: result.isTruncated ? objects.last?.key ?? cursor : nil)
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        let response = try await send(S3HTTPRequest(method: "DELETE", url: objectURL(key)), key: key).response
        guard [200, 204, 404].contains(response.status) else { throw failure(response, key: key, "DELETE") }
    }

    // MARK: Buckets

    /// Creates the bucket (success when it already exists and is ours). For development
    /// and tests against MinIO or moto; production buckets are provisioned by operators.
    public func createBucket() async throws {
        var body: Data? = nil
        if configuration.region != "us-east-1" {
            body = Data("<CreateBucketConfiguration><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        let request = S3HTTPRequest(
            method: "PUT", url: configuration.bucketURL, headers: [("Content-Type", "application/xml")], body: body ?? Data())
        let response = try await send(request, key: "", retryConflicts: false).response
        let code = S3ErrorBody(Array(response.body)).code
        guard response.status == 200 || code == "BucketAlreadyOwnedByYou" else {
            throw failure(response, key: "", "CreateBucket \(configuration.bucket)")
        }
    }

    // MARK: Requests, retries and errors

    struct Exchange {
        var response: S3HTTPResponse
        /// A failed earlier attempt of a write might have been applied by the server.
        var earlierAttemptMayHaveLanded: Bool
    }

    /// Sends the request, retrying transient failures with backoff, and returns the first
    /// non-transient answer. Throws `.unavailable` when the retries run out and `.io` for a
    /// permanent transport failure (bad URL, TLS certificate…).
    func send(_ request: S3HTTPRequest, key: String, retryConflicts: Bool = true) async throws -> Exchange {
        let policy = configuration.retry
        var mayHaveLanded = false
        var attempt = 1
        while true {
            let reason: String
            do {
                let response = try await BlockingIO.run { try self.transport.perform(request) }
                guard let retryReason = Self.retryReason(response, retryConflicts: retryConflicts) else {
                    return Exchange(response: response, earlierAttemptMayHaveLanded: mayHaveLanded)
                }
                reason = retryReason
            } catch let error as S3TransportError {
                guard error.isTransient else {
                    throw StoreError(.io, key: key, "\(request.method) \(request.url): \(error)")
                }
                reason = error.description
            }
            // A write that failed this way may still have been applied.
            if request.method != "GET" && request.method != "HEAD" { mayHaveLanded = true }
            guard attempt < policy.maxAttempts else {
                throw StoreError(.unavailable, key: key, "\(request.method) gave up after \(attempt) attempts; last: \(reason)")
            }
            try await Task.sleep(for: policy.delay(beforeRetry: attempt))
            attempt += 1
        }
    }

    /// Why the response asks for a retry, or nil when it is an answer: throttling (429,
    /// 503 SlowDown), server errors (5xx except 501), S3's 400 RequestTimeout, and 409
    /// (ConditionalRequestConflict: a concurrent conditional write of the key is in flight).
    static func retryReason(_ response: S3HTTPResponse, retryConflicts: Bool) -> String? {
        let status = response.status
        let retryable: Bool
        switch status {
        case 408, 429: retryable = true
        case 409: retryable = retryConflicts
        case 400: retryable = S3ErrorBody(Array(response.body)).code == "RequestTimeout"
        case 501: retryable = false
        case 500...599: retryable = true
        default: retryable = false
        }
        guard retryable else { return nil }
        let error = S3ErrorBody(Array(response.body))
        return "HTTP \(status) \(error.code) \(error.message)".trimmingCharacters(in: .whitespaces)
    }

    /// The `StoreError` for an unexpected answer.
    func failure(_ response: S3HTTPResponse, key: String, _ operation: String) -> StoreError {
        let error = S3ErrorBody(Array(response.body))
        let detail = error.code.isEmpty ? "HTTP \(response.status)" : "HTTP \(response.status) \(error.code): \(error.message)"
        switch response.status {
        case 403: return StoreError(.io, key: key, "\(operation) denied (check credentials and bucket policy): \(detail)")
        case 404: return StoreError(.io, key: key, "\(operation): bucket \(configuration.bucket) not found: \(detail)")
        case 500...599 where response.status != 501: return StoreError(.unavailable, key: key, "\(operation): \(detail)")
        default: return StoreError(.io, key: key, "\(operation): \(detail)")
        }
    }

    func etag(of response: S3HTTPResponse, _ key: String) throws -> String {
        guard let etag = response.headers["etag"], !etag.isEmpty else {
            throw StoreError(.io, key: key, "answer without an ETag")
        }
        return S3ETag.normalized(etag)
    }

    func objectURL(_ key: String) -> String {
        configuration.bucketURL + S3URI.encode(configuration.prefix + key, keepSlash: true)
    }

    static func describe(_ condition: PutCondition) -> String {
        switch condition {
        case .none: "unconditional PUT"
        case .ifAbsent: "create-only PUT (If-None-Match: *)"
        case .ifMatch(let etag): "compare-and-swap PUT (If-Match: \(etag))"
        }
    }
}

/// URI encoding as SigV4 canonicalizes it: everything but `A-Z a-z 0-9 - _ . ~` is
/// percent-encoded (and `/` in object paths is kept). libcurl 7.88 signs the path and the
/// query exactly as given, so the store encodes them canonically and sorts query names.
enum S3URI {
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                result.append("/")
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    /// `name=value&…`, sorted by encoded name, as the canonical query string.
    static func query(_ parameters: [(String, String)]) -> String {
        parameters
            .map { (encode($0.0, keepSlash: false), encode($0.1, keepSlash: false)) }
            .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}
