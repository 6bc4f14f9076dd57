public import Log
public import Segments

/// A pinned, immutable view of a namespace: one manifest version, its open segments and the
/// projection of its unindexed WAL tail. Queries run entirely against one snapshot.
public struct Snapshot: Sendable {
    public let manifest: Manifest
    public let view: NamespaceView

    public init(manifest: Manifest, view: NamespaceView) {
        self.manifest = manifest
        self.view = view
    }

    public init(manifest: Manifest, projection: NamespaceProjection) {
        self.init(manifest: manifest, view: NamespaceView(segments: [], tail: projection))
    }

    /// The WAL-tail projection (everything, for a namespace without segments).
    public var projection: NamespaceProjection { view.tail }

    public var context: ExecutionContext { ExecutionContext(view: view, config: manifest.config) }
}
