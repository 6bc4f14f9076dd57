public import Foundation
public import Log
import Store

/// The container of a segment object (Specs/format/segment.md): a header, the parts back to
/// back, a part table, and a fixed 32-byte trailer that locates and checksums the table.
///
///     header:  "LSEG" | version u16 | encoding u8 | reserved u8
///     parts:   bytes of each part, in table order, each starting at a multiple of 64
///     table:   part count u32, then per part: name (u32 length + UTF-8), offset u64, length u64, xxh3-64 u64
///     trailer: version u16 | encoding u8 | reserved u8 | table offset u64 | table length u64
///              | xxh3-64 of the table u64 | "GESL"
///
/// A reader fetches the trailer (one ranged read of the last 32 bytes), then the table, then
/// only the parts a query needs, each verified against its own checksum. The manifest's segment
/// reference usually carries a copy of the table (`directory(ofObject:key:)`), which spares the
/// first two reads.
public enum SegmentFile {
    public static let version: UInt16 = 1
    public static let readable: ClosedRange<UInt16> = 1...1
    static let headerMagic: [UInt8] = Array("LSEG".utf8)
    static let trailerMagic: [UInt8] = Array("GESL".utf8)
    public static let headerSize = 8
    public static let trailerSize = 32

    /// Where one part lives inside the object.
    public struct PartLocation: Sendable, Equatable {
        public var offset: Int
        public var length: Int
        public var checksum: UInt64
    }

    /// The parsed trailer: where the part table is.
    public struct Trailer: Sendable, Equatable {
        public var version: UInt16
        public var tableOffset: Int
        public var tableLength: Int
        public var tableChecksum: UInt64
    }

    /// Every part starts at a multiple of this many bytes (zero padding between parts), so a
    /// reader that maps the object can view a part's floats in place.
    public static let partAlignment = 64

    static func aligned(_ offset: Int) -> Int { (offset + partAlignment - 1) / partAlignment * partAlignment }

    /// What one part of a segment being assembled holds.
    public enum PartContent {
        case bytes(any ContiguousBytes)
        /// `length` bytes that `write` encodes straight into their place in the object (handed
        /// to it zero-filled): a large part is then never held beside the object it goes into.
        case written(length: Int, write: (UnsafeMutableRawBufferPointer) throws -> Void)

        var length: Int {
            switch self {
            case .bytes(let bytes): bytes.withUnsafeBytes { $0.count }
            case .written(let length, _): length
            }
        }
    }

    /// `assemble` for large segments: each part goes into the object and is released right
    /// after, so the build never holds the parts and the whole object at once.
    public static func assemble(consuming parts: consuming [(name: String, content: PartContent)]) throws -> Data {
        var parts = parts
        // Every offset is known before a byte is written: the table's length depends only on
        // the part names.
        var offsets: [Int] = []
        var offset = aligned(headerSize)
        var tableLength = 4
        for part in parts {
            offsets.append(offset)
            offset = aligned(offset + part.content.length)
            tableLength += 4 + part.name.utf8.count + 24
        }
        let tableOffset = offset
        var object = Data(count: tableOffset + tableLength + trailerSize)
        try object.withUnsafeMutableBytes { out in
            var head = BinaryWriter()
            head.raw(headerMagic)
            head.u16(version)
            head.u8(ObjectEnvelope.Encoding.f32.rawValue)
            head.u8(0)
            head.bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            var table = BinaryWriter()
            table.u32(UInt32(parts.count))
            for i in parts.indices {
                let range = offsets[i]..<(offsets[i] + parts[i].content.length)
                let slot = UnsafeMutableRawBufferPointer(rebasing: out[range])
                switch parts[i].content {
                case .bytes(let bytes): bytes.withUnsafeBytes { slot.copyMemory(from: $0) }
                case .written(_, let write): try write(slot)
                }
                parts[i].content = .bytes([UInt8]())  // the padding after it stays zero (`Data(count:)`)
                table.string(parts[i].name)
                table.u64(UInt64(range.lowerBound))
                table.u64(UInt64(range.count))
                table.u64(ContentHash.xxh3(UnsafeRawBufferPointer(slot)))
            }
            precondition(table.bytes.count == tableLength, "SegmentFile.assemble: part table length")
            var trailer = BinaryWriter()
            trailer.u16(version)
            trailer.u8(ObjectEnvelope.Encoding.f32.rawValue)
            trailer.u8(0)
            trailer.u64(UInt64(tableOffset))
            trailer.u64(UInt64(tableLength))
            trailer.u64(table.bytes.withUnsafeBytes { ContentHash.xxh3($0) })
            trailer.raw(trailerMagic)
            table.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[tableOffset...]).copyMemory(from: $0) }
            trailer.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[(tableOffset + tableLength)...]).copyMemory(from: $0) }
        }
        return object
    }

    /// Parses the last 32 bytes of an object of `objectSize` bytes.
    public static func trailer(_ bytes: Data, objectSize: Int, object: String) throws -> Trailer {
        guard bytes.count == trailerSize, objectSize >= headerSize + trailerSize + 4 else {
            throw FormatError(.corrupt, object: object, "\(objectSize) bytes is shorter than any segment")
        }
        return try bytes.withUnsafeBytes { raw in
            guard raw.suffix(4).elementsEqual(trailerMagic) else {
                throw FormatError(.corrupt, object: object, "bad segment trailer magic")
            }
            var r = BinaryReader(raw, object: object)
            let version = try r.u16()
            let encoding = try r.u8()
            _ = try r.u8()
            if version > readable.upperBound {
                throw FormatError(.tooNew, object: object, "segment version \(version); this build reads up to \(readable.upperBound)")
            }
            if version < readable.lowerBound {
                throw FormatError(.tooOld, object: object, "segment version \(version); this build reads from \(readable.lowerBound)")
            }
            guard ObjectEnvelope.Encoding(rawValue: encoding) != nil else {
                throw FormatError(.tooNew, object: object, "unknown vector encoding \(encoding)")
            }
            let offset = try r.u64(), length = try r.u64(), checksum = try r.u64()
            let limit = UInt64(objectSize - trailerSize)
            guard offset >= UInt64(headerSize), length <= limit, offset <= limit - length else {
                throw FormatError(.corrupt, object: object, "part table \(offset)+\(length) lies outside the object")
            }
            return Trailer(version: version, tableOffset: Int(offset), tableLength: Int(length), tableChecksum: checksum)
        }
    }

    /// Parses and verifies the part table.
    public static func partTable(_ bytes: Data, trailer: Trailer, object: String) throws -> [String: PartLocation] {
        var parts: [String: PartLocation] = [:]
        for (name, location) in try orderedPartTable(bytes, trailer: trailer, object: object) { parts[name] = location }
        return parts
    }

    /// The part table's entries in table order (names already checked to be unique).
    static func orderedPartTable(_ bytes: Data, trailer: Trailer, object: String) throws -> [(name: String, location: PartLocation)] {
        try bytes.withUnsafeBytes { raw in
            guard ContentHash.xxh3(raw) == trailer.tableChecksum else {
                throw FormatError(.corrupt, object: object, "part table checksum mismatch")
            }
            var r = BinaryReader(raw, object: object)
            let count = Int(try r.u32())
            guard count <= raw.count / 28 + 1 else { throw r.corrupt("part count \(count) exceeds the table") }
            var parts: [(name: String, location: PartLocation)] = []
            var names = Set<String>()
            for _ in 0..<count {
                let name = try r.string()
                let offset = try r.u64(), length = try r.u64(), checksum = try r.u64()
                guard offset >= UInt64(headerSize), length <= UInt64(trailer.tableOffset),
                      offset <= UInt64(trailer.tableOffset) - length else {
                    throw r.corrupt("part \(name) at \(offset)+\(length) overlaps the table")
                }
                guard names.insert(name).inserted else { throw r.corrupt("part \(name) appears twice") }
                parts.append((name, PartLocation(offset: Int(offset), length: Int(length), checksum: checksum)))
            }
            guard r.remaining == 0 else { throw r.corrupt("\(r.remaining) trailing bytes in the part table") }
            return parts
        }
    }

    // MARK: The part directory in the manifest (Specs/format/manifest.md §7)

    /// The part directory of a whole segment object (as `assemble` returned it), for the
    /// manifest's segment reference: its part table, in table order.
    public static func directory(ofObject object: Data, key: String) throws -> [SegmentPartEntry] {
        let trailer = try trailer(Data(object.suffix(trailerSize)), objectSize: object.count, object: key)
        let start = object.startIndex + trailer.tableOffset
        let table = try orderedPartTable(Data(object[start..<(start + trailer.tableLength)]), trailer: trailer, object: key)
        return table.map { SegmentPartEntry(name: $0.name, offset: $0.location.offset, length: $0.location.length, checksum: $0.location.checksum) }
    }

    /// The part locations of a manifest's directory, checked against the object's size: parts
    /// lie after the header, do not overlap, and are followed by exactly the part table these
    /// entries serialize to and the trailer. So a directory that lost or gained a part, or
    /// belongs to another object, is `corrupt`; a wrong offset or checksum fails the part's own
    /// checksum when it is read. Either way never wrong data.
    public static func locations(ofDirectory entries: [SegmentPartEntry], objectSize: Int, object: String) throws -> [String: PartLocation] {
        func corrupt(_ message: String) -> FormatError {
            FormatError(.corrupt, object: object, "the manifest's part directory \(message)")
        }
        var parts: [String: PartLocation] = [:]
        var tableLength = 4
        var end = headerSize
        for entry in entries.sorted(by: { $0.offset < $1.offset }) {
            guard entry.length >= 0, entry.offset >= end, entry.offset <= objectSize - entry.length else {
                throw corrupt("places part \(entry.name) at \(entry.offset)+\(entry.length), outside the object or over another part")
            }
            guard parts[entry.name] == nil else { throw corrupt("lists part \(entry.name) twice") }
            parts[entry.name] = PartLocation(offset: entry.offset, length: entry.length, checksum: entry.checksum)
            tableLength += 4 + entry.name.utf8.count + 24
            end = entry.offset + entry.length
        }
        // The table follows the last part directly (segments written before parts were
        // aligned) or at the next multiple of `partAlignment`.
        guard [end, aligned(end)].contains(objectSize - tableLength - trailerSize) else {
            throw corrupt("does not match the object: parts end at \(end), a table of \(tableLength) bytes and the trailer make \(end + tableLength + trailerSize), the object has \(objectSize)")
        }
        return parts
    }

    /// Verifies a fetched part against its checksum.
    public static func verify(_ bytes: Data, _ location: PartLocation, name: String, object: String) throws {
        guard bytes.count == location.length else {
            throw FormatError(.corrupt, object: object, "part \(name): \(bytes.count) bytes, expected \(location.length)")
        }
        guard ContentHash.xxh3(bytes) == location.checksum else {
            throw FormatError(.corrupt, object: object, "part \(name) checksum mismatch")
        }
    }
}
