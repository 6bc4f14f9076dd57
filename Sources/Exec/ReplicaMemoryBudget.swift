import Synchronization

/// Keeps the namespaces a node holds open within `[cache] memory_bytes`: the loaded segment
/// parts, ids and tails of all replicas count; when a query leaves the total over the
/// budget, the least recently used other namespaces are evicted whole (they reopen from
/// the disk cache or the bucket). Evicting never disturbs a query in flight: it keeps the
/// snapshot, and so the parts, it pinned.
final class ReplicaMemoryBudget: Sendable {
    let capacity: Int
    private let state = Mutex<(clock: UInt64, lastUse: [String: UInt64])>((0, [:]))

    init(capacity: Int) { self.capacity = capacity }

    func touch(_ namespace: String) {
        state.withLock { state in
            state.clock += 1
            state.lastUse[namespace] = state.clock
        }
    }

    func forget(_ namespace: String) {
        _ = state.withLock { $0.lastUse.removeValue(forKey: namespace) }
    }

    /// The replicas to evict, least recently used first, so that the rest fit; `keeping`
    /// (the namespace just queried) is never chosen.
    func victims(_ replicas: [String: NamespaceReplica], keeping: String) -> [(String, NamespaceReplica)] {
        let sizes = replicas.mapValues(\.residentBytes)
        var total = sizes.values.reduce(0, +)
        guard total > capacity else { return [] }
        let lastUse = state.withLock { $0.lastUse }
        var chosen: [(String, NamespaceReplica)] = []
        for (name, replica) in replicas.sorted(by: { lastUse[$0.key, default: 0] < lastUse[$1.key, default: 0] })
        where name != keeping && total > capacity && sizes[name, default: 0] > 0 {
            chosen.append((name, replica))
            total -= sizes[name, default: 0]
        }
        return chosen
    }
}
