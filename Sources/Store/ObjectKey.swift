/// Validation of object keys, shared by every backend so they reject the same keys.
///
/// A key is a `/`-separated relative path: non-empty, no leading or trailing `/`,
/// no empty, `.` or `..` components, no NUL byte, and a first component other than
/// the reserved `.tmp` and `.locks` (which `FileSystemStore` uses for its own files).
enum ObjectKey {
    /// Top-level names a key may not start with.
    static let reservedTopLevel: Set<String> = [".tmp", ".locks"]

    /// Throws `StoreError(.io)` when the key is not valid.
    static func validate(_ key: String) throws {
        if let problem = problem(key) {
            throw StoreError(.io, key: key, "invalid key: \(problem)")
        }
    }

    /// Why the key is invalid, or nil when it is valid.
    static func problem(_ key: String) -> String? {
        if key.isEmpty { return "empty" }
        if key.utf8.contains(0) { return "contains a NUL byte" }
        let components = key.split(separator: "/", omittingEmptySubsequences: false)
        if let first = components.first, reservedTopLevel.contains(String(first)) {
            return "first component \(first) is reserved"
        }
        for component in components {
            if component.isEmpty { return "empty path component (leading, trailing or double /)" }
            if component == "." || component == ".." { return "'\(component)' path component" }
        }
        return nil
    }

    /// True when some valid key could lie under the directory part of `prefix`
    /// (everything before its last `/`). Backends use it to answer listings of
    /// impossible prefixes (`../x`, `a//b`, `.tmp/`) with an empty page.
    static func prefixCanMatch(_ prefix: String) -> Bool {
        guard let slash = prefix.lastIndex(of: "/") else {
            return !prefix.utf8.contains(0)
        }
        return problem(String(prefix[..<slash])) == nil && !prefix.utf8.contains(0)
    }

    /// Key order used by every listing: lexicographic over the UTF-8 bytes, as S3 does
    /// (Swift's `String <` compares by canonical equivalence, which is not the same).
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// True when `key` starts with `prefix`, byte-wise.
    static func hasPrefix(_ key: String, _ prefix: String) -> Bool {
        key.utf8.starts(with: prefix.utf8)
    }
}

extension ObjectKey {
    /// One page of a listing: from keys already filtered by prefix and sorted with
    /// `precedes`, the keys after `cursor` (exclusive), at most `limit` of them, and
    /// the cursor of the next page (the last key returned), nil when nothing follows.
    static func page(
        sortedKeys: [String], cursor: String?, limit: Int
    ) throws -> (keys: ArraySlice<String>, nextCursor: String?) {
        guard limit > 0 else {
            throw StoreError(.io, key: cursor ?? "", "list limit must be positive, got \(limit)")
        }
        var start = sortedKeys.startIndex
        if let cursor {
            // First key strictly after the cursor (binary search: keys are sorted).
            var low = sortedKeys.startIndex
            var high = sortedKeys.endIndex
            while low < high {
                let mid = (low + high) / 2
                if precedes(cursor, sortedKeys[mid]) { high = mid } else { low = mid + 1 }
            }
            start = low
        }
        let end = min(start + limit, sortedKeys.endIndex)
        let keys = sortedKeys[start..<end]
        return (keys, end < sortedKeys.endIndex ? keys.last : nil)
    }
}
