public import Exec
public import Hummingbird
public import Logging

/// Builds the Hummingbird application: error mapping, auth, routes.
public enum LagoonServer {
    public static func router(engine: Engine, keys: APIKeys?, limits: ServerLimits, metrics: Metrics = Metrics(store: nil)) -> Router<LagoonRequestContext> {
        let router = Router(context: LagoonRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(keys: keys))
        Routes(engine: engine, limits: limits, metrics: metrics).register(on: router)
        return router
    }

    /// Default limits except the body size (tests use small bodies).
    public static func router(engine: Engine, keys: APIKeys?, maxBodyBytes: Int, metrics: Metrics = Metrics(store: nil)) -> Router<LagoonRequestContext> {
        var limits = ServerLimits()
        limits.maxBodyBytes = maxBodyBytes
        return router(engine: engine, keys: keys, limits: limits, metrics: metrics)
    }

    public static func application(
        engine: Engine, keys: APIKeys?, host: String, port: Int, limits: ServerLimits, metrics: Metrics, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(engine: engine, keys: keys, limits: limits, metrics: metrics),
            configuration: .init(address: .hostname(host, port: port), serverName: "lagoon"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
