import Foundation

/// A strict parser for the subset of TOML that Lagoon's config and keys files use
/// (Specs/format/config.md §3): `[section]` and `[section.sub]` headers, `key = value` with
/// basic strings (all TOML escapes), integers, floats and booleans, and `#` comments.
/// Keys come out flattened as `section.key`. Whatever it does not support, or what TOML
/// forbids (a key or table defined twice, an unknown escape), is an error naming the line.
public enum TOMLSubset {
    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public enum Value: Sendable, Equatable {
        case string(String), integer(Int64), float(Double), bool(Bool)

        public var text: String {
            switch self {
            case .string(let s): return s
            case .integer(let v): return String(v)
            case .float(let v): return String(v)
            case .bool(let b): return b ? "true" : "false"
            }
        }
    }

    public static func parse(_ text: String) throws -> [String: Value] {
        var result: [String: Value] = [:]
        var keyLines: [String: Int] = [:]
        var tableLines: [String: Int] = [:]
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Line(Array(String(raw).unicodeScalars), number: number)
            line.skipSpace()
            if line.atEndOrComment { continue }
            if line.peek == "[" {
                line.advance()
                if line.peek == "[" { throw ParseError(line: number, message: "array tables [[…]] are not supported") }
                section = try line.dottedKey(until: "]")
                line.advance()
                try line.expectEnd()
                if let first = tableLines[section] {
                    throw ParseError(line: number, message: "table [\(section)] is defined twice (first on line \(first))")
                }
                if let first = keyLines[section] {
                    throw ParseError(line: number, message: "table [\(section)] redefines the key set on line \(first)")
                }
                tableLines[section] = number
                continue
            }
            let key = try line.simpleKey()
            line.skipSpace()
            guard line.peek == "=" else { throw ParseError(line: number, message: "expected key = value") }
            line.advance()
            line.skipSpace()
            let value = try line.value()
            try line.expectEnd()
            let full = section.isEmpty ? key : "\(section).\(key)"
            if let first = keyLines[full] {
                throw ParseError(line: number, message: "key \(full) is set twice (first on line \(first))")
            }
            if let first = tableLines[full] {
                throw ParseError(line: number, message: "key \(full) redefines the table of line \(first)")
            }
            keyLines[full] = number
            result[full] = value
        }
        return result
    }

    /// A cursor over one line's Unicode scalars.
    struct Line {
        let scalars: [Unicode.Scalar]
        let number: Int
        var position = 0

        init(_ scalars: [Unicode.Scalar], number: Int) {
            self.scalars = scalars
            self.number = number
        }

        var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }
        var atEndOrComment: Bool { peek == nil || peek == "#" }
        mutating func advance() { position += 1 }

        func error(_ message: String) -> ParseError { ParseError(line: number, message: message) }

        mutating func skipSpace() {
            while let c = peek, c == " " || c == "\t" || c == "\r" { advance() }
        }

        /// After a complete item only spaces and a comment may follow.
        mutating func expectEnd() throws {
            skipSpace()
            guard atEndOrComment else { throw error("unexpected text after the value: \(String(String.UnicodeScalarView(scalars[position...])))") }
        }

        static func isBare(_ c: Unicode.Scalar) -> Bool {
            ("A"..."Z").contains(c) || ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_"
        }

        /// A bare key (`A-Za-z0-9_-`) or a quoted one.
        mutating func simpleKey() throws -> String {
            if peek == "\"" { return try basicString() }
            var key = String.UnicodeScalarView()
            while let c = peek, Self.isBare(c) { key.append(c); advance() }
            guard !key.isEmpty else { throw error("expected a key (letters, digits, - and _, or a \"quoted key\")") }
            if peek == "." { throw error("dotted keys are not supported; use a [section] header") }
            return String(key)
        }

        /// `a.b.c` up to `terminator`, each part bare or quoted, spaces around the dots.
        mutating func dottedKey(until terminator: Unicode.Scalar) throws -> String {
            var parts: [String] = []
            while true {
                skipSpace()
                if peek == "\"" {
                    parts.append(try basicString())
                } else {
                    var part = String.UnicodeScalarView()
                    while let c = peek, Self.isBare(c) { part.append(c); advance() }
                    guard !part.isEmpty else { throw error("expected a table name in [ ]") }
                    parts.append(String(part))
                }
                skipSpace()
                if peek == "." { advance(); continue }
                guard peek == terminator else { throw error("expected \(terminator) to close the table header") }
                return parts.joined(separator: ".")
            }
        }

        mutating func value() throws -> Value {
            guard let first = peek else { throw error("missing value after =") }
            switch first {
            case "\"":
                if position + 2 < scalars.count, scalars[position + 1] == "\"", scalars[position + 2] == "\"" {
                    throw error("multi-line strings are not supported")
                }
                return .string(try basicString())
            case "'": throw error("single-quoted strings are not supported; use \"double quotes\"")
            case "[", "{": throw error("arrays and inline tables are not supported")
            default:
                var token = String.UnicodeScalarView()
                while let c = peek, c != " ", c != "\t", c != "\r", c != "#" { token.append(c); advance() }
                let text = String(token)
                if text == "true" { return .bool(true) }
                if text == "false" { return .bool(false) }
                // `_` only between digits, as in TOML.
                if text.contains("__") || text.hasPrefix("_") || text.hasSuffix("_") { throw error("unsupported value \(text)") }
                let digits = text.replacingOccurrences(of: "_", with: "")
                if let v = Int64(digits) { return .integer(v) }
                if digits.first.map({ $0.isNumber || $0 == "-" || $0 == "+" }) == true, let v = Double(digits), v.isFinite { return .float(v) }
                throw error("unsupported value \(text)")
            }
        }

        /// A `"…"` string with TOML's escapes: \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX.
        mutating func basicString() throws -> String {
            advance()  // opening quote
            var out = String.UnicodeScalarView()
            while let c = peek {
                advance()
                switch c {
                case "\"": return String(out)
                case "\\":
                    guard let e = peek else { throw error("unterminated string") }
                    advance()
                    switch e {
                    case "b": out.append("\u{08}")
                    case "t": out.append("\t")
                    case "n": out.append("\n")
                    case "f": out.append("\u{0C}")
                    case "r": out.append("\r")
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "u": out.append(try hexScalar(4))
                    case "U": out.append(try hexScalar(8))
                    default: throw error("unknown escape \\\(e) in a string (use \\\\ for a backslash)")
                    }
                default:
                    if c.value < 0x20 && c != "\t" || c.value == 0x7F { throw error("control character U+\(String(c.value, radix: 16, uppercase: true)) in a string; escape it") }
                    out.append(c)
                }
            }
            throw error("unterminated string")
        }

        mutating func hexScalar(_ count: Int) throws -> Unicode.Scalar {
            guard position + count <= scalars.count else { throw error("\\u needs \(count) hex digits") }
            let digits = String(String.UnicodeScalarView(scalars[position..<position + count]))
            position += count
            guard digits.allSatisfy(\.isHexDigit), let value = UInt32(digits, radix: 16) else {
                throw error("\\u needs \(count) hex digits, got \(digits)")
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("\\u\(digits) is not a Unicode scalar value")
            }
            return scalar
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
