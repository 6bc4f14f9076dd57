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
    /// Fires time budgets (a serial queue gets a thread of its own when the pool is busy).
    static let deadlines = DispatchQueue(label: "lagoon.query-deadlines")

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
                    // The deadline fires from a Dispatch queue of its own, not from a task: the
                    // cooperative pool may be the very thing that is saturated.
                    let timer = DispatchWorkItem {
                        if outcome.finish(.failure(TimedOut(budget: timeout))) { work.cancel() }
                    }
                    outcome.setTimer(timer)
                    Self.deadlines.asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.nanosecondsClamped)), execute: timer)
                }
            }
        } onCancel: {
            outcome.cancel()
        }
    }
}

/// Whichever of work, timer or cancellation ends first decides the request's answer, once;
/// the work and the timer may be attached after that already happened.
private final class Outcome<T: Sendable>: @unchecked Sendable {  // all state behind the Mutex
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Deadline?
    }

    /// A scheduled deadline; DispatchWorkItem's cancel is thread-safe, which Swift cannot see.
    struct Deadline: @unchecked Sendable { let item: DispatchWorkItem }
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

    func setTimer(_ item: DispatchWorkItem) {
        let deadline = Deadline(item: item)
        if state.withLock({ s in s.timer = deadline; return s.result != nil }) { item.cancel() }
    }

    /// Decides the answer if nothing did before; returns whether this call decided it.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let decided = state.withLock { s -> CheckedContinuation<T, any Error>?? in
            guard s.result == nil else { return nil }
            s.result = result
            s.timer?.item.cancel()  // thread-safe and quick: fine under the lock
            defer { s.continuation = nil }
            return .some(s.continuation)
        }
        guard let decided else { return false }
        decided?.resume(with: result)
        return true
    }

    /// The request's own task was cancelled (client gone): stop the work.
    func cancel() {
        if finish(.failure(CancellationError())) { state.withLock { $0.work }?.cancel() }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to what Dispatch accepts.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return Int64.max }
        return max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
