/// The `[storage]` keys of the S3 backend (Specs/format/config.md §2). Parsed and
/// validated here; the S3 store reads them. Credentials are deliberately absent: they come
/// from the standard AWS environment/instance-role chain only.
public struct S3Settings: Sendable, Equatable {
    public var bucket = ""
    public var region = "us-east-1"
    /// "" = AWS; else the base URL of an S3-compatible service (MinIO, R2), http(s)://…
    public var endpoint = ""
    /// Server-side encryption header: "" (none sent), "AES256" or "aws:kms".
    public var sse = ""
    public var sseKMSKeyID = ""

    public init() {}

    static let sseValues: Set<String> = ["", "AES256", "aws:kms"]

    /// Keys that look like secrets (`storage.access_key`, `…secret…`, `…token…`, …).
    static func isCredentialKey(_ key: String) -> Bool {
        guard key.hasPrefix("storage.") else { return false }
        let name = key.dropFirst("storage.".count)
        return ["access_key", "secret", "token", "password", "credential"].contains { name.contains($0) }
    }

    func validate(backend: String) throws {
        func invalid(_ message: String) -> ServerConfig.Invalid { ServerConfig.Invalid(description: message) }
        guard Self.sseValues.contains(sse) else {
            throw invalid("storage.sse \"\(sse)\" must be \"\", \"AES256\" or \"aws:kms\"")
        }
        if !sseKMSKeyID.isEmpty && sse != "aws:kms" {
            throw invalid("storage.sse_kms_key_id is set but storage.sse is \"\(sse)\"; set sse = \"aws:kms\" or remove the key id")
        }
        if !endpoint.isEmpty && !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw invalid("storage.endpoint \"\(endpoint)\" must start with http:// or https://")
        }
        guard backend == "s3" else { return }
        guard Self.isValidBucket(bucket) else {
            throw invalid("storage.bucket \"\(bucket)\" must be an S3 bucket name (3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit); backend \"s3\" needs one")
        }
        guard !region.isEmpty else { throw invalid("storage.region must not be empty with backend \"s3\"") }
    }

    static func isValidBucket(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 122) }
        guard (3...63).contains(bytes.count), alnum(bytes.first!), alnum(bytes.last!) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == 46 || $0 == 45 } && !name.contains("..")
    }
}
