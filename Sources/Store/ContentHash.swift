public import Foundation
import CXXHash

/// xxh3-64 content hashing (libxxhash), used for etags and for the checksums in
/// every persisted object's footer.
public enum ContentHash {
    /// The xxh3-64 hash (seed 0) of the bytes.
    public static func xxh3(_ data: Data) -> UInt64 {
        data.withUnsafeBytes { xxh3($0) }
    }

    /// The xxh3-64 hash (seed 0) of the bytes in the buffer (checksums a slice of a
    /// larger buffer without copying it).
    public static func xxh3(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
        // libxxhash accepts NULL only together with a zero length; an empty
        // buffer may have a nil base address, so pass any valid pointer.
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            return withUnsafeBytes(of: 0 as UInt8) { XXH3_64bits($0.baseAddress, 0) }
        }
        return XXH3_64bits(base, buffer.count)
    }

    /// The etag of the bytes: their xxh3-64 hash as 16 lower-case hex digits.
    public static func etag(_ data: Data) -> String {
        hex(xxh3(data))
    }

    /// A hash as exactly 16 lower-case hex digits (zero-padded).
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
