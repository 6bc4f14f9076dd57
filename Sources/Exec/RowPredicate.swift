import Foundation
public import Kernels
public import Log
public import Planner
public import Segments

/// A filter compiled against one source of a snapshot, built once per query and source and
/// called per row in batches.
///
/// On a segment, conditions on attributes with a loaded attribute index become row bitmaps
/// (Specs/format/filter-index.md), combined by And/Or/Not as bitmaps; the others become a
/// closure that reads the column (on a dictionary-encoded column a condition is evaluated once
/// per distinct value, and rows then look their code up in that table). When every condition
/// came from an index, `matchingRows` holds the answer for every row of the segment and the
/// filter need not look at rows one by one.
public struct RowPredicate: Sendable {
    private let test: @Sendable (Int) -> Bool
    /// The rows of the source that match (visible or not), when indexes answered the whole filter.
    public let matchingRows: Bitset?
    /// Rows each index-answered condition matched, in filter order (for `explain`).
    public let indexCardinalities: [Int]
    /// Conditions evaluated by reading values row by row (no index in this source).
    public let scannedConditions: Int

    public init(_ expression: FilterExpression, source: RowSource, config: NamespaceConfig) {
        var report = Report()
        switch Self.compile(expression, source, config, &report) {
        case .rows(let rows):
            test = { rows.contains($0) }
            matchingRows = rows
        case .test(let closure):
            test = closure
            matchingRows = nil
        }
        indexCardinalities = report.cardinalities
        scannedConditions = report.scanned
    }

    public init(_ expression: FilterExpression, projection: NamespaceProjection) {
        self.init(expression, source: .tail(projection), config: projection.config)
    }

    @inline(__always)
    public func matches(_ row: Int) -> Bool { test(row) }

    /// A compiled sub-expression: a bitmap over the source's rows, or a per-row test.
    enum Compiled {
        case rows(Bitset)
        case test(@Sendable (Int) -> Bool)
    }

    struct Report {
        var cardinalities: [Int] = []
        var scanned = 0
    }

    /// And (`all`) or Or of the items: conditions answered by index bitmaps combine as
    /// bitmaps; the rest are tested row by row beside the combined bitmap.
    static func combine(_ items: [FilterExpression], all: Bool, _ source: RowSource, _ config: NamespaceConfig,
                        _ report: inout Report) -> Compiled {
        var rows: Bitset?
        var tests: [@Sendable (Int) -> Bool] = []
        for item in items {
            switch compile(item, source, config, &report) {
            case .rows(let bits):
                if rows == nil { rows = bits } else if all { rows!.formIntersection(bits) } else { rows!.formUnion(bits) }
            case .test(let test): tests.append(test)
            }
        }
        guard !tests.isEmpty else { return .rows(rows ?? (all ? Bitset(allSet: source.rowCount) : Bitset(count: source.rowCount))) }
        let each = tests
        switch (rows, all) {
        case (nil, true): return .test { row in each.allSatisfy { $0(row) } }
        case (nil, false): return .test { row in each.contains { $0(row) } }
        case (let bits?, true): return .test { row in bits.contains(row) && each.allSatisfy { $0(row) } }
        case (let bits?, false): return .test { row in bits.contains(row) || each.contains { $0(row) } }
        }
    }

    static func compile(_ expression: FilterExpression, _ source: RowSource, _ config: NamespaceConfig, _ report: inout Report) -> Compiled {
        switch expression {
        case .and(let items):
            return combine(items, all: true, source, config, &report)
        case .or(let items):
            return combine(items, all: false, source, config, &report)
        case .not(let inner):
            switch compile(inner, source, config, &report) {
            case .rows(var bits):
                bits.formComplement()
                return .rows(bits)
            case .test(let test):
                return .test { row in !test(row) }
            }
        case .condition(let attribute, let op, let operand):
            guard case .value(let operandValue) = operand else {
                // References are substituted before compiling; an unresolved one matches nothing.
                return .test { _ in false }
            }
            let valueTest = ValueTest(op: op, operand: operandValue, attribute: attribute, config: config)
            if case .segment(let view) = source, attribute != "id", !view.segment.hasColumn(attribute) {
                // No row of the segment has the attribute: every row is null.
                return .rows(valueTest.matches(.null) ? Bitset(allSet: source.rowCount) : Bitset(count: source.rowCount))
            }
            if case .segment(let view) = source, attribute != "id", let index = view.segment.filterIndex(attribute) {
                let rows = valueTest.rows(in: index, attribute: attribute, config: config)
                report.cardinalities.append(rows.popcount)
                return .rows(rows)
            }
            report.scanned += 1
            return .test(scan(valueTest, attribute: attribute, source))
        }
    }

    /// A per-row test of one condition that reads the attribute's values.
    static func scan(_ valueTest: ValueTest, attribute: String, _ source: RowSource) -> @Sendable (Int) -> Bool {
        switch source {
        case .tail(let projection):
            if attribute == "id" {
                let ids = projection.ids
                return { row in valueTest.matches(ids[row].attributeValue) }
            }
            guard let column = projection.columns[attribute] else {
                let nullMatches = valueTest.matches(.null)
                return { _ in nullMatches }
            }
            return { row in valueTest.matches(column[row]) }
        case .segment(let view):
            let segment = view.segment
            if attribute == "id" {
                let ids = segment.ids
                return { row in valueTest.matches(ids[row].attributeValue) }
            }
            switch segment.column(attribute) {
            case nil:
                let nullMatches = valueTest.matches(.null)
                return { _ in nullMatches }
            case .dictionary(let values, let codes)?:
                let table = values.map { valueTest.matches(.string($0)) }
                let nullMatches = valueTest.matches(.null)
                return { row in
                    let code = codes[row]
                    return code == SegmentColumn.nullCode ? nullMatches : table[Int(code)]
                }
            case .values(let values)?:
                return { row in valueTest.matches(values[row]) }
            case .sparse(let rows, let values)?:
                // Evaluated once per stored value; every other row is null.
                var outcome: [Int32: Bool] = [:]
                for (row, value) in zip(rows, values) { outcome[row] = valueTest.matches(value) }
                let nullMatches = valueTest.matches(.null)
                let table = outcome
                return { row in table[Int32(row)] ?? nullMatches }
            }
        }
    }
}

/// One operator applied to one value.
struct ValueTest: Sendable {
    let op: FilterOperator
    let operand: AttributeValue
    /// The operand list as a hash set of `filterKey`s: In/NotIn/ContainsAny cost one lookup per value.
    let listKeys: Set<AttributeValue>
    let glob: GlobPattern?
    let tokenizer: Tokenizer?
    let operandTokens: Set<String>

    init(op: FilterOperator, operand rawOperand: AttributeValue, attribute: String, config: NamespaceConfig) {
        // UUIDs are stored lower-cased, so operands on uuid ids and attributes are too.
        let holdsUUIDs = attribute == "id" ? config.idKind == .uuid : config.schema[attribute]?.elementType == "uuid"
        let operand = holdsUUIDs ? Self.lowercasingUUIDs(rawOperand) : rawOperand
        self.op = op
        self.operand = operand
        if case .array(let items) = operand { listKeys = Set(items.map(\.filterKey)) } else { listKeys = [] }
        switch op {
        case .glob, .notGlob, .iGlob, .notIGlob:
            if case .string(let pattern) = operand {
                glob = GlobPattern(pattern, caseInsensitive: op == .iGlob || op == .notIGlob)
            } else {
                glob = nil
            }
            tokenizer = nil
            operandTokens = []
        case .containsAllTokens, .containsAnyToken:
            glob = nil
            let t = Tokenizer(config.schema[attribute]?.fullTextSearch ?? FullTextConfig())
            tokenizer = t
            operandTokens = Set(t.tokens(of: operand))
        default:
            glob = nil
            tokenizer = nil
            operandTokens = []
        }
    }

    static func lowercasingUUIDs(_ value: AttributeValue) -> AttributeValue {
        switch value {
        case .string(let s) where UUID(uuidString: s) != nil: return .string(s.lowercased())
        case .array(let items): return .array(items.map(lowercasingUUIDs))
        default: return value
        }
    }

    func matches(_ value: AttributeValue) -> Bool {
        switch op {
        case .eq: return equals(value, operand)
        case .notEq: return !equals(value, operand)
        case .in: return listKeys.contains(value.filterKey)
        case .notIn: return !listKeys.contains(value.filterKey)
        case .lt: return ordered(value) { $0 < 0 }
        case .lte: return ordered(value) { $0 <= 0 }
        case .gt: return ordered(value) { $0 > 0 }
        case .gte: return ordered(value) { $0 >= 0 }
        case .contains: return elements(value).contains { equals($0, operand) }
        case .notContains: return !elements(value).contains { equals($0, operand) }
        case .containsAny: return elements(value).contains { listKeys.contains($0.filterKey) }
        case .notContainsAny: return !elements(value).contains { listKeys.contains($0.filterKey) }
        case .glob, .iGlob: return globMatches(value)
        case .notGlob, .notIGlob: return !globMatches(value)
        case .containsAllTokens:
            guard let tokenizer, !operandTokens.isEmpty else { return false }
            return operandTokens.isSubset(of: tokenizer.tokens(of: value))
        case .containsAnyToken:
            guard let tokenizer else { return false }
            return !operandTokens.isDisjoint(with: tokenizer.tokens(of: value))
        }
    }

    private func equals(_ a: AttributeValue, _ b: AttributeValue) -> Bool {
        AttributeValue.filterEquals(a, b)
    }

    /// Range comparisons hold only between values of one comparable kind (numbers with
    /// numbers, strings with strings); null and mixed kinds never match.
    private func ordered(_ value: AttributeValue, _ accept: (Int) -> Bool) -> Bool {
        switch (value, operand) {
        case (.string, .string), (.bool, .bool): break
        default:
            guard value.numericValue != nil, operand.numericValue != nil else { return false }
        }
        return accept(AttributeValue.compare(value, operand))
    }

    private func elements(_ value: AttributeValue) -> [AttributeValue] {
        if case .array(let items) = value { return items }
        return value.isNull ? [] : [value]
    }

    private func globMatches(_ value: AttributeValue) -> Bool {
        guard let glob else { return false }
        return elements(value).contains { element in
            if case .string(let s) = element { return glob.matches(s) }
            return false
        }
    }
}

extension FilterExpression {
    /// Replaces `{"$ref_new": attr}` operands with the incoming document's values.
    public func substitutingReferences(_ document: Document) -> FilterExpression {
        switch self {
        case .and(let items): return .and(items.map { $0.substitutingReferences(document) })
        case .or(let items): return .or(items.map { $0.substitutingReferences(document) })
        case .not(let inner): return .not(inner.substitutingReferences(document))
        case .condition(let attribute, let op, .referenceToNew(let name)):
            let value = name == "id" ? document.id.attributeValue : (document.attributes[name] ?? .null)
            return .condition(attribute: attribute, op: op, operand: .value(value))
        case .condition: return self
        }
    }
}

extension FilterExpression {
    /// Evaluates the filter on a whole document (write conditions and documents written
    /// earlier in the same group commit, which are not in the projection yet).
    public func matches(_ document: Document, config: NamespaceConfig) -> Bool {
        switch self {
        case .and(let items): return items.allSatisfy { $0.matches(document, config: config) }
        case .or(let items): return items.contains { $0.matches(document, config: config) }
        case .not(let inner): return !inner.matches(document, config: config)
        case .condition(let attribute, let op, let operand):
            guard case .value(let operandValue) = operand else { return false }
            let value = attribute == "id" ? document.id.attributeValue : (document.attributes[attribute] ?? .null)
            return ValueTest(op: op, operand: operandValue, attribute: attribute, config: config).matches(value)
        }
    }
}
