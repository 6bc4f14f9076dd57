public import Hummingbird

/// Requires `Authorization: Bearer <key>`. With a keys file only its keys pass; without
/// one any bearer token passes (the server then listens on loopback only). Health and
/// metrics endpoints are open (scrapers carry no key; they expose counters only).
public struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeys?

    public init(keys: APIKeys?) {
        self.keys = keys
    }

    static var openPaths: Set<String> { ["/healthz", "/readyz", "/metrics"] }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else {
            return JSONResponse.error(.unauthorized, "missing Authorization: Bearer <api key>", shouldRetry: false)
        }
        if let keys, keys.authenticate(String(header.dropFirst(7))) == nil {
            return JSONResponse.error(.unauthorized, "unknown API key", shouldRetry: false)
        }
        return try await next(request, context)
    }
}
