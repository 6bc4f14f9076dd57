/// A least-recently-used map bounded by the total byte cost of its values. Not
/// thread-safe: the owner guards it (`CachedStore` keeps it in a `Mutex`).
///
/// Entries form a doubly linked list threaded through an array (indices, not references,
/// so no ARC traffic); the dictionary maps keys to slots. Get, insert and evict are O(1).
struct MemoryLRU<Value> {
    private struct Node {
        var key: String
        var value: Value
        var cost: Int
        var newer: Int?
        var older: Int?
    }

    let capacity: Int
    private(set) var totalCost = 0
    private var nodes: [Node?] = []
    private var free: [Int] = []
    private var slots: [String: Int] = [:]
    private var newest: Int?
    private var oldest: Int?

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { slots.count }

    /// The value, marked as most recently used.
    mutating func get(_ key: String) -> Value? {
        guard let slot = slots[key] else { return nil }
        unlink(slot)
        linkAsNewest(slot)
        return nodes[slot]!.value
    }

    /// Inserts or replaces the value, then evicts the oldest entries until the total cost
    /// fits. A value costing more than the whole capacity is not kept.
    mutating func set(_ key: String, _ value: Value, cost: Int) {
        remove(key)
        guard cost <= capacity else { return }
        let node = Node(key: key, value: value, cost: cost)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        slots[key] = slot
        totalCost += cost
        linkAsNewest(slot)
        while totalCost > capacity, let victim = oldest {
            remove(nodes[victim]!.key)
        }
    }

    mutating func remove(_ key: String) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        unlink(slot)
        totalCost -= nodes[slot]!.cost
        nodes[slot] = nil
        free.append(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let node = nodes[slot]!
        if let newer = node.newer { nodes[newer]!.older = node.older } else { newest = node.older }
        if let older = node.older { nodes[older]!.newer = node.newer } else { oldest = node.newer }
        nodes[slot]!.newer = nil
        nodes[slot]!.older = nil
    }

    private mutating func linkAsNewest(_ slot: Int) {
        nodes[slot]!.older = newest
        if let newest { nodes[newest]!.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }
}
