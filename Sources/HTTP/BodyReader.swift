import Hummingbird
import Log
import NIOCore

/// Reads one request body chunk by chunk: at most `maxBodyBytes` (413 beyond, also after
/// gzip inflation), and every byte held is first reserved from the server-wide budget (429
/// beyond). The caller returns the reservation with `releaseAll` once it has answered.
final class BodyReader {
    let maxBodyBytes: Int
    let budget: RequestBytesBudget
    private(set) var reserved = 0

    init(maxBodyBytes: Int, budget: RequestBytesBudget) {
        self.maxBodyBytes = maxBodyBytes
        self.budget = budget
    }

    func read(_ request: Request) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBodyBytes {
            throw tooLarge()
        }
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= maxBodyBytes else { throw tooLarge() }
            try reserve(chunk.readableBytes)
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        guard let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" else { return bytes }
        guard encoding == "gzip" else { throw LagoonError(.badRequest, "unsupported Content-Encoding \(encoding); use gzip or none") }
        let inflated: [UInt8]
        do {
            inflated = try Gzip.decompress(bytes, limit: maxBodyBytes)
        } catch let failure as Gzip.Failure {
            if failure.exceededLimit { throw tooLarge(afterInflating: true) }
            throw LagoonError(.badRequest, failure.message)
        }
        try reserve(inflated.count)
        return inflated
    }

    func releaseAll() {
        budget.release(reserved)
        reserved = 0
    }

    private func reserve(_ count: Int) throws {
        guard budget.reserve(count) else {
            throw HTTPFailure(.tooManyRequests, "the server holds its limit of \(budget.limit) request body bytes ([limits] max_inflight_request_bytes); retry shortly",
                              retryAfterSeconds: 1)
        }
        reserved += count
    }

    private func tooLarge(afterInflating: Bool = false) -> LagoonError {
        LagoonError(.tooLarge, "the request body is larger than the server's limit of \(maxBodyBytes) bytes\(afterInflating ? " once inflated" : "") (server.max_body_bytes)")
    }
}
