import Kernels
public import Log
public import Planner
public import Segments

/// Keeps the k best rows by score: smallest first (distances) or largest first (BM25).
/// Ties go to the lower (source, row) reference. Emits one sorted batch.
public final class TopKOperator: OperatorBase, PhysicalOperator {
    private let child: any PhysicalOperator
    private let k: Int
    private let descending: Bool
    private var done = false

    public init(child: any PhysicalOperator, k: Int, descending: Bool) {
        self.child = child
        self.k = k
        self.descending = descending
        super.init(children: [child])
    }

    public func next() throws -> RowBatch? {
        try measured {
            guard !done else { return nil }
            done = true
            var selector = TopKSelector(k: k)
            while var batch = try child.next() {
                actuals.rowsExamined += batch.count
                // The selector keeps the smallest scores, so largest-first negates.
                if descending { for i in 0..<batch.scores.count { batch.scores[i] = -batch.scores[i] } }
                for i in 0..<batch.count {
                    _ = selector.insert(score: batch.scores[i], ordinal: batch.reference(at: i).packed)
                }
            }
            let best = selector.sortedResults()
            guard !best.isEmpty else { return nil }
            return RowBatch(mixed: best.map { RowReference(packed: $0.ordinal) }, scores: best.map { descending ? -$0.score : $0.score })
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
            // Max-heap by output order: heap[0] is the candidate that would come last.
            var heap: [Candidate] = []
            heap.reserveCapacity(k)
            while let batch = try child.next() {
                try Task.checkCancellation()
                actuals.rowsExamined += batch.count
                for i in 0..<batch.count {
                    let reference = batch.reference(at: i)
                    let source = sources[reference.source]
                    let candidate = Candidate(value: source.value(attribute, row: reference.row), id: source.id(reference.row), reference: reference)
                    if heap.count < k {
                        heap.append(candidate)
                        siftUp(&heap, heap.count - 1)
                    } else if before(candidate, heap[0]) {
                        heap[0] = candidate
                        siftDown(&heap, 0)
                    }
                }
            }
            guard !heap.isEmpty else { return nil }
            let ordered = heap.sorted(by: before)
            return RowBatch(mixed: ordered.map(\.reference), scores: [])
        }
    }

    private func siftUp(_ heap: inout [Candidate], _ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[parent], heap[child]) else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private func siftDown(_ heap: inout [Candidate], _ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var last = parent
            if left < heap.count, before(heap[last], heap[left]) { last = left }
            if right < heap.count, before(heap[last], heap[right]) { last = right }
            guard last != parent else { return }
            heap.swapAt(parent, last)
            parent = last
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
