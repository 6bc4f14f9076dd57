import Foundation
import Log
import Testing

/// The segment part directory in manifest segment references (Specs/format/manifest.md §7): its
/// compact JSON form, a frozen version-2 manifest holding references with and without one, and
/// malformed entries reading as `corrupt`.
@Suite("Manifest segment part directories")
struct ManifestPartDirectoryTests {
    static let file = FormatFixtureTests.directory.appendingPathComponent("manifest-v2-parts.bin")

    static let directory = [
        SegmentPartEntry(name: "meta", offset: 8, length: 161, checksum: 0x0123_4567_89ab_cdef),
        SegmentPartEntry(name: "ids", offset: 169, length: 40_004, checksum: 0xfedc_ba98_7654_3210),
        SegmentPartEntry(name: "column/größe ✓", offset: 40_173, length: 9, checksum: 7),
        SegmentPartEntry(name: "ivf", offset: 40_182, length: 5_000_000_000, checksum: .max),
    ]

    /// The manifest frozen in manifest-v2-parts.bin: a segment reference written before part
    /// directories existed, then one with a directory and a deletion vector.
    static var manifest: Manifest {
        var manifest = FormatFixtureTests.manifest
        manifest.version = 4
        manifest.segments = [
            SegmentReference(key: "ns/fixture-ns/segments/00000000000000000020-old.seg", bytes: 4096, rows: 100,
                             minSeq: 1, maxSeq: 20),
            SegmentReference(key: "ns/fixture-ns/segments/00000000000000000040-new.seg", bytes: 5_000_040_283, rows: 10_000,
                             minSeq: 21, maxSeq: 40, deletes: "ns/fixture-ns/deletes/00000000000000000040-new", deletedRows: 3,
                             parts: directory),
        ]
        return manifest
    }

    @Test("manifest-v2-parts.bin decodes: the old reference has no directory, the new one its entries exactly")
    func frozenFixture() throws {
        let data = try FormatFixtureTests.load(Self.file) { try ManifestCodec.encode(Self.manifest) }
        #expect(EnvelopeBytes.version(of: data) == 2)
        let m = try ManifestCodec.decode(data, object: "manifest-v2-parts.bin")
        let segments = try #require(m.segments)
        try #require(segments.count == 2)
        #expect(segments[0].parts == nil, "a reference without the key reads as one written before directories")
        #expect(segments[0] == SegmentReference(key: "ns/fixture-ns/segments/00000000000000000020-old.seg", bytes: 4096,
                                                rows: 100, minSeq: 1, maxSeq: 20))
        let parts = try #require(segments[1].parts)
        #expect(parts.map(\.name) == ["meta", "ids", "column/größe ✓", "ivf"], "table order is kept")
        #expect(parts[0].checksum == 0x0123_4567_89ab_cdef && parts[1].checksum == 0xfedc_ba98_7654_3210)
        #expect(parts[3].checksum == UInt64.max && parts[3].length == 5_000_000_000)
        #expect(segments[1].deletes == "ns/fixture-ns/deletes/00000000000000000040-new" && segments[1].deletedRows == 3)
        #expect(m == Self.manifest)
    }

    @Test("an entry is the array [name, offset, length, 16 hex digits]")
    func compactForm() throws {
        var manifest = FormatFixtureTests.manifest
        manifest.segments = [SegmentReference(key: "s", bytes: 100, rows: 1, minSeq: 1, maxSeq: 1,
                                              parts: [SegmentPartEntry(name: "meta", offset: 8, length: 20, checksum: 255)])]
        let json = String(decoding: EnvelopeBytes.payload(of: try ManifestCodec.encode(manifest)), as: UTF8.self)
        #expect(json.contains(#""parts":[["meta",8,20,"00000000000000ff"]]"#), "\(json)")
    }

    @Test("a malformed entry makes the manifest corrupt", arguments: [
        #"["meta",8,20,"ff"]"#,                    // checksum too short
        #"["meta",8,20,"00000000000000FF"]"#,      // upper-case hex
        #"["meta",8,20,"000000000000000g"]"#,      // not hex
        #"["meta",8,20,255]"#,                     // number, not string
        #"["meta",8,20]"#,                         // missing field
        #"["meta",8,20,"00000000000000ff",1]"#,    // extra field
        #"{"name":"meta","offset":8}"#,            // object form
    ])
    func malformedEntry(_ entry: String) throws {
        var manifest = FormatFixtureTests.manifest
        manifest.segments = [SegmentReference(key: "s", bytes: 100, rows: 1, minSeq: 1, maxSeq: 1,
                                              parts: [SegmentPartEntry(name: "meta", offset: 8, length: 20, checksum: 255)])]
        let json = String(decoding: EnvelopeBytes.payload(of: try ManifestCodec.encode(manifest)), as: UTF8.self)
        let damaged = json.replacingOccurrences(of: #"["meta",8,20,"00000000000000ff"]"#, with: entry)
        try #require(damaged != json)
        let frame = EnvelopeBytes.frame(format: "manifest", version: 2, payload: Array(damaged.utf8))
        #expect(decodeResult { _ = try ManifestCodec.decode(frame, object: "m") } == .formatError(.corrupt))
    }
}
