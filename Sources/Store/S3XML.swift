import Foundation

/// The little XML S3 answers with — `ListBucketResult` and `Error` documents — read
/// without a full XML parser. S3's documents are flat, machine-written and never use
/// attributes, comments or CDATA in the elements read here; text is entity-encoded
/// (`&amp;`, `&lt;`, `&#x1F;`…), which `decodeEntities` undoes.
enum S3XML {
    /// The inner text of each `<name>…</name>` element, in document order, not decoded.
    /// A self-closing `<name/>` counts as empty. Nested elements of the same name are
    /// not supported (S3 never nests them).
    static func elements(_ name: String, in xml: Substring) -> [Substring] {
        var results: [Substring] = []
        let open = "<\(name)>", close = "</\(name)>", empty = "<\(name)/>"
        var rest = xml[...]
        while let start = firstOf(open, empty, in: rest) {
            if rest[start].hasSuffix("/>") {
                results.append(rest[start.upperBound..<start.upperBound])
                rest = rest[start.upperBound...]
                continue
            }
            guard let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) else { break }
            results.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return results
    }

    /// The decoded text of the first `<name>` element, or nil when there is none.
    static func text(_ name: String, in xml: Substring) -> String? {
        elements(name, in: xml).first.map(decodeEntities)
    }

    /// The earlier of the two strings' first occurrences.
    private static func firstOf(_ a: String, _ b: String, in text: Substring) -> Range<Substring.Index>? {
        let first = text.range(of: a), second = text.range(of: b)
        guard let first else { return second }
        guard let second else { return first }
        return first.lowerBound <= second.lowerBound ? first : second
    }

    /// Replaces the five predefined entities and numeric character references.
    /// An unknown or malformed reference is kept as written.
    static func decodeEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "&",
                  let semicolon = text[index...].prefix(12).firstIndex(of: ";") else {
                result.append(character)
                index = text.index(after: index)
                continue
            }
            let name = text[text.index(after: index)..<semicolon]
            if let decoded = decodeReference(name) {
                result.append(decoded)
                index = text.index(after: semicolon)
            } else {
                result.append(character)
                index = text.index(after: index)
            }
        }
        return result
    }

    private static func decodeReference(_ name: Substring) -> Character? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard name.hasPrefix("#") else { return nil }
            let digits = name.dropFirst()
            let value = digits.hasPrefix("x") || digits.hasPrefix("X")
                ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            return value.flatMap(Unicode.Scalar.init).map(Character.init)
        }
    }
}

/// One parsed `ListObjectsV2` answer.
struct S3ListResult: Equatable {
    struct Entry: Equatable {
        var key: String
        var size: Int
        var etag: String
    }
    var entries: [Entry]
    var isTruncated: Bool

    /// Parses a `ListBucketResult`; throws a description of what is missing.
    static func parse(_ xml: String) throws(S3ParseError) -> S3ListResult {
        let document = xml[...]
        guard document.contains("<ListBucketResult") else { throw S3ParseError("not a ListBucketResult document") }
        var entries: [Entry] = []
        for contents in S3XML.elements("Contents", in: document) {
            guard let key = S3XML.text("Key", in: contents) else { throw S3ParseError("<Contents> without <Key>") }
            guard let sizeText = S3XML.text("Size", in: contents), let size = Int(sizeText) else {
                throw S3ParseError("<Contents> of \(key) without a numeric <Size>")
            }
            let etag = S3XML.text("ETag", in: contents).map(S3ETag.normalized) ?? ""
            entries.append(Entry(key: key, size: size, etag: etag))
        }
        let truncated = S3XML.text("IsTruncated", in: document) == "true"
        return S3ListResult(entries: entries, isTruncated: truncated)
    }
}

struct S3ParseError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The `<Code>` and `<Message>` of an S3 `<Error>` body (empty strings when absent).
struct S3ErrorBody {
    var code: String
    var message: String
    init(_ body: [UInt8]) {
        let xml = String(decoding: body, as: UTF8.self)[...]
        code = S3XML.text("Code", in: xml) ?? ""
        message = S3XML.text("Message", in: xml) ?? ""
    }
}

/// S3 etags arrive quoted (`"9b2cf5…"`) in headers and listings; the store hands them out
/// without quotes and quotes them again in `If-Match` / `If-None-Match`.
enum S3ETag {
    static func normalized(_ etag: String) -> String {
        var value = etag.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("W/") { value.removeFirst(2) }
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        return value
    }

    static func quoted(_ etag: String) -> String { "\"\(etag)\"" }
}
