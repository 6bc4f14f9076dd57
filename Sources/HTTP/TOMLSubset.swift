import Foundation

/// A parser for the subset of TOML that Lagoon's config and keys files use:
/// `[section]` and `[section.sub]` headers, `key = value` with strings, integers,
/// floats and booleans, and `#` comments. Keys come out flattened as `section.key`.
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
        var section = ""
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = stripComment(String(raw)).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw ParseError(line: number + 1, message: "expected [section]")
                }
                section = String(line.dropFirst().dropLast()).trimmingWhitespace()
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(line: number + 1, message: "expected key = value")
            }
            var key = String(line[..<equals]).trimmingWhitespace()
            if key.hasPrefix("\""), key.hasSuffix("\""), key.count >= 2 { key = String(key.dropFirst().dropLast()) }
            let valueText = String(line[line.index(after: equals)...]).trimmingWhitespace()
            let value = try parseValue(valueText, line: number + 1)
            result[section.isEmpty ? key : "\(section).\(key)"] = value
        }
        return result
    }

    static func stripComment(_ line: String) -> String {
        var inString = false
        for (i, c) in line.enumerated() {
            if c == "\"" { inString.toggle() }
            if c == "#" && !inString { return String(line.prefix(i)) }
        }
        return line
    }

    static func parseValue(_ text: String, line: Int) throws -> Value {
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else { throw ParseError(line: line, message: "unterminated string") }
            return .string(String(text.dropFirst().dropLast()).replacingEscapes())
        }
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        let digits = text.replacingOccurrences(of: "_", with: "")
        if let v = Int64(digits) { return .integer(v) }
        if let v = Double(digits) { return .float(v) }
        throw ParseError(line: line, message: "unsupported value \(text)")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }

    func replacingEscapes() -> String {
        replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
    }
}
