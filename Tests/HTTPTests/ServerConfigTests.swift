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
