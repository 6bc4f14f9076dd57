import Kernels
import Testing

@Suite("ByteDotScorer and ScalarQuantizer vs scalar references")
struct ByteDotScorerTests {
    static let dimensions = [1, 7, 16, 17, 31, 32, 33, 384, 1000]

    /// Σ q·c in 64-bit integers.
    static func reference(_ q: [Int16], _ c: ArraySlice<UInt8>) -> Int64 {
        zip(q, c).reduce(0) { $0 + Int64($1.0) * Int64($1.1) }
    }

    struct Fixture {
        let dimension: Int
        let rows: Int
        let query: [Int16]
        let codes: [UInt8]

        init(dimension: Int, rows: Int = 23) {
            var rng = SplitMix64(seed: 0xB7E &+ UInt64(dimension))
            let limit = ByteDotScorer.maxQueryMagnitude(dimension: dimension)
            self.dimension = dimension
            self.rows = rows
            // The extremes first so every dimension size meets them.
            query = (0..<dimension).map { j in
                j == 0 ? Int16(-limit) : j == 1 ? Int16(limit) : Int16(rng.next(below: 2 * limit + 1) - limit)
            }
            codes = (0..<(rows * dimension)).map { i in i % dimension < 2 ? 255 : UInt8(rng.next(below: 256)) }
        }

        func row(_ r: Int) -> ArraySlice<UInt8> { codes[(r * dimension)..<((r + 1) * dimension)] }

        var codeSums: [Int32] {
            codes.withUnsafeBufferPointer { c in
                (0..<rows).map { ByteDotScorer.codeSum(UnsafeBufferPointer(rebasing: c[($0 * dimension)..<(($0 + 1) * dimension)])) }
            }
        }
    }

    @Test(arguments: KernelISA.available, dimensions)
    func rangeMatchesReference(isa: KernelISA, dimension: Int) {
        let f = Fixture(dimension: dimension)
        let query = ByteDotQuery(f.query)
        let sums = f.codeSums
        for rows in [0..<f.rows, 4..<5, 3..<20, 7..<7] {
            var out = [Int32](repeating: -7, count: rows.count + 1)
            f.codes.withUnsafeBufferPointer { c in
                sums.withUnsafeBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { ByteDotScorer.dotAll(query: query, codes: c, codeSums: s, dimension: dimension, rows: rows, into: $0, isa: isa) }
                }
            }
            for (i, r) in rows.enumerated() {
                #expect(Int64(out[i]) == Self.reference(f.query, f.row(r)), "\(isa) row \(r)")
            }
            #expect(out[rows.count] == -7)  // nothing written past the rows
        }
    }

    @Test(arguments: KernelISA.available, dimensions)
    func rowListMatchesReference(isa: KernelISA, dimension: Int) {
        let f = Fixture(dimension: dimension)
        var rng = SplitMix64(seed: 0x5EED &+ UInt64(dimension))
        let query = ByteDotQuery(f.query)
        let sums = f.codeSums
        let rows = (0..<40).map { _ in Int32(rng.next(below: f.rows)) } + [0, Int32(f.rows - 1)]
        var out = [Int32](repeating: 0, count: rows.count)
        f.codes.withUnsafeBufferPointer { c in
            sums.withUnsafeBufferPointer { s in
                rows.withUnsafeBufferPointer { r in
                    out.withUnsafeMutableBufferPointer { ByteDotScorer.dotAll(query: query, codes: c, codeSums: s, dimension: dimension, rows: r, into: $0, isa: isa) }
                }
            }
        }
        for (i, r) in rows.enumerated() {
            #expect(Int64(out[i]) == Self.reference(f.query, f.row(Int(r))), "\(isa) row \(r)")
        }
    }

    @Test func quantizerRoundTripsWithinHalfAStep() {
        var rng = SplitMix64(seed: 42)
        let dimension = 19, count = 50
        let rows = (0..<(count * dimension)).map { _ in rng.nextFloat() * 3 }
        rows.withUnsafeBufferPointer { m in
            let row = { (i: Int) in UnsafeBufferPointer(rebasing: m[(i * dimension)..<((i + 1) * dimension)]) }
            let quantizer = ScalarQuantizer(dimension: dimension, count: count, row: row, scale: { _ in 0.5 })
            var codes = [UInt8](repeating: 0, count: dimension)
            for i in 0..<count {
                codes.withUnsafeMutableBufferPointer { quantizer.encode(row(i), scale: 0.5, into: $0) }
                for j in 0..<dimension {
                    let decoded = quantizer.minimum[j] + quantizer.step[j] * Float(codes[j])
                    #expect(abs(decoded - row(i)[j] * 0.5) <= quantizer.step[j] * 0.5001, "row \(i) dim \(j)")
                }
            }
        }
    }

    @Test func quantizedQueryApproximatesTheDotProduct() {
        var rng = SplitMix64(seed: 7)
        let dimension = 384, count = 30
        let rows = (0..<(count * dimension)).map { _ in rng.nextFloat() }
        let query = (0..<dimension).map { _ in rng.nextFloat() }
        rows.withUnsafeBufferPointer { m in
            let row = { (i: Int) in UnsafeBufferPointer(rebasing: m[(i * dimension)..<((i + 1) * dimension)]) }
            let quantizer = ScalarQuantizer(dimension: dimension, count: count, row: row, scale: { _ in 1 })
            let q = query.withUnsafeBufferPointer { quantizer.quantize($0) }
            var codes = [UInt8](repeating: 0, count: dimension)
            for i in 0..<count {
                codes.withUnsafeMutableBufferPointer { quantizer.encode(row(i), scale: 1, into: $0) }
                let integer = Self.reference(q.values, codes[...])
                let exact = zip(query, row(i)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                // Half a step of error per dimension (step ≈ 2/255), summed with random signs.
                #expect(abs(Double(q.dot(Int32(integer))) - exact) < 0.1, "row \(i): \(q.dot(Int32(integer))) vs \(exact)")
            }
        }
    }

    @Test func nonFiniteValuesAreClampedNotTrapped() {
        let values: [Float] = [0, 1, .nan, .infinity, -.infinity, 0.25]
        values.withUnsafeBufferPointer { m in
            let quantizer = ScalarQuantizer(dimension: 1, count: values.count,
                                            row: { UnsafeBufferPointer(rebasing: m[$0..<($0 + 1)]) }, scale: { _ in 1 })
            #expect(quantizer.minimum == [0] && abs(quantizer.step[0] - 1 / 255) < 1e-7)
            var code: [UInt8] = [9]
            let encoded = (0..<values.count).map { i in
                code.withUnsafeMutableBufferPointer { quantizer.encode(UnsafeBufferPointer(rebasing: m[i..<(i + 1)]), scale: 1, into: $0) }
                return code[0]
            }
            #expect(encoded == [0, 255, 0, 255, 0, 64])
        }
    }
}
