public import Foundation
public import Log

/// One attribute column of a segment (part `column/{attribute}`), one value per row.
///
/// Columns whose values are all strings (or null), with at most half of the rows holding
/// distinct strings, are dictionary-encoded: the distinct strings sorted by bytes, and a u32
/// code per row (`nullCode` for null); filters then test each distinct string once. Any
/// other column (mostly distinct strings included) stores each row's value with the WAL
/// value codec. A column that fewer than a quarter of the rows have a value in stores only
/// those rows and their values (sparse), so an attribute one row has costs that row, not the
/// whole segment.
public enum SegmentColumn: Sendable {
    public static let nullCode = UInt32.max

    case dictionary(values: [String], codes: [UInt32])
    case values([AttributeValue])
    /// Rows with a value (ascending) and their values; every other row is null.
    case sparse(rows: [Int32], values: [AttributeValue])

    public subscript(row: Int) -> AttributeValue {
        switch self {
        case .dictionary(let values, let codes):
            let code = codes[row]
            return code == Self.nullCode ? .null : .string(values[Int(code)])
        case .values(let values):
            return values[row]
        case .sparse(let rows, let values):
            return SortedRows.position(of: row, count: rows.count) { rows[$0] }.map { values[$0] } ?? .null
        }
    }

    static let dictionaryKind: UInt8 = 1
    static let valuesKind: UInt8 = 2
    static let sparseKind: UInt8 = 3

    /// Encodes `values` (one per row).
    public static func encode(_ values: [AttributeValue]) -> [UInt8] {
        var w = BinaryWriter()
        let present = values.indices.filter { !values[$0].isNull }
        if present.count * 4 < values.count {
            w.u8(sparseKind)
            w.u32(UInt32(values.count))
            w.u32(UInt32(present.count))
            for row in present { w.u32(UInt32(row)) }
            for row in present { WALCodec.writeValue(values[row], &w) }
            return w.bytes
        }
        if let dictionary = StringDictionary(strings: values) {
            w.u8(dictionaryKind)
            w.u32(UInt32(values.count))
            w.u32(UInt32(dictionary.sorted.count))
            for s in dictionary.sorted { w.string(s) }
            for code in dictionary.codes { w.u32(code) }
        } else {
            w.u8(valuesKind)
            w.u32(UInt32(values.count))
            for value in values { WALCodec.writeValue(value, &w) }
        }
        return w.bytes
    }

    /// The dictionary encoding of a column: its distinct strings sorted by bytes and a code
    /// per row. Strings are distinct when their bytes differ (`ByteString`), never merged by
    /// canonical equivalence (Specs/query/semantics.md §1).
    struct StringDictionary {
        var sorted: [String]
        var codes: [UInt32]

        /// Nil unless every value is a string or null and at most `maximumDistinctShare` of
        /// the rows hold distinct strings: a column of mostly distinct strings (a text
        /// attribute) gains nothing from a dictionary and pays for sorting and hashing it, so
        /// it is stored as values. One hash per row: codes are given in first-seen order, then
        /// renumbered in byte order.
        init?(strings values: [AttributeValue]) {
            let limit = Int(Double(values.count) * SegmentColumn.maximumDistinctShare)
            var codeOf: [ByteString: UInt32] = [:]
            var distinct: [String] = []
            var firstSeen = [UInt32](repeating: SegmentColumn.nullCode, count: values.count)
            for (row, value) in values.enumerated() {
                switch value {
                case .null: continue
                case .string(let s):
                    let key = ByteString(s)
                    if let code = codeOf[key] {
                        firstSeen[row] = code
                    } else {
                        guard distinct.count < limit else { return nil }
                        firstSeen[row] = UInt32(distinct.count)
                        codeOf[key] = UInt32(distinct.count)
                        distinct.append(s)
                    }
                default: return nil
                }
            }
            let order = distinct.indices.sorted { StringBytes.compare(distinct[$0], distinct[$1]) < 0 }
            var rank = [UInt32](repeating: 0, count: distinct.count)
            for (position, code) in order.enumerated() { rank[code] = UInt32(position) }
            sorted = order.map { distinct[$0] }
            codes = firstSeen.map { $0 == SegmentColumn.nullCode ? $0 : rank[Int($0)] }
        }
    }

    /// The largest share of a segment's rows that may hold distinct strings in a
    /// dictionary-encoded column; above it the column stores values (both decode alike).
    static let maximumDistinctShare = 0.5

    public static func decode(_ data: Data, rowCount: Int, object: String) throws -> SegmentColumn {
        try data.withUnsafeBytes { raw in
            var r = BinaryReader(raw, object: object)
            let kind = try r.u8()
            let rows = Int(try r.u32())
            guard rows == rowCount else { throw r.corrupt("column rows \(rows) ≠ segment rows \(rowCount)") }
            switch kind {
            case dictionaryKind:
                let count = Int(try r.u32())
                guard count <= r.remaining / 4 else { throw r.corrupt("dictionary size \(count) exceeds the part") }
                var values: [String] = []
                values.reserveCapacity(count)
                for _ in 0..<count { values.append(try r.string()) }
                guard rows <= r.remaining / 4 else { throw r.corrupt("codes truncated") }
                var codes = [UInt32](repeating: 0, count: rows)
                for i in 0..<rows {
                    let code = try r.u32()
                    guard code == nullCode || Int(code) < count else { throw r.corrupt("code \(code) outside the dictionary") }
                    codes[i] = code
                }
                guard r.remaining == 0 else { throw r.corrupt("trailing bytes") }
                return .dictionary(values: values, codes: codes)
            case valuesKind:
                guard rows <= r.remaining else { throw r.corrupt("values truncated") }
                var values: [AttributeValue] = []
                values.reserveCapacity(rows)
                for _ in 0..<rows { values.append(try WALCodec.readValue(&r, depth: 0)) }
                guard r.remaining == 0 else { throw r.corrupt("trailing bytes") }
                return .values(values)
            case sparseKind:
                let count = Int(try r.u32())
                guard count <= rows, count <= r.remaining / 4 else { throw r.corrupt("sparse count \(count) exceeds the part") }
                let present = try r.ascendingRows(count, below: rows, "sparse")
                var values: [AttributeValue] = []
                values.reserveCapacity(count)
                for _ in 0..<count { values.append(try WALCodec.readValue(&r, depth: 0)) }
                guard r.remaining == 0 else { throw r.corrupt("trailing bytes") }
                return .sparse(rows: present, values: values)
            default:
                throw FormatError(.tooNew, object: object, "unknown column kind \(kind)")
            }
        }
    }
}
