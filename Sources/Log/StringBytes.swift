#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-wise equality, hashing and order of strings (their UTF-8 bytes).
///
/// Swift's `String` compares by canonical equivalence ("é" == "e\u{301}"); Lagoon never
/// does: ids and string values are distinct whenever their bytes differ, and order is the
/// unsigned lexicographic order of the bytes (Specs/query/semantics.md §1).
public enum StringBytes {
    public static func equal(_ a: String, _ b: String) -> Bool {
        let (ua, ub) = (a.utf8, b.utf8)
        guard ua.count == ub.count else { return false }
        return withBytes(a) { x in withBytes(b) { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    /// Negative, zero or positive as `a` sorts before, equal to or after `b`.
    public static func compare(_ a: String, _ b: String) -> Int {
        withBytes(a) { x in
            withBytes(b) { y in
                let common = min(x.count, y.count)
                if common > 0 {
                    let c = memcmp(x.baseAddress!, y.baseAddress!, common)
                    if c != 0 { return c < 0 ? -1 : 1 }
                }
                return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
            }
        }
    }

    public static func hash(_ s: String, into hasher: inout Hasher) {
        withBytes(s) { hasher.combine(bytes: $0) }
        hasher.combine(s.utf8.count)  // separates "a"+"b" from "ab" inside composite keys
    }

    /// Calls `body` with the string's UTF-8 bytes, without copying native strings.
    public static func withBytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
        var copy = s
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

/// A string key that hashes and compares by bytes, for dictionaries and sets whose keys
/// must not merge canonically-equivalent spellings.
public struct ByteString: Hashable, Comparable, Sendable {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ByteString, b: ByteString) -> Bool { StringBytes.equal(a.string, b.string) }
    public static func < (a: ByteString, b: ByteString) -> Bool { StringBytes.compare(a.string, b.string) < 0 }
    public func hash(into hasher: inout Hasher) { StringBytes.hash(string, into: &hasher) }
}
