public import Foundation
import Kernels
public import Log

/// The vectors of a segment, read from one of two places:
/// - the `vectors` part (segments without an IVF index), row-major f32 and contiguous:
///
///       count u32 | dimension u32 | dense u8 | (when not dense) row ordinal u32 × count | f32 × count·dimension
///
///   `dense` means every row has a vector and vector i belongs to row i;
/// - the lists of the segment's IVF index (Specs/format/ivf.md), which hold every vector
///   contiguously per list: a segment with an index keeps its vectors once, and its `vectors`
///   part is not loaded.
///
/// Exact scans ask for `placement(of:)` a batch of rows and score block by block
/// (`forEachBlock`): one block for the matrix, one per IVF list otherwise.
public struct SegmentVectors: Sendable {
    public let dimension: Int
    /// Vectors held (rows that have one).
    public let count: Int
    private let storage: Storage

    private enum Storage: Sendable {
        /// Row-major `count × dimension`; `vectorOfRow` is each row's vector (-1 for none; nil
        /// when dense: vector i is row i); `inverseNorms` 1/‖v‖ per vector (0 for a zero
        /// vector), computed with the same kernel as query norms.
        case matrix(matrix: [Float], inverseNorms: [Float], vectorOfRow: [Int32]?)
        case lists(IVFIndex, IVFRowMap)
    }

    /// Vectors read from the lists of `index` (the segment's `ivf` part).
    public init(lists index: IVFIndex, rowCount: Int, object: String) throws {
        dimension = index.dimension
        count = index.vectorCount
        storage = .lists(index, try IVFRowMap(index, rowCount: rowCount, object: object))
    }

    private init(dimension: Int, matrix: [Float], inverseNorms: [Float], vectorOfRow: [Int32]?) {
        self.dimension = dimension
        count = inverseNorms.count
        storage = .matrix(matrix: matrix, inverseNorms: inverseNorms, vectorOfRow: vectorOfRow)
    }

    /// Whether the vectors come from the IVF index's lists.
    public var readsIndexLists: Bool {
        if case .lists = storage { return true }
        return false
    }

    /// Bytes held beyond the loaded part (the inverse norms or the row map).
    public var derivedBytes: Int {
        switch storage {
        case .matrix(_, let inverseNorms, let vectorOfRow):
            return 4 * (inverseNorms.count + (vectorOfRow?.count ?? 0))
        case .lists(_, let map): return map.heldBytes
        }
    }

    /// The vector's number in storage order (nil when the row has none).
    public func vectorNumber(ofRow row: Int) -> Int? {
        switch storage {
        case .matrix(_, _, let vectorOfRow):
            guard let vectorOfRow else { return row < count ? row : nil }
            let v = vectorOfRow[row]
            return v < 0 ? nil : Int(v)
        case .lists(_, let map): return map.vectorNumber(ofRow: row)
        }
    }

    public func hasVector(row: Int) -> Bool { vectorNumber(ofRow: row) != nil }

    /// The row's vector (nil when it has none). Throws when a file-backed index's read fails.
    public func vector(ofRow row: Int) throws -> [Float]? {
        switch storage {
        case .matrix(let matrix, _, _):
            guard let v = vectorNumber(ofRow: row) else { return nil }
            return Array(matrix[(v * dimension)..<((v + 1) * dimension)])
        case .lists(let index, let map):
            let list = map.list[row]
            guard list >= 0 else { return nil }
            return try index.withVector(list: Int(list), position: Int(map.position[row]), IVFReadBuffer()) { Array($0) }
        }
    }

    // MARK: Exact scans

    /// Where the vectors of some rows are: the rows that have one (`rows`, in the order given)
    /// grouped by the block that holds them.
    public struct Placement {
        /// The given rows that have a vector.
        public let rows: [Int32]
        /// Per group: the block (0 for the matrix, the list otherwise) and the range of
        /// `positions`/`entries` it covers.
        let groups: [(block: Int, range: Range<Int>)]
        /// Positions inside the group's block (ascending within a group when rows ascend).
        let positions: [Int32]
        /// Per position, its index in `rows` (nil: the identity, one group in row order).
        let entries: [Int32]?
    }

    /// One block of vectors and the wanted positions in it.
    public struct Block {
        /// Row-major, `dimension` floats per vector.
        public let matrix: UnsafeBufferPointer<Float>
        /// 1/‖v‖ per vector of the block (empty when not stored: euclidean IVF lists).
        public let inverseNorms: UnsafeBufferPointer<Float>
        public let positions: UnsafeBufferPointer<Int32>
        /// Per position, where its result goes in `Placement.rows` (nil: positions are in row order from 0).
        public let entries: UnsafeBufferPointer<Int32>?
        /// Where the results of this block start in `Placement.rows` when `entries` is nil.
        public let firstEntry: Int
        /// The positions as one range, when they are consecutive.
        public var contiguous: Range<Int>? {
            guard let first = positions.first, let last = positions.last, Int(last) - Int(first) + 1 == positions.count else { return nil }
            return Int(first)..<(Int(last) + 1)
        }
    }

    public func placement(of rows: [Int32]) -> Placement {
        switch storage {
        case .matrix:
            var kept: [Int32] = [], positions: [Int32] = []
            kept.reserveCapacity(rows.count)
            positions.reserveCapacity(rows.count)
            for row in rows {
                if let v = vectorNumber(ofRow: Int(row)) {
                    kept.append(row)
                    positions.append(Int32(v))
                }
            }
            return Placement(rows: kept, groups: kept.isEmpty ? [] : [(0, 0..<kept.count)], positions: positions, entries: nil)
        case .lists(let index, let map):
            // Counting sort by list: rows keep their order inside a list, and list ordinals
            // ascend with position (Specs/format/ivf.md §1.3), so ascending rows give
            // ascending positions.
            var kept: [Int32] = []
            kept.reserveCapacity(rows.count)
            var perList = [Int32](repeating: 0, count: index.listCount + 1)
            for row in rows where map.list[Int(row)] >= 0 {
                kept.append(row)
                perList[Int(map.list[Int(row)]) + 1] += 1
            }
            for l in 0..<index.listCount { perList[l + 1] += perList[l] }
            var next = perList
            var positions = [Int32](repeating: 0, count: kept.count)
            var entries = [Int32](repeating: 0, count: kept.count)
            for (i, row) in kept.enumerated() {
                let l = Int(map.list[Int(row)])
                let at = Int(next[l])
                positions[at] = map.position[Int(row)]
                entries[at] = Int32(i)
                next[l] += 1
            }
            var groups: [(block: Int, range: Range<Int>)] = []
            for l in 0..<index.listCount where perList[l + 1] > perList[l] {
                groups.append((l, Int(perList[l])..<Int(perList[l + 1])))
            }
            return Placement(rows: kept, groups: groups, positions: positions, entries: entries)
        }
    }

    /// Calls `body` once per block holding some of the placed rows' vectors. A file-backed
    /// index's list is read whole when many of its rows are wanted, else only the wanted
    /// vectors are read (a selective filter's rows are spread over every list).
    public func forEachBlock(_ placement: Placement, _ body: (Block) -> Void) throws {
        let buffer = IVFReadBuffer()
        func run(_ positions: UnsafeBufferPointer<Int32>, _ all: UnsafeBufferPointer<Int32>?) throws {
            for group in placement.groups {
                let wanted = UnsafeBufferPointer(rebasing: positions[group.range])
                let entries = all.map { UnsafeBufferPointer(rebasing: $0[group.range]) }
                switch storage {
                case .matrix(let matrix, let inverseNorms, _):
                    matrix.withUnsafeBufferPointer { m in
                        inverseNorms.withUnsafeBufferPointer { n in
                            body(Block(matrix: m, inverseNorms: n, positions: wanted, entries: entries, firstEntry: group.range.lowerBound))
                        }
                    }
                case .lists(let index, _) where index.readsFromFile && wanted.count * Self.gatherBelowShare < index.head.lists[group.block].count:
                    let n = wanted.count, d = dimension
                    var matrix = [Float](repeating: 0, count: n * d)
                    var norms = [Float](repeating: 0, count: index.metric == .cosineDistance ? n : 0)
                    try matrix.withUnsafeMutableBufferPointer { m in
                        try norms.withUnsafeMutableBufferPointer { try index.gather(group.block, positions: wanted, buffer, matrix: m, inverseNorms: $0) }
                    }
                    let gathered = [Int32](0..<Int32(n))
                    matrix.withUnsafeBufferPointer { m in
                        norms.withUnsafeBufferPointer { nb in
                            gathered.withUnsafeBufferPointer { p in
                                body(Block(matrix: m, inverseNorms: nb, positions: p, entries: entries, firstEntry: group.range.lowerBound))
                            }
                        }
                    }
                case .lists(let index, _):
                    try index.withList(group.block, buffer) { m, n in
                        body(Block(matrix: m, inverseNorms: n, positions: wanted, entries: entries, firstEntry: group.range.lowerBound))
                    }
                }
            }
        }
        try placement.positions.withUnsafeBufferPointer { positions in
            if let all = placement.entries {
                try all.withUnsafeBufferPointer { try run(positions, $0) }
            } else {
                try run(positions, nil)
            }
        }
    }

    /// A file-backed list is read vector by vector when fewer than 1 in this many of its rows
    /// are wanted (one small read each), else whole (one read).
    static let gatherBelowShare = 8

    // MARK: The `vectors` part

    /// Encodes the vectors part: `matrix` holds the vectors of `rows` (ascending) row-major, in
    /// a segment of `rowCount` rows.
    public static func encode(matrix: [Float], rows: [Int32], rowCount: Int, dimension: Int) -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 16 + rows.count * 4 + matrix.count * 4)
        w.u32(UInt32(rows.count))
        w.u32(UInt32(dimension))
        let dense = rows.count == rowCount
        w.u8(dense ? 1 : 0)
        if !dense { for row in rows { w.u32(UInt32(row)) } }
        w.floats(matrix)
        return w.bytes
    }

    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> SegmentVectors {
        try data.withUnsafeBytes { raw in
            var r = BinaryReader(raw, object: object)
            let count = Int(try r.u32()), dimension = Int(try r.u32())
            let dense = try r.u8() == 1
            guard count <= rowCount, dimension > 0, dimension <= 65_536, (!dense || count == rowCount) else {
                throw r.corrupt("\(count) vectors of \(dimension) dimensions in a \(rowCount)-row segment")
            }
            var vectorOfRow: [Int32]? = nil
            if !dense {
                guard count <= r.remaining / 4 else { throw r.corrupt("vector rows truncated") }
                var inverse = [Int32](repeating: -1, count: rowCount)
                for (i, row) in try r.ascendingRows(count, below: rowCount, "vector").enumerated() { inverse[Int(row)] = Int32(i) }
                vectorOfRow = inverse
            }
            guard count * dimension == r.remaining / 4, r.remaining % 4 == 0 else {
                throw r.corrupt("vector bytes \(r.remaining) ≠ \(count) × \(dimension) × 4")
            }
            let matrix = try r.floats(count * dimension)
            var inverseNorms = [Float](repeating: 0, count: count)
            matrix.withUnsafeBufferPointer { m in
                for i in 0..<count {
                    let norm = VectorDistance.squaredNorm(UnsafeBufferPointer(rebasing: m[(i * dimension)..<((i + 1) * dimension)])).squareRoot()
                    inverseNorms[i] = norm > 0 ? 1 / norm : 0
                }
            }
            return SegmentVectors(dimension: dimension, matrix: matrix, inverseNorms: inverseNorms, vectorOfRow: vectorOfRow)
        }
    }
}
