#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import Foundation

/// Positional reads of one range of an immutable object that a local file holds: the folder
/// store's object file, or the disk cache's copy of the range. For readers that touch a large
/// part sparsely and often (an IVF index's lists: probed lists and re-ranked vectors): each read
/// copies only the bytes asked for into the caller's buffer, so the part stays in the OS page
/// cache instead of the process's memory, and a read costs a system call, not a request.
///
/// The descriptor stays open as long as the reader lives: a delete or an eviction unlinks the
/// name, not the inode, and objects are never rewritten in place, so the bytes cannot change
/// under a reader. Checking them is the caller's job (formats checksum their blocks); a caller
/// that finds them damaged says so with `reportDamage()`, and a cache drops its copy.
public final class LocalRangeReader: Sendable {
    /// Bytes of the range (reads are relative to its first byte).
    public let length: Int
    /// Bytes of the whole file when it was opened.
    let fileSize: Int
    private let file: POSIXFile
    /// Where the range starts in the file.
    private let fileOffset: Int
    private let key: String
    private let onDamage: (@Sendable () -> Void)?

    /// Opens `path`, whose bytes from `fileOffset` on are the range; nil when the file is
    /// absent or shorter than `fileOffset + length`. `onDamage` runs when a caller reports
    /// damaged bytes.
    init?(path: String, fileOffset: Int, length: Int, key: String, onDamage: (@Sendable () -> Void)? = nil) throws {
        let file: POSIXFile
        do {
            file = try POSIXFile(opening: path, flags: O_RDONLY)
        } catch let error as SystemCallError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
        let status = try file.status()
        guard status.isRegularFile, fileOffset >= 0, length >= 0, status.size >= fileOffset + length else { return nil }
        self.file = file
        self.fileSize = status.size
        self.fileOffset = fileOffset
        self.length = length
        self.key = key
        self.onDamage = onDamage
    }

    /// Tells the owner of the file that bytes read from it failed their checksum (a cache
    /// then forgets its copy, so the next open reads the object from the store again).
    public func reportDamage() {
        onDamage?()
    }

    /// Fills `buffer` with the range's bytes from `offset` on. Throws `StoreError` (`.io`) for
    /// a read outside the range or a failed system call.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, buffer.count <= length - offset else {
            throw StoreError(.io, key: key, "local read of \(buffer.count) bytes at \(offset) outside the range's \(length)")
        }
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try systemCall("pread", file.path) { pread(file.fd, base + done, buffer.count - done, off_t(fileOffset + offset + done)) }
            } catch let error as SystemCallError {
                throw StoreError(FileSystemStore.code(for: error.errno), key: key, error.description)
            }
            guard n > 0 else { throw StoreError(.io, key: key, "\(file.path) ended before byte \(fileOffset + offset + done)") }
            done += n
        }
    }

    /// The range mapped into memory (read-only), for one pass that touches scattered bytes of
    /// it (a sample of rows): pages come in from the page cache by faults, not one system call
    /// per read. The mapping ends when the `Data` is released; the file is never truncated
    /// or rewritten, so it stays valid meanwhile.
    public func mapped() throws -> Data {
        try mapped(at: 0, count: length)
    }

    /// `count` bytes from `offset` on, mapped (read-only): a large block read once (an index's
    /// head) comes in by a few faults of page-cache pages instead of a copy into fresh,
    /// zero-filled memory.
    public func mapped(at offset: Int, count: Int) throws -> Data {
        guard offset >= 0, count >= 0, count <= length - offset else {
            throw StoreError(.io, key: key, "local mapping of \(count) bytes at \(offset) outside the range's \(length)")
        }
        do {
            return try file.map(offset: fileOffset + offset, length: count)
        } catch let error as SystemCallError {
            throw StoreError(FileSystemStore.code(for: error.errno), key: key, error.description)
        }
    }

    /// The `count` bytes from `offset` on, in a new buffer.
    public func read(at offset: Int, count: Int) throws -> Data {
        var data = Data(count: count)
        try data.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return data
    }
}
