import Kernels
import Synchronization

/// An 8-bit copy of an index's centroids, for choosing which lists to probe: estimating the
/// distance to every centroid reads a quarter of the bytes of the f32 centroids (which, at
/// 1,372 × 384, do not stay in a core's cache between queries), and only the best estimates
/// are then scored exactly (`IVFIndex.nearestLists`). Derived, never stored.
final class IVFCentroidCodes: Sendable {
    let quantizer: ScalarQuantizer
    let codes: [UInt8]
    let codeSums: [Int32]

    init(centroids: [Float], dimension: Int) {
        let count = centroids.count / dimension
        var codes = [UInt8](repeating: 0, count: centroids.count)
        var sums = [Int32](repeating: 0, count: count)
        let quantizer = centroids.withUnsafeBufferPointer { c in
            let row = { (i: Int) in UnsafeBufferPointer(rebasing: c[(i * dimension)..<((i + 1) * dimension)]) }
            let quantizer = ScalarQuantizer(dimension: dimension, count: count, row: row, scale: { _ in 1 })
            codes.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    let codeRow = UnsafeMutableBufferPointer(rebasing: out[(i * dimension)..<((i + 1) * dimension)])
                    quantizer.encode(row(i), scale: 1, into: codeRow)
                    sums[i] = ByteDotScorer.codeSum(UnsafeBufferPointer(codeRow))
                }
            }
            return quantizer
        }
        self.quantizer = quantizer
        self.codes = codes
        codeSums = sums
    }

    /// Estimated q·c for every centroid (`out.count` = centroid count).
    func estimateDots(_ query: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        let q = quantizer.quantize(query)
        var sums = [Int32](repeating: 0, count: out.count)
        codes.withUnsafeBufferPointer { c in
            codeSums.withUnsafeBufferPointer { s in
                sums.withUnsafeMutableBufferPointer {
                    ByteDotScorer.dotAll(query: q.prepared, codes: c, codeSums: s, dimension: quantizer.dimension, rows: 0..<out.count, into: $0)
                }
            }
        }
        for i in 0..<out.count { out[i] = q.dot(sums[i]) }
    }
}

/// Builds the centroid codes on the first search that needs them (an index that is loaded
/// but never searched pays nothing).
final class IVFCentroidCodesCache: Sendable {
    private let built = Mutex<IVFCentroidCodes?>(nil)

    func codes(_ head: IVFHead) -> IVFCentroidCodes {
        built.withLock { built in
            if let built { return built }
            let codes = IVFCentroidCodes(centroids: head.centroids, dimension: head.dimension)
            built = codes
            return codes
        }
    }
}
