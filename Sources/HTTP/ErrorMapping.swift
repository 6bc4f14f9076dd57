import Exec
import Foundation
public import Hummingbird
import Log
import Logging
import NIOCore
import NIOHTTP1
import Planner
import Store

/// An answer the HTTP layer decides itself (403, 408, 429, 503), optionally with `Retry-After`.
struct HTTPFailure: Error {
    var status: HTTPResponse.Status
    var message: String
    var retryAfterSeconds: Int?

    init(_ status: HTTPResponse.Status, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// Turns every error into a JSON response `{"status":"error","error":"..."}` in one place.
/// Bad input is always a 4xx naming the problem; 500 is reserved for Lagoon's own bugs, and
/// its body carries only a request id: the details (paths, error dumps) go to the log.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var answer = Self.classify(error)
            switch answer.log {
            case .silent: break
            case .quiet:
                context.logger.debug("request ended early", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            case .warning:
                context.logger.warning("\(answer.message)", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            case .internalError:
                let id = Self.requestID()
                context.logger.error("internal error", metadata: ["request_id": "\(id)", "error": "\(error)", "path": "\(request.uri.path)"])
                answer.message = "internal error (request id \(id))"
            }
            var response = JSONResponse.error(answer.status, answer.message, shouldRetry: answer.shouldRetry)
            if let seconds = answer.retryAfter { response.headers[.retryAfter] = String(seconds) }
            return response
        }
    }

    struct Answer {
        /// How the error is logged: not at all, at debug level, as a warning, or as an internal error with a request id.
        enum Report { case silent, quiet, warning, internalError }
        var status: HTTPResponse.Status
        var message: String
        var shouldRetry: Bool?
        var retryAfter: Int? = nil
        var log: Report = .silent
    }

    static func classify(_ error: any Error) -> Answer {
        switch error {
        case let e as LagoonError:
            switch e.code {
            case .badRequest: return Answer(status: .badRequest, message: e.message, shouldRetry: false)
            case .notFound: return Answer(status: .notFound, message: e.message, shouldRetry: false)
            case .conflict: return Answer(status: .conflict, message: e.message, shouldRetry: true)
            case .tooLarge: return Answer(status: .contentTooLarge, message: e.message, shouldRetry: false)
            case .unavailable: return Answer(status: .serviceUnavailable, message: e.message, shouldRetry: true)
            case .tooManyRequests: return Answer(status: .tooManyRequests, message: e.message, shouldRetry: true, retryAfter: 1)
            }
        case let e as HTTPFailure:
            let retry = e.status == .tooManyRequests || e.status == .serviceUnavailable
            return Answer(status: e.status, message: e.message, shouldRetry: retry, retryAfter: e.retryAfterSeconds)
        case let e as WorkScheduler.TimedOut:
            let ms = e.budget.components.seconds * 1000 + e.budget.components.attoseconds / 1_000_000_000_000_000
            return Answer(status: .requestTimeout,
                          message: "the query ran longer than its time budget of \(ms) ms ([limits] query_timeout_ms) and was cancelled; narrow it (filters, top_k) or raise the budget",
                          shouldRetry: false)
        case is WorkScheduler.Overloaded:
            return Answer(status: .serviceUnavailable, message: "the server is busy: its query threads and queue ([limits] query_threads, query_queue) are full; retry shortly",
                          shouldRetry: true, retryAfter: 1)
        case let e as JSONSyntaxError:
            return Answer(status: .badRequest, message: "the body is not valid JSON: \(e)", shouldRetry: false)
        case is NIOTooManyBytesError:
            return Answer(status: .contentTooLarge, message: "the request body is larger than the server's limit", shouldRetry: false)
        case let e as HTTPParserError:
            // A malformed request framing, e.g. a bad chunk size in `Transfer-Encoding: chunked`.
            return Answer(status: .badRequest, message: "malformed HTTP request: \(e)", shouldRetry: false)
        case is CancellationError, is ChannelError:
            // The client went away (mid-body or mid-query): nobody reads this answer.
            return Answer(status: .badRequest, message: "the request ended before it was complete", shouldRetry: false, log: .quiet)
        case let e as StoreError:
            switch e.code {
            case .unavailable: return Answer(status: .serviceUnavailable, message: "object store unavailable: \(e.message)", shouldRetry: true)
            case .notFound:
                // An object vanished under a reader: the namespace was deleted concurrently.
                return Answer(status: .notFound, message: "namespace data not found (the namespace was deleted or replaced concurrently)",
                              shouldRetry: false, log: .warning)
            default: return Answer(status: .internalServerError, message: "", shouldRetry: nil, log: .internalError)
            }
        case let e as HTTPError:
            return Answer(status: e.status, message: e.body ?? e.status.reasonPhrase, shouldRetry: nil)
        default:
            return Answer(status: .internalServerError, message: "", shouldRetry: nil, log: .internalError)
        }
    }

    /// 16 random hex digits: enough to find the one log line, nothing else.
    static func requestID() -> String {
        String(UInt64.random(in: .min ... .max), radix: 16).leftPadded(to: 16)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

enum JSONResponse {
    static func ok(_ body: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = JSONWriter.write(body)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, shouldRetry: Bool?) -> Response {
        var response = ok(.object(JSONObject([("status", .string("error")), ("error", .string(message))])), status: status)
        // The turbopuffer client retries 408/409/429/5xx unless told otherwise.
        if let shouldRetry {
            response.headers[.init("x-should-retry")!] = shouldRetry ? "true" : "false"
        }
        return response
    }
}
