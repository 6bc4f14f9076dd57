public import Foundation
public import Log

/// Where each row's vector lives in an IVF index's lists (Specs/format/ivf.md §1.3), so a
/// segment with an index keeps its vectors once: exact scans and row reads find them in the
/// lists instead of a second copy in the `vectors` part. Costs 8 bytes per row.
public struct IVFRowMap: Sendable {
    /// Per row, the list holding its vector (-1: the row has none).
    public let list: [Int32]
    /// Per row, the vector's position inside its list.
    public let position: [Int32]
    /// Vectors in lists before each list (list-order numbering of the vectors).
    let firstVector: [Int32]

    /// Inverts the index's ordinals (`IVFListRows` checked they ascend below the ordinal
    /// bound); an ordinal repeated across lists is `corrupt`.
    public init(_ index: IVFIndex, rowCount: Int, object: String) throws {
        let head = index.head
        guard head.ordinalBound <= rowCount else {
            throw FormatError(.corrupt, object: object, "IVF ordinal bound \(head.ordinalBound) exceeds \(rowCount) rows")
        }
        var list = [Int32](repeating: -1, count: rowCount)
        var position = [Int32](repeating: 0, count: rowCount)
        let rows = index.rows
        for l in 0..<head.listCount {
            for r in rows.listStart[l]..<rows.listStart[l + 1] {
                let row = Int(rows.ordinals[r])
                guard list[row] < 0 else {
                    throw FormatError(.corrupt, object: object, "IVF list \(l) names row \(row) twice")
                }
                list[row] = Int32(l)
                position[row] = Int32(r - rows.listStart[l])
            }
        }
        self.list = list
        self.position = position
        self.firstVector = rows.listStart.dropLast().map { Int32($0) }
    }

    /// The vector's number in list order (nil when the row has none).
    public func vectorNumber(ofRow row: Int) -> Int? {
        guard row < list.count, list[row] >= 0 else { return nil }
        return Int(firstVector[Int(list[row])] + position[row])
    }

    public var heldBytes: Int { (list.count + position.count + firstVector.count) * 4 }
}

extension IVFIndex {
    /// Calls `body` with list `list`'s vectors (row-major, `dimension` floats each) and, for
    /// cosine, its inverse norms (empty for euclidean_squared): in place when resident, read
    /// (and checked) into `buffer` when file-backed.
    public func withList<R>(_ list: Int, _ buffer: IVFReadBuffer,
                            _ body: (_ vectors: UnsafeBufferPointer<Float>, _ inverseNorms: UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let layout = head.layout(ofList: list)
        let d = dimension
        return try withBlock(list, buffer) { block in
            let base = block.baseAddress!
            let vectors = UnsafeBufferPointer(start: (base + layout.vectorsOffset).assumingMemoryBound(to: Float.self), count: layout.count * d)
            let norms = layout.normsOffset.map { UnsafeBufferPointer(start: (base + $0).assumingMemoryBound(to: Float.self), count: layout.count) }
                ?? UnsafeBufferPointer(start: nil, count: 0)
            return try body(vectors, norms)
        }
    }

    /// Copies the vectors at `positions` of list `list` into `matrix` (row-major, in the
    /// given order) and their inverse norms into `inverseNorms` (cosine): one read per vector
    /// when file-backed, for callers that want a few rows of a list, not all of it.
    public func gather(_ list: Int, positions: UnsafeBufferPointer<Int32>, _ buffer: IVFReadBuffer,
                       matrix: UnsafeMutableBufferPointer<Float>, inverseNorms: UnsafeMutableBufferPointer<Float>) throws {
        let d = dimension, first = rows.listStart[list]
        for (i, p) in positions.enumerated() {
            try withVector(list: list, position: Int(p), buffer) { vector in
                _ = UnsafeMutableBufferPointer(rebasing: matrix[(i * d)..<((i + 1) * d)]).initialize(from: vector)
            }
            if !rows.inverseNorms.isEmpty { inverseNorms[i] = rows.inverseNorms[first + Int(p)] }
        }
    }
}
