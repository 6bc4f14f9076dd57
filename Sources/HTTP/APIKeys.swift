import Foundation

/// The API keys a server accepts, loaded from `auth.keys_file` (Specs/format/keys-file.md):
///
///     [keys.ci-writer]
///     sha256 = "<hex SHA-256 of the key>"
///     role = "writer"            # admin | writer | reader (Specs/protocol/roles.md)
///
/// Only hashes are stored; a presented bearer token is hashed and compared in constant time.
public struct APIKeys: Sendable {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var sha256: String
        public var role: String

        public init(id: String, sha256: String, role: String) {
            self.id = id
            self.sha256 = sha256
            self.role = role
        }
    }

    public let entries: [Entry]

    /// The roles a key can have (enforced per route: RouteTable).
    public static let roles: Set<String> = Set(Role.allCases.map(\.description))

    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95
        }
    }

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public static func load(path: String) throws -> APIKeys {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ServerConfig.Invalid(description: "cannot read keys file \(path)")
        }
        let values: [String: TOMLSubset.Value]
        do { values = try TOMLSubset.parse(text) } catch { throw ServerConfig.Invalid(description: "keys file \(path): \(error)") }
        var byID: [String: Entry] = [:]
        for (key, value) in values {
            let parts = key.split(separator: ".")
            guard parts.count == 3, parts[0] == "keys", isValidID(String(parts[1])) else {
                throw ServerConfig.Invalid(description: "keys file \(path): unexpected entry \(key); use [keys.<id>] with sha256 and role")
            }
            let id = String(parts[1])
            guard case .string = value else {
                throw ServerConfig.Invalid(description: "keys file \(path): \(key) must be a \"quoted string\"")
            }
            var entry = byID[id] ?? Entry(id: id, sha256: "", role: "reader")
            switch parts[2] {
            case "sha256": entry.sha256 = value.text.lowercased()
            case "role": entry.role = value.text
            default: throw ServerConfig.Invalid(description: "keys file \(path): unknown field \(key)")
            }
            byID[id] = entry
        }
        let entries = byID.values.sorted { $0.id < $1.id }
        for entry in entries where entry.sha256.count != 64 || !entry.sha256.allSatisfy(\.isHexDigit) {
            throw ServerConfig.Invalid(description: "keys file \(path): key \(entry.id) needs a 64-hex-digit sha256")
        }
        for entry in entries where !roles.contains(entry.role) {
            throw ServerConfig.Invalid(description: "keys file \(path): key \(entry.id) has role \(entry.role); use admin, writer or reader")
        }
        var idsByHash: [String: String] = [:]
        for entry in entries {
            if let other = idsByHash.updateValue(entry.id, forKey: entry.sha256) {
                throw ServerConfig.Invalid(description: "keys file \(path): keys \(other) and \(entry.id) have the same sha256 (one key cannot have two roles)")
            }
        }
        guard !entries.isEmpty else { throw ServerConfig.Invalid(description: "keys file \(path) defines no [keys.<id>] entries") }
        return APIKeys(entries: entries)
    }

    /// The hash line to put in a keys file for a new key.
    public static func hash(_ key: String) -> String { SHA256.hex(key) }

    /// Bytes of randomness in a key made by `lagoon keys new`.
    public static let generatedKeyBytes = 32
    /// Secrets shorter than this get a warning from `lagoon keys hash`.
    public static let minimumRecommendedKeyLength = 32

    /// A new random key: `lagoon_` and 64 hex digits (32 bytes from the system's CSPRNG).
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return generateKey(using: &generator)
    }

    public static func generateKey(using generator: inout some RandomNumberGenerator) -> String {
        let bytes = (0..<generatedKeyBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "lagoon_" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The keys-file entry for a key.
    public static func entryText(id: String, key: String, role: String) -> String {
        "[keys.\(id)]\nsha256 = \"\(hash(key))\"\nrole = \"\(role)\""
    }

    /// The entry whose hash matches the token, compared in constant time per entry.
    public func authenticate(_ token: String) -> Entry? {
        let presented = Array(SHA256.hex(token).utf8)
        var found: Entry?
        for entry in entries {
            let stored = Array(entry.sha256.utf8)
            var difference: UInt8 = stored.count == presented.count ? 0 : 1
            for i in 0..<min(stored.count, presented.count) { difference |= stored[i] ^ presented[i] }
            if difference == 0 { found = entry }
        }
        return found
    }
}
