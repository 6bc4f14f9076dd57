import Exec
import LagoonTestSupport
import Log
import Planner
import Store

/// An `Engine` on a fresh in-memory store, with writes and queries given as JSON text.
struct QueryHarness {
    let engine = Engine(store: MemoryStore(), options: EngineOptions())

    /// One result row: its id (uint ids only), `$dist` when ranked by score, and the object.
    struct Row {
        let id: UInt64
        let dist: Double?
        let object: JSONObject
    }

    @discardableResult
    func write(_ namespace: String, _ body: String) async throws -> WriteOutcome {
        try await engine.write(namespace, body: parseJSON(body))
    }

    @discardableResult
    func write(_ namespace: String, body: JSONValue) async throws -> WriteOutcome {
        try await engine.write(namespace, body: body)
    }

    func query(_ namespace: String, _ body: String) async throws -> [Row] {
        try await query(namespace, body: parseJSON(body))
    }

    func query(_ namespace: String, body: JSONValue) async throws -> [Row] {
        let response = try await engine.query(namespace, body: body)
        return try Self.rows(response.objectValue?["rows"])
    }

    static func rows(_ json: JSONValue?) throws -> [Row] {
        guard let items = json?.arrayValue else { throw HarnessError("no rows array in \(json.map(jsonText) ?? "nil")") }
        return try items.map { item in
            guard let object = item.objectValue, case .int(let id)? = object["id"], id >= 0 else {
                throw HarnessError("row without a uint id: \(jsonText(item))")
            }
            return Row(id: UInt64(id), dist: object["$dist"]?.doubleValue, object: object)
        }
    }

    struct HarnessError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// `|a - b| <= tolerance * max(1, |b|)`.
func isClose(_ a: Double, _ b: Double, tolerance: Double = 1e-4) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(b))
}

/// Checks a ranked result against exact expected scores, allowing any order among ties:
/// every returned id must have its expected score, the i-th returned score must equal the
/// i-th best expected score, and the count must be min(k, candidates). `better(a, b)` is
/// true when score a ranks before score b. Returns the problems found.
func rankingProblems(_ rows: [QueryHarness.Row], expected: [UInt64: Double], k: Int, tolerance: Double = 1e-4,
                     better: (Double, Double) -> Bool) -> [String] {
    var problems: [String] = []
    let ranked = expected.values.sorted(by: better)
    if rows.count != min(k, ranked.count) {
        problems.append("returned \(rows.count) rows, expected \(min(k, ranked.count))")
    }
    if Set(rows.map(\.id)).count != rows.count { problems.append("duplicate ids") }
    for (i, row) in rows.enumerated() {
        guard let dist = row.dist else {
            problems.append("row \(i) (id \(row.id)) has no $dist")
            continue
        }
        guard let score = expected[row.id] else {
            problems.append("row \(i): id \(row.id) should not match (score \(dist))")
            continue
        }
        if !isClose(dist, score, tolerance: tolerance) { problems.append("row \(i): id \(row.id) scored \(dist), expected \(score)") }
        if i < ranked.count, !isClose(dist, ranked[i], tolerance: tolerance) {
            problems.append("row \(i): id \(row.id) scored \(dist), but the \(i + 1)-th best is \(ranked[i])")
        }
    }
    return problems
}
