#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Malformed JSON, with the byte offset where parsing stopped.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// A strict, allocation-light JSON parser (RFC 8259) for request bodies. Numbers are
/// parsed with `strtod` from the raw bytes; nesting depth is bounded.
public struct JSONParser {
    public static let maxDepth = 64

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var input = bytes
        input.append(0)  // strtod stops at the terminator
        return try input.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer: buffer, end: buffer.count - 1)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.position == parser.end else { throw parser.error("trailing characters after the value") }
            return value
        }
    }

    private let buffer: UnsafeBufferPointer<UInt8>
    private let end: Int
    private var position = 0

    private init(buffer: UnsafeBufferPointer<UInt8>, end: Int) {
        self.buffer = buffer
        self.end = end
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: position, message: message)
    }

    private var current: UInt8 { position < end ? buffer[position] : 0 }

    private mutating func skipWhitespace() {
        while position < end {
            let c = buffer[position]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            position += 1
        }
    }

    private mutating func expect(_ literal: StaticString, _ value: JSONValue) throws -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard position + count <= end else { throw error("unexpected end of input") }
        for i in 0..<count where buffer[position + i] != literal.utf8Start[i] {
            throw error("unexpected character")
        }
        position += count
        return value
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        switch current {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case 0 where position >= end: throw error("unexpected end of input")
        default: throw error("unexpected character '\(Character(Unicode.Scalar(current)))'")
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        position += 1
        var object = JSONObject()
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            skipWhitespace()
            object[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard current == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            position += 1
            return .object(object)
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard current == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            position += 1
            return Self.compacted(items)
        }
    }

    /// Long arrays of fractional numbers (vectors) keep 8 bytes per number instead of a
    /// 24-byte value each, so a body of vectors costs about its floats, not three times that.
    static let compactArrayMinimum = 16

    static func compacted(_ items: [JSONValue]) -> JSONValue {
        guard items.count >= compactArrayMinimum else { return .array(items) }
        var values: [Double] = []
        values.reserveCapacity(items.count)
        for item in items {
            guard case .double(let v) = item else { return .array(items) }
            values.append(v)
        }
        return .doubles(values)
    }

    private mutating func parseString() throws -> String {
        position += 1
        let start = position
        // Fast path: no escapes. Eight bytes at a time while none of them ends the fast path
        // (a base64 vector is a few kilobytes of plain string; written bodies are mostly such).
        position = Self.plainRun(buffer, from: position, end: end)
        while position < end {
            let c = buffer[position]
            if c == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(rebasing: buffer[start..<position])
                position += 1
                guard let s = String(validating: bytes, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            position += 1
        }
        var out: [UInt8] = Array(buffer[start..<position])
        while true {
            guard position < end else { throw error("unterminated string") }
            let c = buffer[position]
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            case UInt8(ascii: "\\"):
                guard position < end else { throw error("unterminated escape") }
                let e = buffer[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard position + 1 < end, buffer[position] == UInt8(ascii: "\\"), buffer[position + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        position += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape")
                }
            case 0..<0x20: throw error("control character in string")
            default: out.append(c)
            }
        }
    }

    /// The first position at or after `start`, a multiple of eight bytes on, whose next eight
    /// bytes (or fewer, up to `end`) may hold a quote, a backslash or a control character:
    /// the bytes skipped are plain string content. Tests each word at once (SWAR: a byte is
    /// zero after XOR with the byte looked for, or below 0x20, exactly when its high bit is set
    /// in `(v - 0x01…) & ~v & 0x80…` for its transformed value).
    static func plainRun(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int {
        guard let base = buffer.baseAddress else { return start }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var position = start
        while position + 8 <= end {
            let word = UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)
            let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)
            if special & highs != 0 { break }
            position += 8
        }
        return position
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard position + 4 <= end else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buffer[position]
            position += 1
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - 55)
            default: throw error("invalid hex digit")
            }
            v = v << 4 | d
        }
        return v
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = position
        var isInteger = true
        if current == UInt8(ascii: "-") { position += 1 }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) else { throw error("invalid number") }
        if current == UInt8(ascii: "0") {
            position += 1
        } else {
            while (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { position += 1 }
        }
        if current == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) else { throw error("invalid number") }
            while (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { position += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) else { throw error("invalid number") }
            while (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { position += 1 }
        }
        if isInteger && position - start <= 18 {
            var v: Int64 = 0
            var i = start
            let negative = buffer[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            while i < position {
                v = v * 10 + Int64(buffer[i] - 48)
                i += 1
            }
            return .int(negative ? -v : v)
        }
        if isInteger {
            let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
            if let v = Int64(text) { return .int(v) }
            if let v = UInt64(text) { return .uint(v) }
        }
        let value = buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: end + 1) { base in
            strtod(base + start, nil)
        }
        return .double(value)
    }
}
