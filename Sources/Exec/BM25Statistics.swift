import Foundation
import Kernels
import Segments

/// Namespace-wide BM25 statistics over the visible rows of a snapshot's sources: N (rows
/// with at least one token), average length, and each query term's document frequency.
/// Segment figures cover every row written into the segment, so rows the snapshot no longer
/// sees are subtracted (their lengths, and their postings of the query terms).
struct BM25Statistics {
    var documentCount = 0
    var totalLength = 0
    var documentFrequencies: [Int]

    var averageLength: Double { documentCount == 0 ? 0 : Double(totalLength) / Double(documentCount) }

    /// idf of query term `t`: ln(1 + (N − df + 0.5) / (df + 0.5)).
    func idf(_ t: Int) -> Float {
        let n = Float(documentCount), df = Float(documentFrequencies[t])
        return Float(log(1 + Double((n - df + 0.5) / (df + 0.5))))
    }

    func formula(k1: Float, b: Float) -> BM25Formula {
        BM25Formula(k1: k1, b: b, averageLength: Float(averageLength))
    }

    init(sources: [RowSource], attribute: String, terms: [String]) throws {
        documentFrequencies = [Int](repeating: 0, count: terms.count)
        var rows: [Int32] = [], frequencies: [UInt32] = []
        for source in sources {
            switch source {
            case .tail(let projection):
                guard let index = projection.textIndexes[attribute] else { continue }
                documentCount += index.documentCount
                totalLength += index.totalLength
                for (t, term) in terms.enumerated() { documentFrequencies[t] += index.postings[term]?.documentFrequency ?? 0 }
            case .segment(let view):
                guard let index = view.segment.textIndex(attribute) else { continue }
                documentCount += index.documentCount
                totalLength += index.totalLength
                let hidden = view.hiddenCount > 0
                if hidden {
                    index.withLengths { lengths in
                        for row in 0..<view.segment.rowCount where !view.visible.contains(row) && lengths[row] > 0 {
                            documentCount -= 1
                            totalLength -= Int(lengths[row])
                        }
                    }
                }
                for (t, term) in terms.enumerated() {
                    guard let entry = try index.term(term) else { continue }
                    guard hidden else {
                        documentFrequencies[t] += entry.documentFrequency
                        continue
                    }
                    for block in index.blocks(of: entry) {
                        index.decode(block, rows: &rows, frequencies: &frequencies)
                        for row in rows where view.visible.contains(Int(row)) { documentFrequencies[t] += 1 }
                    }
                }
            }
        }
    }
}

/// One term's BM25 contribution, written once for every scorer (exhaustive over the tail and
/// segments, MaxScore and its block bounds), so they agree bit for bit.
struct BM25Formula {
    let k1: Float
    let b: Float
    let averageLength: Float

    @inline(__always)
    func score(idf: Float, tf: Float, length: Float) -> Float {
        idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength))
    }
}
