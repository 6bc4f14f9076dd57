import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A build's row-major matrix moved out of memory into an unlinked temporary file, read back a
/// row at a time. A segment build copies every vector into the segment object while it
/// assembles it; with the matrix here, the file's pages sit in the page cache (which the kernel
/// may drop), not in the process's memory beside the object (Specs/format/ivf.md §3).
final class SpilledMatrix: Sendable {
    let descriptor: Int32
    let rowBytes: Int
    let rows: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes `matrix` (`dimension` floats a row) to a new file under `directory`, removed from
    /// the directory at once so nothing outlives the build, even a crash.
    init(_ matrix: [Float], dimension: Int, directory: String) throws {
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("lagoon-build-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw Failure(description: "cannot create a temporary file under \(directory): \(String(cString: strerror(errno)))") }
        unlink(template)
        descriptor = fd
        rowBytes = dimension * 4
        rows = dimension > 0 ? matrix.count / dimension : 0
        try matrix.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    close(fd)
                    throw Failure(description: "cannot write a build's vectors to a temporary file: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Reads row `row` into `destination` (`rowBytes` bytes).
    func read(row: Int, into destination: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < rowBytes {
            let n = pread(descriptor, destination + done, rowBytes - done, off_t(row * rowBytes + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "cannot read row \(row) back from a build's temporary file") }
            done += n
        }
    }

    deinit { close(descriptor) }
}
