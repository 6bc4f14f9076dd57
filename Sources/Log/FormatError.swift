/// A persisted object could not be decoded. The code tells the reader what to do:
/// `corrupt` means the bytes are damaged (never trust them), `tooNew` means a newer Lagoon
/// wrote them (upgrade this node), `tooOld` means the format is no longer readable.
public struct FormatError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case corrupt
        case tooNew = "too new"
        case tooOld = "too old"
    }
    public var code: Code
    public var object: String
    public var message: String

    public init(_ code: Code, object: String, _ message: String) {
        self.code = code
        self.object = object
        self.message = message
    }

    public var description: String { "\(object): \(code.rawValue): \(message)" }
}
