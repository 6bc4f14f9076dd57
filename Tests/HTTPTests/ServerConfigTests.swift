import HTTP
import Testing
import Foundation

@Suite struct ServerConfigTests {
    @Test func fileThenEnvironmentWithEnvWinning() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lagoon-\(UUID().uuidString).toml").path
        try """
        # comment
        [server]
        listen = "0.0.0.0:9000"   # trailing comment
        embedded_indexer = true
        [storage]
        backend = "fs"
        root = "/data/lagoon"
        [manifest]
        poll_interval_ms = 250
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ServerConfig.load(file: path, environment: ["LAGOON_STORAGE__ROOT": "/env/root", "LAGOON_AUTH__KEYS_FILE": "/k.toml"])
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9000)
        #expect(config.embeddedIndexer)
        #expect(config.storageRoot == "/env/root")
        #expect(config.keysFile == "/k.toml")
        #expect(config.pollIntervalMillis == 250)
    }

    @Test func invalidValuesAreRejected() {
        #expect(throws: ServerConfig.Invalid.self) { try ServerConfig.load(file: nil, environment: ["LAGOON_SERVER__LISTEN": "nowhere"]) }
        #expect(throws: ServerConfig.Invalid.self) { try ServerConfig.load(file: nil, environment: ["LAGOON_STORAGE__BACKEND": "ftp"]) }
        #expect(throws: ServerConfig.Invalid.self) { try ServerConfig.load(file: nil, environment: ["LAGOON_SERVER__EMBEDDED_INDEXER": "maybe"]) }
    }

    @Test func keysHashIsSHA256() {
        // SHA-256("abc") from FIPS 180-4, appendix B.1.
        #expect(APIKeys.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKeys.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

@Suite struct KeysFileTests {
    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func loadsEntriesAndAuthenticatesOnlyTheirKeys() throws {
        let path = try Self.write("""
        [keys.ci-writer]
        sha256 = "\(APIKeys.hash("alpha"))"
        role = "writer"
        [keys.ops]
        sha256 = "\(APIKeys.hash("beta"))"
        role = "admin"
        """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keys = try APIKeys.load(path: path)
        #expect(keys.entries.map(\.id) == ["ci-writer", "ops"])
        #expect(keys.authenticate("alpha")?.role == "writer")
        #expect(keys.authenticate("beta")?.id == "ops")
        #expect(keys.authenticate("gamma") == nil)
    }

    @Test(arguments: [
        "[keys.a]\nsha256 = \"abc\"\nrole = \"admin\"",                                   // short hash
        "[keys.a]\nsha256 = \"\(String(repeating: "z", count: 64))\"\nrole = \"admin\"",  // not hex
        "[keys.a]\nsha256 = \"\(String(repeating: "a", count: 64))\"\nrole = \"root\"",   // unknown role
        "[keys.a.b]\nsha256 = \"\(String(repeating: "a", count: 64))\"",                  // dotted id
        "[other]\nx = 1",                                                               // not a key entry
        "[keys.a]\nsha256 = \"\(String(repeating: "a", count: 64))\"\nrole = \"admin\"\nrole = \"reader\"",  // key twice
        "[keys.a]\nsha256 = \"\(String(repeating: "a", count: 64))\"\n[keys.a]\nrole = \"reader\"",  // table twice
        "[keys.a]\nsha256 = \"\(String(repeating: "a", count: 64))\"\n[keys.b]\nsha256 = \"\(String(repeating: "A", count: 64))\"",  // same key twice
        "[keys.a]\nsha256 = \"\(String(repeating: "a", count: 64))\"\nrole = \"ad\\min\"",  // unknown escape
    ])
    func malformedFilesAreRejected(_ text: String) throws {
        let path = try Self.write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ServerConfig.Invalid.self) { try APIKeys.load(path: path) }
    }

    @Test func generatedKeysAreRandomHexAndAuthenticate() throws {
        let first = APIKeys.generateKey(), second = APIKeys.generateKey()
        #expect(first != second)
        #expect(first.hasPrefix("lagoon_"))
        let hex = first.dropFirst("lagoon_".count)
        #expect(hex.count == 2 * APIKeys.generatedKeyBytes)
        #expect(hex.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let path = try Self.write(APIKeys.entryText(id: "new-key", key: first, role: "writer"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keys = try APIKeys.load(path: path)
        #expect(keys.authenticate(first)?.role == "writer")
        #expect(keys.authenticate(second) == nil)
    }

    @Test func escapedValuesAreDecodedBeforeUse() throws {
        // \u0061 is "a": the role decodes to "admin".
        let path = try Self.write("[keys.a] # comment\nsha256 = \"\(APIKeys.hash("k"))\" # \"quoted\" comment\nrole = \"\\u0061dmin\"")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try APIKeys.load(path: path).entries.first?.role == "admin")
    }

    @Test func unknownSettingsAreReportedNotApplied() throws {
        let config = try ServerConfig.load(file: nil, environment: ["LAGOON_SERVER__LISEN": "0.0.0.0:1", "LAGOON_STORAGE__ROOT": "/x"])
        #expect(config.unknownKeys == ["server.lisen"])
        #expect(config.listenPort == 8080)
        #expect(throws: ServerConfig.Invalid.self) { try ServerConfig.load(file: nil, environment: ["LAGOON_MANIFEST__POLL_INTERVAL_MS": "-5"]) }
    }
}
