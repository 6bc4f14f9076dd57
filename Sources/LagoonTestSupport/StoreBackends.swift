public import Store
import Synchronization

/// Every `ObjectStore` backend, for parameterized tests:
/// `@Test(arguments: StoreBackend.allCases) func f(_ backend: StoreBackend)`.
public enum StoreBackend: String, Sendable, CustomStringConvertible {
    /// `MemoryStore`.
    case memory
    /// `FileSystemStore` on a fresh temp directory.
    case fileSystem
    /// `S3Store` on a fresh bucket of the shared loopback `MotoServer`.
    case s3

    /// memory and fileSystem always; s3 when moto runs, or when `LAGOON_REQUIRE_MOTO=1`
    /// (then a missing moto fails the S3 cases instead of leaving them out).
    public static var allCases: [StoreBackend] {
        let motoRuns = (try? MotoServer.shared.get()) != nil
        return motoRuns || MotoServer.isRequired ? [.memory, .fileSystem, .s3] : [.memory, .fileSystem]
    }

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
        case .s3:
            let server = try MotoServer.shared.get()
            let bucket = "lagoon-test-\(bucketCounter.add(1, ordering: .relaxed).newValue)-\(UInt32.random(in: 0...UInt32.max))"
            // moto checks no signature; the prefix makes every test exercise key prefixing.
            let store = S3Store(configuration: try S3Configuration(
                bucket: bucket, prefix: "lagoon", endpoint: server.endpoint,
                credentials: S3Credentials(accessKeyID: "testing", secretAccessKey: "testing")))
            try await store.createBucket()
            return try await body(store)
        }
    }
}

private let bucketCounter = Atomic<Int>(0)
