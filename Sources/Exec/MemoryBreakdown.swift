import Foundation
import Log
import Segments

/// A debugging aid for the memory target (issue 7): what a snapshot holds, by kind, beside the
/// process's RSS and the allocator's own statistics. Written to stderr by the indexer when
/// the environment sets `LAGOON_DEBUG_MEMORY=1`; estimates, not exact accounting.
enum MemoryBreakdown {
    static let enabled = ProcessInfo.processInfo.environment["LAGOON_DEBUG_MEMORY"] == "1"

    static func report(_ label: String, _ snapshot: Snapshot) {
        guard enabled else { return }
        let view = snapshot.view
        var ivf = 0, vectorsPart = 0, derived = 0, loaded = 0, rows = 0, idBytes = 0
        for segment in view.segments.map(\.segment) {
            rows += segment.rowCount
            idBytes += segment.ids.memoryBytes
            loaded += segment.loadedBytes
            ivf += segment.vectorIndex?.heldBytes ?? 0
            if let vectors = segment.vectors {
                derived += vectors.derivedBytes
                if !vectors.readsIndexLists { vectorsPart += vectors.count * vectors.dimension * 4 }
            }
        }
        let tail = view.tail
        let mb = { (bytes: Int) in String(format: "%.1f", Double(bytes) / 1_048_576) }
        let line = "[memory] \(label): rss \(mb(residentBytes())) MB; \(view.segments.count) segments, \(rows) rows: "
            + "parts loaded \(mb(loaded)) (ivf \(mb(ivf)), vectors part \(mb(vectorsPart)), norms/row maps \(mb(derived)), "
            + "columns+text \(mb(loaded - ivf - vectorsPart - derived))), ids ~\(mb(idBytes)); "
            + "tail \(tail.rowCount) rows (\(tail.liveCount) live) ~\(mb(tail.approximateHeldBytes))\n"
        FileHandle.standardError.write(Data(line.utf8))
        #if os(Linux)
        glibcMallocStats()  // per-arena totals, to stderr
        #endif
    }

    /// One step of a flush or compaction: RSS now and the peak so far.
    static func mark(_ label: String) {
        guard enabled else { return }
        let mb = { (bytes: Int) in String(format: "%.1f", Double(bytes) / 1_048_576) }
        let line = "[memory] \(label): rss \(mb(residentBytes())) MB, peak \(mb(residentBytes("VmHWM:"))) MB\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// VmRSS (or another field of /proc/self/status) of this process; 0 where /proc is missing.
    static func residentBytes(_ field: String = "VmRSS:") -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}

#if os(Linux)
/// glibc's `malloc_stats` (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_stats")
private func glibcMallocStats()
#endif
