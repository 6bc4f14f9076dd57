import Foundation
import Synchronization

/// Admits CPU-heavy request work to the query thread pool: at most `threads + queue`
/// requests hold a place at once (beyond that: 503 with `Retry-After`), and each runs under
/// a time budget (beyond it: the task is cancelled and the request answers 408).
public final class WorkScheduler: Sendable {
    public struct Overloaded: Error {}
    public struct TimedOut: Error { public var budget: Duration }

    let executor: ThreadPoolExecutor
    let capacity: Int
    let timeout: Duration?
    private let admitted = Atomic<Int>(0)

    public init(threads: Int, queue: Int, timeout: Duration?) {
        executor = ThreadPoolExecutor(threads: threads)
        capacity = threads + queue
        self.timeout = timeout
    }

    /// Requests holding a place (running or queued); a place is held until the work ends,
    /// even when its request already answered 408.
    public var inFlight: Int { admitted.load(ordering: .relaxed) }

    /// Runs `body` on the pool; `timed: false` exempts it from the time budget (writes).
    public func run<T: Sendable>(timed: Bool = true, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard admitted.add(1, ordering: .relaxed).newValue <= capacity else {
            admitted.subtract(1, ordering: .relaxed)
            throw Overloaded()
        }
        let outcome = Outcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.attach(continuation)
                let work = Task(executorPreference: executor) { [self] in
                    let result: Result<T, any Error>
                    do { result = .success(try await body()) } catch { result = .failure(error) }
                    admitted.subtract(1, ordering: .relaxed)
                    outcome.finish(result)
                }
                outcome.setWork(work)
                if timed, let timeout {
                    let timer = Task {
                        try? await Task.sleep(for: timeout)
                        if outcome.finish(.failure(TimedOut(budget: timeout))) { work.cancel() }
                    }
                    outcome.setTimer(timer)
                }
            }
        } onCancel: {
            outcome.cancel()
        }
    }
}

/// Whichever of work, timer or cancellation ends first decides the request's answer, once;
/// the work and the timer may be attached after that already happened.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
    }
    private let state = Mutex(State())

    func attach(_ continuation: CheckedContinuation<T, any Error>) {
        let decided = state.withLock { s in
            if s.result == nil { s.continuation = continuation }
            return s.result
        }
        if let decided { continuation.resume(with: decided) }
    }

    func setWork(_ task: Task<Void, Never>) {
        if state.withLock({ s in s.work = task; return s.result != nil }) { task.cancel() }
    }

    func setTimer(_ task: Task<Void, Never>) {
        if state.withLock({ s in s.timer = task; return s.result != nil }) { task.cancel() }
    }

    /// Decides the answer if nothing did before; returns whether this call decided it.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let decided = state.withLock { s -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?)? in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.continuation = nil }
            return (s.continuation, s.timer)
        }
        guard let decided else { return false }
        decided.1?.cancel()
        decided.0?.resume(with: result)
        return true
    }

    /// The request's own task was cancelled (client gone): stop the work.
    func cancel() {
        if finish(.failure(CancellationError())) { state.withLock { $0.work }?.cancel() }
    }
}
