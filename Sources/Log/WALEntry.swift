public import Foundation

/// One immutable WAL object: the resolved events of one group commit
/// (Specs/format/wal.md). The entry's `seq` is the sequence number the manifest that
/// commits it assigns; an entry whose commit lost the race is an orphan and is never read.
public struct WALEntry: Sendable, Equatable {
    public var seq: UInt64
    public var createdAtMillis: Int64
    /// A token of the writer that made the entry, so a writer can recognise its own
    /// commit after an ambiguous store answer.
    public var writerToken: String
    public var events: [WriteEvent]

    public init(seq: UInt64, createdAtMillis: Int64, writerToken: String, events: [WriteEvent]) {
        self.seq = seq
        self.createdAtMillis = createdAtMillis
        self.writerToken = writerToken
        self.events = events
    }
}

/// Encodes and decodes WAL entries (format "wal", version 1).
public enum WALCodec {
    public static let format = "wal"
    public static let version: UInt16 = 1
    public static let readable: ClosedRange<UInt16> = 1...1

    enum EventTag: UInt8 { case upsert = 1, patch = 2, delete = 3 }
    public enum IDTag: UInt8 { case uint = 1, uuid = 2, string = 3 }
    enum ValueTag: UInt8 { case null = 0, boolFalse = 1, boolTrue = 2, int = 3, uint = 4, float = 5, string = 6, array = 7 }

    public static func encode(_ entry: WALEntry) -> Data {
        let vectorBytes = entry.events.reduce(0) { total, event in
            if case .upsert(let d) = event { return total + (d.vector?.count ?? 0) * 4 + 64 }
            return total + 64
        }
        var w = BinaryWriter(reservingCapacity: vectorBytes + 64)
        w.u64(entry.seq)
        w.i64(entry.createdAtMillis)
        w.string(entry.writerToken)
        w.u32(UInt32(entry.events.count))
        for event in entry.events {
            switch event {
            case .upsert(let doc):
                w.u8(EventTag.upsert.rawValue)
                writeID(doc.id, &w)
                writeVector(doc.vector, &w)
                writeAttributes(doc.attributes, &w)
            case .patch(let id, let attributes, let vector):
                w.u8(EventTag.patch.rawValue)
                writeID(id, &w)
                writeVector(vector, &w)
                writeAttributes(attributes, &w)
            case .delete(let id):
                w.u8(EventTag.delete.rawValue)
                writeID(id, &w)
            }
        }
        return ObjectEnvelope.seal(format: format, version: version, payload: w.bytes)
    }

    public static func decode(_ data: Data, object: String) throws -> WALEntry {
        try ObjectEnvelope.open(data, format: format, object: object, supported: readable) { r, _ in
            let seq = try r.u64()
            let created = try r.i64()
            let token = try r.string()
            let count = Int(try r.u32())
            guard count <= r.remaining else { throw r.corrupt("event count \(count) exceeds the payload") }
            var events: [WriteEvent] = []
            events.reserveCapacity(count)
            for _ in 0..<count {
                guard let tag = EventTag(rawValue: try r.u8()) else { throw r.corrupt("unknown event tag") }
                let id = try readID(&r)
                switch tag {
                case .upsert:
                    let vector = try readVector(&r)
                    let attributes = try readAttributes(&r)
                    events.append(.upsert(Document(id: id, vector: vector, attributes: attributes)))
                case .patch:
                    let vector = try readVector(&r)
                    let attributes = try readAttributes(&r)
                    events.append(.patch(id: id, attributes: attributes, vector: vector))
                case .delete:
                    events.append(.delete(id))
                }
            }
            guard r.remaining == 0 else { throw r.corrupt("\(r.remaining) trailing bytes") }
            return WALEntry(seq: seq, createdAtMillis: created, writerToken: token, events: events)
        }
    }

    public static func writeID(_ id: DocumentID, _ w: inout BinaryWriter) {
        switch id {
        case .uint(let v):
            w.u8(IDTag.uint.rawValue)
            w.u64(v)
        case .uuid(let u):
            w.u8(IDTag.uuid.rawValue)
            withUnsafeBytes(of: u.uuid) { w.raw($0) }
        case .string(let s):
            w.u8(IDTag.string.rawValue)
            w.string(s)
        }
    }

    public static func readID(_ r: inout BinaryReader) throws -> DocumentID {
        switch IDTag(rawValue: try r.u8()) {
        case .uint: return .uint(try r.u64())
        case .uuid:
            let b = try r.rawBytes(16)
            return .uuid(UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                                     b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])))
        case .string: return .string(try r.string())
        case nil: throw r.corrupt("unknown id tag")
        }
    }

    static func writeVector(_ vector: [Float]?, _ w: inout BinaryWriter) {
        guard let vector else {
            w.u8(0)
            return
        }
        w.u8(1)
        w.u32(UInt32(vector.count))
        w.floats(vector)
    }

    static func readVector(_ r: inout BinaryReader) throws -> [Float]? {
        switch try r.u8() {
        case 0: return nil
        case 1:
            let n = Int(try r.u32())
            return try r.floats(n)
        default: throw r.corrupt("bad vector flag")
        }
    }

    static func writeAttributes(_ attributes: [String: AttributeValue], _ w: inout BinaryWriter) {
        w.u32(UInt32(attributes.count))
        // Sorted so that equal documents encode to equal bytes.
        for name in attributes.keys.sorted() {
            w.string(name)
            writeValue(attributes[name]!, &w)
        }
    }

    static func readAttributes(_ r: inout BinaryReader) throws -> [String: AttributeValue] {
        let n = Int(try r.u32())
        guard n <= r.remaining else { throw r.corrupt("attribute count \(n) exceeds the payload") }
        var attributes: [String: AttributeValue] = [:]
        attributes.reserveCapacity(n)
        for _ in 0..<n {
            let name = try r.string()
            attributes[name] = try readValue(&r, depth: 0)
        }
        return attributes
    }

    public static func writeValue(_ value: AttributeValue, _ w: inout BinaryWriter) {
        switch value {
        case .null: w.u8(ValueTag.null.rawValue)
        case .bool(let b): w.u8(b ? ValueTag.boolTrue.rawValue : ValueTag.boolFalse.rawValue)
        case .int(let v):
            w.u8(ValueTag.int.rawValue)
            w.i64(v)
        case .uint(let v):
            w.u8(ValueTag.uint.rawValue)
            w.u64(v)
        case .float(let v):
            w.u8(ValueTag.float.rawValue)
            w.f64(v)
        case .string(let s):
            w.u8(ValueTag.string.rawValue)
            w.string(s)
        case .array(let items):
            w.u8(ValueTag.array.rawValue)
            w.u32(UInt32(items.count))
            for item in items { writeValue(item, &w) }
        }
    }

    public static func readValue(_ r: inout BinaryReader, depth: Int) throws -> AttributeValue {
        guard depth < 8 else { throw r.corrupt("values nested too deep") }
        switch ValueTag(rawValue: try r.u8()) {
        case .null: return .null
        case .boolFalse: return .bool(false)
        case .boolTrue: return .bool(true)
        case .int: return .int(try r.i64())
        case .uint: return .uint(try r.u64())
        case .float: return .float(try r.f64())
        case .string: return .string(try r.string())
        case .array:
            let n = Int(try r.u32())
            guard n <= r.remaining else { throw r.corrupt("array length \(n) exceeds the payload") }
            var items: [AttributeValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try readValue(&r, depth: depth + 1)) }
            return .array(items)
        case nil: throw r.corrupt("unknown value tag")
        }
    }
}
