import ArgumentParser
import Exec
import Foundation
import HTTP

/// `lagoon worker`: an indexing node (ARCHITECTURE.md §3, §6). It serves no requests; it
/// folds the WAL tails of every namespace in the store's catalog into segments and compacts
/// them, with the `[storage]`, `[cache]` and `[indexer]` settings `serve` reads. Any number
/// of workers (and embedded indexers) may run on one store: publishing goes through the
/// same create-only manifest commit as writes, so a lost race rebases or gives up.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an indexing worker over the configured store (no HTTP server).",
        discussion: """
        Configuration comes from lagoon.toml (or --config) and LAGOON_SECTION__KEY environment
        variables, like `serve`; run `serve` with server.embedded_indexer = false when workers index.
        """
    )

    @Option(help: "Path of a lagoon.toml config file.") var config: String?
    @Option(help: "Storage folder (storage.root). Default ./lagoon-data.") var root: String?
    @Option(help: "Seconds between listings of the catalog (new namespaces are found within this).") var discoverSecs = 5

    func validate() throws {
        guard discoverSecs >= 1 else { throw ValidationError("--discover-secs must be at least 1") }
    }

    func run() async throws {
        var (settings, logger) = try NodeSetup.configure(file: config)
        if let root { settings.storageRoot = root }
        let storage = try await NodeSetup.storage(settings)
        let engine = Engine(store: storage.store, options: storage.options)
        FileHandle.standardOutput.write(Data("lagoon worker indexing \(storage.location)\n".utf8))
        let indexer = NodeSetup.startIndexer(engine, logger: logger, nice: settings.indexerNice, discoverEvery: .seconds(discoverSecs))
        // Runs until the process is stopped; SIGTERM/SIGINT end it (nothing is half-published:
        // a segment without its manifest commit is an orphan for garbage collection).
        await indexer.value
    }
}
