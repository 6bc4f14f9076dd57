import Exec
import Foundation
public import Hummingbird
import Log
import Logging
import NIOCore
import Planner
import Store

/// Turns every error into a JSON response `{"status":"error","error":"..."}` in one place.
/// Bad input is always a 4xx naming the problem; 500 is reserved for Lagoon's own bugs.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let (status, message, retry) = Self.classify(error)
            if status == .internalServerError {
                context.logger.error("internal error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            return JSONResponse.error(status, message, shouldRetry: retry)
        }
    }

    static func classify(_ error: any Error) -> (HTTPResponse.Status, String, Bool?) {
        switch error {
        case let e as LagoonError:
            switch e.code {
            case .badRequest: return (.badRequest, e.message, false)
            case .notFound: return (.notFound, e.message, false)
            case .conflict: return (.conflict, e.message, true)
            case .tooLarge: return (.contentTooLarge, e.message, false)
            case .unavailable: return (.serviceUnavailable, e.message, true)
            }
        case let e as JSONSyntaxError:
            return (.badRequest, "the body is not valid JSON: \(e)", false)
        case is NIOTooManyBytesError:
            return (.contentTooLarge, "the request body is larger than the server's limit", false)
        case let e as StoreError:
            switch e.code {
            case .unavailable: return (.serviceUnavailable, "object store unavailable: \(e.message)", true)
            default: return (.internalServerError, "object store error: \(e)", nil)
            }
        case let e as FormatError:
            return (.internalServerError, "stored object unreadable: \(e)", false)
        case let e as HTTPError:
            return (e.status, e.body ?? e.status.reasonPhrase, nil)
        default:
            return (.internalServerError, "internal error: \(error)", nil)
        }
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
        // The turbopuffer client retries 409/429/5xx unless told otherwise.
        if let shouldRetry {
            response.headers[.init("x-should-retry")!] = shouldRetry ? "true" : "false"
        }
        return response
    }
}
