public import Planner

/// Maps plan node kinds to operator factories. New node kinds plug in by registering a
/// factory under their name; the planner core and the executor loop stay unchanged.
public struct OperatorRegistry: Sendable {
    public typealias Factory = @Sendable (PlanNode, [any PhysicalOperator], ExecutionContext) throws -> any PhysicalOperator

    private var factories: [String: Factory] = [:]

    public init() {}

    public mutating func register(_ name: String, _ factory: @escaping Factory) {
        factories[name] = factory
    }

    /// Builds the operator tree for a plan, children first.
    public func build(_ node: PlanNode, context: ExecutionContext) throws -> any PhysicalOperator {
        let children = try node.children.map { try build($0, context: context) }
        guard let factory = factories[node.name] else {
            throw ExecutionError("no operator registered for plan node \(node.name)")
        }
        return try factory(node, children, context)
    }

    /// The operators of Lagoon's built-in plan nodes.
    public static let standard: OperatorRegistry = {
        var registry = OperatorRegistry()
        registry.register("Scan") { _, _, context in ScanOperator(context: context) }
        registry.register("Filter") { node, children, context in
            guard case .filter(let expression, _) = node.kind else { throw ExecutionError.mismatch(node) }
            return PredicateFilterOperator(child: children[0], expression: expression, context: context)
        }
        registry.register("ExactKNN") { node, children, context in
            guard case .exactKNN(let metric, _, let query, _, _) = node.kind else { throw ExecutionError.mismatch(node) }
            return ExactKNNOperator(child: children[0], metric: metric, query: query, context: context)
        }
        registry.register("ANN") { node, children, context in
            guard case .ann(let metric, _, let query, let recallTarget, let probes, _) = node.kind else { throw ExecutionError.mismatch(node) }
            return ANNOperator(child: children[0], metric: metric, query: query, recallTarget: recallTarget, probes: probes, context: context)
        }
        registry.register("BM25") { node, _, context in
            guard case .bm25(let attribute, let terms, let k1, let b) = node.kind else { throw ExecutionError.mismatch(node) }
            return BM25Operator(attribute: attribute, terms: terms, k1: k1, b: b, context: context)
        }
        registry.register("ScoreSum") { _, children, _ in ScoreCombineOperator(children: children, mode: .sum) }
        registry.register("ScoreMax") { _, children, _ in ScoreCombineOperator(children: children, mode: .max) }
        registry.register("ScoreProduct") { node, children, _ in
            guard case .scoreProduct(let weight) = node.kind else { throw ExecutionError.mismatch(node) }
            return ScoreProductOperator(child: children[0], weight: weight)
        }
        registry.register("TopK") { node, children, context in
            guard case .topK(let k, let descending) = node.kind else { throw ExecutionError.mismatch(node) }
            // Top-k pushdown: BM25 directly below may prune rows that cannot reach the top k.
            if descending, let bm25 = children[0] as? BM25Operator { bm25.limit = k }
            if !descending, let ann = children[0] as? ANNOperator { ann.limit = k }
            return TopKOperator(child: children[0], k: k, descending: descending, context: context)
        }
        registry.register("OrderByAttribute") { node, children, context in
            guard case .orderByAttribute(let attribute, let descending, let k) = node.kind else { throw ExecutionError.mismatch(node) }
            return OrderByAttributeOperator(child: children[0], attribute: attribute, descending: descending, k: k, context: context)
        }
        registry.register("Project") { node, children, _ in
            guard case .project(let selection) = node.kind else { throw ExecutionError.mismatch(node) }
            return ProjectOperator(child: children[0], selection: selection)
        }
        return registry
    }()
}

/// An internal inconsistency between a plan and the operators (a bug, never bad input).
public struct ExecutionError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }

    static func mismatch(_ node: PlanNode) -> ExecutionError {
        ExecutionError("operator factory \(node.name) received a different node kind")
    }
}
