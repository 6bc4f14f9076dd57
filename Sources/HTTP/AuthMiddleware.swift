public import Hummingbird

/// Resolves `Authorization: Bearer <key>` (scheme case-insensitive) to a role. With a keys
/// file only its keys pass, with their role; without one any bearer token passes as admin
/// (the server then listens on loopback only). Open routes (RouteTable) need no key. Whether
/// the role suffices for the route is checked where the route is registered (Routes).
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = LagoonRequestContext
    let keys: APIKeys?

    public init(keys: APIKeys?) {
        self.keys = keys
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if RouteTable.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let token = request.headers[.authorization].flatMap(Self.bearerToken) else {
            return JSONResponse.error(.unauthorized, "missing Authorization: Bearer <api key>", shouldRetry: false)
        }
        var context = context
        if let keys {
            guard let entry = keys.authenticate(token), let role = Role(name: entry.role) else {
                return JSONResponse.error(.unauthorized, "unknown API key", shouldRetry: false)
            }
            context.role = role
        } else {
            context.role = .admin
        }
        return try await next(request, context)
    }

    /// The token of a `Bearer` credential (RFC 9110 §11.1: the scheme is case-insensitive).
    static func bearerToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = String(parts[1]).trimmingWhitespace()
        return token.isEmpty ? nil : token
    }
}
