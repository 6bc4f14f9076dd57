// LEB128 unsigned varints and zigzag-encoded signed varints.
//
// Encoding: 7 value bits per byte, least significant group first, high bit set on every byte
// but the last. A UInt64 takes 1...10 bytes; the 10th byte may only carry the top bit (value
// 0 or 1). Zigzag maps signed to unsigned so small magnitudes stay short:
// 0→0, −1→1, 1→2, −2→3, … (`(n << 1) ^ (n >> 63)`).
//
// Decoding never traps on bad input: running off the end of the buffer is `.truncated`, an
// 11th continuation byte or a 10th byte > 1 is `.malformed`. The offset is only advanced on
// success.

/// Why a varint could not be decoded. `code` is coarse: retrying never helps, the bytes are
/// either cut short or corrupt.
public struct VarIntError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        @usableFromInline internal let raw: UInt8
        @inlinable internal init(raw: UInt8) { self.raw = raw }
        /// The buffer ended before the varint did (or the offset was outside the buffer).
        public static let truncated = Code(raw: 1)
        /// The bytes cannot be a canonical-width 64-bit varint (too long or overflowing).
        public static let malformed = Code(raw: 2)
        public var description: String { raw == 1 ? "truncated" : "malformed" }
    }

    public let code: Code
    /// Byte offset where the varint started.
    public let offset: Int

    @inlinable
    public init(code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "varint \(code) at offset \(offset)" }
}

/// LEB128 / zigzag varint encoding and decoding.
public enum VarInt {
    /// Maximum encoded length of a 64-bit value.
    public static let maxLength = 10

    /// Number of bytes `value` encodes to (1...10).
    @inlinable
    public static func encodedLength(_ value: UInt64) -> Int {
        // ceil(significantBits / 7), at least 1.
        let bits = 64 &- (value | 1).leadingZeroBitCount
        return (bits &+ 6) / 7
    }

    // MARK: Encode

    /// Appends the LEB128 encoding of `value`.
    @inlinable
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    /// Appends the zigzag + LEB128 encoding of `value`.
    @inlinable
    public static func appendSigned(_ value: Int64, to bytes: inout [UInt8]) {
        append(zigzagEncode(value), to: &bytes)
    }

    @inlinable
    public static func zigzagEncode(_ n: Int64) -> UInt64 {
        UInt64(bitPattern: (n &<< 1) ^ (n >> 63))
    }

    @inlinable
    public static func zigzagDecode(_ u: UInt64) -> Int64 {
        Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    // MARK: Decode

    /// Decodes one unsigned varint starting at `offset` and advances `offset` past it.
    /// On error `offset` is left unchanged.
    @inlinable
    public static func decode(from buffer: UnsafeRawBufferPointer, offset: inout Int) throws(VarIntError) -> UInt64 {
        let start = offset
        guard start >= 0 && start <= buffer.count else {
            throw VarIntError(code: .truncated, offset: start)
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = start
        while true {
            guard i < buffer.count else { throw VarIntError(code: .truncated, offset: start) }
            let b = buffer[i]
            i &+= 1
            if shift == 63 {
                // 10th byte: only the lowest bit fits, and it must be the last byte.
                guard b <= 1 else { throw VarIntError(code: .malformed, offset: start) }
                result |= UInt64(b) &<< 63
                break
            }
            result |= UInt64(b & 0x7F) &<< shift
            if b < 0x80 { break }
            shift &+= 7
        }
        offset = i
        return result
    }

    /// Decodes one zigzag-encoded signed varint starting at `offset` and advances `offset`.
    /// On error `offset` is left unchanged.
    @inlinable
    public static func decodeSigned(from buffer: UnsafeRawBufferPointer, offset: inout Int) throws(VarIntError) -> Int64 {
        zigzagDecode(try decode(from: buffer, offset: &offset))
    }

    /// Like `decode(from:offset:)` but returns nil instead of throwing.
    @inlinable
    public static func tryDecode(from buffer: UnsafeRawBufferPointer, offset: inout Int) -> UInt64? {
        try? decode(from: buffer, offset: &offset)
    }
}
