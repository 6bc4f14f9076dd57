/// Hands memory the allocator keeps after large frees back to the OS. A flush or compaction
/// drops a whole tail projection and builds a segment in temporary arrays; glibc keeps those
/// pages in its arenas, so RSS would stay at the peak of the last flush instead of following
/// the live data.
enum ReleaseFreedMemory {
    static func now() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
