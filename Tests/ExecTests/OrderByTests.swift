import Exec
import LagoonTestSupport
import Log
import Planner
import Testing

@Suite("order by attribute and filter-only queries")
struct OrderByTests {
    /// Live documents: attribute values by name (absent = null).
    typealias Corpus = [UInt64: [String: JSONValue]]

    /// 300 documents inserted in shuffled id order (so row order is not id order), some
    /// replaced and some deleted. `score` has many ties and nulls; `price` mixes int and float.
    static func populate(_ harness: QueryHarness, seed: UInt64) async throws -> Corpus {
        var rng = SeededRandom(seed: seed)
        var corpus: Corpus = [:]
        func document(_ id: UInt64) -> JSONValue {
            var d: [String: JSONValue] = [:]
            let roll = Double.random(in: 0..<1, using: &rng)
            if roll < 0.1 { d["score"] = .null } else if roll > 0.2 { d["score"] = .int(Int64.random(in: 0..<10, using: &rng)) }
            d["price"] = rng.chance(0.5) ? .int(Int64.random(in: -5...5, using: &rng)) : .double(Double(Int.random(in: -10...10, using: &rng)) / 2 + 0.25)
            if rng.chance(0.8) { d["name"] = .string(rng.pick(["ant", "Bee", "bee", "cat", "ant2", "é", ""])) }
            var stored = d.filter { $0.value != .null }
            stored["price"] = stored["price"]?.doubleValue.map(JSONValue.double)  // the schema makes price a float
            corpus[id] = stored
            return .object(JSONObject([("id", .int(Int64(id)))] + d.keys.sorted().map { ($0, d[$0]!) }))
        }
        let ids = (0..<300 as Range<UInt64>).shuffled(using: &rng)
        for chunk in stride(from: 0, to: ids.count, by: 100) {
            var body = JSONObject([("upsert_rows", .array(ids[chunk..<chunk + 100].map(document)))])
            if chunk == 0 { body["schema"] = try parseJSON(#"{"price": "float", "score": "int", "name": "string"}"#) }
            try await harness.write("ordered", body: .object(body))
        }
        let replaced = (0..<40).map { _ in UInt64.random(in: 0..<300, using: &rng) }
        try await harness.write("ordered", body: .object(JSONObject([("upsert_rows", .array(replaced.map(document)))])))
        let deleted = (0..<30).map { _ in UInt64.random(in: 0..<300, using: &rng) }
        for id in deleted { corpus[id] = nil }
        try await harness.write("ordered", body: .object(JSONObject([("deletes", .array(deleted.map { .int(Int64($0)) }))])))
        return corpus
    }

    /// Nulls last in both directions; equal values and nulls by ascending id.
    static func expected(_ corpus: Corpus, attribute: String, descending: Bool, where keep: ([String: JSONValue]) -> Bool = { _ in true }) -> [UInt64] {
        func value(_ id: UInt64) -> JSONValue? { attribute == "id" ? .int(Int64(id)) : corpus[id]![attribute] }
        func less(_ a: JSONValue, _ b: JSONValue) -> Bool {
            if let x = a.doubleValue, let y = b.doubleValue { return x < y }
            return a.stringValue! < b.stringValue!
        }
        return corpus.keys.filter { keep(corpus[$0]!) }.sorted { a, b in
            switch (value(a), value(b)) {
            case (nil, nil): return a < b
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?):
                if less(x, y) { return !descending }
                if less(y, x) { return descending }
                return a < b
            }
        }
    }

    @Test("order by attribute, asc and desc, nulls last, ties by id", arguments: ["score", "price", "name", "id", "ghost"])
    func orderBy(attribute: String) async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, seed: 7)
        for descending in [false, true] {
            let order = Self.expected(corpus, attribute: attribute, descending: descending)
            for k in [1, 5, 50, 1000] {
                let rows = try await harness.query("ordered", #"{"rank_by": ["\#(attribute)", "\#(descending ? "desc" : "asc")"], "top_k": \#(k), "include_attributes": ["\#(attribute)"]}"#)
                #expect(rows.map(\.id) == Array(order.prefix(k)), "\(attribute) \(descending ? "desc" : "asc") k=\(k)")
                #expect(rows.allSatisfy { $0.dist == nil })
                if attribute != "id" {
                    #expect(rows.allSatisfy { $0.object[attribute] == corpus[$0.id]?[attribute] })
                }
            }
        }
    }

    @Test("order by with a filter")
    func orderByFiltered() async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, seed: 8)
        let keep: ([String: JSONValue]) -> Bool = { d in (d["score"]?.doubleValue ?? -1) >= 3 && d["name"] != .string("ant") }
        let expected = Self.expected(corpus, attribute: "price", descending: true, where: keep)
        let rows = try await harness.query("ordered", #"{"rank_by": ["price", "desc"], "top_k": 30, "filters": ["And", [["score", "Gte", 3], ["name", "NotEq", "ant"]]]}"#)
        #expect(rows.map(\.id) == Array(expected.prefix(30)))
        #expect(expected.count > 30)
    }

    @Test("without rank_by, matches come in id order up to top_k")
    func filterOnly() async throws {
        let harness = QueryHarness()
        let corpus = try await Self.populate(harness, seed: 9)
        let all = corpus.keys.sorted()
        #expect(try await harness.query("ordered", "{}").map(\.id) == Array(all.prefix(10)), "top_k defaults to 10")
        for k in [1, 10, 271, 10_000] {
            #expect(try await harness.query("ordered", #"{"top_k": \#(k)}"#).map(\.id) == Array(all.prefix(k)))
        }
        let bees = corpus.keys.filter { corpus[$0]!["name"]?.stringValue?.lowercased() == "bee" }.sorted()
        #expect(!bees.isEmpty)
        let rows = try await harness.query("ordered", #"{"filters": ["name", "IGlob", "bee"], "top_k": 1000, "include_attributes": true}"#)
        #expect(rows.map(\.id) == bees)
        #expect(rows.allSatisfy { $0.dist == nil })
        #expect(rows.allSatisfy { $0.object["name"]?.stringValue?.lowercased() == "bee" })
        #expect(try await harness.query("ordered", #"{"filters": ["name", "Eq", "nobody"]}"#).isEmpty)
    }
}
