import Foundation
import Log
import Planner
import Segments

/// Turns execution results and namespace state into the turbopuffer-shaped JSON bodies.
enum ResponseBuilder {
    static func vector(_ values: [Float], base64: Bool) -> JSONValue {
        if base64 {
            let data = values.withUnsafeBytes { Data($0) }
            return .string(data.base64EncodedString())
        }
        return .array(values.map { .double(Double($0)) })
    }

    /// One result row with the selected attributes.
    static func row(_ scored: ScoredRow, sources: [RowSource], selection: AttributeSelection, base64: Bool) -> JSONValue {
        let source = sources[scored.source]
        var object = JSONObject()
        object["id"] = source.id(scored.row).json
        if let score = scored.score { object["$dist"] = .double(Double(score)) }
        func add(_ name: String) {
            if name == "id" { return }
            if name == "vector" {
                if let values = source.vector(row: scored.row) { object["vector"] = vector(values, base64: base64) }
                return
            }
            let value = source.value(name, row: scored.row)
            if !value.isNull { object[name] = value.json }
        }
        switch selection {
        case .none: break
        case .only(let names): names.forEach(add)
        case .all:
            source.attributeNames.sorted().forEach(add)
            add("vector")
        case .allExcept(let excluded):
            let skip = Set(excluded)
            source.attributeNames.sorted().filter { !skip.contains($0) }.forEach(add)
            if !skip.contains("vector") { add("vector") }
        }
        return .object(object)
    }

    static func row(_ scored: ScoredRow, projection: NamespaceProjection, selection: AttributeSelection, base64: Bool) -> JSONValue {
        row(scored, sources: [.tail(projection)], selection: selection, base64: base64)
    }

    static func billing(_ snapshot: Snapshot?, returned: Int) -> JSONValue {
        .object(JSONObject([
            ("billable_logical_bytes_queried", .int(Int64(snapshot?.manifest.logicalBytes ?? 0))),
            ("billable_logical_bytes_returned", .int(Int64(returned))),
        ]))
    }

    /// `loadedEntries` WAL entries had to be read from the object store for this query:
    /// the hit ratio is the share of the snapshot's entries already in memory.
    static func performance(_ snapshot: Snapshot?, exhaustive: Int, executionNanos: UInt64, totalNanos: UInt64,
                            loadedEntries: Int) -> JSONValue {
        let total = snapshot?.manifest.wal.count ?? 0
        let hitRatio = total == 0 ? 1.0 : Double(total - min(loadedEntries, total)) / Double(total)
        let temperature = loadedEntries == 0 ? "hot" : (hitRatio > 0.5 ? "warm" : "cold")
        return .object(JSONObject([
            ("approx_namespace_size", .int(Int64(snapshot?.manifest.rowCount ?? 0))),
            ("cache_hit_ratio", .double(hitRatio)),
            ("cache_temperature", .string(temperature)),
            ("exhaustive_search_count", .int(Int64(exhaustive))),
            ("query_execution_ms", .int(Int64(executionNanos / 1_000_000))),
            ("server_total_ms", .int(Int64(totalNanos / 1_000_000))),
        ]))
    }

    static func iso8601(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// The schema map of GET /v1/namespaces/{ns}/schema.
    static func schema(_ config: NamespaceConfig) -> JSONValue {
        var object = JSONObject()
        if let kind = config.idKind { object["id"] = .object(JSONObject([("type", .string(kind.rawValue))])) }
        for name in config.schema.keys.sorted() {
            let attribute = config.schema[name]!
            var spec = JSONObject([("type", .string(attribute.type))])
            if name == "vector" {
                spec["ann"] = .bool(true)
            } else {
                spec["filterable"] = .bool(attribute.filterable ?? (attribute.fullTextSearch == nil))
                if let fts = attribute.fullTextSearch {
                    spec["full_text_search"] = .object(JSONObject([
                        ("language", .string(fts.language)), ("stemming", .bool(fts.stemming)),
                        ("remove_stopwords", .bool(fts.removeStopwords)), ("case_sensitive", .bool(fts.caseSensitive)),
                        ("k1", .double(fts.k1)), ("b", .double(fts.b)),
                    ]))
                }
            }
            object[name] = .object(spec)
        }
        return .object(object)
    }
}
