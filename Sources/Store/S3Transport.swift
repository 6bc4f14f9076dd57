import CCrypto
import CCurl
import Foundation
import Synchronization

/// One HTTP request to S3, before signing.
struct S3HTTPRequest: Sendable {
    var method: String
    var url: String
    var headers: [(name: String, value: String)] = []
    var body: Data? = nil
}

/// One HTTP response: status, headers (names lower-cased) and body.
struct S3HTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data
}

/// A request that got no HTTP response (refused, reset, timed out, TLS failure…).
struct S3TransportError: Error, Sendable, CustomStringConvertible {
    var curlCode: Int
    var message: String
    /// True when retrying may help (the network, not the request, was the problem).
    var isTransient: Bool
    var description: String { "libcurl error \(curlCode): \(message)" }
}

/// Sends signed HTTP requests with libcurl. libcurl signs with SigV4
/// (`CURLOPT_AWS_SIGV4`); this type adds what 7.88 does not: the `x-amz-content-sha256`
/// header S3 requires, and the session token header.
///
/// Easy handles are pooled: a handle keeps its connections open after a request, so the
/// next request taking it reuses one (keep-alive, no new TCP or TLS handshake). Calls
/// block their thread; `S3Store` runs them off the cooperative pool.
final class S3Transport: Sendable {
    let region: String
    /// The SigV4 service name: "s3" (other values only for AWS's generic test vectors).
    let service: String
    /// Adds `x-amz-content-sha256` and `x-amz-security-token`; off only for test vectors.
    let addsS3Headers: Bool
    let credentials: S3Credentials
    let connectTimeoutMilliseconds: Int
    let stallSeconds: Int
    /// Maps `host:port` to another address, as `CURLOPT_CONNECT_TO` entries (tests only:
    /// they let a request to a published host name reach a local socket).
    let connectTo: [String]
    private let idle = Mutex<[CurlHandle]>([])

    init(
        region: String, credentials: S3Credentials, connectTimeout: Duration, stallTimeout: Duration,
        connectTo: [String] = [], service: String = "s3", addsS3Headers: Bool = true
    ) {
        Self.globalInit
        self.region = region
        self.service = service
        self.addsS3Headers = addsS3Headers
        self.credentials = credentials
        connectTimeoutMilliseconds = Int(connectTimeout.components.seconds * 1000 + connectTimeout.components.attoseconds / 1_000_000_000_000_000)
        stallSeconds = max(1, Int(stallTimeout.components.seconds))
        self.connectTo = connectTo
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.pointer) }
    }

    /// `curl_global_init` is not thread-safe; a static `let` runs it exactly once.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Performs the request and returns the response, or throws `S3TransportError`.
    func perform(_ request: S3HTTPRequest) throws -> S3HTTPResponse {
        let handle = idle.withLock { $0.popLast() } ?? CurlHandle()
        defer { idle.withLock { $0.append(handle) } }
        return try handle.perform(request, transport: self)
    }

    /// Hex SHA-256 of the bytes (the payload hash SigV4 signs).
    static func sha256Hex(_ bytes: Data) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBytes { raw in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            var empty: UInt8 = 0
            _ = SHA256(base ?? withUnsafePointer(to: &empty) { $0 }, raw.count, &digest)
        }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// One libcurl easy handle. Only one thread uses it at a time (the pool hands it out
/// exclusively), which is what libcurl requires of an easy handle.
final class CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init() {
        guard let pointer = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.pointer = pointer
    }

    func perform(_ request: S3HTTPRequest, transport: S3Transport) throws -> S3HTTPResponse {
        // Reset clears the previous request's options but keeps the open connections.
        curl_easy_reset(pointer)
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let body = request.body ?? Data()

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        var headers = request.headers
        if transport.addsS3Headers {
            headers.append(("x-amz-content-sha256", S3Transport.sha256Hex(body)))
            if let token = transport.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        }
        // Every header given here is signed (libcurl 7.88 signs all of them), so none may
        // be a removal ("Name:"): it would be signed but not sent.
        for (name, value) in headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        var connectTo: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(connectTo) }
        for entry in transport.connectTo { connectTo = curl_slist_append(connectTo, entry) }

        let code: CURLcode = body.withUnsafeBytes { raw in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                setString(CURLOPT_URL, request.url)
                setString(CURLOPT_AWS_SIGV4, "aws:amz:\(transport.region):\(transport.service)")
                setString(CURLOPT_USERNAME, transport.credentials.accessKeyID)
                setString(CURLOPT_PASSWORD, transport.credentials.secretAccessKey)
                lagoon_curl_setopt_pointer(pointer, CURLOPT_HTTPHEADER, headerList)
                if connectTo != nil { lagoon_curl_setopt_pointer(pointer, CURLOPT_CONNECT_TO, connectTo) }
                lagoon_curl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, errors.baseAddress)
                lagoon_curl_setopt_long(pointer, CURLOPT_NOSIGNAL, 1)
                lagoon_curl_setopt_long(pointer, CURLOPT_CONNECTTIMEOUT_MS, transport.connectTimeoutMilliseconds)
                lagoon_curl_setopt_long(pointer, CURLOPT_LOW_SPEED_LIMIT, 1)
                lagoon_curl_setopt_long(pointer, CURLOPT_LOW_SPEED_TIME, transport.stallSeconds)
                // libcurl asks before sending bodies over 1 MiB (Expect: 100-continue); a
                // server that never answers the question costs this long, not a second.
                lagoon_curl_setopt_long(pointer, CURLOPT_EXPECT_100_TIMEOUT_MS, 200)
                lagoon_curl_setopt_callback(pointer, CURLOPT_WRITEFUNCTION, collectBody)
                lagoon_curl_setopt_pointer(pointer, CURLOPT_WRITEDATA, sinkPointer)
                lagoon_curl_setopt_callback(pointer, CURLOPT_HEADERFUNCTION, collectHeader)
                lagoon_curl_setopt_pointer(pointer, CURLOPT_HEADERDATA, sinkPointer)
                switch request.method {
                case "GET":
                    lagoon_curl_setopt_long(pointer, CURLOPT_HTTPGET, 1)
                case "HEAD":
                    lagoon_curl_setopt_long(pointer, CURLOPT_NOBODY, 1)
                default:
                    setString(CURLOPT_CUSTOMREQUEST, request.method)
                }
                if request.body != nil {
                    // POSTFIELDS (not a read callback) so libcurl's SigV4 hashes the payload.
                    // The method stays the custom one (PUT); the bytes outlive the perform.
                    lagoon_curl_setopt_offset(pointer, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(raw.count))
                    lagoon_curl_setopt_pointer(pointer, CURLOPT_POSTFIELDS, raw.baseAddress ?? emptyBody)
                }
                return curl_easy_perform(pointer)
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw S3TransportError(curlCode: Int(code.rawValue), message: message, isTransient: Self.isTransient(code))
        }
        return S3HTTPResponse(status: lagoon_curl_response_code(pointer), headers: sink.headers, body: sink.body)
    }

    private func setString(_ option: CURLoption, _ value: String) {
        // libcurl copies string options (since 7.17), so a temporary C string is fine.
        _ = value.withCString { lagoon_curl_setopt_string(pointer, option, $0) }
    }

    /// Failures of the network or the peer, where the same request may work again.
    static func isTransient(_ code: CURLcode) -> Bool {
        [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR,
         CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR,
         CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY].contains(code)
    }
}

/// A non-null address for an empty body (libcurl reads zero bytes from it; a null
/// POSTFIELDS would make it read the body from a callback instead).
private nonisolated(unsafe) let emptyBody = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

/// Collects a response while libcurl delivers it.
private final class ResponseSink {
    var body = Data()
    var headers: [String: String] = [:]
}

private let collectBody: lagoon_curl_data_callback = { data, size, count, context in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 { sink.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length) }
    return length
}

private let collectHeader: lagoon_curl_data_callback = { data, size, count, context in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard let data else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        sink.headers.removeAll()  // a new status line (after 100 Continue): start over
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        sink.headers[name] = value
    }
    return length
}
