public import Exec
public import Hummingbird
public import Logging

/// Builds the Hummingbird application: error mapping, auth, routes.
public enum LagoonServer {
    public static func router(engine: Engine, keys: APIKeys?, maxBodyBytes: Int, metrics: Metrics = Metrics(store: nil)) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(keys: keys))
        Routes(engine: engine, maxBodyBytes: maxBodyBytes, metrics: metrics).register(on: router)
        return router
    }

    public static func application(
        engine: Engine, keys: APIKeys?, host: String, port: Int, maxBodyBytes: Int, metrics: Metrics, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(engine: engine, keys: keys, maxBodyBytes: maxBodyBytes, metrics: metrics),
            configuration: .init(address: .hostname(host, port: port), serverName: "lagoon"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
