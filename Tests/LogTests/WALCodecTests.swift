import Foundation
import Log
import Testing

/// A named WAL entry for parameterized tests.
struct WALCase: Sendable, CustomTestStringConvertible {
    var name: String
    var entry: WALEntry
    var testDescription: String { name }
}

enum WALSamples {
    static let uuid = UUID(uuidString: "3F2504E0-4F89-11D3-9A0C-0305E82C3301")!

    static let ids: [(String, DocumentID)] = [
        ("uint", .uint(7)),
        ("uint max", .uint(.max)),
        ("uuid", .uuid(uuid)),
        ("string", .string("doc-β ✓")),
        ("empty string", .string("")),
    ]

    /// One of every attribute value case, including nested arrays.
    static let everyValue: [String: AttributeValue] = [
        "null": .null,
        "true": .bool(true),
        "false": .bool(false),
        "int": .int(-42),
        "int min": .int(.min),
        "int max": .int(.max),
        "uint": .uint(.max),
        "float": .float(0.1),
        "negative zero": .float(-0.0),
        "infinity": .float(.infinity),
        "string": .string("Grüße, lagoon ✓ \u{0}"),
        "empty string": .string(""),
        "empty array": .array([]),
        "array": .array([.string("a"), .int(1), .null, .bool(true), .float(2.5), .uint(.max)]),
        "nested": .array([.array([.array([.int(1)]), .array([])]), .string("x")]),
        "": .string("an empty attribute name"),
    ]

    static func events(for id: DocumentID) -> [(String, WriteEvent)] {
        [
            ("upsert with vector", .upsert(Document(id: id, vector: [0.5, -1.25, 3.0, .greatestFiniteMagnitude], attributes: everyValue))),
            ("upsert without vector", .upsert(Document(id: id, vector: nil, attributes: ["n": .int(1)]))),
            ("upsert of a bare id", .upsert(Document(id: id))),
            ("upsert with an empty vector", .upsert(Document(id: id, vector: [], attributes: [:]))),
            ("patch with vector", .patch(id: id, attributes: ["n": .int(2), "gone": .null], vector: [1, 2, 3, 4])),
            ("patch without vector", .patch(id: id, attributes: everyValue, vector: nil)),
            ("patch of nothing", .patch(id: id, attributes: [:], vector: nil)),
            ("delete", .delete(id)),
        ]
    }

    static var cases: [WALCase] {
        var cases: [WALCase] = [
            WALCase(name: "no events", entry: WALEntry(seq: 1, createdAtMillis: 0, writerToken: "", events: [])),
            WALCase(name: "extreme header", entry: WALEntry(seq: .max, createdAtMillis: .min, writerToken: "tøken ✓", events: [])),
        ]
        for (idName, id) in ids {
            for (eventName, event) in events(for: id) {
                cases.append(WALCase(name: "\(eventName), \(idName) id",
                                     entry: WALEntry(seq: 3, createdAtMillis: 1_717_171_717_171, writerToken: "w-1", events: [event])))
            }
        }
        let all = ids.flatMap { events(for: $0.1).map(\.1) }
        cases.append(WALCase(name: "every event of every id kind in one entry",
                             entry: WALEntry(seq: 99, createdAtMillis: -1, writerToken: UUID().uuidString, events: all)))
        let big = (0..<500).map { i in
            WriteEvent.upsert(Document(id: .uint(UInt64(i)), vector: (0..<64).map { Float(i * 64 + $0) / 7 },
                                       attributes: ["i": .int(Int64(i))]))
        }
        cases.append(WALCase(name: "500 upserts with 64-d vectors",
                             entry: WALEntry(seq: 5, createdAtMillis: 5, writerToken: "bulk", events: big)))
        return cases
    }

    /// A small entry for exhaustive corruption tests.
    static let small = WALEntry(seq: 2, createdAtMillis: 1_700_000_000_000, writerToken: "tok", events: [
        .upsert(Document(id: .uint(1), vector: [1, 2], attributes: ["a": .string("x"), "b": .array([.int(1), .array([.null])])])),
        .patch(id: .string("s"), attributes: ["c": .bool(true)], vector: nil),
        .delete(.uuid(uuid)),
    ])
}

@Suite("WAL codec")
struct WALCodecTests {
    // MARK: Round trips

    @Test("encode then decode returns the same entry", arguments: WALSamples.cases)
    func roundTrip(_ sample: WALCase) throws {
        let data = WALCodec.encode(sample.entry)
        let decoded = try WALCodec.decode(data, object: "wal/test")
        #expect(decoded == sample.entry)
        // Equality of Double treats -0.0 and 0.0 alike; the bytes must match too.
        #expect(WALCodec.encode(decoded) == data)
    }

    @Test("vectors keep every float bit, including -0 and subnormals")
    func vectorBits() throws {
        let vector: [Float] = [-0.0, .leastNonzeroMagnitude, .leastNormalMagnitude, -.greatestFiniteMagnitude, 1e-30, .pi]
        let entry = WALEntry(seq: 1, createdAtMillis: 0, writerToken: "t",
                             events: [.upsert(Document(id: .uint(1), vector: vector))])
        let decoded = try WALCodec.decode(WALCodec.encode(entry), object: "wal/bits")
        guard case .upsert(let document) = try #require(decoded.events.first) else {
            Issue.record("expected an upsert, got \(decoded.events)")
            return
        }
        #expect(try #require(document.vector).map(\.bitPattern) == vector.map(\.bitPattern))
    }

    @Test("an absent vector and an empty vector stay distinct")
    func absentVersusEmptyVector() throws {
        let absent = WALEntry(seq: 1, createdAtMillis: 0, writerToken: "t", events: [.upsert(Document(id: .uint(1), vector: nil))])
        let empty = WALEntry(seq: 1, createdAtMillis: 0, writerToken: "t", events: [.upsert(Document(id: .uint(1), vector: []))])
        #expect(WALCodec.encode(absent) != WALCodec.encode(empty))
        #expect(try WALCodec.decode(WALCodec.encode(absent), object: "a").events == absent.events)
        #expect(try WALCodec.decode(WALCodec.encode(empty), object: "e").events == empty.events)
    }

    @Test("the deepest nesting the reader accepts round trips")
    func deepestNesting() throws {
        // readValue accepts depth 0…7: a value inside seven enclosing arrays.
        var value = AttributeValue.string("core")
        for _ in 0..<7 { value = .array([value, .int(0)]) }
        let entry = WALEntry(seq: 1, createdAtMillis: 0, writerToken: "t",
                             events: [.upsert(Document(id: .uint(1), attributes: ["deep": value]))])
        #expect(try WALCodec.decode(WALCodec.encode(entry), object: "deep") == entry)
    }

    // MARK: Determinism

    @Test("encoding is deterministic: equal entries give equal bytes whatever the dictionary order", arguments: WALSamples.cases)
    func deterministic(_ sample: WALCase) {
        let first = WALCodec.encode(sample.entry)
        #expect(WALCodec.encode(sample.entry) == first)

        // Rebuild every attribute dictionary with a different capacity and insertion order,
        // which changes Swift's iteration order but not the value.
        func reshuffled(_ attributes: [String: AttributeValue]) -> [String: AttributeValue] {
            var copy = [String: AttributeValue](minimumCapacity: 257)
            for key in attributes.keys.sorted(by: >) { copy[key] = attributes[key] }
            return copy
        }
        var rebuilt = sample.entry
        rebuilt.events = sample.entry.events.map { event in
            switch event {
            case .upsert(var d):
                d.attributes = reshuffled(d.attributes)
                return .upsert(d)
            case .patch(let id, let attributes, let vector):
                return .patch(id: id, attributes: reshuffled(attributes), vector: vector)
            case .delete:
                return event
            }
        }
        #expect(WALCodec.encode(rebuilt) == first)
    }

    @Test("the envelope carries format wal, version 1, f32 encoding")
    func envelopeHeader() {
        let data = WALCodec.encode(WALSamples.small)
        let payload = EnvelopeBytes.payload(of: data)
        #expect(data.prefix(4) == Data("LGON".utf8))
        #expect(data.suffix(4) == Data("NOGL".utf8))
        #expect(EnvelopeBytes.version(of: data) == 1)
        // The hand-built frame following the documented layout is byte-identical.
        #expect(EnvelopeBytes.frame(format: "wal", version: 1, encoding: 0, payload: payload) == data)
    }

    // MARK: Corruption

    @Test("flipping any single byte is detected as corrupt", arguments: [UInt8(0x01), 0x80, 0xFF])
    func everyByteFlip(_ mask: UInt8) {
        let data = WALCodec.encode(WALSamples.small)
        var failures: [String] = []
        for position in 0..<data.count {
            var damaged = data
            damaged[damaged.startIndex + position] ^= mask
            let result = decodeResult { _ = try WALCodec.decode(damaged, object: "wal/flip") }
            if result != .formatError(.corrupt) { failures.append("byte \(position): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(data.count) flips not reported corrupt: \(failures.prefix(10))")
    }

    @Test("truncation at every length, and an extra byte, are corrupt")
    func everyTruncation() {
        let data = WALCodec.encode(WALSamples.small)
        var failures: [String] = []
        for length in 0..<data.count {
            let result = decodeResult { _ = try WALCodec.decode(data.prefix(length), object: "wal/short") }
            if result != .formatError(.corrupt) { failures.append("length \(length): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        #expect(decodeResult { _ = try WALCodec.decode(data + Data([0]), object: "wal/long") } == .formatError(.corrupt))
        #expect(decodeResult { _ = try WALCodec.decode(Data([0]) + data, object: "wal/shifted") } == .formatError(.corrupt))
    }

    @Test("a sealed but truncated payload is corrupt at every length, never a crash or a short entry")
    func payloadTruncation() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        var failures: [String] = []
        for length in 0..<payload.count {
            let frame = ObjectEnvelope.seal(format: WALCodec.format, version: 1, payload: Array(payload.prefix(length)))
            let result = decodeResult { _ = try WALCodec.decode(frame, object: "wal/prefix") }
            if result != .formatError(.corrupt) { failures.append("length \(length): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        let trailing = ObjectEnvelope.seal(format: WALCodec.format, version: 1, payload: payload + [0])
        #expect(decodeResult { _ = try WALCodec.decode(trailing, object: "wal/trailing") } == .formatError(.corrupt))
    }

    @Test("a sealed payload with any byte changed decodes or says corrupt, never anything else")
    func payloadFuzz() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        var unexpected: [String] = []
        var corrupt = 0
        for position in 0..<payload.count {
            for value: UInt8 in [0x00, 0x07, 0x80, 0xFF] where payload[position] != value {
                var damaged = payload
                damaged[position] = value
                let frame = ObjectEnvelope.seal(format: WALCodec.format, version: 1, payload: damaged)
                switch decodeResult({ _ = try WALCodec.decode(frame, object: "wal/fuzz") }) {
                case .decoded: break
                case .formatError(.corrupt): corrupt += 1
                case let other: unexpected.append("byte \(position) = \(value): \(other)")
                }
            }
        }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(10))")
        #expect(corrupt > 0, "some damage (tags, lengths) must be caught by the payload parser")
    }

    @Test("the hand-built payload the malformed cases start from is valid")
    func handBuiltPayloadIsValid() throws {
        let frame = ObjectEnvelope.seal(format: WALCodec.format, version: 1, payload: MalformedWAL.valid.payload)
        let entry = try WALCodec.decode(frame, object: "wal/hand")
        #expect(entry == WALEntry(seq: 1, createdAtMillis: 0, writerToken: "t",
                                  events: [.upsert(Document(id: .uint(5), vector: nil, attributes: ["a": .null]))]))
    }

    @Test("malformed payloads behind a valid checksum are corrupt", arguments: MalformedWAL.broken)
    func malformedPayload(_ sample: MalformedWAL) {
        let frame = ObjectEnvelope.seal(format: WALCodec.format, version: 1, payload: sample.payload)
        #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/bad") } == .formatError(.corrupt))
    }

    // MARK: Versions and names

    @Test("a valid envelope with version 2 is too new")
    func tooNew() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        for version: UInt16 in [2, 3, .max] {
            let frame = ObjectEnvelope.seal(format: WALCodec.format, version: version, payload: payload)
            #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/v\(version)") } == .formatError(.tooNew),
                    "version \(version)")
        }
    }

    @Test("version 0 is too old")
    func tooOld() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        let frame = ObjectEnvelope.seal(format: WALCodec.format, version: 0, payload: payload)
        #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/v0") } == .formatError(.tooOld))
    }

    @Test("an unknown vector encoding byte is too new")
    func unknownEncoding() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        for encoding: UInt8 in [1, 2, 3, 255] {
            let frame = EnvelopeBytes.frame(format: "wal", version: 1, encoding: encoding, payload: payload)
            #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/enc") } == .formatError(.tooNew),
                    "encoding \(encoding)")
        }
    }

    @Test("a payload length field that disagrees with the frame is corrupt")
    func lyingLength() {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        for length in [UInt64(payload.count - 1), UInt64(payload.count + 1), 0, .max] {
            let frame = EnvelopeBytes.frame(format: "wal", version: 1, payloadLength: length, payload: payload)
            #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/len") } == .formatError(.corrupt),
                    "length \(length)")
        }
    }

    @Test("a wrong format name is corrupt, even for a well-formed object", arguments: ["manifest", "WAL", "wal2", "wa", ""])
    func wrongFormat(_ name: String) {
        let payload = EnvelopeBytes.payload(of: WALCodec.encode(WALSamples.small))
        let frame = ObjectEnvelope.seal(format: name, version: 1, payload: payload)
        #expect(decodeResult { _ = try WALCodec.decode(frame, object: "wal/name") } == .formatError(.corrupt))
    }

    @Test("the error names the object it was reading")
    func errorNamesObject() throws {
        let error = try #require(throws: FormatError.self) {
            try WALCodec.decode(Data("not an envelope at all, but long enough".utf8), object: "ns/x/wal/0001-t")
        }
        #expect(error.code == .corrupt)
        #expect(error.object == "ns/x/wal/0001-t")
        #expect(error.description.contains("ns/x/wal/0001-t"))
    }
}

/// Hand-made payloads, each broken in one way, sealed with a valid checksum.
enum MalformedWAL: String, CaseIterable, Sendable {
    case valid
    case unknownEventTag, unknownIDTag, unknownValueTag, badVectorFlag, invalidUTF8Token,
         hugeEventCount, hugeVectorCount, hugeAttributeCount, hugeArrayLength, hugeStringLength,
         nestedTooDeep, trailingBytes, shortUUID

    static var broken: [MalformedWAL] { allCases.filter { $0 != .valid } }

    var payload: [UInt8] {
        var p = PayloadBuilder()
        p.u64(1)            // seq
        p.u64(0)            // created
        if self == .invalidUTF8Token {
            p.u32(2)
            p.raw([0xC3, 0x28])
        } else {
            p.string("t")
        }
        p.u32(self == .hugeEventCount ? .max : 1)
        p.u8(self == .unknownEventTag ? 9 : 1)          // upsert
        switch self {
        case .unknownIDTag: p.u8(4)
        case .shortUUID:
            p.u8(2)
            p.raw([1, 2, 3])
            return p.bytes
        default:
            p.u8(1)
            p.u64(5)
        }
        switch self {
        case .badVectorFlag: p.u8(2)
        case .hugeVectorCount:
            p.u8(1)
            p.u32(.max)
            p.raw([0, 0, 0, 0])
        default: p.u8(0)
        }
        p.u32(self == .hugeAttributeCount ? .max : 1)
        if self == .hugeStringLength {
            p.u32(.max)
            p.raw(Array("abc".utf8))
            return p.bytes
        }
        p.string("a")
        switch self {
        case .unknownValueTag: p.u8(8)
        case .hugeArrayLength:
            p.u8(7)
            p.u32(.max)
            p.u8(0)
        case .nestedTooDeep:
            for _ in 0..<9 {
                p.u8(7)
                p.u32(1)
            }
            p.u8(0)
        default: p.u8(0)
        }
        if self == .trailingBytes { p.u8(0) }
        return p.bytes
    }
}
