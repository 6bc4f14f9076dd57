/// A document attribute value as stored in the log and in segments.
///
/// JSON numbers without a fraction or exponent are integers; `uint` holds only the
/// values above `Int64.max`. Datetimes and UUIDs travel as strings and are typed by the schema.
public enum AttributeValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)
    case array([AttributeValue])

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as a Double when it is numeric.
    public var numericValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }

    /// A short name of the value's kind, for error messages and schema inference.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .uint: return "int"
        case .float: return "float"
        case .string: return "string"
        case .array: return "array"
        }
    }
}

extension AttributeValue {
    /// Total order used for sorting and range filters: null < bool < numbers < strings < arrays.
    /// Numbers compare by value across int/uint/float.
    public static func compare(_ a: AttributeValue, _ b: AttributeValue) -> Int {
        func rank(_ v: AttributeValue) -> Int {
            switch v {
            case .null: return 0
            case .bool: return 1
            case .int, .uint, .float: return 2
            case .string: return 3
            case .array: return 4
            }
        }
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.uint(let x), .uint(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.int(let x), .uint(let y)): return x < 0 || UInt64(x) < y ? -1 : (UInt64(x) > y ? 1 : 0)
        case (.uint(let x), .int(let y)): return -compare(.int(y), .uint(x))
        case (.string(let x), .string(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.array(let x), .array(let y)):
            for (l, r) in zip(x, y) {
                let c = compare(l, r)
                if c != 0 { return c }
            }
            return x.count < y.count ? -1 : (x.count > y.count ? 1 : 0)
        default:
            if let x = a.numericValue, let y = b.numericValue {
                return x < y ? -1 : (x > y ? 1 : 0)
            }
            let (ra, rb) = (rank(a), rank(b))
            return ra < rb ? -1 : (ra > rb ? 1 : 0)
        }
    }

    /// Equality used by filters: numbers are equal by value whatever their kind.
    public static func filterEquals(_ a: AttributeValue, _ b: AttributeValue) -> Bool {
        if let x = a.numericValue, let y = b.numericValue { return compare(a, b) == 0 && x == y }
        return a == b
    }
}
