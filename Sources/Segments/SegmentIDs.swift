public import Foundation
public import Log

/// The `ids` part of a segment: every row's id, rows sorted by id (`DocumentID <`, byte order
/// for strings). Held compactly and searched by bisection, so opening a segment builds no
/// hash table: a segment whose ids are all unsigned integers (the common case) keeps 8 bytes
/// per row, copied straight out of the part; other segments keep the decoded ids.
public struct SegmentIDs: Sendable, RandomAccessCollection, Equatable {
    private enum Storage: Sendable, Equatable {
        case uints([UInt64])
        case any([DocumentID])
    }

    private let storage: Storage

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        switch storage {
        case .uints(let values): return values.count
        case .any(let ids): return ids.count
        }
    }

    public subscript(row: Int) -> DocumentID {
        switch storage {
        case .uints(let values): return .uint(values[row])
        case .any(let ids): return ids[row]
        }
    }

    /// The row holding `id`, by bisection over the sorted ids.
    public func row(of id: DocumentID) -> Int? {
        switch storage {
        case .uints(let values):
            guard case .uint(let wanted) = id else { return nil }
            return Self.bisect(values.count) { values[$0] < wanted }.flatMap { values[$0] == wanted ? $0 : nil }
        case .any(let ids):
            return Self.bisect(ids.count) { ids[$0] < id }.flatMap { ids[$0] == id ? $0 : nil }
        }
    }

    /// The first index in `0..<count` where `precedes` turns false (nil: it never does).
    private static func bisect(_ count: Int, _ precedes: (Int) -> Bool) -> Int? {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if precedes(middle) { low = middle + 1 } else { high = middle }
        }
        return low < count ? low : nil
    }

    /// Bytes held in memory.
    public var memoryBytes: Int {
        switch storage {
        case .uints(let values): return values.count * 8
        case .any(let ids): return ids.count * MemoryLayout<DocumentID>.stride
        }
    }

    // MARK: Encoding

    public static func encode(_ ids: [DocumentID]) -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: ids.count * 9 + 4)
        w.u32(UInt32(ids.count))
        for id in ids { WALCodec.writeID(id, &w) }
        return w.bytes
    }

    /// Decodes the part and checks that its ids ascend (bisection relies on it). A part of
    /// unsigned ids only (every entry 9 bytes: tag, u64) is read without a per-id decode.
    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> SegmentIDs {
        let ids: SegmentIDs = try data.withUnsafeBytes { raw in
            var r = BinaryReader(raw, object: object)
            let count = Int(try r.u32())
            guard count == rowCount, count <= r.remaining else { throw r.corrupt("ids \(count) ≠ segment rows \(rowCount)") }
            if r.remaining == count * 9, let uints = uintIDs(raw, count: count) { return SegmentIDs(storage: .uints(uints)) }
            var ids: [DocumentID] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try WALCodec.readID(&r)) }
            guard r.remaining == 0 else { throw r.corrupt("trailing bytes after ids") }
            return SegmentIDs(storage: .any(ids))  // some id is not a uint
        }
        guard ids.isStrictlyAscending else { throw FormatError(.corrupt, object: object, "segment ids are not strictly ascending") }
        return ids
    }

    private init(storage: Storage) { self.storage = storage }

    /// The u64 of every 9-byte entry after the count, when every entry's tag is the uint tag.
    private static func uintIDs(_ raw: UnsafeRawBufferPointer, count: Int) -> [UInt64]? {
        let tag = WALCodec.IDTag.uint.rawValue
        var values = [UInt64](repeating: 0, count: count)
        for i in 0..<count {
            let at = 4 + i * 9
            guard raw[at] == tag else { return nil }
            values[i] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 1, as: UInt64.self))
        }
        return values
    }

    private var isStrictlyAscending: Bool {
        switch storage {
        case .uints(let values): return zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
        case .any(let ids): return zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }
        }
    }
}
