public import Foundation
public import Log

/// One attribute column of a segment (part `column/{attribute}`), one value per row.
///
/// Columns whose values are all strings (or null) are dictionary-encoded: the distinct
/// strings sorted by bytes, and a u32 code per row (`nullCode` for null). Equality and
/// `In` filters then compare codes, and range and prefix filters map to a code range.
/// Any other column stores each row's value with the WAL value codec. A column that fewer
/// than a quarter of the rows have a value in stores only those rows and their values
/// (sparse), so an attribute one row has costs that row, not the whole segment.
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
        let allStrings = values.allSatisfy { value in
            switch value {
            case .string, .null: return true
            default: return false
            }
        }
        if allStrings {
            var distinct = Set<String>()
            for case .string(let s) in values { distinct.insert(s) }
            let sorted = distinct.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            var codeOf: [String: UInt32] = [:]
            for (i, s) in sorted.enumerated() { codeOf[s] = UInt32(i) }
            w.u8(dictionaryKind)
            w.u32(UInt32(values.count))
            w.u32(UInt32(sorted.count))
            for s in sorted { w.string(s) }
            for value in values {
                if case .string(let s) = value { w.u32(codeOf[s]!) } else { w.u32(nullCode) }
            }
        } else {
            w.u8(valuesKind)
            w.u32(UInt32(values.count))
            for value in values { WALCodec.writeValue(value, &w) }
        }
        return w.bytes
    }

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
