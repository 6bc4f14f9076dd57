public import Hummingbird

/// The per-request context: Hummingbird's core storage plus the role the auth middleware
/// resolved from the request's key (nil until then, and on open routes without a key).
public struct LagoonRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var role: Role?

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}
