public import Store

/// Renders `/metrics` in the Prometheus text format (names from the deployment guide).
/// Hand-written rather than through swift-metrics until more metrics exist: two counter
/// families do not justify the extra packages in every build.
public struct Metrics: Sendable {
    let store: InstrumentedStore?

    public init(store: InstrumentedStore?) {
        self.store = store
    }

    public func render() -> String {
        var lines: [String] = []
        if let store {
            let counts = store.counts
            lines.append("# HELP lagoon_objstore_requests_total Object-store requests by operation.")
            lines.append("# TYPE lagoon_objstore_requests_total counter")
            for operation in InstrumentedStore.Operation.allCases {
                lines.append("lagoon_objstore_requests_total{op=\"\(operation.rawValue)\"} \(counts.requests[operation] ?? 0)")
            }
            lines.append("# HELP lagoon_objstore_errors_total Object-store requests that failed.")
            lines.append("# TYPE lagoon_objstore_errors_total counter")
            lines.append("lagoon_objstore_errors_total \(counts.errors)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
