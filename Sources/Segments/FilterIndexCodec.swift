public import Foundation
public import Kernels
public import Log

/// Bytes of a `filter/{attribute}` part (Specs/format/filter-index.md):
///
///     format u8 = 1 | rows u32 | null rows: rowset | sections u8 (1: values; 2: values, elements)
///     per section: entry count u32, then per entry (sorted): value (WAL value encoding) | rowset
///     rowset := count varint | form u8, then form 0 (list): byte length varint and `count` LEB128
///               row deltas (the first from −1, so every delta ≥ 1); form 1 (bitmap): u64 × ⌈rows/64⌉
///
/// Each row set takes whichever form is smaller, so a value most rows hold costs rows/8 bytes
/// and a rare one a byte or two per row.
public enum FilterIndexCodec {
    public static let format: UInt8 = 1
    static let listForm: UInt8 = 0
    static let bitmapForm: UInt8 = 1

    /// Encodes the index of one attribute, `values` holding one value per row.
    public static func encode(_ values: [AttributeValue]) -> [UInt8] {
        var valueRows: [AttributeValue: [Int32]] = [:]
        var elementRows: [AttributeValue: [Int32]] = [:]
        var nulls: [Int32] = []
        // Without arrays the elements are the values: the section is neither built nor stored.
        let hasArrays = values.contains { if case .array = $0 { return true } else { return false } }
        for (row, value) in values.enumerated() {
            let row = Int32(row)
            if value.isNull { nulls.append(row); continue }
            valueRows[value, default: []].append(row)
            guard hasArrays else { continue }
            if case .array(let items) = value {
                for item in items where elementRows[item]?.last != row { elementRows[item, default: []].append(row) }
            } else {
                elementRows[value, default: []].append(row)
            }
        }
        var w = BinaryWriter()
        w.u8(format)
        w.u32(UInt32(values.count))
        writeRowSet(nulls, rowCount: values.count, &w)
        w.u8(hasArrays ? 2 : 1)
        writeSection(valueRows, rowCount: values.count, &w)
        if hasArrays { writeSection(elementRows, rowCount: values.count, &w) }
        return w.bytes
    }

    /// The total order of §2, ties (values `compare` calls equal, like `1` and `1.0`) broken by
    /// their encoded bytes so the order is deterministic.
    static func sortedEntries(_ entries: some Collection<AttributeValue>) -> [AttributeValue] {
        func encoded(_ value: AttributeValue) -> [UInt8] {
            var w = BinaryWriter()
            WALCodec.writeValue(value, &w)
            return w.bytes
        }
        return entries.sorted { a, b in
            let c = AttributeValue.compare(a, b)
            return c != 0 ? c < 0 : encoded(a).lexicographicallyPrecedes(encoded(b))
        }
    }

    private static func writeSection(_ rows: [AttributeValue: [Int32]], rowCount: Int, _ w: inout BinaryWriter) {
        let entries = sortedEntries(rows.keys)
        w.u32(UInt32(entries.count))
        for entry in entries {
            WALCodec.writeValue(entry, &w)
            writeRowSet(rows[entry]!, rowCount: rowCount, &w)
        }
    }

    private static func writeRowSet(_ rows: [Int32], rowCount: Int, _ w: inout BinaryWriter) {
        var deltas: [UInt8] = []
        var previous: Int32 = -1
        for row in rows {
            VarInt.append(UInt64(row - previous), to: &deltas)
            previous = row
        }
        let words = (rowCount + 63) / 64
        // A varint header: a value one row holds costs about three bytes beside the value.
        var header: [UInt8] = []
        VarInt.append(UInt64(rows.count), to: &header)
        if words * 8 < deltas.count {
            header.append(bitmapForm)
            w.raw(header)
            let bitmap = Bitset(count: rowCount, members: rows.lazy.map(Int.init))
            for word in bitmap.words { w.u64(word) }
        } else {
            header.append(listForm)
            VarInt.append(UInt64(deltas.count), to: &header)
            w.raw(header)
            w.raw(deltas)
        }
    }

    /// Whether segments index the attribute: it is filterable (`filterable` in the schema,
    /// by default every attribute without full-text search).
    public static func isIndexed(_ name: String, config: NamespaceConfig) -> Bool {
        let schema = config.schema[name]
        return schema?.filterable ?? (schema?.fullTextSearch == nil)
    }

    // MARK: Decoding

    /// Decodes and checks a part: counts against the bytes left, rows in range and ascending,
    /// entries in order. A damaged part is `corrupt`, a newer layout `tooNew`, never a crash.
    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> FilterIndex {
        try data.withUnsafeBytes { raw in
            var r = BinaryReader(raw, object: object)
            let version = try r.u8()
            guard version == format else { throw FormatError(.tooNew, object: object, "filter index format \(version)") }
            let rows = Int(try r.u32())
            guard rows == rowCount else { throw r.corrupt("filter index rows \(rows) ≠ segment rows \(rowCount)") }
            var nullRows = Bitset(count: rows)
            var nullList: [Int32] = []
            if let bitmap = try readRowSet(&r, rowCount: rows, into: &nullList) { nullRows = bitmap } else {
                for row in nullList { nullRows.set(Int(row)) }
            }
            let sections = try r.u8()
            guard sections == 1 || sections == 2 else { throw r.corrupt("filter index sections \(sections)") }
            let values = try readSection(&r, rowCount: rows)
            let elements = sections == 2 ? try readSection(&r, rowCount: rows) : nil
            guard r.remaining == 0 else { throw r.corrupt("trailing bytes in the filter index") }
            return FilterIndex(rowCount: rows, values: values, elements: elements, nullRows: nullRows)
        }
    }

    private static func readSection(_ r: inout BinaryReader, rowCount: Int) throws -> FilterIndex.Postings {
        let count = Int(try r.u32())
        // Every entry takes at least a value tag and a row set header (3 bytes).
        guard count <= r.remaining / 4 else { throw r.corrupt("filter index entry count \(count) exceeds the part") }
        var postings = FilterIndex.Postings()
        postings.entries.reserveCapacity(count)
        postings.counts.reserveCapacity(count)
        postings.starts.reserveCapacity(count + 1)
        for i in 0..<count {
            let entry = try WALCodec.readValue(&r, depth: 0)
            if let previous = postings.entries.last, AttributeValue.compare(previous, entry) > 0 {
                throw r.corrupt("filter index entries out of order")
            }
            postings.entries.append(entry)
            let before = postings.rows.count
            if let bitmap = try readRowSet(&r, rowCount: rowCount, into: &postings.rows) {
                postings.bitmaps[i] = bitmap
                postings.counts.append(Int32(bitmap.popcount))
            } else {
                postings.counts.append(Int32(postings.rows.count - before))
            }
            postings.starts.append(Int32(postings.rows.count))
        }
        return postings
    }

    /// A LEB128 count or length, at most 2^31 (a longer or unterminated one is corrupt).
    private static func varint(_ r: inout BinaryReader) throws -> Int {
        var value = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            let byte = try r.u8()
            value |= Int(byte & 0x7F) << shift
            if byte < 0x80 {
                guard value <= Int(Int32.max) else { break }
                return value
            }
        }
        throw r.corrupt("bad varint in a row set header")
    }

    /// Reads one row set: a list is appended to `list` (nil returned), a bitmap is returned.
    private static func readRowSet(_ r: inout BinaryReader, rowCount: Int, into list: inout [Int32]) throws -> Bitset? {
        let count = try varint(&r)
        guard count <= rowCount else { throw r.corrupt("row set of \(count) rows in a segment of \(rowCount)") }
        let form = try r.u8()
        switch form {
        case bitmapForm:
            let words = (rowCount + 63) / 64
            guard words <= r.remaining / 8 else { throw r.corrupt("row bitmap truncated") }
            var bitmap = Bitset(count: rowCount)
            for w in 0..<words {
                let word = try r.u64()
                var bits = word
                while bits != 0 {
                    let row = w * 64 + bits.trailingZeroBitCount
                    guard row < rowCount else { throw r.corrupt("row bitmap has a bit past the last row") }
                    bitmap.set(row)
                    bits &= bits - 1
                }
            }
            guard bitmap.popcount == count else { throw r.corrupt("row bitmap holds \(bitmap.popcount) rows, expected \(count)") }
            return bitmap
        case listForm:
            let length = try varint(&r)
            guard count <= length, length <= r.remaining else { throw r.corrupt("row list truncated") }
            let bytes = try r.rawBytes(length)
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                var previous = -1
                for _ in 0..<count {
                    guard let delta = VarInt.tryDecode(from: buffer, offset: &offset), delta >= 1, delta <= UInt64(rowCount) else {
                        throw r.corrupt("bad row delta")
                    }
                    let row = previous + Int(delta)
                    guard row < rowCount else { throw r.corrupt("row \(row) past the last row") }
                    list.append(Int32(row))
                    previous = row
                }
                guard offset == length else { throw r.corrupt("row list length mismatch") }
            }
            return nil
        default:
            throw r.corrupt("unknown row set form \(form)")
        }
    }
}
