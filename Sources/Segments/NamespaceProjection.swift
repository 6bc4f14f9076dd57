public import Log

/// The materialised state of a namespace: every row the log has produced, with a
/// liveness flag, columnar attributes, vectors and full-text indexes.
///
/// Rows are append-only: an upsert or patch of an existing id kills the old row and
/// appends a new one, so the projection at a given sequence number is immutable and a
/// copy of this struct is an O(1) snapshot (see `ChunkedColumn`). Today every row lives
/// here (the WAL tail); segments built by the indexer will take rows out of it.
public struct NamespaceProjection: Sendable {
    public private(set) var config: NamespaceConfig
    /// The highest sequence number applied.
    public private(set) var appliedSeq: UInt64 = 0
    public private(set) var ids: [DocumentID] = []
    public private(set) var alive: [Bool] = []
    public private(set) var liveCount = 0
    /// Row-major vectors of the rows that have one, in row order (rows without a vector take
    /// no space: a 16,384-d namespace does not pay 64 KB for a row without a vector).
    public private(set) var vectors: ChunkedColumn<Float>?
    public private(set) var hasVector: [Bool] = []
    /// The position of each row's vector in `vectors` (-1: none); increasing with the row.
    public private(set) var vectorSlot: [Int32] = []
    /// 1/‖v‖ per stored vector (0 for zero vectors), for cosine distance.
    public private(set) var inverseNorms: ChunkedColumn<Float> = ChunkedColumn()
    public private(set) var columns: [String: SparseColumn] = [:]
    public private(set) var textIndexes: [String: TextIndex] = [:]
    public private(set) var rowForID: [DocumentID: Int32] = [:]
    /// Every id an applied event touched, with the sequence number of the last entry that did:
    /// these shadow older copies in segments (the sequence number says which stay shadowing
    /// when a flush folds a prefix of the entries, `droppingEntries(through:)`).
    private var lastTouchedSeq: [DocumentID: UInt64] = [:]
    /// Every id an applied event touched: these shadow older copies in segments.
    public var touchedIDs: Dictionary<DocumentID, UInt64>.Keys { lastTouchedSeq.keys }
    /// Approximate bytes of live documents.
    public private(set) var logicalBytes = 0
    /// `approximateBytes` of each row's document, so a kill needs no materialised document.
    private var rowBytes: [Int] = []
    /// Where each applied entry's rows end, in sequence order (rows are appended in that order).
    private var entryEnds: [(seq: UInt64, rowEnd: Int)] = []

    public init(config: NamespaceConfig) {
        self.config = config
        for (name, fts) in config.fullTextAttributes {
            textIndexes[name] = TextIndex(config: fts)
        }
    }

    public var rowCount: Int { ids.count }
    public var dimension: Int? { vectors?.width }

    /// The attribute value of a row (null when absent).
    public func value(_ attribute: String, row: Int) -> AttributeValue {
        if attribute == "id" { return ids[row].attributeValue }
        guard let column = columns[attribute] else { return .null }
        return column[row]
    }

    /// The live row of an id, if any.
    public func liveRow(of id: DocumentID) -> Int? {
        guard let row = rowForID[id], alive[Int(row)] else { return nil }
        return Int(row)
    }

    /// The whole document stored in a row.
    public func document(row: Int) -> Document {
        var attributes: [String: AttributeValue] = [:]
        for (name, column) in columns {
            let v = column[row]
            if !v.isNull { attributes[name] = v }
        }
        return Document(id: ids[row], vector: vector(row: row), attributes: attributes)
    }

    /// The vector of a row, if it has one.
    public func vector(row: Int) -> [Float]? {
        let slot = vectorSlot[row]
        return slot < 0 ? nil : vectors?.rowArray(Int(slot))
    }

    /// Applies a committed entry's config and events. Entries must arrive in sequence order.
    /// An entry that cannot follow this state (out of sequence, or vectors of another width)
    /// throws `FormatError.corrupt` and changes nothing: the writer never produces one, so it
    /// can only come from damaged or forged objects, which must not stop the process.
    ///
    /// `base` finds the document a v1 patch event changes when the tail does not hold it (it
    /// lives in a segment); WAL entries written since segments exist log patches as upserts.
    public mutating func apply(_ entry: WALEntry, config newConfig: NamespaceConfig,
                               base: (DocumentID) throws -> Document? = { _ in nil }) throws {
        let object = "wal entry \(entry.seq)"
        guard entry.seq > appliedSeq else {
            throw FormatError(.corrupt, object: object, "out of sequence: applied after \(appliedSeq)")
        }
        var width = vectors?.width
        for event in entry.events {
            let vector: [Float]?
            switch event {
            case .upsert(let document): vector = document.vector
            case .patch(_, _, let patched): vector = patched
            case .delete: vector = nil
            }
            guard let vector else { continue }
            if width == nil { width = vector.count }
            guard vector.count == width, vector.count > 0 else {
                throw FormatError(.corrupt, object: object, "a \(vector.count)-dimensional vector in a \(width ?? 0)-dimensional namespace")
            }
        }
        updateConfig(newConfig)
        for event in entry.events { try apply(event, base: base, seq: entry.seq) }
        appliedSeq = entry.seq
        entryEnds.append((entry.seq, rowCount))
    }

    /// Adopts a newer config: full-text attributes that appear get an index over existing rows.
    public mutating func updateConfig(_ newConfig: NamespaceConfig) {
        for (name, fts) in newConfig.fullTextAttributes where textIndexes[name]?.tokenizer.config != fts {
            var index = TextIndex(config: fts)
            let column = columns[name]
            for row in 0..<rowCount {
                let v = column?[row] ?? .null
                index.add(row: Int32(row), value: v)
                if !alive[row] { index.remove(row: Int32(row), value: v) }
            }
            textIndexes[name] = index
        }
        for name in Array(textIndexes.keys) where newConfig.schema[name]?.fullTextSearch == nil {
            textIndexes[name] = nil
        }
        config = newConfig
    }

    /// `base` reads a document in a segment (it throws only when a read of the segment fails).
    mutating func apply(_ event: WriteEvent, base: (DocumentID) throws -> Document?, seq: UInt64) throws {
        let firstTouch = lastTouchedSeq.updateValue(seq, forKey: event.id) == nil
        switch event {
        case .upsert(let document):
            kill(event.id)
            append(document)
        case .patch(let id, let changes, let vector):
            var document: Document
            if let row = liveRow(of: id) {
                document = self.document(row: row)
            } else if firstTouch, let older = try base(id) {
                document = older
            } else {
                return
            }
            for (name, value) in changes {
                document.attributes[name] = value.isNull ? nil : value
            }
            if let vector { document.vector = vector }
            kill(id)
            append(document)
        case .delete(let id):
            kill(id)
        }
    }

    private mutating func kill(_ id: DocumentID) {
        guard let row = liveRow(of: id) else { return }
        alive[row] = false
        liveCount -= 1
        logicalBytes -= rowBytes[row]
        for name in textIndexNames {
            let old = value(name, row: row)
            textIndexes[name]!.remove(row: Int32(row), value: old)
        }
    }

    private mutating func append(_ document: Document) {
        let row = Int32(ids.count)
        ids.append(document.id)
        alive.append(true)
        liveCount += 1
        rowForID[document.id] = row
        let bytes = Self.approximateBytes(document)
        logicalBytes += bytes
        rowBytes.append(bytes)

        if let vector = document.vector {
            if vectors == nil { vectors = ChunkedColumn<Float>(width: vector.count) }
            vectorSlot.append(Int32(vectors!.count))
            vectors!.append(contentsOf: vector)
            var squared: Float = 0
            for x in vector { squared += x * x }
            inverseNorms.append(squared > 0 ? 1 / squared.squareRoot() : 0)
            hasVector.append(true)
        } else {
            vectorSlot.append(-1)
            hasVector.append(false)
        }

        for (name, value) in document.attributes where !value.isNull {
            columns[name, default: SparseColumn()].append(row: Int(row), value)
        }
        for name in textIndexNames {
            textIndexes[name]!.add(row: row, value: document.attributes[name] ?? .null)
        }
    }

    /// The projection of the entries after `seq` alone, as applying only them to a fresh
    /// projection would build it (same rows in the same order, same statistics), derived
    /// from this one without decoding or tokenising anything again. A flush folded the
    /// entries up to `seq` into a segment: the rows they appended leave the tail, and the ids
    /// only they touched stop shadowing segments (the new segment holds those documents).
    public func droppingEntries(through seq: UInt64) -> NamespaceProjection {
        let folded = entryEnds.last { $0.seq <= seq }?.rowEnd ?? 0
        guard folded > 0 || lastTouchedSeq.values.contains(where: { $0 <= seq }) else { return self }
        var kept = NamespaceProjection(config: config)
        kept.appliedSeq = appliedSeq
        kept.ids = Array(ids[folded...])
        kept.alive = Array(alive[folded...])
        kept.liveCount = kept.alive.reduce(0) { $1 ? $0 + 1 : $0 }
        kept.hasVector = Array(hasVector[folded...])
        kept.rowBytes = Array(rowBytes[folded...])
        kept.logicalBytes = zip(kept.alive, kept.rowBytes).reduce(0) { $1.0 ? $0 + $1.1 : $0 }
        // Vector slots follow the rows: the first kept row with a vector has the first kept slot.
        let firstSlot = vectorSlot[folded...].first { $0 >= 0 } ?? -1
        kept.vectorSlot = vectorSlot[folded...].map { $0 < 0 ? -1 : $0 - firstSlot }
        if let vectors, firstSlot >= 0 {
            var copied = ChunkedColumn<Float>(width: vectors.width)
            for slot in Int(firstSlot)..<vectors.count {
                vectors.withRow(slot) { copied.append(row: $0) }
                kept.inverseNorms.append(inverseNorms[slot])
            }
            kept.vectors = copied
        }
        for (name, column) in columns {
            let suffix = column.droppingRows(below: folded)
            if suffix.count > 0 { kept.columns[name] = suffix }
        }
        for (name, index) in textIndexes {
            kept.textIndexes[name] = index.droppingRows(below: folded, alive: alive)
        }
        kept.rowForID.reserveCapacity(kept.ids.count)
        for (row, id) in kept.ids.enumerated() { kept.rowForID[id] = Int32(row) }
        kept.lastTouchedSeq = lastTouchedSeq.filter { $0.value > seq }
        kept.entryEnds = entryEnds.filter { $0.seq > seq }.map { ($0.seq, $0.rowEnd - folded) }
        return kept
    }

    /// The names of the text indexes as an independent array. Mutating `textIndexes`
    /// while iterating one of its own views would keep the old storage alive and copy every
    /// posting list on each row (copy-on-write), so loops iterate this copy instead.
    private var textIndexNames: [String] { Array(textIndexes.keys) }

    /// Roughly what this projection holds in memory (debugging: MemoryBreakdown): vectors,
    /// per-row arrays, the id maps, attribute values and postings.
    public var approximateHeldBytes: Int {
        let idStride = MemoryLayout<DocumentID>.stride
        var bytes = (vectors?.count ?? 0) * (vectors?.width ?? 0) * 4 + inverseNorms.count * 4
        bytes += rowCount * (idStride + 1 + 1 + 4 + 8)                  // ids, alive, hasVector, vectorSlot, rowBytes
        bytes += (rowForID.count * (idStride + 4) + lastTouchedSeq.count * (idStride + 8)) * 2  // hash tables at their load factor
        bytes += logicalBytes - (vectors?.width ?? 0) * 4 * liveCount   // attribute values, roughly
        for index in textIndexes.values {
            bytes += index.postings.reduce(0) { $0 + $1.key.utf8.count + 48 + $1.value.rows.count * 6 } + index.lengths.count * 4
        }
        return bytes
    }

    public static func approximateBytes(_ document: Document) -> Int {
        var bytes = 8 + (document.vector?.count ?? 0) * 4
        for (name, value) in document.attributes { bytes += name.utf8.count + valueBytes(value) }
        return bytes
    }

    public static func valueBytes(_ value: AttributeValue) -> Int {
        switch value {
        case .null: return 0
        case .bool: return 1
        case .int, .uint, .float: return 8
        case .string(let s): return s.utf8.count
        case .array(let items): return items.reduce(0) { $0 + valueBytes($1) }
        }
    }
}
