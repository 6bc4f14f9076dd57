import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the plan a query runs with, from a running server.",
        discussion: "The query file holds a query body, as sent to POST /v2/namespaces/{ns}/query."
    )

    @Argument(help: "Path of a JSON file holding the query body.") var queryFile: String
    @Option(name: .shortAndLong, help: "The namespace to plan against.") var namespace: String
    @Option(help: "Base URL of the server.") var url = "http://127.0.0.1:8080"
    @Option(help: "API key (defaults to $LAGOON_API_KEY, or any token on an open server).") var apiKey: String?
    @Flag(help: "Also run the query and print what each operator did.") var analyze = false
    @Flag(help: "Print the plan as JSON instead of text.") var json = false

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: queryFile),
              var body = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(queryFile) must hold a JSON object")
        }
        if analyze { body["analyze"] = true }
        guard let endpoint = URL(string: "\(url)/v2/namespaces/\(namespace)/explain_query") else {
            throw ValidationError("bad --url \(url)")
        }
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let key = apiKey ?? ProcessInfo.processInfo.environment["LAGOON_API_KEY"] ?? "lagoon-cli"
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (responseData, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard let object = try? JSONSerialization.jsonObject(with: responseData) as? [String: Any] else {
            throw ValidationError("server answered \(status) with a non-JSON body")
        }
        guard status == 200 else {
            throw ValidationError("server answered \(status): \(object["error"] ?? "")")
        }
        if json {
            let pretty = try JSONSerialization.data(withJSONObject: object["plan"] ?? [:], options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(object["plan_text"] as? String ?? "", terminator: "")
        }
    }
}
