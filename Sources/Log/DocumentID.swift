public import Foundation

/// A document id: an unsigned integer, a UUID or a string of at most 64 bytes.
/// One namespace uses one kind of id.
public enum DocumentID: Sendable, Hashable, Comparable, CustomStringConvertible {
    case uint(UInt64)
    case uuid(UUID)
    case string(String)

    public enum Kind: String, Sendable, Codable, Equatable {
        case uint, uuid, string
    }

    public var kind: Kind {
        switch self {
        case .uint: return .uint
        case .uuid: return .uuid
        case .string: return .string
        }
    }

    public static let maxStringBytes = 64

    // Equality, hashing and order are by bytes: string ids by their UTF-8 bytes (two
    // canonically-equivalent spellings are two documents), UUIDs by their 16 bytes, which is
    // also the order of their hex text. Ids of different kinds order by kind name.

    public static func == (a: DocumentID, b: DocumentID) -> Bool {
        switch (a, b) {
        case (.uint(let x), .uint(let y)): return x == y
        case (.uuid(let x), .uuid(let y)): return x == y
        case (.string(let x), .string(let y)): return StringBytes.equal(x, y)
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .uint(let v): hasher.combine(0 as UInt8); hasher.combine(v)
        case .uuid(let u): hasher.combine(1 as UInt8); hasher.combine(u)
        case .string(let s): hasher.combine(2 as UInt8); StringBytes.hash(s, into: &hasher)
        }
    }

    public static func < (a: DocumentID, b: DocumentID) -> Bool {
        switch (a, b) {
        case (.uint(let x), .uint(let y)): return x < y
        case (.string(let x), .string(let y)): return StringBytes.compare(x, y) < 0
        case (.uuid(let x), .uuid(let y)):
            return withUnsafeBytes(of: x.uuid) { xb in withUnsafeBytes(of: y.uuid) { yb in xb.lexicographicallyPrecedes(yb) } }
        default: return a.kind.rawValue < b.kind.rawValue
        }
    }

    public var description: String {
        switch self {
        case .uint(let v): return String(v)
        case .uuid(let u): return u.uuidString.lowercased()
        case .string(let s): return s
        }
    }

    /// The id as an attribute value, so filters and ordering on `id` reuse attribute logic.
    public var attributeValue: AttributeValue {
        switch self {
        case .uint(let v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
        case .uuid(let u): return .string(u.uuidString.lowercased())
        case .string(let s): return .string(s)
        }
    }
}
