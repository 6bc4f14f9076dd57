public import Foundation

/// Relaunching the running test binary as worker processes, so a test can make several
/// OS processes contend on one store folder (the technique of
/// `Tests/StoreTests/FileSystemStoreCrossProcessTests.swift`, shared here for other targets).
///
/// A worker runs one test, selected with `--filter`, that is enabled only when the worker's
/// environment variables are set. It needs the SwiftPM test runner on Linux (an executable
/// `…PackageTests.xctest` started with `--testing-library swift-testing`); elsewhere
/// `isAvailable` is false and the multi-process test should be skipped.
public enum WorkerProcess {
    /// The running test executable, or nil when it cannot be relaunched.
    public static var testExecutable: String? {
        guard let path = CommandLine.arguments.first, path.hasSuffix(".xctest"),
              FileManager.default.isExecutableFile(atPath: path),
              CommandLine.arguments.contains("swift-testing")
        else { return nil }
        return path
    }

    /// True when workers can be launched and this process is not itself a worker
    /// (recognised by `workerVariable` being set).
    public static func isAvailable(unlessSet workerVariable: String) -> Bool {
        #if os(Linux)
        return testExecutable != nil && ProcessInfo.processInfo.environment[workerVariable] == nil
        #else
        return false
        #endif
    }

    /// Starts the test binary running only the tests matching `filter`, with extra
    /// environment variables; its standard output and error go to `log` (created if absent).
    public static func launch(filter: String, environment: [String: String], log: URL) throws -> Process {
        guard let executable = testExecutable else {
            throw CocoaError(.executableNotLoadable)
        }
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--testing-library", "swift-testing", "--filter", filter]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }
}
