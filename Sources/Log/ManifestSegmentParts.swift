/// One entry of a segment's part directory as the manifest carries it (Specs/format/manifest.md
/// §7): a copy of the segment's part-table entry, so a node opening the segment reads the parts
/// it needs without first fetching the trailer and table. Log-level plain data: Segments turns
/// a directory into part locations and checks it against the object's size.
///
/// Encoded compactly (a segment has tens of parts, and every manifest read decodes them) as a
/// JSON array `[name, offset, length, "xxh3-64 as 16 lower-case hex digits"]`; the checksum is a
/// string because JSON readers outside Swift lose integer precision above 2^53.
public struct SegmentPartEntry: Sendable, Equatable, Codable {
    public var name: String
    /// Byte offset of the part in the segment object.
    public var offset: Int
    public var length: Int
    /// xxh3-64 of the part's bytes.
    public var checksum: UInt64

    public init(name: String, offset: Int, length: Int, checksum: UInt64) {
        self.name = name
        self.offset = offset
        self.length = length
        self.checksum = checksum
    }

    public init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        name = try fields.decode(String.self)
        offset = try fields.decode(Int.self)
        length = try fields.decode(Int.self)
        let hex = try fields.decode(String.self)
        guard hex.utf8.count == 16, hex.utf8.allSatisfy({ Self.hexDigits.contains($0) }), let checksum = UInt64(hex, radix: 16) else {
            throw DecodingError.dataCorruptedError(in: fields, debugDescription: "part \(name): checksum \"\(hex)\" is not 16 lower-case hex digits")
        }
        self.checksum = checksum
        guard fields.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: fields, debugDescription: "part \(name): more than four fields")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(name)
        try fields.encode(offset)
        try fields.encode(length)
        let hex = String(checksum, radix: 16)
        try fields.encode(String(repeating: "0", count: 16 - hex.count) + hex)
    }

    private static let hexDigits = Set("0123456789abcdef".utf8)
}
