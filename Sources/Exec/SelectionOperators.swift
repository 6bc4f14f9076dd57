import Kernels
public import Log
public import Planner
public import Segments

/// Keeps the k best rows by score: smallest first (distances) or largest first (BM25).
/// Ties go to the smaller id, so results never depend on how rows fall into segments
/// (Specs/query/semantics.md). A bounded heap whose root is the worst kept row; a row worse
/// than the root is rejected by one comparison.
public final class TopKOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let sources: [RowSource]
    private let k: Int
    private let descending: Bool
    private var done = false

    struct Candidate {
        /// Smaller is better (largest-first scores are negated).
        var key: Float
        var id: DocumentID
        var reference: RowReference
    }

    public init(child: any PhysicalOperator, k: Int, descending: Bool, context: ExecutionContext) {
        self.child = child
        sources = context.sources
        self.k = k
        self.descending = descending
        super.init(children: [child])
    }

    @inline(__always)
    private static func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.key < b.key || (a.key == b.key && a.id < b.id)
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            guard k > 0 else { return nil }
            var heap = BoundedHeap<Candidate>(capacity: k, before: Self.before)
            while let batch = try child.next() {
                try Task.checkCancellation()
                actuals.rowsExamined += batch.count
                for i in 0..<batch.count {
                    let key = descending ? -batch.scores[i] : batch.scores[i]
                    // NaN never ranks; a row worse than the worst kept one costs one comparison.
                    guard !key.isNaN else { continue }
                    if heap.isFull, let worst = heap.worst, key > worst.key { continue }
                    let reference = batch.reference(at: i)
                    heap.insert(Candidate(key: key, id: sources[reference.source].id(reference.row), reference: reference))
                }
            }
            let best = heap.sorted()
            guard !best.isEmpty else { return nil }
            return RowBatch(mixed: best.map(\.reference), scores: best.map { descending ? -$0.key : $0.key })
        }
    }
}

/// The k best elements under `before`, in a binary heap whose root is the worst of them.
struct BoundedHeap<Element> {
    let capacity: Int
    let before: (Element, Element) -> Bool
    private(set) var elements: [Element] = []

    init(capacity: Int, before: @escaping (Element, Element) -> Bool) {
        self.capacity = capacity
        self.before = before
        elements.reserveCapacity(min(capacity, 1 << 16))
    }

    var isFull: Bool { elements.count >= capacity }
    var worst: Element? { elements.first }

    mutating func insert(_ element: Element) {
        if elements.count < capacity {
            elements.append(element)
            siftUp(elements.count - 1)
        } else if let root = elements.first, before(element, root) {
            elements[0] = element
            siftDown(0)
        }
    }

    func sorted() -> [Element] { elements.sorted(by: before) }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(elements[parent], elements[child]) else { return }
            elements.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var last = parent
            if left < elements.count, before(elements[last], elements[left]) { last = left }
            if right < elements.count, before(elements[last], elements[right]) { last = right }
            guard last != parent else { return }
            elements.swapAt(parent, last)
            parent = last
        }
    }
}

/// The first k rows ordered by an attribute value (nulls last), ties broken by id.
/// Keeps the k best candidates in a binary heap whose root is the worst of them, so the
/// cost is O(n log k) whatever order rows arrive in.
public final class OrderByAttributeOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let sources: [RowSource]
    private let attribute: String
    private let descending: Bool
    private let k: Int
    private var done = false

    struct Candidate {
        var value: AttributeValue
        var id: DocumentID
        var reference: RowReference
    }

    public init(child: any PhysicalOperator, attribute: String, descending: Bool, k: Int, context: ExecutionContext) {
        self.child = child
        sources = context.sources
        self.attribute = attribute
        self.descending = descending
        self.k = k
        super.init(children: [child])
    }

    /// True when a comes before b in the output.
    private func before(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.value.isNull != b.value.isNull { return !a.value.isNull }
        let c = AttributeValue.compare(a.value, b.value)
        if c != 0 { return descending ? c > 0 : c < 0 }
        return a.id < b.id
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            guard k > 0 else { return nil }
            var heap = BoundedHeap<Candidate>(capacity: k, before: before)
            while let batch = try child.next() {
                try Task.checkCancellation()
                actuals.rowsExamined += batch.count
                for i in 0..<batch.count {
                    let reference = batch.reference(at: i)
                    let source = sources[reference.source]
                    heap.insert(Candidate(value: source.value(attribute, row: reference.row), id: source.id(reference.row), reference: reference))
                }
            }
            let ordered = heap.sorted()
            guard !ordered.isEmpty else { return nil }
            return RowBatch(mixed: ordered.map(\.reference), scores: [])
        }
    }

}

/// Passes rows through; the attribute selection it carries is applied when results are
/// materialised.
public final class ProjectOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    public let selection: AttributeSelection

    public init(child: any PhysicalOperator, selection: AttributeSelection) {
        self.child = child
        self.selection = selection
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            let batch = try child.next()
            actuals.rowsExamined += batch?.count ?? 0
            return batch
        }
    }
}
