/// Where a namespace's objects live in the store (Specs/format/layout.md).
///
///     {prefix}ns/{namespace}/manifest/{version, 20 digits}
///     {prefix}ns/{namespace}/manifest/CURRENT
///     {prefix}ns/{namespace}/wal/{seq, 20 digits}-{writer token}
///     {prefix}catalog/{namespace}          marker listing the namespace
///     {prefix}refs/{owner}/{branch}        marker: branch references owner's WAL objects
public struct NamespaceLayout: Sendable {
    public var prefix: String
    public var namespace: String

    public init(prefix: String = "", namespace: String) {
        self.prefix = prefix
        self.namespace = namespace
    }

    public var root: String { "\(prefix)ns/\(namespace)/" }
    public var manifestPrefix: String { root + "manifest/" }
    public var currentKey: String { manifestPrefix + "CURRENT" }
    public var catalogKey: String { "\(prefix)catalog/\(namespace)" }
    public static func catalogPrefix(_ prefix: String) -> String { "\(prefix)catalog/" }

    public var walPrefix: String { root + "wal/" }
    public var branchReferencePrefix: String { "\(prefix)refs/\(namespace)/" }
    public func branchReferenceKey(_ branch: String) -> String { branchReferencePrefix + branch }

    public func manifestKey(_ version: UInt64) -> String { manifestPrefix + Self.padded(version) }

    public func walKey(seq: UInt64, token: String) -> String { root + "wal/\(Self.padded(seq))-\(token)" }

    public static func padded(_ n: UInt64) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// Namespace names: `[A-Za-z0-9-_.]{1,128}`, and not `.` or `..` (they are path segments).
    public static func isValidName(_ name: String) -> Bool {
        guard (1...128).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
        }
    }
}
