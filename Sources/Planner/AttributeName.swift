public import Log
import Foundation

/// Attribute names must be in Unicode Normalization Form C.
///
/// Names key dictionaries throughout Lagoon (schema, columns, documents), and Swift
/// `String` keys merge canonically-equivalent spellings ("é" and "e\u{301}"). Requiring
/// NFC makes that impossible: two different NFC strings are never canonically equivalent,
/// so string equality on names is byte equality (Specs/query/semantics.md §1).
public enum AttributeName {
    public static func validate(_ name: String, at path: JSONPath) throws {
        guard isNFC(name) else {
            throw path.invalid("attribute name \"\(name)\" is not in Unicode NFC; send its composed form (\"\(name.precomposedStringWithCanonicalMapping)\")")
        }
    }

    public static func isNFC(_ name: String) -> Bool {
        if name.utf8.allSatisfy({ $0 < 0x80 }) { return true }  // ASCII is always NFC
        return StringBytes.equal(name, name.precomposedStringWithCanonicalMapping)
    }
}
