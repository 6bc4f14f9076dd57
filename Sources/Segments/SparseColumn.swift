public import Log

/// One attribute of the WAL-tail projection: the rows that hold a non-null value, in row
/// order, and their values. Rows without a value take no space, so one row with 10,000
/// attributes does not make every later row pay for 10,000 null cells. Built on
/// `ChunkedColumn`, so a snapshot's copy stays O(1) while the owner appends.
public struct SparseColumn: Sendable {
    private var rows = ChunkedColumn<Int32>()
    private var values = ChunkedColumn<AttributeValue>()

    public init() {}

    /// Records `value` for `row`; rows arrive in increasing order; null is not stored.
    public mutating func append(row: Int, _ value: AttributeValue) {
        guard !value.isNull else { return }
        rows.append(Int32(row))
        values.append(value)
    }

    /// The value of a row (null when it has none): a binary search over the rows with values.
    public subscript(row: Int) -> AttributeValue {
        SortedRows.position(of: row, count: rows.count) { rows[$0] }.map { values[$0] } ?? .null
    }

    /// Rows holding a value.
    public var count: Int { rows.count }

    /// The values of rows `first...` alone, renumbered from 0 (the tail after a flush).
    public func droppingRows(below first: Int) -> SparseColumn {
        var kept = SparseColumn()
        let start = SortedRows.firstPosition(atOrAbove: first, count: rows.count) { rows[$0] }
        for i in start..<rows.count { kept.append(row: Int(rows[i]) - first, values[i]) }
        return kept
    }
}

/// Lookup in an ascending list of row ordinals (sparse columns keep one).
enum SortedRows {
    /// Where `row` stands in the list read through `rowAt`, or nil when it is not listed.
    @inline(__always)
    static func position(of row: Int, count: Int, _ rowAt: (Int) -> Int32) -> Int? {
        let lo = firstPosition(atOrAbove: row, count: count, rowAt)
        return lo < count && rowAt(lo) == Int32(row) ? lo : nil
    }

    /// The position of the first listed row at or above `row` (`count` when none is).
    @inline(__always)
    static func firstPosition(atOrAbove row: Int, count: Int, _ rowAt: (Int) -> Int32) -> Int {
        var lo = 0, hi = count
        let target = Int32(row)
        while lo < hi {
            let mid = (lo + hi) / 2
            if rowAt(mid) < target { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
