import LagoonTestSupport
import Segments
import Testing

@Suite("ChunkedColumn")
struct ChunkedColumnTests {
    /// Every row through subscript, withRow, rowArray, withChunk and forEachChunk.
    static func contents(_ column: ChunkedColumn<Int>) -> [[Int]] {
        var rows: [[Int]] = []
        var nextRow = 0
        column.forEachChunk { first, buffer in
            #expect(first == nextRow)
            #expect(buffer.count % column.width == 0)
            #expect(first % column.rowsPerChunk == 0)
            #expect(buffer.count / column.width <= column.rowsPerChunk)
            for r in 0..<buffer.count / column.width {
                rows.append(Array(buffer[(r * column.width)..<((r + 1) * column.width)]))
            }
            nextRow += buffer.count / column.width
        }
        #expect(rows.count == column.count)
        for row in 0..<column.count {
            #expect(column.rowArray(row) == rows[row])
            #expect(column.withRow(row) { Array($0) } == rows[row])
            #expect((0..<column.width).map { column[row, $0] } == rows[row])
            column.withChunk(containing: row) { first, visible, buffer in
                #expect(first == row / column.rowsPerChunk * column.rowsPerChunk)
                #expect(visible == min(column.rowsPerChunk, column.count - first))
                #expect(buffer.count == visible * column.width)
                #expect(Array(buffer[((row - first) * column.width)..<((row - first + 1) * column.width)]) == rows[row])
            }
        }
        return rows
    }

    static func row(_ i: Int, width: Int) -> [Int] {
        (0..<width).map { i * 100 + $0 }
    }

    @Test("appends across chunk boundaries", arguments: [(1, 1), (1, 4), (3, 4), (5, 7), (2, 4096)])
    func appends(width: Int, rowsPerChunk: Int) {
        var column = ChunkedColumn<Int>(width: width, rowsPerChunk: rowsPerChunk)
        #expect(column.count == 0)
        #expect(Self.contents(column).isEmpty)
        let n = rowsPerChunk == 4096 ? 4096 * 2 + 5 : rowsPerChunk * 5 + 2
        for i in 0..<n {
            if width == 1 { column.append(i * 100) } else { column.append(contentsOf: Self.row(i, width: width)) }
            #expect(column.count == i + 1)
        }
        #expect(Self.contents(column) == (0..<n).map { Self.row($0, width: width) })
    }

    @Test("a copy is a snapshot: later appends to the original do not show in it", arguments: [0, 1, 3, 4, 5, 8, 9])
    func snapshot(rowsBefore: Int) {
        var original = ChunkedColumn<Int>(width: 2, rowsPerChunk: 4)
        for i in 0..<rowsBefore { original.append(contentsOf: Self.row(i, width: 2)) }
        let snapshot = original
        for i in rowsBefore..<(rowsBefore + 10) { original.append(contentsOf: Self.row(i, width: 2)) }
        #expect(snapshot.count == rowsBefore)
        #expect(Self.contents(snapshot) == (0..<rowsBefore).map { Self.row($0, width: 2) })
        #expect(Self.contents(original) == (0..<(rowsBefore + 10)).map { Self.row($0, width: 2) })
    }

    @Test("diverging copies each keep their own rows (copy-on-append), whichever appends first",
          arguments: [0, 1, 2, 3, 4, 6], [false, true])
    func divergingCopies(rowsBefore: Int, copyAppendsFirst: Bool) {
        var a = ChunkedColumn<Int>(rowsPerChunk: 4)
        for i in 0..<rowsBefore { a.append(i) }
        var b = a
        let shared = Array(0..<rowsBefore)
        if copyAppendsFirst {
            for i in 0..<6 { b.append(2000 + i) }
            for i in 0..<6 { a.append(1000 + i) }
        } else {
            a.append(1000)
            b.append(2000)
            for i in 1..<6 {  // interleaved
                a.append(1000 + i)
                b.append(2000 + i)
            }
        }
        #expect(Self.contents(a).map { $0[0] } == shared + (1000..<1006))
        #expect(Self.contents(b).map { $0[0] } == shared + (2000..<2006))
    }

    @Test("a snapshot of a diverged copy stays put while both lineages grow")
    func threeWay() {
        var a = ChunkedColumn<Int>(width: 3, rowsPerChunk: 4)
        for i in 0..<6 { a.append(contentsOf: Self.row(i, width: 3)) }
        var b = a
        b.append(contentsOf: Self.row(50, width: 3))
        let c = b  // 7 rows: 0..5 then 50
        var d = c
        a.append(contentsOf: Self.row(60, width: 3))
        d.append(contentsOf: Self.row(70, width: 3))
        b.append(contentsOf: Self.row(80, width: 3))
        for i in 100..<110 {
            a.append(contentsOf: Self.row(i, width: 3))
            b.append(contentsOf: Self.row(i + 100, width: 3))
            d.append(contentsOf: Self.row(i + 200, width: 3))
        }
        let base = (0..<6).map { Self.row($0, width: 3) }
        #expect(Self.contents(c) == base + [Self.row(50, width: 3)])
        #expect(Self.contents(a) == base + ([60] + Array(100..<110)).map { Self.row($0, width: 3) })
        #expect(Self.contents(b) == base + ([50, 80] + Array(200..<210)).map { Self.row($0, width: 3) })
        #expect(Self.contents(d) == base + ([50, 70] + Array(300..<310)).map { Self.row($0, width: 3) })
    }

    @Test("reference-counted elements survive copies, divergence and the original going away")
    func nonTrivialElements() {
        var snapshot: ChunkedColumn<String>
        var other: ChunkedColumn<String>
        do {
            var original = ChunkedColumn<String>(rowsPerChunk: 3)
            for i in 0..<7 { original.append(String(repeating: "x", count: 40) + "\(i)") }
            snapshot = original
            other = original
            original.append("original-only")
            other.append("other-only")
        }
        snapshot.append("snapshot-only")
        let tail = String(repeating: "x", count: 40)
        #expect((0..<snapshot.count).map { snapshot[$0] } == (0..<7).map { tail + "\($0)" } + ["snapshot-only"])
        #expect((0..<other.count).map { other[$0] } == (0..<7).map { tail + "\($0)" } + ["other-only"])
    }

    @Test("random lineages agree with arrays", arguments: 0..<4)
    func randomLineages(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var columns = [ChunkedColumn<Int>(width: 2, rowsPerChunk: 5)]
        var models: [[[Int]]] = [[]]
        var next = 0
        for _ in 0..<300 {
            let i = Int.random(in: 0..<columns.count, using: &rng)
            if rng.chance(0.15) && columns.count < 12 {
                columns.append(columns[i])
                models.append(models[i])
            } else {
                next += 1
                columns[i].append(contentsOf: [next, -next])
                models[i].append([next, -next])
            }
        }
        for (column, model) in zip(columns, models) {
            #expect(Self.contents(column) == model)
        }
    }
}
