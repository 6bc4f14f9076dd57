import Foundation
import Log
import Testing

@Suite("CanonicalDatetime")
struct CanonicalDatetimeTests {
    @Test("accepted forms become one fixed-width UTC text", arguments: [
        ("2024-03-01T01:30:00+02:00", "2024-02-29T23:30:00.000Z"),
        ("2024-03-01T01:30:00+0200", "2024-02-29T23:30:00.000Z"),
        ("2023-12-31T22:00:00-02:30", "2024-01-01T00:30:00.000Z"),
        ("2024-02-29", "2024-02-29T00:00:00.000Z"),
        ("2024-02-29t12:00:00z", "2024-02-29T12:00:00.000Z"),
        ("2024-02-29 12:00:00", "2024-02-29T12:00:00.000Z"),
        ("2024-02-29T12:00:00.5Z", "2024-02-29T12:00:00.500Z"),
        ("2024-02-29T12:00:00.123999Z", "2024-02-29T12:00:00.123Z"),
        ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
        ("2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"),
    ])
    func normalises(input: String, expected: String) {
        #expect(CanonicalDatetime.normalize(input) == expected)
        #expect(CanonicalDatetime.normalize(expected) == expected, "the canonical form is a fixed point")
    }

    @Test("everything else is refused", arguments: [
        "", "yesterday", "2024-02-30", "2023-02-29", "1900-02-29", "2024-13-01", "2024-1-01", "2024-01-01T24:00:00Z",
        "2024-01-01T12:60:00Z", "2024-01-01T12:00:60Z", "2024-01-01T12:00Z", "2024-01-01T12:00:00.Z", "2024-01-01T12:00:00+25:00",
        "2024-01-01T12:00:00+02", "2024-01-01T12:00:00Zjunk", "0000-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00",
        "+2024-01-01", "２０２４-01-01",
    ])
    func refuses(input: String) {
        #expect(CanonicalDatetime.normalize(input) == nil)
    }

    @Test("text order of canonical forms is instant order, and matches Foundation's instants")
    func orderIsInstantOrder() {
        var state: UInt64 = 42
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var pairs: [(ms: Int64, text: String)] = []
        for _ in 0..<2_000 {
            let year = 1900 + next(200), month = 1 + next(12), day = 1 + next(28)
            let offset = next(2) == 0 ? "Z" : String(format: "%@%02d:%02d", next(2) == 0 ? "+" : "-", next(15), next(60))
            let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d", year, month, day, next(24), next(60), next(60), next(1000)) + offset
            guard let ms = CanonicalDatetime.millisecondsSinceEpoch(text), let canonical = CanonicalDatetime.normalize(text) else {
                Issue.record("refused \(text)")
                continue
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) {
                #expect(abs(date.timeIntervalSince1970 * 1000 - Double(ms)) < 1, "\(text)")
            }
            pairs.append((ms, canonical))
        }
        let byInstant = pairs.sorted { $0.ms < $1.ms }.map(\.text)
        let byText = pairs.map(\.text).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(byInstant == byText)
    }
}
