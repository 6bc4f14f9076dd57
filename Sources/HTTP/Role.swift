/// What an API key may do (Specs/protocol/roles.md). Roles are ordered: each one may do
/// everything the roles below it may.
public enum Role: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case reader, writer, admin

    public init?(name: String) {
        switch name {
        case "reader": self = .reader
        case "writer": self = .writer
        case "admin": self = .admin
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .reader: "reader"
        case .writer: "writer"
        case .admin: "admin"
        }
    }

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}
