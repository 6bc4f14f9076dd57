/// Datetime values in one canonical text form: `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, with
/// millisecond precision (as turbopuffer keeps them). Fixed width, so comparing the text
/// by bytes orders by instant (Specs/query/semantics.md §4).
///
/// Accepted input: `YYYY-MM-DD`, or `YYYY-MM-DD` + `T`/`t`/space + `HH:MM:SS`, an optional
/// fraction (any number of digits, truncated to milliseconds) and an optional zone
/// (`Z`, `z`, `±HH:MM`, `±HHMM`; none means UTC). Years 0000–9999 after conversion to UTC.
/// Parsed by hand: no formatter objects per value.
public enum CanonicalDatetime {
    /// The canonical form of `text`, or nil when it is not a datetime.
    public static func normalize(_ text: String) -> String? {
        guard let ms = millisecondsSinceEpoch(text) else { return nil }
        return format(ms)
    }

    /// Milliseconds since 1970-01-01T00:00:00Z, or nil when `text` is not a datetime.
    public static func millisecondsSinceEpoch(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard (48...57).contains(b[k]) else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0, offsetMinutes = 0
        if i < b.count {
            guard b[i] == 0x54 || b[i] == 0x74 || b[i] == 0x20 else { return nil }  // T t space
            i += 1
            guard let h = digits(2), expect(0x3A), let m = digits(2), expect(0x3A), let s = digits(2) else { return nil }
            guard h < 24, m < 60, s < 60 else { return nil }  // no leap seconds
            (hour, minute, second) = (h, m, s)
            if expect(0x2E) {
                let start = i
                while i < b.count, (48...57).contains(b[i]) { i += 1 }
                guard i > start else { return nil }
                for k in 0..<3 { millis = millis * 10 + (start + k < i ? Int(b[start + k] - 48) : 0) }
            }
            if i < b.count {
                switch b[i] {
                case 0x5A, 0x7A: i += 1  // Z z
                case 0x2B, 0x2D:  // + -
                    let sign = b[i] == 0x2B ? 1 : -1
                    i += 1
                    guard let oh = digits(2) else { return nil }
                    _ = expect(0x3A)
                    guard let om = digits(2), oh < 24, om < 60 else { return nil }
                    offsetMinutes = sign * (oh * 60 + om)
                default: return nil
                }
            }
            guard i == b.count else { return nil }
        }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        let ms = seconds * 1000 + Int64(millis)
        guard ms >= minMilliseconds, ms <= maxMilliseconds else { return nil }
        return ms
    }

    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
    static let minMilliseconds = Int64(daysFromCivil(year: 0, month: 1, day: 1)) * 86_400_000
    static let maxMilliseconds = Int64(daysFromCivil(year: 10_000, month: 1, day: 1)) * 86_400_000 - 1

    /// The canonical text of an instant in milliseconds since the epoch.
    public static func format(_ ms: Int64) -> String {
        let (days, dayMillis) = floorDivide(ms, 86_400_000)
        let (year, month, day) = civil(fromDays: Int(days))
        let t = Int(dayMillis)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func put(_ v: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = v
            while divisor > 0 {
                out.append(UInt8(48 + v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        put(year, 4); out.append(0x2D); put(month, 2); out.append(0x2D); put(day, 2); out.append(0x54)
        put(t / 3_600_000, 2); out.append(0x3A); put(t / 60_000 % 60, 2); out.append(0x3A); put(t / 1000 % 60, 2)
        out.append(0x2E); put(t % 1000, 3); out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The inverse of `daysFromCivil` (`civil_from_days`).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
