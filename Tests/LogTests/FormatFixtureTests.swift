import Foundation
import Log
import Testing

/// Frozen copies of every persisted format version (Fixtures/formats/v1/README.md).
///
/// The normal run decodes the committed files and checks every field against the values
/// written out below, so a format change that can no longer read v1 fails here. Run once
/// with `LAGOON_RECORD_FIXTURES=1` to (re)write the files from these values — only when
/// adding a new format version's directory, never to "fix" a failing v1 test.
@Suite("Format fixtures v1")
struct FormatFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // LogTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // package root
        .appendingPathComponent("Fixtures/formats/v1", isDirectory: true)
    static let walFile = directory.appendingPathComponent("wal-v1.bin")
    static let manifestFile = directory.appendingPathComponent("manifest-v1.bin")
    static var recording: Bool { ProcessInfo.processInfo.environment["LAGOON_RECORD_FIXTURES"] == "1" }

    static let uuid = UUID(uuidString: "3F2504E0-4F89-11D3-9A0C-0305E82C3301")!

    /// The WAL entry frozen in wal-v1.bin.
    static let walEntry = WALEntry(
        seq: 42, createdAtMillis: 1_717_171_717_171, writerToken: "0f1e2d3c-fixture-writer",
        events: [
            .upsert(Document(id: .uint(7), vector: [0.5, -1.25, 3.0], attributes: [
                "title": .string("Grüße, lagoon ✓"),
                "count": .int(-42),
                "big": .uint(18_000_000_000_000_000_000),
                "score": .float(0.1),
                "on": .bool(true),
                "off": .bool(false),
                "nothing": .null,
                "tags": .array([.string("a"), .int(1), .array([.float(2.5), .null])]),
            ])),
            .upsert(Document(id: .string("doc-β"), vector: nil, attributes: [:])),
            .patch(id: .uuid(uuid), attributes: ["count": .int(1), "title": .null], vector: nil),
            .patch(id: .uint(.max), attributes: [:], vector: [1, 2, 3]),
            .delete(.string("gone")),
            .delete(.uint(0)),
        ])

    /// The manifest frozen in manifest-v1.bin.
    static var manifest: Manifest {
        let fts = FullTextConfig(stemming: true, removeStopwords: false, caseSensitive: true, k1: 1.5, b: 0.5)
        var config = NamespaceConfig(distanceMetric: .cosineDistance, dimension: 3, idKind: .uint)
        config.schema = [
            "vector": AttributeSchema(type: "[3]f32"),
            "title": AttributeSchema(type: "string", filterable: false, fullTextSearch: fts),
            "count": AttributeSchema(type: "int", filterable: true),
            "tags": AttributeSchema(type: "[]string"),
        ]
        return Manifest(
            namespace: "fixture-ns", version: 3, createdAtMillis: 1_717_171_700_000, updatedAtMillis: 1_717_171_717_171,
            config: config,
            wal: [
                WALReference(seq: 41, key: "ns/fixture-ns/wal/00000000000000000041-aaaa", events: 2, bytes: 180),
                WALReference(seq: 42, key: "ns/fixture-ns/wal/00000000000000000042-0f1e2d3c-fixture-writer", events: 6, bytes: 412),
            ],
            nextSeq: 43, indexedThroughSeq: 40, rowCount: 1234, logicalBytes: 567_890, commitToken: "c0ffee00-fixture-commit")
    }

    static func load(_ file: URL, record: () throws -> Data) throws -> Data {
        if recording {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try record().write(to: file, options: .atomic)
        }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw FixtureMissing(path: file.path)
        }
        return data
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        var path: String
        var description: String { "fixture \(path) is missing; run once with LAGOON_RECORD_FIXTURES=1" }
    }

    @Test("wal-v1.bin decodes to the frozen entry, field by field")
    func walV1() throws {
        let data = try Self.load(Self.walFile) { WALCodec.encode(Self.walEntry) }
        #expect(EnvelopeBytes.version(of: data) == 1)
        let entry = try WALCodec.decode(data, object: "wal-v1.bin")
        #expect(entry.seq == 42)
        #expect(entry.createdAtMillis == 1_717_171_717_171)
        #expect(entry.writerToken == "0f1e2d3c-fixture-writer")
        try #require(entry.events.count == 6)

        guard case .upsert(let first) = entry.events[0] else {
            Issue.record("event 0 should be an upsert: \(entry.events[0])")
            return
        }
        #expect(first.id == .uint(7))
        #expect(first.vector == [0.5, -1.25, 3.0])
        #expect(first.attributes.count == 8)
        #expect(first.attributes["title"] == .string("Grüße, lagoon ✓"))
        #expect(first.attributes["count"] == .int(-42))
        #expect(first.attributes["big"] == .uint(18_000_000_000_000_000_000))
        #expect(first.attributes["score"] == .float(0.1))
        #expect(first.attributes["on"] == .bool(true))
        #expect(first.attributes["off"] == .bool(false))
        #expect(first.attributes["nothing"] == .null)
        #expect(first.attributes["tags"] == .array([.string("a"), .int(1), .array([.float(2.5), .null])]))

        #expect(entry.events[1] == .upsert(Document(id: .string("doc-β"), vector: nil, attributes: [:])))
        #expect(entry.events[2] == .patch(id: .uuid(UUID(uuidString: "3f2504e0-4f89-11d3-9a0c-0305e82c3301")!),
                                          attributes: ["count": .int(1), "title": .null], vector: nil))
        #expect(entry.events[3] == .patch(id: .uint(18_446_744_073_709_551_615), attributes: [:], vector: [1, 2, 3]))
        #expect(entry.events[4] == .delete(.string("gone")))
        #expect(entry.events[5] == .delete(.uint(0)))
        #expect(entry == Self.walEntry)
    }

    @Test("the current WAL writer still produces v1 byte for byte while WALCodec.version is 1")
    func walWriterUnchanged() throws {
        let data = try Self.load(Self.walFile) { WALCodec.encode(Self.walEntry) }
        try #require(WALCodec.version == 1, "a new WAL version needs its own fixture directory")
        #expect(WALCodec.encode(Self.walEntry) == data)
    }

    @Test("manifest-v1.bin decodes to the frozen manifest, field by field")
    func manifestV1() throws {
        let data = try Self.load(Self.manifestFile) { try ManifestCodec.encode(Self.manifest) }
        #expect(EnvelopeBytes.version(of: data) == 1)
        let m = try ManifestCodec.decode(data, object: "manifest-v1.bin")
        #expect(m.namespace == "fixture-ns")
        #expect(m.version == 3)
        #expect(m.createdAtMillis == 1_717_171_700_000)
        #expect(m.updatedAtMillis == 1_717_171_717_171)
        #expect(m.nextSeq == 43)
        #expect(m.indexedThroughSeq == 40)
        #expect(m.rowCount == 1234)
        #expect(m.logicalBytes == 567_890)
        #expect(m.commitToken == "c0ffee00-fixture-commit")
        #expect(m.wal == [
            WALReference(seq: 41, key: "ns/fixture-ns/wal/00000000000000000041-aaaa", events: 2, bytes: 180),
            WALReference(seq: 42, key: "ns/fixture-ns/wal/00000000000000000042-0f1e2d3c-fixture-writer", events: 6, bytes: 412),
        ])
        #expect(m.config.distanceMetric == .cosineDistance)
        #expect(m.config.dimension == 3)
        #expect(m.config.idKind == .uint)
        #expect(m.config.schema.count == 4)
        #expect(m.config.schema["vector"] == AttributeSchema(type: "[3]f32"))
        #expect(m.config.schema["count"] == AttributeSchema(type: "int", filterable: true))
        #expect(m.config.schema["tags"] == AttributeSchema(type: "[]string"))
        let title = try #require(m.config.schema["title"])
        #expect(title.type == "string")
        #expect(title.filterable == false)
        let fts = try #require(title.fullTextSearch)
        #expect(fts.language == "english")
        #expect(fts.stemming == true)
        #expect(fts.removeStopwords == false)
        #expect(fts.caseSensitive == true)
        #expect(fts.k1 == 1.5)
        #expect(fts.b == 0.5)
        #expect(m.unindexedBytes == 180 + 412)
        #expect(m == Self.manifest)
    }

    @Test("the fixture files are exactly the sealed frames of their payloads (no stray bytes)")
    func framesAreExact() throws {
        let wal = try Self.load(Self.walFile) { WALCodec.encode(Self.walEntry) }
        let manifest = try Self.load(Self.manifestFile) { try ManifestCodec.encode(Self.manifest) }
        #expect(EnvelopeBytes.frame(format: "wal", version: 1, payload: EnvelopeBytes.payload(of: wal)) == wal)
        #expect(EnvelopeBytes.frame(format: "manifest", version: 1, payload: EnvelopeBytes.payload(of: manifest)) == manifest)
    }
}
