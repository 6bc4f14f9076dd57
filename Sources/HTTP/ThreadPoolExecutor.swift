public import Foundation

/// A `TaskExecutor` backed by its own threads, so CPU-heavy engine work (queries, explain,
/// recall, write decoding) runs there instead of on Swift's cooperative pool, which also
/// serves every cheap request: with the work here, `/healthz` stays responsive while all
/// pool threads are busy. Threads start on demand, up to `threads`, and exit after idling.
public final class ThreadPoolExecutor: TaskExecutor, @unchecked Sendable {
    let threads: Int
    private let idleExit: TimeInterval
    private let name: String
    /// Nice value of this pool's threads (nil: inherit the process's); see `ThreadPriority`.
    private let nice: Int32?
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var alive = 0
    private var idle = 0

    public init(threads: Int, name: String = "lagoon-query", idleExit: TimeInterval = 5, nice: Int32? = nil) {
        precondition(threads > 0)
        self.threads = threads
        self.name = name
        self.idleExit = idleExit
        self.nice = nice
    }

    public func enqueue(_ job: UnownedJob) {
        condition.lock()
        jobs.append(job)
        // More queued jobs than sleeping threads to take them: start another thread.
        let spawn = jobs.count - head > idle && alive < threads
        if spawn { alive += 1 }
        condition.signal()
        condition.unlock()
        if spawn {
            let thread = Thread { [self] in work() }
            thread.name = name
            thread.start()
        }
    }

    private static let markerKey = "lagoon.thread-pool"

    /// Whether the calling thread is one of this pool's.
    func ownsCurrentThread() -> Bool {
        (Thread.current.threadDictionary[Self.markerKey] as? ObjectIdentifier) == ObjectIdentifier(self)
    }

    private func work() {
        Thread.current.threadDictionary[Self.markerKey] = ObjectIdentifier(self)
        #if os(Linux)
        // The kernel's name of the thread (15 bytes at most), which `top -H` and `perf` show.
        if let comm = FileHandle(forWritingAtPath: "/proc/thread-self/comm") {
            try? comm.write(contentsOf: Data(name.utf8.prefix(15)))
            try? comm.close()
        }
        #endif
        if let nice { ThreadPriority.setCurrentThreadNice(nice) }
        condition.lock()
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head > 64 && head * 2 > jobs.count {
                    jobs.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
                condition.lock()
                continue
            }
            idle += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: idleExit))
            idle -= 1
            if !woken && head >= jobs.count {
                alive -= 1
                condition.unlock()
                return
            }
        }
    }
}
