/// A request-level failure with a coarse code that maps to one HTTP status and tells the
/// caller whether retrying can help. Internal layers throw richer errors; the HTTP layer
/// turns every error into a response in one place.
public struct LagoonError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The request is malformed or violates the namespace's contract (400). Not retryable.
        case badRequest
        /// The namespace or object does not exist (404).
        case notFound
        /// A write lost every commit race it was allowed to retry (409). Retry later.
        case conflict
        /// The request body exceeds the configured limit (413).
        case tooLarge
        /// The object store cannot be reached (503). Retryable.
        case unavailable
        /// The server asks the client to slow down (429 with `Retry-After`), e.g. writes while
        /// the unindexed tail is over `[indexer] max_unindexed_bytes`. Retryable.
        case tooManyRequests
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A 400 naming the JSON path of the offending value.
    public static func invalid(_ path: String, _ problem: String) -> LagoonError {
        LagoonError(.badRequest, path.isEmpty ? problem : "\(path): \(problem)")
    }

    public var description: String { message }
}
