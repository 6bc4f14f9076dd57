import Kernels
public import Log
public import Planner
public import Segments

/// The planner's estimate of how many visible rows a filter keeps (issue 8: filtered ANN
/// chooses its strategy from it). A segment whose attribute indexes answer the whole filter
/// contributes its exact count (the index bitmaps intersected with its visible rows); other
/// sources (the WAL tail, segments without indexes) the planner's default fraction.
public enum FilterSelectivity {
    public static func estimate(_ filter: FilterExpression, sources: [RowSource], config: NamespaceConfig) -> Int {
        var total = 0.0
        for source in sources {
            if case .segment(let view) = source, indexesAnswer(filter, view.segment) {
                var rows = RowPredicate(filter, source: source, config: config).matchingRows!
                rows.formIntersection(view.visible)
                total += Double(rows.popcount)
            } else {
                total += Double(source.visibleCount) * QueryPlanner.defaultSelectivity
            }
        }
        return Int(total.rounded(.up))
    }

    /// Whether every condition reads a loaded index or an attribute the segment lacks (so the
    /// estimate never compiles a row-by-row scan).
    static func indexesAnswer(_ filter: FilterExpression, _ segment: Segment) -> Bool {
        filter.attributeNames.allSatisfy { $0 != "id" && (!segment.hasColumn($0) || segment.filterIndex($0) != nil) }
    }
}
