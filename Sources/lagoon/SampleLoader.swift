import Exec
import Foundation
import Log
import Planner

/// Loads the sample namespace a newcomer can query right after `lagoon serve --sample`.
enum SampleLoader {
    static let namespace = "wordnet-sample"

    /// Writes the sample when the namespace does not exist; returns whether it wrote.
    static func loadIfMissing(engine: Engine, file: String) async throws -> Bool {
        do {
            _ = try await engine.snapshot(namespace)
            return false
        } catch let error as LagoonError where error.code == .notFound {}
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LagoonError(.notFound, "sample file \(file) not found; run from the repository root or pass --sample-file")
        }
        var rows: [JSONValue] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            rows.append(try JSONParser.parse(Array(line)))
        }
        let body = JSONValue.object(JSONObject([
            ("distance_metric", .string("cosine_distance")),
            ("schema", .object(JSONObject([
                ("text", .object(JSONObject([("type", .string("string")),
                                             ("full_text_search", .object(JSONObject([("stemming", .bool(true))])))]))),
                ("pos", .string("string")),
                ("lexname", .string("string")),
            ]))),
            ("upsert_rows", .array(rows)),
        ]))
        _ = try await engine.write(namespace, body: body)
        return true
    }

    static func tryThis(host: String, port: Int) -> String {
        """
        Try the sample namespace (\(namespace), 300 WordNet synsets):
          curl -s http://\(host):\(port)/v2/namespaces/\(namespace)/query -H 'Authorization: Bearer any' \\
            -d '{"rank_by": ["text", "BM25", "rock music"], "top_k": 3, "include_attributes": ["text"]}'
          curl -s http://\(host):\(port)/v2/namespaces/\(namespace)/explain_query -H 'Authorization: Bearer any' \\
            -d '{"rank_by": ["text", "BM25", "music"], "filters": ["pos", "Eq", "noun"]}'
        """
    }
}
