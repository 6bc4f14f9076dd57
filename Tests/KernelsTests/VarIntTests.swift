import Kernels
import Testing

@Suite("VarInt encode/decode")
struct VarIntTests {
    static let edgeValues: [UInt64] = {
        var v: [UInt64] = [0, 1, 127, 128, 255, 256, 16_383, 16_384, UInt64(UInt32.max), UInt64.max, UInt64.max - 1]
        for shift in 0..<64 { let p = UInt64(1) << UInt64(shift); v += [p, p - 1, p + 1] }
        return v
    }()

    static func decodeAll(_ bytes: [UInt8]) throws -> [UInt64] {
        try bytes.withUnsafeBytes { buf in
            var offset = 0
            var out: [UInt64] = []
            while offset < buf.count { out.append(try VarInt.decode(from: buf, offset: &offset)) }
            return out
        }
    }

    @Test func knownEncodings() {
        func enc(_ v: UInt64) -> [UInt8] { var b: [UInt8] = []; VarInt.append(v, to: &b); return b }
        #expect(enc(0) == [0x00])
        #expect(enc(1) == [0x01])
        #expect(enc(127) == [0x7F])
        #expect(enc(128) == [0x80, 0x01])
        #expect(enc(300) == [0xAC, 0x02])
        #expect(enc(UInt64.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func zigzagMapping() {
        let pairs: [(Int64, UInt64)] = [(0, 0), (-1, 1), (1, 2), (-2, 3), (2, 4),
                                        (Int64.max, UInt64.max - 1), (Int64.min, UInt64.max)]
        for (n, z) in pairs {
            #expect(VarInt.zigzagEncode(n) == z)
            #expect(VarInt.zigzagDecode(z) == n)
        }
    }

    @Test func unsignedRoundTrip() throws {
        var rng = SplitMix64(seed: 0x7A1)
        // Random values with random bit widths so every length 1...10 is common.
        let random = (0..<2000).map { _ in rng.next() >> (rng.next() % 64) }
        let values = Self.edgeValues + random
        var bytes: [UInt8] = []
        for v in values {
            let before = bytes.count
            VarInt.append(v, to: &bytes)
            #expect(bytes.count - before == VarInt.encodedLength(v))
            #expect((1...VarInt.maxLength).contains(bytes.count - before))
        }
        #expect(try Self.decodeAll(bytes) == values)
    }

    @Test func signedRoundTrip() throws {
        var rng = SplitMix64(seed: 0x5161)
        let values: [Int64] = [0, 1, -1, 63, -64, 64, -65, .max, .min, .max - 1, .min + 1]
            + (0..<2000).map { _ in Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64) }
        var bytes: [UInt8] = []
        for v in values { VarInt.appendSigned(v, to: &bytes) }
        let decoded = try bytes.withUnsafeBytes { buf in
            var offset = 0
            var out: [Int64] = []
            while offset < buf.count { out.append(try VarInt.decodeSigned(from: buf, offset: &offset)) }
            #expect(offset == buf.count)
            return out
        }
        #expect(decoded == values)
        // Small magnitudes stay short.
        var small: [UInt8] = []
        VarInt.appendSigned(-64, to: &small)
        #expect(small.count == 1)
    }

    @Test(arguments: Self.edgeValues.filter { $0 >= 128 })
    func everyProperPrefixIsTruncated(value: UInt64) {
        var bytes: [UInt8] = []
        VarInt.append(value, to: &bytes)
        for cut in 0..<bytes.count {
            let prefix = Array(bytes[0..<cut])
            prefix.withUnsafeBytes { buf in
                var offset = 0
                #expect(throws: VarIntError(code: .truncated, offset: 0)) {
                    _ = try VarInt.decode(from: buf, offset: &offset)
                }
                #expect(offset == 0, "offset must not move on error")
                #expect(VarInt.tryDecode(from: buf, offset: &offset) == nil)
            }
        }
    }

    @Test func malformedInputThrows() {
        let tooLong = [UInt8](repeating: 0x80, count: 10) + [0x01]
        let overflow: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        for bytes in [tooLong, overflow] {
            bytes.withUnsafeBytes { buf in
                var offset = 0
                #expect(throws: VarIntError(code: .malformed, offset: 0)) {
                    _ = try VarInt.decode(from: buf, offset: &offset)
                }
                #expect(offset == 0)
            }
        }
    }

    @Test func offsetOutsideBufferThrows() {
        [UInt8]([1, 2, 3]).withUnsafeBytes { buf in
            for bad in [-1, 3, 4, Int.max, Int.min] {
                var offset = bad
                #expect(throws: VarIntError.self) { _ = try VarInt.decode(from: buf, offset: &offset) }
                #expect(offset == bad)
            }
            var offset = 2
            let last = try? VarInt.decode(from: buf, offset: &offset)
            #expect(last == 3)
            #expect(offset == 3)
        }
        var offset = 0
        #expect(VarInt.tryDecode(from: UnsafeRawBufferPointer(start: nil, count: 0), offset: &offset) == nil)
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SplitMix64(seed: 0xBAD)
        for _ in 0..<500 {
            let bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { buf in
                var offset = 0
                while let _ = VarInt.tryDecode(from: buf, offset: &offset) {}
                #expect(offset <= buf.count)
            }
        }
    }
}
