import Foundation
import LagoonTestSupport
import Log
import Segments
import Store
import Testing

/// A segment opened from the part directory its manifest reference carries
/// (Specs/format/manifest.md §7): no trailer or table read, the same contents, and a directory
/// that does not match the object is `corrupt`, never wrong data.
@Suite("Segment part directories")
struct SegmentPartDirectoryTests {
    static let key = "seg"

    /// The frozen v1 segment in a counting store, and a reference to it with its directory.
    static func stored() async throws -> (InstrumentedStore, SegmentReference) {
        let bytes = try Data(contentsOf: SegmentFormatTests.fixture)
        let store = InstrumentedStore(MemoryStore())
        try await store.put(key, bytes, condition: .none)
        let reference = SegmentReference(key: key, bytes: bytes.count, rows: 3, minSeq: 4, maxSeq: 7,
                                         parts: try SegmentFile.directory(ofObject: bytes, key: key))
        return (store, reference)
    }

    static func reads(_ store: InstrumentedStore) -> Int { store.counts.requests.values.reduce(0, +) - 1 }  // minus the put

    @Test("the directory is the part table, in table order")
    func directoryIsTheTable() async throws {
        let bytes = try Data(contentsOf: SegmentFormatTests.fixture)
        let directory = try SegmentFile.directory(ofObject: bytes, key: Self.key)
        let trailer = try SegmentFile.trailer(Data(bytes.suffix(SegmentFile.trailerSize)), objectSize: bytes.count, object: Self.key)
        let table = try SegmentFile.partTable(Data(bytes[trailer.tableOffset..<(trailer.tableOffset + trailer.tableLength)]),
                                              trailer: trailer, object: Self.key)
        #expect(directory.count == table.count)
        for entry in directory {
            let location = try #require(table[entry.name])
            #expect(location.offset == entry.offset && location.length == entry.length && location.checksum == entry.checksum,
                    "\(entry.name)")
        }
        #expect(directory.map(\.offset) == directory.map(\.offset).sorted(), "parts lie in table order")
    }

    @Test("with a directory, locating reads nothing and the segment opens with the same contents")
    func opensFromTheDirectory() async throws {
        let (store, reference) = try await Self.stored()
        let located = try await Segment.locate([reference], store: store)
        #expect(Self.reads(store) == 0, "no trailer or table read")
        var everything = SegmentPartRequest(vectors: true, columns: nil, textIndexes: ["text": SegmentFormatTests.fts])
        everything.filterIndexes = ["n", "tags", "text"]
        let segment = try #require(try await Segment.open(located, prefetch: everything, store: store).first)
        #expect(Self.reads(store) == 1, "meta, ids and the parts: one coalesced ranged read")
        try SegmentFormatTests.checkContents(segment)
    }

    @Test("without a directory (an older manifest), locating reads the trailer and table")
    func opensWithoutADirectory() async throws {
        let (store, stored) = try await Self.stored()
        var reference = stored
        reference.parts = nil
        let located = try await Segment.locate([reference], store: store)
        #expect(Self.reads(store) == 1)
        let segment = try #require(try await Segment.open(located, prefetch: .everything, store: store).first)
        try await segment.load(SegmentPartRequest(vectors: true, columns: nil, textIndexes: ["text": SegmentFormatTests.fts]), store: store)
        try SegmentFormatTests.checkContents(segment)
    }

    /// Damage to a directory, and whether it is caught when locating (vs. when reading parts).
    static let damages: [(String, Bool, @Sendable (inout [SegmentPartEntry]) -> Void)] = [
        ("a part missing", true, { $0.remove(at: 1) }),
        ("the last part missing", true, { $0.removeLast() }),
        ("a part listed twice", true, { $0.append($0[0]) }),
        ("a part renamed longer", true, { $0[1].name += "x" }),
        ("a part overlapping another", true, { $0[1].offset -= 1 }),
        ("a part before the header", true, { $0[0].offset = 0 }),
        ("a negative length", true, { $0[0].length = -1 }),
        ("a wrong checksum", false, { $0[0].checksum ^= 1 }),
        ("a boundary between two parts moved", false, { $0[0].length -= 1; $0[1].offset -= 1; $0[1].length += 1 }),
    ]

    @Test("a directory that does not match the object is corrupt", arguments: damages.indices)
    func damagedDirectory(_ index: Int) async throws {
        let (label, caughtWhenLocating, damage) = Self.damages[index]
        let (store, stored) = try await Self.stored()
        var reference = stored
        damage(&reference.parts!)
        do {
            let located = try await Segment.locate([reference], store: store)
            #expect(!caughtWhenLocating, "\(label): accepted when locating")
            _ = try await Segment.open(located, prefetch: .everything, store: store)
            Issue.record("\(label): the segment opened")
        } catch let error as FormatError {
            #expect(error.code == .corrupt, "\(label): \(error)")
            #expect(error.object == Self.key)
        }
    }

    @Test("a directory of another, smaller object is corrupt")
    func directoryOfAnotherSize() async throws {
        let (store, stored) = try await Self.stored()
        var reference = stored
        reference.bytes += 1
        await #expect(throws: FormatError.self) { _ = try await Segment.locate([reference], store: store) }
    }
}
