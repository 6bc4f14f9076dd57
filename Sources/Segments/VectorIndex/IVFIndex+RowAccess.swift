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

    /// Reads every list's ordinals once. Ordinals out of range or repeated are `corrupt`
    /// (`IVFIndex(decoding:verifyLists: false)` does not check them).
    public init(_ index: IVFIndex, rowCount: Int, object: String) throws {
        let head = index.head
        guard head.ordinalBound <= rowCount else {
            throw FormatError(.corrupt, object: object, "IVF ordinal bound \(head.ordinalBound) exceeds \(rowCount) rows")
        }
        var list = [Int32](repeating: -1, count: rowCount)
        var position = [Int32](repeating: 0, count: rowCount)
        var firstVector = [Int32](repeating: 0, count: head.listCount)
        var seen = 0
        try index.bytes.withUnsafeBytes { raw in
            for l in 0..<head.listCount {
                firstVector[l] = Int32(seen)
                let entry = head.lists[l]
                seen += entry.count
                for i in 0..<entry.count {
                    let row = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: entry.offset + 4 * i, as: Int32.self)))
                    guard row >= 0, row < rowCount, list[row] < 0 else {
                        throw FormatError(.corrupt, object: object, "IVF list \(l) names row \(row) out of range or twice")
                    }
                    list[row] = Int32(l)
                    position[row] = Int32(i)
                }
            }
        }
        self.list = list
        self.position = position
        self.firstVector = firstVector
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
    /// cosine, its inverse norms (empty for euclidean_squared), read in place.
    public func withList<R>(_ list: Int, _ body: (_ vectors: UnsafeBufferPointer<Float>, _ inverseNorms: UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let layout = head.layout(ofList: list)
        let offset = head.lists[list].offset
        let d = dimension
        return try bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + offset
            let vectors = UnsafeBufferPointer(start: (base + layout.vectorsOffset).assumingMemoryBound(to: Float.self), count: layout.count * d)
            let norms = layout.normsOffset.map { UnsafeBufferPointer(start: (base + $0).assumingMemoryBound(to: Float.self), count: layout.count) }
                ?? UnsafeBufferPointer(start: nil, count: 0)
            return try body(vectors, norms)
        }
    }
}
