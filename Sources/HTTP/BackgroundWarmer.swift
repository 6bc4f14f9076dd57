import Exec
import Synchronization

/// Runs `hint_cache_warm` in the background: the request answers 202 at once. At most one
/// warm per namespace and `maxConcurrent` in all run at a time; further hints are dropped
/// (a hint may be ignored).
final class BackgroundWarmer: Sendable {
    let engine: Engine
    let executor: ThreadPoolExecutor
    let maxConcurrent: Int
    private let running = Mutex<Set<String>>([])

    init(engine: Engine, executor: ThreadPoolExecutor, maxConcurrent: Int = 16) {
        self.engine = engine
        self.executor = executor
        self.maxConcurrent = maxConcurrent
    }

    /// Starts warming unless that namespace is already warming or too many warms run;
    /// returns whether it started.
    func start(_ namespace: String) -> Bool {
        let admitted = running.withLock { set in
            guard set.count < maxConcurrent, !set.contains(namespace) else { return false }
            set.insert(namespace)
            return true
        }
        guard admitted else { return false }
        Task.detached(executorPreference: executor) { [self] in
            // Errors (a namespace that does not exist) have no one to answer to.
            try? await engine.warm(namespace)
            _ = running.withLock { $0.remove(namespace) }
        }
        return true
    }

    var inProgress: Int { running.withLock { $0.count } }
}
