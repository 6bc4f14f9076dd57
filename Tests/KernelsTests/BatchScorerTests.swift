import Kernels
import Testing

@Suite("BatchScorer vs per-row reference")
struct BatchScorerTests {
    static let dimensions = [1, 3, 7, 16, 17, 64, 384, 1000]
    static let rowCount = 37

    struct Fixture {
        let dimension: Int
        let matrix: [Float]
        let query: [Float]

        init(dimension: Int, rows: Int = BatchScorerTests.rowCount) {
            var rng = SplitMix64(seed: 0xBA7C4 &+ UInt64(dimension))
            self.dimension = dimension
            matrix = rng.floats(rows * dimension)
            query = rng.floats(dimension)
        }

        func row(_ r: Int) -> [Float] { Array(matrix[(r * dimension)..<((r + 1) * dimension)]) }
    }

    enum Metric: CaseIterable { case dot, l2 }

    static func reference(_ metric: Metric, _ q: [Float], _ row: [Float]) -> (value: Double, scale: Double) {
        switch metric {
        case .dot: return VectorDistanceTests.refDot(q, row)
        case .l2: let v = VectorDistanceTests.refL2(q, row); return (v, v)
        }
    }

    static func single(_ metric: Metric, _ q: [Float], _ row: [Float]) -> Float {
        metric == .dot ? VectorDistance.dot(q, row) : VectorDistance.l2Squared(q, row)
    }

    static func scoreRange(_ metric: Metric, _ f: Fixture, _ rows: Range<Int>, outCount: Int) -> [Float] {
        var out = [Float](repeating: -777, count: outCount)
        f.query.withUnsafeBufferPointer { q in
            f.matrix.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    switch metric {
                    case .dot: BatchScorer.dotAll(query: q, matrix: m, dimension: f.dimension, rows: rows, into: o)
                    case .l2: BatchScorer.l2SquaredAll(query: q, matrix: m, dimension: f.dimension, rows: rows, into: o)
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: Metric.allCases, dimensions)
    func rangeMatchesReference(metric: Metric, dimension: Int) {
        let f = Fixture(dimension: dimension)
        for rows in [0..<Self.rowCount, 5..<6, 3..<30, 36..<37, 10..<10] {
            let out = Self.scoreRange(metric, f, rows, outCount: rows.count + 2)
            for (i, r) in rows.enumerated() {
                let ref = Self.reference(metric, f.query, f.row(r))
                #expect(isClose(out[i], ref.value, scale: ref.scale), "row \(r): \(out[i]) vs \(ref.value)")
                // Promise: bit-identical to the single-vector kernel.
                #expect(out[i] == Self.single(metric, f.query, f.row(r)))
            }
            // Slots past rows.count are untouched.
            #expect(out[rows.count] == -777 && out[rows.count + 1] == -777)
        }
    }

    /// Every instruction set this CPU runs, against the f64 reference (the AVX2 path fuses
    /// products and sums in another order, so it is close, not bit-identical).
    @Test(arguments: KernelISA.available, dimensions)
    func fastRangeMatchesReference(isa: KernelISA, dimension: Int) {
        let f = Fixture(dimension: dimension)
        for rows in [0..<Self.rowCount, 5..<6, 3..<30, 33..<37, 10..<10] {
            var out = [Float](repeating: -777, count: rows.count + 2)
            f.query.withUnsafeBufferPointer { q in
                f.matrix.withUnsafeBufferPointer { m in
                    out.withUnsafeMutableBufferPointer {
                        BatchScorer.dotAllFast(query: q, matrix: m, dimension: f.dimension, rows: rows, into: $0, isa: isa)
                    }
                }
            }
            for (i, r) in rows.enumerated() {
                let ref = Self.reference(.dot, f.query, f.row(r))
                #expect(isClose(out[i], ref.value, scale: ref.scale), "\(isa) row \(r): \(out[i]) vs \(ref.value)")
            }
            #expect(out[rows.count] == -777 && out[rows.count + 1] == -777)
            // Promise: the row-list variant gives each row the range variant's exact value,
            // whatever its position in the list (rows reversed, one repeated).
            let ordinals = rows.reversed().map(Int32.init) + rows.prefix(1).map(Int32.init)
            var listed = [Float](repeating: 0, count: ordinals.count)
            f.query.withUnsafeBufferPointer { q in
                f.matrix.withUnsafeBufferPointer { m in
                    ordinals.withUnsafeBufferPointer { o in
                        listed.withUnsafeMutableBufferPointer {
                            BatchScorer.dotAllFast(query: q, matrix: m, dimension: f.dimension, ordinals: o, into: $0, isa: isa)
                        }
                    }
                }
            }
            for (i, r) in ordinals.enumerated() {
                #expect(listed[i] == out[Int(r) - rows.lowerBound], "\(isa) listed row \(r)")
            }
        }
    }

    @Test(arguments: Metric.allCases, dimensions)
    func ordinalsMatchReference(metric: Metric, dimension: Int) {
        let f = Fixture(dimension: dimension)
        var rng = SplitMix64(seed: 0x0D &+ UInt64(dimension))
        // Random order with duplicates, plus both ends of the matrix.
        var ordinals = (0..<50).map { _ in Int32(rng.next() % UInt64(Self.rowCount)) }
        ordinals += [0, Int32(Self.rowCount - 1)]
        var out = [Float](repeating: -777, count: ordinals.count)
        f.query.withUnsafeBufferPointer { q in
            f.matrix.withUnsafeBufferPointer { m in
                ordinals.withUnsafeBufferPointer { ords in
                    out.withUnsafeMutableBufferPointer { o in
                        switch metric {
                        case .dot: BatchScorer.dotAll(query: q, matrix: m, dimension: dimension, ordinals: ords, into: o)
                        case .l2: BatchScorer.l2SquaredAll(query: q, matrix: m, dimension: dimension, ordinals: ords, into: o)
                        }
                    }
                }
            }
        }
        for (i, ord) in ordinals.enumerated() {
            let row = f.row(Int(ord))
            let ref = Self.reference(metric, f.query, row)
            #expect(isClose(out[i], ref.value, scale: ref.scale), "ordinal \(ord): \(out[i]) vs \(ref.value)")
            #expect(out[i] == Self.single(metric, f.query, row))
        }
    }

    @Test func emptyOrdinalList() {
        let f = Fixture(dimension: 7)
        var out: [Float] = []
        f.query.withUnsafeBufferPointer { q in
            f.matrix.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    BatchScorer.dotAll(query: q, matrix: m, dimension: 7,
                                       ordinals: UnsafeBufferPointer(start: nil, count: 0), into: o)
                }
            }
        }
        #expect(out.isEmpty)
    }

    @Test func knownValues() {
        // 3 rows × 2: [1,0], [0,1], [1,1]; query [2,3].
        let m: [Float] = [1, 0, 0, 1, 1, 1]
        let q: [Float] = [2, 3]
        var dots = [Float](repeating: 0, count: 3)
        var l2s = [Float](repeating: 0, count: 3)
        m.withUnsafeBufferPointer { mb in
            q.withUnsafeBufferPointer { qb in
                dots.withUnsafeMutableBufferPointer {
                    BatchScorer.dotAll(query: qb, matrix: mb, dimension: 2, rows: 0..<3, into: $0)
                }
                l2s.withUnsafeMutableBufferPointer {
                    BatchScorer.l2SquaredAll(query: qb, matrix: mb, dimension: 2, rows: 0..<3, into: $0)
                }
            }
        }
        #expect(dots == [2, 3, 5])
        #expect(l2s == [10, 8, 5])
    }
}
