public import Foundation
import Store

/// The frame every persisted Lagoon object shares (Specs/format/envelope.md):
///
///     "LGON" | name length u8 | name | version u16 | encoding u8 | payload length u64 | payload
///     | xxh3-64 of every byte before it (u64) | "NOGL"
///
/// Readers check the magic, the name, the checksum and the version, and answer
/// corrupt / too new / too old with distinct errors.
public enum ObjectEnvelope {
    static let magic: [UInt8] = Array("LGON".utf8)
    static let footerMagic: [UInt8] = Array("NOGL".utf8)
    static let footerSize = 12

    /// The vector encoding byte: f32 today; f16, int8 and RaBitQ are reserved.
    public enum Encoding: UInt8, Sendable {
        case f32 = 0
    }

    public static func seal(format: String, version: UInt16, encoding: Encoding = .f32, payload: [UInt8]) -> Data {
        var w = BinaryWriter(reservingCapacity: payload.count + 40)
        w.raw(magic)
        let name = Array(format.utf8)
        w.u8(UInt8(name.count))
        w.raw(name)
        w.u16(version)
        w.u8(encoding.rawValue)
        w.u64(UInt64(payload.count))
        w.raw(payload)
        let checksum = w.bytes.withUnsafeBytes { ContentHash.xxh3($0) }
        w.u64(checksum)
        w.raw(footerMagic)
        return Data(w.bytes)
    }

    /// Checks the frame and calls `body` with a reader positioned on the payload and the
    /// object's format version.
    public static func open<T>(
        _ data: Data, format: String, object: String,
        supported: ClosedRange<UInt16>,
        _ body: (inout BinaryReader, UInt16) throws -> T
    ) throws -> T {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> T in
            let minimum = magic.count + 1 + 2 + 1 + 8 + footerSize
            guard raw.count >= minimum else {
                throw FormatError(.corrupt, object: object, "\(raw.count) bytes is shorter than any envelope")
            }
            guard raw.prefix(4).elementsEqual(magic) else {
                throw FormatError(.corrupt, object: object, "bad magic")
            }
            guard raw.suffix(4).elementsEqual(footerMagic) else {
                throw FormatError(.corrupt, object: object, "bad footer magic")
            }
            let checked = raw.count - footerSize
            let stored = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: checked, as: UInt64.self))
            guard ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: raw[0..<checked])) == stored else {
                throw FormatError(.corrupt, object: object, "checksum mismatch")
            }
            var header = BinaryReader(raw, offset: 4, end: checked, object: object)
            let nameLength = Int(try header.u8())
            let name = String(decoding: try header.rawBytes(nameLength), as: UTF8.self)
            guard name == format else {
                throw FormatError(.corrupt, object: object, "expected a \(format) object, found \(name)")
            }
            let version = try header.u16()
            let encoding = try header.u8()
            if version > supported.upperBound {
                throw FormatError(.tooNew, object: object,
                                  "\(format) version \(version); this build reads up to \(supported.upperBound)")
            }
            if version < supported.lowerBound {
                throw FormatError(.tooOld, object: object,
                                  "\(format) version \(version); this build reads from \(supported.lowerBound)")
            }
            guard Encoding(rawValue: encoding) != nil else {
                throw FormatError(.tooNew, object: object, "unknown vector encoding \(encoding)")
            }
            let length = try header.u64()  // compared as u64: Int(_:) would trap above Int.max
            guard length == UInt64(header.remaining) else {
                throw FormatError(.corrupt, object: object, "payload length \(length) does not match \(header.remaining)")
            }
            var payload = BinaryReader(raw, offset: header.offset, end: checked, object: object)
            return try body(&payload, version)
        }
    }
}
