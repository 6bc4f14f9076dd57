public import Log
import Foundation

/// Decodes a vector (written or queried): a JSON array of numbers, or base64 of
/// little-endian float32 values. Every element must be finite *as a float32* and of
/// magnitude at most `maxMagnitude`, so that no norm, dot product or distance computed
/// from stored and query vectors can overflow to infinity or NaN.
public enum VectorDecoding {
    /// With at most 16,384 dimensions, 16,384 × (2 × 1e16)² ≈ 6.6e36 stays below the
    /// float32 maximum (3.4e38): squared norms and squared distances stay finite.
    public static let maxMagnitude: Float = 1e16

    public static func decode(_ json: JSONValue, at path: JSONPath, dimension: Int?) throws -> [Float] {
        let limit = NamespaceConfig.maxDimension
        var vector: [Float]
        switch json {
        case .doubles(let values):
            guard values.count <= limit else { throw path.invalid("a vector has at most \(limit) dimensions, got \(values.count)") }
            vector = values.map { Float($0) }
        case .array(let items):
            // Check the size before allocating anything proportional to it.
            guard items.count <= limit else { throw path.invalid("a vector has at most \(limit) dimensions, got \(items.count)") }
            vector = []
            vector.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let v = item.doubleValue else { throw path.index(i).invalid("vector elements must be numbers, got \(item.kindName)") }
                vector.append(Float(v))
            }
        case .string(let encoded):
            guard encoded.utf8.count <= (limit * 4 + 2) / 3 * 4 else {
                throw path.invalid("a vector has at most \(limit) dimensions")
            }
            guard let data = Data(base64Encoded: encoded), data.count % 4 == 0 else {
                throw path.invalid("a string vector must be base64 of little-endian float32 values")
            }
            vector = data.withUnsafeBytes { raw in
                (0..<data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        default:
            throw path.invalid("a vector must be an array of numbers or a base64 string, got \(json.kindName)")
        }
        guard !vector.isEmpty else { throw path.invalid("a vector cannot be empty") }
        if let bad = vector.firstIndex(where: { !$0.isFinite }) {
            throw path.index(bad).invalid("vector values must be finite, got \(vector[bad])")
        }
        if let bad = vector.firstIndex(where: { abs($0) > maxMagnitude }) {
            throw path.index(bad).invalid("vector values must be at most \(maxMagnitude) in magnitude, got \(vector[bad])")
        }
        if let dimension, vector.count != dimension {
            throw path.invalid("wrong vector dimension: expected \(dimension), got \(vector.count)")
        }
        return vector
    }
}
