public import Log
public import Segments

/// A pinned, immutable view of a namespace: one manifest version and the projection of
/// every event it commits. Queries run entirely against one snapshot.
public struct Snapshot: Sendable {
    public let manifest: Manifest
    public let projection: NamespaceProjection

    public init(manifest: Manifest, projection: NamespaceProjection) {
        self.manifest = manifest
        self.projection = projection
    }
}
