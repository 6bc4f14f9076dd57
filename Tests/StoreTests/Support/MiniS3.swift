import Foundation
@testable import Store
import Synchronization

/// A minimal in-memory S3 (path-style `/bucket/key`: GET with Range and If-None-Match,
/// HEAD, PUT with If-None-Match: * and If-Match, DELETE) on a `FakeHTTPServer`, with
/// switches for the misbehaviours `S3Store` must survive: error answers before the
/// request is applied, responses lost after it was applied, and ignored conditions.
final class MiniS3: Sendable {
    struct Fault {
        var method: String?
        var status: Int
        var code: String
        var remaining: Int
    }

    struct State {
        var objects: [String: Data] = [:]
        var faults: [Fault] = []
        /// Apply the next `n` PUTs, then drop the connection instead of answering.
        var putsToApplyThenDrop = 0
        /// Accept conditional PUTs without checking their condition.
        var ignoresConditions = false
        /// Answer 501 NotImplemented to conditional PUTs.
        var rejectsConditions = false
        var log: [FakeHTTPServer.Request] = []
    }

    /// The mutable state, in a box the server's handler can share.
    final class Core: Sendable {
        let state = Mutex(State())
    }

    let core = Core()
    let server: FakeHTTPServer

    func withState<T>(_ body: (inout State) -> T) -> T { core.state.withLock { body(&$0) } }

    init() throws {
        server = try FakeHTTPServer { [core] request in MiniS3.handle(request, core.state) }
    }

    deinit { server.stop() }

    var endpoint: String { "http://127.0.0.1:\(server.port)" }

    /// A store on bucket `b` of this server with fast retries.
    func store(maxAttempts: Int = 4, encryption: S3Encryption = .none, kmsKey: String? = nil) throws -> S3Store {
        S3Store(configuration: try S3Configuration(
            bucket: "b", prefix: "p", endpoint: endpoint, encryption: encryption, sseKMSKeyID: kmsKey,
            credentials: S3Credentials(accessKeyID: "AKIDTEST", secretAccessKey: "SECRET-never-shown", sessionToken: "TOKEN"),
            retry: S3RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))))
    }

    /// Answers the next `count` requests (of `method`, or any) with an error, unapplied.
    func failNext(_ count: Int, status: Int, code: String, method: String? = nil) {
        withState { $0.faults.append(Fault(method: method, status: status, code: code, remaining: count)) }
    }

    var requests: [FakeHTTPServer.Request] { withState { $0.log } }

    private static func handle(_ request: FakeHTTPServer.Request, _ state: borrowing Mutex<State>) -> FakeHTTPServer.Reply {
        state.withLock { state in
            state.log.append(request)
            if let index = state.faults.firstIndex(where: { $0.method == nil || $0.method == request.method }) {
                let fault = state.faults[index]
                state.faults[index].remaining -= 1
                if state.faults[index].remaining == 0 { state.faults.remove(at: index) }
                return error(fault.status, fault.code)
            }
            let key = String(request.path.dropFirst("/b/".count)).removingPercentEncoding ?? ""
            let current = state.objects[key]
            switch request.method {
            case "PUT":
                let conditional = request.header("if-none-match") != nil || request.header("if-match") != nil
                if conditional && state.rejectsConditions { return error(501, "NotImplemented") }
                if !state.ignoresConditions {
                    if request.header("if-none-match") == "*", current != nil { return error(412, "PreconditionFailed") }
                    if let expected = request.header("if-match") {
                        guard let current else { return error(404, "NoSuchKey") }
                        if expected != etag(current) { return error(412, "PreconditionFailed") }
                    }
                }
                state.objects[key] = request.body
                if state.putsToApplyThenDrop > 0 {
                    state.putsToApplyThenDrop -= 1
                    return .dropConnection
                }
                return .respond(status: 200, headers: [("ETag", etag(request.body))])
            case "GET", "HEAD":
                guard let current else { return error(404, "NoSuchKey") }
                if request.header("if-none-match") == etag(current) { return .respond(status: 304) }
                var headers = [("ETag", etag(current))]
                if request.method == "HEAD" { headers.append(("Content-Length", "\(current.count)")) }
                return .respond(status: 200, headers: headers, body: current)
            case "DELETE":
                state.objects[key] = nil
                return .respond(status: 204)
            default:
                return error(405, "MethodNotAllowed")
            }
        }
    }

    static func etag(_ bytes: Data) -> String { "\"\(ContentHash.etag(bytes))\"" }

    private static func error(_ status: Int, _ code: String) -> FakeHTTPServer.Reply {
        let xml = "<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>injected \(code)</Message></Error>"
        return .respond(status: status, headers: [("Content-Type", "application/xml")], body: Data(xml.utf8))
    }
}
