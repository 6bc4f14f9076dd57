import Foundation

/// The resource bounds of the HTTP layer (config sections `server` and `limits`,
/// Specs/format/config.md).
public struct ServerLimits: Sendable, Equatable {
    /// Largest request body, also after gzip inflation (413 beyond).
    public var maxBodyBytes = 64 * 1024 * 1024
    /// Request body bytes held by all requests together (429 with `Retry-After` beyond).
    public var maxInflightRequestBytes = 512 * 1024 * 1024
    /// Threads running CPU-heavy request work (queries, explain, recall, writes). Twice the
    /// cores (at least 4): the kernel time-slices them, so a cheap query arriving while long
    /// ones run gets a thread of its own instead of waiting for one of them to finish.
    public var queryThreads = max(4, 2 * ServerLimits.cores)
    /// Heavy requests that may wait for a thread (503 with `Retry-After` beyond).
    public var queryQueue = 64
    /// Time budget of one query/explain/recall/write request (408 beyond); nil = none.
    public var queryTimeout: Duration? = .milliseconds(10_000)

    public init() {}

    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}


