public import Store

/// Every `ObjectStore` backend that runs without a network, for parameterized tests:
/// `@Test(arguments: StoreBackend.allCases) func f(_ backend: StoreBackend)`.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `MemoryStore`.
    case memory
    /// `FileSystemStore` on a fresh temp directory.
    case fileSystem

    public var description: String { rawValue }

    /// Runs the body with a new, empty store of this kind and cleans it up afterwards.
    public func withStore<T>(_ body: (any ObjectStore) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(MemoryStore())
        case .fileSystem:
            return try await withTempDirectory(prefix: "lagoon-store") { directory in
                try await body(try FileSystemStore(root: directory.url))
            }
        }
    }
}
