import Foundation

/// Hands memory the allocator keeps after large frees back to the OS. A flush or compaction
/// drops a whole tail projection and builds a segment in temporary arrays; glibc keeps those
/// pages in its arenas, so RSS would stay at the peak of the last flush instead of following
/// the live data.
public enum ReleaseFreedMemory {
    static func now() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }

    /// Allocations from this size up get their own mapping, returned to the OS when freed.
    public static let largeAllocationBytes = 8 << 20

    /// Called once when a node starts. glibc raises its mmap threshold to the size of any
    /// mapped block freed (up to 32 MiB), after which a segment build's temporary arrays of a
    /// few MiB are carved from the arenas and, once freed, leave them fragmented: measured on
    /// WordNet ×3 (`segments_workload.py`), the settled RSS held 30–50 MB more heap than with a
    /// fixed 8 MiB threshold, with no measurable cost to ingest (requests' buffers stay below
    /// it and keep being reused from the arenas). `MALLOC_MMAP_THRESHOLD_` in the environment
    /// still wins.
    public static func keepLargeAllocationsOutOfArenas() {
        #if os(Linux)
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil else { return }
        _ = glibcMallopt(glibcMmapThreshold, Int32(largeAllocationBytes))
        #endif
    }
}

#if os(Linux)
/// glibc's `malloc_trim` and `mallopt` (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `M_MMAP_THRESHOLD` of <malloc.h>.
private let glibcMmapThreshold: Int32 = -3
#endif
