public import Log

/// The location of a value inside a request body, printed as `upsert_rows[2].vector`.
public struct JSONPath: Sendable, CustomStringConvertible {
    public private(set) var description: String

    public init(_ root: String = "") {
        description = root
    }

    public func key(_ name: String) -> JSONPath {
        JSONPath(description.isEmpty ? name : "\(description).\(name)")
    }

    public func index(_ i: Int) -> JSONPath {
        JSONPath("\(description)[\(i)]")
    }

    public func invalid(_ problem: String) -> LagoonError {
        LagoonError.invalid(description, problem)
    }
}
