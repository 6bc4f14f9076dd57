public import Log

extension AttributeValue {
    /// The value as JSON (the API's representation).
    public var json: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .uint(let v): return .uint(v)
        case .float(let v): return .double(v)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(\.json))
        }
    }
}

extension DocumentID {
    /// The id as the API writes it: unsigned integers as numbers, UUIDs and strings as strings.
    public var json: JSONValue {
        switch self {
        case .uint(let v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
        case .uuid, .string: return .string(description)
        }
    }
}
