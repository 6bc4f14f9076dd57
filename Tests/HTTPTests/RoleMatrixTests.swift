import Exec
import Foundation
import HTTP
import Hummingbird
import HummingbirdTesting
import NIOCore
import Store
import Testing

/// Every cell of the role matrix (RouteTable, Specs/protocol/roles.md): each route × no key,
/// an unknown key, and each role → 401, 403 or admitted.
@Suite struct RoleMatrixTests {
    static let secrets: [Role: String] = [.reader: "reader-secret", .writer: "writer-secret", .admin: "admin-secret"]
    static let keys = APIKeys(entries: Role.allCases.map { .init(id: "\($0)", sha256: APIKeys.hash(secrets[$0]!), role: "\($0)") })

    static func application(keys: APIKeys? = RoleMatrixTests.keys) -> some ApplicationProtocol {
        Application(router: LagoonServer.router(engine: Engine(store: MemoryStore()), keys: keys, maxBodyBytes: 1 << 20))
    }

    static func headers(_ role: Role?) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let role { fields[.authorization] = "Bearer \(secrets[role]!)" }
        return fields
    }

    /// A concrete request for a table row (namespace `ns`, which holds one document).
    static func uri(_ entry: RouteTable.Entry) -> String {
        entry.path.replacingOccurrences(of: ":namespace", with: "ns")
    }

    static func body(_ entry: RouteTable.Entry) -> ByteBuffer? {
        guard entry.method == .post else { return nil }
        if entry.path.hasSuffix("/schema") { return ByteBuffer(string: #"{"color": {"type": "string"}}"#) }
        if entry.path.hasSuffix("/_debug/recall") { return ByteBuffer(string: #"{"num": 1, "top_k": 1}"#) }
        if entry.path.hasSuffix("/query") || entry.path.hasSuffix("/explain_query") { return ByteBuffer(string: #"{"top_k": 1}"#) }
        return ByteBuffer(string: #"{"upsert_rows": [{"id": 2, "vector": [0, 1]}]}"#)
    }

    static func seed(_ client: some TestClientProtocol) async throws {
        let response = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: headers(.admin),
                                                body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1, "vector": [1, 0], "color": "red"}]}"#))
        #expect(response.status == .ok)
    }

    @Test(arguments: RouteTable.entries.indices)
    func everyCell(_ index: Int) async throws {
        let entry = RouteTable.entries[index]
        for caller in [Role?.none] + Role.allCases.map(Optional.some) {
            try await Self.application().test(.router) { client in
                try await Self.seed(client)
                let response = try await client.execute(uri: Self.uri(entry), method: entry.method, headers: Self.headers(caller), body: Self.body(entry))
                let cell = "\(entry.method) \(entry.path) as \(caller.map { "\($0)" } ?? "no key")"
                switch (entry.access, caller) {
                case (.open, _):
                    #expect(response.status == .ok, "\(cell): \(String(buffer: response.body))")
                case (.role, nil):
                    #expect(response.status == .unauthorized, "\(cell)")
                case (.role(let needed), let role?) where role < needed:
                    #expect(response.status == .forbidden, "\(cell)")
                    let text = String(buffer: response.body)
                    #expect(text.contains("needs a key with role \(needed)"), "\(cell): \(text)")
                case (.role, _):
                    // Admitted: the route's own answer (202 for the cache hint, 200 otherwise).
                    #expect(response.status == .ok || response.status == .accepted, "\(cell): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test func unknownKeyIs401EverywhereButOpenRoutes() async throws {
        try await Self.application().test(.router) { client in
            for entry in RouteTable.entries {
                let response = try await client.execute(uri: Self.uri(entry), method: entry.method,
                                                        headers: [.authorization: "Bearer not-a-key"], body: Self.body(entry))
                #expect(response.status == (entry.access == .open ? .ok : .unauthorized), "\(entry.method) \(entry.path)")
            }
        }
    }

    @Test func forbiddenRequestsChangeNothing() async throws {
        try await Self.application().test(.router) { client in
            try await Self.seed(client)
            let write = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: Self.headers(.reader),
                                                 body: ByteBuffer(string: #"{"deletes": [1]}"#))
            #expect(write.status == .forbidden)
            for version in ["v1", "v2"] {
                let delete = try await client.execute(uri: "/\(version)/namespaces/ns", method: .delete, headers: Self.headers(.reader))
                #expect(delete.status == .forbidden)
            }
            let query = try await client.execute(uri: "/v2/namespaces/ns/query", method: .post, headers: Self.headers(.reader),
                                                 body: ByteBuffer(string: #"{"top_k": 10}"#))
            #expect(query.status == .ok)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(query.body.readableBytesView)) as? [String: Any])["rows"] as? [Any]
            #expect(rows?.count == 1)
        }
    }

    @Test func explainWithAnalyzeNeedsItsRole() async throws {
        try await Self.application().test(.router) { client in
            try await Self.seed(client)
            for role in Role.allCases {
                let response = try await client.execute(uri: "/v2/namespaces/ns/explain_query", method: .post, headers: Self.headers(role),
                                                        body: ByteBuffer(string: #"{"top_k": 1, "analyze": true}"#))
                #expect(response.status == (role >= RouteTable.explainAnalyzeRole ? .ok : .forbidden), "\(role)")
            }
        }
    }

    @Test func withoutAKeysFileAnyTokenMayDoEverything() async throws {
        try await Self.application(keys: nil).test(.router) { client in
            let headers: HTTPFields = [.authorization: "Bearer whatever", .contentType: "application/json"]
            _ = try await client.execute(uri: "/v2/namespaces/ns", method: .post, headers: headers,
                                         body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1, "vector": [1, 0]}]}"#))
            let recall = try await client.execute(uri: "/v1/namespaces/ns/_debug/recall", method: .post, headers: headers, body: ByteBuffer(string: "{}"))
            #expect(recall.status == .ok)
            let delete = try await client.execute(uri: "/v1/namespaces/ns", method: .delete, headers: headers)
            #expect(delete.status == .ok)
        }
    }

    @Test(arguments: ["bearer", "BEARER", "Bearer", "bEaReR"])
    func bearerSchemeIsCaseInsensitive(_ scheme: String) async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/v1/namespaces", method: .get, headers: [.authorization: "\(scheme) \(Self.secrets[.reader]!)"])
            #expect(response.status == .ok)
        }
    }

    @Test(arguments: ["Basic abc", "Bearer", "Bearer ", "Token reader-secret", "reader-secret"])
    func malformedCredentialsAre401(_ header: String) async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/v1/namespaces", method: .get, headers: [.authorization: header])
            #expect(response.status == .unauthorized)
        }
    }

    /// The spec's matrix lists exactly the table's rows with the same roles.
    @Test func specMatchesTheTable() throws {
        let specURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Specs/protocol/roles.md")
        let spec = try String(contentsOf: specURL, encoding: .utf8)
        var rows: Set<String> = []
        for line in spec.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, ["GET", "POST", "DELETE", "PUT", "PATCH"].contains(where: { cells[0].hasPrefix("`\($0) ") }) else { continue }
            let route = cells[0].replacingOccurrences(of: "`", with: "").replacingOccurrences(of: "{namespace}", with: ":namespace")
            rows.insert("\(route) \(cells[1])")
        }
        let expected = Set(RouteTable.entries.map { entry -> String in
            let access: String
            switch entry.access {
            case .open: access = "open"
            case .role(let role): access = "\(role)"
            }
            return "\(entry.method) \(entry.path) \(access)"
        })
        #expect(rows == expected)
    }
}
