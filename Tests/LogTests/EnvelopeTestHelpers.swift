import Foundation
import Log
import Store

/// The `FormatError` code the body throws; nil when it returns normally. Any other error
/// is reported as a distinct value so a test can tell "wrong error" from "no error".
enum DecodeResult: Equatable, CustomStringConvertible {
    case decoded
    case formatError(FormatError.Code)
    case otherError(String)

    var description: String {
        switch self {
        case .decoded: return "decoded"
        case .formatError(let code): return "FormatError(\(code.rawValue))"
        case .otherError(let text): return "other error: \(text)"
        }
    }
}

func decodeResult(_ body: () throws -> Void) -> DecodeResult {
    do {
        try body()
        return .decoded
    } catch let error as FormatError {
        return .formatError(error.code)
    } catch {
        return .otherError(String(describing: error))
    }
}

/// Builds an envelope by hand from the layout in ObjectEnvelope.swift / Specs, so tests can
/// produce frames the public `seal` cannot (unknown encodings, lying length fields).
///
///     "LGON" | name length u8 | name | version u16 | encoding u8 | payload length u64 | payload
///     | xxh3-64 of every byte before it (u64) | "NOGL"
enum EnvelopeBytes {
    static func frame(format: String, version: UInt16, encoding: UInt8 = 0,
                      payloadLength: UInt64? = nil, payload: [UInt8]) -> Data {
        var bytes: [UInt8] = Array("LGON".utf8)
        let name = Array(format.utf8)
        bytes.append(UInt8(name.count))
        bytes += name
        bytes += withUnsafeBytes(of: version.littleEndian, Array.init)
        bytes.append(encoding)
        bytes += withUnsafeBytes(of: (payloadLength ?? UInt64(payload.count)).littleEndian, Array.init)
        bytes += payload
        let checksum = bytes.withUnsafeBytes { ContentHash.xxh3($0) }
        bytes += withUnsafeBytes(of: checksum.littleEndian, Array.init)
        bytes += Array("NOGL".utf8)
        return Data(bytes)
    }

    /// The payload of a well-formed envelope (no checks beyond the layout).
    static func payload(of data: Data) -> [UInt8] {
        let bytes = [UInt8](data)
        let nameLength = Int(bytes[4])
        let start = 4 + 1 + nameLength + 2 + 1 + 8
        return Array(bytes[start..<(bytes.count - 12)])
    }

    /// The format version recorded in a well-formed envelope.
    static func version(of data: Data) -> UInt16 {
        let bytes = [UInt8](data)
        let at = 4 + 1 + Int(bytes[4])
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }
}

/// Little-endian payload builder for hand-made (malformed) payloads.
struct PayloadBuilder {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func u64(_ v: UInt64) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func string(_ s: String) {
        u32(UInt32(s.utf8.count))
        bytes += Array(s.utf8)
    }
    mutating func raw(_ b: [UInt8]) { bytes += b }
}
