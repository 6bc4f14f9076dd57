import Foundation
import Exec
import LagoonTestSupport
import Log
import Planner
import Store
import Testing

/// Queries with filters answer the same whether segments carry attribute indexes or not:
/// one engine folds its log into segments with indexes, one into segments without any
/// (every attribute `filterable: false`), one never indexes (the full-replay oracle).
@Suite("filtered queries with and without attribute indexes")
struct FilterIndexQueryTests {
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    static let words = ["alpha", "alpine", "beta", "better", "gamma", "game", "delta", ""]
    static let schema = #"{"when": "datetime", "tags": "[]string"}"#
    static let unfilterable = #"{"when": {"type": "datetime", "filterable": false}, "tags": {"type": "[]string", "filterable": false}, "n": {"type": "int", "filterable": false}, "x": {"type": "float", "filterable": false}, "s": {"type": "string", "filterable": false}, "b": {"type": "bool", "filterable": false}}"#

    static func randomWrite(_ rng: inout SeededRandom, schema: String) -> String {
        func vector() -> String { "[" + (0..<4).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]" }
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<6:
            let rows = (0..<Int.random(in: 5...30, using: &rng)).map { _ -> String in
                var fields = [#""id": \#(Int.random(in: 0..<300, using: &rng))"#, #""vector": \#(vector())"#]
                if rng.chance(0.8) { fields.append(#""n": \#(Int.random(in: -5...20, using: &rng))"#) }
                if rng.chance(0.7) { fields.append(#""x": \#(Double(Int.random(in: -8...8, using: &rng)) / 2)"#) }
                if rng.chance(0.8) { fields.append(#""s": "\#(words.randomElement(using: &rng)!)""#) }
                if rng.chance(0.6) {
                    let tags = (0..<Int.random(in: 0...3, using: &rng)).map { _ in #""\#(words.randomElement(using: &rng)!)""# }
                    fields.append(#""tags": [\#(tags.joined(separator: ","))]"#)
                }
                if rng.chance(0.7) {
                    let offset = ["Z", "+02:00", "-05:30"].randomElement(using: &rng)!
                    fields.append(#""when": "2024-03-0\#(Int.random(in: 1...3, using: &rng))T\#(10 + Int.random(in: 0...9, using: &rng)):30:00\#(offset)""#)
                }
                if rng.chance(0.5) { fields.append(#""b": \#(rng.chance(0.5))"#) }
                return "{" + fields.joined(separator: ", ") + "}"
            }
            return #"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "euclidean_squared", "schema": \#(schema)}"#
        case 6..<8:
            let rows = (0..<Int.random(in: 1...10, using: &rng)).map { _ in
                #"{"id": \#(Int.random(in: 0..<300, using: &rng)), "n": \#(rng.chance(0.2) ? "null" : String(Int.random(in: -5...20, using: &rng)))}"#
            }
            return #"{"patch_rows": [\#(rows.joined(separator: ","))]}"#
        default:
            let ids = (0..<Int.random(in: 1...10, using: &rng)).map { _ in String(Int.random(in: 0..<300, using: &rng)) }
            return #"{"deletes": [\#(ids.joined(separator: ","))]}"#
        }
    }

    static func randomFilter(_ rng: inout SeededRandom, depth: Int = 0) -> String {
        if depth < 2, rng.chance(0.3) {
            let items = (0..<Int.random(in: 1...3, using: &rng)).map { _ in randomFilter(&rng, depth: depth + 1) }
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: return #"["And", [\#(items.joined(separator: ","))]]"#
            case 1: return #"["Or", [\#(items.joined(separator: ","))]]"#
            default: return #"["Not", \#(items[0])]"#
            }
        }
        let word = #""\#(words.randomElement(using: &rng)!)""#
        let n = String(Int.random(in: -6...21, using: &rng))
        let when = #""2024-03-0\#(Int.random(in: 1...3, using: &rng))T1\#(Int.random(in: 0...9, using: &rng)):00:00+01:00""#
        let candidates = [
            #"["n", "Eq", \#(n)]"#, #"["n", "NotEq", \#(n)]"#, #"["n", "In", [\#(n), 3, 7.0]]"#, #"["n", "NotIn", [\#(n), null]]"#,
            #"["n", "Lt", \#(n)]"#, #"["n", "Gte", \#(n).5]"#, #"["x", "Lte", \#(n)]"#, #"["x", "Gt", -1.5]"#, #"["x", "Eq", 2]"#,
            #"["s", "Eq", \#(word)]"#, #"["s", "NotEq", \#(word)]"#, #"["s", "In", [\#(word), "beta"]]"#, #"["s", "Glob", "al*"]"#,
            #"["s", "NotGlob", "*ta"]"#, #"["s", "IGlob", "GAM*"]"#, #"["s", "Gt", \#(word)]"#, #"["s", "Eq", null]"#,
            #"["tags", "Contains", \#(word)]"#, #"["tags", "NotContains", \#(word)]"#, #"["tags", "ContainsAny", [\#(word), "gamma"]]"#,
            #"["tags", "NotContainsAny", [\#(word)]]"#, #"["tags", "Glob", "be*"]"#, #"["tags", "Eq", [\#(word)]]"#,
            #"["when", "Lt", \#(when)]"#, #"["when", "Gte", \#(when)]"#, #"["when", "Eq", "2024-03-01T10:30:00Z"]"#,
            #"["b", "Eq", true]"#, #"["b", "NotEq", false]"#, #"["id", "Lt", \#(Int.random(in: 0..<300, using: &rng))]"#,
            #"["ghost", "Eq", null]"#,
        ]
        return candidates.randomElement(using: &rng)!
    }

    static func rows(_ response: JSONValue) -> [String] {
        (response.objectValue?["rows"]?.arrayValue ?? []).map { String(decoding: JSONWriter.write($0), as: UTF8.self) }
    }

    @Test("random filters over segments with indexes, without, and the full replay agree", arguments: [1, 2] as [UInt64])
    func differential(seed: UInt64) async throws {
        var rng = SeededRandom(seed: 70 + seed)
        let indexed = Engine(store: MemoryStore())
        let unindexed = Engine(store: MemoryStore())
        let oracle = Engine(store: MemoryStore())
        var checked = 0
        for step in 0..<24 {
            let state = rng
            var copy = state
            _ = try await indexed.write("ns", body: try Self.json(Self.randomWrite(&rng, schema: Self.schema)))
            _ = try await unindexed.write("ns", body: try Self.json(Self.randomWrite(&copy, schema: Self.unfilterable)))
            var again = state
            _ = try await oracle.write("ns", body: try Self.json(Self.randomWrite(&again, schema: Self.schema)))
            if step % 5 == 4 {
                _ = try await indexed.indexNow("ns")
                _ = try await unindexed.indexNow("ns")
            }
            guard step % 4 == 3 else { continue }
            for _ in 0..<25 {
                let filter = Self.randomFilter(&rng)
                let q = "[" + (0..<4).map { _ in String(Float.random(in: -1...1, using: &rng)) }.joined(separator: ",") + "]"
                for query in [#"{"top_k": 400, "filters": \#(filter), "include_attributes": true}"#,
                              #"{"rank_by": ["vector", "kNN", \#(q)], "top_k": 9, "filters": \#(filter)}"#,
                              #"{"rank_by": ["n", "asc"], "top_k": 15, "filters": \#(filter), "include_attributes": ["n"]}"#] {
                    let expected = Self.rows(try await oracle.query("ns", body: try Self.json(query)))
                    #expect(Self.rows(try await indexed.query("ns", body: try Self.json(query))) == expected, "seed \(seed) step \(step): \(query)")
                    #expect(Self.rows(try await unindexed.query("ns", body: try Self.json(query))) == expected, "seed \(seed) step \(step): \(query)")
                    checked += 1
                }
            }
        }
        #expect(checked > 300)
        #expect(try await indexed.snapshot("ns").manifest.segmentList.count > 0, "the test must build segments")
    }

    @Test("explain shows per segment whether the filter ran on the index, with bitmap cardinalities, and estimates from them")
    func explainNotes() async throws {
        let engine = Engine(store: MemoryStore())
        let rows = (0..<100).map { #"{"id": \#($0), "vector": [\#($0), 1], "k": "\#($0 % 10 == 0 ? "rare" : "common")", "n": \#($0)}"# }
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [\#(rows.joined(separator: ","))], "distance_metric": "euclidean_squared"}"#))
        #expect(try await engine.indexNow("ns"))
        _ = try await engine.write("ns", body: try Self.json(#"{"upsert_rows": [{"id": 500, "vector": [0, 0], "k": "rare"}], "deletes": [10]}"#))
        let response = try await engine.explain("ns", body: try Self.json(#"{"rank_by": ["vector", "kNN", [0, 0]], "top_k": 3, "filters": ["And", [["k", "Eq", "rare"], ["n", "Lt", 50]]], "analyze": true}"#))
        let text = response.objectValue?["plan_text"]?.stringValue ?? ""
        // 10 rows hold "rare", 50 have n < 50, 5 both; id 10 is deleted, so 4 of 99 visible rows match.
        #expect(text.contains("index, bitmaps [10, 50] rows, 4 of 99 visible rows match"), "\(text)")
        #expect(text.contains("wal-tail: scan, 2 conditions read row by row"), "\(text)")
        // Estimate: the segment's exact 4 plus half of the tail's one row.
        #expect(text.contains("Filter placement=pre") && text.contains("est_rows=5"), "\(text)")
        let result = try await engine.query("ns", body: try Self.json(#"{"rank_by": ["vector", "kNN", [0, 0]], "top_k": 3, "filters": ["And", [["k", "Eq", "rare"], ["n", "Lt", 50]]]}"#))
        #expect((result.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue } == [0, 20, 30])
    }
}
