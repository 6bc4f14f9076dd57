public import Kernels
public import Log

/// The attribute index of one filterable attribute of a segment (part `filter/{attribute}`,
/// Specs/format/filter-index.md): the distinct values in the total order of
/// Specs/query/semantics.md §2, each with the rows holding it, and the rows holding null.
///
/// Two sections: **values** (each row under its whole value: `Eq`, `In`, ranges, tokens) and
/// **elements** (each row under every element of its array, or under its scalar value:
/// `Contains*`, `Glob*`). Without array values the two are the same list, stored once.
///
/// The index answers "which rows hold an entry in these positions"; which positions a
/// condition needs is the caller's (Exec) business. Its lookups only narrow the candidate
/// entries by binary search, and the caller still checks each candidate entry with the exact
/// value test, so a lookup can never change a filter's answer, only its cost.
public struct FilterIndex: Sendable {
    public enum Section: Sendable { case values, elements }

    /// One section: sorted distinct entries and their row sets.
    struct Postings: Sendable {
        var entries: [AttributeValue] = []
        /// Rows of entry i stored as a list: `rows[starts[i]..<starts[i + 1]]` (ascending).
        var starts: [Int32] = [0]
        var rows: [Int32] = []
        /// Entries whose rows are stored as a bitmap (dense entries); their list range is empty.
        var bitmaps: [Int: Bitset] = [:]
        /// Rows per entry.
        var counts: [Int32] = []
    }

    public let rowCount: Int
    let values: Postings
    /// nil: no row holds an array, so elements are the values.
    let elementPostings: Postings?
    /// Rows whose value is null (or absent).
    public let nullRows: Bitset

    init(rowCount: Int, values: Postings, elements: Postings?, nullRows: Bitset) {
        self.rowCount = rowCount
        self.values = values
        elementPostings = elements
        self.nullRows = nullRows
    }

    private func postings(_ section: Section) -> Postings {
        section == .elements ? (elementPostings ?? values) : values
    }

    /// The sorted distinct entries of a section.
    public func entries(_ section: Section) -> [AttributeValue] { postings(section).entries }

    /// Rows holding entry `i` of a section.
    public func rowCount(_ section: Section, entry i: Int) -> Int { Int(postings(section).counts[i]) }

    /// Bytes held in memory (for the segment's cache accounting).
    public var memoryBytes: Int {
        func size(_ p: Postings) -> Int {
            p.rows.count * 4 + p.starts.count * 4 + p.counts.count * 4 + p.entries.count * 24
                + p.bitmaps.values.reduce(0) { $0 + $1.words.count * 8 }
        }
        return size(values) + (elementPostings.map(size) ?? 0) + nullRows.words.count * 8
    }

    // MARK: Candidate positions (binary searches over the sorted entries)

    /// Positions of the entries `AttributeValue.compare` calls equal to `value` (`1` and `1.0`
    /// are neighbours there; `filterEquals` then decides).
    public func equalRange(_ section: Section, _ value: AttributeValue) -> Range<Int> {
        let entries = postings(section).entries
        let lower = Self.partition(entries) { AttributeValue.compare($0, value) < 0 }
        let upper = Self.partition(entries) { AttributeValue.compare($0, value) <= 0 }
        return lower..<upper
    }

    /// Positions of the entries of `value`'s kind (§2: bool, numbers, strings, arrays) that
    /// compare below (`below: true`) or above it, with `inclusive` taking the equal ones.
    public func orderedRange(_ section: Section, _ value: AttributeValue, below: Bool, inclusive: Bool) -> Range<Int> {
        let entries = postings(section).entries
        let rank = Self.rank(value)
        let kindStart = Self.partition(entries) { Self.rank($0) < rank }
        let kindEnd = Self.partition(entries) { Self.rank($0) <= rank }
        let equalStart = Self.partition(entries) { AttributeValue.compare($0, value) < 0 }
        let equalEnd = Self.partition(entries) { AttributeValue.compare($0, value) <= 0 }
        if below { return kindStart..<max(kindStart, min(kindEnd, inclusive ? equalEnd : equalStart)) }
        let start = max(kindStart, min(kindEnd, inclusive ? equalStart : equalEnd))
        return start..<kindEnd
    }

    /// Positions of the strings that start with `prefix` (bytes): a contiguous run, since
    /// strings sort by bytes.
    public func prefixRange(_ section: Section, _ prefix: String) -> Range<Int> {
        let entries = postings(section).entries
        let lower = Self.partition(entries) { AttributeValue.compare($0, .string(prefix)) < 0 }
        let prefixBytes = Array(prefix.utf8)
        // The run ends at the first entry from `lower` on that is not a string with the prefix.
        let upper = Self.partition(entries[lower...]) { entry in
            guard case .string(let s) = entry else { return false }
            return s.utf8.starts(with: prefixBytes)
        }
        return lower..<lower + upper
    }

    /// Positions of the whole section.
    public func allEntries(_ section: Section) -> Range<Int> { 0..<postings(section).entries.count }

    // MARK: Rows

    /// The rows of the entries in `positions` that pass `test` (the exact condition), plus
    /// the null rows when `includeNulls`. Returns the bitmap and how many entries passed.
    public func rows(_ section: Section, positions: [Range<Int>], includeNulls: Bool,
                     where test: (AttributeValue) -> Bool) -> (rows: Bitset, entries: Int) {
        let p = postings(section)
        var result = includeNulls ? nullRows : Bitset(count: rowCount)
        var passed = 0
        for range in Self.disjoint(positions) {
            for i in range where test(p.entries[i]) {
                passed += 1
                if let bitmap = p.bitmaps[i] {
                    result.formUnion(bitmap)
                } else {
                    for j in Int(p.starts[i])..<Int(p.starts[i + 1]) { result.set(Int(p.rows[j])) }
                }
            }
        }
        return (result, passed)
    }

    // MARK: Order helpers

    /// The ranges sorted and merged, so no entry is visited twice (`In [1, 1.0]`).
    static func disjoint(_ ranges: [Range<Int>]) -> [Range<Int>] {
        guard ranges.count > 1 else { return ranges }
        var merged: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !range.isEmpty {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// The first position where `isBelow` turns false (entries are sorted, so it is monotone).
    /// Counted from the collection's start (a slice counts from its first position).
    static func partition<C: RandomAccessCollection>(_ entries: C, _ isBelow: (AttributeValue) -> Bool) -> Int
        where C.Element == AttributeValue, C.Index == Int {
        var lo = entries.startIndex, hi = entries.endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if isBelow(entries[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo - entries.startIndex
    }

    /// The kind rank of §2's total order: null < bool < numbers < strings < arrays.
    static func rank(_ value: AttributeValue) -> Int {
        switch value {
        case .null: return 0
        case .bool: return 1
        case .int, .uint, .float: return 2
        case .string: return 3
        case .array: return 4
        }
    }
}
