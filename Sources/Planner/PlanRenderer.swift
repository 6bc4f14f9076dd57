public import Log

/// What an operator actually did, for `explain` with analyze.
public struct OperatorActuals: Sendable, Equatable {
    public var rows: Int
    public var nanoseconds: UInt64
    public var rowsExamined: Int
    /// What the operator chose at run time, per source (e.g. an ANN strategy and its lists).
    public var notes: [String]

    public init(rows: Int = 0, nanoseconds: UInt64 = 0, rowsExamined: Int = 0, notes: [String] = []) {
        self.rows = rows
        self.nanoseconds = nanoseconds
        self.rowsExamined = rowsExamined
        self.notes = notes
    }
}

/// Renders plans as indented text (golden-tested: no timings unless analyzed, no ids)
/// and as JSON.
public enum PlanRenderer {
    /// One line per node, children indented by two spaces. `actuals` are in depth-first
    /// order (as `PlanNode.forEach` visits) and are printed when given.
    public static func text(_ root: PlanNode, actuals: [OperatorActuals]? = nil) -> String {
        var lines: [String] = []
        var index = 0
        func visit(_ node: PlanNode, depth: Int) {
            var line = String(repeating: "  ", count: depth) + node.name
            let details = describe(node)
            if !details.isEmpty { line += " " + details }
            line += " est_rows=\(node.estimatedRows)"
            if let actuals, index < actuals.count {
                let a = actuals[index]
                line += " (actual rows=\(a.rows) examined=\(a.rowsExamined) time=\(formatMillis(a.nanoseconds))ms)"
                if !a.notes.isEmpty { line += " [" + a.notes.joined(separator: "; ") + "]" }
            }
            index += 1
            lines.append(line)
            for child in node.children { visit(child, depth: depth + 1) }
        }
        visit(root, depth: 0)
        return lines.joined(separator: "\n") + "\n"
    }

    static func formatMillis(_ ns: UInt64) -> String {
        let hundredths = (ns + 5_000) / 10_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The node's parameters as `key=value` pairs.
    public static func describe(_ node: PlanNode) -> String {
        switch node.kind {
        case .scan(let source):
            return "source=\(source)"
        case .filter(let expression, let placement):
            return "placement=\(placement.rawValue) predicate=\(String(decoding: JSONWriter.write(expression.json), as: UTF8.self))"
        case .exactKNN(let metric, let dimension, _, let annRequested, let reason):
            var text = "metric=\(metric.rawValue) dims=\(dimension)"
            if annRequested { text += " ann_fallback=\"\(reason ?? "exact")\"" }
            return text
        case .ann(let metric, let dimension, _, let recallTarget, let probes, let indexed):
            var text = "metric=\(metric.rawValue) dims=\(dimension) strategy=ivf indexed_vectors=\(indexed)"
            text += probes.map { " probes=\($0)" } ?? " recall_target=\(recallTarget)"
            return text
        case .bm25(let attribute, let terms, let k1, let b):
            let quoted = terms.map { "\"\($0)\"" }.joined(separator: ",")
            return "attribute=\(attribute) terms=[\(quoted)] k1=\(k1) b=\(b) formula=\"idf*tf*(k1+1)/(tf+k1*(1-b+b*dl/avgdl))\""
        case .scoreSum, .scoreMax:
            return ""
        case .scoreProduct(let weight):
            return "weight=\(weight)"
        case .topK(let k, let descending):
            return "k=\(k) order=\(descending ? "score desc" : "$dist asc")"
        case .orderByAttribute(let attribute, let descending, let k):
            return "attribute=\(attribute) \(descending ? "desc" : "asc") k=\(k)"
        case .project(let selection):
            switch selection {
            case .none: return "attributes=id"
            case .all: return "attributes=all"
            case .only(let names): return "attributes=[\(names.joined(separator: ","))]"
            case .allExcept(let names): return "attributes=all-except[\(names.joined(separator: ","))]"
            }
        }
    }

    /// The plan as JSON: `{"node", "details", "estimated_rows", "children", "actual"?}`.
    public static func json(_ root: PlanNode, actuals: [OperatorActuals]? = nil) -> JSONValue {
        var index = 0
        func visit(_ node: PlanNode) -> JSONValue {
            var object = JSONObject()
            object["node"] = .string(node.name)
            object["details"] = .string(describe(node))
            object["estimated_rows"] = .int(Int64(node.estimatedRows))
            if let actuals, index < actuals.count {
                let a = actuals[index]
                object["actual"] = .object(JSONObject([
                    ("rows", .int(Int64(a.rows))), ("rows_examined", .int(Int64(a.rowsExamined))),
                    ("time_ms", .double(Double(a.nanoseconds) / 1e6)),
                    ("notes", .array(a.notes.map { .string($0) })),
                ]))
            }
            index += 1
            object["children"] = .array(node.children.map(visit))
            return .object(object)
        }
        return visit(root)
    }
}
