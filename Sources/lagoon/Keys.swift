import ArgumentParser
import Foundation
import HTTP

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys.",
        subcommands: [New.self, Hash.self]
    )

    /// The options both subcommands share.
    struct Entry: ParsableArguments {
        @Option(help: "The key's id in the keys file (letters, digits, - and _).") var id = "default"
        @Option(help: "admin, writer or reader (Specs/protocol/roles.md).") var role = "admin"

        func validate() throws {
            guard APIKeys.roles.contains(role) else { throw ValidationError("--role must be one of \(APIKeys.roles.sorted().joined(separator: ", "))") }
            guard APIKeys.isValidID(id) else { throw ValidationError("--id may use letters, digits, - and _ only") }
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a random key (shown once) and print its keys-file entry.")
        @OptionGroup var entry: Entry

        func run() {
            let key = APIKeys.generateKey()
            print("# The new key (shown only now: store it in your secret manager, it cannot be recovered):")
            print(key)
            print("")
            print("# Add this entry to the keys file (auth.keys_file):")
            print(APIKeys.entryText(id: entry.id, key: key, role: entry.role))
        }
    }

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the keys-file entry for an existing key (only its SHA-256 is stored).")
        @Argument(help: "The secret key. Omit it to read the key from standard input (keeps it out of shell history and ps).")
        var key: String?
        @OptionGroup var entry: Entry

        func run() throws {
            guard let secret = key ?? readLine(strippingNewline: true), !secret.isEmpty else {
                throw ValidationError("no key given on the command line or standard input")
            }
            if secret.count < APIKeys.minimumRecommendedKeyLength {
                FileHandle.standardError.write(Data("""
                    warning: this key has only \(secret.count) characters and can be guessed; \
                    use `lagoon keys new` or at least \(APIKeys.minimumRecommendedKeyLength) random characters\n
                    """.utf8))
            }
            print(APIKeys.entryText(id: entry.id, key: secret, role: entry.role))
        }
    }
}
