import Synchronization

/// What one request (a query, an explain) read and from where: reads per cache layer
/// (memory, disk, bucket) with their bytes, and the number of *sequential* bucket rounds —
/// the figure cold latency on object storage follows (ARCHITECTURE.md §9).
///
/// The trace travels as a task-local (`ReadTrace.$current.withValue(trace) { … }`), so the
/// layers record into it without every call site passing it along; child tasks and the
/// single-flight refresh a query starts inherit it. A read outside any trace records nothing.
///
/// Rounds are the longest chain of bucket requests each issued after the previous one
/// answered. A batch issued together (`RangeCoalescer`) stamps its requests with the
/// batch's issue time, so a server that answers them one at a time does not turn one
/// parallel wave into many rounds.
public final class ReadTrace: Sendable {
    public enum Layer: String, Sendable, CaseIterable {
        /// Already in this node's memory: decoded segment parts, cached objects.
        case memory
        /// The local disk cache.
        case disk
        /// The object store itself.
        case bucket
    }

    /// Reads and bytes of one layer.
    public struct Count: Sendable, Equatable {
        public var reads = 0
        public var bytes = 0
    }

    /// The trace's totals.
    public struct Figures: Sendable, Equatable {
        /// Reads of immutable data (segment parts, WAL entries, deletion vectors) per layer.
        public var data: [Layer: Count] = [:]
        /// Bucket requests of any kind (manifests and hints included) and their bytes.
        public var bucketRequests = 0
        public var bucketBytes = 0
        /// Sequential bucket rounds, all requests; and counting data requests only.
        public var rounds = 0
        public var dataRounds = 0

        public func count(_ layer: Layer) -> Count { data[layer] ?? Count() }

        /// Share of data reads served from memory or disk (1 when nothing was read).
        public var hitRatio: Double {
            let hits = count(.memory).reads + count(.disk).reads
            let total = hits + count(.bucket).reads
            return total == 0 ? 1 : Double(hits) / Double(total)
        }

        /// turbopuffer's `cache_temperature`: hot when every data read came from memory, warm
        /// when none needed the bucket, cold otherwise.
        public var temperature: String {
            if count(.bucket).reads > 0 { return "cold" }
            return count(.disk).reads > 0 ? "warm" : "hot"
        }
    }

    private struct Request {
        var start: ContinuousClock.Instant
        var end: ContinuousClock.Instant
        var isData: Bool
    }

    private struct State {
        var figures = Figures()
        var requests: [Request] = []
        /// Segment parts fetched under this trace: finding them loaded later is not a hit.
        var fetchedParts: Set<String> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The trace of the running request, if any.
    @TaskLocal public static var current: ReadTrace?
    /// When the batch the running request belongs to was issued (set by `RangeCoalescer`).
    @TaskLocal public static var batchIssuedAt: ContinuousClock.Instant?

    /// A data read served by a cache layer (or, for `.bucket`, counted as a logical read
    /// whose requests are recorded by `recordRequest`).
    public func record(_ layer: Layer, bytes: Int, reads: Int = 1) {
        state.withLock {
            $0.figures.data[layer, default: Count()].reads += reads
            $0.figures.data[layer, default: Count()].bytes += bytes
        }
    }

    /// A loaded segment part found in memory; not counted when this trace fetched it.
    public func recordLoadedPart(_ part: String, bytes: Int) {
        state.withLock {
            guard !$0.fetchedParts.contains(part) else { return }
            $0.figures.data[.memory, default: Count()].reads += 1
            $0.figures.data[.memory, default: Count()].bytes += bytes
        }
    }

    /// A segment part this trace fetched (from disk or bucket).
    public func noteFetchedPart(_ part: String) {
        _ = state.withLock { $0.fetchedParts.insert(part) }
    }

    /// One request sent to the bucket, from issue to answer.
    public func recordRequest(start: ContinuousClock.Instant, end: ContinuousClock.Instant, bytes: Int, isData: Bool) {
        state.withLock {
            $0.figures.bucketRequests += 1
            $0.figures.bucketBytes += bytes
            $0.requests.append(Request(start: start, end: end, isData: isData))
        }
    }

    public var figures: Figures {
        state.withLock { state in
            var figures = state.figures
            figures.rounds = Self.longestChain(state.requests)
            figures.dataRounds = Self.longestChain(state.requests.filter(\.isData))
            return figures
        }
    }

    /// The longest sequence of requests each issued no earlier than its predecessor answered:
    /// in order of answer, a request extends the deepest chain among those answered before it
    /// was issued (a prefix of that order, found by binary search).
    private static func longestChain(_ requests: [Request]) -> Int {
        let byEnd = requests.sorted { $0.end < $1.end }
        var prefixDepth: [Int] = []  // deepest chain among byEnd[0...i]
        prefixDepth.reserveCapacity(byEnd.count)
        for request in byEnd {
            var low = 0, high = prefixDepth.count  // first index whose end is after the start
            while low < high {
                let middle = (low + high) / 2
                if byEnd[middle].end <= request.start { low = middle + 1 } else { high = middle }
            }
            let depth = (low == 0 ? 0 : prefixDepth[low - 1]) + 1
            prefixDepth.append(max(depth, prefixDepth.last ?? 0))
        }
        return prefixDepth.last ?? 0
    }
}
