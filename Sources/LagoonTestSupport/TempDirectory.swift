public import Foundation

/// A fresh, uniquely named directory under the system temp folder, for one test.
/// Remove it with `remove()`, or use `withTempDirectory`, which always does.
public struct TempDirectory: Sendable {
    /// The directory.
    public let url: URL

    /// The directory as a file-system path.
    public var path: String { url.path }

    /// Creates a new empty directory named `<prefix>-XXXXXX` in the temp folder.
    public init(prefix: String = "lagoon-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: base])
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        url = URL(fileURLWithPath: path, isDirectory: true)
    }

    /// Deletes the directory and everything in it (errors are ignored).
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Runs the body with a new temp directory and removes the directory afterwards,
/// whether the body returns or throws.
public func withTempDirectory<T>(
    prefix: String = "lagoon-test",
    _ body: (TempDirectory) async throws -> T
) async throws -> T {
    let directory = try TempDirectory(prefix: prefix)
    defer { directory.remove() }
    return try await body(directory)
}
