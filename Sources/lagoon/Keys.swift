import ArgumentParser
import HTTP

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys.",
        subcommands: [Hash.self]
    )

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the keys-file entry for a key (only its SHA-256 is stored).")

        @Argument(help: "The secret key.") var key: String
        @Option(help: "The key's id in the keys file.") var id = "default"
        @Option(help: "admin, writer or reader.") var role = "admin"

        func run() {
            print("[keys.\(id)]\nsha256 = \"\(APIKeys.hash(key))\"\nrole = \"\(role)\"")
        }
    }
}
