import Dispatch

/// Runs blocking calls (libcurl transfers) off Swift's cooperative pool. That pool has
/// one thread per core: a blocked thread there would stall unrelated tasks, so the call
/// runs on a concurrent dispatch queue and the calling task awaits its result.
public enum BlockingIO {
    private static let queue = DispatchQueue(label: "lagoon.blocking-io", attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
