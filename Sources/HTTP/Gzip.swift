import CZlib

/// Inflates gzip request bodies (`Content-Encoding: gzip`), refusing to expand past a limit:
/// the output is checked after every 64 KiB step, so a bomb stops within one step of it.
enum Gzip {
    struct Failure: Error {
        var message: String
        var exceededLimit = false
    }

    static let step = 1 << 16

    static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header.
        guard inflateInit2_(&stream, 16 + 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(message: "cannot initialise gzip decoder")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: step)
        var source = input
        return try source.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                guard output.count + produced <= limit else {
                    throw Failure(message: "decompressed body exceeds \(limit) bytes", exceededLimit: true)
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return output }
                guard status == Z_OK else { throw Failure(message: "invalid gzip body") }
                if stream.avail_in == 0 && produced == 0 { throw Failure(message: "truncated gzip body") }
            }
        }
    }
}
