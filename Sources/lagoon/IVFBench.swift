import ArgumentParser
import Foundation
import Kernels
import Log
import Segments

/// The IVF index alone, in-process on one thread: build time, then recall@10 and queries per
/// second for a sweep of probe counts and of recall targets. The last line is one JSON object
/// (`index_build_s`, `ann`: one entry per setting) for the benchmark suite.
struct IVFBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ivf",
        abstract: "Build the IVF index over base.f16 and sweep nprobe / recall targets (one thread).")

    @Option(help: "Folder with base.f16, queries.f32, groundtruth.i32.") var data = "../shared/bench"
    @Option(help: "Base vectors to index (0 = all; a prefix is a uniform sample).") var docs = 0
    @Option(help: "Queries to run (at most 1,000).") var queries = 1000
    @Option(help: "Comma-separated probe counts.") var nprobes = "8,16,24,32,48,64,96,128"
    @Option(help: "Comma-separated recall targets (the index picks the probes).") var targets = "0.9,0.95,0.98"
    @Option(help: "Lists (0 = automatic).") var lists = 0
    @Option(help: "Global Lloyd passes of the build (0 = the default).") var passes = 0
    @Option(help: "Scans to compare: comma-separated 'exact' (f32 lists) and 'q<r>' (8-bit first pass, k·r re-ranked; 'q' = the default r).")
    var scans = "q"

    func run() throws {
        let dimension = 384
        let base = try BenchData.baseVectors(folder: data, dimension: dimension, limit: docs)
        let n = base.count / dimension
        let allQueries = try BenchData.queryVectors(folder: data, dimension: dimension)
        let queryVectors = Array(allQueries.prefix(queries))
        let truth = n == BenchData.groundTruthRows(folder: data, dimension: dimension)
            ? try BenchData.groundTruth(folder: data, queries: queryVectors.count)
            : Self.exactTop10(base, dimension: dimension, queries: queryVectors)
        print("dataset: \(data) (\(n) vectors, \(dimension)-d, \(queryVectors.count) queries); one thread, in-process")

        var options = IVFBuildOptions()
        if lists > 0 { options.listCount = lists }
        if passes > 0 { options.passes = passes }
        let start = ContinuousClock.now
        let result = IVFIndex.build(vectors: base, dimension: dimension, ordinals: (0..<n).map { Int32($0) },
                                    ordinalBound: n, metric: .cosineDistance, options: options)
        let buildSeconds = EngineBench.seconds(ContinuousClock.now - start)
        guard case .trained(let index) = result else {
            if case .pending(let reason) = result { print("pending: \(reason)") }
            return
        }
        let sizes = index.head.lists.map(\.count)
        print(String(format: "build: %.2f s, %d lists (sizes %d…%d, mean %.0f), %.1f MB; curve: %@",
                     buildSeconds, index.listCount, sizes.min() ?? 0, sizes.max() ?? 0, Double(n) / Double(index.listCount),
                     Double(index.residentBytes?.count ?? 0) / 1e6,
                     [8, 16, 32, 64, 96, 128].map { "\($0)→\(String(format: "%.3f", index.recallCurve.recall(atProbes: $0)))" }.joined(separator: " ")))

        var entries: [String] = []
        print("setting                  nprobe  recall@10       QPS   p50 ms  scanned/query")
        let modes: [(String, IVFIndex.Scan)] = scans.split(separator: ",").map { name in
            if name == "exact" { return ("exact", .exact) }
            let r = Int(name.dropFirst()) ?? IVFIndex.rerankFactor
            return ("q\(r)", .quantized(rerankFactor: r))
        }
        print(String(format: "quantised copy: %.1f MB", Double(index.quantizedMemoryBytes) / 1e6))
        func measure(_ label: String, probes: Int, target: Double?) throws {
            for (name, mode) in modes { try measure(label + " " + name, probes: probes, target: target, mode: mode) }
        }
        func measure(_ label: String, probes: Int, target: Double?, mode: IVFIndex.Scan) throws {
            for q in queryVectors.prefix(20) { _ = try index.search(q, k: 10, probes: probes, filter: nil, scan: mode) }  // warm-up
            var latencies: [Double] = []
            var found = 0
            var scanned = 0
            for (i, q) in queryVectors.enumerated() {
                let t = ContinuousClock.now
                let r = try index.search(q, k: 10, probes: probes, filter: nil, scan: mode)
                latencies.append(EngineBench.seconds(ContinuousClock.now - t))
                let expected = Set(truth[i])
                found += r.neighbors.filter { expected.contains($0.ordinal) }.count
                scanned += r.vectorsScanned
            }
            let recall = Double(found) / Double(10 * queryVectors.count)
            let qps = Double(latencies.count) / latencies.reduce(0, +)
            let p50 = latencies.sorted()[latencies.count / 2] * 1000
            print(String(format: "%-24@ %6d  %9.3f  %8.0f  %7.3f  %13d", label, probes, recall, qps, p50, scanned / queryVectors.count))
            let extra = target.map { String(format: ", \"recall_target\": %.3f", $0) } ?? ""
            entries.append(String(format: "{\"nprobe\": %d, \"recall10\": %.4f, \"qps\": %.1f, \"p50_ms\": %.3f%@}", probes, recall, qps, p50, extra))
        }
        for p in nprobes.split(separator: ",").compactMap({ Int($0) }) where p <= index.listCount {
            try measure("nprobe \(p)", probes: p, target: nil)
        }
        for t in targets.split(separator: ",").compactMap({ Double($0) }) {
            try measure("target \(t)", probes: index.probes(forRecall: t), target: t)
        }
        print(String(format: "{\"index_build_s\": %.3f, \"lists\": %d, \"ann\": [%@]}", buildSeconds, index.listCount,
                     entries.joined(separator: ", ")))
    }

    /// Exact top-10 by cosine (rows and queries are unit length), for runs on a prefix of the base.
    static func exactTop10(_ base: [Float], dimension: Int, queries: [[Float]]) -> [[Int]] {
        let n = base.count / dimension
        var scores = [Float](repeating: 0, count: n)
        return queries.map { q in
            var top = TopKSelector(k: 10)
            q.withUnsafeBufferPointer { qb in
                base.withUnsafeBufferPointer { m in
                    scores.withUnsafeMutableBufferPointer { out in
                        BatchScorer.dotAll(query: qb, matrix: m, dimension: dimension, rows: 0..<n, into: out)
                        for i in 0..<n { out[i] = -out[i] }
                        top.insert(scores: UnsafeBufferPointer(out), baseOrdinal: 0)
                    }
                }
            }
            return top.sortedResults().map(\.ordinal)
        }
    }
}

extension BenchData {
    /// Rows of base.f16 (the corpus the ground truth was computed over), 0 if missing.
    static func groundTruthRows(folder: String, dimension: Int) -> Int {
        let size = (try? FileManager.default.attributesOfItem(atPath: "\(folder)/base.f16")[.size] as? Int) ?? 0
        return size / (2 * dimension)
    }

    /// The first 10 ids of each query's exact top-100 in groundtruth.i32.
    static func groundTruth(folder: String, queries: Int) throws -> [[Int]] {
        guard let raw = FileManager.default.contents(atPath: "\(folder)/groundtruth.i32") else {
            throw ValidationError("groundtruth.i32 missing")
        }
        return raw.withUnsafeBytes { bytes in
            (0..<queries).map { q in (0..<10).map { Int(bytes.loadUnaligned(fromByteOffset: (q * 100 + $0) * 4, as: Int32.self)) } }
        }
    }
}
