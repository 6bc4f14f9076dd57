import Foundation
import Log
import Testing

struct ManifestCase: Sendable, CustomTestStringConvertible {
    var name: String
    var manifest: Manifest
    var testDescription: String { name }
}

enum ManifestSamples {
    static func manifest(
        namespace: String = "ns", version: UInt64 = 1, config: NamespaceConfig = NamespaceConfig(),
        wal: [WALReference] = [], token: String = "token"
    ) -> Manifest {
        Manifest(namespace: namespace, version: version, createdAtMillis: 1_700_000_000_000, updatedAtMillis: 1_700_000_000_500,
                 config: config, wal: wal, nextSeq: UInt64(wal.count + 1), indexedThroughSeq: 0,
                 rowCount: wal.count, logicalBytes: wal.count * 10, commitToken: token)
    }

    static var fullConfig: NamespaceConfig {
        let fts = FullTextConfig(stemming: true, removeStopwords: false, caseSensitive: true, k1: 1.5, b: 0.25)
        var config = NamespaceConfig(distanceMetric: .euclideanSquared, dimension: 768, idKind: .uuid)
        config.schema = [
            "vector": AttributeSchema(type: "[768]f32"),
            "title": AttributeSchema(type: "string", filterable: false, fullTextSearch: fts),
            "body": AttributeSchema(type: "string", fullTextSearch: FullTextConfig()),
            "tags": AttributeSchema(type: "[]string", filterable: true),
            "when": AttributeSchema(type: "datetime"),
            "größe ✓": AttributeSchema(type: "float"),
        ]
        return config
    }

    static var cases: [ManifestCase] {
        let refs = (1...40).map { i in
            WALReference(seq: UInt64(i), key: "ns/ns/wal/\(String(repeating: "0", count: 18))\(i < 10 ? "0" : "")\(i)-tok\(i)",
                         events: i, bytes: i * 100)
        }
        var idKinds: [ManifestCase] = []
        for kind in [DocumentID.Kind.uint, .uuid, .string] {
            var config = NamespaceConfig()
            config.idKind = kind
            config.distanceMetric = .cosineDistance
            idKinds.append(ManifestCase(name: "id kind \(kind.rawValue)", manifest: manifest(config: config)))
        }
        var extreme = manifest(namespace: "x", version: .max, config: fullConfig, wal: refs, token: "")
        extreme.nextSeq = .max
        extreme.indexedThroughSeq = .max - 1
        extreme.createdAtMillis = .min
        extreme.updatedAtMillis = .max
        extreme.rowCount = .max
        extreme.logicalBytes = 0
        return [
            ManifestCase(name: "empty config, no WAL", manifest: manifest()),
            ManifestCase(name: "full config", manifest: manifest(config: fullConfig, wal: Array(refs.prefix(2)), token: "c0ffee")),
            ManifestCase(name: "40 WAL references", manifest: manifest(version: 40, wal: refs)),
            ManifestCase(name: "extreme numbers", manifest: extreme),
            ManifestCase(name: "unicode and escapes in strings",
                         manifest: manifest(namespace: "n.s-_1", token: "quote \" backslash \\ slash / nul \u{0} ✓")),
        ] + idKinds
    }

    static let small = manifest(version: 2, wal: [WALReference(seq: 1, key: "ns/ns/wal/1-t", events: 1, bytes: 90)], token: "t")
}

@Suite("Manifest codec")
struct ManifestCodecTests {
    @Test("encode then decode returns the same manifest", arguments: ManifestSamples.cases)
    func roundTrip(_ sample: ManifestCase) throws {
        let data = try ManifestCodec.encode(sample.manifest)
        let decoded = try ManifestCodec.decode(data, object: "manifest/test")
        #expect(decoded == sample.manifest)
        #expect(try ManifestCodec.encode(decoded) == data)
    }

    @Test("encoding is deterministic: sorted JSON keys whatever the dictionary order", arguments: ManifestSamples.cases)
    func deterministic(_ sample: ManifestCase) throws {
        let first = try ManifestCodec.encode(sample.manifest)
        #expect(try ManifestCodec.encode(sample.manifest) == first)
        var rebuilt = sample.manifest
        var schema = [String: AttributeSchema](minimumCapacity: 300)
        for key in sample.manifest.config.schema.keys.sorted(by: >) { schema[key] = sample.manifest.config.schema[key] }
        rebuilt.config.schema = schema
        #expect(try ManifestCodec.encode(rebuilt) == first)
    }

    @Test("the payload is JSON with sorted keys and the documented field names")
    func payloadIsSortedJSON() throws {
        let data = try ManifestCodec.encode(ManifestSamples.manifest(config: ManifestSamples.fullConfig, token: "tk"))
        #expect(EnvelopeBytes.version(of: data) == 1)
        let payload = EnvelopeBytes.payload(of: data)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(Set(object.keys) == ["namespace", "version", "config", "wal", "created_at_ms", "updated_at_ms", "next_seq",
                                     "indexed_through_seq", "row_count", "logical_bytes", "commit_token"])
        #expect(object["commit_token"] as? String == "tk")
        let text = String(decoding: payload, as: UTF8.self)
        let order = ["commit_token", "config", "created_at_ms", "indexed_through_seq", "logical_bytes", "namespace",
                     "next_seq", "row_count", "updated_at_ms", "version", "wal"]
        let positions = order.map { text.range(of: "\"\($0)\":")?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "top-level keys are not sorted: \(text)")
        #expect(EnvelopeBytes.frame(format: "manifest", version: 1, payload: payload) == data)
    }

    @Test("flipping any single byte is detected as corrupt", arguments: [UInt8(0x01), 0x80, 0xFF])
    func everyByteFlip(_ mask: UInt8) throws {
        let data = try ManifestCodec.encode(ManifestSamples.small)
        var failures: [String] = []
        for position in 0..<data.count {
            var damaged = data
            damaged[damaged.startIndex + position] ^= mask
            let result = decodeResult { _ = try ManifestCodec.decode(damaged, object: "manifest/flip") }
            if result != .formatError(.corrupt) { failures.append("byte \(position): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(data.count) flips not reported corrupt: \(failures.prefix(10))")
    }

    @Test("truncation at every length, and an extra byte, are corrupt")
    func everyTruncation() throws {
        let data = try ManifestCodec.encode(ManifestSamples.small)
        var failures: [String] = []
        for length in 0..<data.count {
            let result = decodeResult { _ = try ManifestCodec.decode(data.prefix(length), object: "manifest/short") }
            if result != .formatError(.corrupt) { failures.append("length \(length): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        #expect(decodeResult { _ = try ManifestCodec.decode(data + Data([0x20]), object: "m") } == .formatError(.corrupt))
    }

    @Test("a sealed but truncated JSON payload is corrupt at every length")
    func payloadTruncation() throws {
        let payload = EnvelopeBytes.payload(of: try ManifestCodec.encode(ManifestSamples.small))
        var failures: [String] = []
        for length in 0..<payload.count {
            let frame = ObjectEnvelope.seal(format: ManifestCodec.format, version: 1, payload: Array(payload.prefix(length)))
            let result = decodeResult { _ = try ManifestCodec.decode(frame, object: "manifest/prefix") }
            if result != .formatError(.corrupt) { failures.append("length \(length): \(result)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test("sealed JSON that is not a manifest is corrupt", arguments: [
        "", "null", "[]", "{}", "{\"namespace\": \"ns\"}", "not json",
        // A field of the wrong type.
        #"{"namespace":"ns","version":"1","config":{"schema":{}},"wal":[],"created_at_ms":0,"updated_at_ms":0,"next_seq":1,"indexed_through_seq":0,"row_count":0,"logical_bytes":0,"commit_token":"t"}"#,
        // A negative version.
        #"{"namespace":"ns","version":-1,"config":{"schema":{}},"wal":[],"created_at_ms":0,"updated_at_ms":0,"next_seq":1,"indexed_through_seq":0,"row_count":0,"logical_bytes":0,"commit_token":"t"}"#,
        // An unknown distance metric.
        #"{"namespace":"ns","version":1,"config":{"schema":{},"distance_metric":"dot"},"wal":[],"created_at_ms":0,"updated_at_ms":0,"next_seq":1,"indexed_through_seq":0,"row_count":0,"logical_bytes":0,"commit_token":"t"}"#,
    ])
    func notAManifest(_ json: String) {
        let frame = ObjectEnvelope.seal(format: ManifestCodec.format, version: 1, payload: Array(json.utf8))
        #expect(decodeResult { _ = try ManifestCodec.decode(frame, object: "manifest/json") } == .formatError(.corrupt))
    }

    @Test("the hand-written minimal manifest JSON the negative cases start from decodes")
    func minimalJSONDecodes() throws {
        let json = #"{"namespace":"ns","version":1,"config":{"schema":{}},"wal":[],"created_at_ms":0,"updated_at_ms":0,"next_seq":1,"indexed_through_seq":0,"row_count":0,"logical_bytes":0,"commit_token":"t"}"#
        let frame = ObjectEnvelope.seal(format: ManifestCodec.format, version: 1, payload: Array(json.utf8))
        let manifest = try ManifestCodec.decode(frame, object: "manifest/json")
        #expect(manifest == Manifest(namespace: "ns", version: 1, createdAtMillis: 0, updatedAtMillis: 0, config: NamespaceConfig(),
                                     wal: [], nextSeq: 1, indexedThroughSeq: 0, rowCount: 0, logicalBytes: 0, commitToken: "t"))
    }

    @Test("a valid envelope with version 3 is too new; version 0 is too old")
    func versions() throws {
        let payload = EnvelopeBytes.payload(of: try ManifestCodec.encode(ManifestSamples.small))
        for version: UInt16 in [3, 9, .max] {
            let frame = ObjectEnvelope.seal(format: ManifestCodec.format, version: version, payload: payload)
            #expect(decodeResult { _ = try ManifestCodec.decode(frame, object: "m") } == .formatError(.tooNew), "version \(version)")
        }
        let old = ObjectEnvelope.seal(format: ManifestCodec.format, version: 0, payload: payload)
        #expect(decodeResult { _ = try ManifestCodec.decode(old, object: "m") } == .formatError(.tooOld))
        let encoded = EnvelopeBytes.frame(format: "manifest", version: 1, encoding: 1, payload: payload)
        #expect(decodeResult { _ = try ManifestCodec.decode(encoded, object: "m") } == .formatError(.tooNew))
    }

    @Test("a wrong format name is corrupt", arguments: ["wal", "Manifest", "manifests", ""])
    func wrongFormat(_ name: String) throws {
        let payload = EnvelopeBytes.payload(of: try ManifestCodec.encode(ManifestSamples.small))
        let frame = ObjectEnvelope.seal(format: name, version: 1, payload: payload)
        #expect(decodeResult { _ = try ManifestCodec.decode(frame, object: "m") } == .formatError(.corrupt))
    }

    @Test("a WAL entry is not a manifest, and a manifest is not a WAL entry")
    func crossFormat() throws {
        let wal = WALCodec.encode(WALSamples.small)
        let manifest = try ManifestCodec.encode(ManifestSamples.small)
        #expect(decodeResult { _ = try ManifestCodec.decode(wal, object: "m") } == .formatError(.corrupt))
        #expect(decodeResult { _ = try WALCodec.decode(manifest, object: "w") } == .formatError(.corrupt))
    }
}
