public import Log
public import Planner
public import Segments

/// Parses a JSON literal written in a test (`try parseJSON(#"{"top_k": 3}"#)`).
public func parseJSON(_ text: String) throws -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

/// Renders a JSON value compactly, for messages and for building bodies.
public func jsonText(_ value: JSONValue) -> String {
    String(decoding: JSONWriter.write(value), as: UTF8.self)
}

/// Builds a `NamespaceProjection` directly from write events, one WAL entry per call to
/// `apply`, without a store or an engine.
public struct ProjectionBuilder: Sendable {
    public private(set) var projection: NamespaceProjection
    public var config: NamespaceConfig
    private var seq: UInt64 = 0

    public init(config: NamespaceConfig) {
        self.config = config
        projection = NamespaceProjection(config: config)
    }

    /// Applies the events as the next committed entry, under the current `config`.
    public mutating func apply(_ events: [WriteEvent]) {
        seq += 1
        // Test fixtures are well-formed by construction.
        try! projection.apply(WALEntry(seq: seq, createdAtMillis: 0, writerToken: "test", events: events), config: config)
    }
}
