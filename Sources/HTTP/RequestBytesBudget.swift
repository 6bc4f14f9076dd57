import Synchronization

/// Request body bytes held in memory by all requests together. A request reserves its
/// bytes as they arrive and returns them when it has answered; a reservation that would
/// pass the limit fails, and the request answers 429 with `Retry-After`.
public final class RequestBytesBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    public var inUse: Int { used.load(ordering: .relaxed) }

    func reserve(_ bytes: Int) -> Bool {
        guard used.add(bytes, ordering: .relaxed).newValue <= limit else {
            used.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
