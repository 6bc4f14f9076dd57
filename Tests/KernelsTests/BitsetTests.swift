import Kernels
import Testing

@Suite("Bitset vs Set<Int>")
struct BitsetTests {
    static let sizes = [0, 1, 63, 64, 65, 130, 1000]

    static func randomMembers(_ count: Int, density: UInt64, seed: UInt64) -> Set<Int> {
        guard count > 0 else { return [] }
        var rng = SplitMix64(seed: seed)
        return Set((0..<count).filter { _ in rng.next() % 100 < density })
    }

    static func check(_ b: Bitset, _ s: Set<Int>) {
        #expect(b.popcount == s.count)
        #expect(b.isEmpty == s.isEmpty)
        #expect(b.setBits() == s.sorted())
        for i in 0..<b.count { #expect(b.contains(i) == s.contains(i)) }
        // Tail invariant: no stray bits beyond count.
        if let last = b.words.last, b.count % 64 != 0 {
            #expect(last >> UInt64(b.count % 64) == 0)
        }
    }

    @Test(arguments: sizes)
    func setClearContains(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &+ 1)
        var b = Bitset(count: count)
        var s = Set<Int>()
        #expect(b.words.count == (count + 63) / 64)
        for _ in 0..<(count * 3) {
            let i = Int(rng.next() % UInt64(count))
            if rng.next() % 3 == 0 { b.clear(i); s.remove(i) } else { b.set(i); s.insert(i) }
        }
        Self.check(b, s)
        #expect(b == Bitset(count: count, members: s))
        b.clearAll()
        Self.check(b, [])
    }

    @Test(arguments: sizes, [5, 50, 95] as [UInt64])
    func setAlgebra(count: Int, density: UInt64) {
        let sa = Self.randomMembers(count, density: density, seed: UInt64(count) * 7 + density)
        let sb = Self.randomMembers(count, density: 100 - density, seed: UInt64(count) * 13 + density)
        let a = Bitset(count: count, members: sa)
        let b = Bitset(count: count, members: sb)

        var u = a; u.formUnion(b)
        Self.check(u, sa.union(sb))
        var x = a; x.formIntersection(b)
        Self.check(x, sa.intersection(sb))
        var d = a; d.subtract(b)
        Self.check(d, sa.subtracting(sb))
        var c = a; c.formComplement()
        Self.check(c, Set(0..<count).subtracting(sa))
        // Operands are values: mutating copies left the originals alone.
        Self.check(a, sa)
        Self.check(b, sb)
    }

    @Test(arguments: sizes)
    func allSet(count: Int) {
        let b = Bitset(allSet: count)
        Self.check(b, Set(0..<count))
        var e = b; e.formComplement()
        Self.check(e, [])
    }

    @Test(arguments: sizes)
    func iterationOrderAndNextSetBit(count: Int) {
        let s = Self.randomMembers(count, density: 20, seed: 55 &+ UInt64(count))
        let b = Bitset(count: count, members: s)
        var seen: [Int] = []
        b.forEachSetBit { seen.append($0) }
        #expect(seen == s.sorted())
        // Walk with nextSetBit from every start position.
        for start in 0...count {
            let expected = s.filter { $0 >= start }.min()
            #expect(b.nextSetBit(atOrAfter: start) == expected)
        }
    }

    @Test func forEachSetBitCanStopByThrowing() {
        struct Stop: Error {}
        let b = Bitset(allSet: 200)
        var seen = 0
        #expect(throws: Stop.self) {
            try b.forEachSetBit { i in seen += 1; if i == 99 { throw Stop() } }
        }
        #expect(seen == 100)
    }
}
