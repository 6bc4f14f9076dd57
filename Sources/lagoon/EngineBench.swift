import ArgumentParser
import Exec
import Foundation
import Log
import Planner
import Store

/// Engine throughput without HTTP: ingest and exact vector / BM25 queries on the WordNet
/// benchmark data, against a temporary folder store.
struct EngineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Ingest ../shared/bench through the engine and time exact vector and BM25 queries.")

    @Option(help: "Folder with docs.jsonl, base.f16, queries.f32, queries.jsonl, groundtruth.i32.") var data = "../shared/bench"
    @Option(help: "Documents to ingest (0 = all).") var docs = 0
    @Option(help: "Queries to run.") var queries = 200
    @Option(help: "Documents per write batch.") var batch = 1000
    @Option(help: "How many times every document is written (overwrites exercise deletion vectors and compaction).") var rewrites = 1
    @Flag(help: "Only ingest, index and run the ANN sweep (skips exact, BM25, restart and multi-segment figures).") var annOnly = false
    @Option(help: "Fixed probe counts of the ANN sweep (comma-separated), after the default recall target.") var nprobes = "8,16,32,64,96,128"

    func run() async throws {
        let base = try BenchData.load(folder: data, limit: docs)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lagoon-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let engine = Engine(store: try FileSystemStore(path: folder.path))
        print("dataset: \(data) (\(base.count) docs, \(base.dimension)-d); store: temp folder; one process")

        let ingestStart = ContinuousClock.now
        for pass in 0..<max(1, rewrites) {
            try await ingest(engine, base: base, rows: 0..<base.count, declareSchema: pass == 0)
        }
        let ingestSeconds = Self.seconds(ContinuousClock.now - ingestStart)
        let written = base.count * max(1, rewrites)
        print(String(format: "ingest: %d docs in %.2f s = %.0f docs/s (durable acks, batches of %d, sequential)",
                     written, ingestSeconds, Double(written) / ingestSeconds, batch))

        var figures: [String: Double] = [:]
        if !annOnly { try await queries(engine, base: base, label: "WAL tail", into: &figures) }
        let texts = try BenchData.queryTexts(folder: data)
        let exhaustive = annOnly ? [] : try await bm25Answers(engine, texts)

        let indexStart = ContinuousClock.now
        try await engine.indexNow("bench")
        while try await engine.indexNow("bench") {}
        figures["index_build_s"] = Self.seconds(ContinuousClock.now - indexStart)
        let manifest = try await engine.snapshot("bench").manifest
        print(String(format: "index: %d segments, %d rows, built in %.2f s", manifest.segmentList.count,
                     manifest.segmentList.reduce(0) { $0 + $1.liveRows }, figures["index_build_s"]!))
        if !annOnly { try await queries(engine, base: base, label: "segments", into: &figures) }
        let sweep = try await annSweep(engine, base: base)
        if annOnly { return print(Self.jsonLine(figures, ann: sweep)) }

        // A new engine on the same folder: nothing in memory, no WAL to replay.
        let restarted = Engine(store: try FileSystemStore(path: folder.path))
        var start = ContinuousClock.now
        _ = try await restarted.query("bench", body: Self.bm25Body(texts[0]))
        figures["cold_bm25_ms"] = Self.seconds(ContinuousClock.now - start) * 1000
        let queryVectors = try BenchData.queryVectors(folder: data, dimension: base.dimension)
        start = ContinuousClock.now
        _ = try await restarted.query("bench", body: Self.vectorBody(queryVectors[0]))
        figures["cold_vector_ms"] = Self.seconds(ContinuousClock.now - start) * 1000
        let annNode = Engine(store: try FileSystemStore(path: folder.path))
        start = ContinuousClock.now
        _ = try await annNode.query("bench", body: Self.vectorBody(queryVectors[0], mode: "ANN"))
        figures["cold_ann_ms"] = Self.seconds(ContinuousClock.now - start) * 1000
        print(String(format: "after a restart: first BM25 query %.1f ms, then first exact vector query %.1f ms; another restart: first ANN query %.1f ms",
                     figures["cold_bm25_ms"]!, figures["cold_vector_ms"]!, figures["cold_ann_ms"]!))
        // The same logical data spread over two segments (the second overwrites a third of the
        // first through a deletion vector) and a tail (a fifth rewritten again): BM25 must answer
        // exactly as the exhaustive scorer over the WAL tail did.
        try await ingest(engine, base: base, rows: 0..<(base.count / 3), declareSchema: false)
        try await engine.indexNow("bench")
        try await ingest(engine, base: base, rows: (base.count / 2)..<(base.count / 2 + base.count / 5), declareSchema: false)
        let spread = try await engine.snapshot("bench").manifest
        let identical = zip(exhaustive, try await bm25Answers(engine, texts)).filter { $0 == $1 }.count
        print("BM25 top-10 over \(spread.segmentList.count) segments + a tail of \(spread.wal.count) entries: identical to exhaustive on \(identical)/\(texts.count) queries")
        figures["bm25_identical_fraction"] = Double(identical) / Double(max(1, texts.count))

        print(Self.jsonLine(figures, ann: sweep))
    }

    /// The last line of the output: every figure plus the ANN sweep, as one JSON object.
    static func jsonLine(_ figures: [String: Double], ann: [String]) -> String {
        var json = figures.keys.sorted().map { String(format: "\"%@\": %.3f", $0, figures[$0]!) }
        json.append("\"ann\": [" + ann.joined(separator: ", ") + "]")
        return "{" + json.joined(separator: ", ") + "}"
    }

    /// Upserts `rows` of the dataset in batches (ids are row numbers).
    func ingest(_ engine: Engine, base: BenchData, rows: Range<Int>, declareSchema: Bool) async throws {
        var first = declareSchema
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: batch) {
            let end = min(rows.upperBound, start + batch)
            var documents: [JSONValue] = []
            for i in start..<end {
                let vector = Array(base.vectors[i * base.dimension..<(i + 1) * base.dimension])
                documents.append(.object(JSONObject([
                    ("id", .int(Int64(i))),
                    ("vector", .string(vector.withUnsafeBytes { Data($0) }.base64EncodedString())),
                    ("text", .string(base.texts[i])), ("pos", .string(base.pos[i])),
                ])))
            }
            // No indexer runs during the timed ingest: the tail may pass max_unindexed_bytes.
            var body = JSONObject([("upsert_rows", .array(documents)), ("disable_backpressure", .bool(true))])
            if first {
                body["distance_metric"] = .string("cosine_distance")
                body["schema"] = .object(JSONObject([("text", .object(JSONObject([("type", .string("string")), ("full_text_search", .bool(true))])))]))
                first = false
            }
            _ = try await engine.write("bench", body: .object(body))
        }
    }

    /// Every query's BM25 top-10 as (id, score) text, for an exact comparison.
    func bm25Answers(_ engine: Engine, _ texts: [String]) async throws -> [String] {
        var answers: [String] = []
        for text in texts {
            let rows = try await engine.query("bench", body: Self.bm25Body(text)).objectValue?["rows"]?.arrayValue ?? []
            answers.append(rows.map { row in
                let object = row.objectValue
                return "\(object?["id"]?.intValue ?? -1):\(object?["$dist"]?.doubleValue ?? .nan)"
            }.joined(separator: ","))
        }
        return answers
    }

    /// ANN through the engine (IVF in the segments) at the default recall target and at fixed
    /// probe counts; recall@10 against the folder's ground truth (only when every document was
    /// ingested: the ground truth covers the whole corpus).
    func annSweep(_ engine: Engine, base: BenchData) async throws -> [String] {
        guard base.count == BenchData.groundTruthRows(folder: data, dimension: base.dimension) else {
            print("ANN sweep skipped: the ground truth covers all \(BenchData.groundTruthRows(folder: data, dimension: base.dimension)) documents")
            return []
        }
        let vectors = try BenchData.queryVectors(folder: data, dimension: base.dimension)
        let truth = try BenchData.groundTruth(folder: data, queries: vectors.count)
        var entries: [String] = []
        // One untimed pass of the default setting loads the index parts and encodes the derived
        // 8-bit copy of the lists it probes (built on first probe), so the first timed setting
        // is not charged for either; `cold_ann_ms` measures those first-query costs.
        for vector in vectors {
            _ = try await engine.query("bench", body: Self.vectorBody(vector, mode: "ANN"))
        }
        let fixed: [Int?] = nprobes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        for probes in [nil] + fixed {
            var hits = 0
            var latencies: [Double] = []
            for (q, vector) in vectors.enumerated() {
                var body = Self.vectorBody(vector, mode: "ANN").objectValue!
                if let probes { body["__debug_settings"] = .object(JSONObject([("ann_nprobe", .int(Int64(probes)))])) }
                let start = ContinuousClock.now
                let response = try await engine.query("bench", body: .object(body))
                latencies.append(Self.seconds(ContinuousClock.now - start) * 1000)
                let ids = (response.objectValue?["rows"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.intValue }
                hits += Set(ids.map(Int.init)).intersection(truth[q]).count
            }
            let recall = Double(hits) / Double(10 * vectors.count)
            let qps = 1000 / (latencies.reduce(0, +) / Double(latencies.count))
            let label = probes.map { "nprobe \($0)" } ?? "recall target 0.95"
            print(String(format: "segments: ANN %@: recall@10 %.3f, %@", label, recall, Self.summary("", latencies)))
            entries.append(String(format: "{\"nprobe\": %@, \"recall10\": %.4f, \"qps\": %.1f}", probes.map(String.init) ?? "null", recall, qps))
        }
        return entries
    }

    static func vectorBody(_ vector: [Float], mode: String = "kNN") -> JSONValue {
        .object(JSONObject([
            ("rank_by", .array([.string("vector"), .string(mode), .array(vector.map { .double(Double($0)) })])),
            ("top_k", .int(10)),
        ]))
    }

    static func bm25Body(_ text: String) -> JSONValue {
        .object(JSONObject([("rank_by", .array([.string("text"), .string("BM25"), .string(text)])), ("top_k", .int(10))]))
    }

    /// Times exact vector and BM25 queries; records their mean latency under `label`.
    func queries(_ engine: Engine, base: BenchData, label: String, into figures: inout [String: Double]) async throws {

        let queryVectors = try BenchData.queryVectors(folder: data, dimension: base.dimension)
        let n = min(queries, queryVectors.count)
        var latencies: [Double] = []
        for q in 0..<n {
            let start = ContinuousClock.now
            _ = try await engine.query("bench", body: Self.vectorBody(queryVectors[q]))
            latencies.append(Self.seconds(ContinuousClock.now - start) * 1000)
        }
        print(Self.summary("\(label): exact kNN top-10 (engine, incl. JSON decode)", latencies))
        figures["\(label == "segments" ? "segments" : "tail")_knn_qps"] = 1000 / (latencies.reduce(0, +) / Double(max(1, latencies.count)))

        let texts = try BenchData.queryTexts(folder: data)
        latencies = []
        for q in 0..<min(max(n, 1000), texts.count) {
            let start = ContinuousClock.now
            _ = try await engine.query("bench", body: Self.bm25Body(texts[q]))
            latencies.append(Self.seconds(ContinuousClock.now - start) * 1000)
        }
        print(Self.summary("\(label): BM25 top-10 (engine)", latencies))
        figures["\(label == "segments" ? "segments" : "tail")_bm25_qps"] = 1000 / (latencies.reduce(0, +) / Double(max(1, latencies.count)))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func summary(_ label: String, _ latencies: [Double]) -> String {
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return "\(label): no queries" }
        func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return String(format: "%@: %d queries, p50 %.2f ms, p99 %.2f ms, mean %.2f ms, %.0f QPS single-threaded",
                      label, sorted.count, p(0.5), p(0.99), sorted.reduce(0, +) / Double(sorted.count),
                      1000 / (sorted.reduce(0, +) / Double(sorted.count)))
    }
}

/// Reads the benchmark files of ../shared/bench (see its README).
struct BenchData {
    var count: Int
    var dimension: Int
    var vectors: [Float]
    var texts: [String]
    var pos: [String]

    static func load(folder: String, limit: Int) throws -> BenchData {
        let dimension = 384
        let vectors = try baseVectors(folder: folder, dimension: dimension, limit: limit)
        let count = vectors.count / dimension
        guard let docs = FileManager.default.contents(atPath: "\(folder)/docs.jsonl") else {
            throw ValidationError("benchmark data not found in \(folder)")
        }
        var texts: [String] = [], pos: [String] = []
        for line in docs.split(separator: UInt8(ascii: "\n")).prefix(count) {
            let object = try JSONParser.parse(Array(line)).objectValue
            texts.append(object?["text"]?.stringValue ?? "")
            pos.append(object?["pos"]?.stringValue ?? "")
        }
        return BenchData(count: count, dimension: dimension, vectors: vectors, texts: texts, pos: pos)
    }

    /// The first `limit` rows (0 = all) of base.f16, widened to f32, row-major.
    static func baseVectors(folder: String, dimension: Int, limit: Int) throws -> [Float] {
        guard let raw = FileManager.default.contents(atPath: "\(folder)/base.f16") else {
            throw ValidationError("base.f16 not found in \(folder)")
        }
        let total = raw.count / (2 * dimension)
        let count = limit > 0 ? min(limit, total) : total
        return raw.withUnsafeBytes { bytes in
            (0..<count * dimension).map { Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
        }
    }

    static func queryVectors(folder: String, dimension: Int) throws -> [[Float]] {
        guard let raw = FileManager.default.contents(atPath: "\(folder)/queries.f32") else { throw ValidationError("queries.f32 missing") }
        let floats: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return stride(from: 0, to: floats.count, by: dimension).map { Array(floats[$0..<$0 + dimension]) }
    }

    static func queryTexts(folder: String) throws -> [String] {
        guard let raw = FileManager.default.contents(atPath: "\(folder)/queries.jsonl") else { throw ValidationError("queries.jsonl missing") }
        return try raw.split(separator: UInt8(ascii: "\n")).map { try JSONParser.parse(Array($0)).objectValue?["text"]?.stringValue ?? "" }
    }
}
