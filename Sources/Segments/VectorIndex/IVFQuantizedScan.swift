import Kernels
import Log

extension IVFIndex {
    /// The quantised scan: 8-bit estimates over `IVFQuantizedLists` for every probed row, the
    /// best `candidates` (k × the rerank factor) kept, then their exact f32 distances (computed by `ListScan`,
    /// so scores are bit-identical to the exact scan's) and the top `k` of those.
    struct QuantizedScan: IVFListScanner {
        let lists: IVFQuantizedLists
        let query: QuantizedQuery
        let cosine: Bool
        let k: Int
        let filter: IVFFilter?
        /// Computes the exact distances of the re-ranked rows.
        let exact: ListScan
        /// Estimates kept so far, keyed by row number in `lists.codes`.
        var estimates: TopKSelector
        var sums: [Int32]
        var scores: [Float]
        var positions: [Int32]
        var ordinals: [Int32]
        var rows: [Int32]
        var listsProbed = 0
        var vectorsScanned = 0
        var found: Int { estimates.count }

        init(index: IVFIndex, query: [Float], k: Int, candidates: Int, filter: IVFFilter?) {
            lists = index.quantized
            self.query = query.withUnsafeBufferPointer { index.quantized.quantizer.quantize($0) }
            cosine = index.metric == .cosineDistance
            self.k = k
            self.filter = filter
            exact = ListScan(index: index, query: query, k: 0, filter: nil, scratch: false)
            estimates = TopKSelector(k: candidates)
            sums = [Int32](repeating: 0, count: index.largestList)
            scores = [Float](repeating: 0, count: index.largestList)
            positions = filter == nil ? [] : [Int32](repeating: 0, count: index.largestList)
            ordinals = positions
            rows = positions
        }

        mutating func scan(list: Int) throws {
            listsProbed += 1
            let start = exact.index.rows.listStart[list]
            let count = exact.index.rows.listStart[list + 1] - start
            guard count > 0 else { return }
            var matched = count
            if let filter {
                matched = exact.index.rows.ordinals.withUnsafeBufferPointer { all in
                    filter.select(UnsafeBufferPointer(rebasing: all[start..<(start + count)]), positions: &positions, ordinals: &ordinals)
                }
                guard matched > 0 else { return }
                for i in 0..<matched { rows[i] = positions[i] + Int32(start) }
            }
            // Codes are read (a stored block checked, a derived one encoded) only once some row
            // passes the filter: a file-backed list is read then.
            vectorsScanned += matched
            let d = lists.quantizer.dimension
            let filtered = matched < count || filter != nil
            try lists.withCodeBlock(list, of: exact.index, exact.buffer) { block in
                sums.withUnsafeMutableBufferPointer { out in
                    if filtered {
                        positions.withUnsafeBufferPointer { p in
                            ByteDotScorer.dotAll(query: query.prepared, codes: block.codes, codeSums: block.sums, dimension: d,
                                                 rows: UnsafeBufferPointer(rebasing: p[0..<matched]), into: out)
                        }
                    } else {
                        ByteDotScorer.dotAll(query: query.prepared, codes: block.codes, codeSums: block.sums, dimension: d,
                                             rows: 0..<count, into: out)
                    }
                }
                // Estimated distances, smaller is nearer: −q·v̂ for cosine (its scale is irrelevant
                // to the ranking), ‖v‖² − 2·q·v for Euclidean.
                if cosine {
                    for i in 0..<matched { scores[i] = -Float(sums[i]) }
                } else {
                    for i in 0..<matched {
                        let position = filtered ? Int(positions[i]) : i
                        scores[i] = block.squaredNorms[position] - 2 * query.dot(sums[i])
                    }
                }
            }
            scores.withUnsafeBufferPointer { s in
                let s = UnsafeBufferPointer(rebasing: s[0..<matched])
                if filtered {
                    rows.withUnsafeBufferPointer { estimates.insert(scores: s, ordinals: UnsafeBufferPointer(rebasing: $0[0..<matched])) }
                } else {
                    estimates.insert(scores: s, baseOrdinal: start)
                }
            }
        }

        mutating func results() throws -> [ScoredOrdinal] {
            var top = TopKSelector(k: k)
            for candidate in estimates.sortedResults() {
                let row = candidate.ordinal
                top.insert(score: try exact.distance(row: row), ordinal: Int(exact.index.rows.ordinals[row]))
            }
            return top.sortedResults()
        }
    }
}
