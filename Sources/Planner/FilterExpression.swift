public import Log

/// The comparison operators of filters (API.md v1 set).
public enum FilterOperator: String, Sendable, Codable, CaseIterable {
    case eq = "Eq", notEq = "NotEq", `in` = "In", notIn = "NotIn"
    case lt = "Lt", lte = "Lte", gt = "Gt", gte = "Gte"
    case contains = "Contains", notContains = "NotContains"
    case containsAny = "ContainsAny", notContainsAny = "NotContainsAny"
    case glob = "Glob", notGlob = "NotGlob", iGlob = "IGlob", notIGlob = "NotIGlob"
    case containsAllTokens = "ContainsAllTokens", containsAnyToken = "ContainsAnyToken"

    /// Operators that exist in the turbopuffer API but are out of scope for v1.
    static let outOfScope: Set<String> = ["Regex", "Fuzzy", "AnyLt", "AnyLte", "AnyGt", "AnyGte", "ContainsTokenSequence"]

    var takesList: Bool {
        switch self {
        case .in, .notIn, .containsAny, .notContainsAny: return true
        default: return false
        }
    }
}

/// The right-hand side of a condition: a literal, or (in write conditions) the value the
/// incoming document carries for an attribute (`{"$ref_new": "attr"}`).
public enum FilterOperand: Sendable, Equatable {
    case value(AttributeValue)
    case referenceToNew(String)
}

/// A typed filter tree.
public indirect enum FilterExpression: Sendable, Equatable {
    case and([FilterExpression])
    case or([FilterExpression])
    case not(FilterExpression)
    case condition(attribute: String, op: FilterOperator, operand: FilterOperand)

    /// True when some condition refers to the incoming document.
    public var referencesNewDocument: Bool {
        switch self {
        case .and(let items), .or(let items): return items.contains { $0.referencesNewDocument }
        case .not(let inner): return inner.referencesNewDocument
        case .condition(_, _, let operand):
            if case .referenceToNew = operand { return true }
            return false
        }
    }

    /// Attributes the filter reads.
    public var attributes: Set<String> {
        switch self {
        case .and(let items), .or(let items): return items.reduce(into: []) { $0.formUnion($1.attributes) }
        case .not(let inner): return inner.attributes
        case .condition(let attribute, _, _): return [attribute]
        }
    }
}

extension FilterExpression {
    /// Decodes `[attr, op, value]`, `["And", [...]]`, `["Or", [...]]`, `["Not", f]`.
    /// With the namespace's `config`, operands of datetime attributes are normalised as
    /// stored values are (CanonicalDatetime), so comparisons are by instant.
    public static func decode(_ json: JSONValue, at path: JSONPath, allowReferences: Bool = false,
                              config: NamespaceConfig? = nil) throws -> FilterExpression {
        guard let items = json.arrayValue else {
            throw path.invalid("a filter must be an array like [\"attr\", \"Eq\", value] or [\"And\", [...]], got \(json.kindName)")
        }
        guard let head = items.first?.stringValue else {
            throw path.invalid("a filter must start with an attribute name or And/Or/Not")
        }
        switch head {
        case "And", "Or":
            guard items.count == 2, let children = items[1].arrayValue else {
                throw path.invalid("\(head) takes one array of filters: [\"\(head)\", [f1, f2, ...]]")
            }
            let decoded = try children.enumerated().map {
                try decode($1, at: path.index(1).index($0), allowReferences: allowReferences, config: config)
            }
            return head == "And" ? .and(decoded) : .or(decoded)
        case "Not":
            guard items.count == 2 else { throw path.invalid("Not takes one filter: [\"Not\", f]") }
            return .not(try decode(items[1], at: path.index(1), allowReferences: allowReferences, config: config))
        default:
            break
        }
        if items.count >= 2, let name = items[1].stringValue, FilterOperator.outOfScope.contains(name) {
            throw path.index(1).invalid("the \(name) filter is not supported in Lagoon v1 (out of scope)")
        }
        guard items.count == 3 else {
            throw path.invalid("a condition has three elements [attribute, operator, value], got \(items.count)")
        }
        try AttributeName.validate(head, at: path.index(0))
        guard let opName = items[1].stringValue else { throw path.index(1).invalid("the operator must be a string") }
        guard let op = FilterOperator(rawValue: opName) else {
            if FilterOperator.outOfScope.contains(opName) {
                throw path.index(1).invalid("the \(opName) filter is not supported in Lagoon v1 (out of scope)")
            }
            throw path.index(1).invalid("unknown filter operator \"\(opName)\"; supported: \(FilterOperator.allCases.map(\.rawValue).joined(separator: " "))")
        }
        let operandPath = path.index(2)
        if let object = items[2].objectValue, let reference = object["$ref_new"] {
            guard allowReferences else { throw operandPath.invalid("$ref_new is only allowed in write conditions") }
            guard object.count == 1, let name = reference.stringValue else {
                throw operandPath.invalid("$ref_new takes an attribute name: {\"$ref_new\": \"attr\"}")
            }
            try AttributeName.validate(name, at: operandPath.key("$ref_new"))
            return .condition(attribute: head, op: op, operand: .referenceToNew(name))
        }
        var value = try AttributeValueDecoding.decode(items[2], at: operandPath)
        if op.takesList, case .array = value {} else if op.takesList {
            throw operandPath.invalid("\(opName) takes an array of values")
        }
        switch op {
        case .glob, .notGlob, .iGlob, .notIGlob, .containsAllTokens, .containsAnyToken:
            guard case .string = value else { throw operandPath.invalid("\(opName) takes a string") }
        default:
            if config?.schema[head]?.elementType == "datetime" {
                value = try normalizingDatetimes(value, at: operandPath)
            }
        }
        return .condition(attribute: head, op: op, operand: .value(value))
    }

    /// String operands (or list elements) of a datetime attribute in canonical form.
    static func normalizingDatetimes(_ value: AttributeValue, at path: JSONPath) throws -> AttributeValue {
        switch value {
        case .string(let s):
            guard let canonical = CanonicalDatetime.normalize(s) else { throw path.invalid("\"\(s)\" is not an RFC 3339 datetime") }
            return .string(canonical)
        case .array(let items):
            return .array(try items.enumerated().map { try normalizingDatetimes($1, at: path.index($0)) })
        default:
            return value
        }
    }
}

/// Converts JSON values to attribute values.
public enum AttributeValueDecoding {
    public static func decode(_ json: JSONValue, at path: JSONPath) throws -> AttributeValue {
        switch json {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .uint(let v): return .uint(v)
        case .double(let v):
            guard v.isFinite else { throw path.invalid("numbers must be finite") }
            return .float(v)
        case .string(let s): return .string(s)
        case .doubles(let values):
            return .array(try values.enumerated().map { i, v in
                guard v.isFinite else { throw path.index(i).invalid("numbers must be finite") }
                return .float(v)
            })
        case .array(let items):
            return .array(try items.enumerated().map { i, item in
                if case .array = item { throw path.index(i).invalid("nested arrays are not supported") }
                if case .doubles = item { throw path.index(i).invalid("nested arrays are not supported") }
                if case .object = item { throw path.index(i).invalid("objects are not supported as array elements") }
                return try decode(item, at: path.index(i))
            })
        case .object:
            throw path.invalid("objects are not supported as attribute values")
        }
    }
}
