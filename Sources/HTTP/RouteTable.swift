public import Hummingbird

/// Every route the server answers and the least role it needs: the role matrix of
/// Specs/protocol/roles.md in one table. `Routes` registers handlers only for paths listed
/// here (registration of an unlisted route stops the process), so no route can skip it.
public enum RouteTable {
    public enum Access: Sendable, Equatable {
        /// No key needed (health checks and metrics scrapers carry none).
        case open
        /// A key with at least this role.
        case role(Role)
    }

    public struct Entry: Sendable {
        public var method: HTTPRequest.Method
        public var path: String
        public var access: Access
    }

    public static let entries: [Entry] = [
        Entry(method: .get, path: "/healthz", access: .open),
        Entry(method: .get, path: "/readyz", access: .open),
        Entry(method: .get, path: "/metrics", access: .open),
        Entry(method: .get, path: "/v1/namespaces", access: .role(.reader)),
        Entry(method: .post, path: "/v2/namespaces/:namespace/query", access: .role(.reader)),
        // With `"analyze": true` the route needs `explainAnalyzeRole` (checked after decoding).
        Entry(method: .post, path: "/v2/namespaces/:namespace/explain_query", access: .role(.reader)),
        Entry(method: .get, path: "/v2/namespaces/:namespace/metadata", access: .role(.reader)),
        Entry(method: .get, path: "/v1/namespaces/:namespace/metadata", access: .role(.reader)),
        Entry(method: .get, path: "/v1/namespaces/:namespace/schema", access: .role(.reader)),
        Entry(method: .get, path: "/v1/namespaces/:namespace/history", access: .role(.reader)),
        Entry(method: .get, path: "/v1/namespaces/:namespace/hint_cache_warm", access: .role(.reader)),
        Entry(method: .post, path: "/v2/namespaces/:namespace", access: .role(.writer)),
        Entry(method: .post, path: "/v1/namespaces/:namespace/schema", access: .role(.writer)),
        Entry(method: .delete, path: "/v2/namespaces/:namespace", access: .role(.writer)),
        Entry(method: .delete, path: "/v1/namespaces/:namespace", access: .role(.writer)),
        // Runs 2 × num full queries: the most expensive route, so operators only.
        Entry(method: .post, path: "/v1/namespaces/:namespace/_debug/recall", access: .role(.admin)),
    ]

    /// `explain_query` with `"analyze": true` runs the query with per-operator tracing.
    public static let explainAnalyzeRole = Role.writer

    public static func access(_ method: HTTPRequest.Method, _ path: String) -> Access? {
        entries.first { $0.method == method && $0.path == path }?.access
    }

    /// Paths that need no key (compared with the request path as sent).
    static let openPaths: Set<String> = Set(entries.filter { $0.access == .open }.map(\.path))
}
