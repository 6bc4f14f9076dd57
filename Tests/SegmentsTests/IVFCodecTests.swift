import Foundation
import Kernels
import Log
import Segments
import Testing

@Suite("IVF format: round trip, ranged reads, corruption")
struct IVFCodecTests {
    static let fixture = IVFFixture(count: 2_000, dimension: 16, clusters: 12, seed: 0xC0DEC)
    static let index = fixture.build(.cosineDistance)

    @Test func roundTripAnswersTheSame() throws {
        let index = try #require(Self.index)
        let copy = try IVFIndex(decoding: Data([UInt8](index.residentBytes!)))
        #expect(copy.residentBytes! == index.residentBytes!)
        #expect(copy.head.lists == index.head.lists)
        #expect(copy.head.centroids == index.head.centroids)
        #expect(copy.recallCurve == index.recallCurve)
        for q in Self.fixture.queries(10, seed: 1) {
            #expect(try copy.search(q, k: 10, probes: 3).neighbors == index.search(q, k: 10, probes: 3).neighbors)
        }
    }

    @Test func misalignedBytesAreReadToo() throws {
        let index = try #require(Self.index)
        let shifted = Data([0] + [UInt8](index.residentBytes!))
        let copy = try IVFIndex(decoding: shifted[1...])
        let q = Self.fixture.row(5)
        #expect(try copy.search(q, k: 5, probes: 2).neighbors == index.search(q, k: 5, probes: 2).neighbors)
    }

    @Test func headAndOneListByRangedReads() throws {
        let index = try #require(Self.index)
        let bytes = [UInt8](index.residentBytes!)
        let headLength = try bytes.withUnsafeBytes {
            try IVFHead.headLength(header: UnsafeRawBufferPointer(rebasing: $0[0..<IVFHead.headerSize]), object: "t")
        }
        let head = try bytes.withUnsafeBytes { try IVFHead.decode(UnsafeRawBufferPointer(rebasing: $0[0..<headLength]), object: "t") }
        #expect(head.lists == index.head.lists)
        #expect(head.totalLength == bytes.count)
        for list in [0, head.listCount - 1] {
            let range = head.byteRange(ofList: list)
            #expect(range.lowerBound % IVFFormat.alignment == 0)
            let block = Array(bytes[range])
            try block.withUnsafeBytes { try head.verify(list: list, block: $0, object: "t") }
        }
    }

    @Test func flippedBytesAreCorrupt() throws {
        let index = try #require(Self.index)
        let bytes = [UInt8](index.residentBytes!)
        let lastList = index.head.byteRange(ofList: index.listCount - 1)
        // In the header, a centroid, the directory, and the last list's vectors.
        for at in [12, IVFFormat.headerSize + 5, index.head.headLength - 20, lastList.upperBound - 3] {
            var damaged = bytes
            damaged[at] ^= 0x40
            #expect(throws: FormatError.self, "byte \(at)") { try IVFIndex(decoding: Data(damaged)) }
            do {
                _ = try IVFIndex(decoding: Data(damaged))
            } catch let error as FormatError {
                #expect(error.code == .corrupt, "byte \(at): \(error)")
            }
        }
        #expect(throws: FormatError.self) { try IVFIndex(decoding: Data(bytes.dropLast(7))) }
        #expect(throws: FormatError.self) { try IVFIndex(decoding: Data(bytes.prefix(40))) }
    }

    @Test func newerVersionOrEncodingIsTooNew() throws {
        let index = try #require(Self.index)
        for (at, value) in [(4, UInt8(IVFFormat.version + 1)), (6, UInt8(1))] {
            var bytes = [UInt8](index.residentBytes!)
            bytes[at] = value
            do {
                _ = try IVFIndex(decoding: Data(bytes))
                Issue.record("byte \(at) = \(value) was accepted")
            } catch let error as FormatError {
                #expect(error.code == .tooNew, "\(error)")
            }
        }
    }
}
