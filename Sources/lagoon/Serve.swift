import ArgumentParser
import Exec
import Foundation
import HTTP
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server (turbopuffer v2 wire API plus Lagoon extensions).",
        discussion: """
        Configuration comes from lagoon.toml (or --config) and LAGOON_SECTION__KEY environment
        variables (env wins); the flags below win over both.
        """
    )

    @Option(help: "Path of a lagoon.toml config file.") var config: String?
    @Option(help: "Storage folder (storage.root). Default ./lagoon-data.") var root: String?
    @Option(help: "HOST:PORT to listen on (server.listen). Default 127.0.0.1:8080.") var listen: String?
    @Flag(help: "Load the sample namespace `wordnet-sample` from Fixtures/ when it does not exist.") var sample = false
    @Option(help: "The sample file to load with --sample.") var sampleFile = "Fixtures/sample/wordnet-sample.jsonl"

    func run() async throws {
        var (settings, logger) = try NodeSetup.configure(file: config)
        if let root { settings.storageRoot = root }
        if let listen {
            try settings.setListen(listen)
            settings.listenExplicit = true
        }
        let keys = try settings.keysFile.map { try APIKeys.load(path: $0) }
        if keys == nil {
            if !Self.isLoopback(settings.listenHost) {
                logger.warning("no auth.keys_file configured: binding to 127.0.0.1 instead of \(settings.listenHost)")
                settings.listenHost = "127.0.0.1"
            }
            logger.warning("no auth.keys_file configured: any bearer token is accepted (loopback only)")
        }
        let storage = try await NodeSetup.storage(settings)
        let engine = Engine(store: storage.store, options: storage.options)
        if sample {
            let loaded = try await SampleLoader.loadIfMissing(engine: engine, file: sampleFile)
            logger.info("\(loaded ? "loaded" : "found") sample namespace \(SampleLoader.namespace)")
        }
        let indexer = settings.embeddedIndexer ? NodeSetup.startIndexer(engine, logger: logger, nice: settings.indexerNice) : nil
        defer { indexer?.cancel() }
        if indexer == nil {
            logger.notice("server.embedded_indexer = false: run `lagoon worker` against this store, or writes stop with 429 once a namespace's unindexed tail passes indexer.max_unindexed_bytes")
        }
        let host = settings.listenHost
        let location = storage.location
        let showSample = sample
        let app = LagoonServer.application(
            engine: engine, keys: keys, host: host, port: settings.listenPort, limits: settings.limits,
            metrics: Metrics(store: storage.instrumented), logger: logger,
            onServerRunning: { port in
                var banner = "lagoon listening on http://\(host):\(port) (storage: \(location))\n"
                if showSample { banner += SampleLoader.tryThis(host: host, port: port) + "\n" }
                FileHandle.standardOutput.write(Data(banner.utf8))
            })
        try await app.runService()
    }

    /// Loopback literals only: a name like `127.example.com` is not loopback.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
