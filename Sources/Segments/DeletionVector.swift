public import Foundation
public import Kernels
public import Log

/// The rows of a segment that newer data has deleted or overwritten (object
/// `deletes/{segment}-{generation}`, Specs/format/segment.md §Deletion vectors): a bitset in
/// the common envelope, format "deletes" v1. Written when a newer segment is published, so
/// queries never re-check ids across segments.
public enum DeletionVectorCodec {
    public static let format = "deletes"
    public static let version: UInt16 = 1

    public static func encode(_ deleted: Bitset) -> Data {
        var w = BinaryWriter(reservingCapacity: 8 + deleted.words.count * 8)
        w.u32(UInt32(deleted.count))
        w.u32(UInt32(deleted.words.count))
        for word in deleted.words { w.u64(word) }
        return ObjectEnvelope.seal(format: format, version: version, payload: w.bytes)
    }

    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> Bitset {
        try ObjectEnvelope.open(data, format: format, object: object, supported: version...version) { r, _ in
            let count = Int(try r.u32())
            let words = Int(try r.u32())
            guard count == rowCount, words == (count + 63) / 64, words * 8 == r.remaining else {
                throw r.corrupt("deletion vector of \(count) rows does not fit a \(rowCount)-row segment")
            }
            var bits = Bitset(count: count)
            for w in 0..<words {
                var word = try r.u64()
                while word != 0 {
                    let bit = word.trailingZeroBitCount
                    let row = w * 64 + bit
                    guard row < count else { throw r.corrupt("bit \(row) beyond the segment") }
                    bits.set(row)
                    word &= word - 1
                }
            }
            return bits
        }
    }
}
