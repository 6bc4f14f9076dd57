import Foundation
import Kernels
import LagoonTestSupport
import Log
import Segments
import Store
import Testing

/// Frozen IVF indexes of every format version (Fixtures/formats/): each stays readable —
/// held in memory and opened from a local file — and answers as the exact oracle does when
/// every list is probed. All files hold the same build, so with few probes they must also
/// answer identically: version 2 stores the quantiser ranges version 1 readers sample, and
/// version 3 also the codes older readers derive from the vectors.
@Suite("IVF format fixtures")
struct IVFFormatFixtureTests {
    static let fixture = IVFFixture(count: 1_200, dimension: 8, clusters: 6, seed: 0xF1C5)
    static func path(version: Int) -> URL {
        GoldenFile.packageRoot().appendingPathComponent("Fixtures/formats/v\(version)/ivf-v\(version).bin")
    }
    static var recording: Bool { ProcessInfo.processInfo.environment["LAGOON_RECORD_FIXTURES"] == "1" }

    /// The frozen bytes of `version`; recording writes only the version this build writes.
    static func bytes(version: Int) throws -> Data {
        let url = path(version: version)
        if recording && version == Int(IVFFormat.version) {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try #require(fixture.build(.cosineDistance)).residentBytes!.write(to: url)
        }
        let bytes = try Data(contentsOf: url)
        #expect(bytes.count > 8 && Int(bytes[4]) | Int(bytes[5]) << 8 == version, "version field of \(url.lastPathComponent)")
        return bytes
    }

    /// Writes the bytes as an object of a folder store and opens them through its local reader.
    static func withFileIndex<T>(_ bytes: Data, _ body: (IVFIndex) throws -> T) async throws -> T {
        try await withTempDirectory(prefix: "lagoon-ivf-fixture") { directory in
            let store = try FileSystemStore(root: directory.url)
            try await store.put("ns/t/segments/s1", bytes, condition: .ifAbsent)
            let reader = try #require(try await store.localReader(RangeRead(key: "ns/t/segments/s1", offset: 0, length: bytes.count)))
            return try body(try IVFIndex(reading: reader, object: "fixture#ivf"))
        }
    }

    /// Probing every list, the index answers exactly what the oracle does.
    static func checkAgainstOracle(_ index: IVFIndex) throws {
        let f = fixture
        for q in f.queries(20, seed: 7) {
            let got = try index.search(q, k: 10, probes: index.listCount).neighbors
            let expected = f.exact(q, k: 10, metric: .cosineDistance)
            #expect(got.map(\.ordinal) == expected.map(\.ordinal))
            for (g, e) in zip(got, expected) { #expect(abs(g.score - e.score) <= 1e-5) }
        }
    }

    @Test(arguments: [1, 2, 3])
    func frozenIndexStaysReadable(version: Int) async throws {
        let bytes = try Self.bytes(version: version)
        let resident = try IVFIndex(decoding: bytes, object: "fixture")
        #expect(resident.dimension == 8 && resident.head.vectorCount == 1_200)
        try Self.checkAgainstOracle(resident)
        try await Self.withFileIndex(bytes) { file in
            #expect(file.readsStoredCodes == (version >= 3))
            try Self.checkAgainstOracle(file)
            for q in Self.fixture.queries(10, seed: 8) {
                #expect(try file.search(q, k: 10, probes: 2).neighbors == resident.search(q, k: 10, probes: 2).neighbors)
            }
        }
    }

    /// Version 2 stores the ranges a version 1 reader samples from the same rows, version 3
    /// also the codes: the frozen files (one build) rank every query identically.
    @Test func storedRangesAndCodesMatchDerivedOnes() async throws {
        let v1 = try IVFIndex(decoding: Self.bytes(version: 1), object: "v1")
        let v2 = try IVFIndex(decoding: Self.bytes(version: 2), object: "v2")
        let v3 = try IVFIndex(decoding: Self.bytes(version: 3), object: "v3")
        #expect(v1.head.lists.map(\.count) == v3.head.lists.map(\.count))
        #expect(v1.head.quantizerRanges == nil)
        #expect(v2.head.quantizerRanges != nil && !v2.head.storesCodes)
        #expect(v3.head.storesCodes)
        #expect(v1.quantizerRanges == v2.quantizerRanges && v2.quantizerRanges == v3.quantizerRanges)
        #expect(try #require(Self.fixture.build(.cosineDistance)).quantizerRanges == v1.quantizerRanges)
        #expect(v3.quantizedMemoryBytes < v1.quantizedMemoryBytes, "held in memory, version 3 reads its codes in place")
        #expect(v3.readsStoredCodes && !v2.readsStoredCodes && !v1.readsStoredCodes)
        for q in Self.fixture.queries(30, seed: 9) {
            for probes in [1, 2] {
                let expected = try v1.search(q, k: 10, probes: probes)
                for other in [v2, v3] {
                    let got = try other.search(q, k: 10, probes: probes)
                    #expect(got.neighbors == expected.neighbors && got.vectorsScanned == expected.vectorsScanned)
                }
            }
        }
    }
}
