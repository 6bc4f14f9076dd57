// Micro-benchmarks for the kernels, run by `lagoon bench kernels` (not by the test suite:
// timings do not belong in assertions). Reports are plain text; numbers are machine-specific.

/// Times the hot kernels on synthetic data and returns a human-readable report.
public enum KernelBenchmarks {
    /// Default shape: 117,659 rows × 384 f32 (≈180 MB), the size of our reference corpus.
    public static func run() -> String {
        run(rows: 117_659, dimension: 384, repetitions: 10)
    }

    /// Runs every benchmark on a `rows × dimension` random matrix, `repetitions` timed runs each
    /// (after one warm-up run). Reports min and median.
    public static func run(rows: Int, dimension: Int, repetitions: Int) -> String {
        precondition(rows > 0 && dimension > 0 && repetitions > 0)
        var report: [String] = []
        var rng = SplitMix64(seed: 0x1A60_0B0E)
        var sink: Float = 0

        let matrix = (0..<(rows * dimension)).map { _ in rng.nextFloat() }
        let query = (0..<dimension).map { _ in rng.nextFloat() }
        var scores = [Float](repeating: 0, count: rows)
        let bytes = Double(rows * dimension * MemoryLayout<Float>.stride)
        report.append("kernels: \(rows) rows × \(dimension) f32 = \(_fmt(bytes / 1e6, 1)) MB, \(repetitions) runs (min / median)")

        matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { out in
                    let t = _time(repetitions) {
                        BatchScorer.dotAll(query: q, matrix: m, dimension: dimension, rows: 0..<rows, into: out)
                        sink += out[rows / 2]
                    }
                    report.append(_line("dotAll", t, bytes: bytes))
                    let t2 = _time(repetitions) {
                        BatchScorer.l2SquaredAll(query: q, matrix: m, dimension: dimension, rows: 0..<rows, into: out)
                        sink += out[rows / 2]
                    }
                    report.append(_line("l2SquaredAll", t2, bytes: bytes))

                    // Ordinal variant: a random 10% of the rows, in random order.
                    let picked = Swift.max(1, rows / 10)
                    let ordinals = (0..<picked).map { _ in Int32(truncatingIfNeeded: rng.next(below: rows)) }
                    ordinals.withUnsafeBufferPointer { ords in
                        let t3 = _time(repetitions) {
                            BatchScorer.dotAll(query: q, matrix: m, dimension: dimension, ordinals: ords, into: out)
                            sink += out[0]
                        }
                        let pickedBytes = Double(picked * dimension * MemoryLayout<Float>.stride)
                        report.append(_line("dotAll ordinals (\(picked) random rows)", t3, bytes: pickedBytes))
                    }
                }
            }
        }

        // TopK over the scan's scores (mostly rejected by threshold) and over a larger random batch.
        let candidates = (0..<4_000_000).map { _ in rng.nextFloat() }
        for k in [10, 100, 1000] {
            scores.withUnsafeBufferPointer { s in
                let t = _time(repetitions) {
                    var top = TopKSelector(k: k)
                    top.insert(scores: s, baseOrdinal: 0)
                    sink += top.threshold
                }
                report.append(_perItemLine("TopK k=\(k) over \(rows) scan scores", t, items: rows))
            }
            candidates.withUnsafeBufferPointer { c in
                let t = _time(repetitions) {
                    var top = TopKSelector(k: k)
                    top.insert(scores: c, baseOrdinal: 0)
                    sink += top.threshold
                }
                report.append(_perItemLine("TopK k=\(k) over \(c.count) random", t, items: c.count))
            }
        }
        report.append("(checksum \(sink))")
        return report.joined(separator: "\n")
    }

    // MARK: Helpers

    /// Returns (min, median) milliseconds over `repetitions` runs after one warm-up.
    static func _time(_ repetitions: Int, _ body: () -> Void) -> (min: Double, median: Double) {
        let clock = ContinuousClock()
        body()
        var ms: [Double] = []
        for _ in 0..<repetitions {
            let d = clock.measure(body)
            let c = d.components
            ms.append(Double(c.seconds) * 1e3 + Double(c.attoseconds) * 1e-15)
        }
        ms.sort()
        return (ms[0], ms[ms.count / 2])
    }

    static func _line(_ name: String, _ t: (min: Double, median: Double), bytes: Double) -> String {
        let gbps = bytes / (t.min / 1e3) / 1e9
        return "  \(name): \(_fmt(t.min, 2)) / \(_fmt(t.median, 2)) ms per scan, \(_fmt(gbps, 1)) GB/s"
    }

    static func _perItemLine(_ name: String, _ t: (min: Double, median: Double), items: Int) -> String {
        let ns = t.min * 1e6 / Double(items)
        return "  \(name): \(_fmt(t.min, 2)) / \(_fmt(t.median, 2)) ms, \(_fmt(ns, 2)) ns per candidate"
    }

    /// Fixed-point formatting without Foundation.
    static func _fmt(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        // Round half up by hand: `rounded()` would pull in libm's `round`.
        let v = Int(abs(x) * scale + 0.5)
        let s = Int(scale)
        let whole = v / s
        let frac = v % s
        let sign = x < 0 && v != 0 ? "-" : ""
        if decimals == 0 { return "\(sign)\(whole)" }
        var f = String(frac)
        while f.count < decimals { f = "0" + f }
        return "\(sign)\(whole).\(f)"
    }
}

