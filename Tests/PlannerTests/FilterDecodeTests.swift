import LagoonTestSupport
import Log
import Planner
import Testing

@Suite("FilterExpression.decode")
struct FilterDecodeTests {
    static func decode(_ text: String, root: String = "filters", allowReferences: Bool = false) throws -> FilterExpression {
        try FilterExpression.decode(parseJSON(text), at: JSONPath(root), allowReferences: allowReferences)
    }

    /// The message of the `LagoonError` the decode throws (nil when it succeeds).
    static func message(_ text: String, root: String = "filters", allowReferences: Bool = false) throws -> String? {
        let json = try parseJSON(text)
        do {
            _ = try FilterExpression.decode(json, at: JSONPath(root), allowReferences: allowReferences)
            return nil
        } catch let error as LagoonError {
            #expect(error.code == .badRequest)
            return error.message
        }
    }

    /// A well-typed operand for each operator.
    static func operand(for op: FilterOperator) -> (json: String, value: AttributeValue) {
        switch op {
        case .eq, .notEq, .lt, .lte, .gt, .gte: return ("3", .int(3))
        case .contains, .notContains: return (#""red""#, .string("red"))
        case .in, .notIn, .containsAny, .notContainsAny: return (#"[1, "b", 2.5, null, true]"#,
                                                                 .array([.int(1), .string("b"), .float(2.5), .null, .bool(true)]))
        case .glob, .notGlob, .iGlob, .notIGlob: return (#""ab*[c-d]?""#, .string("ab*[c-d]?"))
        case .containsAllTokens, .containsAnyToken: return (#""quick brown fox""#, .string("quick brown fox"))
        }
    }

    @Test("every v1 operator decodes to a condition", arguments: FilterOperator.allCases)
    func everyOperator(op: FilterOperator) throws {
        let (json, value) = Self.operand(for: op)
        let decoded = try Self.decode(#"["attr", "\#(op.rawValue)", \#(json)]"#)
        #expect(decoded == .condition(attribute: "attr", op: op, operand: .value(value)))
        #expect(decoded.attributes == ["attr"])
        #expect(!decoded.referencesNewDocument)
        // The API form written back by plans decodes to the same tree.
        #expect(try FilterExpression.decode(decoded.json, at: JSONPath("filters")) == decoded)
    }

    @Test("scalar operand kinds", arguments: [
        ("null", AttributeValue.null), ("true", .bool(true)), ("-7", .int(-7)), ("1.25", .float(1.25)),
        ("18446744073709551615", .uint(UInt64.max)), (#""x""#, .string("x")), (#"["a", "b"]"#, .array([.string("a"), .string("b")])),
    ])
    func operandKinds(json: String, value: AttributeValue) throws {
        #expect(try Self.decode(#"["a", "Eq", \#(json)]"#) == .condition(attribute: "a", op: .eq, operand: .value(value)))
    }

    @Test("And, Or and Not nest")
    func nesting() throws {
        let decoded = try Self.decode(#"["And", [["a", "Eq", 1], ["Or", [["b", "Lt", 2], ["Not", ["c", "Glob", "x*"]]]], ["Or", []]]]"#)
        let expected = FilterExpression.and([
            .condition(attribute: "a", op: .eq, operand: .value(.int(1))),
            .or([
                .condition(attribute: "b", op: .lt, operand: .value(.int(2))),
                .not(.condition(attribute: "c", op: .glob, operand: .value(.string("x*")))),
            ]),
            .or([]),
        ])
        #expect(decoded == expected)
        #expect(decoded.attributes == ["a", "b", "c"])
        #expect(try FilterExpression.decode(decoded.json, at: JSONPath()) == decoded)
    }

    @Test("errors name the JSON path of the offending value", arguments: [
        (#"["And", [["a", "In", 5]]]"#, "filters[1][0][2]: In takes an array of values"),
        (#"["And", [["a", "Eq", 1], ["Or", [["b", "Eq", 1], ["c", "Lt", {"x": 1}]]]]]"#,
         "filters[1][1][1][1][2]: objects are not supported as attribute values"),
        (#"["Not", ["a", "Glob", 5]]"#, "filters[1][2]: Glob takes a string"),
        (#"["a", "IGlob", ["x"]]"#, "filters[2]: IGlob takes a string"),
        (#"["a", "ContainsAllTokens", 1]"#, "filters[2]: ContainsAllTokens takes a string"),
        (#"["a", "ContainsAnyToken", null]"#, "filters[2]: ContainsAnyToken takes a string"),
        (#"["a", "NotIn", "x"]"#, "filters[2]: NotIn takes an array of values"),
        (#"["a", "ContainsAny", 1]"#, "filters[2]: ContainsAny takes an array of values"),
        (#"["a", "NotContainsAny", {"$ref_x": 1}]"#, "filters[2]: objects are not supported as attribute values"),
        (#"["a", "In", [1, [2]]]"#, "filters[2][1]: nested arrays are not supported"),
        (#"["a", "In", [1, {"b": 2}]]"#, "filters[2][1]: objects are not supported as array elements"),
        (#"["a", "Eq", 1e400]"#, "filters[2]: numbers must be finite"),
        (#"["a", "Between", 1]"#, #"filters[1]: unknown filter operator "Between"; supported: Eq NotEq In NotIn"#),
        (#"["a", 5, 1]"#, "filters[1]: the operator must be a string"),
        (#"["a", "Eq"]"#, "filters: a condition has three elements [attribute, operator, value], got 2"),
        (#"["a", "Eq", 1, 2]"#, "filters: a condition has three elements [attribute, operator, value], got 4"),
        (#"{"a": 1}"#, "filters: a filter must be an array"),
        (#"[]"#, "filters: a filter must start with an attribute name or And/Or/Not"),
        (#"[1, "Eq", 1]"#, "filters: a filter must start with an attribute name or And/Or/Not"),
        (#"["And", ["a", "Eq", 1], ["b", "Eq", 2]]"#, "filters: And takes one array of filters"),
        (#"["Or", "x"]"#, "filters: Or takes one array of filters"),
        (#"["Not", ["a", "Eq", 1], ["b", "Eq", 1]]"#, "filters: Not takes one filter"),
        (#"["And", [["a", "Eq", 1], "b"]]"#, "filters[1][1]: a filter must be an array"),
    ])
    func errorPaths(text: String, expected: String) throws {
        let message = try Self.message(text)
        #expect(message?.hasPrefix(expected) == true, "got \(message ?? "no error")")
    }

    @Test("Regex, Fuzzy and the other out-of-scope operators say so", arguments: [
        "Regex", "Fuzzy", "AnyLt", "AnyLte", "AnyGt", "AnyGte", "ContainsTokenSequence",
    ])
    func outOfScope(name: String) throws {
        let top = try Self.message(#"["name", "\#(name)", "^a.*"]"#)
        #expect(top == "filters[1]: the \(name) filter is not supported in Lagoon v1 (out of scope)")
        // Also with a wrong number of elements, and deep inside a tree.
        #expect(try Self.message(#"["name", "\#(name)"]"#) == top)
        let nested = try Self.message(#"["Or", [["a", "Eq", 1], ["And", [["name", "\#(name)", "x"]]]]]"#)
        #expect(nested == "filters[1][1][1][0][1]: the \(name) filter is not supported in Lagoon v1 (out of scope)")
    }

    @Test("$ref_new is accepted in write conditions only")
    func referenceToNew() throws {
        let text = #"["And", [["version", "Lt", {"$ref_new": "version"}], ["id", "NotEq", 3]]]"#
        let condition = try Self.decode(text, root: "upsert_condition", allowReferences: true)
        #expect(condition == .and([
            .condition(attribute: "version", op: .lt, operand: .referenceToNew("version")),
            .condition(attribute: "id", op: .notEq, operand: .value(.int(3))),
        ]))
        #expect(condition.referencesNewDocument)
        #expect(try FilterExpression.decode(condition.json, at: JSONPath(), allowReferences: true) == condition)

        #expect(try Self.message(text) == "filters[1][0][2]: $ref_new is only allowed in write conditions")
        #expect(try Self.message(#"["v", "Eq", {"$ref_new": 1}]"#, allowReferences: true)?
            .hasPrefix("filters[2]: $ref_new takes an attribute name") == true)
        #expect(try Self.message(#"["v", "Eq", {"$ref_new": "v", "extra": 1}]"#, allowReferences: true)?
            .hasPrefix("filters[2]: $ref_new takes an attribute name") == true)
    }
}
