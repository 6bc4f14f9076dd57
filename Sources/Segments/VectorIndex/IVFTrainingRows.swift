import Kernels

/// The rows an IVF build trains on, in training space: the build's vectors as given for
/// Euclidean, unit-normalised for cosine. Normalised rows are made one at a time (or a block
/// at a time) on demand, so a build never holds a normalised copy of its whole matrix, which
/// would be as large as the vectors themselves. A row is normalised exactly as a whole-matrix
/// copy would be, so training computes the same numbers either way.
struct IVFTrainingRows {
    /// Row-major, `count × dimension`.
    let vectors: UnsafeBufferPointer<Float>
    /// Every row's inverse norm (0 for a zero row); nil: rows are used as given.
    let inverseNorms: [Float]?
    let count: Int
    let dimension: Int

    init(_ vectors: UnsafeBufferPointer<Float>, inverseNorms: [Float]?, dimension: Int) {
        self.vectors = vectors
        self.inverseNorms = inverseNorms
        self.dimension = dimension
        count = vectors.count / dimension
    }

    /// The inverse norm of every row of `vectors` (0 for a zero row), for cosine.
    static func inverseNorms(of vectors: UnsafeBufferPointer<Float>, dimension: Int) -> [Float] {
        (0..<(vectors.count / dimension)).map { i in
            let squared = VectorDistance.squaredNorm(UnsafeBufferPointer(rebasing: vectors[(i * dimension)..<((i + 1) * dimension)]))
            return squared > 0 ? 1 / squared.squareRoot() : 0
        }
    }

    /// Row `i` as given.
    func raw(_ i: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: vectors[(i * dimension)..<((i + 1) * dimension)])
    }

    /// Row `i` in training space: the row itself, or its normalised copy written to `scratch`
    /// (`dimension` floats) when rows are normalised.
    func row(_ i: Int, scratch: UnsafeMutableBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        guard let inverseNorms else { return raw(i) }
        let out = UnsafeMutableBufferPointer(rebasing: scratch[0..<dimension])
        _ = out.update(fromContentsOf: raw(i))
        VectorArithmetic.scale(out, by: inverseNorms[i])
        return UnsafeBufferPointer(out)
    }

    /// Rows in training space, gathered into one row-major matrix.
    func gather(_ rows: some Collection<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows.count * dimension) { buffer, initialized in
            for (j, r) in rows.enumerated() {
                let out = UnsafeMutableBufferPointer(rebasing: buffer[(j * dimension)..<((j + 1) * dimension)])
                _ = out.update(fromContentsOf: raw(r))
                if let inverseNorms { VectorArithmetic.scale(out, by: inverseNorms[r]) }
            }
            initialized = rows.count * dimension
        }
    }
}
