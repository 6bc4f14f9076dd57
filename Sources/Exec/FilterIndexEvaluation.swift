import Kernels
import Log
import Planner
import Segments

/// One filter condition answered from a segment's attribute index (Specs/format/filter-index.md):
/// the index narrows the candidate entries by binary search (equal values for `Eq`/`In`/
/// `Contains*`, the operand's kind below or above it for ranges, a glob's literal prefix), the
/// exact value test then runs once per candidate entry, and the rows of the passing entries are
/// unioned. Negations are the complement of their positive condition (semantics §5), so
/// `NotEq`, `NotIn`, `NotContains*` and `NotGlob` include nulls and rows without elements.
extension ValueTest {
    /// The segment rows (visible or not) matching the condition, and the entries that matched.
    func rows(in index: FilterIndex, attribute: String, config: NamespaceConfig) -> Bitset {
        if let positive = op.positive {
            var rows = ValueTest(op: positive, operand: operand, attribute: attribute, config: config).rows(in: index, attribute: attribute, config: config)
            rows.formComplement()
            return rows
        }
        let nulls = matches(.null)
        switch op {
        case .eq:
            return index.rows(.values, positions: [index.equalRange(.values, operand)], includeNulls: nulls, where: matches).rows
        case .in:
            let items = operand.arrayItems
            return index.rows(.values, positions: items.map { index.equalRange(.values, $0) }, includeNulls: nulls, where: matches).rows
        case .lt, .lte, .gt, .gte:
            let range = index.orderedRange(.values, operand, below: op == .lt || op == .lte, inclusive: op == .lte || op == .gte)
            return index.rows(.values, positions: [range], includeNulls: nulls, where: matches).rows
        case .contains:
            return index.rows(.elements, positions: [index.equalRange(.elements, operand)], includeNulls: false) {
                AttributeValue.filterEquals($0, operand)
            }.rows
        case .containsAny:
            let items = operand.arrayItems
            return index.rows(.elements, positions: items.map { index.equalRange(.elements, $0) }, includeNulls: false) {
                listKeys.contains($0.filterKey)
            }.rows
        case .glob, .iGlob:
            guard let glob else { return Bitset(count: index.rowCount) }
            // A case-sensitive literal prefix is a contiguous run of the byte-sorted strings.
            let positions = op == .glob && !glob.literalPrefix.isEmpty
                ? index.prefixRange(.elements, glob.literalPrefix)
                : index.orderedRange(.elements, .string(""), below: false, inclusive: true)
            return index.rows(.elements, positions: [positions], includeNulls: false) { element in
                if case .string(let s) = element { return glob.matches(s) }
                return false
            }.rows
        default:
            // Token operators: the exact test once per distinct value.
            return index.rows(.values, positions: [index.allEntries(.values)], includeNulls: nulls, where: matches).rows
        }
    }
}

extension FilterOperator {
    /// The condition this one negates, for the negated operators.
    var positive: FilterOperator? {
        switch self {
        case .notEq: return .eq
        case .notIn: return .in
        case .notContains: return .contains
        case .notContainsAny: return .containsAny
        case .notGlob: return .glob
        case .notIGlob: return .iGlob
        default: return nil
        }
    }
}

extension AttributeValue {
    /// The items of an array operand (`In`, `ContainsAny`); none otherwise.
    var arrayItems: [AttributeValue] {
        if case .array(let items) = self { return items }
        return []
    }
}
