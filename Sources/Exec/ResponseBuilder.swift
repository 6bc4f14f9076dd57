import Foundation
import Log
import Planner
import Segments
import Store

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
    static func row(_ scored: ScoredRow, sources: [RowSource], selection: AttributeSelection, base64: Bool) throws -> JSONValue {
        let source = sources[scored.source]
        var object = JSONObject()
        object["id"] = source.id(scored.row).json
        if let score = scored.score { object["$dist"] = .double(Double(score)) }
        func add(_ name: String) throws {
            if name == "id" { return }
            if name == "vector" {
                if let values = try source.vector(row: scored.row) { object["vector"] = vector(values, base64: base64) }
                return
            }
            let value = source.value(name, row: scored.row)
            if !value.isNull { object[name] = value.json }
        }
        switch selection {
        case .none: break
        case .only(let names): try names.forEach(add)
        case .all:
            try source.attributeNames.sorted().forEach(add)
            try add("vector")
        case .allExcept(let excluded):
            let skip = Set(excluded)
            try source.attributeNames.sorted().filter { !skip.contains($0) }.forEach(add)
            if !skip.contains("vector") { try add("vector") }
        }
        return .object(object)
    }

    static func row(_ scored: ScoredRow, projection: NamespaceProjection, selection: AttributeSelection, base64: Bool) throws -> JSONValue {
        try row(scored, sources: [.tail(projection)], selection: selection, base64: base64)
    }

    static func billing(_ snapshot: Snapshot?, returned: Int) -> JSONValue {
        .object(JSONObject([
            ("billable_logical_bytes_queried", .int(Int64(snapshot?.manifest.logicalBytes ?? 0))),
            ("billable_logical_bytes_returned", .int(Int64(returned))),
        ]))
    }

    /// turbopuffer's performance object; `cache_hit_ratio` and `cache_temperature` come from
    /// where the query's data reads were served (`ReadTrace`), and `io` (a Lagoon extension)
    /// gives the reads and bytes per layer and the sequential bucket rounds.
    static func performance(_ snapshot: Snapshot?, exhaustive: Int, executionNanos: UInt64, totalNanos: UInt64,
                            io figures: ReadTrace.Figures) -> JSONValue {
        .object(JSONObject([
            ("approx_namespace_size", .int(Int64(snapshot?.manifest.rowCount ?? 0))),
            ("cache_hit_ratio", .double(figures.hitRatio)),
            ("cache_temperature", .string(figures.temperature)),
            ("exhaustive_search_count", .int(Int64(exhaustive))),
            ("query_execution_ms", .int(Int64(executionNanos / 1_000_000))),
            ("server_total_ms", .int(Int64(totalNanos / 1_000_000))),
            ("io", io(figures)),
        ]))
    }

    /// `{"memory": {"reads", "bytes"}, "disk": …, "bucket": …, "bucket_requests",
    /// "bucket_bytes", "sequential_rounds", "data_rounds"}`: data reads per layer, then every
    /// bucket request (manifests included) and the rounds they took (all, and data only).
    static func io(_ figures: ReadTrace.Figures) -> JSONValue {
        var object = JSONObject()
        for layer in ReadTrace.Layer.allCases {
            let count = figures.count(layer)
            object[layer.rawValue] = .object(JSONObject([("reads", .int(Int64(count.reads))), ("bytes", .int(Int64(count.bytes)))]))
        }
        object["bucket_requests"] = .int(Int64(figures.bucketRequests))
        object["bucket_bytes"] = .int(Int64(figures.bucketBytes))
        object["sequential_rounds"] = .int(Int64(figures.rounds))
        object["data_rounds"] = .int(Int64(figures.dataRounds))
        object["cache_temperature"] = .string(figures.temperature)
        return .object(object)
    }

    /// The io figures as the last line of explain's plan text.
    static func ioLine(_ figures: ReadTrace.Figures) -> String {
        let layers = ReadTrace.Layer.allCases.map { "\($0.rawValue) \(figures.count($0).reads) reads \(figures.count($0).bytes) B" }
        return "io: " + layers.joined(separator: ", ")
            + "; \(figures.bucketRequests) bucket requests in \(figures.rounds) sequential rounds (\(figures.dataRounds) for data)"
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
