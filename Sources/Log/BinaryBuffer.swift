public import Foundation

/// Appends little-endian fixed-width values to a byte buffer. Lengths are u32, so the
/// codec needs no variable-length integers and every field's offset is easy to audit.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }
    public mutating func raw(_ data: some Collection<UInt8>) { bytes.append(contentsOf: data) }

    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends floats as little-endian f32 in one copy (Lagoon runs on little-endian hosts).
    public mutating func floats(_ values: [Float]) {
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
}

/// Reads what `BinaryWriter` wrote; every read is bounds-checked and a short buffer
/// raises `FormatError.corrupt`, never a crash.
public struct BinaryReader {
    private let base: UnsafeRawBufferPointer
    public private(set) var offset: Int
    private let end: Int
    private let object: String

    /// Reads `base[offset..<end]`; the buffer must outlive the reader.
    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil, object: String) {
        self.base = base
        self.offset = offset
        self.end = end ?? base.count
        self.object = object
    }

    public var remaining: Int { end - offset }

    /// Steps over `n` bytes, returning where they start.
    public mutating func skip(_ n: Int) throws -> Int { try take(n) }

    private mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, n <= end - offset else {
            throw FormatError(.corrupt, object: object, "truncated at byte \(offset) (need \(n) more)")
        }
        let at = offset
        offset += n
        return at
    }

    public mutating func u8() throws -> UInt8 { base[try take(1)] }
    public mutating func u16() throws -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self)) }
    public mutating func u32() throws -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)) }
    public mutating func u64() throws -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self)) }
    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    public mutating func f64() throws -> Double { Double(bitPattern: try u64()) }

    public mutating func rawBytes(_ n: Int) throws -> [UInt8] {
        let at = try take(n)
        return Array(base[at..<at + n])
    }

    public mutating func string() throws -> String {
        let n = Int(try u32())
        let at = try take(n)
        guard let s = String(validating: base[at..<at + n], as: UTF8.self) else {
            throw FormatError(.corrupt, object: object, "invalid UTF-8 at byte \(at)")
        }
        return s
    }

    public mutating func floats(_ count: Int) throws -> [Float] {
        let at = try take(count * MemoryLayout<Float>.size)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: base[at..<at + count * 4]))
            initialized = count
        }
    }

    /// `count` u32 row numbers, strictly ascending and below `bound` (the rows of a sparse
    /// column, the rows that have a vector); `what` names them in the corruption message.
    public mutating func ascendingRows(_ count: Int, below bound: Int, _ what: String) throws -> [Int32] {
        var rows = [Int32](repeating: 0, count: count)
        var previous = -1
        for i in 0..<count {
            let row = Int(try u32())
            guard row > previous, row < bound else { throw corrupt("\(what) rows out of order") }
            rows[i] = Int32(row)
            previous = row
        }
        return rows
    }

    public func corrupt(_ message: String) -> FormatError {
        FormatError(.corrupt, object: object, message)
    }
}
