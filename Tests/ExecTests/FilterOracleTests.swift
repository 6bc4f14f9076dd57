import Exec
import LagoonTestSupport
import Log
import Planner
import Segments
import Testing

/// Filter semantics, stated independently of `RowPredicate`:
/// - a missing attribute is null; `id` is the id as a value;
/// - Eq/In compare numbers by value across int and float, everything else structurally
///   (a whole array equals a whole array); null equals null; NotEq/NotIn negate;
/// - Lt/Lte/Gt/Gte hold only between two numbers, two strings or two booleans;
/// - Contains*/Glob*/token operators look at the elements of an array value, or at a
///   scalar value itself, or at nothing for null; the Not-forms negate;
/// - ContainsAllTokens needs every operand token (and at least one) among the value's tokens;
///   ContainsAnyToken needs one in common;
/// - And of nothing is true, Or of nothing is false.
enum FilterOracle {
    static let stopwords: Set<String> = ["the", "a", "of", "and"]

    static func value(_ document: Document, _ attribute: String) -> AttributeValue {
        if attribute == "id", case .uint(let v) = document.id { return .int(Int64(v)) }
        return document.attributes[attribute] ?? .null
    }

    static func number(_ v: AttributeValue) -> Double? {
        switch v {
        case .int(let x): return Double(x)
        case .uint(let x): return Double(x)
        case .float(let x): return x
        default: return nil
        }
    }

    static func equal(_ a: AttributeValue, _ b: AttributeValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    /// -1, 0 or 1 when the two values are comparable; nil otherwise.
    static func order(_ a: AttributeValue, _ b: AttributeValue) -> Int? {
        if let x = number(a), let y = number(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        default: return nil
        }
    }

    static func elements(_ v: AttributeValue) -> [AttributeValue] {
        switch v {
        case .null: return []
        case .array(let items): return items
        default: return [v]
        }
    }

    /// `*` any run, `?` one character (the generated patterns use nothing else).
    static func glob(_ pattern: [Character], _ text: [Character]) -> Bool {
        guard let p = pattern.first else { return text.isEmpty }
        if p == "*" { return glob(Array(pattern.dropFirst()), text) || (!text.isEmpty && glob(pattern, Array(text.dropFirst()))) }
        guard let t = text.first, p == "?" || p == t else { return false }
        return glob(Array(pattern.dropFirst()), Array(text.dropFirst()))
    }

    static func tokens(_ v: AttributeValue) -> Set<String> {
        var result = Set<String>()
        for case .string(let s) in elements(v) {
            for word in s.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
                let lower = word.lowercased()
                if !stopwords.contains(lower) { result.insert(lower) }
            }
        }
        return result
    }

    static func matches(_ filter: FilterExpression, _ document: Document) -> Bool {
        switch filter {
        case .and(let items): return items.allSatisfy { matches($0, document) }
        case .or(let items): return items.contains { matches($0, document) }
        case .not(let inner): return !matches(inner, document)
        case .condition(let attribute, let op, .value(let operand)):
            let v = value(document, attribute)
            let list: [AttributeValue]
            if case .array(let items) = operand { list = items } else { list = [] }
            switch op {
            case .eq: return equal(v, operand)
            case .notEq: return !equal(v, operand)
            case .in: return list.contains { equal(v, $0) }
            case .notIn: return !list.contains { equal(v, $0) }
            case .lt: return order(v, operand).map { $0 < 0 } ?? false
            case .lte: return order(v, operand).map { $0 <= 0 } ?? false
            case .gt: return order(v, operand).map { $0 > 0 } ?? false
            case .gte: return order(v, operand).map { $0 >= 0 } ?? false
            case .contains: return elements(v).contains { equal($0, operand) }
            case .notContains: return !elements(v).contains { equal($0, operand) }
            case .containsAny: return elements(v).contains { e in list.contains { equal(e, $0) } }
            case .notContainsAny: return !elements(v).contains { e in list.contains { equal(e, $0) } }
            case .glob, .notGlob, .iGlob, .notIGlob:
                guard case .string(let pattern) = operand else { return false }
                let insensitive = op == .iGlob || op == .notIGlob
                let p = Array(insensitive ? pattern.lowercased() : pattern)
                let any = elements(v).contains {
                    guard case .string(let s) = $0 else { return false }
                    return glob(p, Array(insensitive ? s.lowercased() : s))
                }
                return (op == .glob || op == .iGlob) ? any : !any
            case .containsAllTokens:
                let wanted = tokens(operand)
                return !wanted.isEmpty && wanted.isSubset(of: tokens(v))
            case .containsAnyToken:
                return !tokens(operand).isDisjoint(with: tokens(v))
            }
        case .condition(_, _, .referenceToNew):
            return false
        }
    }
}

/// Random documents and filters over a small vocabulary, so that filters match a useful
/// fraction of rows.
struct FilterFixtures {
    var rng: SeededRandom

    static let strings = ["apple", "Apple pie", "banana", "cherry tart", "", "b*", "apricot", "Ápple", "pie"]
    static let tags = ["red", "green", "blue", "Red"]
    static let words = ["quick", "brown", "fox", "The", "lazy", "dog", "jumps", "over", "FOX", "dogs", "a", "of", "Café", "ÉCOLE"]

    mutating func number() -> AttributeValue {
        rng.chance(0.5) ? .int(Int64.random(in: -3...3, using: &rng)) : .float(Double(Int.random(in: -6...6, using: &rng)) / 2)
    }

    mutating func text() -> String {
        let separators = [" ", ", ", "-", "  "]
        return (0..<Int.random(in: 0...6, using: &rng)).map { _ in rng.pick(Self.words) }
            .reduce("") { $0.isEmpty ? $1 : $0 + rng.pick(separators) + $1 }
    }

    mutating func document(id: UInt64) -> Document {
        let candidates: [(String, AttributeValue)] = [
            ("n", .int(Int64.random(in: -5...5, using: &rng))),
            ("x", number()),
            ("s", .string(rng.pick(Self.strings))),
            ("tags", .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in .string(rng.pick(Self.tags)) })),
            ("nums", .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in .int(Int64.random(in: 0...4, using: &rng)) })),
            ("b", .bool(rng.chance(0.5))),
            ("mixed", rng.pick([.int(1), .string("1"), .bool(true), .float(1.5), .array([.string("a")]), .string("zzz")])),
            ("text", .string(text())),
            ("texts", .array([.string(text()), .string(text())])),
        ]
        var attributes: [String: AttributeValue] = [:]
        for (name, value) in candidates {
            let roll = Double.random(in: 0..<1, using: &rng)
            if roll < 0.12 { continue }  // absent
            attributes[name] = roll < 0.2 ? .null : value
        }
        return Document(id: .uint(id), vector: nil, attributes: attributes)
    }

    static let attributes = ["n", "x", "s", "tags", "nums", "b", "mixed", "text", "texts", "id", "ghost"]

    mutating func scalar(for attribute: String) -> AttributeValue {
        if rng.chance(0.1) { return rng.pick([.null, .bool(true), .string("1"), .int(1), .float(0.5)]) }
        switch attribute {
        case "n", "x", "nums": return number()
        case "s": return .string(rng.pick(Self.strings + ["Apple", "b", "c"]))
        case "tags": return .string(rng.pick(Self.tags))
        case "b": return .bool(rng.chance(0.5))
        case "mixed": return rng.pick([.int(1), .string("1"), .bool(true), .float(1.5), .string("a"), .float(1)])
        case "text", "texts": return .string(text())
        case "id": return .int(Int64.random(in: 0...700, using: &rng))
        default: return .int(Int64.random(in: -2...2, using: &rng))
        }
    }

    mutating func condition() -> FilterExpression {
        let attribute = rng.pick(Self.attributes)
        let op = rng.pick(FilterOperator.allCases)
        let operand: AttributeValue
        switch op {
        case .in, .notIn, .containsAny, .notContainsAny:
            operand = .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in scalar(for: attribute) })
        case .glob, .notGlob, .iGlob, .notIGlob:
            operand = .string(rng.pick(["a*", "*e*", "?pple*", "b*", "*", "", "APPLE*", "r?d", "*ie", "?", "*o*x*", "Red"]))
        case .containsAllTokens, .containsAnyToken:
            operand = .string(rng.pick(["quick fox", "the", "FOX dog", "", "cat", "dogs", "lazy, brown", "apple", "red", "CAFÉ", "école fox"]))
        case .eq, .notEq:
            if rng.chance(0.15) {
                // Whole-array equality (int and string arrays only).
                operand = attribute == "nums" ? .array([.int(Int64.random(in: 0...4, using: &rng))]) : .array([.string(rng.pick(Self.tags))])
            } else {
                operand = scalar(for: attribute)
            }
        default:
            operand = scalar(for: attribute)
        }
        return .condition(attribute: attribute, op: op, operand: .value(operand))
    }

    mutating func filter(depth: Int = 0) -> FilterExpression {
        guard depth < 3, rng.chance(0.45) else { return condition() }
        let children = (0..<Int.random(in: 0...3, using: &rng)).map { _ in filter(depth: depth + 1) }
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return .and(children)
        case 1: return .or(children)
        default: return .not(children.first ?? condition())
        }
    }
}

@Suite("filters: RowPredicate and FilterExpression.matches vs an oracle")
struct FilterOracleTests {
    static let config: NamespaceConfig = {
        var config = NamespaceConfig()
        config.idKind = .uint
        config.schema["text"] = AttributeSchema(type: "string", fullTextSearch: FullTextConfig())
        return config
    }()

    /// A projection of ~500 live documents with replaced, patched and deleted rows, and
    /// the document each row holds.
    static func build(seed: UInt64) -> (NamespaceProjection, [Document]) {
        var fixtures = FilterFixtures(rng: SeededRandom(seed: seed))
        var builder = ProjectionBuilder(config: config)
        var rows: [Document] = []
        var live: [UInt64: Document] = [:]
        for batch in 0..<5 {
            let documents = (0..<100).map { fixtures.document(id: UInt64(batch * 100 + $0)) }
            builder.apply(documents.map { .upsert($0) })
            rows += documents
            for d in documents { live[d.id.uintValue] = d }
        }
        // Replace, patch and delete some, and add a few new ids.
        var events: [WriteEvent] = []
        for _ in 0..<120 {
            let id = UInt64.random(in: 0..<560, using: &fixtures.rng)
            switch Int.random(in: 0..<3, using: &fixtures.rng) {
            case 0:
                let d = fixtures.document(id: id)
                events.append(.upsert(d))
                rows.append(d)
                live[id] = d
            case 1:
                guard var d = live[id] else { continue }
                let changes: [String: AttributeValue] = ["n": fixtures.rng.chance(0.3) ? .null : .int(Int64.random(in: -5...5, using: &fixtures.rng)),
                                                         "s": .string(fixtures.rng.pick(FilterFixtures.strings))]
                for (k, v) in changes { d.attributes[k] = v.isNull ? nil : v }
                events.append(.patch(id: d.id, attributes: changes, vector: nil))
                rows.append(d)
                live[id] = d
            default:
                guard live[id] != nil else { continue }
                events.append(.delete(.uint(id)))
                live[id] = nil
            }
        }
        builder.apply(events)
        return (builder.projection, rows)
    }

    static func stripNulls(_ d: Document) -> Document {
        Document(id: d.id, vector: d.vector, attributes: d.attributes.filter { !$0.value.isNull })
    }

    @Test("the projection holds the documents the oracle expects")
    func projectionMirrorsEvents() {
        let (projection, rows) = Self.build(seed: 1)
        #expect(projection.rowCount == rows.count)
        #expect(projection.liveCount < projection.rowCount && projection.liveCount > 400)
        for row in 0..<min(projection.rowCount, rows.count) {
            #expect(try projection.document(row: row) == Self.stripNulls(rows[row]), "row \(row)")
        }
    }

    @Test("random filters agree with the oracle on every row", arguments: [1, 2, 3] as [UInt64])
    func randomFilters(seed: UInt64) {
        let (projection, rows) = Self.build(seed: seed)
        var fixtures = FilterFixtures(rng: SeededRandom(seed: 1000 + seed))
        let documents = (0..<projection.rowCount).map { projection.document(row: $0) }
        var matchedSome = 0, matchedAll = 0
        var operatorsSeen = Set<FilterOperator>()
        for _ in 0..<400 {
            let filter = fixtures.filter()
            let predicate = RowPredicate(filter, projection: projection)
            var mismatches: [Int] = []
            var count = 0
            for row in rows.indices {
                let expected = FilterOracle.matches(filter, rows[row])
                if predicate.matches(row) != expected { mismatches.append(row) }
                if filter.matches(documents[row], config: projection.config) != expected { mismatches.append(row) }
                if expected { count += 1 }
            }
            if let first = mismatches.first {
                Issue.record("\(jsonText(filter.json)) disagrees with the oracle on \(mismatches.count) checks, first on row \(first): \(Self.stripNulls(rows[first]))")
            }
            if count > 0 { matchedSome += 1 }
            if count == rows.count { matchedAll += 1 }
            if case .condition(_, let op, _) = filter { operatorsSeen.insert(op) }
        }
        // The generator has to produce filters that separate rows, or agreement means little.
        #expect(matchedSome > 200)
        #expect(400 - matchedAll > 200)
        #expect(operatorsSeen == Set(FilterOperator.allCases))
    }

    // MARK: Spot checks that spell out the semantics

    static let small: (NamespaceProjection, [DocumentID: Int]) = {
        var builder = ProjectionBuilder(config: config)
        builder.apply([
            .upsert(Document(id: .uint(1), attributes: ["n": .int(2), "s": .string("Apple pie"), "tags": .array([.string("red"), .string("blue")]),
                                                        "text": .string("The quick brown fox")])),
            .upsert(Document(id: .uint(2), attributes: ["n": .float(2), "s": .string("apple"), "tags": .array([])])),
            .upsert(Document(id: .uint(3), attributes: ["n": .null, "s": .string("banana"), "tags": .array([.string("Red")]),
                                                        "text": .string("lazy dogs, quick!")])),
            .upsert(Document(id: .uint(4), attributes: ["n": .string("2"), "b": .bool(true)])),
            .upsert(Document(id: .uint(5), attributes: ["n": .int(-1), "s": .string("cherry")])),
        ])
        let p = builder.projection
        return (p, Dictionary(uniqueKeysWithValues: (0..<p.rowCount).map { (p.ids[$0], $0) }))
    }()

    @Test("spot checks", arguments: [
        (#"["n", "Eq", 2]"#, [1, 2] as [UInt64]),
        (#"["n", "Eq", null]"#, [3]),
        (#"["n", "NotEq", 2]"#, [3, 4, 5]),
        (#"["n", "Gte", 0]"#, [1, 2]),
        (#"["n", "Lt", "3"]"#, [4]),
        (#"["n", "In", [-1, "2"]]"#, [4, 5]),
        (#"["n", "NotIn", [2]]"#, [3, 4, 5]),
        (#"["ghost", "Eq", null]"#, [1, 2, 3, 4, 5]),
        (#"["ghost", "Gt", 0]"#, []),
        (#"["s", "Glob", "*pie"]"#, [1]),
        (#"["s", "Glob", "apple*"]"#, [2]),
        (#"["s", "IGlob", "APPLE*"]"#, [1, 2]),
        (#"["s", "NotGlob", "a*"]"#, [1, 3, 4, 5]),
        (#"["s", "Gt", "b"]"#, [3, 5]),
        (#"["tags", "Contains", "red"]"#, [1]),
        (#"["tags", "NotContains", "red"]"#, [2, 3, 4, 5]),
        (#"["tags", "ContainsAny", ["Red", "blue"]]"#, [1, 3]),
        (#"["tags", "IGlob", "r*"]"#, [1, 3]),
        (#"["tags", "Eq", ["red", "blue"]]"#, [1]),
        (#"["tags", "Eq", []]"#, [2]),
        (#"["text", "ContainsAllTokens", "QUICK fox"]"#, [1]),
        (#"["text", "ContainsAllTokens", "the"]"#, []),
        (#"["text", "ContainsAnyToken", "fox dogs"]"#, [1, 3]),
        (#"["id", "In", [2, 4, 9]]"#, [2, 4]),
        (#"["id", "Gt", 3]"#, [4, 5]),
        (#"["b", "Eq", true]"#, [4]),
        (#"["b", "NotEq", true]"#, [1, 2, 3, 5]),
        (#"["And", []]"#, [1, 2, 3, 4, 5]),
        (#"["Or", []]"#, []),
        (#"["Not", ["Or", [["n", "Lt", 0], ["s", "Eq", "apple"]]]]"#, [1, 3, 4]),
    ])
    func spotChecks(filter: String, expected: [UInt64]) throws {
        let expression = try FilterExpression.decode(parseJSON(filter), at: JSONPath("filters"))
        let (projection, _) = Self.small
        let predicate = RowPredicate(expression, projection: projection)
        let matched = (0..<projection.rowCount).filter { predicate.matches($0) }.map { projection.ids[$0] }
        #expect(matched == expected.map { DocumentID.uint($0) })
        let byDocument = (0..<projection.rowCount).filter { expression.matches(projection.document(row: $0), config: projection.config) }
        #expect(byDocument.map { projection.ids[$0] } == matched)
    }

    @Test("UUID ids and uuid attributes match a filter operand in any letter case")
    func uuidCase() async throws {
        let harness = QueryHarness()
        let upper = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
        try await harness.write("uuids", #"{"schema": {"ref": "uuid"}, "upsert_rows": [{"id": "\#(upper)", "ref": "\#(upper)"}]}"#)
        for attribute in ["id", "ref"] {
            let lower = try await harness.engine.query("uuids", body: parseJSON(#"{"filters": ["\#(attribute)", "Eq", "\#(upper.lowercased())"]}"#))
            #expect(lower.objectValue?["rows"]?.arrayValue?.count == 1)
            // Writes accept the upper-case form (and store it lower-cased), but a filter
            // operand is compared as a plain string, so the same text finds nothing.
            let same = try await harness.engine.query("uuids", body: parseJSON(#"{"filters": ["\#(attribute)", "Eq", "\#(upper)"]}"#))
            #expect(same.objectValue?["rows"]?.arrayValue?.count == 1, "\(attribute) Eq \(upper)")
        }
        // Deletes by the upper-case id do find the document.
        try await harness.write("uuids", #"{"deletes": ["\#(upper)"]}"#)
        #expect(try await harness.query("uuids", "{}").isEmpty)
    }

    @Test("an unresolved $ref_new matches nothing; substitution uses the incoming document")
    func references() throws {
        let condition = try FilterExpression.decode(
            parseJSON(#"["Or", [["n", "Lt", {"$ref_new": "n"}], ["id", "Eq", {"$ref_new": "id"}], ["ghost", "Eq", {"$ref_new": "absent"}]]]"#),
            at: JSONPath("upsert_condition"), allowReferences: true)
        let (projection, rowOf) = Self.small
        let unresolved = RowPredicate(condition, projection: projection)
        #expect((0..<projection.rowCount).allSatisfy { !unresolved.matches($0) })
        #expect((0..<projection.rowCount).allSatisfy { !condition.matches(projection.document(row: $0), config: projection.config) })

        let incoming = Document(id: .uint(5), attributes: ["n": .int(0)])
        let substituted = condition.substitutingReferences(incoming)
        #expect(substituted == .or([
            .condition(attribute: "n", op: .lt, operand: .value(.int(0))),
            .condition(attribute: "id", op: .eq, operand: .value(.int(5))),
            .condition(attribute: "ghost", op: .eq, operand: .value(.null)),
        ]))
        #expect(!substituted.referencesNewDocument)
        // ghost Eq null holds for every row.
        let predicate = RowPredicate(substituted, projection: projection)
        #expect((0..<projection.rowCount).allSatisfy { predicate.matches($0) })
        let narrower = RowPredicate(.and([substituted, .condition(attribute: "ghost", op: .notEq, operand: .value(.null))]), projection: projection)
        #expect(!narrower.matches(rowOf[.uint(5)]!))
    }
}

extension DocumentID {
    var uintValue: UInt64 {
        if case .uint(let v) = self { return v }
        preconditionFailure("not a uint id: \(self)")
    }
}
