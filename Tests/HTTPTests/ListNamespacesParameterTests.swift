import Exec
import Foundation
import HTTP
import Hummingbird
import HummingbirdTesting
import LagoonTestSupport
import NIOCore
import Store
import Testing

/// `GET /v1/namespaces`: `prefix` and `cursor` only ever hold (part of) a namespace name, so
/// other strings are refused with 400 before they reach the object store's listing. Found by
/// schemathesis: a prefix with a 300-byte component before a `/` made the file store's
/// `opendir` fail with ENAMETOOLONG, answered 500.
@Suite struct ListNamespacesParameterTests {
    static let bearer: HTTPFields = [.authorization: "Bearer test"]

    static func withServer(_ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        try await withTempDirectory { directory in
            let engine = Engine(store: try FileSystemStore(root: directory.url))
            let app = Application(router: LagoonServer.router(engine: engine, keys: nil, maxBodyBytes: 1 << 20))
            try await app.test(.router) { client in
                let write = try await client.execute(uri: "/v2/namespaces/alpha", method: .post, headers: bearer,
                                                     body: ByteBuffer(string: #"{"upsert_rows": [{"id": 1}]}"#))
                #expect(write.status == .ok)
                try await body(client)
            }
        }
    }

    static func error(_ response: TestResponse) throws -> String {
        let object = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
        return try #require(object["error"] as? String)
    }

    @Test(arguments: [
        ("prefix", String(repeating: "a", count: 300) + "%2Fx"),
        ("prefix", "..%2F..%2F"),
        ("prefix", "al%2F"),
        ("prefix", String(repeating: "a", count: 129)),
        ("cursor", String(repeating: "a", count: 300) + "%2Fx"),
        ("cursor", "..%2Fcatalog"),
        ("cursor", "%C3%A9"),
    ])
    func nonNameParametersAre400(parameter: String, value: String) async throws {
        try await Self.withServer { client in
            let response = try await client.execute(uri: "/v1/namespaces?\(parameter)=\(value)", method: .get, headers: Self.bearer)
            #expect(response.status == .badRequest)
            #expect(try Self.error(response).hasPrefix("\(parameter):"))
        }
    }

    @Test func namePrefixesStillList() async throws {
        try await Self.withServer { client in
            for (query, expected) in [("prefix=al", 1), ("prefix=alpha", 1), ("prefix=.", 0), ("prefix=", 1), ("cursor=alpha", 0)] {
                let response = try await client.execute(uri: "/v1/namespaces?\(query)", method: .get, headers: Self.bearer)
                #expect(response.status == .ok, "\(query)")
                let object = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect((object["namespaces"] as? [Any])?.count == expected, "\(query)")
            }
        }
    }
}
