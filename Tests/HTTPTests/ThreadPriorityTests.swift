#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HTTP
import Testing

/// The indexer's pool runs its threads at a lower scheduling priority, named for `top -H`;
/// other threads keep theirs (Linux: nice values are per thread).
@Suite struct ThreadPriorityTests {
    #if os(Linux)
    static func currentNice() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }

    static func currentName() -> String {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    @Test func poolThreadsRunAtTheirNiceValueAndName() async throws {
        let before = Self.currentNice()
        let pool = ThreadPoolExecutor(threads: 1, name: "lagoon-test-nice", nice: before + 5)
        let (nice, name) = await Task(executorPreference: pool) { (Self.currentNice(), Self.currentName()) }.value
        #expect(nice == before + 5)
        #expect(name == "lagoon-test-nic", "the kernel keeps 15 bytes of a thread name")
        #expect(Self.currentNice() == before, "only the pool's own threads are lowered")
    }

    @Test func poolWithoutNiceKeepsThePriority() async throws {
        let before = Self.currentNice()
        let pool = ThreadPoolExecutor(threads: 1, name: "lagoon-test")
        let nice = await Task(executorPreference: pool) { Self.currentNice() }.value
        #expect(nice == before)
    }
    #endif
}
