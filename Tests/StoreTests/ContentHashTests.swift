import Foundation
import LagoonTestSupport
import Store
import Testing

@Suite("ContentHash")
struct ContentHashTests {
    /// Reference values from libxxhash's C API (`XXH3_64bits`, seed 0).
    @Test(arguments: [
        ("", 0x2d06_8005_38d3_94c2 as UInt64),
        ("a", 0xe6c6_32b6_1e96_4e1f),
        ("abc", 0x78af_5f94_892f_3950),
        ("Lagoon", 0xb39c_ee17_2646_857f),
    ])
    func knownVectors(_ input: String, _ expected: UInt64) {
        #expect(ContentHash.xxh3(Data(input.utf8)) == expected)
        #expect(ContentHash.etag(Data(input.utf8)) == String(expected, radix: 16).leftPadded(to: 16))
    }

    @Test func bufferOverloadMatchesDataOverload() {
        let data = Data((0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let whole = data.withUnsafeBytes { ContentHash.xxh3($0) }
        let slice = data.withUnsafeBytes { ContentHash.xxh3(UnsafeRawBufferPointer(rebasing: $0[100..<300])) }
        #expect(whole == ContentHash.xxh3(data))
        #expect(slice == ContentHash.xxh3(data.subdata(in: 100..<300)))
        // A Data slice with a non-zero start index hashes its own bytes.
        #expect(ContentHash.xxh3(data[100..<300]) == slice)
    }

    /// The contract only promises opaque etags; the local backends promise xxh3 hex.
    @Test("local backends use the xxh3-64 hex of the content as etag", arguments: StoreBackend.allCases.filter { $0 != .s3 })
    func localEtags(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let bytes = Data("segment bytes".utf8)
            let etag = try await store.put("k", bytes, condition: .none)
            #expect(etag == ContentHash.etag(bytes))
            #expect(etag.count == 16 && etag.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    @Test func hexIsSixteenLowercaseDigits() {
        #expect(ContentHash.hex(0) == "0000000000000000")
        #expect(ContentHash.hex(0xab) == "00000000000000ab")
        #expect(ContentHash.hex(.max) == "ffffffffffffffff")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
