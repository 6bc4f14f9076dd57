#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A failed system call: errno, call name and path. Internal: `FileSystemStore`
/// maps it to a `StoreError` with a coarse code at its public boundary.
struct SystemCallError: Error, CustomStringConvertible {
    var errno: Int32
    var call: String
    var path: String
    var description: String {
        "\(call)(\(path)): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a system call that reports failure as -1 with errno, retrying on EINTR.
@discardableResult
func systemCall<T: BinaryInteger>(_ name: String, _ path: String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemCallError(errno: code, call: name, path: path)
    }
}

/// An owned open file descriptor: the one place the file-system store touches raw
/// buffers. The descriptor is closed when the value goes out of scope (which also
/// releases any `flock` taken through it).
struct POSIXFile: ~Copyable {
    let fd: Int32
    let path: String

    init(opening path: String, flags: Int32, mode: mode_t = 0o644) throws {
        fd = try systemCall("open", path) { open(path, flags | O_CLOEXEC, mode) }
        self.path = path
    }

    deinit { close(fd) }

    /// Size and type from `fstat`.
    func status() throws -> (size: Int, isRegularFile: Bool) {
        var info = stat()
        try systemCall("fstat", path) { fstat(fd, &info) }
        return (Int(info.st_size), (info.st_mode & S_IFMT) == S_IFREG)
    }

    /// Writes every byte (looping over short writes).
    func writeAll(_ data: Data) throws {
        try data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                done += try systemCall("write", path) { write(fd, base + done, buffer.count - done) }
            }
        }
    }

    /// Reads `length` bytes at `offset` with `pread`; fewer only at end of file.
    func read(offset: Int, length: Int) throws -> Data {
        guard length > 0 else { return Data() }
        var data = Data(count: length)
        let got = try data.withUnsafeMutableBytes { buffer -> Int in
            let base = buffer.baseAddress!
            var done = 0
            while done < length {
                let n = try systemCall("pread", path) {
                    pread(fd, base + done, length - done, off_t(offset + done))
                }
                if n == 0 { break }  // end of file
                done += n
            }
            return done
        }
        if got < length { data.count = got }
        return data
    }

    /// Maps `length` bytes at `offset` read-only (fewer only at end of file) instead of copying
    /// them: the pages come from the page cache as they are touched, so a large part that a
    /// query reads sparsely (an IVF index's probed lists) costs neither a copy nor anonymous
    /// memory. Only for immutable files: objects are written whole and never truncated (a
    /// delete unlinks the name; the mapping keeps the inode), so the pages never go away.
    func map(offset: Int, length: Int) throws -> Data {
        let size = try status().size
        let length = max(0, min(length, size - offset))
        guard length > 0 else { return Data() }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let mappedLength = offset - start + length
        guard let base = mmap(nil, mappedLength, PROT_READ, MAP_PRIVATE, fd, off_t(start)), base != MAP_FAILED else {
            throw SystemCallError(errno: errno, call: "mmap", path: path)
        }
        return Data(bytesNoCopy: base + (offset - start), count: length,
                    deallocator: .custom { _, _ in munmap(base, mappedLength) })
    }

    /// Flushes the file's data and metadata to stable storage.
    func sync() throws {
        try systemCall("fsync", path) { fsync(fd) }
    }

    /// Blocks until this descriptor holds an exclusive `flock` on the file. The lock
    /// belongs to the open file description, so it excludes other descriptors in this
    /// process as well as other processes; closing the descriptor releases it.
    /// Runs the body while holding the lock; the descriptor (and so the lock) lives at
    /// least until the body returns.
    func withExclusiveLock<T>(_ body: () throws -> T) throws -> T {
        try systemCall("flock", path) { flock(fd, LOCK_EX) }
        return try body()
    }
}

/// Makes a directory entry change (create, link, rename, unlink) durable.
func syncDirectory(_ path: String) throws {
    let directory = try POSIXFile(opening: path, flags: O_RDONLY | O_DIRECTORY)
    try directory.sync()
}
