public import Foundation
import Log
public import Store
import Synchronization

/// Where an index's list blocks are read from (Specs/format/ivf.md §2).
enum IVFListBytes: Sendable {
    /// The whole index in memory (or mapped): list blocks are read in place.
    case resident(Data)
    /// A local file holding the index (the folder store's segment object, or a disk-cache
    /// copy): a block is read into a search's buffer when the search needs it, and checked
    /// against its directory checksum the first time it is read whole. The vectors then live in the
    /// OS page cache, not in this process: memory holds the head, the row fields
    /// (`IVFListRows`) and the 8-bit copy.
    case file(LocalRangeReader, checked: IVFCheckedLists)
}

/// Which lists of a file-backed index have passed their checksum (each is checked the first
/// time it is read whole, not on every read: an exact scan reads every list).
final class IVFCheckedLists: Sendable {
    private let checked: Mutex<[Bool]>

    init(listCount: Int, allChecked: Bool = false) { checked = Mutex([Bool](repeating: allChecked, count: listCount)) }

    /// Runs `check` unless the list passed it before.
    func ensure(_ list: Int, _ check: () throws -> Void) throws {
        guard !checked.withLock({ $0[list] }) else { return }
        try check()
        checked.withLock { $0[list] = true }
    }
}

/// One search's scratch space for blocks and vectors read from a file-backed index, allocated
/// on first use and reused (a resident index never allocates it).
public final class IVFReadBuffer {
    private var storage: UnsafeMutableRawBufferPointer?

    public init() {}

    deinit { storage?.deallocate() }

    /// At least `bytes` bytes, 64-byte aligned (contents undefined).
    func space(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
        if let storage, storage.count >= bytes { return UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes]) }
        storage?.deallocate()
        let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 4096), alignment: 64)
        storage = fresh
        return UnsafeMutableRawBufferPointer(rebasing: fresh[0..<bytes])
    }
}

extension IVFListBytes {
    /// Calls `body` with list `list`'s whole block (ordinals | norms | vectors, §1.3): in place
    /// when resident; read into `buffer` and checked against its checksum when file-backed.
    func withBlock<R>(_ head: IVFHead, list: Int, _ buffer: IVFReadBuffer, object: String,
                      _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let range = head.byteRange(ofList: list)
        switch self {
        case .resident(let bytes):
            return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        case .file(let reader, let checked):
            let block = buffer.space(range.count)
            try reader.read(at: range.lowerBound, into: block)
            try checked.ensure(list) { try Self.verify(head, list: list, block: UnsafeRawBufferPointer(block), reader: reader, object: object) }
            return try body(UnsafeRawBufferPointer(block))
        }
    }

    /// Calls `body` with the f32 vector at `position` of `list`: in place when resident; read
    /// into `buffer` when file-backed, once its list passed its checksum (a search usually
    /// checked it already when it encoded or scanned the list; else the list is read whole
    /// once, here). `unchecked` skips that for the quantiser's range sample, which only
    /// steers the first pass: every distance a search returns comes from a checked list.
    func withVector<R>(_ head: IVFHead, list: Int, position: Int, _ buffer: IVFReadBuffer, object: String, unchecked: Bool = false,
                       _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let d = head.dimension
        let at = head.lists[list].offset + head.layout(ofList: list).vectorsOffset + position * d * 4
        switch self {
        case .resident(let bytes):
            return try bytes.withUnsafeBytes { raw in
                try body(UnsafeBufferPointer(start: (raw.baseAddress! + at).assumingMemoryBound(to: Float.self), count: d))
            }
        case .file(let reader, let checked):
            if !unchecked { try checked.ensure(list) {
                let range = head.byteRange(ofList: list)
                let block = buffer.space(range.count)
                try reader.read(at: range.lowerBound, into: block)
                try Self.verify(head, list: list, block: UnsafeRawBufferPointer(block), reader: reader, object: object)
            } }
            let space = buffer.space(d * 4)
            try reader.read(at: at, into: space)
            return try body(UnsafeBufferPointer(start: space.baseAddress!.assumingMemoryBound(to: Float.self), count: d))
        }
    }

    /// Checks a list read from a file against its directory checksum; a mismatch is reported
    /// to the file's owner (a cache drops its copy) before it fails the caller.
    private static func verify(_ head: IVFHead, list: Int, block: UnsafeRawBufferPointer, reader: LocalRangeReader, object: String) throws {
        do {
            try head.verify(list: list, block: block, object: object)
        } catch {
            reader.reportDamage()
            throw error
        }
    }

    /// Fills `prefix` with the first bytes of list `list`'s block (its ordinals and norms).
    func readPrefix(_ head: IVFHead, list: Int, into prefix: UnsafeMutableRawBufferPointer) throws {
        let offset = head.lists[list].offset
        switch self {
        case .resident(let bytes):
            bytes.withUnsafeBytes { prefix.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + prefix.count)])) }
        case .file(let reader, _):
            try reader.read(at: offset, into: prefix)
        }
    }
}

extension IVFListBytes {
    /// The bytes to open a file-backed index from (every list's ordinals and norms, the
    /// quantiser's range sample): its file mapped for that pass (thousands of scattered reads:
    /// page faults instead of a `pread` each), when the mapping is whole and 4-byte aligned;
    /// otherwise these bytes as they are.
    func forSampling() -> IVFListBytes {
        guard case .file(let reader, _) = self, let mapping = try? reader.mapped(), mapping.count == reader.length,
              mapping.withUnsafeBytes({ Int(bitPattern: $0.baseAddress) % 4 == 0 }) else { return self }
        return .resident(mapping)
    }
}

extension IVFIndex {
    func withBlock<R>(_ list: Int, _ buffer: IVFReadBuffer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try storage.withBlock(head, list: list, buffer, object: object, body)
    }

    func withVector<R>(list: Int, position: Int, _ buffer: IVFReadBuffer, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        try storage.withVector(head, list: list, position: position, buffer, object: object, body)
    }

    /// Whether the lists are read from a local file rather than held in memory.
    public var readsFromFile: Bool {
        if case .file = storage { return true }
        return false
    }
}
