import Foundation
import Kernels
import Segments

/// BM25 when only the best `limit` rows are wanted (TopK right above BM25): MaxScore with
/// block skipping over each segment's postings (Turtle & Flood; tantivy's block-max scorers).
///
/// Terms are sorted by their upper bound. Rows that only contain terms whose bounds sum to
/// less than the current k-th best score cannot enter the top k, so only the remaining
/// ("essential") terms' postings are walked; the others are probed by `seek`, which skips
/// whole blocks. A row is dropped as soon as its partial score plus the bounds of the terms
/// not yet probed falls below the k-th best score. Only strictly lower bounds prune, so every
/// row that ties the k-th score reaches TopK, which breaks ties by id: the result is exactly
/// the exhaustive one.
struct BM25TopK {
    let attribute: String
    let terms: [String]
    let k1: Float
    let b: Float
    let statistics: BM25Statistics
    let limit: Int

    /// The k largest scores seen so far; `floor` is the k-th (−∞ until k rows scored).
    struct ScoreFloor {
        private var heap: BoundedHeap<Float>
        init(k: Int) { heap = BoundedHeap(capacity: k, before: { $0 > $1 }) }
        var floor: Float { heap.isFull ? heap.worst! : -.infinity }
        mutating func offer(_ score: Float) { heap.insert(score) }
    }

    /// Scores one segment, returning the rows that may still belong to the top `limit`.
    func scoreSegment(_ view: SegmentView, floor: inout ScoreFloor, examined: inout Int, skippedBlocks: inout Int) throws -> [(Int32, Float)] {
        guard let index = view.segment.textIndex(attribute) else { return [] }
        let formula = statistics.formula(k1: k1, b: b)
        struct Term {
            var t: Int
            var idf: Float
            var bound: Float
            var cursor: PostingCursor
        }
        var active: [Term] = []
        for (t, term) in terms.enumerated() {
            guard statistics.documentFrequencies[t] > 0, let entry = try index.term(term) else { continue }
            let w = statistics.idf(t)
            let bound = index.withBlocks(of: entry) { blocks in
                blocks.reduce(Float(0)) { max($0, formula.score(idf: w, tf: Float($1.maxTermFrequency), length: Float($1.minLength))) }
            }
            active.append(Term(t: t, idf: w, bound: bound, cursor: PostingCursor(index: index, term: entry)))
        }
        active.sort { $0.bound < $1.bound }
        var prefix = [Float](repeating: 0, count: active.count + 1)
        for i in active.indices { prefix[i + 1] = prefix[i] + active[i].bound }
        var contributions = [Float](repeating: 0, count: terms.count)
        let inTermOrder = active.map(\.t).sorted()
        return index.withLengths { lengths in
        var candidates: [(Int32, Float)] = []
        while true {
            // Terms 0..<essential can only lift a row that another term brings in.
            var essential = 0
            let threshold = floor.floor
            while essential < active.count, prefix[essential + 1] < threshold { essential += 1 }
            guard essential < active.count else { break }
            var row = PostingCursor.end
            for i in essential..<active.count { row = min(row, active[i].cursor.doc) }
            guard row != PostingCursor.end else { break }
            examined += 1
            let visible = view.visible.contains(Int(row))
            let length = Float(lengths[Int(row)])
            var partial: Float = 0
            for i in essential..<active.count where active[i].cursor.doc == row {
                if visible {
                    let s = formula.score(idf: active[i].idf, tf: Float(active[i].cursor.termFrequency), length: length)
                    contributions[active[i].t] = s
                    partial += s
                }
                active[i].cursor.advance()
            }
            guard visible else { continue }
            var pruned = false
            var i = essential - 1
            while i >= 0 {
                if partial + prefix[i + 1] < threshold {
                    pruned = true
                    break
                }
                active[i].cursor.seek(row)
                if active[i].cursor.doc == row {
                    let s = formula.score(idf: active[i].idf, tf: Float(active[i].cursor.termFrequency), length: length)
                    contributions[active[i].t] = s
                    partial += s
                }
                i -= 1
            }
            if !pruned {
                // Summed in query-term order, exactly as the exhaustive scorer does.
                var total: Float = 0
                for t in inTermOrder where contributions[t] != 0 { total += contributions[t] }
                if total >= floor.floor {
                    floor.offer(total)
                    candidates.append((row, total))
                }
            }
            for t in inTermOrder { contributions[t] = 0 }
        }
        skippedBlocks += active.reduce(0) { $0 + $1.cursor.skippedBlocks }
        return candidates
        }
    }
}
