import ArgumentParser

@main
struct Lagoon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lagoon",
        abstract: "Lagoon: object-storage-native vector, BM25 and hybrid search.",
        subcommands: [Serve.self, Worker.self, Explain.self, Bench.self, Keys.self]
    )
}
