import Foundation
import Kernels
import LagoonTestSupport
import Log
import Segments
import Store
import Testing

/// An index opened over a local file (`IVFIndex(reading:)`) against the same index held in
/// memory: the oracle. Answers, scores and row reads must be identical; its memory must not
/// hold the vectors; a damaged list fails the search that reads it, never answers.
@Suite("IVF index read from a local file")
struct IVFFileBackedTests {
    static let fixture = IVFFixture(count: 4_000, seed: 0xF11E)
    /// Bytes before the index inside the object (a segment's parts sit at offsets).
    static let lead = 192

    /// Writes junk + the index + junk as one segment object and opens it through the folder
    /// store's local reader; `damage` edits the object's bytes first.
    static func withFileIndex<T>(_ index: IVFIndex, damage: (inout [UInt8]) -> Void = { _ in },
                                 _ body: (IVFIndex) throws -> T) async throws -> T {
        try await withTempDirectory(prefix: "lagoon-ivf") { directory in
            let store = try FileSystemStore(root: directory.url)
            let bytes = index.residentBytes!
            var object = [UInt8](repeating: 0xAB, count: lead) + [UInt8](bytes) + [UInt8](repeating: 0xCD, count: 77)
            damage(&object)
            let key = "ns/t/segments/s1"
            try await store.put(key, Data(object), condition: .ifAbsent)
            let reader = try #require(try await store.localReader(RangeRead(key: key, offset: lead, length: bytes.count)))
            return try body(try IVFIndex(reading: reader, object: "test#ivf"))
        }
    }

    @Test(arguments: [DistanceMetric.cosineDistance, .euclideanSquared])
    func answersBitForBitAsTheResidentIndex(metric: DistanceMetric) async throws {
        let f = Self.fixture
        let resident = try #require(f.build(metric))
        try await Self.withFileIndex(resident) { file in
            #expect(file.readsFromFile && !resident.readsFromFile)
            #expect(file.head.lists == resident.head.lists)
            let members = Bitset(count: f.ordinalBound, members: (0..<f.ordinalBound).filter { $0 % 7 == 0 })
            for q in f.queries(12, seed: 3) {
                for probes in [1, 5] {
                    for (filter, scan) in [(nil, IVFIndex.Scan.quantized(rerankFactor: IVFIndex.rerankFactor)), (nil, .exact),
                                           (IVFFilter.bitset(members), .quantized(rerankFactor: IVFIndex.rerankFactor))] {
                        let got = try file.search(q, k: 10, probes: probes, filter: filter, scan: scan)
                        let expected = try resident.search(q, k: 10, probes: probes, filter: filter, scan: scan)
                        #expect(got.neighbors == expected.neighbors && got.listsProbed == expected.listsProbed)
                    }
                }
            }
            // Memory: the head, 8 bytes a row and the 8-bit copy, not the f32 vectors.
            #expect(file.heldBytes < resident.heldBytes - resident.residentBytes!.count / 2)
        }
    }

    @Test func rowReadsAndExactBlocksMatchTheResidentIndex() async throws {
        let f = Self.fixture
        let resident = try #require(f.build(.cosineDistance))
        let residentVectors = try SegmentVectors(lists: resident, rowCount: f.ordinalBound, object: "r")
        try await Self.withFileIndex(resident) { file in
            let fileVectors = try SegmentVectors(lists: file, rowCount: f.ordinalBound, object: "f")
            for row in [0, 1, 17, f.ordinalBound / 2, f.ordinalBound - 1] {
                let got = try fileVectors.vector(ofRow: row), expected = try residentVectors.vector(ofRow: row)
                #expect(got == expected)
            }
            // A sparse set of rows (read vector by vector) and a dense one (whole lists).
            for rows in [stride(from: 0, to: f.ordinalBound, by: 97).map { Int32($0) }, (0..<Int32(f.ordinalBound)).map { $0 }] {
                let got = try Self.blockContents(fileVectors, rows), expected = try Self.blockContents(residentVectors, rows)
                #expect(got == expected)
            }
        }
    }

    /// Per placed row: its vector and inverse norm, as `forEachBlock` hands them out.
    static func blockContents(_ vectors: SegmentVectors, _ rows: [Int32]) throws -> [[Float]] {
        let placement = vectors.placement(of: rows)
        var out = [[Float]](repeating: [], count: placement.rows.count)
        let d = vectors.dimension
        try vectors.forEachBlock(placement) { block in
            for (i, p) in block.positions.enumerated() {
                let entry = block.entries.map { Int($0[i]) } ?? block.firstEntry + i
                out[entry] = Array(block.matrix[(Int(p) * d)..<((Int(p) + 1) * d)]) + [block.inverseNorms[Int(p)]]
            }
        }
        return out
    }

    @Test func aDamagedListFailsTheSearchThatReadsIt() async throws {
        let resident = try #require(Self.fixture.build(.cosineDistance))
        let list = 0
        let at = Self.lead + resident.head.byteRange(ofList: list).upperBound - 5  // in list 0's vectors
        let map = try IVFRowMap(resident, rowCount: Self.fixture.ordinalBound, object: "f")
        let member = try #require(map.list.firstIndex(of: Int32(list)))  // an ordinal in list 0
        try await Self.withFileIndex(resident, damage: { $0[at] ^= 0x20 }) { file in
            // Opening reads the head, ordinals and norms only: it succeeds. A search reads a
            // list's vectors (checking them first) when it scans them exactly or re-ranks a
            // row of the list: a query next to a row of list 0 does.
            let all = file.listCount
            #expect(throws: FormatError.self) { try file.search(Self.fixture.row(member / 2), k: 10, probes: all) }
            #expect(throws: FormatError.self) { try file.search(Self.fixture.row(0), k: 10, probes: all, filter: nil, scan: .exact) }
        }
    }

    @Test("damaged stored codes fail the search that probes their list (not the open) and drop the disk cache's copy")
    func damagedCodesFailTheSearchThatReadsThem() async throws {
        let resident = try #require(Self.fixture.build(.cosineDistance))
        #expect(resident.head.storesCodes)
        let bytes = resident.residentBytes!
        let list = 2
        var damaged = [UInt8](bytes)
        damaged[resident.head.codeByteRange(ofList: list).lowerBound + 3] ^= 0x10
        #expect(throws: FormatError.self) { try IVFIndex(decoding: Data(damaged)) }
        try await withTempDirectory(prefix: "lagoon-ivf-cache") { directory in
            let cache = try DiskCache(directory: directory.url, capacityBytes: 1 << 30)
            let key = "ns/t/segments/s1#0+\(bytes.count)"
            cache.write(key, DiskCache.Entry(bytes: bytes, etag: "e"))
            try Data(damaged).write(to: URL(fileURLWithPath: cache.filePath(key)))
            let file = try IVFIndex(reading: try #require(cache.localReader(key, objectKey: "ns/t/segments/s1")), object: "test#ivf")
            #expect(file.readsStoredCodes, "codes read from the file, not encoded")
            // A search probing only other lists answers; one probing the damaged list fails.
            let q = Self.fixture.row(0)
            let nearest = file.nearestLists(q, inverseQueryNorm: 1 / VectorDistance.squaredNorm(q).squareRoot(), count: file.listCount)
            let rank = try #require(nearest.firstIndex { $0.ordinal == list })
            if rank > 0 {
                #expect(try file.search(q, k: 1, probes: rank).neighbors.count == 1)
                #expect(!cache.keys.isEmpty)
            }
            #expect(throws: FormatError.self) { try file.search(q, k: 10, probes: file.listCount) }
            #expect(cache.keys.isEmpty, "the damaged copy is dropped, to be fetched again")
        }
    }

    @Test("a damaged list in the disk cache's copy fails the read, row reads included, and drops the copy")
    func aDamagedCachedListDropsTheCacheEntry() async throws {
        let resident = try #require(Self.fixture.build(.cosineDistance))
        let bytes = resident.residentBytes!
        let list = 1
        try await withTempDirectory(prefix: "lagoon-ivf-cache") { directory in
            let cache = try DiskCache(directory: directory.url, capacityBytes: 1 << 30)
            let key = "ns/t/segments/s1#0+\(bytes.count)"
            cache.write(key, DiskCache.Entry(bytes: bytes, etag: "e"))
            var damaged = [UInt8](bytes)
            damaged[resident.head.byteRange(ofList: list).upperBound - 5] ^= 0x20
            try Data(damaged).write(to: URL(fileURLWithPath: cache.filePath(key)))
            let file = try IVFIndex(reading: try #require(cache.localReader(key, objectKey: "ns/t/segments/s1")), object: "test#ivf")
            // A row of the damaged list is read only once its list passed its checksum.
            let vectors = try SegmentVectors(lists: file, rowCount: Self.fixture.ordinalBound, object: "f")
            let map = try IVFRowMap(file, rowCount: Self.fixture.ordinalBound, object: "f")
            let row = try #require(map.list.firstIndex(of: Int32(list)))
            #expect(throws: FormatError.self) { try vectors.vector(ofRow: row) }
            #expect(cache.keys.isEmpty, "the damaged copy is dropped, to be fetched again")
            #expect(throws: FormatError.self) { try file.search(Self.fixture.row(row / 2), k: 10, probes: file.listCount) }
        }
    }

    @Test func aDamagedHeadFailsTheOpen() async throws {
        let resident = try #require(Self.fixture.build(.cosineDistance))
        await #expect(throws: FormatError.self) {
            try await Self.withFileIndex(resident, damage: { $0[Self.lead + IVFHead.headerSize + 3] ^= 0x01 }) { _ in }
        }
    }
}
