#if canImport(Glibc)
import Glibc
#endif

/// Scheduling priority of the calling thread. Background work (the indexer) lowers its
/// threads' priority so that, on a busy core, the kernel runs request threads first: on
/// Linux every thread has its own nice value (`setpriority(PRIO_PROCESS, 0, nice)` sets the
/// calling thread's: the kernel reads `who = 0` as the current task, a thread), and
/// CFS gives a thread at nice 10 about a tenth of the CPU a nice-0 thread competing with it
/// gets, while an idle core still runs it at full speed.
enum ThreadPriority {
    /// Sets the calling thread's nice value (0 normal, up to 19 lowest). Raising priority
    /// needs privileges, so only values above the current one take effect; elsewhere a no-op.
    /// Returns whether the value was applied.
    @discardableResult
    static func setCurrentThreadNice(_ nice: Int32) -> Bool {
        #if os(Linux)
        return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) == 0
        #else
        return false
        #endif
    }
}
