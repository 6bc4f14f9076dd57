public import Foundation

/// One byte range of one object.
public struct RangeRead: Sendable, Hashable {
    public var key: String
    public var offset: Int
    public var length: Int
    public init(key: String, offset: Int, length: Int) {
        self.key = key
        self.offset = offset
        self.length = length
    }
    public var end: Int { offset + length }
}

/// Reads many ranges in one parallel wave (ARCHITECTURE.md §9: cold latency follows the
/// number of sequential round trips, not bytes): ranges of one object lying at most
/// `maxGap` bytes apart merge into one ranged GET (the gap is read and dropped), and the
/// merged GETs run in parallel, at most `maxConcurrent` at a time.
public enum RangeCoalescer {
    /// Bytes a merge may waste between two ranges: one more request costs a round trip of
    /// ~10–50 ms on S3, in which ~1 MiB transfers.
    public static let defaultMaxGap = 1 << 20
    public static let defaultMaxConcurrent = 32

    /// The merged spans: each covers the ranges listed with it.
    static func plan(_ reads: [RangeRead], maxGap: Int) -> [(span: RangeRead, members: [Int])] {
        var spans: [(span: RangeRead, members: [Int])] = []
        let order = reads.indices.sorted { (reads[$0].key, reads[$0].offset) < (reads[$1].key, reads[$1].offset) }
        for index in order {
            let read = reads[index]
            if var last = spans.last, last.span.key == read.key, read.offset - last.span.end <= maxGap {
                last.span.length = max(last.span.end, read.end) - last.span.offset
                last.members.append(index)
                spans[spans.count - 1] = last
            } else {
                spans.append((read, [index]))
            }
        }
        return spans
    }

    /// The bytes of every read, in order, fetched with `getRange` of `store`.
    public static func fetch(_ reads: [RangeRead], from store: any ObjectStore,
                             maxGap: Int = defaultMaxGap, maxConcurrent: Int = defaultMaxConcurrent) async throws -> [Data] {
        let spans = plan(reads, maxGap: maxGap)
        let issued = ReadTrace.batchIssuedAt ?? ContinuousClock.now  // part of a larger batch: its time
        var fetched = [Data?](repeating: nil, count: spans.count)
        try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            var next = 0
            func start() {
                let index = next
                let span = spans[index].span
                // The first wave shares one issue time; later spans wait for a free slot,
                // which is a round of its own.
                let stamp: ContinuousClock.Instant? = index < maxConcurrent ? issued : nil
                group.addTask {
                    let bytes = try await ReadTrace.$batchIssuedAt.withValue(stamp) {
                        try await store.getRange(span.key, offset: span.offset, length: span.length)
                    }
                    return (index, bytes)
                }
                next += 1
            }
            while next < min(spans.count, maxConcurrent) { start() }
            while let (index, bytes) = try await group.next() {
                fetched[index] = bytes
                if next < spans.count { start() }
            }
        }
        var result = [Data](repeating: Data(), count: reads.count)
        for (position, planned) in spans.enumerated() {
            let bytes = fetched[position]!
            for member in planned.members {
                let read = reads[member]
                let start = min(bytes.count, read.offset - planned.span.offset)
                let end = min(bytes.count, start + read.length)
                // A read that is the whole span takes its buffer as is; a part of a coalesced
                // span is copied out, so it neither pins its neighbours' bytes nor starts
                // unaligned (readers view floats in place).
                result[member] = start == 0 && end == bytes.count ? bytes
                    : Data(bytes[(bytes.startIndex + start)..<(bytes.startIndex + end)])
            }
        }
        return result
    }
}
