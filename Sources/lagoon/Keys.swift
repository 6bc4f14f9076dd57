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

        @Argument(help: "The secret key. Omit it to read the key from standard input (keeps it out of shell history and ps).")
        var key: String?
        @Option(help: "The key's id in the keys file (letters, digits, - and _).") var id = "default"
        @Option(help: "admin, writer or reader.") var role = "admin"

        func validate() throws {
            guard APIKeys.roles.contains(role) else { throw ValidationError("--role must be one of \(APIKeys.roles.sorted().joined(separator: ", "))") }
            guard APIKeys.isValidID(id) else { throw ValidationError("--id may use letters, digits, - and _ only") }
        }

        func run() throws {
            guard let secret = key ?? readLine(strippingNewline: true), !secret.isEmpty else {
                throw ValidationError("no key given on the command line or standard input")
            }
            print("[keys.\(id)]\nsha256 = \"\(APIKeys.hash(secret))\"\nrole = \"\(role)\"")
        }
    }
}
