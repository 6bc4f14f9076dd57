/// Reciprocal-rank fusion of several ranked lists:
/// score(d) = Σ_i w_i / (k + rank_i(d)), ranks starting at 1. Higher is better;
/// ties keep the order of first appearance.
public enum ReciprocalRankFusion {
    public static func fuse<ID: Hashable>(_ lists: [[ID]], rankConstant: Double = 60, weights: [Double]? = nil) -> [(id: ID, score: Double)] {
        var scores: [ID: Double] = [:]
        var firstSeen: [ID: Int] = [:]
        var order = 0
        for (i, list) in lists.enumerated() {
            let weight = weights?[i] ?? 1
            for (rank, id) in list.enumerated() {
                scores[id, default: 0] += weight / (rankConstant + Double(rank + 1))
                if firstSeen[id] == nil {
                    firstSeen[id] = order
                    order += 1
                }
            }
        }
        return scores.map { (id: $0.key, score: $0.value) }.sorted {
            $0.score != $1.score ? $0.score > $1.score : firstSeen[$0.id]! < firstSeen[$1.id]!
        }
    }
}
