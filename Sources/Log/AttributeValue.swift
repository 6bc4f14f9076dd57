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

    // Strings are equal and hash by their UTF-8 bytes, never by canonical equivalence.
    // Other kinds keep their natural equality (`filterEquals` is the by-value number rule).

    public static func == (a: AttributeValue, b: AttributeValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.string(let x), .string(let y)): return StringBytes.equal(x, y)
        case (.array(let x), .array(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0 as UInt8)
        case .bool(let b): hasher.combine(1 as UInt8); hasher.combine(b)
        case .int(let v): hasher.combine(2 as UInt8); hasher.combine(v)
        case .uint(let v): hasher.combine(3 as UInt8); hasher.combine(v)
        case .float(let v): hasher.combine(4 as UInt8); hasher.combine(v)
        case .string(let s): hasher.combine(5 as UInt8); StringBytes.hash(s, into: &hasher)
        case .array(let items):
            hasher.combine(6 as UInt8)
            hasher.combine(items.count)
            for item in items { item.hash(into: &hasher) }
        }
    }
}

extension AttributeValue {
    /// Total order used for sorting and range filters: null < bool < numbers < strings < arrays.
    /// Numbers compare exactly by value across int/uint/float (no rounding through Double);
    /// strings by their UTF-8 bytes; arrays element by element, then by length.
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
        case (.int(let x), .float(let y)): return compareExactly(x, y)
        case (.float(let x), .int(let y)): return -compareExactly(y, x)
        case (.uint(let x), .float(let y)): return compareExactly(x, y)
        case (.float(let x), .uint(let y)): return -compareExactly(y, x)
        case (.float(let x), .float(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.string(let x), .string(let y)): return StringBytes.compare(x, y)
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

    /// An integer against a finite double, exactly: 2^53 + 1 is greater than 2^53 as a double.
    static func compareExactly<I: FixedWidthInteger>(_ x: I, _ y: Double) -> Int {
        if y < Double(I.min) { return 1 }
        if y >= Double(I.max) { return -1 }  // Double(I.max) rounds up to 2^63 (2^64): above every I
        let whole = y.rounded(.down)
        let w = I(whole)
        if x != w { return x < w ? -1 : 1 }
        return y > whole ? -1 : 0
    }

    /// Equality used by filters: numbers are equal by exact value whatever their kind.
    public static func filterEquals(_ a: AttributeValue, _ b: AttributeValue) -> Bool {
        if a.numericValue != nil, b.numericValue != nil { return compare(a, b) == 0 }
        return a == b
    }

    /// The value with numbers in one canonical kind, so that values `filterEquals` calls
    /// equal are `==` and hash alike (hash sets for `In` lists): integral floats become
    /// ints (or uints above `Int64.max`), uints that fit become ints.
    public var filterKey: AttributeValue {
        switch self {
        case .uint(let v) where v <= UInt64(Int64.max): return .int(Int64(v))
        case .float(let v) where v.rounded() == v:
            if v >= -9_223_372_036_854_775_808.0 && v < 9_223_372_036_854_775_808.0 { return .int(Int64(v)) }
            if v >= 0 && v < 18_446_744_073_709_551_616.0 { return .uint(UInt64(v)) }
            return self
        default: return self
        }
    }
}
