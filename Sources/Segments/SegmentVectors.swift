public import Foundation
import Kernels
public import Log

/// The vectors of a segment (part `vectors`): only rows that have one, row-major f32 and
/// contiguous, so exact scans and (later) IVF lists hand kernels one block.
///
///     count u32 | dimension u32 | dense u8 | (when not dense) row ordinal u32 × count | f32 × count·dimension
///
/// `dense` means every row has a vector and vector i belongs to row i.
public struct SegmentVectors: Sendable {
    public let dimension: Int
    /// Row-major `count × dimension`.
    public let matrix: [Float]
    /// The row of each vector (nil when dense: vector i is row i).
    public let rows: [Int32]?
    /// 1/‖v‖ per vector (0 for a zero vector), computed with the same kernel as query norms.
    public let inverseNorms: [Float]
    /// The vector index of each row (-1 for none); nil when dense.
    let vectorOfRow: [Int32]?

    public var count: Int { inverseNorms.count }

    public func vectorIndex(ofRow row: Int) -> Int? {
        guard let vectorOfRow else { return row < count ? row : nil }
        let v = vectorOfRow[row]
        return v < 0 ? nil : Int(v)
    }

    public func vector(ofRow row: Int) -> [Float]? {
        guard let v = vectorIndex(ofRow: row) else { return nil }
        return Array(matrix[(v * dimension)..<((v + 1) * dimension)])
    }

    /// Encodes the vectors of `documents` (rows in order).
    public static func encode(_ documents: [Document], dimension: Int) -> [UInt8] {
        let present = documents.indices.filter { documents[$0].vector != nil }
        var w = BinaryWriter(reservingCapacity: 16 + present.count * (dimension + 1) * 4)
        w.u32(UInt32(present.count))
        w.u32(UInt32(dimension))
        let dense = present.count == documents.count
        w.u8(dense ? 1 : 0)
        if !dense { for row in present { w.u32(UInt32(row)) } }
        for row in present { w.floats(documents[row].vector!) }
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
            var rows: [Int32]? = nil
            var vectorOfRow: [Int32]? = nil
            if !dense {
                guard count <= r.remaining / 4 else { throw r.corrupt("vector rows truncated") }
                var list = [Int32](repeating: 0, count: count)
                var inverse = [Int32](repeating: -1, count: rowCount)
                var previous = -1
                for i in 0..<count {
                    let row = Int(try r.u32())
                    guard row > previous, row < rowCount else { throw r.corrupt("vector rows out of order") }
                    list[i] = Int32(row)
                    inverse[row] = Int32(i)
                    previous = row
                }
                rows = list
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
            return SegmentVectors(dimension: dimension, matrix: matrix, rows: rows, inverseNorms: inverseNorms, vectorOfRow: vectorOfRow)
        }
    }
}
