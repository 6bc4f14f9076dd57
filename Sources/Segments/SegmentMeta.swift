public import Foundation
public import Log

/// The `meta` part of a segment: what it holds, as JSON (small; read when the segment opens).
public struct SegmentMeta: Sendable, Codable, Equatable {
    public var rowCount: Int
    /// The WAL sequence numbers folded into this segment (for compactions: the union).
    public var minSeq: UInt64
    public var maxSeq: UInt64
    public var dimension: Int?
    /// Attributes with a `column/{name}` part.
    public var attributes: [String]
    /// Attributes with a `text/{name}` part, and the tokenizer settings it was built with.
    public var textIndexes: [String: FullTextConfig]

    enum CodingKeys: String, CodingKey {
        case rowCount = "row_count"
        case minSeq = "min_seq"
        case maxSeq = "max_seq"
        case dimension, attributes
        case textIndexes = "text_indexes"
    }

    public init(rowCount: Int, minSeq: UInt64, maxSeq: UInt64, dimension: Int?, attributes: [String], textIndexes: [String: FullTextConfig]) {
        self.rowCount = rowCount
        self.minSeq = minSeq
        self.maxSeq = maxSeq
        self.dimension = dimension
        self.attributes = attributes
        self.textIndexes = textIndexes
    }

    public func encode() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func decode(_ data: Data, object: String) throws -> SegmentMeta {
        do {
            let meta = try JSONDecoder().decode(SegmentMeta.self, from: data)
            guard meta.rowCount >= 0, meta.rowCount <= Int(Int32.max), meta.minSeq <= meta.maxSeq else {
                throw FormatError(.corrupt, object: object, "segment meta out of range")
            }
            return meta
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError(.corrupt, object: object, "segment meta does not decode: \(error)")
        }
    }
}
