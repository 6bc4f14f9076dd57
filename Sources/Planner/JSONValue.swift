public import Log

/// A parsed JSON value. Integers keep their exact value; objects keep key order.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer above `Int64.max`.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// An array of non-integer numbers, stored compactly (8 bytes per number instead of a
    /// 24-byte value each): what vectors in JSON bodies are. The parser produces it for long
    /// arrays whose elements are all fractional numbers; it equals the `.array` of `.double`s.
    case doubles([Double])
    case object(JSONObject)

    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .uint, .double: return "a number"
        case .string: return "a string"
        case .array, .doubles: return "an array"
        case .object: return "an object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        switch self {
        case .array(let a): return a
        case .doubles(let values): return values.map { .double($0) }
        default: return nil
        }
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }

    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v) where v.rounded() == v && abs(v) < 9.0e15: return Int64(v)
        default: return nil
        }
    }
}

extension JSONValue: Equatable {
    /// Structural equality; a compact `.doubles` equals the `.array` of the same `.double`s.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.doubles(let x), .doubles(let y)): return x == y
        case (.array, .array), (.array, .doubles), (.doubles, .array): return a.arrayValue! == b.arrayValue!
        case (.object(let x), .object(let y)): return x == y
        default: return false
        }
    }
}

/// A JSON object: ordered key/value pairs with keyed lookup. Keys are distinct by their
/// bytes: `"é"` and `"e\u0301"` are two keys, never one.
public struct JSONObject: Sendable, Equatable {
    public private(set) var pairs: [(key: String, value: JSONValue)] = []
    private var index: [ByteString: Int] = [:]

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> JSONValue? {
        get { index[ByteString(key)].map { pairs[$0].value } }
        set {
            if let i = index[ByteString(key)] {
                if let newValue { pairs[i].value = newValue } else {
                    pairs.remove(at: i)
                    index = Dictionary(uniqueKeysWithValues: pairs.enumerated().map { (ByteString($1.key), $0) })
                }
            } else if let newValue {
                index[ByteString(key)] = pairs.count
                pairs.append((key, newValue))
            }
        }
    }

    public var keys: [String] { pairs.map(\.key) }
    public var count: Int { pairs.count }

    /// The object without its null members. Request options use it: an optional field
    /// sent as `null` means the field is absent (clients send `"filters": null`).
    public var withoutNulls: JSONObject {
        guard pairs.contains(where: { $0.value == .null }) else { return self }
        return JSONObject(pairs.filter { $0.value != .null }.map { ($0.key, $0.value) })
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { StringBytes.equal($0.key, $1.key) && $0.value == $1.value }
    }
}
