import Foundation
@testable import HTTP
import Synchronization
import Testing

/// The query thread pool: work runs on its own threads, admission is bounded, and the time
/// budget cancels work and answers at the deadline.
@Suite struct WorkSchedulerTests {
    /// Spins (CPU-bound, no suspension) until cancelled or `limit` passes.
    static func spin(for limit: Duration) -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if Task.isCancelled { return true }
        }
        return false
    }

    @Test func workRunsOnThePoolThreads() async throws {
        let scheduler = WorkScheduler(threads: 2, queue: 4, timeout: nil)
        let onPool = try await scheduler.run { scheduler.executor.ownsCurrentThread() }
        #expect(onPool)
        #expect(!scheduler.executor.ownsCurrentThread())
    }

    @Test func poolRunsJobsInParallelUpToItsThreads() async throws {
        let scheduler = WorkScheduler(threads: 2, queue: 8, timeout: nil)
        let running = Box(0), peak = Box(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await scheduler.run {
                        let now = running.value.add(1, ordering: .relaxed).newValue
                        _ = peak.value.max(now, ordering: .relaxed)
                        _ = Self.spin(for: .milliseconds(30))
                        running.value.subtract(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        let most = peak.value.load(ordering: .relaxed)
        #expect(most == 2)
    }

    @Test func admissionBeyondThreadsPlusQueueIsRefused() async throws {
        let scheduler = WorkScheduler(threads: 1, queue: 1, timeout: nil)
        let release = Flag()
        let holders = (0..<2).map { _ in
            Task { try await scheduler.run { while !release.value.load(ordering: .relaxed) { usleep(1000) } } }
        }
        while scheduler.inFlight < 2 { try await Task.sleep(for: .milliseconds(1)) }
        await #expect(throws: WorkScheduler.Overloaded.self) { try await scheduler.run { 1 } }
        release.value.store(true, ordering: .relaxed)
        for holder in holders { try await holder.value }
        #expect(try await scheduler.run { 2 } == 2)
        #expect(scheduler.inFlight == 0)
    }

    @Test func budgetAnswersAtTheDeadlineAndCancelsTheWork() async throws {
        let scheduler = WorkScheduler(threads: 1, queue: 0, timeout: .milliseconds(50))
        let sawCancel = Flag()
        let started = ContinuousClock.now
        await #expect(throws: WorkScheduler.TimedOut.self) {
            try await scheduler.run { sawCancel.value.store(Self.spin(for: .seconds(10)), ordering: .relaxed) }
        }
        // No bound on the elapsed time here: resuming this test task needs the cooperative
        // pool, which other suites of the same run may hold for seconds. Without the budget the
        // work would run its full 10 s and return normally instead of throwing TimedOut.
        _ = started
        // The work saw the cancellation and gave its thread back.
        let deadline = ContinuousClock.now + .seconds(2)
        while scheduler.inFlight > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(scheduler.inFlight == 0)
        let cancelled = sawCancel.value.load(ordering: .relaxed)
        #expect(cancelled)
    }

    @Test func untimedWorkIgnoresTheBudget() async throws {
        let scheduler = WorkScheduler(threads: 1, queue: 0, timeout: .milliseconds(10))
        let value = try await scheduler.run(timed: false) { () -> Int in
            try await Task.sleep(for: .milliseconds(60))
            return 7
        }
        #expect(value == 7)
    }

    @Test func errorsOfTheWorkReachTheCaller() async throws {
        struct Boom: Error {}
        let scheduler = WorkScheduler(threads: 1, queue: 0, timeout: .seconds(5))
        await #expect(throws: Boom.self) { try await scheduler.run { throw Boom() } }
        #expect(scheduler.inFlight == 0)
    }

    @Test func cancellingTheCallerCancelsTheWork() async throws {
        let scheduler = WorkScheduler(threads: 1, queue: 0, timeout: nil)
        let sawCancel = Flag()
        let caller = Task { try await scheduler.run { sawCancel.value.store(Self.spin(for: .seconds(10)), ordering: .relaxed) } }
        while scheduler.inFlight == 0 { try await Task.sleep(for: .milliseconds(1)) }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        let deadline = ContinuousClock.now + .seconds(2)
        while scheduler.inFlight > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let cancelled = sawCancel.value.load(ordering: .relaxed)
        #expect(cancelled)
    }
}

/// Atomics in a class, so escaping closures can share them.
final class Box: Sendable {
    let value: Atomic<Int>
    init(_ initial: Int) { value = Atomic(initial) }
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
